#include "engine/cli/commands.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "connectors/dev_broker.h"
#include "connectors/file_source.h"
#include "connectors/generator.h"
#include "connectors/kafka_producer.h"
#include "connectors/kafka_source.h"
#include "connectors/kafka_gen.h"
#include "engine/cli/alerts.h"
#include "api/log.h"
#include "engine/cli/api_runtime.h"
#include "engine/cli/flags.h"
#include "engine/config_file.h"
#include "engine/engine.h"
#include "replay/replay.h"

extern char** environ;

namespace x402::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int Fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "%s\n", msg.c_str());
  return code;
}

// Flags for every threshold and timeout of the projections (same names as the config file).
struct FlagSpec {
  const char* name;
  const char* value_name;
  const char* help;
};
constexpr FlagSpec kProjectionFlags[] = {
    {"config", "FILE", "TOML configuration file (see ops/config/x402rec.example.toml)"},
    {"stale-after", "SECONDS", "authorization.stale after this long pending (default 900)"},
    {"state-cache-mb", "MB", "memory for cached projection state, all tables together (default 256)"},
    {"dedupe-horizon", "SECONDS",
     "a repeated (source, id) within this much event time is a duplicate; 0 remembers none (default 604800)"},
    {"chain-grace", "SECONDS", "wait for the chain this long before missing/unrecorded (default 600)"},
    {"confirmation-timeout", "SECONDS", "recon.unconfirmed after this long (default 1800)"},
    {"amount-tolerance-bps", "BPS", "amount mismatch tolerance in basis points (default 0)"},
    {"vendor-streak-warning", "N", "consecutive vendor failures for a warning (default 3)"},
    {"vendor-streak-critical", "N", "consecutive vendor failures for critical (default 5)"},
    {"wallet-low-warning", "USDC", "wallet.balance_low warning below this balance (default 200)"},
    {"wallet-low-critical", "USDC", "wallet.balance_low critical below this balance (default 50)"},
};
void AddProjectionFlags(Flags& f) {
  for (const FlagSpec& s : kProjectionFlags) f.Add(s.name, s.value_name, s.help);
}

// Loads --config (if any), the X402_<AGENT>_*_USDC environment overrides, then the flags.
Status LoadSettings(const Flags& f, FileSettings* s) {
  if (auto path = f.Get("config")) {
    Status st = LoadConfigFile(*path, s);
    if (!st.ok()) return Err("x402rec " + f.command() + ": --config " + st.error());
  }
  Status st = LoadAgentLimitsFromEnv(environ, &s->projections);
  if (!st.ok()) return Err("x402rec " + f.command() + ": " + st.error());
  if (f.command() == "run" || f.command() == "demo") {
    if (Status a = ApplyAlertEnvAndFlags(f, &s->alerts); !a.ok()) return a;
  }
  if (f.Has("state-cache-mb")) {
    auto v = f.GetUint("state-cache-mb", 0, 8, 1 << 20);
    if (!v) return Err(v.error());
    s->state_cache_mb = static_cast<size_t>(*v);
  }
  ProjectionConfig& p = s->projections;
  struct IntFlag {
    const char* name;
    int64_t* out;
    uint64_t max;
  };
  for (const IntFlag& i : {IntFlag{"stale-after", &p.stale_after_s, 365ull * 86400},
                           IntFlag{"dedupe-horizon", &p.dedupe_horizon_s, 365ull * 86400},
                           IntFlag{"chain-grace", &p.chain_grace_s, 365ull * 86400},
                           IntFlag{"confirmation-timeout", &p.confirmation_timeout_s, 365ull * 86400}}) {
    if (!f.Has(i.name)) continue;
    auto v = f.GetUint(i.name, 0, 0, i.max);
    if (!v) return Err(v.error());
    *i.out = static_cast<int64_t>(*v);
  }
  struct U32Flag {
    const char* name;
    uint32_t* out;
    uint64_t min, max;
  };
  for (const U32Flag& i : {U32Flag{"amount-tolerance-bps", &p.amount_tolerance_bps, 0, 10000},
                           U32Flag{"vendor-streak-warning", &p.vendor_streak_warning, 1, 1000000},
                           U32Flag{"vendor-streak-critical", &p.vendor_streak_critical, 1, 1000000}}) {
    if (!f.Has(i.name)) continue;
    auto v = f.GetUint(i.name, 0, i.min, i.max);
    if (!v) return Err(v.error());
    *i.out = static_cast<uint32_t>(*v);
  }
  for (auto [name, out] : {std::pair{"wallet-low-warning", &p.wallet_low_warning},
                           std::pair{"wallet-low-critical", &p.wallet_low_critical}}) {
    if (auto v = f.Get(name)) {
      auto a = ParseUsdcDecimal(*v, std::string("--") + name);
      if (!a) return Err("x402rec " + f.command() + ": " + a.error());
      *out = *a;
    }
  }
  return Status::Ok();
}

Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Err(path + ": cannot write: " + std::strerror(errno));
  out << content;
  out.close();
  if (!out) return Err(path + ": write failed");
  return Status::Ok();
}

std::string Thousands(uint64_t n) {
  std::string s = std::to_string(n), out;
  int c = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (c++ && c % 3 == 1) out.push_back(',');
    out.push_back(*it);
  }
  return std::string(out.rbegin(), out.rend());
}

void PrintFindingsSummary(const Report& r, std::FILE* out) {
  std::map<std::string_view, std::pair<uint64_t, uint64_t>> kinds;
  uint64_t sev[3] = {0, 0, 0}, open = 0, resolved = 0;
  for (const auto& f : r.findings) {
    auto& k = kinds[FindingKindName(f.kind)];
    if (f.open) {
      ++k.first;
      ++open;
      ++sev[static_cast<int>(f.severity)];
    } else {
      ++k.second;
      ++resolved;
    }
  }
  std::fprintf(out, "  findings: %llu open (%llu critical, %llu warning, %llu info), %llu resolved\n",
               (unsigned long long)open, (unsigned long long)sev[2], (unsigned long long)sev[1],
               (unsigned long long)sev[0], (unsigned long long)resolved);
  for (const auto& [kind, c] : kinds) {
    std::fprintf(out, "    %-36s %6llu open %6llu resolved\n", std::string(kind).c_str(), (unsigned long long)c.first,
                 (unsigned long long)c.second);
  }
}

void PrintEvents(const EngineStats& s, std::FILE* out) {
  std::fprintf(out, "  events: %s applied, %s duplicates dropped, %s dead letters, %s after as-of skipped\n",
               Thousands(s.applied_total()).c_str(), Thousands(s.duplicates).c_str(),
               Thousands(s.dead_letters).c_str(), Thousands(s.skipped_after_as_of).c_str());
}

Status WriteReports(const Flags& f, const Report& r) {
  if (auto p = f.Get("report-json")) {
    Status st = WriteFile(*p, r.ToJson());
    if (!st.ok()) return st;
  }
  if (auto p = f.Get("report-md")) {
    Status st = WriteFile(*p, r.ToMarkdown());
    if (!st.ok()) return st;
  }
  if (auto p = f.Get("report-html")) {
    Status st = WriteFile(*p, r.ToHtml());
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Result<std::optional<TimeMs>> ParseAsOf(const Flags& f) {
  auto v = f.Get("as-of");
  if (!v) return std::optional<TimeMs>();
  auto t = ParseRfc3339(*v, "--as-of");
  if (!t) return Err("x402rec " + f.command() + ": " + t.error());
  return std::optional<TimeMs>(*t);
}

Result<double> ParseRate(const Flags& f, const std::string& name) {
  auto v = f.Get(name);
  if (!v) return 0.0;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !(d >= 0.0 && d <= 1.0)) {
    return Err("x402rec " + f.command() + ": --" + name + ": expected a fraction between 0 and 1, got '" + *v + "'");
  }
  return d;
}

struct RunOutcome {
  EngineStats before, after;
  double seconds = 0;
  uint64_t records = 0;
};

// Processes `inputs` into the persistent engine until the end of every file (or a signal).
Result<RunOutcome> ProcessFiles(Engine& engine, const std::vector<std::string>& inputs,
                                size_t batch_size, bool progress_line,
                                OutboxDispatcher* alerts = nullptr, ApiRuntime* api = nullptr) {
  RunOutcome o;
  o.before = engine.stats();
  auto source = FileSource::Open(inputs, [&](const std::string& path) -> std::optional<FilePosition> {
    auto v = engine.GetMeta(FileSource::PositionKey(path));
    if (!v) return std::nullopt;
    return FilePosition::Decode(*v);
  });
  if (!source) return Err(source.error());
  const double t0 = MonotonicSeconds();
  ProgressLine progress(progress_line);
  std::vector<SourceRecord> batch;
  while (!StopRequested() && (*source)->NextBatch(batch_size, &batch)) {
    o.records += batch.size();
    Status st = engine.ProcessBatch(batch, (*source)->CurrentPositions());
    if (!st.ok()) return Err(st.error());
    if (alerts) alerts->Notify();
    if (api) api->Pump();
    progress.Update(o.records, (*source)->bytes_done(), (*source)->bytes_total());
  }
  progress.Finish();
  if (Status st = engine.Sync(); !st.ok()) return Err(st.error());  // the last commit's write
  if (!(*source)->error().empty()) return Err((*source)->error());
  o.seconds = MonotonicSeconds() - t0;
  o.after = engine.stats();
  return o;
}

TimeMs MaxWatermark(Engine& e) {
  TimeMs t{0};
  for (const auto& [s, wm] : e.watermarks()) t = std::max(t, wm);
  return t;
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int RunKafka(const Flags& f, const FileSettings& settings, const std::string& dir) {
  const std::string clock = f.Get("clock").value_or("wall");
  if (clock != "wall" && clock != "event") return Fail("x402rec run: --clock: expected wall or event, got '" + clock + "'", 2);
  auto drain = f.GetUint("drain-timeout", 30, 0, 86400);
  auto assign_timeout = f.GetUint("assign-timeout", 60, 1, 86400);
  auto bs = f.GetUint("batch-size", 10000, 1, 1000000);
  for (const auto* r : {&drain, &assign_timeout, &bs})
    if (!*r) return Fail(r->error(), 2);
  KafkaProps props = settings.kafka;
  props["bootstrap.servers"] = *f.Get("brokers");
  if (auto g = f.Get("group")) props["group.id"] = *g;
  for (const auto& kv : f.GetAll("kafka-prop")) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Fail("x402rec run: --kafka-prop: expected KEY=VALUE, got '" + kv + "'", 2);
    props[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  KafkaProps producer_props;
  for (const auto& [k, v] : props) {
    // Consumer-only properties would make the producer refuse to start.
    if (k == "group.id" || k.starts_with("enable.auto") || k == "auto.offset.reset" || k.starts_with("session.") ||
        k.starts_with("heartbeat.") || k.starts_with("max.poll") || k == "partition.assignment.strategy" ||
        k.starts_with("fetch."))
      continue;
    producer_props[k] = v;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail("x402rec run: --data-dir " + dir + ": " + ec.message(), 2);
  auto producer = KafkaProducer::Open(producer_props);
  if (!producer) return Fail("x402rec run: " + producer.error(), 2);
  KafkaDeadLetterSink dls(producer->get(), f.Get("deadletter-topic").value_or("x402.deadletter"));
  // Vendor streaks span partitions: payment outcomes are re-keyed by vendor through an
  // internal topic with at least as many partitions as the events topic (vendor_facts.h).
  auto topics = f.GetAll("topic");
  if (topics.empty()) topics = {kEventsTopic};
  const std::string facts_topic = f.Get("vendor-facts-topic").value_or(kVendorFactsTopic);
  auto event_partitions = (*producer)->PartitionCount(topics.front());
  if (!event_partitions) return Fail("x402rec run: --topic " + topics.front() + ": " + event_partitions.error(), 2);
  auto fact_partitions = (*producer)->PartitionCount(facts_topic);
  if (!fact_partitions || *fact_partitions < *event_partitions) {
    return Fail("x402rec run: --vendor-facts-topic " + facts_topic + ": needs at least " +
                    std::to_string(*event_partitions) + " partitions (as many as " + topics.front() + ")" +
                    (fact_partitions ? ", has " + std::to_string(*fact_partitions) : "; " + fact_partitions.error()),
                2);
  }
  // Facts go through a transactional outbox in the state store; a forwarder thread with its
  // own producer delivers them, so commits never wait for the broker (vendor_facts.h).
  OutboxVendorFactSink vendor_facts(*event_partitions);
  auto facts_producer = KafkaProducer::Open(producer_props);
  if (!facts_producer) return Fail("x402rec run: " + facts_producer.error(), 2);
  auto api = ApiRuntime::Create(f, settings);
  if (!api) return Fail(api.error(), 2);
  EngineOptions eo;
  eo.store.path = dir + "/state";
  eo.projections = settings.projections;
  eo.cache_entries = settings.cache_entries;
  eo.cache_bytes = settings.state_cache_mb << 20;
  eo.dead_letters = &dls;
  eo.vendor_facts = &vendor_facts;
  eo.observer = (*api)->observer();
  // Each commit's RocksDB write overlaps with the next batch. Safe here: every reader of the
  // store (alert dispatcher, facts forwarder, API, the checks below) waits for the write in
  // flight, Kafka commits only feed lag tools, and a crash loses the write in flight exactly
  // as it would lose a batch not yet committed (positions are in the same WriteBatch).
  eo.async_commit = true;
  auto engine = Engine::Open(eo);
  if (!engine) return Fail("x402rec run: " + engine.error());
  Engine& eng = **engine;
  vendor_facts.Resume(eng.store());
  VendorFactForwarder facts_forwarder(eng.store(), std::move(*facts_producer), facts_topic);
  facts_forwarder.Start();
  ApiScope api_scope(api->get());
  if (Status st = (*api)->Start(eng); !st.ok()) return Fail("x402rec run: " + st.error(), 2);
  KafkaSourceOptions so;
  so.props = props;
  so.topics = topics;
  so.vendor_facts_topic = facts_topic;
  so.stored_offset = [&](const std::string& topic, int32_t p) -> std::optional<int64_t> {
    auto v = eng.GetMeta(KafkaSource::PositionKey(topic, p));
    if (!v) return std::nullopt;
    return std::stoll(*v);
  };
  std::vector<std::string> topic_list = so.topics;
  topic_list.push_back(facts_topic);
  so.reset_shard = [&](uint32_t shard) {
    const std::string topic = topic_list[shard >> 16];
    const int32_t p = static_cast<int32_t>(shard & 0xffff);
    LogJson(LogLevel::kWarn, "stored offset is past the end of the partition; rebuilding it",
            {{"topic", topic}, {"partition", std::to_string(p)}});
    Status st = eng.DropShard(shard, {KafkaSource::PositionKey(topic, p)});
    if (!st.ok())
      LogJson(LogLevel::kError, "rebuilding the partition failed", {{"error", st.error()}});
  };
  // Rebalance (eager): drop the state of every shard this member no longer owns, so a
  // partition that comes back is rebuilt from the beginning of its topic instead of resumed
  // from a stale offset, and two members never both count a partition's findings.
  so.on_assign = [&](const std::vector<uint32_t>& owned) {
    std::set<uint32_t> have;
    for (const auto& [shard, wm] : eng.watermarks()) have.insert(shard);
    std::unique_ptr<rocksdb::Iterator> it(
        eng.store()->db()->NewIterator(rocksdb::ReadOptions(), eng.store()->meta()));
    const std::string prefix = "pos|kafka|";
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string rest = it->key().ToString().substr(prefix.size());
      const size_t bar = rest.rfind('|');
      if (bar == std::string::npos) continue;
      for (size_t ti = 0; ti < topic_list.size(); ++ti) {
        if (topic_list[ti] == rest.substr(0, bar)) {
          have.insert(
              KafkaSource::Shard(ti, static_cast<int32_t>(std::atoi(rest.c_str() + bar + 1))));
        }
      }
    }
    const std::set<uint32_t> keep(owned.begin(), owned.end());
    size_t dropped = 0;
    for (uint32_t shard : have) {
      if (keep.count(shard) || (shard >> 16) >= topic_list.size()) continue;
      const std::string& topic = topic_list[shard >> 16];
      Status st = eng.DropShard(
          shard, {KafkaSource::PositionKey(topic, static_cast<int32_t>(shard & 0xffff))});
      if (!st.ok()) LogJson(LogLevel::kError, "x402rec run: " + st.error());
      ++dropped;
    }
    LogJson(LogLevel::kInfo, "x402rec run: assigned " + std::to_string(owned.size()) +
                                 " partitions; dropped the state of " + std::to_string(dropped) +
                                 " partitions owned elsewhere");
  };
  so.warn = [](const std::string& m) {
    LogJson(LogLevel::kWarn, "x402rec run: warning: " + m);
  };
  auto source = KafkaSource::Open(so);
  if (!source) return Fail("x402rec run: " + source.error(), 2);
  const std::string alerts_topic = f.Get("alerts-topic").value_or("x402.alerts");
  // Alerts leave through the outbox dispatcher: the alerts topic plus any Discord webhooks.
  AlertDeliveryOptions ao;
  ao.data_dir = dir;
  ao.kafka = &producer_props;
  ao.kafka_topic = alerts_topic;
  auto dispatcher = StartAlertDelivery(settings.alerts, eng.store(), ao);
  if (!dispatcher) return Fail("x402rec run: alerts: " + dispatcher.error(), 2);
  (*api)->sinks().AddProvider(
      [d = dispatcher->get()] { return SinkStatusesOf(d->Snapshot()); });
  SinkProvidersScope sink_providers(&(*api)->sinks());  // before the dispatcher goes
  const bool until = f.Has("until-caught-up");
  uint64_t records = 0;
  double last_kafka_commit = 0;
  const bool latency_stats = f.Has("latency-stats");
  constexpr int64_t kMaxLatencyMs = 600000;
  std::vector<uint64_t> latency_ms(latency_stats ? kMaxLatencyMs + 1 : 0);
  std::vector<int64_t> unsynced_ts;  // Kafka timestamps of the batch whose write is in flight
  // Event-to-committed-state latency: Kafka message timestamp to the end of the RocksDB write
  // that committed the event. Called once that write is known to be done, so the latest
  // write's end is at or after it: never an underestimate.
  auto record_latency = [&] {
    const int64_t now_ms = eng.store()->last_async_done_ms();
    for (int64_t ts : unsynced_ts) {
      ++latency_ms[static_cast<size_t>(std::clamp<int64_t>(now_ms - ts, 0, kMaxLatencyMs))];
    }
    unsynced_ts.clear();
  };
  const double t0 = MonotonicSeconds();
  double caught_up_at = -1;
  std::vector<SourceRecord> batch;
  std::string last_error, last_facts_error;
  // Readiness (one log line per change): ready once partitions are assigned and read to the
  // end seen at assignment; not ready while Kafka reports errors (broker down: librdkafka
  // retries) or nothing is assigned.
  bool ready = true;  // so that the first set_ready(false, ...) is logged
  double ready_checked = -1;
  uint64_t ready_epoch = 0;
  auto set_ready = [&](bool r, const std::string& why) {
    if (r == ready) return;
    ready = r;
    LogJson(r ? LogLevel::kInfo : LogLevel::kWarn,
            std::string("x402rec run: ") + (r ? "ready" : "not ready: ") + why);
  };
  while (!StopRequested()) {
    (*source)->NextBatch(*bs, &batch);
    if (std::string e = (*source)->error(); !e.empty()) {
      (*source)->ClearError();
      if (e != last_error) LogJson(LogLevel::kWarn, "x402rec run: kafka: " + e + " (retrying)");
      last_error = e;
      set_ready(false, "kafka: " + e);
      ready_checked = MonotonicSeconds();
    }
    if ((*source)->assignment_epoch() != ready_epoch) {
      // A rebalance: not ready until the new assignment is read to its end.
      ready_epoch = (*source)->assignment_epoch();
      set_ready(false, "partitions assigned; catching up");
    }
    if (const double now = MonotonicSeconds(); now - ready_checked >= 0.5) {
      ready_checked = now;
      if (std::string e = facts_forwarder.last_error(); e != last_facts_error) {
        if (!e.empty()) LogJson(LogLevel::kWarn, "x402rec run: vendor facts: " + e + " (retrying)");
        last_facts_error = e;
      }
      if (!(*source)->assigned()) {
        set_ready(false, "no partitions assigned");
      } else if ((*source)->CaughtUp(/*exact_facts=*/false)) {
        set_ready(true, "");
        last_error.clear();
      }
    }
    if (!batch.empty()) {
      records += batch.size();
      Status st = eng.ProcessBatch(batch, (*source)->CurrentPositions());
      if (!st.ok()) return Fail("x402rec run: " + st.error());
      (*dispatcher)->Notify();
      facts_forwarder.Notify();
      (*source)->CommitAsync();
      last_kafka_commit = MonotonicSeconds();
      (*api)->Pump();
      if (latency_stats) {
        // This commit's write may still be in flight; the previous one is done (ProcessBatch
        // waited for it).
        record_latency();
        for (int64_t ts : (*source)->batch_timestamps()) {
          if (ts > 0) unsynced_ts.push_back(ts);
        }
      }
    } else {
      if (latency_stats && !unsynced_ts.empty()) {
        if (Status st = eng.Sync(); !st.ok()) return Fail("x402rec run: " + st.error());
        record_latency();
      }
      if (clock == "wall") {
        // Idle partitions that are read to their end follow the wall clock (DESIGN.md 3).
        for (uint32_t shard : (*source)->IdleShards()) {
          Status st = eng.AdvanceClock(shard, TimeMs{WallClockMs()});
          if (!st.ok()) return Fail("x402rec run: " + st.error());
          (*dispatcher)->Notify();
        }
      }
      // Kafka commits only feed lag tools, but an idle consumer must still publish its
      // position: a commit lost in a rebalance would otherwise show stale lag forever.
      if (MonotonicSeconds() - last_kafka_commit >= 5.0) {
        (*source)->CommitAsync();
        last_kafka_commit = MonotonicSeconds();
      }
    }
    (*api)->UpdateKafka(**source);
    (*api)->Pump();
    if (until) {
      const double now = MonotonicSeconds();
      if (!(*source)->assigned()) {
        if (now - t0 > static_cast<double>(*assign_timeout)) {
          return Fail("x402rec run: no partitions assigned within " + std::to_string(*assign_timeout) + " s");
        }
        continue;
      }
      // Facts still in the outbox are not on their topic yet: caught up means delivered too,
      // and committed: the last write is waited for. The cheap check comes first so that
      // neither the wait nor the broker round trips of the exact one slow the catching up.
      if (!(*source)->CaughtUp(/*exact_facts=*/false)) continue;
      if (Status st = eng.Sync(); !st.ok()) return Fail("x402rec run: " + st.error());
      if (facts_forwarder.Drained() && (*source)->CaughtUp()) {
        if (caught_up_at < 0) caught_up_at = now;
        if ((*dispatcher)->WaitDrained(std::chrono::milliseconds(0))) break;
        if (now - caught_up_at > static_cast<double>(*drain)) {
          return Fail("x402rec run: caught up, but the alert outbox did not drain within --drain-timeout");
        }
      }
    }
  }
  if (Status st = eng.Sync(); !st.ok()) return Fail("x402rec run: " + st.error());
  if (latency_stats) record_latency();
  const double secs = MonotonicSeconds() - t0;
  (*dispatcher)->Stop();
  facts_forwarder.Stop();
  Report r = BuildReport(eng, MaxWatermark(eng), nullptr);
  std::printf("x402rec run: %s records from Kafka in %.2f s%s\n  alerts: %s\n",
              Thousands(records).c_str(), secs, StopRequested() ? " (stopped by signal)" : "",
              DescribeDelivery((*dispatcher)->Snapshot()).c_str());
  if (latency_stats) {
    uint64_t n = 0;
    for (uint64_t c : latency_ms) n += c;
    auto pct = [&](double q) {
      const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(n));
      uint64_t seen = 0;
      for (size_t i = 0; i < latency_ms.size(); ++i) {
        seen += latency_ms[i];
        if (seen > want) return static_cast<int64_t>(i);
      }
      return kMaxLatencyMs;
    };
    std::printf(
        "  latency (Kafka timestamp to committed state) over %s events: p50 %lld ms, p90 %lld ms, "
        "p99 %lld ms\n",
        Thousands(n).c_str(), static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.9)),
        static_cast<long long>(pct(0.99)));
  }
  std::printf("x402rec state in %s as of %s\n", dir.c_str(), FormatRfc3339(r.as_of).c_str());
  PrintEvents(r.stats, stdout);
  std::printf("  agents: %zu\n", r.agents.size());
  PrintFindingsSummary(r, stdout);
  std::printf("  state digest: %s\n", r.state_digest.c_str());
  if (Status st = WriteReports(f, r); !st.ok()) return Fail("x402rec run: " + st.error());
  if (until && !(*dispatcher)->Snapshot().ready()) {
    return Fail("x402rec run: a Discord webhook is disabled; its alerts stay in the outbox");
  }
  return 0;
}

}  // namespace

void InstallSignalHandlers() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}
bool StopRequested() { return g_stop.load(); }

int RunCommand(int argc, char** argv) {
  Flags f("run",
          "Usage: x402rec run --input FILE.jsonl --data-dir DIR [options]\n"
          "       x402rec run --status --data-dir DIR [--report-json F] [--report-md F]\n"
          "                   [--report-html F]\n\n"
          "Processes events into a persistent RocksDB state directory. Every batch is committed\n"
          "atomically with the input position, so a restarted run resumes exactly after the last\n"
          "committed line. Rejected lines go to DIR/deadletter.jsonl with the reason.");
  f.Add("input", "FILE", "JSONL file of CloudEvents to process, in order", true);
  f.Add("data-dir", "DIR", "state directory (created if missing)");
  AddProjectionFlags(f);
  f.Add("status", "", "do not process: print the stored state's summary and digest");
  f.Add("until-caught-up", "", "exit once every input is consumed and committed (always so for files)");
  f.Add("report-json", "FILE", "write the JSON report (same format as replay)");
  f.Add("report-md", "FILE", "write the Markdown report");
  f.Add("report-html", "FILE", "write the HTML report (one self-contained page with charts)");
  f.Add("batch-size", "N", "events per committed batch (default 16384)");
  f.Add("brokers", "HOST:PORT", "consume from Kafka instead of a file (bootstrap servers)");
  f.Add("topic", "T", "events topic (default x402.events)", true);
  f.Add("group", "ID", "consumer group id (default x402rec)");
  f.Add("kafka-prop", "K=V", "librdkafka property, verbatim (overrides [kafka] in the config)", true);
  f.Add("clock", "wall|event", "advance idle caught-up partitions with the wall clock (default wall)");
  f.Add("drain-timeout", "SECONDS",
        "how long to wait at the end for alerts to be delivered (default 30)");
  f.Add("assign-timeout", "SECONDS", "with --until-caught-up: how long to wait for partitions (default 60)");
  f.Add("deadletter-topic", "T", "dead-letter topic (default x402.deadletter)");
  f.Add("alerts-topic", "T", "alerts topic (default x402.alerts)");
  f.Add("latency-stats", "",
        "with --brokers: print event-to-committed-state latency percentiles at exit");
  f.Add("vendor-facts-topic", "T",
        "internal topic re-keying payment outcomes by vendor (default x402.vendor-facts; at least as many "
        "partitions as the events topic)");
  AddAlertFlags(f);
  AddApiFlags(f, true);
  if (Status st = f.Parse(argc, argv); !st.ok()) return Fail(st.error(), 2);
  FileSettings settings;
  if (f.Has("help")) {
    std::fputs(f.Help().c_str(), stdout);
    if (LoadSettings(f, &settings).ok())
      std::printf(
          "\n%s",
          DescribeAlerts(settings.alerts, f.Get("alerts-topic").value_or("x402.alerts")).c_str());
    return 0;
  }
  if (Status st = LoadSettings(f, &settings); !st.ok()) return Fail(st.error(), 2);
  auto dir = f.Get("data-dir");
  if (!dir) return Fail("x402rec run: --data-dir is required", 2);
  auto inputs = f.GetAll("input");
  if (f.Has("brokers") && !inputs.empty()) return Fail("x402rec run: give --input or --brokers, not both", 2);
  if (f.Has("brokers") && !f.Has("status")) return RunKafka(f, settings, *dir);
  if (!f.Has("status") && inputs.empty()) {
    return Fail("x402rec run: --input FILE or --brokers HOST:PORT is required (or --status)", 2);
  }
  auto bs = f.GetUint("batch-size", settings.batch_size, 1, 1000000);
  if (!bs) return Fail(bs.error(), 2);
  auto drain = f.GetUint("drain-timeout", 30, 0, 86400);
  if (!drain) return Fail(drain.error(), 2);
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(*dir, ec);
  if (ec) return Fail("x402rec run: --data-dir " + *dir + ": " + ec.message(), 2);

  std::unique_ptr<FileDeadLetterSink> dls;
  if (!f.Has("status")) {
    auto d = FileDeadLetterSink::Open(*dir + "/deadletter.jsonl");
    if (!d) return Fail("x402rec run: " + d.error());
    dls = std::move(*d);
  }
  std::unique_ptr<ApiRuntime> api;
  if (!f.Has("status")) {
    auto a = ApiRuntime::Create(f, settings);
    if (!a) return Fail(a.error(), 2);
    api = std::move(*a);
  }
  EngineOptions eo;
  eo.store.path = *dir + "/state";
  eo.projections = settings.projections;
  eo.cache_entries = settings.cache_entries;
  eo.cache_bytes = settings.state_cache_mb << 20;
  eo.dead_letters = dls.get();
  eo.store.read_only = f.Has("status");
  eo.async_commit = !f.Has("status");  // as in Kafka mode; ProcessFiles syncs at the end
  if (api) eo.observer = api->observer();
  if (f.Has("status") && !fs::exists(eo.store.path + "/CURRENT", ec)) {
    return Fail("x402rec run: --data-dir " + *dir + ": no state store there", 2);
  }
  auto engine = Engine::Open(eo);
  if (!engine) return Fail("x402rec run: " + engine.error());
  if (dls) {
    // Dead letters of batches that were not committed are cut off: they come again. A state
    // without a committed length (new, or older than the mark) gets one now, before its first
    // batch, so a kill before that batch commits cuts what it wrote too.
    auto mark = (*engine)->GetMeta(FileDeadLetterSink::kMarkKey);
    if (Status st = dls->Resume(mark); !st.ok()) return Fail("x402rec run: " + st.error());
    if (!mark) {
      const auto marks = dls->CommitMarks();
      for (const auto& [k, v] : marks) {
        if (Status st = (*engine)->PutMeta(k, v); !st.ok())
          return Fail("x402rec run: " + st.error());
      }
    }
  }
  ApiScope api_scope(api.get());
  if (api) {
    if (Status st = api->Start(**engine); !st.ok()) return Fail("x402rec run: " + st.error(), 2);
  }

  std::string alerts_error;  // set when alerts could not all be delivered: exit 1 at the end
  if (!f.Has("status")) {
    // Alerts are delivered while the file is processed, exactly as in Kafka mode.
    AlertDeliveryOptions ao;
    ao.data_dir = *dir;
    auto dispatcher = StartAlertDelivery(settings.alerts, (*engine)->store(), ao);
    if (!dispatcher) return Fail("x402rec run: alerts: " + dispatcher.error(), 2);
    if (api && *dispatcher) {
      api->sinks().AddProvider([d = dispatcher->get()] { return SinkStatusesOf(d->Snapshot()); });
    }
    SinkProvidersScope sink_providers(api ? &api->sinks() : nullptr);  // before the dispatcher
    auto out = ProcessFiles(**engine, inputs, *bs, isatty(2), dispatcher->get(), api.get());
    if (!out) return Fail("x402rec run: " + out.error());
    std::optional<DispatcherSnapshot> alerts;
    if (*dispatcher) {
      // On a signal, do not wait: what is left stays in the outbox for the next run.
      const bool drained = (*dispatcher)
                               ->WaitDrained(std::chrono::seconds(
                                   StopRequested() ? 0 : static_cast<int64_t>(*drain)));
      (*dispatcher)->Stop();
      alerts = (*dispatcher)->Snapshot();
      if (!drained && !StopRequested()) {
        alerts_error = "x402rec run: the alert outbox did not drain within --drain-timeout " +
                       std::to_string(*drain) + " s (" + std::to_string(alerts->outbox_pending) +
                       " pending; delivered on the next run)";
      } else if (!alerts->ready()) {
        alerts_error = "x402rec run: a Discord webhook is disabled (" + DescribeDelivery(*alerts) +
                       "); its alerts stay in the outbox";
      }
    }
    const uint64_t applied = out->after.applied_total() - out->before.applied_total();
    std::printf("x402rec run: %s records in %.2f s (%.0f records/s)%s\n", Thousands(out->records).c_str(),
                out->seconds, out->seconds > 0 ? out->records / out->seconds : 0.0,
                StopRequested() ? " (stopped by signal; resume by running again)" : "");
    std::printf("  this run: %s applied, %s duplicates, %s dead letters%s\n", Thousands(applied).c_str(),
                Thousands(out->after.duplicates - out->before.duplicates).c_str(),
                Thousands(out->after.dead_letters - out->before.dead_letters).c_str(),
                out->after.dead_letters > out->before.dead_letters
                    ? (" -> " + *dir + "/deadletter.jsonl").c_str()
                    : "");
    if (alerts) {
      std::printf("  alerts: %s; %llu pending in the outbox\n", DescribeDelivery(*alerts).c_str(),
                  static_cast<unsigned long long>(alerts->outbox_pending));
    }
  }
  Report r = BuildReport(**engine, MaxWatermark(**engine), nullptr);
  std::printf("x402rec state in %s as of %s\n", dir->c_str(), FormatRfc3339(r.as_of).c_str());
  PrintEvents(r.stats, stdout);
  std::printf("  agents: %zu\n", r.agents.size());
  PrintFindingsSummary(r, stdout);
  std::printf("  state digest: %s\n", r.state_digest.c_str());
  if (Status st = WriteReports(f, r); !st.ok()) return Fail("x402rec run: " + st.error());
  if (api) {
    api->SetInputConsumed();
    if (api->serve_requested()) {
      std::fflush(stdout);
      api->ServeUntil(StopRequested);
    }
  }
  if (!alerts_error.empty()) return Fail(alerts_error);
  return 0;
}

// `replay --verify` exit codes: 0 equal, 1 different, 2 usage, 3 could not verify.
constexpr int kVerifyCannot = 3;

Result<std::unique_ptr<Engine>> OpenLiveReadOnly(const std::string& data_dir,
                                                 const FileSettings& settings) {
  EngineOptions eo;
  eo.store.path = data_dir + "/state";
  eo.store.read_only = true;
  eo.projections = settings.projections;
  return Engine::Open(eo);
}

// `replay --verify`: compares the rebuilt state with a live engine's stored one. Equal digests
// prove the live projections, open findings and clocks are what the log gives; otherwise says
// what differs, in the digest's own terms: how much of the log each side applied, the shards
// whose clocks differ, the open findings (kind, key, severity, agent) on one side only, and
// else the projection tables.
int VerifyLive(const std::string& data_dir, const FileSettings& settings,
               const ReplayResult& rebuilt_run) {
  auto engine = OpenLiveReadOnly(data_dir, settings);
  if (!engine) return Fail("x402rec replay: --verify: " + engine.error(), kVerifyCannot);
  const Report live = BuildReport(**engine, MaxWatermark(**engine), nullptr);
  const Report& rebuilt = rebuilt_run.report;
  if (live.state_digest == rebuilt.state_digest) {
    std::printf("verify: the live state in %s equals the rebuilt state (digest %s)\n",
                data_dir.c_str(), live.state_digest.c_str());
    return 0;
  }
  std::printf("verify: the live state in %s DIFFERS from the rebuilt state\n", data_dir.c_str());
  std::printf("  digests: live %s, rebuilt %s\n", live.state_digest.c_str(),
              rebuilt.state_digest.c_str());
  bool explained = false;
  const auto consumed = [](const EngineStats& s) {
    return s.applied_total() + s.duplicates + s.dead_letters;
  };
  if (consumed(live.stats) != consumed(rebuilt.stats) ||
      live.stats.applied_total() != rebuilt.stats.applied_total()) {
    explained = true;
    std::printf(
        "  events: the live engine applied %s of %s read, the replay %s of %s: they did not "
        "consume\n"
        "  the same log (is the engine behind, or was it fed other input?)\n",
        Thousands(live.stats.applied_total()).c_str(), Thousands(consumed(live.stats)).c_str(),
        Thousands(rebuilt.stats.applied_total()).c_str(),
        Thousands(consumed(rebuilt.stats)).c_str());
  }
  constexpr size_t kShown = 10;
  // Each shard's clock (watermark) is part of the digest.
  const std::map<uint32_t, TimeMs> live_wm = (*engine)->watermarks();
  const std::map<uint32_t, TimeMs>& rebuilt_wm = rebuilt_run.watermarks;
  std::set<uint32_t> shards;
  bool live_ahead = false;  // a live clock past the rebuilt one: the wall clock moved it
  for (const auto& [shard, wm] : live_wm) {
    auto it = rebuilt_wm.find(shard);
    if (it == rebuilt_wm.end() || it->second != wm) {
      shards.insert(shard);
      live_ahead |= it == rebuilt_wm.end() || wm > it->second;
    }
  }
  for (const auto& [shard, wm] : rebuilt_wm)
    if (!live_wm.count(shard)) shards.insert(shard);
  if (!shards.empty()) {
    explained = true;
    const auto show = [](const std::map<uint32_t, TimeMs>& m, uint32_t shard) {
      auto it = m.find(shard);
      return it == m.end() ? std::string("none") : FormatRfc3339(it->second);
    };
    std::printf("  clocks: %zu shard(s) differ\n", shards.size());
    size_t shown = 0;
    for (uint32_t shard : shards) {
      if (shown++ == kShown) {
        std::printf("    ... and %zu more\n", shards.size() - kShown);
        break;
      }
      std::printf("    shard %u: live %s, rebuilt %s\n", shard, show(live_wm, shard).c_str(),
                  show(rebuilt_wm, shard).c_str());
    }
    if (live_ahead) {
      std::printf(
          "    (a live engine on --clock wall moves idle partitions' clocks with the wall "
          "clock;\n    verify a state built with --clock event, which a replay of the same log "
          "reproduces)\n");
    }
  }
  // Open findings as the digest sees them.
  // kind, key, severity, agent
  using Id = std::tuple<std::string, std::string, std::string, std::string>;
  const auto open_ids = [](const Report& r) {
    std::set<Id> ids;
    for (const Finding& fd : r.findings) {
      if (fd.open) {
        ids.emplace(std::string(FindingKindName(fd.kind)), fd.key,
                    std::string(SeverityName(fd.severity)), fd.agent_id);
      }
    }
    return ids;
  };
  const std::set<Id> a = open_ids(live), b = open_ids(rebuilt);
  std::vector<Id> only_live, only_rebuilt;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_live));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_rebuilt));
  const auto list = [&](const char* what, const std::vector<Id>& ids) {
    std::printf("  open findings %s: %zu\n", what, ids.size());
    for (size_t i = 0; i < ids.size() && i < kShown; ++i) {
      const auto& [kind, key, severity, agent] = ids[i];
      std::printf("    %s %s (%s, agent %s)\n", kind.c_str(), key.c_str(), severity.c_str(),
                  agent.c_str());
    }
    if (ids.size() > kShown) std::printf("    ... and %zu more\n", ids.size() - kShown);
  };
  if (!only_live.empty() || !only_rebuilt.empty()) {
    explained = true;
    list("only in the live state", only_live);
    list("only in the rebuilt state", only_rebuilt);
  }
  if (!explained) {
    std::printf(
        "  the events applied, the clocks and the open findings agree: the projection tables\n"
        "  differ (budgets, payments, authorizations, chain records or the set of event ids)\n");
  }
  return 1;
}

int ReplayCommand(int argc, char** argv) {
  Flags f(
      "replay",
      "Usage: x402rec replay --input FILE.jsonl [--input ...] [--as-of RFC3339] [options]\n\n"
      "Rebuilds every projection from the log into a fresh store, advances the clock to --as-of\n"
      "(default: the latest event time in the input), and reports. Events after --as-of did not\n"
      "exist yet at that moment: they are skipped and counted. The state digest equals the one\n"
      "of a live engine that consumed the same log (with --clock event); --verify DATA_DIR\n"
      "proves it for a live engine's data directory, or lists what differs.");
  f.Add("input", "FILE", "JSONL file of CloudEvents", true);
  f.Add("brokers", "HOST:PORT", "rebuild from Kafka instead (every partition from the beginning)");
  f.Add("topic", "T", "with --brokers: events topic (default x402.events)", true);
  f.Add("until-offset", "N", "with --brokers: stop each partition before this offset");
  f.Add("kafka-prop", "K=V", "librdkafka property, verbatim", true);
  f.Add("as-of", "TIME", "RFC 3339 time to rebuild the state as of");
  f.Add("report-json", "FILE", "write the JSON report");
  f.Add("report-md", "FILE", "write the Markdown report");
  f.Add("report-html", "FILE", "write the HTML report (one self-contained page with charts)");
  f.Add("state-dir", "DIR", "keep the rebuilt store in DIR (must be empty; default: temporary)");
  f.Add("verify", "DATA_DIR",
        "compare with the state of run --data-dir DATA_DIR: exit 0 equal, 1 unequal, 3 unreadable");
  AddProjectionFlags(f);
  f.Add("batch-size", "N", "events per batch (default 16384)");
  if (Status st = f.Parse(argc, argv); !st.ok()) return Fail(st.error(), 2);
  if (f.Has("help")) {
    std::fputs(f.Help().c_str(), stdout);
    return 0;
  }
  FileSettings settings;
  if (Status st = LoadSettings(f, &settings); !st.ok()) return Fail(st.error(), 2);
  ReplayOptions o;
  o.inputs = f.GetAll("input");
  if (auto b = f.Get("brokers")) {
    if (!o.inputs.empty()) return Fail("x402rec replay: give --input or --brokers, not both", 2);
    o.brokers = *b;
    o.kafka_props = settings.kafka;
    for (const auto& kv : f.GetAll("kafka-prop")) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return Fail("x402rec replay: --kafka-prop: expected KEY=VALUE, got '" + kv + "'", 2);
      o.kafka_props[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!f.GetAll("topic").empty()) o.topics = f.GetAll("topic");
    if (f.Has("until-offset")) {
      auto u = f.GetUint("until-offset", 0, 0, INT64_MAX);
      if (!u) return Fail(u.error(), 2);
      o.until_offset = static_cast<int64_t>(*u);
    }
  } else if (o.inputs.empty()) {
    return Fail("x402rec replay: --input FILE or --brokers HOST:PORT is required", 2);
  }
  auto as_of = ParseAsOf(f);
  if (!as_of) return Fail(as_of.error(), 2);
  o.as_of = *as_of;
  const std::optional<std::string> verify = f.Get("verify");
  if (verify) {
    // A live engine's clocks are its partitions' own event times, which is what a replay
    // without --as-of rebuilds; a state "as of" another time is not the live one.
    if (o.as_of) {
      return Fail(
          "x402rec replay: --verify compares with the live state, which has no --as-of: "
          "give one or the other",
          2);
    }
    std::error_code ec;
    if (!std::filesystem::exists(*verify + "/state/CURRENT", ec)) {
      return Fail("x402rec replay: --verify " + *verify +
                      ": no state store there (expected the --data-dir of x402rec run)",
                  2);
    }
    // Before a replay that may take long: can the live store be read at all?
    if (auto live = OpenLiveReadOnly(*verify, settings); !live) {
      return Fail("x402rec replay: --verify: " + live.error(), kVerifyCannot);
    }
  }
  const int failed = verify ? kVerifyCannot : 1;
  auto bs = f.GetUint("batch-size", settings.batch_size, 1, 1000000);
  if (!bs) return Fail(bs.error(), 2);
  o.batch_size = *bs;
  o.cache_entries = settings.cache_entries;
  o.cache_bytes = settings.state_cache_mb << 20;
  o.projections = settings.projections;
  o.state_dir = f.Get("state-dir").value_or("");
  o.progress = isatty(2);
  auto res = RunReplay(o);
  if (!res) return Fail("x402rec replay: " + res.error(), failed);
  const Report& r = res->report;
  const uint64_t lines = r.stats.applied_total() + r.stats.duplicates + r.stats.dead_letters + r.stats.skipped_after_as_of;
  std::printf("x402rec replay: %s events in %.2f s (%.0f events/s), as of %s\n", Thousands(lines).c_str(),
              res->seconds, res->seconds > 0 ? lines / res->seconds : 0.0, FormatRfc3339(r.as_of).c_str());
  PrintEvents(r.stats, stdout);
  std::printf("  agents: %zu\n", r.agents.size());
  PrintFindingsSummary(r, stdout);
  std::printf("  state digest: %s\n", r.state_digest.c_str());
  if (Status st = WriteReports(f, r); !st.ok())
    return Fail("x402rec replay: " + st.error(), failed);
  if (verify) return VerifyLive(*verify, settings, *res);
  return 0;
}

int GenCommand(int argc, char** argv) {
  Flags f("gen",
          "Usage: x402rec gen (--out FILE | --brokers HOST:PORT [--topic T] [--rate EV_PER_S])\n"
          "                   [--agents N] [--events M] [--seed S]\n\n"
          "Writes a realistic, seed-deterministic stream of exactly M x402 events (JSONL):\n"
          "wallet registrations, limits, authorizations, settlements, failures, cancellations,\n"
          "matching on-chain logs and balances. The same flags give byte-identical output.\n"
          "With --brokers the stream is produced to Kafka (key = agent; malformed lines key \"bad\"),\n"
          "as well as to --out if given.");
  f.Add("out", "FILE", "output JSONL file (optional with --brokers)");
  f.Add("brokers", "HOST:PORT", "produce the stream to this Kafka cluster (bootstrap servers)");
  f.Add("topic", "T", "Kafka topic (default x402.events)");
  f.Add("rate", "EV_PER_S",
        "messages per second of wall-clock time (default 0: as fast as possible)");
  f.Add("agents", "N", "number of agents (default 10)");
  f.Add("events", "M", "number of events (default 1000)");
  f.Add("seed", "S", "random seed (default 1)");
  f.Add("start", "TIME", "event time of the first event (default 2025-11-17T00:00:00Z)");
  f.Add("payments-per-second", "N",
        "payment rate in event time, may be a fraction (default: one per agent every 20 s)");
  f.Add("anomalies", "RATE", "fraction of payments carrying an injected anomaly, 0..1 (default 0)");
  f.Add("bad-lines", "RATE", "fraction of lines followed by a malformed line, 0..1 (default 0)");
  f.Add("truth", "FILE", "write the ground truth: findings open as of the last event (JSON)");
  f.Add("kafka-prop", "K=V", "with --brokers: librdkafka producer property, verbatim", true);
  if (Status st = f.Parse(argc, argv); !st.ok()) return Fail(st.error(), 2);
  if (f.Has("help")) {
    std::fputs(f.Help().c_str(), stdout);
    return 0;
  }
  GeneratorOptions o;
  auto out = f.Get("out");
  auto brokers = f.Get("brokers");
  if (!out && !brokers)
    return Fail("x402rec gen: --out FILE or --brokers HOST:PORT is required", 2);
  if (!brokers && (f.Has("topic") || f.Has("rate")))
    return Fail("x402rec gen: --topic and --rate need --brokers", 2);
  double rate = 0;
  if (auto r = f.Get("rate")) {
    char* end = nullptr;
    rate = std::strtod(r->c_str(), &end);
    if (r->empty() || *end != '\0' || !(rate >= 0 && rate <= 1e9))
      return Fail("x402rec gen: --rate: expected events per second >= 0, got '" + *r + "'", 2);
  }
  auto agents = f.GetUint("agents", 10, 1, 10000000);
  auto events = f.GetUint("events", 1000, 1, 100000000000ull);
  auto seed = f.GetUint("seed", 1, 0, UINT64_MAX >> 1);
  for (const auto* r : {&agents, &events, &seed})
    if (!*r) return Fail(r->error(), 2);
  if (auto r = f.Get("payments-per-second")) {
    // A rate of event time, not money: fractions spread a stream over days (0.01: one payment
    // every 100 s).
    char* end = nullptr;
    const double pps = std::strtod(r->c_str(), &end);
    if (r->empty() || *end != '\0' || !(pps >= 0 && pps <= 1e6))
      return Fail("x402rec gen: --payments-per-second: expected a rate 0..1000000 "
                  "(e.g. 2 or 0.01), got '" + *r + "'",
                  2);
    o.payments_per_second = pps;
  }
  o.agents = static_cast<uint32_t>(*agents);
  o.events = *events;
  o.seed = *seed;
  if (auto s = f.Get("start")) {
    auto t = ParseRfc3339(*s, "--start");
    if (!t) return Fail("x402rec gen: " + t.error(), 2);
    o.start = *t;
  }
  for (auto [name, dst] : {std::pair{"anomalies", &o.anomalies}, std::pair{"bad-lines", &o.bad_lines}}) {
    auto r = ParseRate(f, name);
    if (!r) return Fail(r.error(), 2);
    *dst = *r;
  }
  Result<GeneratorStats> stats = GeneratorStats{};
  std::string dest = out.value_or("");
  if (out) stats = GenerateToFile(o, *out, f.Get("truth").value_or(""));
  if (stats && brokers) {
    std::string topic = f.Get("topic").value_or("x402.events");
    KafkaProps props;
    for (const auto& kv : f.GetAll("kafka-prop")) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return Fail("x402rec gen: --kafka-prop: expected KEY=VALUE, got '" + kv + "'", 2);
      props[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    Status st =
        ProduceGenerated(o, *brokers, topic, rate, &*stats, props, [] { return StopRequested(); });
    if (!st.ok()) return Fail("x402rec gen: " + st.error());
    dest += (dest.empty() ? "" : " and ") + ("kafka " + *brokers + " " + topic);
    if (auto truth = f.Get("truth"); truth && !out) {
      std::ofstream t(*truth, std::ios::trunc);
      if (!(t << stats->TruthJson()) || !t.flush())
        return Fail("x402rec gen: " + *truth + ": write failed");
    }
  }
  if (!stats) return Fail("x402rec gen: " + stats.error());
  std::printf("x402rec gen: %s events (%s payments: %s settled, %s failed, %s cancelled) for %u agents, %s .. %s -> %s\n",
              Thousands(stats->events).c_str(), Thousands(stats->payments).c_str(), Thousands(stats->settled).c_str(),
              Thousands(stats->failed).c_str(), Thousands(stats->cancelled).c_str(), o.agents,
              FormatRfc3339(stats->first).c_str(), FormatRfc3339(stats->last).c_str(), dest.c_str());
  if (stats->anomalies || stats->bad_lines) {
    std::printf("  %s anomalies injected, %s malformed lines; %zu findings expected open at the end%s%s\n",
                Thousands(stats->anomalies).c_str(), Thousands(stats->bad_lines).c_str(), stats->truth.size(),
                f.Has("truth") ? " -> " : "", f.Get("truth").value_or("").c_str());
  }
  return 0;
}

int DemoCommand(int argc, char** argv) {
  Flags f(
      "demo",
      "Usage: x402rec demo [--dir DIR] [--agents N] [--events M] [--seed S] [--anomalies RATE]\n\n"
      "The quick start, on the embedded default: starts a Kafka broker in this process "
      "(127.0.0.1,\n"
      "in memory), produces a generated x402 event stream with injected anomalies of every kind\n"
      "to x402.events, runs the engine as a consumer-group member until it has caught up and\n"
      "delivered its alerts to x402.alerts, proves a replay of the topic gives the live state's\n"
      "digest and that the findings open at the stream's end are exactly the generator's ground\n"
      "truth, prints a summary and exits (0 when both checks hold). Everything lands in DIR\n"
      "(default ./x402rec-demo); the broker and its topics are gone when the demo exits.");
  f.Add("dir", "DIR", "working directory (default ./x402rec-demo; recreated)");
  f.Add("agents", "N", "number of agents (default 50)");
  f.Add("events", "M", "number of events (default 200000)");
  f.Add("seed", "S", "random seed (default 42)");
  f.Add("anomalies", "RATE", "fraction of payments with an injected anomaly (default 0.01)");
  f.Add("bad-lines", "RATE", "fraction of lines followed by a malformed line (default 0.0005)");
  f.Add("partitions", "N", "partitions of the embedded broker's topics (default 8)");
  AddProjectionFlags(f);
  AddAlertFlags(f);
  AddApiFlags(f, true);
  if (Status st = f.Parse(argc, argv); !st.ok()) return Fail(st.error(), 2);
  if (f.Has("help")) {
    std::fputs(f.Help().c_str(), stdout);
    return 0;
  }
  FileSettings settings;
  if (Status st = LoadSettings(f, &settings); !st.ok()) return Fail(st.error(), 2);
  // The API runs only with --serve (the demo otherwise exits when done).
  std::unique_ptr<ApiRuntime> api;
  if (f.Has("serve")) {
    auto a = ApiRuntime::Create(f, settings);
    if (!a) return Fail(a.error(), 2);
    api = std::move(*a);
  } else if (f.Has("http") || f.Has("api-token")) {
    return Fail("x402rec demo: --http and --api-token need --serve", 2);
  }
  GeneratorOptions g;
  auto agents = f.GetUint("agents", 50, 1, 1000000);
  auto events = f.GetUint("events", 200000, 1, 1000000000);
  auto seed = f.GetUint("seed", 42, 0, UINT64_MAX >> 1);
  auto partitions = f.GetUint("partitions", 8, 1, 256);
  for (const auto* r : {&agents, &events, &seed, &partitions})
    if (!*r) return Fail(r->error(), 2);
  g.agents = static_cast<uint32_t>(*agents);
  g.events = *events;
  g.seed = *seed;
  g.anomalies = 0.01;
  g.bad_lines = 0.0005;
  for (auto [name, dst] :
       {std::pair{"anomalies", &g.anomalies}, std::pair{"bad-lines", &g.bad_lines}}) {
    if (!f.Has(name)) continue;
    auto r = ParseRate(f, name);
    if (!r) return Fail(r.error(), 2);
    *dst = *r;
  }
  namespace fs = std::filesystem;
  const std::string dir = f.Get("dir").value_or("x402rec-demo");
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::exists(dir + "/.x402rec-demo", ec)) {
      return Fail(
          "x402rec demo: --dir " + dir + ": exists and is not a demo directory; pick another", 2);
    }
    fs::remove_all(dir, ec);
  }
  fs::create_directories(dir, ec);
  if (ec) return Fail("x402rec demo: --dir " + dir + ": " + ec.message(), 2);
  (void)WriteFile(dir + "/.x402rec-demo", "created by x402rec demo\n");

  std::printf("x402rec demo\n");
  DevBroker broker;
  if (Status st = broker.Start(static_cast<int>(*partitions)); !st.ok())
    return Fail("x402rec demo: broker: " + st.error());
  const std::string brokers = broker.bootstraps();
  std::printf(
      "  0. embedded Kafka broker on %s (in memory, %d partitions per topic; stops when the demo "
      "exits)\n",
      brokers.c_str(), broker.partitions());

  // The stream goes to the topic; a byte-identical copy and the ground truth go to files, for
  // auditing with `replay --input` after the broker is gone.
  const std::string events_path = dir + "/events.jsonl";
  auto gs = GenerateToFile(g, events_path, dir + "/truth.json");
  if (!gs) return Fail("x402rec demo: " + gs.error());
  GeneratorStats produced;
  if (Status st = ProduceGenerated(g, brokers, kEventsTopic, 0, &produced, {},
                                   [] { return StopRequested(); });
      !st.ok()) {
    return Fail("x402rec demo: producing to " + std::string(kEventsTopic) + ": " + st.error());
  }
  const uint64_t messages = produced.events + produced.bad_lines;
  {
    // The mock broker keeps a bounded log per partition; a demo that silently lost its oldest
    // events would prove nothing.
    auto probe = KafkaProducer::Open({{"bootstrap.servers", brokers}});
    if (!probe) return Fail("x402rec demo: " + probe.error());
    auto wm = (*probe)->Watermarks(kEventsTopic);
    if (!wm) return Fail("x402rec demo: " + wm.error());
    uint64_t retained = 0;
    for (const auto& [lo, hi] : *wm) {
      if (lo > 0) {
        return Fail("x402rec demo: the embedded broker dropped the oldest " + std::to_string(lo) +
                        " messages of a partition (it keeps about 5 MB per partition): use more "
                        "--partitions or "
                        "fewer --events",
                    2);
      }
      retained += static_cast<uint64_t>(hi - lo);
    }
    if (retained != messages) {
      return Fail("x402rec demo: produced " + std::to_string(messages) +
                  " messages but the topic holds " + std::to_string(retained));
    }
  }
  std::printf(
      "  1. produced %s events for %u agents (seed %llu) to %s, key = agent: %s anomalies of every "
      "kind\n"
      "     and %s malformed messages; copy in %s, ground truth in %s/truth.json\n",
      Thousands(gs->events).c_str(), g.agents, (unsigned long long)g.seed, kEventsTopic,
      Thousands(gs->anomalies).c_str(), Thousands(gs->bad_lines).c_str(), events_path.c_str(),
      dir.c_str());

  // The engine, exactly as `x402rec run --brokers` runs it, with event time as its clock so the
  // live state can be compared with a replay.
  std::vector<std::string> args = {
      "run",           "--brokers",          brokers,       "--data-dir",      dir,
      "--group",       "x402rec-demo",       "--clock",     "event",           "--until-caught-up",
      "--report-json", dir + "/report.json", "--report-md", dir + "/report.md",
      "--report-html", dir + "/report.html"};
  for (const FlagSpec& s : kProjectionFlags) {
    if (auto v = f.Get(s.name)) args.push_back(std::string("--") + s.name + "=" + *v);
  }
  // The API: with --serve the run serves it (metrics move while it consumes), and the demo
  // serves the final state afterwards; without --serve the demo binds no port.
  if (api) {
    for (const char* name :
         {"http", "api-token", "metrics-top-n", "ready-max-lag", "probe-interval",
          "http-max-connections", "http-max-connections-per-address", "http-head-timeout-ms",
          "http-body-timeout-ms", "http-idle-timeout-ms", "http-write-timeout-ms"}) {
      if (auto v = f.Get(name)) args.push_back(std::string("--") + name + "=" + *v);
    }
  } else {
    args.push_back("--http=off");
  }
  // Alerts go where the user pointed them (flags here, or the environment run reads itself).
  for (const auto& url : f.GetAll("discord-webhook")) args.push_back("--discord-webhook=" + url);
  for (const char* name : {"alert-group-window", "alert-storm-threshold"}) {
    if (auto v = f.Get(name)) args.push_back(std::string("--") + name + "=" + *v);
  }
  std::printf(
      "  2. x402rec run --brokers %s --group x402rec-demo --clock event --until-caught-up "
      "--data-dir %s\n",
      brokers.c_str(), dir.c_str());
  std::fflush(stdout);
  std::vector<char*> run_argv;
  for (auto& a : args) run_argv.push_back(a.data());
  run_argv.push_back(nullptr);
  if (int rc = RunCommand(static_cast<int>(args.size()), run_argv.data()); rc != 0) {
    return Fail("x402rec demo: the engine exited with status " + std::to_string(rc));
  }
  if (StopRequested()) return Fail("x402rec demo: stopped by signal");
  std::string live_digest;
  size_t live_open = 0;
  {
    auto engine = OpenLiveReadOnly(dir, settings);
    if (!engine) return Fail("x402rec demo: " + engine.error());
    live_digest = (*engine)->Digest();
    (*engine)->ForEachFinding([&](const Finding& fd) { live_open += fd.open; });
  }

  ReplayOptions ro;
  ro.brokers = brokers;
  ro.projections = settings.projections;
  ro.cache_entries = settings.cache_entries;
  ro.cache_bytes = settings.state_cache_mb << 20;
  auto rep = RunReplay(ro);
  if (!rep) return Fail("x402rec demo: replay: " + rep.error());
  const bool same = rep->report.state_digest == live_digest;
  std::printf("  3. replay of the topic from offset 0: state digest %s %s the live engine's\n",
              rep->report.state_digest.c_str(), same ? "equals" : "DIFFERS FROM");

  // Each partition's clock stops at its own last event; the ground truth is the state as of
  // the whole stream's last event, which is what an auditor's replay --as-of gives.
  ro.as_of = gs->last;
  auto at_end = RunReplay(ro);
  if (!at_end) return Fail("x402rec demo: replay --as-of: " + at_end.error());
  std::set<std::pair<std::string, std::string>> truth;
  for (const auto& t : gs->truth) truth.emplace(t.kind, t.key);
  size_t truth_matched = 0, open_count = 0;
  for (const auto& fd : at_end->report.findings) {
    if (!fd.open) continue;
    ++open_count;
    truth_matched += truth.count({std::string(FindingKindName(fd.kind)), fd.key});
  }
  std::printf(
      "  4. ground truth: as of the stream's end (%s), %zu of %zu expected findings open, %zu "
      "unexpected\n",
      FormatRfc3339(gs->last).c_str(), truth_matched, truth.size(), open_count - truth_matched);
  if (same && live_open != open_count) {
    // Not a mismatch, but the two numbers are on screen: say why they differ.
    std::printf(
        "     (the live state above has %zu open: each partition's clock stops at its own last\n"
        "     event; at the stream's end every clock has passed the deadlines still due)\n",
        live_open);
  }
  std::printf("  reports: %s/report.html (open it in a browser), %s/report.md, %s/report.json\n",
              dir.c_str(), dir.c_str(), dir.c_str());
  std::printf(
      "  dead letters went to x402.deadletter with a reason header; to see them in a file,\n"
      "  replay the copy: x402rec run --input %s --data-dir DIR writes DIR/deadletter.jsonl\n",
      events_path.c_str());
  std::printf("  next: x402rec replay --input %s --as-of %s --report-md /dev/stdout\n",
              events_path.c_str(),
              FormatRfc3339(TimeMs{gs->first.ms + (gs->last.ms - gs->first.ms) / 2}).c_str());
  std::printf(
      "        x402rec broker --port 9092    # in another terminal: the same broker, kept running\n"
      "        x402rec gen --brokers 127.0.0.1:9092 --events 100000 --anomalies 0.01\n"
      "        x402rec run --brokers 127.0.0.1:9092 --data-dir ./x402rec-state\n");
  const bool truth_ok = truth_matched == truth.size() && open_count == truth_matched;
  if (api) {
    EngineOptions eo;
    eo.store.path = dir + "/state";
    eo.projections = settings.projections;
    eo.cache_entries = settings.cache_entries;
    eo.cache_bytes = settings.state_cache_mb << 20;
    auto engine = Engine::Open(eo);
    if (!engine) return Fail("x402rec demo: " + engine.error());
    ApiScope api_scope(api.get());
    if (Status st = api->Start(**engine); !st.ok()) return Fail("x402rec demo: " + st.error(), 2);
    api->SetInputConsumed();
    if (api->serving()) {
      std::printf("  API: %s/v1/report, /metrics, /v1/findings?status=open (Ctrl-C to stop)\n",
                  api->url().c_str());
    }
    std::fflush(stdout);
    api->ServeUntil(StopRequested);
  }
  return same && truth_ok ? 0 : 1;
}

}  // namespace x402::cli
