// FakeDiscord: a real HTTP/1.1 server on 127.0.0.1 (Boost.Beast, one thread per connection,
// keep-alive) standing in for Discord's webhook endpoint in tests and benchmarks. It records
// every request (arrival time, target, headers, body) and answers as told: by default 204,
// or per request through Respond(), which may also hang (never answer until Stop or
// ReleaseHangs) or close the connection without answering.
//
// DiscordLimitViolations() checks a recorded body against Discord's documented limits with
// its own JSON parsing and UTF-16 counting, independent of connectors/discord_format.
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <simdjson.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace x402::test {

struct FakeRequest {
  std::chrono::steady_clock::time_point at;
  std::string target, body;
  std::map<std::string, std::string> headers;
};

struct FakeReply {
  int status = 204;
  std::string body;
  std::map<std::string, std::string> headers;
  bool hang = false;   // do not answer (until Stop / ReleaseHangs), then close
  bool close = false;  // close the connection without answering
};

class FakeDiscord {
 public:
  // Called for every request (index from 0) to choose the reply; runs on a connection thread.
  using Responder = std::function<FakeReply(const FakeRequest&, size_t index)>;

  FakeDiscord() : acceptor_(ioc_) {
    namespace asio = boost::asio;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeDiscord() { Stop(); }

  int port() const { return port_; }
  std::string Url(const std::string& path = "/api/webhooks/1234/secret-token") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void Respond(Responder r) {
    std::lock_guard<std::mutex> l(mu_);
    responder_ = std::move(r);
  }
  std::vector<FakeRequest> Requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  size_t RequestCount() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_.size();
  }
  // Waits until at least n requests arrived; false on timeout.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return requests_.size() >= n; });
  }
  size_t connections() const { return connections_.load(); }
  void ReleaseHangs() {
    std::lock_guard<std::mutex> l(mu_);
    ++release_gen_;
    cv_.notify_all();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
      cv_.notify_all();
    }
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    boost::system::error_code ec;
    {
      // Unblock accept() with a connection of our own.
      boost::asio::ip::tcp::socket s(ioc_);
      s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)},
                ec);
    }
    if (accept_thread_.joinable()) accept_thread_.join();
    acceptor_.close(ec);
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> l(mu_);
      threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  void AcceptLoop() {
    while (true) {
      boost::system::error_code ec;
      auto sock = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
      acceptor_.accept(*sock, ec);
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) return;
      if (ec) continue;
      ++connections_;
      fds_.insert(sock->native_handle());
      conn_threads_.emplace_back([this, sock] { Serve(sock); });
    }
  }

  void Serve(std::shared_ptr<boost::asio::ip::tcp::socket> sock) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    while (true) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(*sock, buf, req, ec);
      if (ec) break;
      FakeRequest r;
      r.at = std::chrono::steady_clock::now();
      r.target = std::string(req.target());
      r.body = req.body();
      for (const auto& h : req) r.headers[std::string(h.name_string())] = std::string(h.value());
      Responder responder;
      size_t index;
      {
        std::lock_guard<std::mutex> l(mu_);
        index = requests_.size();
        requests_.push_back(r);
        responder = responder_;
        cv_.notify_all();
      }
      FakeReply reply = responder ? responder(r, index) : FakeReply{};
      if (reply.hang) {
        std::unique_lock<std::mutex> l(mu_);
        const uint64_t gen = release_gen_;
        cv_.wait(l, [&] { return stopped_ || release_gen_ != gen; });
        break;
      }
      if (reply.close) break;
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::server, "fake-discord");
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      if (!reply.body.empty()) res.set(http::field::content_type, "application/json");
      res.body() = reply.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(*sock, res, ec);
      if (ec || !req.keep_alive()) break;
    }
    std::lock_guard<std::mutex> l(mu_);
    fds_.erase(sock->native_handle());
    boost::system::error_code ignored;
    sock->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    sock->close(ignored);
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<FakeRequest> requests_;
  Responder responder_;
  std::vector<std::thread> conn_threads_;
  std::set<int> fds_;
  std::atomic<size_t> connections_{0};
  uint64_t release_gen_ = 0;
  bool stopped_ = false;
};

// UTF-16 code units of a UTF-8 string (what Discord counts).
inline size_t Utf16Units(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n += c >= 0xF0 ? 2 : 1;
  }
  return n;
}

// Every way `body` breaks Discord's webhook limits; empty when it respects them all.
inline std::vector<std::string> DiscordLimitViolations(const std::string& body) {
  std::vector<std::string> v;
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc)) return {"not JSON"};
  auto check = [&](std::string_view what, std::string_view s, size_t max) {
    if (Utf16Units(s) > max)
      v.push_back(std::string(what) + " has " + std::to_string(Utf16Units(s)) + " > " +
                  std::to_string(max));
    if (!simdjson::validate_utf8(s.data(), s.size()))
      v.push_back(std::string(what) + " is not valid UTF-8");
  };
  std::string_view content;
  if (!doc["content"].get_string().get(content)) check("content", content, 2000);
  simdjson::dom::array embeds;
  if (doc["embeds"].get_array().get(embeds)) {
    if (content.empty()) v.push_back("neither content nor embeds");
    return v;
  }
  if (embeds.size() > 10) v.push_back("embeds: " + std::to_string(embeds.size()) + " > 10");
  if (embeds.size() == 0 && content.empty()) v.push_back("no embeds and no content");
  size_t total = 0;
  for (simdjson::dom::element e : embeds) {
    std::string_view s;
    if (!e["title"].get_string().get(s)) {
      check("title", s, 256);
      total += Utf16Units(s);
    }
    if (!e["description"].get_string().get(s)) {
      check("description", s, 4096);
      total += Utf16Units(s);
    }
    if (!e["footer"]["text"].get_string().get(s)) {
      check("footer", s, 2048);
      total += Utf16Units(s);
    }
    if (!e["author"]["name"].get_string().get(s)) {
      check("author", s, 256);
      total += Utf16Units(s);
    }
    simdjson::dom::array fields;
    if (!e["fields"].get_array().get(fields)) {
      if (fields.size() > 25) v.push_back("fields: " + std::to_string(fields.size()) + " > 25");
      for (simdjson::dom::element f : fields) {
        std::string_view name, value;
        if (f["name"].get_string().get(name) || name.empty()) v.push_back("field without a name");
        if (f["value"].get_string().get(value) || value.empty())
          v.push_back("field without a value");
        check("field name", name, 256);
        check("field value", value, 1024);
        total += Utf16Units(name) + Utf16Units(value);
      }
    }
  }
  if (total > 6000) v.push_back("embeds total " + std::to_string(total) + " > 6000");
  return v;
}

// The alert ids a recorded body carries in its embeds' footers ("alert <id>"; storm
// summaries name only their first alert).
inline std::vector<std::string> FooterAlertIds(const std::string& body) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  simdjson::dom::array embeds;
  if (parser.parse(padded).get(doc) || doc["embeds"].get_array().get(embeds)) return out;
  for (simdjson::dom::element e : embeds) {
    std::string_view s;
    if (e["footer"]["text"].get_string().get(s)) continue;
    if (s.starts_with("alert ")) out.emplace_back(s.substr(6));
  }
  return out;
}

}  // namespace x402::test
