// Budget semantics of EVENTS.md section 3, driven through the real engine on a temporary
// store: reservations, commits, releases, UTC day/month buckets, limits, thresholds.
#include <gtest/gtest.h>

#include "projections/records.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::Auth;
using test::EngineHarness;

class BudgetProjectionTest : public ::testing::Test {
 protected:
  BucketRecord Bucket(EngineHarness& h, const std::string& key) {
    BucketRecord b;
    std::string v;
    if (h.engine().store()->Get(h.engine().store()->cf(Table::kBuckets), std::string(4, '\0') + key, &v)) {
      EXPECT_TRUE(BucketRecord::Decode(v, &b));
    }
    return b;
  }
  static Amount Usdc(const char* s) { return *ParseUsdcDecimal(s, "t"); }
  static Auth A(const std::string& id, const std::string& amount, const std::string& time, uint64_t nonce) {
    Auth a;
    a.payment_id = id;
    a.amount = amount;
    a.time = time;
    a.nonce = nonce;
    a.valid_before = ParseRfc3339(time, "t")->ms / 1000 + 300;
    return a;
  }
};

TEST_F(BudgetProjectionTest, AuthorizationReservesAndSettlementCommitsAtSettledAmount) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::Authorized(A("p1", "1500000", "2025-11-17T10:00:00Z", 1), "e1")}).ok());
  auto b = Bucket(h, "builder_agent|D|2025-11-17");
  EXPECT_EQ(b.reserved, Amount{1500000});
  EXPECT_EQ(b.committed, Amount{});
  ASSERT_TRUE(h.Feed({test::Settled("builder_agent", "p1", "e2", "2025-11-17T10:00:02Z", 0xF1, "1400000")}).ok());
  b = Bucket(h, "builder_agent|D|2025-11-17");
  EXPECT_EQ(b.reserved, Amount{});
  EXPECT_EQ(b.committed, Amount{1400000});
  auto m = Bucket(h, "builder_agent|M|2025-11");
  EXPECT_EQ(m.committed, Amount{1400000});
}

TEST_F(BudgetProjectionTest, SettlementBeforeAuthorizationStillCommits) {
  EngineHarness in_order, reversed;
  auto auth = test::Authorized(A("p1", "2000000", "2025-11-17T10:00:00Z", 1), "e1");
  auto settle = test::Settled("builder_agent", "p1", "e2", "2025-11-17T10:00:03Z");
  ASSERT_TRUE(in_order.Feed({auth}).ok());
  ASSERT_TRUE(in_order.Feed({settle}).ok());
  ASSERT_TRUE(reversed.Feed({settle}).ok());
  ASSERT_TRUE(reversed.Feed({auth}).ok());
  EXPECT_EQ(Bucket(reversed, "builder_agent|D|2025-11-17").committed, Amount{2000000});
  EXPECT_EQ(Bucket(reversed, "builder_agent|D|2025-11-17").reserved, Amount{});
  EXPECT_EQ(in_order.engine().Digest(), reversed.engine().Digest());
}

TEST_F(BudgetProjectionTest, FailureAndCancellationReleaseTheReservation) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::Authorized(A("p1", "1000000", "2025-11-17T10:00:00Z", 1), "e1"),
                      test::Authorized(A("p2", "2000000", "2025-11-17T10:00:01Z", 2), "e2")})
                  .ok());
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-17").reserved, Amount{3000000});
  ASSERT_TRUE(h.Feed({test::Failed("builder_agent", "p1", "e3", "2025-11-17T10:00:02Z"),
                      test::Cancelled("builder_agent", "p2", "e4", "2025-11-17T10:00:03Z")})
                  .ok());
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-17").reserved, Amount{});
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-17").committed, Amount{});
}

TEST_F(BudgetProjectionTest, ExpiryReleasesTheReservationWhenTheWatermarkPassesValidBefore) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::Authorized(A("p1", "1000000", "2025-11-17T10:00:00Z", 1), "e1")}).ok());
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T10:04:59.999Z").ok());
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-17").reserved, Amount{1000000});
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T10:05:00Z").ok());
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-17").reserved, Amount{});
}

TEST_F(BudgetProjectionTest, SettlementAfterExpiryStillCommits) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::Authorized(A("p1", "1000000", "2025-11-17T10:00:00Z", 1), "e1")}).ok());
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T10:10:00Z").ok());
  ASSERT_TRUE(h.Feed({test::Settled("builder_agent", "p1", "e2", "2025-11-17T10:10:01Z")}).ok());
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-17").committed, Amount{1000000});
}

TEST_F(BudgetProjectionTest, DayAndMonthBucketsAreUtcAndSplitAtMidnight) {
  EngineHarness h;
  auto a1 = A("p1", "1000000", "2025-11-30T23:59:59.999Z", 1);
  auto a2 = A("p2", "2000000", "2025-12-01T00:30:00+02:00", 2);  // = Nov 30 22:30 UTC
  auto a3 = A("p3", "4000000", "2025-12-01T00:00:00Z", 3);
  for (auto* a : {&a1, &a2, &a3}) a->valid_before = 1764633600 + 3600;  // all still pending
  ASSERT_TRUE(h.Feed({test::Authorized(a1, "e1"), test::Authorized(a2, "e2"), test::Authorized(a3, "e3")}).ok());
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-30").reserved, Amount{3000000});
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-12-01").reserved, Amount{4000000});
  EXPECT_EQ(Bucket(h, "builder_agent|M|2025-11").reserved, Amount{3000000});
  EXPECT_EQ(Bucket(h, "builder_agent|M|2025-12").reserved, Amount{4000000});
}

TEST_F(BudgetProjectionTest, ThresholdsOpenAtEachPercentageWithSeverities) {
  EngineHarness h;
  // Default daily limit 100 USDC; per-transaction max 10 USDC, so use 9 USDC payments.
  std::vector<std::string> lines;
  for (int i = 0; i < 9; ++i) {  // 81 USDC
    lines.push_back(test::Authorized(A("p" + std::to_string(i), "9000000", "2025-11-17T10:00:0" + std::to_string(i) + "Z",
                                       static_cast<uint64_t>(i + 1)),
                                     "e" + std::to_string(i)));
  }
  ASSERT_TRUE(h.Feed(lines).ok());
  EXPECT_TRUE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80"));
  EXPECT_FALSE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|90"));
  ASSERT_TRUE(h.Feed({test::Authorized(A("p9", "9000000", "2025-11-17T10:00:10Z", 10), "e9"),
                      test::Authorized(A("p10", "5000000", "2025-11-17T10:00:11Z", 11), "e10")})
                  .ok());  // 95 USDC
  auto open = h.OpenByKey();
  ASSERT_TRUE(open.count("budget.threshold builder_agent|daily|2025-11-17|90"));
  ASSERT_TRUE(open.count("budget.threshold builder_agent|daily|2025-11-17|95"));
  EXPECT_EQ(open["budget.threshold builder_agent|daily|2025-11-17|80"].severity, Severity::kWarning);
  EXPECT_EQ(open["budget.threshold builder_agent|daily|2025-11-17|90"].severity, Severity::kWarning);
  EXPECT_EQ(open["budget.threshold builder_agent|daily|2025-11-17|95"].severity, Severity::kCritical);
  EXPECT_FALSE(open.count("budget.exhausted builder_agent|daily|2025-11-17"));
  ASSERT_TRUE(h.Feed({test::Authorized(A("p11", "5000000", "2025-11-17T10:00:12Z", 12), "e11")}).ok());  // 100
  open = h.OpenByKey();
  ASSERT_TRUE(open.count("budget.exhausted builder_agent|daily|2025-11-17"));
  EXPECT_EQ(open["budget.exhausted builder_agent|daily|2025-11-17"].severity, Severity::kCritical);
  EXPECT_EQ(open["budget.exhausted builder_agent|daily|2025-11-17"].finding_id,
            FindingId(FindingKind::kBudgetExhausted, "builder_agent|daily|2025-11-17"));
  // The monthly budget (1000 USDC) is at 10 %: nothing there.
  EXPECT_FALSE(open.count("budget.threshold builder_agent|monthly|2025-11|80"));
}

TEST_F(BudgetProjectionTest, ThresholdsResolveAtBucketEndWithResolvedAtMidnight) {
  EngineHarness h;
  std::vector<std::string> lines;
  for (int i = 0; i < 9; ++i) {
    lines.push_back(test::Authorized(A("p" + std::to_string(i), "9000000", "2025-11-17T10:00:0" + std::to_string(i) + "Z",
                                       static_cast<uint64_t>(i + 1)),
                                     "e" + std::to_string(i)));
    lines.push_back(test::Settled("builder_agent", "p" + std::to_string(i), "s" + std::to_string(i),
                                  "2025-11-17T10:01:0" + std::to_string(i) + "Z", 100 + i));
  }
  ASSERT_TRUE(h.Feed(lines).ok());
  ASSERT_TRUE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80"));
  ASSERT_TRUE(h.AdvanceTo("2025-11-18T00:00:00.001Z").ok());
  EXPECT_FALSE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80"));
  bool found = false;
  for (auto& f : h.Findings(false)) {
    if (f.kind == FindingKind::kBudgetThreshold) {
      found = true;
      EXPECT_FALSE(f.open);
      ASSERT_TRUE(f.resolved_at.has_value());
      EXPECT_EQ(FormatRfc3339(*f.resolved_at), "2025-11-18T00:00:00.000Z");
    }
  }
  EXPECT_TRUE(found);
  // Each transition left an alert in the outbox: opened:0 then resolved:0. (The settled
  // payments have no chain transfers, so recon.missing_on_chain alerts are there too.)
  std::vector<OutboxEntry> outbox;
  for (auto& o : h.Outbox())
    if (o.kind == FindingKind::kBudgetThreshold) outbox.push_back(o);
  ASSERT_EQ(outbox.size(), 2u);
  EXPECT_TRUE(outbox[0].opened);
  EXPECT_EQ(outbox[0].alert_id, FindingId(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80") + ":opened:0");
  EXPECT_EQ(outbox[1].alert_id, FindingId(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80") + ":resolved:0");
}

TEST_F(BudgetProjectionTest, ReleaseBelowThresholdResolvesAndReopenCountsInAlertId) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::LimitsSet("builder_agent", "l1", "2025-11-17T00:00:00Z", R"({"daily_limit":"10.00"})"),
                      test::Authorized(A("p1", "8000000", "2025-11-17T10:00:00Z", 1), "e1")})
                  .ok());
  const std::string key = "builder_agent|daily|2025-11-17|80";
  ASSERT_TRUE(h.HasOpen(FindingKind::kBudgetThreshold, key));
  ASSERT_TRUE(h.Feed({test::Failed("builder_agent", "p1", "e2", "2025-11-17T10:00:01Z")}).ok());
  EXPECT_FALSE(h.HasOpen(FindingKind::kBudgetThreshold, key));
  ASSERT_TRUE(h.Feed({test::Authorized(A("p2", "9000000", "2025-11-17T10:00:02Z", 2), "e3")}).ok());
  EXPECT_TRUE(h.HasOpen(FindingKind::kBudgetThreshold, key));
  auto outbox = h.Outbox();
  const std::string id = FindingId(FindingKind::kBudgetThreshold, key);
  std::vector<std::string> ids;
  for (auto& o : outbox)
    if (o.alert_id.starts_with(id)) ids.push_back(o.alert_id);
  EXPECT_EQ(ids, (std::vector<std::string>{id + ":opened:0", id + ":resolved:0", id + ":opened:1"}));
}

TEST_F(BudgetProjectionTest, PerTransactionMaxUsesTheLimitInForceAtAuthorizationTime) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::Authorized(A("p1", "12000000", "2025-11-17T09:00:00Z", 1), "e1"),
                      test::LimitsSet("builder_agent", "l1", "2025-11-17T10:00:00Z", R"({"per_transaction_max":"20.00"})"),
                      test::Authorized(A("p2", "12000000", "2025-11-17T11:00:00Z", 2), "e2")})
                  .ok());
  EXPECT_TRUE(h.HasOpen(FindingKind::kBudgetPerTransactionExceeded, "builder_agent|p1"));
  EXPECT_FALSE(h.HasOpen(FindingKind::kBudgetPerTransactionExceeded, "builder_agent|p2"));
  auto open = h.OpenByKey();
  auto& f = open["budget.per_transaction_exceeded builder_agent|p1"];
  EXPECT_EQ(f.severity, Severity::kCritical);
  EXPECT_NE(f.message.find("12.000000 USDC"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("10.000000 USDC"), std::string::npos) << f.message;
}

TEST_F(BudgetProjectionTest, LateLimitChangeReevaluatesEarlierAuthorizations) {
  EngineHarness late;
  // The limit change (10:00) arrives after the authorization it applies to (11:00).
  ASSERT_TRUE(late.Feed({test::Authorized(A("p2", "12000000", "2025-11-17T11:00:00Z", 2), "e2")}).ok());
  EXPECT_TRUE(late.HasOpen(FindingKind::kBudgetPerTransactionExceeded, "builder_agent|p2"));
  ASSERT_TRUE(late.Feed({test::LimitsSet("builder_agent", "l1", "2025-11-17T10:00:00Z", R"({"per_transaction_max":"20.00"})")}).ok());
  EXPECT_FALSE(late.HasOpen(FindingKind::kBudgetPerTransactionExceeded, "builder_agent|p2"));

  EngineHarness in_order;
  ASSERT_TRUE(in_order.Feed({test::LimitsSet("builder_agent", "l1", "2025-11-17T10:00:00Z", R"({"per_transaction_max":"20.00"})"),
                             test::Authorized(A("p2", "12000000", "2025-11-17T11:00:00Z", 2), "e2")})
                  .ok());
  EXPECT_EQ(late.engine().Digest(), in_order.engine().Digest());
}

TEST_F(BudgetProjectionTest, LimitNullResetsToTheDefault) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::LimitsSet("builder_agent", "l1", "2025-11-17T08:00:00Z", R"({"daily_limit":"10.00"})"),
                      test::Authorized(A("p1", "9000000", "2025-11-17T09:00:00Z", 1), "e1")})
                  .ok());
  EXPECT_TRUE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|90"));
  ASSERT_TRUE(h.Feed({test::LimitsSet("builder_agent", "l2", "2025-11-17T09:30:00Z", R"({"daily_limit":null})")}).ok());
  EXPECT_FALSE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80"));
}

TEST_F(BudgetProjectionTest, EnvironmentOverridesTheDefaultLimits) {
  ProjectionConfig cfg;
  std::string v1 = "X402_BUILDER_AGENT_DAILY_LIMIT_USDC=20", v2 = "X402_OTHER_AGENT_PER_TRANSACTION_MAX_USDC=1.5";
  char* env[] = {v1.data(), v2.data(), nullptr};
  ASSERT_TRUE(LoadAgentLimitsFromEnv(env, &cfg).ok());
  EXPECT_EQ(cfg.LimitsFor("builder_agent").daily, Amount::Usdc(20));
  EXPECT_EQ(cfg.LimitsFor("builder-agent").daily, Amount::Usdc(20));  // non-alphanumerics as '_'
  EXPECT_EQ(cfg.LimitsFor("research_agent").daily, Amount::Usdc(100));
  EXPECT_EQ(cfg.LimitsFor("other.agent").per_transaction, Amount{1500000});
  EngineHarness h(cfg);
  ASSERT_TRUE(h.Feed({test::Authorized(A("p1", "9000000", "2025-11-17T09:00:00Z", 1), "e1"),
                      test::Authorized(A("p2", "8000000", "2025-11-17T09:00:01Z", 2), "e2")})
                  .ok());
  EXPECT_TRUE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80"));
  // An x402.budget.limits_set event overrides the environment from its time on.
  ASSERT_TRUE(h.Feed({test::LimitsSet("builder_agent", "l1", "2025-11-17T09:00:02Z", R"({"daily_limit":"1000"})")}).ok());
  EXPECT_FALSE(h.HasOpen(FindingKind::kBudgetThreshold, "builder_agent|daily|2025-11-17|80"));
}

TEST_F(BudgetProjectionTest, BadEnvironmentLimitIsAnErrorNamingTheVariable) {
  ProjectionConfig cfg;
  std::string v = "X402_BUILDER_AGENT_DAILY_LIMIT_USDC=1.2345678";
  char* env[] = {v.data(), nullptr};
  Status st = LoadAgentLimitsFromEnv(env, &cfg);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("X402_BUILDER_AGENT_DAILY_LIMIT_USDC"), std::string::npos) << st.error();
}

TEST_F(BudgetProjectionTest, DuplicateEventsAreIgnored) {
  EngineHarness h;
  auto auth = test::Authorized(A("p1", "1000000", "2025-11-17T10:00:00Z", 1), "e1");
  ASSERT_TRUE(h.Feed({auth, auth}).ok());
  ASSERT_TRUE(h.Feed({auth}).ok());
  EXPECT_EQ(Bucket(h, "builder_agent|D|2025-11-17").reserved, Amount{1000000});
  EXPECT_EQ(h.engine().stats().duplicates, 2u);
}

TEST_F(BudgetProjectionTest, ZeroLimitIsExhaustedByAnySpend) {
  EngineHarness h;
  ASSERT_TRUE(h.Feed({test::LimitsSet("builder_agent", "l1", "2025-11-17T08:00:00Z", R"({"daily_limit":"0"})")}).ok());
  EXPECT_FALSE(h.HasOpen(FindingKind::kBudgetExhausted, "builder_agent|daily|2025-11-17"));
  ASSERT_TRUE(h.Feed({test::Authorized(A("p1", "1", "2025-11-17T09:00:00Z", 1), "e1")}).ok());
  EXPECT_TRUE(h.HasOpen(FindingKind::kBudgetExhausted, "builder_agent|daily|2025-11-17"));
}

}  // namespace
}  // namespace x402
