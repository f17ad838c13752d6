// OutboxDispatcher: delivers committed alert outbox entries (engine/README.md "outbox") to
// every configured AlertSink and deletes an entry only once every sink acknowledged it.
//
// Each sink has its own worker thread and its own acknowledgement cursor, persisted in the
// meta column family as "ack|<sink name>" -> be64(next seq to deliver). A worker reads the
// outbox column family directly through the RocksStore (RocksDB is thread-safe; the Engine is
// not and is never called), waits up to the group window for more alerts to arrive, skips
// entries its route does not accept, hands the rest to the sink and advances its cursor by
// what the sink handled. Entries below the lowest cursor of all configured sinks are removed
// (DeleteRange) in the same WriteBatch as the cursor. A crash at any moment therefore
// re-delivers, with the same alert_id, whatever was not acknowledged, and loses nothing.
// A disabled sink (Discord 404/401/403) keeps its cursor: its entries stay in the outbox for
// when the webhook is fixed, while the other sinks go on.
//
// Thread-safety: Notify, Snapshot and WaitDrained may be called from any thread; Start and
// Stop from the owner's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/alert_sink.h"
#include "engine/engine.h"
#include "engine/rocksdb_store.h"

namespace x402 {

struct DispatcherSinkConfig {
  std::unique_ptr<AlertSink> sink;
  // Which entries this sink receives; null = every entry. Entries it does not accept are
  // acknowledged without delivery.
  std::function<bool(const OutboxEntry&)> accepts;
  // Deliver without waiting for the group window (the Kafka topic: one message per alert,
  // nothing to gain from waiting).
  bool immediate = false;
};

struct DispatcherOptions {
  // Alerts that become deliverable within this window are sent together (0: send at once).
  std::chrono::milliseconds group_window{2000};
  // Idle workers re-read the outbox this often even without Notify().
  std::chrono::milliseconds poll_interval{250};
  size_t max_batch = 500;  // entries handed to a sink per attempt
  // One line per notable event (sink disabled, failures, recoveries); never a secret.
  std::function<void(const std::string&)> log;
};

// Per-sink status for metrics (x402_alerts_delivered_total{sink,outcome}) and /readyz.
struct DispatcherSinkStatus {
  std::string name;  // sink name, safe as a label ("discord-1a2b3c4d-alerts", "kafka-x402.alerts")
  uint64_t delivered = 0;        // alerts delivered (a storm summary counts every alert in it)
  uint64_t dead_lettered = 0;    // alerts given up for this sink (Discord refused them twice)
  uint64_t failed_attempts = 0;  // attempts that failed and will be retried (5xx, network, timeout)
  uint64_t rate_limited = 0;     // attempts that had to wait for a rate limit
  uint64_t skipped = 0;          // entries not routed to this sink (acknowledged without delivery)
  uint64_t pending = 0;          // committed entries at or after this sink's cursor
  bool retrying = false;         // the last attempt did not finish its batch; waiting to retry
  bool disabled = false;         // the sink refused for good (needs a config fix and a restart)
  bool circuit_open = false;     // the endpoint looks dead: only periodic probes are sent
  std::string last_error;        // most recent problem, no secrets; "" when none
};

struct DispatcherSnapshot {
  std::vector<DispatcherSinkStatus> sinks;
  uint64_t outbox_pending = 0;  // entries still in the outbox (not yet acked by every sink)
  bool ready() const {          // false while any sink is disabled
    for (const auto& s : sinks)
      if (s.disabled) return false;
    return true;
  }
};

class OutboxDispatcher {
 public:
  // `store` is not owned and must outlive the dispatcher.
  OutboxDispatcher(RocksStore* store, std::vector<DispatcherSinkConfig> sinks,
                   DispatcherOptions opts);
  ~OutboxDispatcher();  // Stop()s

  void Start();
  // Wakes the workers: new entries were committed.
  void Notify();
  // Waits until every enabled sink acknowledged every entry committed before the call;
  // false on timeout.
  bool WaitDrained(std::chrono::milliseconds timeout);
  void Stop();
  DispatcherSnapshot Snapshot() const;

  // Meta key of a sink's acknowledgement cursor.
  static std::string AckKey(const std::string& sink_name);

 private:
  struct Worker;
  void Run(Worker* w);
  uint64_t CommittedSeq() const;
  std::vector<OutboxEntry> Read(uint64_t from, size_t max) const;
  Status Ack(Worker* w, uint64_t cursor);
  // Sleeps up to `d` or until Stop; with `wake_on_notify` also until Notify.
  void Sleep(std::chrono::milliseconds d, bool wake_on_notify);

  RocksStore* store_;
  DispatcherOptions opts_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex mu_;  // guards workers' status, cursors, deleted_below_; never held
                           // across a store read or write
  std::mutex ack_mu_;      // one Ack at a time
  std::condition_variable cv_;
  uint64_t notify_gen_ = 0;
  bool stop_ = false;
  uint64_t deleted_below_ = 0;
  bool started_ = false;
};

}  // namespace x402
