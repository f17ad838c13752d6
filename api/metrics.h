// Metrics: the Prometheus metrics of x402rec (prometheus-cpp core; /metrics is served by our
// own HTTP server with prometheus-cpp's text serializer). Three sources:
//  - the pipeline, through EngineObserver (events, dead letters, finding transitions, commit
//    and sampled apply latency): counters and histograms, cheap, on the pipeline thread;
//  - the state probe (ProbeState), which periodically, never per request, scans a RocksDB
//    snapshot for gauges: open findings, stale authorizations, payments and spend by network,
//    per-agent spend and utilization, vendor streaks and wallet balances (the last three
//    capped at the top N entities, so series never grow with the number of agents), outbox
//    backlog, RocksDB properties, watermark lag;
//  - pushed state: consumer lag per partition (pipeline thread), alert sinks (SinkStatusBoard)
//    and readiness (a callback), read at render time;
//  - the HTTP server's own counters (refused connections, timeouts), through http().
// Thread-safety: thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_server_probe.h"
#include "api/sink_status.h"
#include "engine/engine.h"

namespace x402 {

struct ConsumerLag {
  std::string topic;
  int32_t partition = 0;
  int64_t lag = 0;
};

// What one probe saw besides its metric families (for tests and the log).
struct ProbeSummary {
  size_t agents = 0, vendors = 0, wallets = 0, payments = 0, findings_open = 0;
  size_t agent_series = 0, vendor_series = 0, wallet_series = 0;
  uint64_t outbox_pending = 0;
  double seconds = 0;
};

// Scans the committed state (a snapshot) into gauge families. `top_n` caps per-agent,
// per-vendor and per-wallet series; `wall_ms` is the wall clock (for the watermark lag).
// When `cancel` becomes true the scan stops early (shutdown) and the result is incomplete:
// the caller discards it.
std::vector<prometheus::MetricFamily> ProbeState(RocksStore* store, const ProjectionConfig& cfg,
                                                 size_t top_n, int64_t wall_ms,
                                                 ProbeSummary* summary,
                                                 const std::atomic<bool>* cancel = nullptr);

class Metrics final : public EngineObserver {
 public:
  Metrics();
  ~Metrics() override;

  // EngineObserver (pipeline thread).
  void OnEventApplied(EventType type) override;
  void OnDuplicate(EventType type) override;
  void OnDeadLetter(DeadLetterClass reason) override;
  void OnFinding(FindingKind kind, Severity severity, bool opened) override;
  void OnApplySampled(double seconds) override;
  void OnBatchCommitted(size_t records, double seconds, bool ok) override;

  void SetConsumerLags(std::vector<ConsumerLag> lags);
  void SetProbeFamilies(std::vector<prometheus::MetricFamily> families);
  void SetSinkBoard(const SinkStatusBoard* board) { board_ = board; }
  void SetReadiness(std::function<bool()> ready);
  // The HTTP server's counters (HttpServerOptions::probe), in this registry.
  HttpServerProbe& http() { return http_; }

  // Prometheus text exposition format 0.0.4.
  std::string Render();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  HttpServerProbe http_{*registry_};
  std::array<prometheus::Counter*, kEventTypeCount> applied_{}, duplicates_{};
  prometheus::Counter* dead_events_ = nullptr;
  std::array<prometheus::Counter*, kDeadLetterClassCount> dead_letters_{};
  std::array<prometheus::Counter*, kFindingKindCount> opened_{}, resolved_{};
  prometheus::Counter* batches_ok_ = nullptr;
  prometheus::Counter* batches_failed_ = nullptr;
  prometheus::Histogram* commit_seconds_ = nullptr;
  prometheus::Histogram* apply_seconds_ = nullptr;

  std::mutex mu_;
  std::vector<ConsumerLag> lags_;
  bool have_lags_ = false;
  std::vector<prometheus::MetricFamily> probe_;
  std::function<bool()> ready_;
  const SinkStatusBoard* board_ = nullptr;
};

}  // namespace x402
