// The Kafka path end to end on loopback: an in-process dev broker (librdkafka's mock
// cluster), the generator producing to it, `x402rec run --brokers` as a child process, and
// `x402rec replay --brokers` as the reference. The live state digest must equal the replay's;
// dead letters and alerts must land on their topics.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "connectors/dev_broker.h"
#include "connectors/kafka_gen.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

std::string Binary() {
  const char* dir = std::getenv("X402_BINARY_DIR");
  return std::string(dir ? dir : ".") + "/x402rec";
}

// Runs the binary with args; returns exit status and stdout.
int RunX402(const std::vector<std::string>& args, std::string* out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    std::string bin = Binary();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  out->clear();
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Digest(const std::string& out) {
  size_t p = out.find("state digest: ");
  return p == std::string::npos ? "" : out.substr(p + 14, 64);
}

struct Consumed {
  std::vector<std::string> keys, values;
  std::vector<std::vector<std::pair<std::string, std::string>>> headers;
};

// Reads a whole topic (all `partitions`) from the beginning, without a consumer group.
Consumed ConsumeAll(const std::string& brokers, const std::string& topic, int partitions) {
  Consumed c;
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "test-reader", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* t = rd_kafka_topic_partition_list_new(partitions);
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 5000);
    total += hi - lo;
    rd_kafka_topic_partition_list_add(t, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, t);
  rd_kafka_topic_partition_list_destroy(t);
  for (int idle = 0; static_cast<int64_t>(c.values.size()) < total && idle < 50;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) {
      ++idle;
      continue;
    }
    if (!m->err) {
      c.keys.emplace_back(static_cast<const char*>(m->key), m->key_len);
      c.values.emplace_back(static_cast<const char*>(m->payload), m->len);
      std::vector<std::pair<std::string, std::string>> hs;
      rd_kafka_headers_t* h = nullptr;
      if (rd_kafka_message_headers(m, &h) == 0) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &size) == 0; ++i) {
          hs.emplace_back(name, std::string(static_cast<const char*>(val), size));
        }
      }
      c.headers.push_back(std::move(hs));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_destroy(rk);
  return c;
}

class KafkaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start(4).ok()); }
  DevBroker broker_;
  test::TempDir tmp_;
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
  ASSERT_EQ(RunX402({"replay", "--brokers", broker_.bootstraps()}, &replay_out), 0) << replay_out;
  EXPECT_EQ(Digest(run_out), Digest(replay_out)) << run_out << "\n" << replay_out;
  EXPECT_EQ(Digest(run_out).size(), 64u);

  Consumed dl = ConsumeAll(broker_.bootstraps(), kDeadLetterTopic, broker_.partitions());
  EXPECT_EQ(dl.values.size(), gs.bad_lines);
  for (const auto& hs : dl.headers) {
    std::set<std::string> names;
    for (const auto& [k, v] : hs) names.insert(k);
    EXPECT_TRUE(names.count("x402-reason") && names.count("x402-source-partition") &&
                names.count("x402-source-offset"));
  }
  // Every finding transition is one alert; ids are unique; key = agent id.
  Consumed alerts = ConsumeAll(broker_.bootstraps(), kAlertsTopic, broker_.partitions());
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
  EXPECT_EQ(Digest(out), Digest(replay));
}

}  // namespace
}  // namespace x402
