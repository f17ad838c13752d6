// libFuzzer target: the API's request path on arbitrary bytes: the request head parsed by
// Boost.Beast with the server's limits (api/http_server.cc), then routed and answered by
// ApiService (api/api_service.cc: routes, ids, query parsing, percent-decoding, bearer
// tokens) over a real engine store holding a few events. Every parsed request gets an answer
// with a status the API documents and, for JSON, a body that is valid UTF-8.
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "api/api_service.h"
#include "engine/engine.h"

namespace {

namespace http = boost::beast::http;

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

struct World {
  std::unique_ptr<x402::Engine> engine;
  std::unique_ptr<x402::ApiService> service;
  std::unique_ptr<x402::ApiService> with_token;
  World() {
    const std::string dir = "/tmp/x402-fuzz-http-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    x402::EngineOptions o;
    o.store.path = dir;
    auto e = x402::Engine::Open(o);
    if (!e) __builtin_trap();
    engine = std::move(*e);
    x402::ApiServiceOptions so;
    so.store = engine->store();
    so.config = &engine->config();
    so.wall_ms = [] { return int64_t{1763337600000}; };
    so.report = [](x402::ReportFormat) { return std::optional<std::string>("{}"); };
    service = std::make_unique<x402::ApiService>(so);
    so.token = "s3cret-token";
    with_token = std::make_unique<x402::ApiService>(so);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  x402::HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  if (auto it = req.find(http::field::authorization); it != req.end())
    r.authorization = std::string(it->value());
  for (const x402::ApiService* s : {w.service.get(), w.with_token.get()}) {
    const x402::ApiResponse a = s->Handle(r);
    switch (a.status) {
      case 200: case 400: case 401: case 404: case 405: case 413: case 503: break;
      default: __builtin_trap();
    }
    if (a.content_type.starts_with("application/json") && !ValidUtf8(a.body)) __builtin_trap();
  }
  return 0;
}
