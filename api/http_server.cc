#include "api/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/log.h"

namespace x402 {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;

// What every connection of one server shares: options, handler, the canned refusals and the
// connection counts. Lives in HttpServer::Impl, before (so after, at destruction) the
// io_context whose queued handlers refer to it.
struct Shared {
  HttpServerOptions o;
  HttpServer::Handler handler;
  std::string refuse_busy, refuse_address;  // canned 503 and 429, whole HTTP responses
  std::atomic<size_t> lingering{0};         // refusals still draining the client's bytes

  // A session slot, or why there is none.
  std::optional<HttpRefusal> Admit(const asio::ip::address& a) {
    std::lock_guard<std::mutex> l(mu_);
    if (live_ >= o.max_connections) return HttpRefusal::kMaxConnections;
    size_t& n = per_address_[a];
    if (o.max_connections_per_address > 0 && n >= o.max_connections_per_address)
      return HttpRefusal::kPerAddress;
    ++n;
    ++live_;
    return std::nullopt;
  }
  void Release(const asio::ip::address& a) {
    std::lock_guard<std::mutex> l(mu_);
    --live_;
    auto it = per_address_.find(a);
    if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
  }

 private:
  std::mutex mu_;
  size_t live_ = 0;
  std::map<asio::ip::address, size_t> per_address_;
};

std::string CannedRefusal(int status, std::string_view reason, std::string_view error,
                          std::chrono::seconds retry_after) {
  const std::string body = "{\"error\":\"" + std::string(error) + "\"}\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nServer: x402rec\r\nContent-Type: application/json\r\nCache-Control: "
         "no-store\r\nRetry-After: " +
         std::to_string(retry_after.count()) +
         "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

// One served connection: reads requests (head, then body, each against its own deadline),
// answers them, and waits for the next one on keep-alive (idle deadline).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared* sh, asio::ip::address peer)
      : stream_(std::move(socket)), sh_(sh), o_(sh->o), peer_(std::move(peer)) {
    if (o_.probe) o_.probe->Accepted();
  }
  ~Session() {
    sh_->Release(peer_);
    if (o_.probe) o_.probe->SessionClosed();
  }

  void Run() {
    // The head deadline of the first request counts from the accept.
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::ReadHead, shared_from_this(),
                                             Clock::now() + o_.head_timeout));
  }

 private:
  void ReadHead(Clock::time_point deadline) {
    phase_ = HttpPhase::kHead;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(o_.max_request_bytes));
    parser_->body_limit(o_.max_request_bytes);
    stream_.expires_at(deadline);  // absolute: dribbled bytes do not extend it
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHead, shared_from_this()));
  }

  void OnHead(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    if (parser_->is_done()) return Handle();
    phase_ = HttpPhase::kBody;
    stream_.expires_after(o_.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    Handle();
  }

  // Keep-alive: the next request's head deadline starts at its first byte; until then the
  // idle deadline applies.
  void WaitNext() {
    if (buffer_.size() > 0) return ReadHead(Clock::now() + o_.head_timeout);  // pipelined
    phase_ = HttpPhase::kIdle;
    stream_.expires_after(o_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&Session::OnIdleRead, shared_from_this()));
  }

  void OnIdleRead(beast::error_code ec, std::size_t n) {
    buffer_.commit(n);
    if (ec) {
      if (ec == beast::error::timeout && o_.probe) o_.probe->TimedOut(HttpPhase::kIdle);
      return Close();
    }
    ReadHead(Clock::now() + o_.head_timeout);
  }

  void OnReadError(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      if (o_.probe) o_.probe->TimedOut(phase_);
      return Close();
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    const bool too_big = ec == http::error::header_limit || ec == http::error::body_limit ||
                         ec == http::error::buffer_overflow;
    ApiResponse r;
    r.status = too_big ? 413 : 400;
    r.body = std::string("{\"error\":\"") +
             (too_big ? "request too large" : "malformed HTTP request") + "\"}\n";
    Write(r, 11, false, false);
  }

  void Handle() {
    const auto& req = parser_->get();
    HttpRequest hr;
    hr.method = std::string(req.method_string());
    hr.target = std::string(req.target());
    if (auto it = req.find(http::field::authorization); it != req.end())
      hr.authorization = std::string(it->value());
    ApiResponse r;
    try {
      r = sh_->handler(hr);
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
    phase_ = HttpPhase::kWrite;
    stream_.expires_after(o_.write_timeout);
    http::async_write(stream_, *res,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
    res_.reset();
    if (ec == beast::error::timeout && o_.probe) o_.probe->TimedOut(HttpPhase::kWrite);
    if (ec || !keep_alive) return Close();
    WaitNext();
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
  Shared* sh_;
  const HttpServerOptions& o_;
  asio::ip::address peer_;
  HttpPhase phase_ = HttpPhase::kHead;
};

// A refused connection: the canned answer written at once (nothing of the request is read
// or parsed first), then a lingering close: no more sending, and whatever the client sends
// is read and dropped for at most refusal_linger (64 KiB at most), so the close does not
// reset the connection before the client has read the answer.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(tcp::socket socket, Shared* sh) : stream_(std::move(socket)), sh_(sh) {
    ++sh_->lingering;
  }
  ~Refusal() { --sh_->lingering; }

  void Run(const std::string* answer) {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Refusal::Answer, shared_from_this(), answer));
  }

 private:
  void Answer(const std::string* answer) {
    beast::error_code ec;
    tcp::socket& s = stream_.socket();
    // A fresh socket's send buffer takes these ~200 bytes whole: one non-blocking write.
    s.non_blocking(true, ec);
    const size_t n = ec ? 0 : s.write_some(asio::buffer(*answer), ec);
    if (!ec && n == answer->size()) s.shutdown(tcp::socket::shutdown_send, ec);
    // Too many refusals lingering (a flood): close now; the answer is already sent.
    if (ec || n != answer->size() || sh_->o.refusal_linger.count() <= 0 ||
        sh_->lingering.load() > sh_->o.max_connections) {
      return Close();
    }
    stream_.expires_after(sh_->o.refusal_linger);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(asio::buffer(scratch_),
                            beast::bind_front_handler(&Refusal::OnDrain, shared_from_this()));
  }

  void OnDrain(beast::error_code ec, std::size_t n) {
    drained_ += n;
    if (ec || drained_ > 64 * 1024) return Close();
    Drain();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  Shared* sh_;
  std::array<char, 2048> scratch_{};
  size_t drained_ = 0;
};

}  // namespace

struct HttpServer::Impl {
  // Order matters: sessions still queued in ioc refer to `sh` when ioc is destroyed, so it is
  // declared (and lives) before it.
  Shared sh;
  std::atomic<bool> stopped{false};
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_pause{ioc};
  std::vector<std::thread> threads;

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || stopped.load()) return;
      if (ec) {
        // Out of file descriptors (or memory): retrying at once would spin. Pause; the
        // connections wait in the listen backlog meanwhile.
        if (sh.o.probe) sh.o.probe->AcceptError();
        accept_pause.expires_after(std::chrono::milliseconds(50));
        accept_pause.async_wait([this](beast::error_code e) {
          if (!e && !stopped.load()) Accept();
        });
        return;
      }
      OnAccepted(std::move(socket));
      Accept();
    });
  }

  void OnAccepted(tcp::socket socket) {
    beast::error_code ec;
    const tcp::endpoint peer = socket.remote_endpoint(ec);
    if (ec) return;  // already gone; the socket closes here
    const std::optional<HttpRefusal> refused = sh.Admit(peer.address());
    if (!refused) {
      std::make_shared<Session>(std::move(socket), &sh, peer.address())->Run();
      return;
    }
    if (sh.o.probe) sh.o.probe->Refused(*refused);
    std::make_shared<Refusal>(std::move(socket), &sh)
        ->Run(*refused == HttpRefusal::kMaxConnections ? &sh.refuse_busy : &sh.refuse_address);
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& o, Handler handler) {
  if (o.max_connections == 0) return Err("max_connections: at least 1");
  auto impl = std::make_unique<Impl>();
  impl->sh.o = o;
  impl->sh.handler = std::move(handler);
  impl->sh.refuse_busy =
      CannedRefusal(503, "Service Unavailable", "server busy: too many connections", o.retry_after);
  impl->sh.refuse_address = CannedRefusal(429, "Too Many Requests",
                                          "too many connections from this address", o.retry_after);
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
    p->accept_pause.cancel();
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
