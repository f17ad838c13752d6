// HttpClient: a small HTTP/1.1 POST client for webhooks (Discord) and JSON-RPC, behind an interface
// so tests and sinks can swap it. BeastHttpClient is the real one: Boost.Beast over Boost.Asio,
// HTTPS through OpenSSL (SNI, peer verification against the system CA store), plain HTTP
// only to 127.0.0.1 / localhost (tests), a deadline per request, and keep-alive reuse of one
// connection per host:port.
//
// URLs of webhooks are secrets (the path carries the token): HttpUrl::Redacted() is the only
// form that may be logged, and no error message of this module contains a path or query.
//
// Thread-safety: an HttpClient is used by one thread at a time (one per sink worker).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "schemas/result.h"

namespace x402 {

struct HttpUrl {
  bool tls = true;
  std::string host, port, target;  // target = path + query, e.g. "/api/webhooks/1/abc?wait=true"

  // Accepts https://host[:port]/path[?query]; http:// only for 127.0.0.1 and localhost.
  static Result<HttpUrl> Parse(std::string_view url);
  // "https://discord.com/api/webhooks/1234…" style: scheme, host and the first path segment
  // only; the rest (the webhook id and token) is replaced by "****".
  std::string Redacted() const;
  std::string Full() const;
};
// Redacts a URL string even when it does not parse (never echoes the path).
std::string RedactUrl(std::string_view url);

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // POSTs `body`; a network error, TLS failure or timeout is an error (never a URL in it);
  // any HTTP status is a response.
  virtual Result<HttpResponse> Post(const HttpUrl& url, const std::string& body,
                                    const std::string& content_type,
                                    std::chrono::milliseconds timeout) = 0;
};

class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient();
  ~BeastHttpClient() override;
  Result<HttpResponse> Post(const HttpUrl& url, const std::string& body,
                            const std::string& content_type,
                            std::chrono::milliseconds timeout) override;
  uint64_t connections_opened() const { return connections_opened_; }
  // The largest response body accepted (default 1 MiB); a larger one is an error whose
  // message contains "body limit exceeded" (JSON-RPC log queries raise it).
  void set_max_body_bytes(uint64_t n) { max_body_bytes_ = n; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t connections_opened_ = 0;
  uint64_t max_body_bytes_ = 1 << 20;
};

}  // namespace x402
