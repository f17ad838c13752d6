// Reliability of `x402rec run --brokers` as a real process against an in-process dev broker
// (librdkafka's mock cluster) on 127.0.0.1:
//  - SIGKILL at random points while a producer is still writing, restart each time: once
//    caught up, the state digest and the open findings equal a clean replay of the topic,
//    and every alert the log implies is on x402.alerts (at least once).
//  - The broker goes down and comes back: the engine reports not-ready, retries, loses
//    nothing, and ends with the replay's digest.
//  - A partition whose log was truncated (low watermark > 0, nothing stored) is warned about.
// Kill delays come from X402_CRASH_SEED (random when unset; logged either way).
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <random>
#include <thread>

#include "connectors/dev_broker.h"
#include "connectors/kafka_gen.h"
#include "connectors/kafka_producer.h"
#include "tests/integration/kafka_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::X402Child;

class KafkaCrashTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start(8).ok()); }
  std::vector<std::string> RunArgs(const std::string& group) {
    std::vector<std::string> a = {"run",        "--brokers", broker_.bootstraps(),
                                  "--data-dir", data_dir_,   "--clock",
                                  "event",      "--group",   group};
    for (const auto& p : test::FastGroupProps()) a.push_back(p);
    return a;
  }
  DevBroker broker_;
  test::TempDir tmp_;
  std::string data_dir_ = tmp_.file("d");
};

TEST_F(KafkaCrashTest, SigkillAtRandomPointsLosesNothingAndMatchesReplay) {
  const char* env = std::getenv("X402_CRASH_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("[ crash    ] X402_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  // The producer keeps writing while the engine is killed and restarted.
  GeneratorOptions g;
  g.agents = 40;
  g.events = 15000;
  g.seed = 31;
  g.anomalies = 0.03;
  g.bad_lines = 0.002;
  GeneratorStats gs;
  std::atomic<bool> produced{false};
  Status produce_status = Status::Ok();
  std::thread producer([&] {
    produce_status = ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 1000, &gs);
    produced = true;
  });

  // The first kills land at random instants of start-up (store open, group join); the rest
  // at a random delay after the engine logged its partition assignment, i.e. while it is
  // consuming. A kill counts as mid-run when the committed position moved since the previous
  // kill and had not reached the end of what was produced.
  int kills = 0, mid_run = 0;
  int64_t last_committed = 0;
  for (int attempt = 0; attempt < 20 && (kills < 6 || mid_run < 3 || !produced); ++attempt) {
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
  producer.join();
  ASSERT_TRUE(produce_status.ok()) << produce_status.error();
  EXPECT_GE(kills, 6);
  EXPECT_GE(mid_run, 3) << "too few kills landed while the engine was processing";

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

TEST_F(KafkaCrashTest, BrokerDownAndUpIsRetriedAndLosesNothing) {
  GeneratorOptions g;
  g.agents = 20;
  g.events = 8000;
  g.seed = 32;
  g.anomalies = 0.03;
  GeneratorStats gs;
  ASSERT_TRUE(ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 0, &gs).ok());
  X402Child engine(RunArgs("restart"), tmp_.file("run.log"));
  ASSERT_TRUE(test::WaitFor(
      [&] { return engine.log().find("x402rec run: ready") != std::string::npos; }, 40))
      << engine.log();

  broker_.WithMock([](void* mc) {
    rd_kafka_mock_broker_set_down(static_cast<rd_kafka_mock_cluster_t*>(mc), 1);
  });
  // More events while the broker is down: the producer retries until it is back.
  g.seed = 33;
  g.start = TimeMs{1763337600000 + 86400000};
  Status second = Status::Ok();
  std::thread producer(
      [&] { second = ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 0, &gs); });
  const size_t ready_at = engine.log().find("x402rec run: ready");
  EXPECT_TRUE(test::WaitFor(
      [&] { return engine.log().find("not ready", ready_at) != std::string::npos; }, 30))
      << engine.log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  broker_.WithMock(
      [](void* mc) { rd_kafka_mock_broker_set_up(static_cast<rd_kafka_mock_cluster_t*>(mc), 1); });
  producer.join();
  ASSERT_TRUE(second.ok()) << second.error();
  ASSERT_TRUE(engine.running()) << engine.log();
  // Done when the group has committed the end of every events and vendor-facts partition
  // twice in a row, a second apart.
  ASSERT_TRUE(test::WaitFor(
      [&] {
        if (!test::GroupAtEnd(broker_.bootstraps(), "restart", {kEventsTopic, kVendorFactsTopic},
                              8))
          return false;
        std::this_thread::sleep_for(std::chrono::seconds(1));
        return test::GroupAtEnd(broker_.bootstraps(), "restart", {kEventsTopic, kVendorFactsTopic},
                                8);
      },
      60))
      << engine.log();
  engine.Signal(SIGTERM);
  ASSERT_EQ(engine.ExitCode(), 0) << engine.log();
  const std::string log = engine.log();
  const size_t down = log.find("not ready: kafka", ready_at);
  ASSERT_NE(down, std::string::npos);
  EXPECT_NE(log.find("x402rec run: ready", down), std::string::npos) << "never ready again:\n"
                                                                     << log;
  EXPECT_NE(log.find("16,000 applied"), std::string::npos) << log;
  test::Reference ref = test::ReplayReference(broker_.bootstraps(), tmp_.file("replay"));
  EXPECT_EQ(test::DigestIn(log), ref.digest) << log;
  EXPECT_EQ(test::OpenFindingsInDataDir(data_dir_), ref.open_findings);
}

TEST_F(KafkaCrashTest, TruncatedHistoryIsWarnedAboutWithTheLostOffsetCount) {
  // The mock cluster keeps the last ~5 MB of batches per partition: 7 MB into a one-partition
  // topic raises its low watermark above 0, as retention would.
  ASSERT_TRUE(broker_.CreateTopic("lossy", 1).ok());
  auto p = KafkaProducer::Open({{"bootstrap.servers", broker_.bootstraps()}, {"linger.ms", "20"}});
  ASSERT_TRUE(p.ok());
  const std::string junk(1000, 'x');
  for (int i = 0; i < 7000; ++i) ASSERT_TRUE((*p)->Produce("lossy", "k", junk).ok());
  ASSERT_TRUE((*p)->Flush(30000).ok());
  test::KafkaAdmin a(broker_.bootstraps());
  auto [lo, hi] = a.Watermarks("lossy", 0);
  ASSERT_GT(lo, 0) << "the mock log did not truncate";
  std::string out;
  auto args = RunArgs("lossy");
  args.insert(args.end(), {"--topic", "lossy", "--until-caught-up"});
  ASSERT_EQ(test::RunX402ToEnd(args, tmp_.file("lossy.log"), &out), 0) << out;
  const std::string want = "warning: lossy/0: history lost: offsets 0.." + std::to_string(lo - 1) +
                           " (" + std::to_string(lo) + " records)";
  EXPECT_NE(out.find(want), std::string::npos) << out;
  // The rest was consumed (and dead-lettered: it is junk).
  EXPECT_NE(out.find(test::Thousands(static_cast<uint64_t>(hi - lo)) + " dead letters"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace x402
