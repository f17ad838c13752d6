// `x402rec run --brokers` as a real process against an in-process dev broker when the broker
// misbehaves:
//  - The broker goes down and comes back: the engine reports not-ready, retries, loses
//    nothing, and ends with the replay's digest.
//  - A partition whose log was truncated (low watermark > 0, nothing stored) is warned about.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <thread>

#include "connectors/dev_broker.h"
#include "connectors/kafka_gen.h"
#include "connectors/kafka_producer.h"
#include "tests/integration/kafka_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::X402Child;

class KafkaBrokerTest : public test::DevBrokerRunTest {};

TEST_F(KafkaBrokerTest, BrokerDownAndUpIsRetriedAndLosesNothing) {
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
  // Down for a few seconds (the engine may be waiting meanwhile for a batch's vendor facts to
  // be acknowledged: it then reports not-ready when it polls again, after the broker is back).
  test::WaitFor([&] { return engine.log().find("not ready", ready_at) != std::string::npos; }, 5);
  std::this_thread::sleep_for(std::chrono::seconds(1));
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

TEST_F(KafkaBrokerTest, TruncatedHistoryIsWarnedAboutWithTheLostOffsetCount) {
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
