// Discord delivery: message format and limits (connectors/discord_format.h), the HTTP client
// (connectors/http_client.h) and the sink's policy for 2xx / 429 / 5xx / 404 / 400 / hangs
// (connectors/discord_sink.h), all against a real HTTP server on 127.0.0.1 (FakeDiscord).
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "connectors/discord_format.h"
#include "connectors/discord_sink.h"
#include "connectors/http_client.h"
#include "schemas/json_writer.h"
#include "tests/fake_discord.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using std::chrono::milliseconds;
using test::DiscordLimitViolations;
using test::FakeDiscord;
using test::FakeReply;
using test::FakeRequest;

std::string Hash(int n) {
  char buf[67];
  std::snprintf(buf, sizeof buf, "0x%064x", n);
  return buf;
}

// An EVENTS.md section 4 alert.
std::string AlertJson(int n, const std::string& kind = "recon.amount_mismatch",
                      const std::string& severity = "critical",
                      const std::string& transition = "opened",
                      const std::string& agent = "builder_agent",
                      std::vector<std::pair<std::string, std::string>> evidence = {},
                      const std::string& message = "", int reopen = 0) {
  const std::string fid = std::string(63 - std::to_string(n).size(), 'a') + "f" + std::to_string(n);
  if (evidence.empty()) {
    evidence = {{"payment_id", "pay-" + std::to_string(n)},
                {"network", "eip155:8453"},
                {"tx_hash", Hash(n)},
                {"amount", "1500000"},
                {"observed_amount", "1400000"}};
  }
  std::string f;
  JsonWriter fj(&f);
  fj.BeginObject()
      .Field("finding_id", fid)
      .Field("kind", kind)
      .Field("severity", severity)
      .Field("agent_id", agent)
      .Field("key", "eip155:8453|" + Hash(n) + "|3")
      .Field("status", transition == "opened" ? "open" : "resolved")
      .Field("opened_at", "2025-11-17T10:10:00.000Z");
  fj.Key("resolved_at");
  if (transition == "opened") {
    fj.Null();
  } else {
    fj.String("2025-11-17T11:00:00.000Z");
  }
  fj.Key("evidence").BeginObject();
  for (const auto& [k, v] : evidence) fj.Field(k, v);
  fj.EndObject();
  fj.Field("message", message.empty()
                          ? agent + " paid vendor-7 1.40 USDC on base but the ledger says 1.50 USDC"
                          : message);
  fj.EndObject();
  std::string out;
  JsonWriter j(&out);
  const std::string alert_id = fid + ":" + transition + ":" + std::to_string(reopen);
  j.BeginObject()
      .Field("alert_id", alert_id)
      .Field("finding_id", fid)
      .Field("transition", transition);
  j.Key("finding").Raw(f);
  j.EndObject();
  return out;
}

AlertRecord Rec(uint64_t seq, const std::string& json) {
  AlertRecord r;
  r.seq = seq;
  r.json = json;
  auto v = ParseAlertJson(json);
  r.alert_id = v ? v->alert_id : "bad";
  r.agent_id = v ? v->agent_id : "";
  return r;
}

std::vector<AlertView> Views(const std::vector<std::string>& jsons) {
  std::vector<AlertView> out;
  for (const auto& j : jsons) out.push_back(*ParseAlertJson(j));
  return out;
}

void ExpectWithinLimits(const std::string& body) {
  auto v = DiscordLimitViolations(body);
  EXPECT_TRUE(v.empty()) << v.front() << "\nin " << body.substr(0, 400);
}

// --- format -------------------------------------------------------------------------------

TEST(DiscordFormatTest, OneAlertReadsWell) {
  auto views = Views({AlertJson(1)});
  auto msgs = BuildDiscordMessages(views, {});
  ASSERT_EQ(msgs.size(), 1u);
  const std::string& b = msgs[0].json;
  ExpectWithinLimits(b);
  EXPECT_NE(b.find("\"title\":\"🔴 CRITICAL · recon.amount_mismatch\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"color\":15158332"), std::string::npos);
  EXPECT_NE(b.find("builder_agent paid vendor-7 1.40 USDC on base"), std::string::npos);
  EXPECT_NE(b.find("\"value\":\"1.500000 USDC\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"value\":\"1.400000 USDC\""), std::string::npos);
  EXPECT_NE(b.find("\"value\":\"Base\""), std::string::npos);
  EXPECT_NE(b.find("[0x0000…0001](https://basescan.org/tx/" + Hash(1) + ")"), std::string::npos)
      << b;
  EXPECT_NE(b.find("\"name\":\"Opened at\",\"value\":\"2025-11-17T10:10:00.000Z\""),
            std::string::npos);
  EXPECT_NE(b.find("\"footer\":{\"text\":\"alert " + views[0].alert_id + "\"}"), std::string::npos);
  EXPECT_EQ(test::FooterAlertIds(b), std::vector<std::string>{views[0].alert_id});
}

TEST(DiscordFormatTest, SeverityIconsResolvedAndReopened) {
  auto v = Views({AlertJson(1, "authorization.stale", "warning"),
                  AlertJson(2, "authorization.expired", "info"),
                  AlertJson(3, "wallet.balance_low", "critical", "resolved"),
                  AlertJson(4, "vendor.failure_streak", "warning", "opened", "a", {}, "", 2)});
  auto msgs = BuildDiscordMessages(v, {});
  ASSERT_EQ(msgs.size(), 1u);
  const std::string& b = msgs[0].json;
  EXPECT_NE(b.find("🟠 WARNING · authorization.stale"), std::string::npos);
  EXPECT_NE(b.find("🔵 INFO · authorization.expired"), std::string::npos);
  EXPECT_NE(b.find("✅ RESOLVED · wallet.balance_low"), std::string::npos);
  EXPECT_NE(b.find("🟠 WARNING · vendor.failure_streak (re-opened ×2)"), std::string::npos);
  EXPECT_NE(b.find("\"name\":\"Resolved at\""), std::string::npos);
  EXPECT_EQ(v[3].reopen_count, 2u);
}

TEST(DiscordFormatTest, ExactUsdcAmountsWithoutDoubles) {
  auto v = Views({AlertJson(
      1, "budget.exhausted", "critical", "opened", "a",
      {{"spend", "123456789012345678901234567890"}, {"limit", "1"}, {"committed", "0"}})});
  auto b = BuildDiscordMessages(v, {})[0].json;
  EXPECT_NE(b.find("123456789012345678901234.567890 USDC"), std::string::npos) << b;
  EXPECT_NE(b.find("0.000001 USDC"), std::string::npos);
  EXPECT_NE(b.find("0.000000 USDC"), std::string::npos);
}

TEST(DiscordFormatTest, TruncationIsUtf8SafeAndCountsUtf16) {
  EXPECT_EQ(Utf16Length("a€🔴"), 4u);  // 1 + 1 + 2 (surrogate pair)
  const std::string s = "ab🔴cd";
  EXPECT_EQ(TruncateUtf16(s, 6), s);
  EXPECT_EQ(TruncateUtf16(s, 5), "ab🔴…");
  EXPECT_EQ(TruncateUtf16(s, 4), "ab…");  // the emoji does not fit whole: not split
  EXPECT_EQ(TruncateUtf16(s, 3), "ab…");
  EXPECT_EQ(ShortHash(Hash(0xabcd)), "0x0000…abcd");
  EXPECT_EQ(ExplorerTxUrl("eip155:137", "0x1"), "https://polygonscan.com/tx/0x1");
  EXPECT_EQ(ExplorerTxUrl("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1", "x"),
            "https://solscan.io/tx/x?cluster=devnet");
  EXPECT_EQ(ExplorerTxUrl("eip155:999999", "0x1"), "");
}

TEST(DiscordFormatTest, OversizedEvidenceRespectsEveryLimit) {
  std::vector<std::pair<std::string, std::string>> ev;
  for (int i = 0; i < 40; ++i)
    ev.emplace_back(std::string(300, 'k') + std::to_string(i), std::string(2000, 'v') + "🔴");
  ev.emplace_back("amount", "99999999999999999999999999999999999999");
  std::string huge_message;
  for (int i = 0; i < 1200; ++i) huge_message += "é🔴xy";
  std::vector<std::string> jsons;
  for (int i = 0; i < 23; ++i) {
    jsons.push_back(AlertJson(i, std::string(300, 'K'), "critical", "opened",
                              std::string(500, 'A') + std::to_string(i), ev, huge_message));
  }
  auto views = Views(jsons);
  auto msgs = BuildDiscordMessages(views, {.storm_threshold = 0});
  std::set<size_t> covered;
  for (const auto& m : msgs) {
    ExpectWithinLimits(m.json);
    for (size_t i : m.alerts) EXPECT_TRUE(covered.insert(i).second);
  }
  EXPECT_EQ(covered.size(), jsons.size());
  EXPECT_EQ(msgs.size(), jsons.size());  // each embed is ~6000 characters: one per message
  ExpectWithinLimits(BuildMinimalDiscordMessage(views[0]).json);
}

TEST(DiscordFormatTest, GroupsUpToTenEmbedsPerMessage) {
  std::vector<std::string> jsons;
  for (int i = 0; i < 47; ++i)
    jsons.push_back(AlertJson(i, i % 2 ? "recon.amount_mismatch" : "authorization.stale"));
  auto msgs = BuildDiscordMessages(Views(jsons), {.storm_threshold = 0});
  ASSERT_EQ(msgs.size(), 5u);
  size_t next = 0;
  for (const auto& m : msgs) {
    ExpectWithinLimits(m.json);
    EXPECT_LE(m.embeds, 10u);
    for (size_t i : m.alerts) EXPECT_EQ(i, next++);  // in order, each once
  }
  EXPECT_EQ(next, 47u);
}

TEST(DiscordFormatTest, StormBecomesOneSummary) {
  std::vector<std::string> jsons;
  for (int i = 0; i < 37; ++i) {
    jsons.push_back(AlertJson(i, "recon.missing_on_chain", "critical", "opened",
                              i % 3 == 0 ? "builder_agent" : "research_agent"));
  }
  jsons.push_back(AlertJson(100, "authorization.stale", "warning"));
  auto msgs = BuildDiscordMessages(Views(jsons), {.storm_threshold = 10});
  ASSERT_EQ(msgs.size(), 1u);
  const std::string& b = msgs[0].json;
  ExpectWithinLimits(b);
  EXPECT_EQ(msgs[0].embeds, 2u);
  EXPECT_EQ(msgs[0].alerts.size(), 38u);  // every alert counted as delivered
  EXPECT_NE(b.find("37 × recon.missing_on_chain for research_agent (24), builder_agent (13)"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("STORM · 37 × recon.missing_on_chain"), std::string::npos);
  EXPECT_NE(b.find("\"value\":\"55.500000 USDC\""), std::string::npos);  // 37 × 1.50, exact
  // Below the threshold: one embed each.
  EXPECT_EQ(BuildDiscordMessages(Views(jsons), {.storm_threshold = 40})[0].embeds, 10u);
}

// --- HTTP client --------------------------------------------------------------------------

TEST(HttpClientTest, UrlRulesAndRedaction) {
  EXPECT_FALSE(HttpUrl::Parse("http://discord.com/api/webhooks/1/t").ok());
  EXPECT_FALSE(HttpUrl::Parse("ftp://x/y").ok());
  EXPECT_FALSE(HttpUrl::Parse("https://:443/x").ok());
  auto u = HttpUrl::Parse("https://Discord.com/api/webhooks/123/tok?thread_id=9");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "discord.com");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/api/webhooks/123/tok?thread_id=9");
  EXPECT_EQ(u->Redacted(), "https://discord.com/api/****");
  EXPECT_EQ(RedactUrl("https://discord.com/api/webhooks/123/tok"), "https://discord.com/api/****");
  EXPECT_EQ(RedactUrl("garbage-with-token"), "garbage-with-token");
  EXPECT_EQ(RedactUrl("https://user:pass@hooks.example.com/api/x/tok"), "https://****@hooks.example.com/api/****");
  EXPECT_EQ(RedactUrl("https://user:pass@host"), "https://****@host");
  auto err = HttpUrl::Parse("http://evil.example/api/webhooks/1/SECRET");
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().find("SECRET"), std::string::npos) << err.error();
  EXPECT_TRUE(HttpUrl::Parse("http://127.0.0.1:8080/x").ok());
  EXPECT_TRUE(HttpUrl::Parse("http://localhost/x").ok());
}

TEST(HttpClientTest, KeepAliveReusesOneConnection) {
  FakeDiscord server;
  BeastHttpClient client;
  auto url = *HttpUrl::Parse(server.Url());
  for (int i = 0; i < 5; ++i) {
    auto r = client.Post(url, "{}", "application/json", milliseconds(2000));
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->status, 204);
  }
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(server.connections(), 1u);
}

TEST(HttpClientTest, TimeoutAndRefusedAreErrorsWithoutTheUrl) {
  FakeDiscord server;
  server.Respond([](const FakeRequest&, size_t) { return FakeReply{.hang = true}; });
  BeastHttpClient client;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client.Post(*HttpUrl::Parse(server.Url()), "{}", "application/json", milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("timed out"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find("secret-token"), std::string::npos);
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(3000));
  server.Stop();
  auto r2 =
      client.Post(*HttpUrl::Parse(server.Url()), "{}", "application/json", milliseconds(1000));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().find("secret-token"), std::string::npos);
}

TEST(HttpClientTest, HttpsVerifiesThePeer) {
  // A TLS handshake against a plain-HTTP port must fail cleanly (no crash, no hang).
  FakeDiscord server;
  BeastHttpClient client;
  HttpUrl u = *HttpUrl::Parse(server.Url());
  u.tls = true;
  auto r = client.Post(u, "{}", "application/json", milliseconds(2000));
  EXPECT_FALSE(r.ok());
}

// A one-connection HTTPS server on 127.0.0.1 with a certificate for "localhost" made by the
// openssl command: answers 204 to every request on the connection and records the SNI name.
class TlsServer {
 public:
  explicit TlsServer(const std::string& dir) : acceptor_(ioc_) {
    cert_ = dir + "/cert.pem";
    key_ = dir + "/key.pem";
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost -keyout " +
        key_ + " -out " + cert_ + " >/dev/null 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) return;
    ctx_.use_certificate_chain_file(cert_);
    ctx_.use_private_key_file(key_, boost::asio::ssl::context::pem);
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    if (thread_.joinable()) {
      ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
      thread_.join();
    }
  }
  bool ok() const { return ok_; }
  const std::string& cert() const { return cert_; }
  int port() const { return port_; }
  std::string sni() {
    std::lock_guard<std::mutex> l(mu_);
    return sni_;
  }
  int requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void Serve() {
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket sock(ioc_);
    acceptor_.accept(sock, ec);
    if (ec) return;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> tls(std::move(sock), ctx_);
    tls.handshake(boost::asio::ssl::stream_base::server, ec);
    if (const char* name = SSL_get_servername(tls.native_handle(), TLSEXT_NAMETYPE_host_name)) {
      std::lock_guard<std::mutex> l(mu_);
      sni_ = name;
    }
    if (ec) return;
    boost::beast::flat_buffer buf;
    while (true) {
      http::request<http::string_body> req;
      http::read(tls, buf, req, ec);
      if (ec) return;
      {
        std::lock_guard<std::mutex> l(mu_);
        ++requests_;
      }
      http::response<http::empty_body> res{http::status::no_content, 11};
      res.keep_alive(true);
      http::write(tls, res, ec);
      if (ec) return;
    }
  }
  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_{boost::asio::ssl::context::tls_server};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::string cert_, key_, sni_;
  int port_ = 0, requests_ = 0;
  bool ok_ = false;
  std::mutex mu_;
  std::thread thread_;
};

TEST(HttpClientTest, HttpsWithSniAndPeerVerification) {
  test::TempDir dir;
  {
    // Untrusted (self-signed, not in the CA store): the handshake fails, nothing is sent.
    TlsServer server(dir.path());
    if (!server.ok()) GTEST_SKIP() << "openssl command not available";
    ::unsetenv("SSL_CERT_FILE");
    BeastHttpClient client;
    auto r = client.Post(
        *HttpUrl::Parse("https://localhost:" + std::to_string(server.port()) + "/api/webhooks/1/t"),
        "{}", "application/json", milliseconds(3000));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("tls handshake"), std::string::npos) << r.error();
    EXPECT_EQ(server.requests(), 0);
  }
  {
    // Trusted through SSL_CERT_FILE (read by the default verify paths): SNI sent, keep-alive.
    TlsServer server(dir.path());
    ::setenv("SSL_CERT_FILE", server.cert().c_str(), 1);
    BeastHttpClient client;
    auto url =
        *HttpUrl::Parse("https://localhost:" + std::to_string(server.port()) + "/api/webhooks/1/t");
    for (int i = 0; i < 2; ++i) {
      auto r = client.Post(url, "{}", "application/json", milliseconds(3000));
      ASSERT_TRUE(r.ok()) << r.error();
      EXPECT_EQ(r->status, 204);
    }
    EXPECT_EQ(server.sni(), "localhost");
    EXPECT_EQ(client.connections_opened(), 1u);
    ::unsetenv("SSL_CERT_FILE");
  }
  {
    // Trusted certificate, wrong name (the certificate is for localhost, not 127.0.0.1).
    TlsServer server(dir.path());
    ::setenv("SSL_CERT_FILE", server.cert().c_str(), 1);
    BeastHttpClient client;
    auto r =
        client.Post(*HttpUrl::Parse("https://127.0.0.1:" + std::to_string(server.port()) + "/x"),
                    "{}", "application/json", milliseconds(3000));
    ::unsetenv("SSL_CERT_FILE");
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(server.requests(), 0);
  }
}

// --- sink policy --------------------------------------------------------------------------

DiscordSinkOptions FastOptions(const std::string& url) {
  DiscordSinkOptions o;
  o.url = url;
  o.timeout = milliseconds(500);
  o.backoff_base = milliseconds(50);
  o.backoff_cap = milliseconds(400);
  o.probe_interval = milliseconds(200);
  o.jitter_seed = 7;
  o.format.storm_threshold = 0;  // one embed per alert: message boundaries are predictable
  return o;
}

std::unique_ptr<DiscordSink> Make(DiscordSinkOptions o) {
  auto s = DiscordSink::Create(std::move(o));
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

TEST(DiscordSinkTest, HappyPathPostsWithWaitTrue) {
  FakeDiscord server;
  auto sink = Make(FastOptions(server.Url()));
  EXPECT_EQ(sink->name().find("secret"), std::string::npos);
  std::vector<AlertRecord> recs{Rec(0, AlertJson(1)), Rec(1, AlertJson(2))};
  auto a = sink->Deliver(recs);
  EXPECT_EQ(a.handled, 2u);
  EXPECT_EQ(a.delivered, 2u);
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/api/webhooks/1234/secret-token?wait=true");
  EXPECT_EQ(reqs[0].headers["Content-Type"], "application/json");
  ExpectWithinLimits(reqs[0].body);
  auto ids = test::FooterAlertIds(reqs[0].body);
  EXPECT_EQ(ids, (std::vector<std::string>{recs[0].alert_id, recs[1].alert_id}));
}

TEST(DiscordSinkTest, RetryAfterParsing) {
  HttpResponse r;
  r.status = 429;
  r.body = R"({"message":"You are being rate limited.","retry_after":0.35,"global":false})";
  EXPECT_EQ(RetryAfterOf(r), milliseconds(350));
  r.body = R"({"retry_after":350000})";  // implausible as seconds: milliseconds
  EXPECT_EQ(RetryAfterOf(r), milliseconds(350000));
  r.body = "{}";
  r.headers["retry-after"] = "2";
  EXPECT_EQ(RetryAfterOf(r), milliseconds(2000));
  r.headers["x-ratelimit-reset-after"] = "2.5";
  EXPECT_EQ(RetryAfterOf(r), milliseconds(2500));  // the longest wins
}

TEST(DiscordSinkTest, RateLimitIsHonoured) {
  FakeDiscord server;
  server.Respond([](const FakeRequest&, size_t i) {
    if (i == 0) return FakeReply{.status = 429, .body = R"({"retry_after":0.4,"global":false})"};
    // The bucket is then empty for 0.3 s: the next message must wait for it too.
    if (i == 1)
      return FakeReply{
          .status = 200,
          .body = "{}",
          .headers = {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset-After", "0.3"}}};
    return FakeReply{.status = 200, .body = "{}"};
  });
  auto sink = Make(FastOptions(server.Url()));
  std::vector<AlertRecord> recs;
  for (int i = 0; i < 15; ++i)
    recs.push_back(Rec(i, AlertJson(i)));  // two messages (10 + 5 embeds)
  size_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (done < recs.size() && std::chrono::steady_clock::now() < deadline) {
    auto a = sink->Deliver(std::span<const AlertRecord>(recs).subspan(done));
    EXPECT_FALSE(a.failed);  // a 429 is not a failure
    done += a.handled;
    if (done < recs.size()) {
      // A caller that sleeps less than asked is refused without a request.
      const size_t before = server.RequestCount();
      auto early = sink->Deliver(std::span<const AlertRecord>(recs).subspan(done));
      EXPECT_EQ(early.handled, 0u);
      EXPECT_EQ(server.RequestCount(), before);
      std::this_thread::sleep_for(std::max(a.retry_after, early.retry_after));
    }
  }
  EXPECT_EQ(done, recs.size());
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_GE(reqs[1].at - reqs[0].at, milliseconds(400));
  EXPECT_GE(reqs[2].at - reqs[1].at, milliseconds(300));
  for (const auto& r : reqs) ExpectWithinLimits(r.body);
}

TEST(DiscordSinkTest, ServerErrorsBackOffThenSucceed) {
  FakeDiscord server;
  server.Respond(
      [](const FakeRequest&, size_t i) { return FakeReply{.status = i < 3 ? 500 : 204}; });
  auto sink = Make(FastOptions(server.Url()));
  std::vector<AlertRecord> recs{Rec(0, AlertJson(1))};
  std::vector<milliseconds> waits;
  for (int i = 0; i < 10; ++i) {
    auto a = sink->Deliver(recs);
    if (a.handled == 1) break;
    EXPECT_TRUE(a.failed);
    EXPECT_EQ(a.error.find("secret"), std::string::npos);
    waits.push_back(a.retry_after);
    std::this_thread::sleep_for(a.retry_after);
  }
  ASSERT_EQ(waits.size(), 3u);
  // Exponential with jitter in [d/2, d]: 50, 100, 200 ms.
  EXPECT_GE(waits[0], milliseconds(25));
  EXPECT_LE(waits[0], milliseconds(50));
  EXPECT_GE(waits[1], milliseconds(50));
  EXPECT_LE(waits[1], milliseconds(100));
  EXPECT_GE(waits[2], milliseconds(100));
  EXPECT_LE(waits[2], milliseconds(200));
  EXPECT_EQ(server.RequestCount(), 4u);
  EXPECT_FALSE(sink->circuit_open());
}

TEST(DiscordSinkTest, CircuitBreakerProbesWithOneMessage) {
  FakeDiscord server;
  std::atomic<bool> healthy{false};
  server.Respond(
      [&](const FakeRequest&, size_t) { return FakeReply{.status = healthy ? 204 : 503}; });
  auto sink = Make(FastOptions(server.Url()));
  std::vector<AlertRecord> recs;
  for (int i = 0; i < 25; ++i) recs.push_back(Rec(i, AlertJson(i)));  // three messages
  for (int i = 0; i < 5; ++i) {
    auto a = sink->Deliver(recs);
    EXPECT_TRUE(a.failed);
  }
  EXPECT_TRUE(sink->circuit_open());
  auto a = sink->Deliver(recs);
  EXPECT_TRUE(a.circuit_open);
  EXPECT_GE(a.retry_after, milliseconds(200));  // spaced by the probe interval
  healthy = true;
  const size_t before = server.RequestCount();
  a = sink->Deliver(recs);
  EXPECT_EQ(server.RequestCount(), before + 1);  // a single probe
  EXPECT_EQ(a.handled, 10u);
  EXPECT_FALSE(sink->circuit_open());
  a = sink->Deliver(std::span<const AlertRecord>(recs).subspan(10));
  EXPECT_EQ(a.handled, 15u);
}

TEST(DiscordSinkTest, NotFoundDisablesForGood) {
  for (int status : {404, 401, 403}) {
    FakeDiscord server;
    server.Respond([status](const FakeRequest&, size_t) {
      return FakeReply{.status = status,
                       .body = R"({"message": "Unknown Webhook", "code": 10015})"};
    });
    auto sink = Make(FastOptions(server.Url()));
    std::vector<AlertRecord> recs{Rec(0, AlertJson(1))};
    auto a = sink->Deliver(recs);
    EXPECT_TRUE(a.disabled);
    EXPECT_EQ(a.handled, 0u);
    EXPECT_EQ(a.error.find("secret-token"), std::string::npos) << a.error;
    EXPECT_NE(a.error.find(std::to_string(status)), std::string::npos);
    a = sink->Deliver(recs);
    EXPECT_TRUE(a.disabled);
    EXPECT_EQ(server.RequestCount(), 1u);  // never retried
    EXPECT_TRUE(sink->disabled());
  }
}

TEST(DiscordSinkTest, BadRequestShrinksOnceThenDeadLetters) {
  FakeDiscord server;
  // The grouped message and alert 2's minimal retry are refused; alert 1's minimal is accepted.
  server.Respond([](const FakeRequest& r, size_t i) {
    if (i == 0) return FakeReply{.status = 400, .body = R"({"embeds": ["0"]})"};
    const bool two = r.body.find("f2:opened:0") != std::string::npos;
    return two ? FakeReply{.status = 400, .body = R"({"message":"Invalid Form Body"})"}
               : FakeReply{.status = 204};
  });
  auto o = FastOptions(server.Url());
  std::vector<std::pair<std::string, std::string>> dead;
  o.dead_letter = [&](const AlertRecord& r, int status, const std::string& body) {
    EXPECT_EQ(status, 400);
    dead.emplace_back(r.alert_id, body);
    return true;
  };
  auto sink = Make(o);
  std::vector<AlertRecord> recs{Rec(0, AlertJson(1)), Rec(1, AlertJson(2))};
  auto a = sink->Deliver(recs);
  EXPECT_EQ(a.handled, 2u);
  EXPECT_EQ(a.delivered, 1u);
  EXPECT_EQ(a.dead_lettered, 1u);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].first, recs[1].alert_id);
  EXPECT_NE(dead[0].second.find("Invalid Form Body"), std::string::npos);
  EXPECT_EQ(server.RequestCount(), 3u);
  for (const auto& r : server.Requests()) ExpectWithinLimits(r.body);
}

TEST(DiscordSinkTest, AnAlertWhoseDeadLetterCannotBeWrittenIsNotAcknowledged) {
  FakeDiscord server;
  server.Respond([](const FakeRequest&, size_t) {
    return FakeReply{.status = 400, .body = R"({"message":"Invalid Form Body"})"};
  });
  auto o = FastOptions(server.Url());
  o.dead_letter = [](const AlertRecord&, int, const std::string&) { return false; };  // disk full
  auto sink = Make(o);
  std::vector<AlertRecord> recs{Rec(0, AlertJson(1))};
  auto a = sink->Deliver(recs);
  EXPECT_EQ(a.handled, 0u);  // stays in the outbox, retried later
  EXPECT_EQ(a.dead_lettered, 0u);
}

TEST(DiscordSinkTest, HangingServerTimesOutAndIsRetried) {
  FakeDiscord server;
  server.Respond(
      [](const FakeRequest&, size_t i) { return i == 0 ? FakeReply{.hang = true} : FakeReply{}; });
  auto sink = Make(FastOptions(server.Url()));
  std::vector<AlertRecord> recs{Rec(0, AlertJson(1))};
  auto a = sink->Deliver(recs);
  EXPECT_TRUE(a.failed);
  EXPECT_EQ(a.handled, 0u);
  std::this_thread::sleep_for(a.retry_after);
  a = sink->Deliver(recs);
  EXPECT_EQ(a.handled, 1u);
  EXPECT_EQ(server.RequestCount(), 2u);
}

}  // namespace
}  // namespace x402
