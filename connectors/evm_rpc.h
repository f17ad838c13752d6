// EvmRpc: an Ethereum JSON-RPC 2.0 client over HttpClient (POST application/json) with the
// fault policy the chain watcher needs: a deadline per request, retries with exponential
// backoff, HTTP 429 honouring Retry-After, 5xx / transport / malformed answers / JSON-RPC
// errors retried, and failover through the configured endpoints in order.
//
// One call sticks to the current endpoint (so one watcher step reads one node's view of the
// chain); when the endpoint keeps failing, the call gives up, the endpoint is put behind the
// others and the next call uses the next one. eth_getLogs answers that say the query is too
// large ("range too large", "too many results", "limit exceeded", a body over the limit) are
// returned at once as kRangeTooLarge: the caller halves its range.
//
// RPC URLs carry API keys in their path or query: only RedactRpcUrl() forms are ever put in a
// message (scheme, host and port; the rest is "****").
//
// Thread-safety: one thread at a time. Sleeps are cut short when *stop becomes true.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/http_client.h"
#include "schemas/result.h"

namespace x402 {

// "https://base-mainnet.g.alchemy.com/v2/KEY" -> "https://base-mainnet.g.alchemy.com/****".
// Credentials in the authority are dropped too; never echoes a path, query or fragment.
std::string RedactRpcUrl(std::string_view url);

enum class RpcErrc {
  kOk = 0,
  kTransport,      // connect / TLS / read failure
  kTimeout,        // the request's deadline passed
  kRateLimited,    // HTTP 429
  kHttpStatus,     // any other non-200 status
  kMalformed,      // not a JSON-RPC 2.0 answer to our request
  kRpcError,       // a JSON-RPC error object
  kRangeTooLarge,  // eth_getLogs: the provider refuses the query's size
  kStopped,        // *stop was set while waiting
};

// "timeout", "http_429", "http_503", "rpc_-32000", "malformed", ... (metric label values).
std::string RpcErrorLabel(RpcErrc code, int detail);

struct RpcReply {
  RpcErrc code = RpcErrc::kOk;
  int detail = 0;               // HTTP status or JSON-RPC error code
  std::string error;            // when !ok(): a reason without any URL secret
  std::string result;           // when ok(): the raw JSON of "result" (may be "null")
  int64_t retry_after_ms = -1;  // a 429's Retry-After, when it gave one
  bool ok() const { return code == RpcErrc::kOk; }
};

struct RpcOptions {
  std::chrono::milliseconds timeout{10000};
  // Attempts of one call on the current endpoint before it gives up and fails over.
  int attempts_per_endpoint = 3;
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{10000};
  // A Retry-After longer than this (or missing on a 429) is capped to it.
  std::chrono::milliseconds max_retry_after{60000};
  uint64_t max_body_bytes = 64ull << 20;
};

class EvmRpc {
 public:
  using ClientFactory = std::function<std::unique_ptr<HttpClient>()>;
  // Called for every failed attempt: (error label, message). Messages carry redacted URLs.
  using ErrorHook = std::function<void(const std::string& label, const std::string& message)>;

  // Parses the URLs (errors name the redacted URL). `factory` null: BeastHttpClient.
  static Result<std::unique_ptr<EvmRpc>> Open(const std::vector<std::string>& urls,
                                              RpcOptions options,
                                              const std::atomic<bool>* stop = nullptr,
                                              ClientFactory factory = nullptr);

  // One JSON-RPC call; `params_json` is the JSON array of parameters.
  RpcReply Call(std::string_view method, std::string_view params_json);

  void set_error_hook(ErrorHook hook) { hook_ = std::move(hook); }
  // The endpoint calls go to now (redacted) and its index in the configured order.
  std::string current_endpoint() const;
  size_t current_index() const { return current_; }
  size_t endpoint_count() const { return endpoints_.size(); }
  // Puts the current endpoint behind the others (the watcher saw it lag or go back).
  void Failover();
  // Failed attempts by label since Open.
  const std::map<std::string, uint64_t>& errors() const { return errors_; }
  uint64_t calls() const { return calls_; }

 private:
  struct Endpoint {
    HttpUrl url;
    std::string redacted;
    std::unique_ptr<HttpClient> client;
    std::chrono::steady_clock::time_point not_before{};
    int failures = 0;  // consecutive
  };
  EvmRpc() = default;
  RpcReply Attempt(Endpoint& e, std::string_view method, const std::string& body, uint64_t id);
  bool SleepUntil(std::chrono::steady_clock::time_point t) const;

  RpcOptions opt_;
  const std::atomic<bool>* stop_ = nullptr;
  std::vector<Endpoint> endpoints_;
  size_t current_ = 0;
  uint64_t next_id_ = 1;
  uint64_t calls_ = 0;
  std::map<std::string, uint64_t> errors_;
  ErrorHook hook_;
};

// Helpers for the quantities of the Ethereum JSON-RPC API.
// "0x1b4" -> 436; rejects a missing 0x, empty digits, non-hex and values over 2^53-1 (past
// any chain's block number, log index or timestamp; EVENTS.md refuses them).
Result<uint64_t> ParseQuantity(std::string_view hex);
std::string ToQuantity(uint64_t n);  // 436 -> "0x1b4"

}  // namespace x402
