// HttpServer: a small HTTP/1.1 server (Boost.Beast, asynchronous, a fixed pool of I/O
// threads) that hands every request to a handler and writes its response. Limits: request
// header+body size (413/431 and close beyond it), a whole-request deadline (the connection is
// closed when a request is not read and answered in time; idle keep-alive connections too),
// and a cap on simultaneous connections (further ones are closed at accept).
// Thread-safety: Start/Stop from one thread; the handler runs on the I/O threads concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "api/api_service.h"
#include "schemas/result.h"

namespace x402 {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 9464;  // 0: any free port (tests)
  size_t max_request_bytes = 16 * 1024;
  std::chrono::milliseconds request_timeout{10000};
  size_t max_connections = 64;
  int threads = 2;
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
