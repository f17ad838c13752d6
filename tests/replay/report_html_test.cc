// The HTML report (replay/report_html.cc): every string from an event escaped, bounded for any
// state, money exact with 6 decimals, the charts and provenance present. The page in a real
// browser is tests/ops/report_browser_test.py.
#include <gtest/gtest.h>

#include <chrono>

#include "replay/report.h"

namespace x402 {
namespace {

const std::string kHostile = "<script>alert(\"x\")</script>'\"&<img src=x onerror=alert(1)>";
const std::string kAttr = "0xab\" onmouseover=\"alert(1)";

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TimeMs At(const char* t) { return *ParseRfc3339(t, "t"); }

Finding MakeFinding(FindingKind kind, Severity sev, const std::string& agent,
                    const std::string& key, bool open, TimeMs opened) {
  Finding f;
  f.kind = kind;
  f.severity = sev;
  f.agent_id = agent;
  f.key = key;
  f.open = open;
  f.opened_at = opened;
  f.finding_id = FindingId(kind, key);
  return f;
}

Report BaseReport() {
  Report r;
  r.as_of = At("2025-11-20T12:00:00Z");
  r.state_digest = std::string(64, 'a');
  r.stats.applied[0] = 10;
  r.stats.duplicates = 2;
  r.stats.dead_letters = 1;
  return r;
}

TEST(ReportHtmlTest, EveryStringFromAnEventIsEscaped) {
  Report r = BaseReport();
  AgentReport& a = r.agents[kHostile];
  a.days["2025-11-20"] = AgentSpend{Amount::Usdc(150), {}, Amount::Usdc(100)};
  a.months["2025-11"] = AgentSpend{Amount::Usdc(150), {}, Amount::Usdc(1000)};
  for (int k = 0; k < kFindingKindCount; ++k) {
    Finding f = MakeFinding(FindingKind(k), Severity::kCritical, kHostile, kHostile + "|" + kAttr,
                            true, At("2025-11-20T10:00:00Z"));
    f.message = kHostile;
    f.evidence = {{"payment_id", kHostile}, {"network", "eip155:8453"}, {"tx_hash", kAttr},
                  {"vendor", kHostile},     {"streak", kHostile},       {"last_reason", kHostile},
                  {"address", kAttr},       {"amount", kHostile},       {"balance", "12"},
                  {kHostile, kHostile}};
    r.findings.push_back(f);
  }
  DeadLetter d;
  d.origin = kHostile;
  d.index = 3;
  d.reason = kHostile;
  r.dead_letters.push_back(d);
  r.read.push_back({kHostile, kHostile});
  r.recon_by_network[kHostile].payments_settled = 1;
  const std::string html = r.ToHtml();
  EXPECT_EQ(Count(html, "<script"), 0u);
  EXPECT_EQ(Count(html, "<img"), 0u);
  EXPECT_EQ(Count(html, "\" onmouseover=\""), 0u);
  EXPECT_EQ(Count(html, "alert(\"x\")"), 0u);
  EXPECT_GT(Count(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&amp;&lt;img"),
            20u);
  EXPECT_GT(Count(html, "0xab&quot; onmouseover=&quot;alert(1)"), 5u);
}

TEST(ReportHtmlTest, BoundedForAnyNumberOfFindings) {
  Report r = BaseReport();
  for (int i = 0; i < 100000; ++i) {
    const std::string key = "eip155:8453|0x" + std::to_string(1000000 + i);
    Finding open = MakeFinding(FindingKind::kReconMissingOnChain, Severity::kCritical,
                               "agent_" + std::to_string(i % 500), key, true,
                               TimeMs{At("2025-11-01T00:00:00Z").ms + i * 1000LL});
    open.message = "finding " + std::to_string(i);
    r.findings.push_back(open);
    r.findings.push_back(MakeFinding(FindingKind::kAuthorizationStale, Severity::kWarning,
                                     "agent_1", key, false, At("2025-11-19T00:00:00Z")));
  }
  for (int i = 0; i < 5000; ++i) {
    r.agents["agent_" + std::to_string(i)].days["2025-11-20"] =
        AgentSpend{Amount{u128(i) * 1000}, {}, Amount::Usdc(100)};
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::string html = r.ToHtml();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("100,000 open + 100,000 resolved findings, 5,000 agents: %zu bytes in %.1f ms\n",
              html.size(), ms);
  EXPECT_LT(html.size(), 1u << 20);
  EXPECT_NE(html.find("… and 99,950 more"), std::string::npos);
  EXPECT_NE(
      html.find("data-kind=\"recon.missing_on_chain\" data-open=\"100000\" data-resolved=\"0\""),
      std::string::npos);
  EXPECT_NE(html.find("data-kind=\"authorization.stale\" data-open=\"0\" data-resolved=\"100000\""),
            std::string::npos);
  // The newest are listed first.
  EXPECT_NE(html.find(">finding 99999<"), std::string::npos);
  EXPECT_NE(html.find(">finding 99950<"), std::string::npos);
  EXPECT_EQ(html.find(">finding 99949<"), std::string::npos);
  EXPECT_NE(html.find("5,000 agents; the top 50"), std::string::npos);
}

TEST(ReportHtmlTest, MoneyIsExactWithSixDecimalsAndChartsSurviveHugeAmounts) {
  Report r = BaseReport();
  r.agents["big"].days["2025-11-20"] = AgentSpend{Amount{~u128(0)}, {}, Amount::Usdc(100)};
  r.agents["small"].days["2025-11-19"] =
      AgentSpend{Amount{1}, Amount{1'500'000}, Amount::Usdc(100)};
  r.agents["small"].months["2025-11"] = AgentSpend{Amount{1'234'567}, {}, Amount::Usdc(1000)};
  Finding f = MakeFinding(FindingKind::kReconAmountMismatch, Severity::kCritical, "small",
                          "eip155:8453|0x1|0", true, At("2025-11-20T10:00:00Z"));
  f.evidence = {{"observed_amount", "1400000"}, {"expected_amount", "1500000"}};
  r.findings.push_back(f);
  const std::string html = r.ToHtml();
  EXPECT_NE(html.find("340282366920938463463374607431768.211455 USDC"), std::string::npos);
  EXPECT_NE(html.find("observed_amount 1.400000<br>expected_amount 1.500000"), std::string::npos)
      << html;
  EXPECT_NE(html.find("data-atomic=\"1234567\">1.234567</td>"), std::string::npos);
  EXPECT_NE(html.find("1.500001 USDC of 100.000000 USDC (1 %)"),
            std::string::npos);  // the heat map's title
  EXPECT_EQ(html.find("1.50 "), std::string::npos);
}

TEST(ReportHtmlTest, ChartsSummaryAndProvenance) {
  Report r = BaseReport();
  r.read = DescribePositions({{"pos|file|events.jsonl", "4567890:20001"},
                              {"pos|kafka|x402.events|3", "12345"},
                              {"pos|kafka|x402.events|4", "0"}});
  ASSERT_EQ(r.read.size(), 3u);
  EXPECT_EQ(r.read[0].origin, "file events.jsonl");
  EXPECT_EQ(r.read[0].detail, "20,000 lines (4,567,890 bytes)");
  EXPECT_EQ(r.read[1].origin, "kafka topic x402.events partition 3");
  EXPECT_EQ(r.read[1].detail, "offsets 0 to 12,344 (next 12,345)");
  EXPECT_EQ(r.read[2].detail, "nothing read");
  r.agents["a1"].days["2025-11-20"] = AgentSpend{Amount::Usdc(100), {}, Amount::Usdc(100)};
  r.agents["a1"].days["2025-11-01"] = AgentSpend{Amount::Usdc(10), {}, Amount::Usdc(100)};
  r.agents["a2"].days["2025-11-20"] = AgentSpend{Amount::Usdc(5), {}, Amount::Usdc(100)};
  r.findings.push_back(MakeFinding(FindingKind::kBudgetExhausted, Severity::kCritical, "a1",
                                   "a1|D|2025-11-20", true, At("2025-11-20T10:00:00Z")));
  r.recon_by_network["eip155:8453"].matched = 3;
  r.recon.matched = 3;
  const std::string html = r.ToHtml();
  for (const char* chart : {"spend", "heatmap", "findings-per-day", "ledger-vs-chain"})
    EXPECT_NE(html.find(std::string("data-chart=\"") + chart + "\""), std::string::npos) << chart;
  EXPECT_NE(html.find("20 days, 2025-11-01 to 2025-11-20"), std::string::npos);
  EXPECT_NE(html.find("file events.jsonl</td><td>20,000 lines (4,567,890 bytes)"),
            std::string::npos);
  EXPECT_NE(html.find("id=\"agents-over\">1 of <span id=\"agents-count\">2</span>"),
            std::string::npos);
  EXPECT_NE(html.find("id=\"open-critical\" data-count=\"1\""), std::string::npos);
  EXPECT_NE(
      html.find("a1, 2025-11-20: 100.000000 USDC of 100.000000 USDC (100 %)</title></rect><text"),
      std::string::npos);  // the over-limit cell carries its mark
  EXPECT_NE(html.find("Base: matched 3"), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
}

}  // namespace
}  // namespace x402
