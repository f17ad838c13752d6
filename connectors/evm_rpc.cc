#include "connectors/evm_rpc.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <thread>

#include "schemas/json_writer.h"

namespace x402 {

namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A JSON-RPC error (or a transport message) that means "ask for less".
bool LooksLikeRangeError(std::string_view message, int code) {
  if (code == -32005) return true;  // Infura and others: "query returned more than 10000 results"
  const std::string m = Lower(message);
  for (const char* s : {"range", "too many", "too large", "limit exceeded", "exceeds", "more than",
                        "response size", "body limit exceeded", "results"}) {
    if (m.find(s) != std::string::npos) return true;
  }
  return false;
}

// Retry-After: delta-seconds (the form RPC providers use). An HTTP-date or anything else is
// "not given".
std::optional<std::chrono::milliseconds> ParseRetryAfter(const std::string& v) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::chrono::milliseconds(std::stoll(v) * 1000);
}

}  // namespace

std::string RedactRpcUrl(std::string_view url) {
  const size_t sch = url.find("://");
  const size_t from = sch == std::string_view::npos ? 0 : sch + 3;
  size_t end = url.find_first_of("/?#", from);
  std::string_view authority =
      url.substr(from, end == std::string_view::npos ? std::string_view::npos : end - from);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string out(url.substr(0, from));
  out += authority;
  if (end != std::string_view::npos && end + 1 < url.size()) out += "/****";
  return out;
}

std::string RpcErrorLabel(RpcErrc code, int detail) {
  switch (code) {
    case RpcErrc::kOk:
      return "ok";
    case RpcErrc::kTransport:
      return "transport";
    case RpcErrc::kTimeout:
      return "timeout";
    case RpcErrc::kRateLimited:
      return "http_429";
    case RpcErrc::kHttpStatus:
      return "http_" + std::to_string(detail);
    case RpcErrc::kMalformed:
      return "malformed";
    case RpcErrc::kRpcError:
      return "rpc_" + std::to_string(detail);
    case RpcErrc::kRangeTooLarge:
      return "range_too_large";
    case RpcErrc::kStopped:
      return "stopped";
  }
  return "unknown";
}

Result<uint64_t> ParseQuantity(std::string_view hex) {
  if (!hex.starts_with("0x") || hex.size() < 3 || hex.size() > 18)
    return Err("expected a 0x-hex quantity, got '" + std::string(hex.substr(0, 80)) + "'");
  uint64_t n = 0;
  for (char c : hex.substr(2)) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return Err("expected a 0x-hex quantity, got '" + std::string(hex.substr(0, 80)) + "'");
    n = n * 16 + static_cast<uint64_t>(d);
  }
  // Block numbers, log indexes and timestamps: past 2^53-1 no chain has them, and EVENTS.md
  // refuses them (schemas/README.md, "Canonical input"): a node saying so is malformed.
  if (n > (uint64_t{1} << 53) - 1)
    return Err("quantity " + std::string(hex) + " is past 2^53-1, beyond any chain's range");
  return n;
}

std::string ToQuantity(uint64_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(n));
  return buf;
}

Result<std::unique_ptr<EvmRpc>> EvmRpc::Open(const std::vector<std::string>& urls,
                                             RpcOptions options, const std::atomic<bool>* stop,
                                             ClientFactory factory) {
  if (urls.empty()) return Err("no RPC endpoint given");
  std::unique_ptr<EvmRpc> rpc(new EvmRpc());
  rpc->opt_ = options;
  rpc->stop_ = stop;
  for (const auto& u : urls) {
    auto parsed = HttpUrl::Parse(u);
    if (!parsed)
      return Err("RPC URL " + RedactRpcUrl(u) +
                 ": not an https:// URL (http:// only for 127.0.0.1)");
    Endpoint e;
    e.url = *parsed;
    e.redacted = RedactRpcUrl(u);
    if (factory) {
      e.client = factory();
    } else {
      auto beast = std::make_unique<BeastHttpClient>();
      beast->set_max_body_bytes(options.max_body_bytes);
      e.client = std::move(beast);
    }
    rpc->endpoints_.push_back(std::move(e));
  }
  return rpc;
}

std::string EvmRpc::current_endpoint() const { return endpoints_[current_].redacted; }

void EvmRpc::Failover() { current_ = (current_ + 1) % endpoints_.size(); }

bool EvmRpc::SleepUntil(Clock::time_point t) const {
  while (Clock::now() < t) {
    if (stop_ && stop_->load()) return false;
    auto left = t - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(20)));
  }
  return !(stop_ && stop_->load());
}

RpcReply EvmRpc::Attempt(Endpoint& e, std::string_view method, const std::string& body,
                         uint64_t id) {
  RpcReply r;
  auto res = e.client->Post(e.url, body, "application/json", opt_.timeout);
  if (!res) {
    // The client's messages name host:port only; keep the redacted endpoint in front.
    const bool timed_out = res.error().find("timed out") != std::string::npos;
    if (method == "eth_getLogs" && res.error().find("body limit exceeded") != std::string::npos) {
      r.code = RpcErrc::kRangeTooLarge;
    } else {
      r.code = timed_out ? RpcErrc::kTimeout : RpcErrc::kTransport;
    }
    r.error = e.redacted + ": " + res.error();
    return r;
  }
  if (res->status == 429) {
    r.code = RpcErrc::kRateLimited;
    r.detail = 429;
    r.error = e.redacted + ": HTTP 429 (rate limited)";
    if (auto ra = ParseRetryAfter(res->Header("retry-after"))) r.retry_after_ms = ra->count();
    return r;
  }
  if (res->status == 413 && method == "eth_getLogs") {
    r.code = RpcErrc::kRangeTooLarge;
    r.detail = 413;
    r.error = e.redacted + ": HTTP 413";
    return r;
  }
  if (res->status != 200) {
    r.code = RpcErrc::kHttpStatus;
    r.detail = res->status;
    r.error = e.redacted + ": HTTP " + std::to_string(res->status);
    return r;
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(res->body);
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (parser.parse(padded).get(doc) || doc.get_object().get(obj)) {
    r.code = RpcErrc::kMalformed;
    r.error = e.redacted + ": " + std::string(method) + ": answer is not a JSON object";
    return r;
  }
  uint64_t got_id = 0;
  if (obj["id"].get_uint64().get(got_id) || got_id != id) {
    r.code = RpcErrc::kMalformed;
    r.error = e.redacted + ": " + std::string(method) + ": answer has a wrong or no id";
    return r;
  }
  simdjson::dom::element err;
  if (!obj["error"].get(err) && !err.is_null()) {
    int64_t code = 0;
    std::string_view msg;
    if (err["code"].get_int64().get(code)) code = 0;
    if (err["message"].get_string().get(msg)) msg = "(no message)";
    r.detail = static_cast<int>(code);
    r.code = method == "eth_getLogs" && LooksLikeRangeError(msg, r.detail) ? RpcErrc::kRangeTooLarge
                                                                           : RpcErrc::kRpcError;
    r.error = e.redacted + ": " + std::string(method) + ": JSON-RPC error " + std::to_string(code) +
              ": " + std::string(msg.substr(0, 200));
    return r;
  }
  simdjson::dom::element result;
  if (obj["result"].get(result)) {
    r.code = RpcErrc::kMalformed;
    r.error = e.redacted + ": " + std::string(method) + ": answer has neither result nor error";
    return r;
  }
  r.result = simdjson::minify(result);
  return r;
}

RpcReply EvmRpc::Call(std::string_view method, std::string_view params_json) {
  ++calls_;
  const uint64_t id = next_id_++;
  std::string body;
  JsonWriter j(&body);
  j.BeginObject().Field("jsonrpc", "2.0");
  j.Key("id").Uint(id);
  j.Field("method", method);
  j.Key("params").Raw(params_json);
  j.EndObject();

  Endpoint& e = endpoints_[current_];
  RpcReply last;
  for (int attempt = 0; attempt < opt_.attempts_per_endpoint; ++attempt) {
    if (!SleepUntil(e.not_before)) {
      last.code = RpcErrc::kStopped;
      last.error = "stopped";
      return last;
    }
    last = Attempt(e, method, body, id);
    if (last.ok() || last.code == RpcErrc::kRangeTooLarge) {
      e.failures = 0;
      return last;
    }
    const std::string label = RpcErrorLabel(last.code, last.detail);
    ++errors_[label];
    if (hook_) hook_(label, last.error);
    ++e.failures;
    auto wait = opt_.backoff_initial * (1LL << std::min(e.failures - 1, 16));
    if (wait > opt_.backoff_max) wait = opt_.backoff_max;
    if (last.code == RpcErrc::kRateLimited) {
      // Honour Retry-After (capped); with other endpoints configured, go to the next one now
      // rather than wait on this one.
      if (last.retry_after_ms >= 0) wait = std::chrono::milliseconds(last.retry_after_ms);
      if (wait > opt_.max_retry_after) wait = opt_.max_retry_after;
      e.not_before = Clock::now() + wait;
      if (endpoints_.size() > 1) break;
      continue;
    }
    e.not_before = Clock::now() + wait;
  }
  // Give up on this endpoint for now: the next call goes to the next one.
  if (endpoints_.size() > 1) Failover();
  return last;
}

}  // namespace x402
