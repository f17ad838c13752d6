#include "api/http_server_probe.h"

#include <string>

namespace x402 {

namespace pm = prometheus;

std::string_view HttpRefusalName(HttpRefusal r) {
  switch (r) {
    case HttpRefusal::kMaxConnections:
      return "max_connections";
    case HttpRefusal::kPerAddress:
      return "per_address";
  }
  return "unknown";
}

std::string_view HttpPhaseName(HttpPhase p) {
  switch (p) {
    case HttpPhase::kHead:
      return "head";
    case HttpPhase::kBody:
      return "body";
    case HttpPhase::kIdle:
      return "idle";
    case HttpPhase::kWrite:
      return "write";
  }
  return "unknown";
}

HttpServerProbe::HttpServerProbe(pm::Registry& registry) {
  accepted_ = &pm::BuildCounter()
                   .Name("x402_http_connections_accepted_total")
                   .Help("HTTP connections accepted and given a session (refusals not included).")
                   .Register(registry)
                   .Add({});
  auto& refused = pm::BuildCounter()
                      .Name("x402_http_connections_refused_total")
                      .Help(
                          "HTTP connections answered 503 (max_connections) or 429 (per_address) "
                          "with Retry-After at accept, then closed.")
                      .Register(registry);
  for (int i = 0; i < kHttpRefusalCount; ++i)
    refused_[i] = &refused.Add({{"reason", std::string(HttpRefusalName(HttpRefusal(i)))}});
  auto& timeouts =
      pm::BuildCounter()
          .Name("x402_http_timeouts_total")
          .Help(
              "HTTP connections closed at a deadline, by phase: head (request line and "
              "headers), body, idle (keep-alive, between requests), write (the response).")
          .Register(registry);
  for (int i = 0; i < kHttpPhaseCount; ++i)
    timeouts_[i] = &timeouts.Add({{"phase", std::string(HttpPhaseName(HttpPhase(i)))}});
  accept_errors_ = &pm::BuildCounter()
                        .Name("x402_http_accept_errors_total")
                        .Help(
                            "accept() failures (e.g. out of file descriptors); the server "
                            "retries after a short pause, the connection waits in the backlog.")
                        .Register(registry)
                        .Add({});
  open_ = &pm::BuildGauge()
               .Name("x402_http_connections_open")
               .Help("HTTP connections with a session now (refusals not included).")
               .Register(registry)
               .Add({});
}

}  // namespace x402
