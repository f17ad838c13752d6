// Report::ToHtml: the audit report as one page a person reads and prints.
//
// Self-contained: inline CSS and inline SVG drawn here, no script, nothing fetched (a
// Content-Security-Policy of default-src 'none' makes any fetch a console error, which the
// browser test looks for). Every string that came from an event is HTML-escaped (Esc). Money
// is ToUsdcString everywhere (6 decimals, exact); chart geometry is integer arithmetic on
// atomic units. Bounded for any state: charts cover the last kDays days and the top agents,
// tables the top rows, each with the total and a pointer to the JSON report and the API.
// Readable without colour: severities and states are written out, over-limit heat-map cells
// carry a mark, and every chart element has a <title> with its exact values.
#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "connectors/discord_format.h"
#include "replay/report.h"

namespace x402 {
namespace {

constexpr int kDays = 31;  // most days shown by the daily charts, ending at as_of's day
constexpr int kMinDays = 7;
constexpr size_t kSpendAgents = 6;  // agents in the spend-against-limit small multiples
constexpr size_t kHeatAgents = 25;  // rows of the utilisation heat map
constexpr size_t kAgentRows = 50;   // rows of the agents table
constexpr size_t kDeadLetterRows = 50;
constexpr int64_t kDayMs = 86'400'000;

std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string Num(uint64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(s[i]);
  }
  return out;
}

std::string Usdc(Amount a) { return ToUsdcString(a) + " USDC"; }

// A money cell: the exact amount, with its atomic units for machines (the browser test).
std::string MoneyTd(Amount a) {
  return "<td class=\"num\" data-atomic=\"" + ToAtomicString(a) + "\">" + ToUsdcString(a) + "</td>";
}

// Pixels for `a` on a scale where `max` is `px` pixels: integer arithmetic, clamped.
int Scale(Amount a, Amount max, int px) {
  if (max.v == 0 || px <= 0) return 0;
  u128 v = a.v, m = max.v;
  while (m > (u128(1) << 100)) {
    v >>= 8;
    m >>= 8;
  }
  if (m == 0) return 0;
  const u128 r = v * u128(px) / m;
  return r > u128(px) ? px : static_cast<int>(r);
}
int ScaleCount(uint64_t n, uint64_t max, int px) {
  if (max == 0) return 0;
  return static_cast<int>(std::min<u128>(u128(n) * u128(px) / max, u128(px)));
}

// Utilisation in whole percent (floor), saturating at 999.
uint32_t Pct(Amount spent, Amount limit) {
  if (limit.v == 0) return spent.v == 0 ? 0 : 999;
  u128 v = spent.v, m = limit.v;
  while (m > (u128(1) << 100)) {
    v >>= 8;
    m >>= 8;
  }
  if (m == 0) return 0;
  const u128 p = v * 100 / m;
  return p > 999 ? 999 : static_cast<uint32_t>(p);
}

// "Nice" axis maximum in atomic units: 1, 2 or 5 times a power of ten, at least `a`.
Amount NiceMax(Amount a) {
  u128 step = 1;
  while (true) {
    for (u128 k : {u128(1), u128(2), u128(5)}) {
      if (k * step >= a.v) return Amount{k * step};
    }
    if (step > (~u128(0)) / 100) return a;
    step *= 10;
  }
}

std::string SeverityClass(Severity s) { return std::string(SeverityName(s)); }

const char* kStyle = R"CSS(
:root { --crit:#b3261e; --warn:#9a5b00; --info:#1f5fa8; --ok:#2e7d32; --muted:#666; --line:#ddd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1a1a1a; margin: 0 auto; max-width: 1160px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #1a1a1a; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.sub { color: var(--muted); margin: 0 0 12px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.msg { max-width: 420px; }
td.when { white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .detail { font-size: 12px; color: var(--muted); }
.sev { font-weight: 700; text-transform: uppercase; font-size: 11px; letter-spacing: .04em; }
.sev.critical { color: var(--crit); } .sev.warning { color: var(--warn); } .sev.info { color: var(--info); }
.charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; }
figure { margin: 0; } figcaption { font-size: 12px; color: var(--muted); }
svg text { font: 10px sans-serif; fill: #333; }
.note { color: var(--muted); font-size: 12px; }
.print-header { display: none; }
@page { size: A4; margin: 16mm 12mm 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  .print-header { display: block; position: fixed; top: -10mm; left: 0; right: 0;
                  font-size: 9px; color: var(--muted); }
  h2 { break-after: avoid; }
  tr, figure, .card { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
  .charts { grid-template-columns: repeat(2, 1fr); }
}
)CSS";

class Page {
 public:
  // The daily charts cover the days from the first with spend or a finding to as_of's day:
  // at least kMinDays, at most kDays.
  explicit Page(const Report& r) : r_(r) {
    const TimeMs last = DayStart(r.as_of);
    std::string first = DayBucket(last);
    for (const auto& [agent, a] : r.agents)
      if (!a.days.empty()) first = std::min(first, a.days.begin()->first);
    for (const auto& f : r.findings) first = std::min(first, DayBucket(f.opened_at));
    int n = kMinDays;
    while (n < kDays && DayBucket(TimeMs{last.ms - (n - 1) * kDayMs}) > first) ++n;
    for (int i = n - 1; i >= 0; --i) days_.push_back(DayBucket(TimeMs{last.ms - i * kDayMs}));
  }

  std::string Render() {
    Head();
    Provenance();
    Summary();
    Charts();
    FindingTables();
    Agents();
    Vendors();
    Wallets();
    DeadLetters();
    h_ += "<p class=\"note\">Generated by x402rec from the state as of " +
          Esc(FormatRfc3339(r_.as_of)) + " (state digest <code>" + Esc(r_.state_digest) +
          "</code>). The JSON report (<code>--report-json</code>) and the API (<code>GET "
          "/v1/findings</code>, <code>/v1/report</code>) hold every finding and every agent.</p>\n";
    h_ += "</body>\n</html>\n";
    return std::move(h_);
  }

 private:
  void Head() {
    h_ += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    h_ +=
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
        "'unsafe-inline'; img-src data:\">\n";
    h_ += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    h_ += "<title>x402rec audit report, as of " + Esc(FormatRfc3339(r_.as_of)) + "</title>\n";
    h_ += "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
    h_ += "<div class=\"print-header\">x402rec audit report · as of " +
          Esc(FormatRfc3339(r_.as_of)) + " · state " + Esc(r_.state_digest.substr(0, 16)) +
          "…</div>\n";
    h_ += "<h1>x402rec audit report</h1>\n";
    h_ += "<p class=\"sub\">As of <strong id=\"as-of\">" + Esc(FormatRfc3339(r_.as_of)) +
          "</strong> (event time) · state digest <code id=\"state-digest\">" +
          Esc(r_.state_digest) + "</code></p>\n";
  }

  void Provenance() {
    h_ += "<h2>Provenance</h2>\n";
    h_ += "<table><thead><tr><th>read</th><th>position</th></tr></thead><tbody>\n";
    if (r_.read.empty())
      h_ += "<tr><td colspan=\"2\">no input positions stored with this state</td></tr>\n";
    for (const auto& p : r_.read)
      h_ += "<tr><td>" + Esc(p.origin) + "</td><td>" + Esc(p.detail) + "</td></tr>\n";
    h_ += "</tbody></table>\n";
    const EngineStats& s = r_.stats;
    h_ +=
        "<table><thead><tr><th class=\"num\">events applied</th><th class=\"num\">duplicates "
        "dropped</th>"
        "<th class=\"num\">dead letters</th><th class=\"num\">after as-of "
        "(skipped)</th></tr></thead><tbody><tr>";
    h_ += "<td class=\"num\" id=\"events-applied\">" + Num(s.applied_total()) + "</td>";
    h_ += "<td class=\"num\" id=\"events-duplicates\">" + Num(s.duplicates) + "</td>";
    h_ += "<td class=\"num\" id=\"events-dead-letters\">" + Num(s.dead_letters) + "</td>";
    h_ += "<td class=\"num\" id=\"events-skipped\">" + Num(s.skipped_after_as_of) +
          "</td></tr></tbody></table>\n";
    const ProjectionConfig& c = r_.config;
    std::string thresholds;
    for (uint32_t t : c.budget_thresholds_pct)
      thresholds += (thresholds.empty() ? "" : ", ") + std::to_string(t) + " %";
    std::string confirmations;
    for (const auto& [n, k] : c.confirmations_required)
      confirmations += (confirmations.empty() ? "" : ", ") + Esc(DiscordNetworkName(n)) + " " +
                       std::to_string(k);
    confirmations += (confirmations.empty() ? "" : ", ") + std::string("others ") +
                     std::to_string(c.default_confirmations_required);
    h_ += "<h3>Configuration that decides findings</h3>\n<table><tbody>\n";
    auto row = [&](const std::string& k, const std::string& v) {
      h_ += "<tr><th>" + k + "</th><td>" + v + "</td></tr>\n";
    };
    row("default limits",
        "daily " + Usdc(c.default_limits.daily) + ", monthly " + Usdc(c.default_limits.monthly) +
            ", per transaction " + Usdc(c.default_limits.per_transaction) +
            (c.agent_limits.empty() ? std::string()
                                    : "; " + std::to_string(c.agent_limits.size()) +
                                          " agents with limits from the environment"));
    row("budget thresholds",
        thresholds + " (critical from " + std::to_string(c.budget_critical_pct) + " %)");
    row("dedupe horizon", std::to_string(c.dedupe_horizon_s) + " s of event time");
    row("stale authorization after", std::to_string(c.stale_after_s) + " s");
    row("chain grace", std::to_string(c.chain_grace_s) + " s");
    row("confirmation timeout", std::to_string(c.confirmation_timeout_s) + " s");
    row("confirmations required", confirmations);
    row("amount tolerance", std::to_string(c.amount_tolerance_bps) + " bps");
    row("vendor failure streak", "warning at " + std::to_string(c.vendor_streak_warning) +
                                     ", critical at " + std::to_string(c.vendor_streak_critical));
    row("wallet balance low", "warning below " + Usdc(c.wallet_low_warning) + ", critical below " +
                                  Usdc(c.wallet_low_critical));
    h_ += "</tbody></table>\n";
  }

  void Summary() {
    Amount committed, reserved;
    std::string first_day;
    for (const auto& [agent, a] : r_.agents) {
      for (const auto& [day, s] : a.days) {
        committed = SaturatingAdd(committed, s.committed);
        reserved = SaturatingAdd(reserved, s.reserved);
        if (first_day.empty() || day < first_day) first_day = day;
      }
    }
    std::array<uint64_t, 3> open_by_sev{};
    std::set<std::string> over;
    for (const auto& f : r_.findings) {
      if (!f.open) continue;
      ++open_by_sev[static_cast<int>(f.severity)];
      if (f.kind == FindingKind::kBudgetExhausted) over.insert(f.agent_id);
    }
    const ReconSummary& rc = r_.recon;
    h_ += "<h2>Summary</h2>\n<div class=\"cards\">\n";
    h_ +=
        "<div class=\"card\"><div class=\"label\">Spend in the period</div><div class=\"value\" "
        "id=\"spend-committed\" "
        "data-atomic=\"" +
        ToAtomicString(committed) + "\">" + Usdc(committed) + "</div><div class=\"detail\">" +
        (first_day.empty() ? std::string("no spend")
                           : Esc(first_day) + " to " + Esc(DayBucket(r_.as_of))) +
        "; plus " + Usdc(reserved) + " reserved (authorized, not settled)</div></div>\n";
    h_ +=
        "<div class=\"card\"><div class=\"label\">Settled · matched on chain</div><div "
        "class=\"value\">" +
        Num(rc.payments_settled) + " · " + Num(rc.matched) + "</div><div class=\"detail\">" +
        Usdc(rc.amount_settled) + " settled, " + Usdc(rc.amount_matched) + " matched; " +
        Num(rc.pending) + " pending, " + Num(rc.discrepant) + " discrepant, " + Num(rc.unrecorded) +
        " unrecorded transfers</div></div>\n";
    h_ +=
        "<div class=\"card\"><div class=\"label\">Open findings</div><div class=\"value\" "
        "id=\"open-findings\">" +
        Num(open_by_sev[0] + open_by_sev[1] + open_by_sev[2]) + "</div><div class=\"detail\">";
    for (Severity sev : {Severity::kCritical, Severity::kWarning, Severity::kInfo}) {
      h_ += "<span class=\"sev " + SeverityClass(sev) + "\" id=\"open-" + SeverityClass(sev) +
            "\" data-count=\"" + std::to_string(open_by_sev[static_cast<int>(sev)]) + "\">" +
            Num(open_by_sev[static_cast<int>(sev)]) + " " + SeverityClass(sev) + "</span> ";
    }
    h_ += "</div></div>\n";
    h_ +=
        "<div class=\"card\"><div class=\"label\">Agents over budget</div><div class=\"value\" "
        "id=\"agents-over\">" +
        Num(over.size()) + " of <span id=\"agents-count\">" + Num(r_.agents.size()) +
        "</span></div><div class=\"detail\">";
    size_t shown = 0;
    for (const auto& a : over) {
      if (shown++ == 8) {
        h_ += "… and " + Num(over.size() - 8) + " more";
        break;
      }
      h_ += (shown > 1 ? ", " : "") + Esc(a);
    }
    if (over.empty()) h_ += "none has an open budget.exhausted finding";
    h_ += "</div></div>\n</div>\n";
  }

  // --- charts ---------------------------------------------------------------------------

  Amount WindowSpend(const AgentReport& a) const {
    Amount t;
    for (const auto& d : days_)
      if (auto it = a.days.find(d); it != a.days.end()) t = SaturatingAdd(t, it->second.spent());
    return t;
  }

  std::vector<std::pair<std::string, Amount>> TopAgents(size_t n) const {
    std::vector<std::pair<std::string, Amount>> v;
    for (const auto& [agent, a] : r_.agents) {
      Amount s = WindowSpend(a);
      if (!s.is_zero()) v.emplace_back(agent, s);
    }
    std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
    if (v.size() > n) v.resize(n);
    return v;
  }

  void Charts() {
    h_ += "<h2>Charts</h2>\n";
    h_ += "<p class=\"sub\">" + std::to_string(Days()) + " days, " + Esc(days_.front()) + " to " +
          Esc(days_.back()) + " (UTC). Hover any bar or cell for its exact values.</p>\n";
    SpendCharts();
    HeatMap();
    h_ += "<div class=\"charts\" style=\"grid-template-columns: 1fr 1fr\">\n";
    FindingsPerDay();
    LedgerVersusChain();
    h_ += "</div>\n";
  }

  void SpendCharts() {
    const auto top = TopAgents(kSpendAgents);
    h_ += "<h3>Daily spend of the top agents against their daily limit</h3>\n";
    if (top.empty()) {
      h_ += "<p class=\"note\">No spend in these days.</p>\n";
      return;
    }
    h_ += "<div class=\"charts\">\n";
    const int W = 340, H = 150, L = 4, T = 14, PW = W - 8, PH = H - 34;
    for (const auto& [agent, total] : top) {
      const AgentReport& a = r_.agents.at(agent);
      Amount max;
      for (const auto& d : days_) {
        auto it = a.days.find(d);
        Amount spent = it == a.days.end() ? Amount{} : it->second.spent();
        Amount limit = it == a.days.end() ? a.limits.daily : it->second.limit;
        max = std::max({max, spent, limit});
      }
      max = NiceMax(max);
      h_ += "<figure data-chart=\"spend\"><svg role=\"img\" viewBox=\"0 0 " + std::to_string(W) +
            " " + std::to_string(H) + "\" width=\"100%\"><title>" + Esc(agent) +
            ": daily spend against the daily limit</title>\n";
      h_ += "<text x=\"" + std::to_string(L) + "\" y=\"10\">axis 0 to " + Esc(Usdc(max)) +
            "</text>\n";
      h_ += "<line x1=\"" + std::to_string(L) + "\" y1=\"" + std::to_string(T + PH) + "\" x2=\"" +
            std::to_string(L + PW) + "\" y2=\"" + std::to_string(T + PH) + "\" stroke=\"#999\"/>\n";
      const int bw = PW / Days();
      std::string limit_path;
      for (int i = 0; i < Days(); ++i) {
        auto it = a.days.find(days_[i]);
        const Amount spent = it == a.days.end() ? Amount{} : it->second.spent();
        const Amount limit = it == a.days.end() ? a.limits.daily : it->second.limit;
        const int x = L + i * bw;
        const int bh = Scale(spent, max, PH);
        const bool over = !limit.is_zero() && spent >= limit;
        h_ += "<rect x=\"" + std::to_string(x + 1) + "\" y=\"" + std::to_string(T + PH - bh) +
              "\" width=\"" + std::to_string(bw - 2) + "\" height=\"" + std::to_string(bh) +
              "\" fill=\"" + (over ? "#b3261e" : "#4a78b5") + "\"><title>" + Esc(days_[i]) + ": " +
              Esc(Usdc(spent)) + " of " + Esc(Usdc(limit)) + " (" +
              std::to_string(Pct(spent, limit)) + " %)" + (over ? ", over the limit" : "") +
              "</title></rect>\n";
        const int ly = T + PH - Scale(limit, max, PH);
        limit_path += (i == 0 ? "M" : "L") + std::to_string(x) + " " + std::to_string(ly) + " L" +
                      std::to_string(x + bw) + " " + std::to_string(ly) + " ";
      }
      h_ += "<path d=\"" + limit_path +
            "\" fill=\"none\" stroke=\"#1a1a1a\" stroke-dasharray=\"4 3\"><title>daily "
            "limit</title></path>\n";
      h_ += "<text x=\"" + std::to_string(L) + "\" y=\"" + std::to_string(H - 6) + "\">" +
            Esc(days_.front()) + "</text><text x=\"" + std::to_string(L + PW) + "\" y=\"" +
            std::to_string(H - 6) + "\" text-anchor=\"end\">" + Esc(days_.back()) + "</text>\n";
      h_ += "</svg><figcaption><strong>" + Esc(agent) + "</strong>: " + Esc(Usdc(total)) +
            " in these days; dashed line: daily limit; red bars: at or over "
            "it</figcaption></figure>\n";
    }
    h_ += "</div>\n";
  }

  void HeatMap() {
    const auto top = TopAgents(kHeatAgents);
    h_ += "<h3>Budget utilisation: agent × day (spend as a share of the daily limit)</h3>\n";
    if (top.empty()) {
      h_ += "<p class=\"note\">No spend in these days.</p>\n";
      return;
    }
    // The same width whatever the number of days: cells widen when there are fewer.
    const int label_w = 150, cell = 24, gap = 2, top_h = 18;
    const int cw = kDays * cell / Days();
    const int W = label_w + kDays * cell + 10, H = top_h + static_cast<int>(top.size()) * cell + 40;
    h_ += "<figure data-chart=\"heatmap\"><svg role=\"img\" viewBox=\"0 0 " + std::to_string(W) +
          " " + std::to_string(H) +
          "\" width=\"100%\"><title>Budget utilisation per agent and day</title>\n";
    for (int i = 0; i < Days(); i += 5) {
      h_ += "<text x=\"" + std::to_string(label_w + i * cw) + "\" y=\"12\">" +
            Esc(days_[i].substr(5)) + "</text>\n";
    }
    struct Band {
      uint32_t below;
      const char* fill;
      const char* words;
    };
    static constexpr Band kBands[] = {{1, "#f1f1f1", "no spend"},
                                      {50, "#d7ecd4", "under 50 %"},
                                      {80, "#9fd09a", "50–79 %"},
                                      {90, "#ffe08a", "80–89 %"},
                                      {95, "#ffb14d", "90–94 %"},
                                      {100, "#f07b1e", "95–99 %"},
                                      {1000, "#b3261e", "100 % or more (×)"}};
    auto band = [](uint32_t pct, bool any) -> const Band& {
      if (!any) return kBands[0];
      for (size_t i = 1; i < std::size(kBands); ++i)
        if (pct < kBands[i].below) return kBands[i];
      return kBands[std::size(kBands) - 1];
    };
    int y = top_h;
    for (const auto& [agent, total] : top) {
      const AgentReport& a = r_.agents.at(agent);
      std::string label = agent.size() > 22 ? agent.substr(0, 21) + "…" : agent;
      h_ += "<text x=\"0\" y=\"" + std::to_string(y + 16) + "\"><title>" + Esc(agent) + "</title>" +
            Esc(label) + "</text>\n";
      for (int i = 0; i < Days(); ++i) {
        auto it = a.days.find(days_[i]);
        const Amount spent = it == a.days.end() ? Amount{} : it->second.spent();
        const Amount limit = it == a.days.end() ? a.limits.daily : it->second.limit;
        const uint32_t pct = Pct(spent, limit);
        const Band& b = band(pct, !spent.is_zero());
        const int x = label_w + i * cw;
        h_ += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
              std::to_string(cw - gap) + "\" height=\"" + std::to_string(cell - gap) +
              "\" fill=\"" + b.fill + "\"><title>" + Esc(agent) + ", " + Esc(days_[i]) + ": " +
              Esc(Usdc(spent)) + " of " + Esc(Usdc(limit)) + " (" + std::to_string(pct) +
              " %)</title></rect>";
        if (pct >= 100 && !spent.is_zero()) {
          h_ += "<text x=\"" + std::to_string(x + cw / 2 - 4) + "\" y=\"" + std::to_string(y + 16) +
                "\" style=\"fill:#fff;font-weight:700\">×</text>";
        }
        h_ += "\n";
      }
      y += cell;
    }
    int lx = 0;
    y += 14;
    for (size_t i = 0; i < std::size(kBands); ++i) {
      h_ += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(y) +
            "\" width=\"12\" height=\"12\" fill=\"" + kBands[i].fill +
            "\" stroke=\"#bbb\"/><text x=\"" + std::to_string(lx + 16) + "\" y=\"" +
            std::to_string(y + 10) + "\">" + kBands[i].words + "</text>\n";
      lx += 120;
    }
    h_ += "</svg><figcaption>Top " + std::to_string(top.size()) +
          " agents by spend in these days; a cell is the day's spend (committed and reserved) over "
          "the daily "
          "limit in force that day; × marks a day at or over the limit.</figcaption></figure>\n";
  }

  void FindingsPerDay() {
    std::map<std::string, std::array<uint64_t, 3>> per_day;
    for (const auto& f : r_.findings) {
      std::string d = DayBucket(f.opened_at);
      if (d < days_.front() || d > days_.back()) continue;
      ++per_day[d][static_cast<int>(f.severity)];
    }
    uint64_t max = 0;
    for (const auto& [d, c] : per_day) max = std::max(max, c[0] + c[1] + c[2]);
    const int W = 520, H = 200, L = 34, T = 12, PW = W - L - 6, PH = H - 52;
    h_ += "<figure data-chart=\"findings-per-day\"><svg role=\"img\" viewBox=\"0 0 " +
          std::to_string(W) + " " + std::to_string(H) +
          "\" width=\"100%\"><title>Findings opened per day, by severity</title>\n";
    h_ +=
        "<defs><pattern id=\"hatch\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
        "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#b3261e\"/><line "
        "x1=\"0\" y1=\"0\" "
        "x2=\"0\" y2=\"4\" stroke=\"#fff\" stroke-width=\"1.5\"/></pattern></defs>\n";
    h_ += "<text x=\"0\" y=\"" + std::to_string(T + 8) + "\">" + Num(max) +
          "</text><text x=\"0\" y=\"" + std::to_string(T + PH) + "\">0</text>\n";
    h_ += "<line x1=\"" + std::to_string(L) + "\" y1=\"" + std::to_string(T + PH) + "\" x2=\"" +
          std::to_string(L + PW) + "\" y2=\"" + std::to_string(T + PH) + "\" stroke=\"#999\"/>\n";
    const int bw = PW / Days();
    static constexpr std::pair<Severity, const char*> kStack[] = {
        {Severity::kCritical, "url(#hatch)"},
        {Severity::kWarning, "#e0a030"},
        {Severity::kInfo, "#7aa7dd"}};
    for (int i = 0; i < Days(); ++i) {
      auto it = per_day.find(days_[i]);
      if (it == per_day.end()) continue;
      int base = T + PH;
      for (const auto& [sev, fill] : kStack) {
        const uint64_t n = it->second[static_cast<int>(sev)];
        if (n == 0) continue;
        const int h = std::max(1, ScaleCount(n, max, PH));
        base -= h;
        h_ += "<rect x=\"" + std::to_string(L + i * bw + 1) + "\" y=\"" + std::to_string(base) +
              "\" width=\"" + std::to_string(bw - 2) + "\" height=\"" + std::to_string(h) +
              "\" fill=\"" + fill + "\"><title>" + Esc(days_[i]) + ": " + Num(n) + " " +
              SeverityClass(sev) + "</title></rect>\n";
      }
    }
    int lx = L;
    for (const auto& [sev, fill] : kStack) {
      h_ += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(H - 14) +
            "\" width=\"12\" height=\"12\" fill=\"" + fill + "\"/><text x=\"" +
            std::to_string(lx + 16) + "\" y=\"" + std::to_string(H - 4) + "\">" +
            SeverityClass(sev) + "</text>\n";
      lx += 90;
    }
    h_ += "<text x=\"" + std::to_string(L) + "\" y=\"" + std::to_string(T + PH + 14) + "\">" +
          Esc(days_.front()) + "</text><text x=\"" + std::to_string(L + PW) + "\" y=\"" +
          std::to_string(T + PH + 14) + "\" text-anchor=\"end\">" + Esc(days_.back()) + "</text>\n";
    h_ +=
        "</svg><figcaption>Findings opened per day (open and since resolved), stacked by severity: "
        "critical "
        "(hatched) at the bottom, then warning, then info.</figcaption></figure>\n";
  }

  void LedgerVersusChain() {
    const int W = 520, row = 46, L = 110, PW = W - L - 6;
    const int H = 24 + std::max<int>(1, static_cast<int>(r_.recon_by_network.size())) * row;
    h_ += "<figure data-chart=\"ledger-vs-chain\"><svg role=\"img\" viewBox=\"0 0 " +
          std::to_string(W) + " " + std::to_string(H) +
          "\" width=\"100%\"><title>Ledger versus chain per network</title>\n";
    struct Part {
      const char* name;
      const char* fill;
      uint64_t ReconSummary::*count;
      Amount ReconSummary::*amount;
    };
    static constexpr Part kParts[] = {
        {"matched", "#4f9a55", &ReconSummary::matched, &ReconSummary::amount_matched},
        {"pending", "#b9b9b9", &ReconSummary::pending, &ReconSummary::amount_pending},
        {"discrepant", "#b3261e", &ReconSummary::discrepant, &ReconSummary::amount_discrepant},
        {"unrecorded", "#6a3d9a", &ReconSummary::unrecorded, &ReconSummary::amount_unrecorded}};
    int y = 8;
    if (r_.recon_by_network.empty()) h_ += "<text x=\"0\" y=\"20\">no settled payments</text>\n";
    for (const auto& [network, s] : r_.recon_by_network) {
      const uint64_t total = s.matched + s.pending + s.discrepant + s.unrecorded;
      h_ += "<text x=\"0\" y=\"" + std::to_string(y + 13) + "\">" +
            Esc(DiscordNetworkName(network.empty() ? "unknown" : network)) + "</text>\n";
      int x = L;
      std::string words;
      for (const auto& p : kParts) {
        const uint64_t n = s.*(p.count);
        words += (words.empty() ? "" : " · ") + std::string(p.name) + " " + Num(n);
        if (n == 0) continue;
        const int w = std::max(1, ScaleCount(n, total, PW));
        h_ += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
              std::to_string(w) + "\" height=\"18\" fill=\"" + p.fill + "\"><title>" +
              Esc(DiscordNetworkName(network)) + ": " + p.name + " " + Num(n) + " (" +
              Esc(Usdc(s.*(p.amount))) + ")</title></rect>\n";
        x += w;
      }
      h_ += "<text x=\"" + std::to_string(L) + "\" y=\"" + std::to_string(y + 32) + "\">" + words +
            "</text>\n";
      y += row;
    }
    h_ +=
        "</svg><figcaption>Settled payments per network by their state against the chain, and "
        "transfers out of "
        "registered wallets that no payment claims (unrecorded).</figcaption></figure>\n";
    h_ += "<div style=\"grid-column: 1 / -1\"><table id=\"recon\"><thead><tr><th>network</th>";
    for (const auto& p : kParts) h_ += std::string("<th class=\"num\">") + p.name + "</th>";
    h_ += "<th class=\"num\">settled</th></tr></thead><tbody>\n";
    auto recon_row = [&](const std::string& label, const ReconSummary& s, const char* id) {
      h_ += std::string("<tr") + (id ? std::string(" id=\"") + id + "\"" : std::string()) +
            "><td>" + label + "</td>";
      for (const auto& p : kParts) {
        h_ += "<td class=\"num\" data-" + std::string(p.name) + "=\"" +
              std::to_string(s.*(p.count)) + "\">" + Num(s.*(p.count)) + "<br>" +
              ToUsdcString(s.*(p.amount)) + "</td>";
      }
      h_ += "<td class=\"num\" data-settled=\"" + std::to_string(s.payments_settled) + "\">" +
            Num(s.payments_settled) + "<br>" + ToUsdcString(s.amount_settled) + "</td></tr>\n";
    };
    for (const auto& [network, s] : r_.recon_by_network)
      recon_row(Esc(DiscordNetworkName(network)), s, nullptr);
    recon_row("<strong>all networks</strong>", r_.recon, "recon-total");
    h_ += "</tbody></table><p class=\"note\">Counts, then USDC.</p></div>\n";
  }

  // --- tables ---------------------------------------------------------------------------

  void FindingTables() {
    std::map<FindingKind, std::pair<uint64_t, uint64_t>> counts;
    for (int i = 0; i < kFindingKindCount; ++i) counts[FindingKind(i)] = {0, 0};
    std::map<FindingKind, std::vector<const Finding*>> open;
    for (const auto& f : r_.findings) {
      auto& c = counts[f.kind];
      (f.open ? c.first : c.second) += 1;
      if (f.open) open[f.kind].push_back(&f);
    }
    h_ +=
        "<h2>Findings</h2>\n<table id=\"findings-summary\"><thead><tr><th>kind</th><th "
        "class=\"num\">open</th>"
        "<th class=\"num\">resolved</th></tr></thead><tbody>\n";
    for (const auto& [kind, c] : counts) {
      const std::string k(FindingKindName(kind));
      h_ += "<tr data-kind=\"" + k + "\" data-open=\"" + std::to_string(c.first) +
            "\" data-resolved=\"" + std::to_string(c.second) + "\"><td><code>" + k +
            "</code></td><td class=\"num\">" + Num(c.first) + "</td><td class=\"num\">" +
            Num(c.second) + "</td></tr>\n";
    }
    h_ += "</tbody></table>\n";
    // Kinds with the most severe open findings first.
    std::vector<std::pair<FindingKind, std::vector<const Finding*>>> kinds(open.begin(),
                                                                           open.end());
    for (auto& [kind, list] : kinds) {
      std::sort(list.begin(), list.end(), [](const Finding* a, const Finding* b) {
        if (a->severity != b->severity) return a->severity > b->severity;
        if (a->opened_at != b->opened_at) return a->opened_at > b->opened_at;
        return a->key < b->key;
      });
    }
    std::stable_sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) {
      return a.second.front()->severity > b.second.front()->severity;
    });
    for (const auto& [kind, list] : kinds) {
      const std::string k(FindingKindName(kind));
      h_ +=
          "<h3 id=\"open-" + k + "\"><code>" + k + "</code>: " + Num(list.size()) + " open</h3>\n";
      h_ +=
          "<table><thead><tr><th>severity</th><th>agent</th><th>payment</th><th "
          "class=\"num\">amounts (USDC)</th>"
          "<th>transaction</th><th>opened at</th><th>what happened</th></tr></thead><tbody>\n";
      for (size_t i = 0; i < list.size() && i < kHtmlRowsPerKind; ++i) FindingRow(*list[i]);
      h_ += "</tbody></table>\n";
      if (list.size() > kHtmlRowsPerKind) {
        h_ +=
            "<p class=\"note\">… and " + Num(list.size() - kHtmlRowsPerKind) +
            " more, the most severe and most recent first above: see the JSON report or <code>GET "
            "/v1/findings?status=open&amp;kind=" +
            k + "</code>.</p>\n";
      }
    }
  }

  void FindingRow(const Finding& f) {
    std::string payment, amounts;
    for (const auto& [k, v] : f.evidence) {
      if (k == "payment_id") payment = v;
      if (!IsAmountEvidence(k)) continue;
      Amount a;
      const std::string shown = TryParseAtomic(v, &a) ? ToUsdcString(a) : v;
      amounts += (amounts.empty() ? "" : "<br>") + Esc(k) + " " + Esc(shown);
    }
    const std::string network = EvidenceNetwork(f.key, f.evidence),
                      tx = EvidenceTx(f.key, f.evidence);
    std::string tx_cell;
    if (!tx.empty()) {
      const std::string url = ExplorerTxUrl(network, tx);
      tx_cell = url.empty() ? "<span class=\"mono\" title=\"" + Esc(tx) + "\">" +
                                  Esc(ShortHash(tx)) + "</span>"
                            : "<a class=\"mono\" href=\"" + Esc(url) + "\" title=\"" + Esc(tx) +
                                  "\">" + Esc(ShortHash(tx)) + "</a>";
      if (!network.empty()) tx_cell += "<br>" + Esc(DiscordNetworkName(network));
    }
    h_ += "<tr><td><span class=\"sev " + SeverityClass(f.severity) + "\">" +
          SeverityClass(f.severity) + "</span></td><td>" + Esc(f.agent_id) +
          "</td><td class=\"mono\">" + Esc(payment) + "</td><td class=\"num\">" + amounts +
          "</td><td>" + tx_cell + "</td><td class=\"mono when\">" +
          Esc(FormatRfc3339(f.opened_at)) + "</td><td class=\"msg\">" + Esc(f.message) +
          "</td></tr>\n";
  }

  void Agents() {
    const std::string month = MonthBucket(r_.as_of), day = DayBucket(r_.as_of);
    struct Row {
      const std::string* agent;
      AgentSpend d, m;
    };
    std::vector<Row> rows;
    for (const auto& [agent, a] : r_.agents) {
      Row row{&agent, {{}, {}, a.limits.daily}, {{}, {}, a.limits.monthly}};
      if (auto it = a.days.find(day); it != a.days.end()) row.d = it->second;
      if (auto it = a.months.find(month); it != a.months.end()) row.m = it->second;
      rows.push_back(row);
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      if (a.m.spent() != b.m.spent()) return a.m.spent() > b.m.spent();
      return *a.agent < *b.agent;
    });
    h_ += "<h2>Agents</h2>\n<p class=\"sub\">" + Num(rows.size()) + " agents; the top " +
          Num(std::min(rows.size(), kAgentRows)) + " by spend in " + Esc(month) + ".</p>\n";
    h_ += "<table><thead><tr><th>agent</th><th class=\"num\">spent " + Esc(day) +
          "</th><th class=\"num\">daily limit</th><th class=\"num\">used</th><th "
          "class=\"num\">spent " +
          Esc(month) +
          "</th><th class=\"num\">monthly limit</th><th class=\"num\">used</th><th "
          "class=\"num\">per-transaction "
          "max</th></tr></thead><tbody>\n";
    for (size_t i = 0; i < rows.size() && i < kAgentRows; ++i) {
      const Row& r = rows[i];
      const Limits& l = r_.agents.at(*r.agent).limits;
      h_ += "<tr><td>" + Esc(*r.agent) + "</td>" + MoneyTd(r.d.spent()) + MoneyTd(r.d.limit) +
            "<td class=\"num\">" + std::to_string(Pct(r.d.spent(), r.d.limit)) + " %</td>" +
            MoneyTd(r.m.spent()) + MoneyTd(r.m.limit) + "<td class=\"num\">" +
            std::to_string(Pct(r.m.spent(), r.m.limit)) + " %</td>" + MoneyTd(l.per_transaction) +
            "</tr>\n";
    }
    h_ += "</tbody></table>\n";
  }

  static std::string Ev(const Finding& f, std::string_view key) {
    for (const auto& [k, v] : f.evidence)
      if (k == key) return v;
    return "";
  }

  std::vector<const Finding*> OpenOf(FindingKind kind) const {
    std::vector<const Finding*> v;
    for (const auto& f : r_.findings)
      if (f.open && f.kind == kind) v.push_back(&f);
    std::sort(v.begin(), v.end(), [](const Finding* a, const Finding* b) {
      return a->severity != b->severity ? a->severity > b->severity : a->key < b->key;
    });
    return v;
  }

  void Vendors() {
    const auto v = OpenOf(FindingKind::kVendorFailureStreak);
    h_ += "<h2>Vendors with failure streaks</h2>\n";
    if (v.empty()) {
      h_ += "<p class=\"note\">None open.</p>\n";
      return;
    }
    h_ +=
        "<table><thead><tr><th>severity</th><th>vendor</th><th class=\"num\">failures in a "
        "row</th><th>latest "
        "reason</th><th>latest failure</th><th>last settlement</th></tr></thead><tbody>\n";
    for (size_t i = 0; i < v.size() && i < kHtmlRowsPerKind; ++i) {
      const Finding& f = *v[i];
      h_ += "<tr><td><span class=\"sev " + SeverityClass(f.severity) + "\">" +
            SeverityClass(f.severity) + "</span></td><td>" + Esc(f.key) +
            "</td><td class=\"num\">" + Esc(Ev(f, "streak")) + "</td><td>" +
            Esc(Ev(f, "last_reason")) + "</td><td class=\"mono\">" + Esc(Ev(f, "last_failure_at")) +
            "</td><td class=\"mono\">" + Esc(Ev(f, "last_settlement_at")) + "</td></tr>\n";
    }
    h_ += "</tbody></table>\n";
    if (v.size() > kHtmlRowsPerKind)
      h_ += "<p class=\"note\">… and " + Num(v.size() - kHtmlRowsPerKind) + " more.</p>\n";
  }

  void Wallets() {
    const auto v = OpenOf(FindingKind::kWalletBalanceLow);
    h_ += "<h2>Low wallets</h2>\n";
    if (v.empty()) {
      h_ += "<p class=\"note\">None open.</p>\n";
      return;
    }
    h_ +=
        "<table><thead><tr><th>severity</th><th>agent</th><th>network</th><th>address</th><th "
        "class=\"num\">balance</th><th class=\"num\">threshold</th><th class=\"num\">at "
        "block</th></tr></thead><tbody>\n";
    for (size_t i = 0; i < v.size() && i < kHtmlRowsPerKind; ++i) {
      const Finding& f = *v[i];
      Amount balance, threshold;
      (void)TryParseAtomic(Ev(f, "balance"), &balance);
      (void)TryParseAtomic(Ev(f, "threshold"), &threshold);
      h_ += "<tr><td><span class=\"sev " + SeverityClass(f.severity) + "\">" +
            SeverityClass(f.severity) + "</span></td><td>" + Esc(f.agent_id) + "</td><td>" +
            Esc(DiscordNetworkName(Ev(f, "network"))) + "</td><td class=\"mono\">" +
            Esc(Ev(f, "address")) + "</td>" + MoneyTd(balance) + MoneyTd(threshold) +
            "<td class=\"num\">" + Esc(Ev(f, "block_number")) + "</td></tr>\n";
    }
    h_ += "</tbody></table>\n";
    if (v.size() > kHtmlRowsPerKind)
      h_ += "<p class=\"note\">… and " + Num(v.size() - kHtmlRowsPerKind) + " more.</p>\n";
  }

  void DeadLetters() {
    if (r_.stats.dead_letters == 0) return;
    h_ += "<h2>Dead letters</h2>\n<p class=\"sub\">" + Num(r_.stats.dead_letters) +
          " input records could not be applied; they are in the dead-letter sink with their "
          "reasons.</p>\n";
    if (r_.dead_letters.empty()) return;
    h_ +=
        "<table><thead><tr><th>origin</th><th class=\"num\">line or "
        "offset</th><th>reason</th></tr></thead><tbody>\n";
    for (size_t i = 0; i < r_.dead_letters.size() && i < kDeadLetterRows; ++i) {
      const auto& d = r_.dead_letters[i];
      h_ += "<tr><td>" + Esc(d.origin) + "</td><td class=\"num\">" +
            (d.is_file ? Num(d.index) : std::to_string(d.index) + "/" + Num(d.offset)) +
            "</td><td>" + Esc(d.reason) + "</td></tr>\n";
    }
    h_ += "</tbody></table>\n";
  }

  int Days() const { return static_cast<int>(days_.size()); }

  const Report& r_;
  std::vector<std::string> days_;
  std::string h_;
};

}  // namespace

std::string Report::ToHtml() const { return Page(*this).Render(); }

}  // namespace x402
