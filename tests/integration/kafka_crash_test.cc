// Reliability of `x402rec run --brokers` as a real process against an in-process dev broker
// (librdkafka's mock cluster) on 127.0.0.1:
//  - SIGKILL at random points while a producer is still writing, restart each time: once
//    caught up, the state digest and the open findings equal a clean replay of the topic,
//    and every alert the log implies is on x402.alerts (at least once).
// (kafka_broker_test.cc: broker down and up, truncated history.)
// Kill delays come from X402_CRASH_SEED (random when unset; logged either way).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "connectors/dev_broker.h"
#include "connectors/kafka_gen.h"
#include "tests/integration/kafka_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::X402Child;

class KafkaCrashTest : public test::DevBrokerRunTest {};

TEST_F(KafkaCrashTest, SigkillAtRandomPointsLosesNothingAndMatchesReplay) {
  const char* env = std::getenv("X402_CRASH_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("[ crash    ] X402_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  // The producer keeps writing while the engine is killed and restarted.
  GeneratorOptions g;
  g.agents = 40;
  g.events = 60000;
  g.seed = 31;
  g.anomalies = 0.03;
  g.bad_lines = 0.002;
  GeneratorStats gs;
  // It keeps producing (up to g.events) until the kill loop is done, so that every restart
  // finds work to do.
  std::atomic<bool> stop_producing{false};
  Status produce_status = Status::Ok();
  std::thread producer([&] {
    produce_status = ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 1000, &gs, {},
                                      [&] { return stop_producing.load(); });
  });

  // The first kills land at random instants of start-up (store open, group join); the rest
  // at a random delay after the engine logged its partition assignment, i.e. while it is
  // consuming. A kill counts as mid-run when the committed position moved since the previous
  // kill and had not reached the end of what was produced.
  int kills = 0, mid_run = 0;
  int64_t last_committed = 0;
  for (int attempt = 0; attempt < 20 && (kills < 6 || mid_run < 4); ++attempt) {
    int delay = 0;
    {
      const size_t log_before = test::ReadWholeFile(tmp_.file("run.log")).size();
      X402Child c(RunArgs("crash-" + std::to_string(attempt)), tmp_.file("run.log"));
      if (attempt < 2) {
        delay = std::uniform_int_distribution<int>(50, 2500)(rng);
      } else {
        ASSERT_TRUE(test::WaitFor(
            [&] { return c.log().find("x402rec run: assigned", log_before) != std::string::npos; },
            30))
            << c.log();
        delay = std::uniform_int_distribution<int>(0, 3000)(rng);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      ASSERT_TRUE(c.running()) << c.log();
      c.Signal(SIGKILL);
      c.Wait();
    }
    ++kills;
    const int64_t committed = test::StoredOffsetsInDataDir(data_dir_, kEventsTopic, 8);
    int64_t end = 0;
    {
      test::KafkaAdmin a(broker_.bootstraps());
      for (int p = 0; p < 8; ++p) end += a.Watermarks(kEventsTopic, p).second;
    }
    const bool moved = committed > last_committed && committed < end;
    mid_run += moved ? 1 : 0;
    std::printf("[ crash    ] kill %d %d ms %s: committed %lld of %lld produced%s\n", kills, delay,
                attempt < 2 ? "after start" : "after assignment", static_cast<long long>(committed),
                static_cast<long long>(end), moved ? " (mid-run)" : "");
    last_committed = std::max(last_committed, committed);
  }
  stop_producing = true;
  producer.join();
  // Stopped on purpose: the error only says how many were sent (all of them flushed).
  ASSERT_TRUE(produce_status.ok() || produce_status.error().find("stopped") != std::string::npos)
      << produce_status.error();
  EXPECT_GE(kills, 6);
  EXPECT_GE(mid_run, 4) << "too few kills landed while the engine was processing";

  std::string out;
  auto args = RunArgs("crash-final");
  args.push_back("--until-caught-up");
  ASSERT_EQ(test::RunX402ToEnd(args, tmp_.file("final.log"), &out), 0) << out;

  test::Reference ref = test::ReplayReference(broker_.bootstraps(), tmp_.file("replay"));
  ASSERT_EQ(ref.digest.size(), 64u);
  EXPECT_EQ(test::DigestIn(out), ref.digest) << out;
  EXPECT_EQ(test::OpenFindingsInDataDir(data_dir_), ref.open_findings);
  ASSERT_FALSE(ref.alert_ids.empty());
  const std::set<std::string> delivered = test::AlertIdsOnTopic(broker_.bootstraps(), 8);
  size_t missing = 0;
  for (const auto& id : ref.alert_ids) missing += delivered.count(id) ? 0 : 1;
  EXPECT_EQ(missing, 0u) << "of " << ref.alert_ids.size() << " alerts, " << delivered.size()
                         << " distinct ids delivered";
}

}  // namespace
}  // namespace x402
