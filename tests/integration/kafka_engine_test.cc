// The Kafka path end to end on loopback: an in-process dev broker (librdkafka's mock
// cluster), the generator producing to it, `x402rec run --brokers` as a child process, and
// `x402rec replay --brokers` as the reference. The live state digest must equal the replay's;
// dead letters and alerts must land on their topics.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "connectors/dev_broker.h"
#include "connectors/kafka_gen.h"
#include "tests/integration/kafka_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::ConsumeTopic;
using test::Consumed;
using test::DigestIn;

class KafkaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start(4).ok()); }
  // Runs `x402rec args...` to completion: exit code, and its output in *out.
  int RunX402(const std::vector<std::string>& args, std::string* out) {
    return test::RunX402ToEnd(args, tmp_.file("x402rec" + std::to_string(runs_++) + ".log"), out);
  }
  DevBroker broker_;
  test::TempDir tmp_;
  int runs_ = 0;
};

TEST_F(KafkaEngineTest, LiveRunEqualsReplayOfTheTopicAndDeliversDeadLettersAndAlerts) {
  GeneratorOptions g;
  g.agents = 10;
  g.events = 12000;
  g.seed = 21;
  g.anomalies = 0.03;
  g.bad_lines = 0.003;
  GeneratorStats gs;
  ASSERT_TRUE(ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 0, &gs).ok());
  ASSERT_GT(gs.bad_lines, 0u);
  std::string run_out, replay_out;
  ASSERT_EQ(RunX402({"run", "--brokers", broker_.bootstraps(), "--data-dir", tmp_.file("d"), "--until-caught-up",
                 "--clock", "event", "--kafka-prop", "session.timeout.ms=6000"},
                &run_out),
            0)
      << run_out;
  EXPECT_NE(run_out.find("12,000 applied"), std::string::npos) << run_out;
  // replay --verify proves it against the live data directory itself (exit 0 only if equal).
  ASSERT_EQ(RunX402({"replay", "--brokers", broker_.bootstraps(), "--verify", tmp_.file("d")},
                    &replay_out),
            0)
      << replay_out;
  EXPECT_NE(replay_out.find("equals the rebuilt state"), std::string::npos) << replay_out;
  EXPECT_EQ(DigestIn(run_out), DigestIn(replay_out)) << run_out << "\n" << replay_out;
  EXPECT_EQ(DigestIn(run_out).size(), 64u);

  Consumed dl = ConsumeTopic(broker_.bootstraps(), kDeadLetterTopic, broker_.partitions());
  EXPECT_EQ(dl.values.size(), gs.bad_lines);
  for (const auto& hs : dl.headers) {
    std::set<std::string> names;
    for (const auto& [k, v] : hs) names.insert(k);
    EXPECT_TRUE(names.count("x402-reason") && names.count("x402-source-partition") &&
                names.count("x402-source-offset"));
  }
  // Every finding transition is one alert; ids are unique; key = agent id.
  Consumed alerts = ConsumeTopic(broker_.bootstraps(), kAlertsTopic, broker_.partitions());
  ASSERT_FALSE(alerts.values.empty());
  std::set<std::string> ids;
  for (size_t i = 0; i < alerts.values.size(); ++i) {
    for (const auto& [k, v] : alerts.headers[i])
      if (k == "x402-alert-id") ids.insert(v);
    EXPECT_NE(alerts.values[i].find("\"agent_id\":\"" + alerts.keys[i] + "\""), std::string::npos);
  }
  EXPECT_EQ(ids.size(), alerts.values.size());
}

TEST_F(KafkaEngineTest, RestartResumesFromOffsetsStoredWithTheState) {
  GeneratorOptions g;
  g.agents = 6;
  g.events = 4000;
  g.seed = 22;
  g.anomalies = 0.03;
  GeneratorStats gs;
  ASSERT_TRUE(ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 0, &gs).ok());
  std::string out;
  // A short session timeout: the second run's join then does not wait out the first member's
  // default 45 s session on the mock cluster.
  const std::vector<std::string> run = {"run",
                                        "--brokers",
                                        broker_.bootstraps(),
                                        "--data-dir",
                                        tmp_.file("d"),
                                        "--until-caught-up",
                                        "--clock",
                                        "event",
                                        "--kafka-prop",
                                        "session.timeout.ms=6000"};
  ASSERT_EQ(RunX402(run, &out), 0) << out;
  g.seed = 23;
  g.start = TimeMs{1763337600000 + 86400000};
  ASSERT_TRUE(ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 0, &gs).ok());
  ASSERT_EQ(RunX402(run, &out), 0) << out;
  EXPECT_NE(out.find("8,000 applied, 0 duplicates"), std::string::npos) << out;
  std::string replay;
  ASSERT_EQ(RunX402({"replay", "--brokers", broker_.bootstraps()}, &replay), 0);
  EXPECT_EQ(DigestIn(out), DigestIn(replay));
}

}  // namespace
}  // namespace x402
