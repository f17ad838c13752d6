// HttpServer: a small HTTP/1.1 server (Boost.Beast, asynchronous, a fixed pool of I/O
// threads) that hands every request to a handler and writes its response.
//
// It degrades, never drops: every accepted connection gets an HTTP answer or is closed at a
// deadline it was given, and slow or numerous clients cannot starve the others.
//  - Connection limits, checked at accept. Past `max_connections` sessions the connection is
//    answered a canned `503` with `Retry-After`; past `max_connections_per_address` from one
//    client address, a canned `429` with `Retry-After`. The refusal is written at once,
//    without reading the request (so it costs one small write, no parsing), then the server
//    stops sending and reads and discards what the client still sends for at most
//    `refusal_linger` before closing (a close with unread request bytes would be a TCP reset,
//    which can destroy the answer before the client reads it). Under a flood, past
//    max_connections refusals lingering, a refusal closes right after its answer.
//  - Separate deadlines, each absolute (a client dribbling a byte at a time cannot extend
//    them): `head_timeout` for the request line and headers, from the connection's accept or
//    from the first byte of a keep-alive request; `body_timeout` for the body, from the end
//    of the headers; `idle_timeout` between keep-alive requests; `write_timeout` for writing
//    a response. A connection past a deadline is closed without an answer (a client too slow
//    to send its request would not read a 408 either), counted per phase in the probe.
//  - Size: request head and body up to `max_request_bytes` (413 and close beyond it).
//  - accept() failures (out of file descriptors) pause accepting for 50 ms; meanwhile new
//    connections wait in the kernel's listen backlog (the bounded queue), not refused.
// Why these defaults: asynchronous sessions cost no thread, so 200 slowloris clients (one
// header byte a second) only hold 200 of the 1,024 slots and are closed 5 s after they
// connect; a normal request is answered at once beside them, and a flood of reconnects is
// answered 503 in one write each. The per-address cap (256) keeps one host from taking more
// than a quarter of the slots, yet lets the loopback default (every client is 127.0.0.1)
// hold those 200 slow clients and still serve. The process needs max_connections plus
// refusals in flight plus RocksDB's files in file descriptors (RLIMIT_NOFILE).
// The handler runs synchronously on an I/O thread: a slow one (GET /v1/report waiting for the
// pipeline) holds one of the `threads` while it runs, so handlers must bound their own wait.
// Thread-safety: Start/Stop from one thread; the handler runs on the I/O threads
// concurrently; the probe is called from the I/O threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "api/api_service.h"
#include "api/http_server_probe.h"
#include "schemas/result.h"

namespace x402 {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 9464;  // 0: any free port (tests)
  size_t max_request_bytes = 16 * 1024;
  std::chrono::milliseconds head_timeout{5000};
  std::chrono::milliseconds body_timeout{10000};
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds write_timeout{10000};
  size_t max_connections = 1024;
  size_t max_connections_per_address = 256;  // 0: no per-address cap
  std::chrono::seconds retry_after{1};       // Retry-After of the 503 and 429 refusals
  std::chrono::milliseconds refusal_linger{1000};
  int threads = 2;
  HttpServerProbe* probe = nullptr;  // may be null; must outlive the server
};

class HttpServer {
 public:
  using Handler = std::function<ApiResponse(const HttpRequest&)>;
  // Binds and listens (errors: address in use, bad address), then serves on its own threads.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& o, Handler handler);
  ~HttpServer();  // stops
  void Stop();
  uint16_t port() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "ADDR:PORT" (IPv4 or [IPv6]) -> address and port; the error names the flag.
Status ParseListenAddress(std::string_view text, std::string* address, uint16_t* port);
// True for 127.0.0.0/8 and ::1.
bool IsLoopbackAddress(const std::string& address);

}  // namespace x402
