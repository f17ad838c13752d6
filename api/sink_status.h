// SinkStatusBoard: where alert sinks (the Kafka alerts topic, Discord webhooks, ...) report
// their delivery state, for /metrics (x402_alerts_delivered_total{sink,outcome},
// x402_alert_sink_pending, x402_alert_sink_disabled) and /readyz (a disabled sink makes the
// engine not ready). A sink registers a provider once; the board calls every provider on each
// scrape or readiness check, from an HTTP thread.
//
// Seam for the outbox dispatcher (issue #5): register one provider returning one SinkStatus
// per sink it drives: board.AddProvider([&d] { return d.SinkStatuses(); }).
//
// Thread-safety: thread-safe; providers must be thread-safe themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace x402 {

struct SinkStatus {
  std::string name;        // label value: "kafka", "discord:ops", ...
  uint64_t delivered = 0;  // alerts acknowledged by the sink since start
  uint64_t failed = 0;     // delivery attempts that failed since start
  uint64_t pending = 0;    // alerts waiting for this sink
  bool disabled = false;   // the sink gave up (bad credentials, 4xx): alerts are not going out
  std::string reason;      // why disabled or failing; never a secret (no URLs with tokens)
};

class SinkStatusBoard;

// Removes every provider of `board` when it goes out of scope: declare it right after the
// objects the providers read, so it runs before they are destroyed.
class SinkProvidersScope {
 public:
  explicit SinkProvidersScope(SinkStatusBoard* board) : board_(board) {}
  ~SinkProvidersScope();
  SinkProvidersScope(const SinkProvidersScope&) = delete;
  SinkProvidersScope& operator=(const SinkProvidersScope&) = delete;

 private:
  SinkStatusBoard* board_;
};

class SinkStatusBoard {
 public:
  using Provider = std::function<std::vector<SinkStatus>()>;
  void AddProvider(Provider p) {
    std::lock_guard<std::mutex> l(mu_);
    providers_.push_back(std::move(p));
  }
  // Providers are called under the board's lock, so once Clear() returns none is running
  // or will run again: the objects they read may then be destroyed.
  std::vector<SinkStatus> Snapshot() const {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<SinkStatus> out;
    for (const auto& p : providers_) {
      auto v = p();
      out.insert(out.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    }
    return out;
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    providers_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Provider> providers_;
};

inline SinkProvidersScope::~SinkProvidersScope() {
  if (board_) board_->Clear();
}

}  // namespace x402
