// The HTTP API and metrics against a real engine: every endpoint over a real HTTP server on
// 127.0.0.1 (happy and error paths), metrics that move as events are applied, the cardinality
// cap with 10,000 agents, request limits and the bearer token.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <regex>
#include <thread>

#include "api/api_service.h"
#include "api/http_server.h"
#include "api/log.h"
#include "api/metrics.h"
#include "api/pipeline_queue.h"
#include "api/state_reader.h"
#include "replay/report.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using namespace test;

struct Response {
  int status = 0;
  std::string head, body;
};

// Sends `raw` on a fresh connection and reads until the server closes it.
Response Send(uint16_t port, const std::string& raw) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Response r;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return r;
  }
  size_t off = 0;
  while (off < raw.size()) {
    ssize_t n = ::send(fd, raw.data() + off, raw.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string all;
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t sep = all.find("\r\n\r\n");
  if (all.size() > 12 && all.starts_with("HTTP/1.1 ")) r.status = std::stoi(all.substr(9, 3));
  r.head = all.substr(0, sep);
  if (sep != std::string::npos) r.body = all.substr(sep + 4);
  return r;
}

Response Get(uint16_t port, const std::string& target, const std::string& extra = "") {
  return Send(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                        extra + "\r\n");
}

// Engine with metrics, a server on a free port and the report queue pumped by a thread that
// plays the pipeline thread.
class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(""); }
  void TearDown() override { Close(); }

  void Open(const std::string& token) {
    EngineOptions o;
    o.store.path = tmp_.path() + "/state";
    o.observer = &metrics_;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error();
    engine_ = std::move(*e);
    ApiServiceOptions so;
    so.store = engine_->store();
    so.config = &engine_->config();
    so.metrics = &metrics_;
    so.readiness = [this] {
      Readiness r;
      for (const auto& s : board_.Snapshot()) {
        if (s.disabled) r.checks.push_back({"alert_sinks", false, "disabled: " + s.name});
      }
      r.checks.push_back({"input", true, "every input file consumed"});
      for (const auto& c : r.checks) r.ready = r.ready && c.ok;
      return r;
    };
    so.report = [this](ReportFormat format) -> std::optional<std::string> {
      return queue_.Run(
          [this, format] {
            Report r = BuildReport(*engine_, engine_->watermarks().at(0), nullptr);
            return format == ReportFormat::kHtml ? r.ToHtml() : r.ToJson();
          },
          std::chrono::seconds(10));
    };
    so.token = token;
    service_ = std::make_unique<ApiService>(std::move(so));
    metrics_.SetSinkBoard(&board_);
    metrics_.SetReadiness([svc = service_.get()] {
      return svc->Handle({"GET", "/readyz", ""}).status == 200;
    });
    HttpServerOptions ho;
    ho.port = 0;
    ho.max_request_bytes = 4096;
    ho.head_timeout = ho.body_timeout = ho.idle_timeout = ho.write_timeout =
        std::chrono::milliseconds(500);
    ho.probe = &metrics_.http();
    auto s = HttpServer::Start(
        ho, [svc = service_.get()](const HttpRequest& r) { return svc->Handle(r); });
    ASSERT_TRUE(s) << s.error();
    server_ = std::move(*s);
    port_ = server_->port();
    pump_stop_ = false;
    pump_ = std::thread([this] {
      while (!pump_stop_) {
        {
          std::lock_guard<std::mutex> l(engine_mu_);
          queue_.Drain();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }

  void Close() {
    pump_stop_ = true;
    if (pump_.joinable()) pump_.join();
    server_.reset();
    service_.reset();
    engine_.reset();
  }

  void Feed(const std::vector<std::string>& lines) {
    std::lock_guard<std::mutex> l(engine_mu_);
    std::vector<std::string> padded;
    std::vector<SourceRecord> recs;
    padded.reserve(lines.size());
    for (const auto& line : lines) padded.push_back(line + std::string(64, ' '));
    for (size_t i = 0; i < lines.size(); ++i) {
      SourceRecord r;
      r.bytes = std::string_view(padded[i].data(), lines[i].size());
      r.length = lines[i].size();
      r.origin = "test";
      r.index = ++line_;
      recs.push_back(r);
    }
    Status st = engine_->ProcessBatch(recs, {});
    ASSERT_TRUE(st.ok()) << st.error();
  }

  void Probe(size_t top_n = 100) {
    metrics_.SetProbeFamilies(
        ProbeState(engine_->store(), engine_->config(), top_n, 1763380000000, &probe_));
  }

  // The sample value of `series` (exact text up to the value) in /metrics, or -1.
  double Sample(const std::string& series) {
    Response r = Get(port_, "/metrics");
    EXPECT_EQ(r.status, 200);
    size_t pos = 0;
    while ((pos = r.body.find(series + " ", pos)) != std::string::npos) {
      if (pos == 0 || r.body[pos - 1] == '\n')
        return std::stod(r.body.substr(pos + series.size() + 1));
      pos += series.size();
    }
    return -1;
  }

  // A small scenario: limits, two payments (one settled and matched on chain, one pending),
  // a wallet with a low balance, a duplicate and a malformed line.
  void FeedScenario() {
    Auth a1;
    a1.payment_id = "pay-1";
    a1.amount = "3000000";
    a1.nonce = 1;
    Auth a2 = a1;
    a2.payment_id = "pay-2";
    a2.amount = "4000000";
    a2.nonce = 2;
    a2.time = "2025-11-17T10:01:00.000Z";
    a2.valid_before = 1763373600 + 3600;
    Transfer t;
    t.amount = "3000000";
    t.time = "2025-11-17T10:00:20.000Z";
    t.block_time = "2025-11-17T10:00:15.000Z";
    Feed({LimitsSet(
              "builder_agent", "l1", "2025-11-17T09:00:00.000Z",
              "{\"daily_limit\":\"20\",\"monthly_limit\":\"500\",\"per_transaction_max\":\"5\"}"),
          WalletRegistered("builder_agent", "w1", "2025-11-17T09:00:00.000Z", "base", Addr(0xA1)),
          WalletBalance("builder_agent", "b1", "2025-11-17T09:00:00.000Z", "base", Addr(0xA1),
                        "40000000", 100),
          Authorized(a1, "e1"),
          Settled("builder_agent", "pay-1", "s1", "2025-11-17T10:00:10.000Z", 0xF1),
          ChainTransfer(t, "t1"), Authorized(a2, "e2"), Authorized(a2, "e2"), "{not json"});
  }

  TempDir tmp_;
  Metrics metrics_;
  SinkStatusBoard board_;
  PipelineQueue queue_;
  std::mutex engine_mu_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  std::thread pump_;
  std::atomic<bool> pump_stop_{false};
  uint64_t line_ = 0;
  ProbeSummary probe_;
};

TEST_F(ApiTest, HealthAndReadiness) {
  Response h = Get(port_, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "{\"status\":\"ok\"}\n");
  EXPECT_NE(h.head.find("Content-Type: application/json"), std::string::npos);
  Response r = Get(port_, "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"ready\":true"), std::string::npos);
  EXPECT_EQ(Sample("x402_ready"), 1);
  std::atomic<bool> disabled{true};
  board_.AddProvider([&] {
    return std::vector<SinkStatus>{
        {"discord:ops", 3, 2, 7, disabled.load(), "HTTP 401 from webhook"}};
  });
  r = Get(port_, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"ready\":false"), std::string::npos);
  EXPECT_NE(r.body.find("disabled: discord:ops"), std::string::npos) << r.body;
  EXPECT_EQ(Sample("x402_ready"), 0);
  EXPECT_EQ(Sample("x402_alert_sink_disabled{sink=\"discord:ops\"}"), 1);
  EXPECT_EQ(Sample("x402_alerts_delivered_total{outcome=\"delivered\",sink=\"discord:ops\"}"), 3);
  EXPECT_EQ(Sample("x402_alerts_delivered_total{outcome=\"failed\",sink=\"discord:ops\"}"), 2);
  EXPECT_EQ(Sample("x402_alert_sink_pending{sink=\"discord:ops\"}"), 7);
  disabled = false;
  EXPECT_EQ(Get(port_, "/readyz").status, 200);
}

TEST_F(ApiTest, MetricsMoveAsEventsAreApplied) {
  Probe();
  EXPECT_EQ(Sample("x402_events_total{outcome=\"applied\",type=\"x402.payment.authorized\"}"), 0);
  FeedScenario();
  Probe();
  EXPECT_EQ(Sample("x402_events_total{outcome=\"applied\",type=\"x402.payment.authorized\"}"), 2);
  EXPECT_EQ(Sample("x402_events_total{outcome=\"duplicate\",type=\"x402.payment.authorized\"}"), 1);
  EXPECT_EQ(Sample("x402_events_total{outcome=\"dead_letter\",type=\"unknown\"}"), 1);
  EXPECT_EQ(Sample("x402_deadletters_total{reason=\"not_json\"}"), 1);
  EXPECT_EQ(Sample("x402_batches_total{outcome=\"ok\"}"), 1);
  EXPECT_EQ(Sample("x402_batch_commit_seconds_count"), 1);
  EXPECT_EQ(Sample("x402_payments_total{network=\"eip155:8453\",status=\"authorized\"}"), 2);
  EXPECT_EQ(Sample("x402_payments_total{network=\"eip155:8453\",status=\"settled\"}"), 1);
  EXPECT_EQ(Sample("x402_spend_usdc_total{network=\"eip155:8453\"}"), 3);
  // 3 + 4 USDC of a 20 USDC daily limit.
  EXPECT_EQ(Sample("x402_agent_spend_usdc{agent=\"builder_agent\",period=\"day\"}"), 7);
  EXPECT_EQ(Sample("x402_agent_budget_utilization_ratio{agent=\"builder_agent\",period=\"day\"}"),
            0.35);
  EXPECT_EQ(Sample("x402_agent_budget_utilization_ratio{agent=\"builder_agent\",period=\"month\"}"),
            0.014);
  EXPECT_EQ(
      Sample("x402_wallet_balance_usdc{address=\"" + Addr(0xA1) + "\",network=\"eip155:8453\"}"),
      40);
  EXPECT_EQ(Sample("x402_findings_open{kind=\"wallet.balance_low\",severity=\"critical\"}"), 1);
  EXPECT_EQ(Sample("x402_findings_opened_total{kind=\"wallet.balance_low\"}"), 1);
  EXPECT_GE(Sample("x402_outbox_pending"), 1);
  EXPECT_GT(Sample("x402_watermark_lag_seconds"), 0);
  EXPECT_GE(Sample("x402_rocksdb_memtable_bytes"), 0);
  EXPECT_GE(Sample("x402_rocksdb_live_data_bytes"), 0);
  EXPECT_GE(Sample("x402_rocksdb_pending_compaction_bytes"), 0);
  // The stale timer fires once the watermark passes 10:01 + 900 s.
  EXPECT_EQ(Sample("x402_stale_authorizations"), 0);
  Feed({WalletBalance("builder_agent", "b2", "2025-11-17T10:20:00.000Z", "base", Addr(0xA1),
                      "300000000", 101)});
  Probe();
  EXPECT_EQ(Sample("x402_stale_authorizations"), 1);
  EXPECT_EQ(Sample("x402_findings_open{kind=\"wallet.balance_low\",severity=\"critical\"}"), 0);
  EXPECT_EQ(Sample("x402_findings_resolved_total{kind=\"wallet.balance_low\"}"), 1);
  EXPECT_EQ(
      Sample("x402_wallet_balance_usdc{address=\"" + Addr(0xA1) + "\",network=\"eip155:8453\"}"),
      300);
  EXPECT_EQ(Sample("x402_batches_total{outcome=\"ok\"}"), 2);
  // Sampled apply latency: 10 records so far, every 64th is timed.
  std::vector<std::string> many;
  for (int i = 0; i < 128; ++i) {
    many.push_back(WalletBalance("builder_agent", "bb" + std::to_string(i),
                                 "2025-11-17T10:21:00.000Z", "base", Addr(0xA1), "300000000",
                                 102 + i));
  }
  Feed(many);
  EXPECT_EQ(Sample("x402_event_apply_seconds_count"), 2);
  // The consumer lag family appears once a Kafka source reports.
  EXPECT_EQ(Sample("x402_consumer_lag_events{partition=\"3\",topic=\"x402.events\"}"), -1);
  metrics_.SetConsumerLags({{"x402.events", 3, 42}});
  EXPECT_EQ(Sample("x402_consumer_lag_events{partition=\"3\",topic=\"x402.events\"}"), 42);
}

TEST_F(ApiTest, Agent) {
  EXPECT_EQ(Get(port_, "/v1/agents/builder_agent").status, 404);  // nothing applied yet
  FeedScenario();
  Response r = Get(port_, "/v1/agents/builder_agent");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"daily\":{\"atomic\":\"20000000\",\"usdc\":\"20.000000\"}"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"committed\":{\"atomic\":\"3000000\",\"usdc\":\"3.000000\"}"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"reserved\":{\"atomic\":\"4000000\",\"usdc\":\"4.000000\"}"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"utilization\":0.350000"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"bucket\":\"2025-11\""), std::string::npos) << r.body;
  EXPECT_EQ(Get(port_, "/v1/agents/nobody").status, 404);
  Response bad = Get(port_, "/v1/agents/bad%7Cagent");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("agent id"), std::string::npos);
  EXPECT_EQ(Get(port_, "/v1/agents/builder_agent?x=1").status, 400);
}

TEST_F(ApiTest, CanSpend) {
  FeedScenario();
  // 7 of 20 USDC spent or reserved today; per transaction at most 5.
  Response ok = Get(port_, "/v1/agents/builder_agent/can-spend?amount=5");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("\"allowed\":true"), std::string::npos) << ok.body;
  Response tx = Get(port_, "/v1/agents/builder_agent/can-spend?amount=5.000001");
  EXPECT_NE(tx.body.find("\"allowed\":false"), std::string::npos) << tx.body;
  EXPECT_NE(tx.body.find("per_transaction: 5.000001 USDC exceeds"), std::string::npos) << tx.body;
  // Exactly up to the daily limit fits; one atomic unit more does not.
  Feed({LimitsSet("builder_agent", "l2", "2025-11-17T10:02:00.000Z",
                  "{\"per_transaction_max\":\"50\"}")});
  Response edge = Get(port_, "/v1/agents/builder_agent/can-spend?amount=13.00");
  EXPECT_NE(edge.body.find("\"allowed\":true"), std::string::npos) << edge.body;
  Response over = Get(port_, "/v1/agents/builder_agent/can-spend?amount=13.000001");
  EXPECT_NE(over.body.find("\"allowed\":false"), std::string::npos) << over.body;
  EXPECT_NE(over.body.find("daily: 7.000000 USDC spent or reserved in 2025-11-17 + 13.000001 USDC "
                           "exceeds the limit of "
                           "20.000000 USDC"),
            std::string::npos)
      << over.body;
  // Another day: the daily bucket is empty.
  Response next =
      Get(port_, "/v1/agents/builder_agent/can-spend?amount=19&at=2025-11-18T00:00:00Z");
  EXPECT_NE(next.body.find("\"allowed\":true"), std::string::npos) << next.body;
  // Unknown agents get the defaults (10 USDC per transaction).
  Response fresh = Get(port_, "/v1/agents/new_agent/can-spend?amount=10.5");
  EXPECT_NE(fresh.body.find("\"known_agent\":false"), std::string::npos);
  EXPECT_NE(fresh.body.find("\"allowed\":false"), std::string::npos);
  for (const char* q : {"", "?amount=", "?amount=1.0000001", "?amount=-1", "?amount=1e3",
                        "?amount=abc", "?amount=0", "?amount=1&amount=2", "?amount=1&at=yesterday",
                        "?amount=1&foo=bar", "?amount=%zz"}) {
    Response r = Get(port_, std::string("/v1/agents/builder_agent/can-spend") + q);
    EXPECT_EQ(r.status, 400) << q << " " << r.body;
    EXPECT_NE(r.body.find("\"error\":"), std::string::npos);
  }
}

TEST_F(ApiTest, FindingsPagedAndFiltered) {
  FeedScenario();
  Feed({WalletBalance("builder_agent", "b2", "2025-11-17T10:20:00.000Z", "base", Addr(0xA1),
                      "300000000", 101)});
  std::vector<Finding> all;
  engine_->ForEachFinding([&](const Finding& f) { all.push_back(f); });
  ASSERT_EQ(all.size(), 2u);  // wallet.balance_low (resolved), authorization.stale
  // Page through one at a time; the pages together are every finding, in order, once.
  std::string cursor, seen;
  size_t pages = 0;
  while (true) {
    Response r =
        Get(port_, "/v1/findings?status=all&limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    ++pages;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.body, m, std::regex("\"finding_id\":\"([0-9a-f]{64})\"")));
    seen += m[1].str() + ",";
    if (!std::regex_search(r.body, m, std::regex("\"next_cursor\":\"([0-9a-f]+)\""))) break;
    cursor = m[1].str();
    ASSERT_LE(pages, all.size());
  }
  std::string expect;
  for (const auto& f : all) expect += f.finding_id + ",";
  EXPECT_EQ(seen, expect);
  EXPECT_EQ(pages, all.size());

  Response open =
      Get(port_,
          "/v1/findings?status=open&kind=authorization.stale&agent=builder_agent&severity=warning");
  ASSERT_EQ(open.status, 200);
  EXPECT_NE(open.body.find("\"count\":1"), std::string::npos) << open.body;
  EXPECT_NE(open.body.find("\"next_cursor\":null"), std::string::npos);
  Response resolved = Get(port_, "/v1/findings?status=resolved&kind=wallet.balance_low");
  EXPECT_NE(resolved.body.find("\"count\":1"), std::string::npos) << resolved.body;
  EXPECT_NE(Get(port_, "/v1/findings?agent=someone_else").body.find("\"count\":0"),
            std::string::npos);
  for (const char* q :
       {"?status=closed", "?kind=budget.nope", "?severity=fatal", "?limit=0", "?limit=1001",
        "?limit=ten", "?cursor=xyz", "?cursor=00", "?agent=a%7Cb", "?page=2"}) {
    EXPECT_EQ(Get(port_, std::string("/v1/findings") + q).status, 400) << q;
  }
  // By id.
  Response one = Get(port_, "/v1/findings/" + all[0].finding_id);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body, all[0].ToJson() + "\n");
  EXPECT_EQ(Get(port_, "/v1/findings/" + std::string(64, 'a')).status, 404);
  EXPECT_EQ(Get(port_, "/v1/findings/ABC").status, 400);
}

TEST_F(ApiTest, Payment) {
  FeedScenario();
  Response p1 = Get(port_, "/v1/payments/pay-1");
  ASSERT_EQ(p1.status, 200) << p1.body;
  EXPECT_NE(p1.body.find("\"status\":\"settled\""), std::string::npos) << p1.body;
  EXPECT_NE(p1.body.find("\"match\":\"matched\""), std::string::npos) << p1.body;
  EXPECT_NE(p1.body.find("\"contribution\":\"committed\""), std::string::npos) << p1.body;
  EXPECT_NE(p1.body.find("\"tx_hash\":\"" + Hex64(0xF1) + "\""), std::string::npos);
  EXPECT_NE(p1.body.find("\"transfers\":[{\"log_index\":"), std::string::npos) << p1.body;
  Response p2 = Get(port_, "/v1/payments/pay-2");
  ASSERT_EQ(p2.status, 200);
  EXPECT_NE(p2.body.find("\"status\":\"authorized\""), std::string::npos) << p2.body;
  EXPECT_NE(p2.body.find("\"settlement\":null"), std::string::npos);
  EXPECT_NE(p2.body.find("\"contribution\":\"reserved\""), std::string::npos);
  Feed({WalletBalance("builder_agent", "b2", "2025-11-17T10:20:00.000Z", "base", Addr(0xA1),
                      "300000000", 101)});
  p2 = Get(port_, "/v1/payments/pay-2");
  EXPECT_NE(p2.body.find("\"open_findings\":[\"authorization.stale\"]"), std::string::npos)
      << p2.body;
  EXPECT_EQ(Get(port_, "/v1/payments/nope").status, 404);
  EXPECT_EQ(Get(port_, "/v1/payments/" + std::string(300, 'x')).status, 400);
}

TEST_F(ApiTest, ReportIsBuiltOnThePipelineThread) {
  FeedScenario();
  Response r = Get(port_, "/v1/report");
  ASSERT_EQ(r.status, 200);
  std::string expect;
  {
    std::lock_guard<std::mutex> l(engine_mu_);
    expect = BuildReport(*engine_, engine_->watermarks().at(0), nullptr).ToJson();
  }
  EXPECT_EQ(r.body, expect);
  Response html = Get(port_, "/v1/report.html");
  ASSERT_EQ(html.status, 200);
  EXPECT_NE(html.head.find("Content-Type: text/html; charset=utf-8"), std::string::npos)
      << html.head;
  {
    std::lock_guard<std::mutex> l(engine_mu_);
    EXPECT_EQ(html.body, BuildReport(*engine_, engine_->watermarks().at(0), nullptr).ToHtml());
  }
  EXPECT_EQ(Get(port_, "/v1/report.html?x=1").status, 400);
  // A pipeline that does not answer gives 503, not a hang.
  std::lock_guard<std::mutex> l(engine_mu_);
  PipelineQueue q;
  EXPECT_FALSE(q.Run([] { return std::string("x"); }, std::chrono::milliseconds(50)));
}

TEST_F(ApiTest, MethodsPathsAndLimits) {
  Response post =
      Send(port_,
           "POST /v1/report HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.head.find("Allow: GET"), std::string::npos);
  EXPECT_EQ(
      Send(port_, "DELETE /v1/findings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status,
      405);
  EXPECT_EQ(Get(port_, "/nope").status, 404);
  EXPECT_EQ(Get(port_, "/v1/agents").status, 404);
  Response head = Send(port_, "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  // Oversize headers: refused.
  Response big = Get(port_, "/healthz", "X-Big: " + std::string(8000, 'a') + "\r\n");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Send(port_, "NONSENSE\r\n\r\n").status, 400);
  // An error that quotes a client's bytes is still valid UTF-8 JSON (0xFF becomes U+FFFD).
  Response bad = Get(port_, "/v1/findings?status=%FF%C3%A9\xff");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(simdjson::validate_utf8(bad.body.data(), bad.body.size())) << bad.body;
  EXPECT_NE(bad.body.find("\\ufffd"), std::string::npos) << bad.body;
  // A request whose head never completes is cut off at the head deadline (500 ms here).
  const auto t0 = std::chrono::steady_clock::now();
  Response slow = Send(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(slow.status, 0);
  EXPECT_LT(secs, 5.0);
  // Keep-alive: two requests on one connection.
  Response two = Send(port_,
                      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: "
                      "x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(two.status, 200);
  EXPECT_NE(two.body.find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(ApiTest, BearerToken) {
  Close();
  Open("s3cret-token-0123456789");
  Response none = Get(port_, "/healthz");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.head.find("WWW-Authenticate: Bearer"), std::string::npos);
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: Bearer wrong\r\n").status, 401);
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: Bearer s3cret-token-012345678\r\n").status, 401);
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: Basic s3cret-token-0123456789\r\n").status, 401);
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: Bearer s3cret-token-0123456789\r\n").status,
            200);
  // RFC 7235: the scheme is case-insensitive, and more than one space may follow it.
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: bearer s3cret-token-0123456789\r\n").status,
            200);
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: BEARER  s3cret-token-0123456789\r\n").status,
            200);
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: Bearerx s3cret-token-0123456789\r\n").status,
            401);
  EXPECT_EQ(Get(port_, "/metrics", "Authorization: s3cret-token-0123456789\r\n").status, 401);
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(ApiCardinality, TopNCapHoldsWithTenThousandAgents) {
  TempDir tmp;
  EngineOptions o;
  o.store.path = tmp.path() + "/state";
  auto e = Engine::Open(o);
  ASSERT_TRUE(e) << e.error();
  std::vector<std::string> lines;
  for (int i = 0; i < 10000; ++i) {
    Auth a;
    a.agent = "agent_" + std::to_string(i);
    a.payment_id = "p" + std::to_string(i);
    a.nonce = static_cast<uint64_t>(i + 1);
    a.payer = static_cast<uint64_t>(0x1000 + i);
    a.amount = std::to_string(1000000 + i);  // agent_9999 spends the most
    lines.push_back(Authorized(a, "e" + std::to_string(i)));
    lines.push_back(WalletBalance(a.agent, "b" + std::to_string(i), a.time, "base",
                                  Addr(0x1000 + i), std::to_string(100000000 + i), 1));
  }
  std::vector<std::string> padded;
  std::vector<SourceRecord> recs;
  for (const auto& l : lines) padded.push_back(l + std::string(64, ' '));
  for (size_t i = 0; i < lines.size(); ++i) {
    SourceRecord r;
    r.bytes = std::string_view(padded[i].data(), lines[i].size());
    r.length = lines[i].size();
    recs.push_back(r);
  }
  ASSERT_TRUE((*e)->ProcessBatch(recs, {}).ok());
  Metrics m;
  ProbeSummary s;
  m.SetProbeFamilies(ProbeState((*e)->store(), (*e)->config(), 100, 1763380000000, &s));
  EXPECT_EQ(s.agents, 10000u);
  EXPECT_EQ(s.agent_series, 100u);
  EXPECT_EQ(s.wallets, 10000u);
  EXPECT_EQ(s.wallet_series, 100u);
  const std::string text = m.Render();
  auto count = [&](const std::string& prefix) {
    size_t n = 0, pos = 0;
    while ((pos = text.find("\n" + prefix, pos)) != std::string::npos) {
      ++n;
      ++pos;
    }
    return n;
  };
  EXPECT_EQ(count("x402_agent_spend_usdc{"), 200u);  // 100 agents x (day, month)
  EXPECT_EQ(count("x402_agent_budget_utilization_ratio{"), 200u);
  EXPECT_EQ(count("x402_wallet_balance_usdc{"), 100u);
  EXPECT_NE(text.find("x402_agent_spend_usdc{agent=\"agent_9999\",period=\"day\"} 1.009999"),
            std::string::npos);
  EXPECT_EQ(text.find("agent=\"agent_0\""), std::string::npos);  // the smallest spender is left out
  EXPECT_NE(text.find("x402_metrics_series_capped{family=\"agent\"} 9900"), std::string::npos);
  // Lowest balances are the ones kept.
  EXPECT_NE(text.find("address=\"" + Addr(0x1000) + "\""), std::string::npos);
  EXPECT_EQ(text.find("address=\"" + Addr(0x1000 + 9999) + "\""), std::string::npos);
  // Every line is short and the whole exposition stays small.
  EXPECT_LT(text.size(), 200000u);
}

TEST(ApiHelpers, ListenAddressesAndLogs) {
  std::string a;
  uint16_t p = 0;
  EXPECT_TRUE(ParseListenAddress("127.0.0.1:9464", &a, &p).ok());
  EXPECT_EQ(a, "127.0.0.1");
  EXPECT_EQ(p, 9464);
  EXPECT_TRUE(ParseListenAddress("[::1]:80", &a, &p).ok());
  EXPECT_EQ(a, "::1");
  EXPECT_FALSE(ParseListenAddress("localhost:80", &a, &p).ok());
  EXPECT_FALSE(ParseListenAddress("127.0.0.1", &a, &p).ok());
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:70000", &a, &p).ok());
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:x", &a, &p).ok());
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.8.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  const std::string line = FormatLogLine(LogLevel::kWarn, "api \"x\"", {{"port", "1"}});
  EXPECT_TRUE(std::regex_match(
      line,
      std::regex(R"(\{"ts":"[0-9T:.-]+Z","level":"warn","msg":"api \\"x\\"","port":"1"\}\n)")))
      << line;
  EXPECT_EQ(ClassifyDeadLetter("event: not JSON (x)"), DeadLetterClass::kNotJson);
  EXPECT_EQ(ClassifyDeadLetter("type: unknown event type \"x\""), DeadLetterClass::kUnknownType);
  EXPECT_EQ(ClassifyDeadLetter("data.amount: expected"), DeadLetterClass::kData);
  EXPECT_EQ(ClassifyDeadLetter("specversion: expected"), DeadLetterClass::kEnvelope);
  EXPECT_EQ(ClassifyDeadLetter("event: 99 bytes exceeds the 10-byte limit"),
            DeadLetterClass::kOversize);
}

}  // namespace
}  // namespace x402
