// AlertSink: one destination of alerts (a Discord webhook, the x402.alerts Kafka topic). The
// outbox dispatcher (engine/outbox_dispatcher.h) hands a sink the alerts it has not yet
// acknowledged, oldest first; the sink makes ONE delivery attempt and says how many of the
// leading alerts are done (delivered, or dead-lettered because they can never be delivered)
// and, if not all, how long to wait before the next attempt. The sink owns its retry policy
// (rate limits, backoff, circuit breaker); the dispatcher owns waiting, acknowledgement and
// deletion. Sinks never see webhook URLs in their name() and never print.
//
// Thread-safety: a sink is driven by one dispatcher thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace x402 {

// One alert of the outbox: EVENTS.md section 4 JSON and its routing facts.
struct AlertRecord {
  uint64_t seq = 0;
  std::string alert_id, agent_id, json;
};

struct SinkAttempt {
  size_t handled = 0;          // leading alerts now done: acknowledge them
  uint64_t delivered = 0;      // alerts delivered by this attempt
  uint64_t dead_lettered = 0;  // alerts given up by this attempt (e.g. Discord 400 twice)
  bool disabled = false;       // the sink refuses for good (webhook deleted / unauthorized)
  bool failed = false;         // the attempt failed (network, 5xx, timeout): counts as a retry
  bool circuit_open = false;   // after this attempt the sink only probes a dead endpoint
  std::chrono::milliseconds retry_after{0};  // wait before the next attempt when handled < size
  std::string error;                         // why not all were handled; never holds a secret
};

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Stable identifier, safe to log and to use as a metrics label and a RocksDB key part.
  virtual const std::string& name() const = 0;
  // REQUIRES: !alerts.empty().
  virtual SinkAttempt Deliver(std::span<const AlertRecord> alerts) = 0;
};

}  // namespace x402
