#include "api/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "api/log.h"

namespace x402 {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& o, const HttpServer::Handler& h,
          std::atomic<size_t>* live)
      : stream_(std::move(socket)), o_(o), handler_(h), live_(live) {
    ++*live_;
  }
  ~Session() { --*live_; }

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(o_.max_request_bytes));
    parser_->body_limit(o_.max_request_bytes);
    stream_.expires_after(o_.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec) {
      const bool too_big = ec == http::error::header_limit || ec == http::error::body_limit ||
                           ec == http::error::buffer_overflow;
      ApiResponse r;
      r.status = too_big ? 413 : 400;
      r.body = std::string("{\"error\":\"") +
               (too_big ? "request too large" : "malformed HTTP request") + "\"}\n";
      return Write(r, 11, false, false);
    }
    const auto& req = parser_->get();
    HttpRequest hr;
    hr.method = std::string(req.method_string());
    hr.target = std::string(req.target());
    if (auto it = req.find(http::field::authorization); it != req.end())
      hr.authorization = std::string(it->value());
    ApiResponse r;
    try {
      r = handler_(hr);
    } catch (const std::exception& e) {
      LogJson(LogLevel::kError, "api handler failed",
              {{"path", hr.target.substr(0, hr.target.find('?'))}, {"error", e.what()}});
      r.status = 500;
      r.body = "{\"error\":\"internal error\"}\n";
    }
    Write(r, req.version(), req.keep_alive(), req.method() == http::verb::head);
  }

  void Write(const ApiResponse& r, unsigned version, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "x402rec");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->body() = r.body;
    res->prepare_payload();
    if (head) res->body().clear();
    res_ = res;
    stream_.expires_after(o_.request_timeout);
    http::async_write(stream_, *res,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
    res_.reset();
    if (ec || !keep_alive) return Close();
    Read();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> res_;
  const HttpServerOptions& o_;
  const HttpServer::Handler& handler_;
  std::atomic<size_t>* live_;
};

}  // namespace

struct HttpServer::Impl {
  // Order matters: sessions still queued in ioc refer to o, handler and live when ioc is
  // destroyed, so those are declared (and live) before it.
  HttpServerOptions o;
  Handler handler;
  std::atomic<size_t> live{0};
  std::atomic<bool> stopped{false};
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || stopped.load()) return;
      if (!ec) {
        if (live.load() >= o.max_connections) {
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<Session>(std::move(socket), o, handler, &live)->Run();
        }
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& o, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->o = o;
  impl->handler = std::move(handler);
  beast::error_code ec;
  auto addr = asio::ip::make_address(o.address, ec);
  if (ec) return Err("invalid address '" + o.address + "': " + ec.message());
  tcp::endpoint ep(addr, o.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Err(o.address + ":" + std::to_string(o.port) + ": " + ec.message() +
               (ec == asio::error::address_in_use ? " (address in use)" : ""));
  }
  impl->Accept();
  for (int i = 0; i < std::max(1, o.threads); ++i)
    impl->threads.emplace_back([p = impl.get()] { p->ioc.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  asio::post(impl_->ioc, [p = impl_.get()] {
    beast::error_code ec;
    p->acceptor.close(ec);
  });
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

Status ParseListenAddress(std::string_view text, std::string* address, uint16_t* port) {
  std::string_view host, p;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Err("expected ADDR:PORT or [IPV6]:PORT, got '" + std::string(text) + "'");
    host = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return Err("expected ADDR:PORT, got '" + std::string(text) + "'");
    host = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  uint32_t v = 0;
  if (p.empty() || p.size() > 5)
    return Err("expected a port 1..65535, got '" + std::string(p) + "'");
  for (char c : p) {
    if (c < '0' || c > '9') return Err("expected a port 1..65535, got '" + std::string(p) + "'");
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return Err("expected a port 0..65535, got '" + std::string(p) + "'");
  beast::error_code ec;
  asio::ip::make_address(std::string(host), ec);
  if (ec) return Err("expected an IP address, got '" + std::string(host) + "'");
  *address = std::string(host);
  *port = static_cast<uint16_t>(v);
  return Status::Ok();
}

bool IsLoopbackAddress(const std::string& address) {
  beast::error_code ec;
  auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

}  // namespace x402
