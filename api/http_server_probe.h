// HttpServerProbe: the HTTP server's metrics. The server calls it on its I/O threads and never
// touches the Prometheus API itself; the families live in the registry given at construction
// (Metrics owns one probe in its registry, so they appear on /metrics):
//   x402_http_connections_accepted_total          connections given a session
//   x402_http_connections_refused_total{reason}   answered 503/429 at accept and closed:
//                                                 max_connections, per_address
//   x402_http_timeouts_total{phase}               connections closed at a deadline: head, body,
//                                                 idle (keep-alive), write
//   x402_http_accept_errors_total                 accept() failures (EMFILE, ...), retried later
//   x402_http_connections_open                    sessions open now (refusals not included)
// Thread-safety: thread-safe (prometheus-cpp counters and gauges are atomic). The registry
// must outlive the probe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <string_view>

namespace x402 {

// Why a connection was refused at accept.
enum class HttpRefusal { kMaxConnections = 0, kPerAddress = 1 };
inline constexpr int kHttpRefusalCount = 2;
std::string_view HttpRefusalName(HttpRefusal r);

// Which deadline closed a connection.
enum class HttpPhase { kHead = 0, kBody = 1, kIdle = 2, kWrite = 3 };
inline constexpr int kHttpPhaseCount = 4;
std::string_view HttpPhaseName(HttpPhase p);

class HttpServerProbe {
 public:
  explicit HttpServerProbe(prometheus::Registry& registry);
  HttpServerProbe(const HttpServerProbe&) = delete;
  HttpServerProbe& operator=(const HttpServerProbe&) = delete;

  void Accepted() {
    accepted_->Increment();
    open_->Increment();
  }
  void SessionClosed() { open_->Decrement(); }
  void Refused(HttpRefusal r) { refused_[static_cast<int>(r)]->Increment(); }
  void TimedOut(HttpPhase p) { timeouts_[static_cast<int>(p)]->Increment(); }
  void AcceptError() { accept_errors_->Increment(); }

  // Current values (tests).
  double refused(HttpRefusal r) const { return refused_[static_cast<int>(r)]->Value(); }
  double timeouts(HttpPhase p) const { return timeouts_[static_cast<int>(p)]->Value(); }
  double open() const { return open_->Value(); }

 private:
  prometheus::Counter* accepted_ = nullptr;
  prometheus::Counter* accept_errors_ = nullptr;
  prometheus::Gauge* open_ = nullptr;
  std::array<prometheus::Counter*, kHttpRefusalCount> refused_{};
  std::array<prometheus::Counter*, kHttpPhaseCount> timeouts_{};
};

}  // namespace x402
