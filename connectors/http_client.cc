#include "connectors/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <cctype>

namespace x402 {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<HttpUrl> HttpUrl::Parse(std::string_view url) {
  HttpUrl u;
  std::string_view rest;
  if (url.starts_with("https://")) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    u.tls = false;
    rest = url.substr(7);
  } else {
    return Err("expected an https:// URL, got " + RedactUrl(url));
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return Err("expected a host in URL " + RedactUrl(url));
  }
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    u.host = Lower(authority.substr(0, colon));
    u.port = std::string(authority.substr(colon + 1));
    if (u.port.empty() || u.port.size() > 5 ||
        u.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(u.port) == 0 ||
        std::stoi(u.port) > 65535) {
      return Err("bad port in URL " + RedactUrl(url));
    }
  } else {
    u.host = Lower(authority);
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty()) return Err("expected a host in URL " + RedactUrl(url));
  if (!u.tls && u.host != "127.0.0.1" && u.host != "localhost") {
    return Err("plain http:// is allowed only for 127.0.0.1 and localhost (use https://): " +
               RedactUrl(url));
  }
  return u;
}

std::string HttpUrl::Full() const {
  std::string s = tls ? "https://" : "http://";
  s += host;
  if (port != (tls ? "443" : "80")) s += ":" + port;
  return s + target;
}

std::string HttpUrl::Redacted() const { return RedactUrl(Full()); }

std::string RedactUrl(std::string_view full) {
  // Credentials in the authority ("user:pass@host") go first.
  std::string without_userinfo(full);
  {
    const size_t sch = without_userinfo.find("://");
    const size_t from = sch == std::string::npos ? 0 : sch + 3;
    const size_t end = without_userinfo.find_first_of("/?#", from);
    const size_t at =
        without_userinfo.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at >= from)
      without_userinfo.replace(from, at + 1 - from, "****@");
  }
  std::string_view url = without_userinfo;
  size_t scheme = url.find("://");
  size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t slash = url.find('/', start);
  if (slash == std::string_view::npos) return std::string(url.substr(0, url.find('?')));
  // Keep the host and the first path segment ("/api"), hide the rest.
  size_t second = url.find('/', slash + 1);
  std::string_view keep = url.substr(0, second == std::string_view::npos ? slash : second);
  size_t q = keep.find('?');
  if (q != std::string_view::npos) keep = keep.substr(0, q);
  return std::string(keep) + "/****";
}

struct BeastHttpClient::Impl {
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  tcp::resolver resolver{ioc};
  std::string key;  // "tls|host|port" of the open connection, empty when none
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buf;

  beast::tcp_stream& Lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
  // Closes the socket: pending operations complete with operation_aborted. The stream
  // objects stay alive (their handlers may still refer to them) until Reset().
  void CloseSocket() {
    if (plain || secure) {
      boost::system::error_code ignored;
      Lowest().socket().close(ignored);
    }
  }
  void Reset() {
    plain.reset();
    secure.reset();
    key.clear();
    buf.clear();
  }
  // Only with no operation pending (the io_context has run dry).
  void Close() {
    CloseSocket();
    Reset();
  }

  // Starts an async operation and runs the io_context until it completes or `deadline`
  // passes; on timeout everything is cancelled and `timed_out` set.
  template <class Start>
  boost::system::error_code Run(std::chrono::steady_clock::time_point deadline, bool* timed_out,
                                Start&& start) {
    boost::system::error_code out = asio::error::would_block;
    bool done = false;
    start([&out, &done](boost::system::error_code ec, auto&&...) {
      out = ec;
      done = true;
    });
    ioc.restart();
    ioc.run_until(deadline);
    if (!done) {
      *timed_out = true;
      resolver.cancel();
      CloseSocket();
      ioc.restart();
      ioc.run();  // let the cancelled handlers finish while the streams still exist
      Reset();
      return asio::error::timed_out;
    }
    return out;
  }
};

BeastHttpClient::BeastHttpClient() : impl_(std::make_unique<Impl>()) {
  boost::system::error_code ec;
  impl_->ctx.set_default_verify_paths(ec);
  impl_->ctx.set_verify_mode(ssl::verify_peer, ec);
}

BeastHttpClient::~BeastHttpClient() {
  if (impl_) impl_->Close();
}

Result<HttpResponse> BeastHttpClient::Post(const HttpUrl& url, const std::string& body,
                                           const std::string& content_type,
                                           std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string where = url.host + ":" + url.port;
  const std::string key = std::string(url.tls ? "s|" : "p|") + url.host + "|" + url.port;
  http::request<http::string_body> req{http::verb::post, url.target, 11};
  req.set(http::field::host,
          url.port == (url.tls ? "443" : "80") ? url.host : url.host + ":" + url.port);
  req.set(http::field::user_agent, "x402rec/0.1");
  req.set(http::field::content_type, content_type);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();

  // A reused keep-alive connection may have been closed by the server meanwhile: then try
  // once more on a fresh connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool timed_out = false;
    const bool reused = m.key == key && (m.plain || m.secure);
    if (!reused) {
      m.Close();
      tcp::resolver::results_type endpoints;
      auto ec = m.Run(deadline, &timed_out, [&](auto handler) {
        m.resolver.async_resolve(url.host, url.port,
                                 [&endpoints, handler](boost::system::error_code e,
                                                       tcp::resolver::results_type r) mutable {
                                   endpoints = std::move(r);
                                   handler(e);
                                 });
      });
      if (ec) return Err("resolve " + where + ": " + (timed_out ? "timed out" : ec.message()));
      if (url.tls) {
        m.secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(m.ioc, m.ctx);
        if (!SSL_set_tlsext_host_name(m.secure->native_handle(), url.host.c_str())) {
          m.Close();
          return Err("tls " + where + ": cannot set SNI");
        }
        m.secure->set_verify_callback(ssl::host_name_verification(url.host));
      } else {
        m.plain = std::make_unique<beast::tcp_stream>(m.ioc);
      }
      ec = m.Run(deadline, &timed_out, [&](auto handler) {
        m.Lowest().async_connect(endpoints, [handler](auto e, auto&&) mutable { handler(e); });
      });
      if (ec) {
        m.Close();
        return Err("connect " + where + ": " + (timed_out ? "timed out" : ec.message()));
      }
      ++connections_opened_;
      if (url.tls) {
        ec = m.Run(deadline, &timed_out, [&](auto handler) {
          m.secure->async_handshake(ssl::stream_base::client, handler);
        });
        if (ec) {
          m.Close();
          return Err("tls handshake " + where + ": " + (timed_out ? "timed out" : ec.message()));
        }
      }
      m.key = key;
    }
    auto ec = m.Run(deadline, &timed_out, [&](auto handler) {
      if (m.plain) {
        http::async_write(*m.plain, req, handler);
      } else {
        http::async_write(*m.secure, req, handler);
      }
    });
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body_bytes_);
    // The header first: Beast 1.74 does not enforce body_limit against a Content-Length, so
    // an answer announcing more than the limit is refused here, before its body is read.
    if (!ec) {
      ec = m.Run(deadline, &timed_out, [&](auto handler) {
        if (m.plain) {
          http::async_read_header(*m.plain, m.buf, parser, handler);
        } else {
          http::async_read_header(*m.secure, m.buf, parser, handler);
        }
      });
    }
    if (!ec && parser.content_length() && *parser.content_length() > max_body_bytes_) {
      m.Close();
      return Err("http " + where + ": body limit exceeded (" +
                 std::to_string(*parser.content_length()) + " bytes)");
    }
    if (!ec && !parser.is_done()) {
      ec = m.Run(deadline, &timed_out, [&](auto handler) {
        if (m.plain) {
          http::async_read(*m.plain, m.buf, parser, handler);
        } else {
          http::async_read(*m.secure, m.buf, parser, handler);
        }
      });
    }
    if (ec) {
      m.Close();
      if (reused && !timed_out && attempt == 0) continue;
      return Err("http " + where + ": " + (timed_out ? "timed out" : ec.message()));
    }
    auto& res = parser.get();
    if (res.body().size() > max_body_bytes_) {  // chunked: counted as it came
      m.Close();
      return Err("http " + where + ": body limit exceeded");
    }
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& h : res)
      out.headers[Lower(std::string_view(h.name_string().data(), h.name_string().size()))] =
          std::string(h.value());
    out.body = std::move(res.body());
    if (!res.keep_alive()) m.Close();
    return out;
  }
  return Err("http " + where + ": connection closed");
}

}  // namespace x402
