// ApiService: the read-only HTTP API of x402rec, independent of the transport (the Beast
// server in http_server.h calls Handle; tests may call it directly).
//
//   GET /metrics                          Prometheus text format
//   GET /healthz                          process alive
//   GET /readyz                           200 or 503 with the reasons (JSON)
//   GET /v1/agents/{id}                   limits, today's and this month's spend, utilization
//   GET /v1/agents/{id}/can-spend?amount=USDC[&at=RFC3339]
//   GET /v1/findings?status=&kind=&agent=&severity=&limit=&cursor=   (paged by cursor)
//   GET /v1/findings/{finding_id}
//   GET /v1/payments/{payment_id}         authorization lifecycle, budget, chain match
//   GET /v1/report                        the replay report JSON of the live state
//   GET /v1/report.html                   the same as one self-contained HTML page
//
// Lookups read a RocksDB snapshot (StateReader); /v1/report runs BuildReport on the pipeline
// thread through `report`. The contract is ops/openapi.yaml.
// Thread-safety: Handle is thread-safe (every member is read-only after construction).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/metrics.h"
#include "engine/rocksdb_store.h"
#include "projections/config.h"

namespace x402 {

struct HttpRequest {
  std::string method;         // "GET", ...
  std::string target;         // path and query, as sent
  std::string authorization;  // the Authorization header ("" if none)
};

enum class ReportFormat : uint8_t { kJson, kHtml };

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ReadinessCheck {
  std::string name;  // "consumer_assigned", "lag", "alert_sinks", "input"
  bool ok = true;
  std::string detail;
};
struct Readiness {
  bool ready = true;
  std::vector<ReadinessCheck> checks;
};

struct ApiServiceOptions {
  RocksStore* store = nullptr;               // required
  const ProjectionConfig* config = nullptr;  // required
  Metrics* metrics = nullptr;                // may be null (no /metrics)
  std::function<Readiness()> readiness;      // null: always ready
  // Builds the report (JSON or the HTML page) on the pipeline thread; nullopt when it did not
  // answer in time.
  std::function<std::optional<std::string>(ReportFormat)> report;
  // Bearer token required on every request when non-empty (constant-time compare).
  std::string token;
  // Wall clock, for can-spend before any event was applied (tests may fix it).
  std::function<int64_t()> wall_ms;
};

class ApiService {
 public:
  explicit ApiService(ApiServiceOptions o);
  ApiResponse Handle(const HttpRequest& req) const;

 private:
  ApiResponse Agent(const std::string& id) const;
  ApiResponse CanSpend(const std::string& id,
                       const std::vector<std::pair<std::string, std::string>>& q) const;
  ApiResponse Findings(const std::vector<std::pair<std::string, std::string>>& q) const;
  ApiResponse FindingById(const std::string& id) const;
  ApiResponse Payment(const std::string& id) const;
  ApiResponse Ready() const;

  ApiServiceOptions o_;
};

// Constant-time comparison of two strings (the length may leak, the content does not).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// "%XX" and '+' decoding; false on a malformed escape.
bool PercentDecode(std::string_view in, std::string* out);

}  // namespace x402
