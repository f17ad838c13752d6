// Alert delivery survives crashes (issue 5, DESIGN.md principle 2): the real x402rec binary
// runs a generated file with a Discord webhook pointing at FakeDiscord on 127.0.0.1 and is
// SIGKILLed while a webhook POST is in flight (received by the server, not yet answered, so
// not acknowledged), then restarted, twice; the last run finishes and drains the outbox.
// Reference model: the alert ids of a run without any sink (its outbox keeps every alert).
// Checks: every expected alert reached the webhook; every alert of a killed POST was posted
// again with the same alert_id; nothing unexpected; every payload within Discord's limits;
// the outbox is empty at the end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/generator.h"
#include "engine/engine.h"
#include "tests/child_process.h"
#include "tests/fake_discord.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using std::chrono::milliseconds;
using test::ChildProcess;
using test::ReadWholeFile;
using test::X402Binary;

std::vector<std::string> OutboxIds(const std::string& state) {
  EngineOptions o;
  o.store.path = state;
  o.store.read_only = true;
  auto e = Engine::Open(o);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error());
  std::vector<std::string> ids;
  if (!e.ok()) return ids;
  (*e)->ForEachOutbox(0, [&](const OutboxEntry& x) {
    ids.push_back(x.alert_id);
    return true;
  });
  return ids;
}

TEST(AlertsCrashTest, KilledBetweenPostAndAckRedeliversTheSameAlertsAndLosesNone) {
  test::TempDir tmp;
  const std::string events = tmp.file("events.jsonl");
  GeneratorOptions g;
  g.agents = 20;
  g.events = 30000;
  g.seed = 5;
  g.anomalies = 0.05;
  ASSERT_TRUE(GenerateToFile(g, events, "").ok());

  // Reference: the same file without a sink keeps every alert in the outbox.
  const std::string ref_dir = tmp.file("ref");
  {
    ChildProcess ref({X402Binary(), "run", "--input", events, "--data-dir", ref_dir},
                     tmp.file("ref.log"));
    const int st = ref.Wait();
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << ReadWholeFile(tmp.file("ref.log"));
  }
  const auto ref_list = OutboxIds(ref_dir + "/state");
  const std::set<std::string> expected(ref_list.begin(), ref_list.end());
  ASSERT_EQ(expected.size(), ref_list.size());
  ASSERT_GT(expected.size(), 50u);

  test::FakeDiscord server;
  std::atomic<pid_t> child{-1};
  // Requests at these indexes get the engine killed while it waits for the answer.
  const std::set<size_t> kill_at = {0, 3};
  server.Respond([&](const test::FakeRequest&, size_t i) {
    if (kill_at.count(i)) {
      ::kill(child.load(), SIGKILL);
      return test::FakeReply{.hang = true};
    }
    return test::FakeReply{};
  });
  const std::string dir = tmp.file("live");
  const std::vector<std::string> args = {
      X402Binary(),           "run", "--input",           events,
      "--data-dir",           dir,   "--discord-webhook", server.Url(),
      "--alert-group-window", "0",   "--drain-timeout",   "60"};
  int runs = 0, kills = 0;
  while (true) {
    ASSERT_LT(runs, 6);
    const std::string log = tmp.file("run" + std::to_string(runs++) + ".log");
    ChildProcess run(args, log);
    child = run.pid();
    const int st = run.Wait();
    server.ReleaseHangs();
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
      ++kills;
      continue;
    }
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
        << "status " << st << " runs " << runs << "\n"
        << ReadWholeFile(log);
    const std::string out = ReadWholeFile(log);
    EXPECT_NE(out.find("delivered to discord-"), std::string::npos) << out;
    EXPECT_EQ(out.find("secret-token"), std::string::npos)
        << out;  // the URL's token is never printed
    break;
  }
  EXPECT_EQ(kills, 2);

  const auto reqs = server.Requests();
  std::map<std::string, std::vector<size_t>> seen;  // alert id -> request indexes
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto v = test::DiscordLimitViolations(reqs[i].body);
    EXPECT_TRUE(v.empty()) << v.front();
    for (const auto& id : test::FooterAlertIds(reqs[i].body)) seen[id].push_back(i);
  }
  for (const auto& id : expected) EXPECT_TRUE(seen.count(id)) << "lost alert " << id;
  for (const auto& [id, at] : seen) EXPECT_TRUE(expected.count(id)) << "unexpected alert " << id;
  for (size_t k : kill_at) {
    ASSERT_LT(k, reqs.size());
    for (const auto& id : test::FooterAlertIds(reqs[k].body)) {
      const auto& at = seen[id];
      EXPECT_TRUE(std::any_of(at.begin(), at.end(), [k](size_t i) { return i > k; }))
          << "alert " << id << " of the killed POST " << k << " was not posted again";
    }
  }
  // Repeats only for alerts that were in flight when a kill came (at-least-once, not more).
  size_t repeats = 0;
  for (const auto& [id, at] : seen) repeats += at.size() - 1;
  EXPECT_GT(repeats, 0u);
  EXPECT_LE(repeats, kills * 500u);  // at most one dispatcher batch per kill
  EXPECT_TRUE(OutboxIds(dir + "/state").empty());
}

// Bad alert configuration: exit code 2 and one line naming the flag, never the URL's token;
// --help prints the effective routing with URLs redacted.
TEST(AlertsCliTest, BadWebhookExitsTwoWithOneRedactedLine) {
  test::TempDir tmp;
  const std::string log = tmp.file("out.log");
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--discord-webhook", "http://evil.example/api/webhooks/1/TOPSECRET"},
           {"--discord-webhook", "https://discord.com/api/webhooks/1/TOPSECRET",
            "--discord-webhook", "https://discord.com/api/webhooks/1/TOPSECRET"},
           {"--alert-group-window", "-1"},
           {"--alert-storm-threshold", "0"}}) {
    std::vector<std::string> args = {X402Binary(),           "run",        "--input",
                                     tmp.file("none.jsonl"), "--data-dir", tmp.file("d")};
    args.insert(args.end(), bad.begin(), bad.end());
    const int st = ChildProcess(args, log).Wait();
    const std::string out = ReadWholeFile(log);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 2) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_EQ(out.find("TOPSECRET"), std::string::npos) << out;
  }
  std::ofstream(tmp.file("c.toml"))
      << "[[alerts.discord]]\nurl = \"https://discord.com/api/webhooks/9/TOPSECRET\"\n"
         "min_severity = \"critical\"\n";
  const int st =
      ChildProcess({X402Binary(), "run", "--help", "--config", tmp.file("c.toml")}, log).Wait();
  const std::string out = ReadWholeFile(log);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  EXPECT_NE(out.find("https://discord.com/api/**** severities critical"), std::string::npos) << out;
  EXPECT_EQ(out.find("TOPSECRET"), std::string::npos) << out;
}

}  // namespace
}  // namespace x402
