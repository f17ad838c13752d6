#include "api/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "api/state_reader.h"
#include "projections/codec.h"
#include "projections/projections.h"
#include "projections/records.h"

namespace x402 {

namespace pm = prometheus;

namespace {

pm::MetricFamily Family(std::string name, std::string help, pm::MetricType type) {
  pm::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void Sample(pm::MetricFamily& f, std::vector<std::pair<std::string, std::string>> labels,
            double v) {
  std::sort(labels.begin(), labels.end());  // label order as in prometheus-cpp's own families
  pm::ClientMetric m;
  for (auto& [k, val] : labels) m.label.push_back({std::move(k), std::move(val)});
  if (f.type == pm::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

double Usdc(Amount a) { return ToUsdcDoubleForMetrics(a); }

}  // namespace

std::vector<pm::MetricFamily> ProbeState(RocksStore* store, const ProjectionConfig& cfg,
                                         size_t top_n, int64_t wall_ms, ProbeSummary* summary,
                                         const std::atomic<bool>* cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  auto go = [cancel] { return !cancel || !cancel->load(std::memory_order_relaxed); };
  ProbeSummary s;
  StateReader r(store);
  std::vector<pm::MetricFamily> out;
  const TimeMs now = r.MaxWatermark();
  const std::string day = now == kTimeMin ? "" : DayBucket(now),
                    month = now == kTimeMin ? "" : MonthBucket(now);

  // Findings.
  {
    uint64_t open[kFindingKindCount][3] = {};
    auto it = r.Iter(Table::kFindings);
    Finding f;
    for (it->SeekToFirst(); it->Valid() && go(); it->Next()) {
      if (!Finding::Decode(std::string_view(it->value().data(), it->value().size()), &f) || !f.open)
        continue;
      const int k = static_cast<int>(f.kind), sev = static_cast<int>(f.severity);
      if (k < kFindingKindCount && sev < 3) ++open[k][sev];
      ++s.findings_open;
    }
    auto fam = Family("x402_findings_open", "Findings currently open, by kind and severity.",
                      pm::MetricType::Gauge);
    for (int k = 0; k < kFindingKindCount; ++k) {
      for (int sev = 0; sev < 3; ++sev) {
        Sample(fam,
               {{"kind", std::string(FindingKindName(FindingKind(k)))},
                {"severity", std::string(SeverityName(Severity(sev)))}},
               static_cast<double>(open[k][sev]));
      }
    }
    out.push_back(std::move(fam));
    auto stale = Family(
        "x402_stale_authorizations",
        "Authorizations pending longer than stale_after (open authorization.stale findings).",
        pm::MetricType::Gauge);
    const int st = static_cast<int>(FindingKind::kAuthorizationStale);
    Sample(stale, {}, static_cast<double>(open[st][0] + open[st][1] + open[st][2]));
    out.push_back(std::move(stale));
  }

  // Payments and spend by network (every payment fact only ever becomes true, so these are
  // counters: they only go up while the state grows).
  {
    struct Net {
      uint64_t authorized = 0, settled = 0, failed = 0, cancelled = 0;
      Amount spend;
    };
    std::map<std::string, Net> nets;
    auto it = r.Iter(Table::kPayments);
    PaymentRecord p;
    for (it->SeekToFirst(); it->Valid() && go(); it->Next()) {
      if (!PaymentRecord::Decode(std::string_view(it->value().data(), it->value().size()), &p))
        continue;
      ++s.payments;
      Net& n = nets[p.has_auth ? p.network : std::string("unknown")];
      n.authorized += p.has_auth;
      n.failed += p.failed;
      n.cancelled += p.cancelled;
      if (p.settled) {
        ++n.settled;
        n.spend = SaturatingAdd(n.spend, p.SettledAmount());
      }
    }
    auto pay = Family(
        "x402_payments_total",
        "Payments by network and lifecycle fact reached (authorized, settled, failed, cancelled).",
        pm::MetricType::Counter);
    auto spend =
        Family("x402_spend_usdc_total", "USDC settled, by network (settled amounts, in USDC).",
               pm::MetricType::Counter);
    for (const auto& [net, n] : nets) {
      for (auto [status, v] :
           {std::pair{"authorized", n.authorized}, std::pair{"settled", n.settled},
            std::pair{"failed", n.failed}, std::pair{"cancelled", n.cancelled}}) {
        Sample(pay, {{"network", net}, {"status", status}}, static_cast<double>(v));
      }
      Sample(spend, {{"network", net}}, Usdc(n.spend));
    }
    out.push_back(std::move(pay));
    out.push_back(std::move(spend));
  }

  // Agents: spend in the current UTC day and month (of the latest watermark), top N by month.
  {
    struct Agent {
      uint32_t shard = 0;
      Amount day, month;
    };
    std::map<std::string, Agent> agents;
    auto it = r.Iter(Table::kBuckets);
    BucketRecord b;
    for (it->SeekToFirst(); it->Valid() && go(); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      if (key.size() < 8) continue;
      const uint32_t shard = static_cast<uint32_t>(
          GetBigEndian64(std::string(4, '\0') + std::string(key.substr(0, 4))));
      key.remove_prefix(4);
      const size_t bar = key.find('|');
      if (bar == std::string_view::npos || bar + 3 > key.size()) continue;
      const std::string_view agent = key.substr(0, bar), bucket = key.substr(bar + 3);
      const bool is_day = key[bar + 1] == 'D';
      if (bucket != (is_day ? day : month)) {
        agents.try_emplace(std::string(agent)).first->second.shard = shard;
        continue;
      }
      if (!BucketRecord::Decode(std::string_view(it->value().data(), it->value().size()), &b))
        continue;
      Agent& a = agents[std::string(agent)];
      a.shard = shard;
      (is_day ? a.day : a.month) = SaturatingAdd(b.committed, b.reserved);
    }
    s.agents = agents.size();
    std::vector<std::pair<const std::string*, const Agent*>> rows;
    rows.reserve(agents.size());
    for (const auto& [name, a] : agents) rows.emplace_back(&name, &a);
    const size_t n = std::min(top_n, rows.size());
    std::partial_sort(rows.begin(), rows.begin() + n, rows.end(), [](const auto& x, const auto& y) {
      if (x.second->month != y.second->month) return x.second->month > y.second->month;
      if (x.second->day != y.second->day) return x.second->day > y.second->day;
      return *x.first < *y.first;
    });
    auto spend = Family(
        "x402_agent_spend_usdc",
        "Committed plus reserved spend of the top agents (by month spend) in the current UTC "
        "day and month of the event-time watermark, in USDC.",
        pm::MetricType::Gauge);
    auto util = Family("x402_agent_budget_utilization_ratio",
                       "Spend of the top agents over their limit for the current day and month (1 "
                       "= limit reached).",
                       pm::MetricType::Gauge);
    Projections proj(&cfg);
    AgentRecord rec;
    std::string v;
    for (size_t i = 0; i < n; ++i) {
      const std::string& agent = *rows[i].first;
      const Agent& a = *rows[i].second;
      const bool has = r.Get(Table::kAgents, a.shard, agent, &v) && AgentRecord::Decode(v, &rec);
      const Limits lim = proj.EffectiveLimits(agent, has ? &rec : nullptr, now);
      for (auto [period, spent, limit] :
           {std::tuple{"day", a.day, lim.daily}, std::tuple{"month", a.month, lim.monthly}}) {
        Sample(spend, {{"agent", agent}, {"period", period}}, Usdc(spent));
        // Ratio from an exact integer (parts per million); only the final sample is a double.
        Sample(util, {{"agent", agent}, {"period", period}},
               static_cast<double>(UtilizationPpm(spent, limit)) / 1e6);
      }
    }
    s.agent_series = n;
    out.push_back(std::move(spend));
    out.push_back(std::move(util));
  }

  // Vendors: current failure streak, top N by streak.
  size_t streaking = 0;
  {
    std::vector<std::pair<std::string, size_t>> streaks;
    auto it = r.Iter(Table::kVendors);
    VendorRecord vr;
    for (it->SeekToFirst(); it->Valid() && go(); it->Next()) {
      ++s.vendors;
      if (!VendorRecord::Decode(std::string_view(it->value().data(), it->value().size()), &vr) ||
          vr.failures.empty())
        continue;
      streaks.emplace_back(it->key().ToString().substr(4), vr.failures.size());
    }
    const size_t n = std::min(top_n, streaks.size());
    streaking = streaks.size();
    std::partial_sort(streaks.begin(), streaks.begin() + n, streaks.end(),
                      [](const auto& x, const auto& y) {
                        return x.second != y.second ? x.second > y.second : x.first < y.first;
                      });
    auto fam = Family(
        "x402_vendor_failure_streak",
        "Consecutive payment failures since the vendor's latest settlement (top vendors by streak; "
        "vendors with no failures are omitted).",
        pm::MetricType::Gauge);
    for (size_t i = 0; i < n; ++i)
      Sample(fam, {{"vendor", streaks[i].first}}, static_cast<double>(streaks[i].second));
    s.vendor_series = n;
    out.push_back(std::move(fam));
  }

  // Wallet balances: latest observed balance per wallet (all assets summed), the N lowest.
  {
    std::map<std::pair<std::string, std::string>, Amount> wallets;
    auto it = r.Iter(Table::kBalances);
    BalanceRecord br;
    for (it->SeekToFirst(); it->Valid() && go(); it->Next()) {
      const std::string key = it->key().ToString().substr(4);
      const size_t a = key.find('|'), b = a == std::string::npos ? a : key.find('|', a + 1);
      if (b == std::string::npos) continue;
      if (!BalanceRecord::Decode(std::string_view(it->value().data(), it->value().size()), &br))
        continue;
      Amount& w = wallets[{key.substr(0, a), key.substr(a + 1, b - a - 1)}];
      w = SaturatingAdd(w, br.balance);
    }
    s.wallets = wallets.size();
    std::vector<std::pair<const std::pair<std::string, std::string>*, Amount>> rows;
    for (const auto& [k, v] : wallets) rows.emplace_back(&k, v);
    const size_t n = std::min(top_n, rows.size());
    std::partial_sort(rows.begin(), rows.begin() + n, rows.end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second < y.second : *x.first < *y.first;
    });
    auto fam = Family(
        "x402_wallet_balance_usdc",
        "Latest observed on-chain balance of registered wallets, in USDC (the N lowest balances).",
        pm::MetricType::Gauge);
    for (size_t i = 0; i < n; ++i)
      Sample(fam, {{"network", rows[i].first->first}, {"address", rows[i].first->second}},
             Usdc(rows[i].second));
    s.wallet_series = n;
    out.push_back(std::move(fam));
  }

  {
    auto fam = Family("x402_metrics_series_capped",
                      "Entities left out of a capped per-entity family (--metrics-top-n).",
                      pm::MetricType::Gauge);
    Sample(fam, {{"family", "agent"}}, static_cast<double>(s.agents - s.agent_series));
    Sample(fam, {{"family", "vendor"}}, static_cast<double>(streaking - s.vendor_series));
    Sample(fam, {{"family", "wallet"}}, static_cast<double>(s.wallets - s.wallet_series));
    out.push_back(std::move(fam));
  }

  // Outbox backlog: next sequence minus the oldest entry still stored.
  {
    std::string v;
    uint64_t next = 0, first = 0;
    if (r.GetMeta("outbox_seq", &v) && v.size() == 8) next = GetBigEndian64(v);
    auto it = r.Iter(store->outbox());
    it->SeekToFirst();
    if (it->Valid() && it->key().size() == 8) {
      first = GetBigEndian64(std::string_view(it->key().data(), 8));
      s.outbox_pending = next > first ? next - first : 0;
    }
    auto fam = Family("x402_outbox_pending",
                      "Alerts committed to the outbox and not yet delivered (deleted).",
                      pm::MetricType::Gauge);
    Sample(fam, {}, static_cast<double>(s.outbox_pending));
    out.push_back(std::move(fam));
  }

  // Watermark lag: wall clock minus the least advanced shard's event-time watermark.
  {
    auto fam = Family(
        "x402_watermark_lag_seconds",
        "Wall clock minus the oldest shard watermark (event time); absent before the first event.",
        pm::MetricType::Gauge);
    if (!r.watermarks().empty()) {
      TimeMs lo{INT64_MAX};
      for (const auto& [sh, wm] : r.watermarks()) lo = std::min(lo, wm);
      Sample(fam, {}, static_cast<double>(wall_ms - lo.ms) / 1000.0);
    }
    out.push_back(std::move(fam));
  }

  // RocksDB properties, summed over column families.
  for (auto [name, prop, help] :
       {std::tuple{"x402_rocksdb_live_data_bytes", "rocksdb.estimate-live-data-size",
                   "Estimated live data size."},
        std::tuple{"x402_rocksdb_memtable_bytes", "rocksdb.cur-size-all-mem-tables",
                   "Bytes in all memtables."},
        std::tuple{"x402_rocksdb_pending_compaction_bytes",
                   "rocksdb.estimate-pending-compaction-bytes",
                   "Estimated bytes compaction still has to rewrite."}}) {
    uint64_t v = 0;
    store->db()->GetAggregatedIntProperty(prop, &v);
    auto fam = Family(name, std::string(help) + " (RocksDB " + prop + ", all column families)",
                      pm::MetricType::Gauge);
    Sample(fam, {}, static_cast<double>(v));
    out.push_back(std::move(fam));
  }

  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  {
    auto fam = Family("x402_state_probe_seconds", "Duration of the last state probe.",
                      pm::MetricType::Gauge);
    Sample(fam, {}, s.seconds);
    out.push_back(std::move(fam));
    auto ts = Family("x402_state_probe_timestamp_seconds",
                     "Wall-clock time of the last state probe.", pm::MetricType::Gauge);
    Sample(ts, {}, static_cast<double>(wall_ms) / 1000.0);
    out.push_back(std::move(ts));
  }
  if (summary) *summary = s;
  return out;
}

Metrics::Metrics() : registry_(std::make_shared<pm::Registry>()) {
  auto& events =
      pm::BuildCounter()
          .Name("x402_events_total")
          .Help("Input records by event type and outcome (applied, duplicate, dead_letter).")
          .Register(*registry_);
  for (int i = 0; i < kEventTypeCount; ++i) {
    const std::string type(EventTypeName(EventType(i)));
    applied_[i] = &events.Add({{"type", type}, {"outcome", "applied"}});
    duplicates_[i] = &events.Add({{"type", type}, {"outcome", "duplicate"}});
  }
  dead_events_ = &events.Add({{"type", "unknown"}, {"outcome", "dead_letter"}});
  auto& dl = pm::BuildCounter()
                 .Name("x402_deadletters_total")
                 .Help("Dead-lettered records by reason class.")
                 .Register(*registry_);
  for (int i = 0; i < kDeadLetterClassCount; ++i) {
    dead_letters_[i] = &dl.Add({{"reason", std::string(DeadLetterClassName(DeadLetterClass(i)))}});
  }
  auto& op = pm::BuildCounter()
                 .Name("x402_findings_opened_total")
                 .Help("Findings opened, by kind.")
                 .Register(*registry_);
  auto& rs = pm::BuildCounter()
                 .Name("x402_findings_resolved_total")
                 .Help("Findings resolved, by kind.")
                 .Register(*registry_);
  for (int i = 0; i < kFindingKindCount; ++i) {
    const std::string kind(FindingKindName(FindingKind(i)));
    opened_[i] = &op.Add({{"kind", kind}});
    resolved_[i] = &rs.Add({{"kind", kind}});
  }
  auto& b = pm::BuildCounter()
                .Name("x402_batches_total")
                .Help("Commits of the pipeline, by outcome.")
                .Register(*registry_);
  batches_ok_ = &b.Add({{"outcome", "ok"}});
  batches_failed_ = &b.Add({{"outcome", "failed"}});
  commit_seconds_ =
      &pm::BuildHistogram()
           .Name("x402_batch_commit_seconds")
           .Help("Time to fire timers and commit one batch (RocksDB WriteBatch included).")
           .Register(*registry_)
           .Add({}, pm::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1, 0.25, 0.5, 1, 2.5, 5});
  apply_seconds_ =
      &pm::BuildHistogram()
           .Name("x402_event_apply_seconds")
           .Help("Decode, dedupe and apply time of one event (sampled: every 64th record).")
           .Register(*registry_)
           .Add({}, pm::Histogram::BucketBoundaries{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
                                                    2.5e-4, 1e-3, 1e-2});
}

Metrics::~Metrics() = default;

void Metrics::OnEventApplied(EventType type) { applied_[static_cast<int>(type)]->Increment(); }
void Metrics::OnDuplicate(EventType type) { duplicates_[static_cast<int>(type)]->Increment(); }
void Metrics::OnDeadLetter(DeadLetterClass reason) {
  dead_events_->Increment();
  dead_letters_[static_cast<int>(reason)]->Increment();
}
void Metrics::OnFinding(FindingKind kind, Severity, bool opened) {
  (opened ? opened_ : resolved_)[static_cast<int>(kind)]->Increment();
}
void Metrics::OnApplySampled(double seconds) { apply_seconds_->Observe(seconds); }
void Metrics::OnBatchCommitted(size_t, double seconds, bool ok) {
  (ok ? batches_ok_ : batches_failed_)->Increment();
  commit_seconds_->Observe(seconds);
}

void Metrics::SetConsumerLags(std::vector<ConsumerLag> lags) {
  std::lock_guard<std::mutex> l(mu_);
  lags_ = std::move(lags);
  have_lags_ = true;
}

void Metrics::SetProbeFamilies(std::vector<pm::MetricFamily> families) {
  std::lock_guard<std::mutex> l(mu_);
  probe_ = std::move(families);
}

void Metrics::SetReadiness(std::function<bool()> ready) {
  std::lock_guard<std::mutex> l(mu_);
  ready_ = std::move(ready);
}

std::string Metrics::Render() {
  std::vector<pm::MetricFamily> fams = registry_->Collect();
  std::function<bool()> ready;
  {
    std::lock_guard<std::mutex> l(mu_);
    fams.insert(fams.end(), probe_.begin(), probe_.end());
    if (have_lags_) {
      auto f = Family("x402_consumer_lag_events",
                      "Messages between the consumed position and the end, per partition.",
                      pm::MetricType::Gauge);
      for (const auto& lag : lags_) {
        Sample(f, {{"topic", lag.topic}, {"partition", std::to_string(lag.partition)}},
               static_cast<double>(lag.lag));
      }
      fams.push_back(std::move(f));
    }
    ready = ready_;
  }
  auto delivered =
      Family("x402_alerts_delivered_total",
             "Alert deliveries per sink and outcome (delivered, failed).", pm::MetricType::Counter);
  auto pending =
      Family("x402_alert_sink_pending", "Alerts waiting for a sink.", pm::MetricType::Gauge);
  auto disabled = Family("x402_alert_sink_disabled", "1 when a sink has given up delivering.",
                         pm::MetricType::Gauge);
  if (board_) {
    for (const auto& s : board_->Snapshot()) {
      Sample(delivered, {{"sink", s.name}, {"outcome", "delivered"}},
             static_cast<double>(s.delivered));
      Sample(delivered, {{"sink", s.name}, {"outcome", "failed"}}, static_cast<double>(s.failed));
      Sample(pending, {{"sink", s.name}}, static_cast<double>(s.pending));
      Sample(disabled, {{"sink", s.name}}, s.disabled ? 1.0 : 0.0);
    }
  }
  fams.push_back(std::move(delivered));
  fams.push_back(std::move(pending));
  fams.push_back(std::move(disabled));
  auto up = Family("x402_ready", "1 when /readyz reports ready.", pm::MetricType::Gauge);
  Sample(up, {}, ready && ready() ? 1.0 : 0.0);
  fams.push_back(std::move(up));
  return pm::TextSerializer().Serialize(fams);
}

}  // namespace x402
