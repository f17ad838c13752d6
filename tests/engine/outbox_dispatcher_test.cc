// The outbox dispatcher (engine/outbox_dispatcher.h) over a real Engine store and real HTTP
// to FakeDiscord on 127.0.0.1: every entry delivered to every sink, deleted only after all
// acknowledged, resumed from the persisted cursor, grouping window, storm summary, routing,
// a disabled sink keeping its entries, and "no spam" of findings already open.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/discord_sink.h"
#include "engine/alert_settings.h"
#include "engine/config_file.h"
#include "engine/outbox_dispatcher.h"
#include "tests/fake_discord.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using std::chrono::milliseconds;
using test::FakeDiscord;
using test::FakeReply;
using test::FakeRequest;

// n authorizations above the default 10 USDC per-transaction max: n critical alerts.
std::vector<std::string> Oversized(int from, int n) {
  std::vector<std::string> lines;
  for (int i = from; i < from + n; ++i) {
    test::Auth a;
    a.payment_id = "pay-" + std::to_string(i);
    a.agent = "agent_" + std::to_string(i);
    a.amount = "20000000";
    a.nonce = static_cast<uint64_t>(1000 + i);
    lines.push_back(test::Authorized(a, "ev-" + std::to_string(i)));
  }
  return lines;
}

std::unique_ptr<AlertSink> Discord(const std::string& url, const std::string& label,
                                   size_t storm = 0) {
  DiscordSinkOptions o;
  o.url = url;
  o.label = label;
  o.timeout = milliseconds(500);
  o.backoff_base = milliseconds(50);
  o.backoff_cap = milliseconds(200);
  o.format.storm_threshold = storm;
  auto s = DiscordSink::Create(std::move(o));
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

std::unique_ptr<OutboxDispatcher> Dispatcher(test::EngineHarness& h,
                                             std::vector<DispatcherSinkConfig> sinks,
                                             milliseconds window = milliseconds(0)) {
  DispatcherOptions o;
  o.group_window = window;
  o.poll_interval = milliseconds(20);
  auto d = std::make_unique<OutboxDispatcher>(h.engine().store(), std::move(sinks), o);
  d->Start();
  return d;
}

std::vector<DispatcherSinkConfig> One(std::unique_ptr<AlertSink> s) {
  std::vector<DispatcherSinkConfig> v;
  v.push_back({std::move(s), nullptr});
  return v;
}

std::multiset<std::string> Received(const FakeDiscord& server) {
  std::multiset<std::string> ids;
  for (const auto& r : server.Requests()) {
    auto v = test::DiscordLimitViolations(r.body);
    EXPECT_TRUE(v.empty()) << v.front();
    for (auto& id : test::FooterAlertIds(r.body)) ids.insert(id);
  }
  return ids;
}

std::multiset<std::string> Ids(const std::vector<OutboxEntry>& entries) {
  std::multiset<std::string> ids;
  for (const auto& e : entries) ids.insert(e.alert_id);
  return ids;
}

TEST(OutboxDispatcherTest, DeliversEverythingThenEmptiesTheOutbox) {
  test::EngineHarness h;
  ASSERT_TRUE(h.Feed(Oversized(0, 23)).ok());
  const auto expected = Ids(h.Outbox());
  ASSERT_EQ(expected.size(), 23u);
  FakeDiscord server;
  auto d = Dispatcher(h, One(Discord(server.Url(), "a")));
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  EXPECT_EQ(Received(server), expected);
  EXPECT_TRUE(h.Outbox().empty());
  auto snap = d->Snapshot();
  ASSERT_EQ(snap.sinks.size(), 1u);
  EXPECT_EQ(snap.sinks[0].delivered, 23u);
  EXPECT_EQ(snap.sinks[0].pending, 0u);
  EXPECT_EQ(snap.outbox_pending, 0u);
  EXPECT_TRUE(snap.ready());
  EXPECT_EQ(snap.sinks[0].name.find("secret"), std::string::npos);
  EXPECT_TRUE(h.engine().GetMeta(OutboxDispatcher::AckKey(snap.sinks[0].name)).has_value());
}

TEST(OutboxDispatcherTest, ResumesFromTheStoredCursorWithoutRepeats) {
  test::EngineHarness h;
  FakeDiscord server;
  ASSERT_TRUE(h.Feed(Oversized(0, 5)).ok());
  const auto first = Ids(h.Outbox());
  {
    auto d = Dispatcher(h, One(Discord(server.Url(), "a")));
    ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  }
  ASSERT_TRUE(h.Feed(Oversized(5, 4)).ok());
  const auto second = Ids(h.Outbox());
  ASSERT_EQ(second.size(), 4u);
  auto d = Dispatcher(h, One(Discord(server.Url(), "a")));
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  auto all = first;
  all.insert(second.begin(), second.end());
  EXPECT_EQ(Received(server), all);  // each exactly once
}

TEST(OutboxDispatcherTest, UnacknowledgedDeliveryIsRepeatedWithTheSameAlertId) {
  test::EngineHarness h;
  ASSERT_TRUE(h.Feed(Oversized(0, 3)).ok());
  const auto expected = Ids(h.Outbox());
  // The webhook takes the POST but never answers: the dispatcher stops before any
  // acknowledgement (as a crash would).
  FakeDiscord server;
  server.Respond([](const FakeRequest&, size_t) { return FakeReply{.hang = true}; });
  {
    auto d = Dispatcher(h, One(Discord(server.Url(), "a")));
    ASSERT_TRUE(server.WaitForRequests(1, milliseconds(5000)));
    EXPECT_FALSE(d->WaitDrained(milliseconds(100)));
    d->Stop();
  }
  EXPECT_EQ(Received(server), expected);
  EXPECT_EQ(h.Outbox().size(), 3u);
  server.Respond([](const FakeRequest&, size_t) { return FakeReply{}; });
  server.ReleaseHangs();
  const size_t before = server.RequestCount();
  auto d = Dispatcher(h, One(Discord(server.Url(), "a")));  // the same sink: same stored cursor
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  auto again = Received(server);
  for (const auto& id : expected) EXPECT_EQ(again.count(id), 2u) << id;  // same ids, once more
  EXPECT_EQ(again.size(), 2 * expected.size());
  EXPECT_GT(server.RequestCount(), before);
  EXPECT_TRUE(h.Outbox().empty());
}

TEST(OutboxDispatcherTest, GroupWindowBatchesAlertsThatArriveTogether) {
  test::EngineHarness h;
  FakeDiscord server;
  // A second, immediate sink (as the Kafka topic is) does not wait for the window.
  FakeDiscord fast;
  std::vector<DispatcherSinkConfig> sinks;
  sinks.push_back({Discord(server.Url(), "a"), nullptr});
  sinks.push_back({Discord(fast.Url(), "b"), nullptr, /*immediate=*/true});
  auto d = Dispatcher(h, std::move(sinks), milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::now();
  for (int b = 0; b < 3; ++b) {
    ASSERT_TRUE(h.Feed(Oversized(b * 2, 2)).ok());
    d->Notify();
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 1u);  // six alerts within the window: one message
  EXPECT_EQ(test::FooterAlertIds(reqs[0].body).size(), 6u);
  EXPECT_GE(reqs[0].at - t0, milliseconds(990));
  auto fast_reqs = fast.Requests();
  ASSERT_GE(fast_reqs.size(), 1u);
  EXPECT_LT(fast_reqs[0].at - t0, milliseconds(300));
}

TEST(OutboxDispatcherTest, StormIsOneSummaryAndEveryAlertCounts) {
  test::EngineHarness h;
  FakeDiscord server;
  std::vector<DispatcherSinkConfig> sinks;
  sinks.push_back({Discord(server.Url(), "a", 10), nullptr});
  auto d = Dispatcher(h, std::move(sinks), milliseconds(200));
  ASSERT_TRUE(h.Feed(Oversized(0, 37)).ok());
  d->Notify();
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(test::DiscordLimitViolations(reqs[0].body).empty());
  EXPECT_NE(reqs[0].body.find("37 × budget.per_transaction_exceeded for agent_"), std::string::npos)
      << reqs[0].body;
  EXPECT_EQ(d->Snapshot().sinks[0].delivered, 37u);
  EXPECT_TRUE(h.Outbox().empty());
}

TEST(OutboxDispatcherTest, RoutesBySeverityAndKind) {
  test::EngineHarness h;
  // Critical: per-transaction exceeded. Warning: a low wallet balance.
  auto lines = Oversized(0, 2);
  lines.push_back(test::WalletBalance("agent_9", "bal-1", "2025-11-17T10:00:00.000Z", "base",
                                      test::Addr(0xC1), "100000000", 1));
  ASSERT_TRUE(h.Feed(lines).ok());
  std::map<std::string, std::multiset<std::string>> want;
  for (const auto& e : h.Outbox())
    want[e.severity == Severity::kCritical ? "crit" : "other"].insert(e.alert_id);
  ASSERT_EQ(want["crit"].size(), 2u);
  ASSERT_EQ(want["other"].size(), 1u);
  FakeDiscord crit, other, recon;
  DiscordRoute rc, ro, rr;
  rc.min_severity = Severity::kCritical;
  ro.max_severity = Severity::kWarning;
  rr.kinds = {"recon.*"};
  std::vector<DispatcherSinkConfig> sinks;
  for (auto [server, route, label] :
       {std::tuple{&crit, rc, "c"}, std::tuple{&other, ro, "o"}, std::tuple{&recon, rr, "r"}}) {
    sinks.push_back({Discord(server->Url(), label),
                     [r = route](const OutboxEntry& e) { return r.Matches(e.kind, e.severity); }});
  }
  auto d = Dispatcher(h, std::move(sinks));
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  EXPECT_EQ(Received(crit), want["crit"]);
  EXPECT_EQ(Received(other), want["other"]);
  EXPECT_EQ(recon.RequestCount(), 0u);
  EXPECT_EQ(d->Snapshot().sinks[2].skipped, 3u);
  EXPECT_TRUE(h.Outbox().empty());
}

TEST(OutboxDispatcherTest, DisabledSinkKeepsItsEntriesWhileOthersDeliver) {
  test::EngineHarness h;
  ASSERT_TRUE(h.Feed(Oversized(0, 4)).ok());
  const auto expected = Ids(h.Outbox());
  FakeDiscord gone, good;
  gone.Respond([](const FakeRequest&, size_t) {
    return FakeReply{.status = 404, .body = R"({"code":10015})"};
  });
  std::vector<std::string> logs;
  std::mutex logs_mu;
  std::vector<DispatcherSinkConfig> sinks;
  sinks.push_back({Discord(gone.Url(), "gone"), nullptr});
  sinks.push_back({Discord(good.Url(), "good"), nullptr});
  DispatcherOptions o;
  o.group_window = milliseconds(0);
  o.poll_interval = milliseconds(20);
  o.log = [&](const std::string& l) {
    std::lock_guard<std::mutex> g(logs_mu);
    logs.push_back(l);
  };
  OutboxDispatcher d(h.engine().store(), std::move(sinks), o);
  d.Start();
  ASSERT_TRUE(d.WaitDrained(milliseconds(10000)));
  EXPECT_EQ(Received(good), expected);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(gone.RequestCount(), 1u);  // never retried
  auto snap = d.Snapshot();
  EXPECT_TRUE(snap.sinks[0].disabled);
  EXPECT_FALSE(snap.sinks[1].disabled);
  EXPECT_FALSE(snap.ready());
  EXPECT_EQ(snap.sinks[0].pending, 4u);
  EXPECT_EQ(snap.outbox_pending, 4u);
  EXPECT_EQ(h.Outbox().size(), 4u);  // kept for the fixed webhook
  std::lock_guard<std::mutex> g(logs_mu);
  ASSERT_EQ(logs.size(), 1u);  // logged once
  EXPECT_NE(logs[0].find("404"), std::string::npos);
  EXPECT_EQ(logs[0].find("secret-token"), std::string::npos);
}

TEST(OutboxDispatcherTest, OpenFindingIsNotReannouncedButAReopenIs) {
  test::EngineHarness h;
  const std::string addr = test::Addr(0xC1);
  auto bal = [&](int block, const std::string& usdc_atomic) {
    return test::WalletBalance("agent_9", "bal-" + std::to_string(block),
                               "2025-11-17T10:0" + std::to_string(block) + ":00.000Z", "base", addr,
                               usdc_atomic, static_cast<uint64_t>(block));
  };
  FakeDiscord server;
  auto d = Dispatcher(h, One(Discord(server.Url(), "a")));
  ASSERT_TRUE(h.Feed({bal(1, "100000000")}).ok());  // 100 USDC: warning opens
  ASSERT_TRUE(h.Feed({bal(2, "120000000")}).ok());  // still low: nothing new
  ASSERT_TRUE(h.Feed({bal(3, "500000000")}).ok());  // resolved
  ASSERT_TRUE(h.Feed({bal(4, "100000000")}).ok());  // re-opened
  d->Notify();
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  std::vector<std::string> ids;
  for (const auto& r : server.Requests())
    for (auto& id : test::FooterAlertIds(r.body)) ids.push_back(id);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_TRUE(ids[0].ends_with(":opened:0"));
  EXPECT_TRUE(ids[1].ends_with(":resolved:0"));
  EXPECT_TRUE(ids[2].ends_with(":opened:1"));
  std::string all;
  for (const auto& r : server.Requests()) all += r.body;
  EXPECT_NE(all.find("(re-opened ×1)"), std::string::npos);
}

TEST(OutboxDispatcherTest, AnAcknowledgementBeingWrittenBlocksNeitherNotifyNorSnapshot) {
  // The pipeline calls Notify after each commit and /metrics calls Snapshot: neither may wait
  // for a store write the dispatcher has in progress (it used to hold its mutex across it).
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false, held = false, released = false;
  test::EngineHarness h;
  ASSERT_TRUE(h.Feed(Oversized(0, 3)).ok());
  h.SetWriteHook([&] {
    std::unique_lock<std::mutex> l(mu);
    if (!hold) return false;
    held = true;
    cv.notify_all();
    cv.wait_for(l, std::chrono::seconds(10), [&] { return released; });
    return false;
  });
  {
    std::lock_guard<std::mutex> l(mu);
    hold = true;  // from now on: the dispatcher's acknowledgement write
  }
  FakeDiscord server;
  auto d = Dispatcher(h, One(Discord(server.Url(), "a")));
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return held; }));
  }
  auto calls = std::async(std::launch::async, [&] {
    d->Notify();
    return d->Snapshot();
  });
  const bool prompt = calls.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
  {
    std::lock_guard<std::mutex> l(mu);
    released = true;
    hold = false;
  }
  cv.notify_all();
  EXPECT_TRUE(prompt) << "Notify/Snapshot waited for the acknowledgement write";
  calls.wait();
  ASSERT_TRUE(d->WaitDrained(milliseconds(10000)));
  EXPECT_EQ(Received(server).size(), 3u);
  EXPECT_TRUE(h.Outbox().empty());
}

TEST(AlertConfigTest, AlertsSectionAndRoutes) {
  test::TempDir tmp;
  auto load = [&](const std::string& text, FileSettings* s) {
    test::WriteLines(tmp.file("c.toml"), {text});
    return LoadConfigFile(tmp.file("c.toml"), s);
  };
  FileSettings s;
  ASSERT_TRUE(
      load("[alerts]\ngroup_window_s = 0.25\nstorm_threshold = 3\nrequest_timeout_s = 5\n"
           "[[alerts.discord]]\nurl = \"https://discord.com/api/webhooks/1/t\"\nlabel = \"recon\"\n"
           "min_severity = \"warning\"\nkinds = [\"recon.*\", \"authorization.nonce_reuse\"]\n"
           "[[alerts.discord]]\nurl = \"https://discord.com/api/webhooks/2/t\"\nmax_severity = "
           "\"info\"\n",
           &s)
          .ok());
  EXPECT_EQ(s.alerts.group_window_ms, 250);
  EXPECT_EQ(s.alerts.storm_threshold, 3u);
  EXPECT_EQ(s.alerts.request_timeout_ms, 5000);
  ASSERT_EQ(s.alerts.discord.size(), 2u);
  const DiscordRoute& r = s.alerts.discord[0];
  EXPECT_EQ(r.label, "recon");
  EXPECT_TRUE(r.Matches(FindingKind::kReconAmountMismatch, Severity::kCritical));
  EXPECT_TRUE(r.Matches(FindingKind::kAuthorizationNonceReuse, Severity::kCritical));
  EXPECT_FALSE(
      r.Matches(FindingKind::kAuthorizationStale, Severity::kCritical));     // kind not listed
  EXPECT_FALSE(r.Matches(FindingKind::kReconUnconfirmed, Severity::kInfo));  // below min
  EXPECT_EQ(s.alerts.discord[1].label, "2");
  EXPECT_TRUE(s.alerts.discord[1].Matches(FindingKind::kAuthorizationExpired, Severity::kInfo));
  EXPECT_FALSE(s.alerts.discord[1].Matches(FindingKind::kAuthorizationStale, Severity::kWarning));
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"[alerts]\nwindow = 2\n", "c.toml:2: alerts.window: unknown option"},
           {"[alerts]\ngroup_window_s = -1\n", "alerts.group_window_s: expected seconds"},
           {"[[alerts.discord]]\nurl = \"x\"\nmin_severity = \"loud\"\n", "min_severity: expected"},
           {"[[alerts.discord]]\nurl = \"x\"\nkinds = [\"recon.nope\"]\n",
            "unknown finding kind 'recon.nope'"},
           {"[[alerts.discord]]\nlabel = \"a\"\n", "url (or url_env) is required"},
           {"[[alerts.discord]]\nurl_env = \"X402_TEST_SURELY_UNSET\"\n",
            "X402_TEST_SURELY_UNSET is not set"}}) {
    FileSettings f;
    Status st = load(text, &f);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().find(want), std::string::npos) << st.error();
  }
}

}  // namespace
}  // namespace x402
