// What arrives on the events topic, from clients we did not write and from broken ones:
//  - kcat (Debian's Kafka CLI, librdkafka-based but not our code) produces a generated stream
//    keyed by agent; `x402rec run` consumes it with the digest and open findings of
//    `replay --brokers`, and the topic rebuilds the same findings as the JSONL file did.
//  - Garbage bytes, non-UTF-8, truncated JSON, wrong JSON types, valid JSON that is not a
//    valid event, an empty message, a huge message, a missing key and a key that is not the
//    agent: consumption never stops, and each one lands on x402.deadletter with its original
//    topic/partition/offset and a reason.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "connectors/dev_broker.h"
#include "connectors/generator.h"
#include "tests/integration/kafka_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

class KafkaInputTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start(4).ok()); }
  std::vector<std::string> RunArgs(const std::string& dir) {
    std::vector<std::string> a = {"run",     "--brokers", broker_.bootstraps(), "--data-dir", dir,
                                  "--clock", "event",     "--until-caught-up"};
    for (const auto& p : test::FastGroupProps()) a.push_back(p);
    return a;
  }
  DevBroker broker_;
  test::TempDir tmp_;
};

std::string SubjectOf(const std::string& line) {
  const std::string tag = "\"subject\":\"";
  const size_t p = line.find(tag);
  if (p == std::string::npos) return "";
  const size_t e = line.find('"', p + tag.size());
  return line.substr(p + tag.size(), e - p - tag.size());
}

TEST_F(KafkaInputTest, EventsProducedByKcatAreConsumedLikeTheFile) {
  GeneratorOptions g;
  g.agents = 12;
  g.events = 6000;
  g.seed = 51;
  g.anomalies = 0.04;
  const std::string jsonl = tmp_.file("events.jsonl");
  ASSERT_TRUE(GenerateToFile(g, jsonl, "").ok());
  // kcat -K splits each line into key and value at the delimiter: key = the agent id.
  std::ifstream in(jsonl);
  std::ofstream keyed(tmp_.file("keyed.txt"));
  size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const std::string subject = SubjectOf(line);
    ASSERT_FALSE(subject.empty()) << line;
    keyed << subject << '\t' << line << '\n';
  }
  keyed.close();
  ASSERT_EQ(lines, g.events);
  const std::string cmd = "kcat -P -b " + broker_.bootstraps() +
                          " -t x402.events -K '\t' -X enable.idempotence=true -l " +
                          tmp_.file("keyed.txt") + " 2>" + tmp_.file("kcat.err");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::ReadWholeFile(tmp_.file("kcat.err"));
  int64_t on_topic = 0;
  {
    test::KafkaAdmin a(broker_.bootstraps());
    for (int p = 0; p < 4; ++p) on_topic += a.Watermarks(kEventsTopic, p).second;
  }
  ASSERT_EQ(on_topic, static_cast<int64_t>(lines));

  std::string out;
  ASSERT_EQ(test::RunX402ToEnd(RunArgs(tmp_.file("d")), tmp_.file("run.log"), &out), 0) << out;
  EXPECT_NE(out.find(test::Thousands(lines) + " applied, 0 duplicates dropped, 0 dead letters"),
            std::string::npos)
      << out;
  test::Reference kafka = test::ReplayReference(broker_.bootstraps(), tmp_.file("replay"));
  EXPECT_EQ(test::DigestIn(out), kafka.digest);
  EXPECT_EQ(test::OpenFindingsInDataDir(tmp_.file("d")), kafka.open_findings);
  // Against the file: each Kafka partition keeps its own event-time clock, the file one
  // clock, so compare both as of the same instant (every clock advanced to the last event).
  auto open_of = [](const Report& r) {
    std::set<std::string> open;
    for (const auto& f : r.findings)
      if (f.open) open.insert(std::string(FindingKindName(f.kind)) + "|" + f.key);
    return open;
  };
  ReplayOptions ro;
  ro.inputs = {jsonl};
  auto file = RunReplay(ro);
  ASSERT_TRUE(file.ok()) << file.error();
  ReplayOptions ko;
  ko.brokers = broker_.bootstraps();
  ko.as_of = ro.as_of = file->report.as_of;
  auto file_as_of = RunReplay(ro);
  auto kafka_as_of = RunReplay(ko);
  ASSERT_TRUE(file_as_of.ok() && kafka_as_of.ok());
  ASSERT_FALSE(open_of(file_as_of->report).empty());
  EXPECT_EQ(open_of(kafka_as_of->report), open_of(file_as_of->report));
}

// Produces `value` (key optional) to partition 0 of x402.events, synchronously.
class RawProducer {
 public:
  explicit RawProducer(const std::string& brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "message.max.bytes", "2000000", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  }
  ~RawProducer() { rd_kafka_destroy(rk_); }
  bool Produce(const std::string& value, const std::optional<std::string>& key) {
    rd_kafka_resp_err_t e =
        key ? rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(kEventsTopic), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY(key->data(), key->size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)
            : rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(kEventsTopic), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR &&
           rd_kafka_flush(rk_, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
};

TEST_F(KafkaInputTest, BadMessagesAreDeadLetteredWithPositionAndReasonAndConsumptionGoesOn) {
  // Valid events of one agent, with every kind of bad message between them, all on partition
  // 0 so message i has offset i.
  GeneratorOptions g;
  g.agents = 1;
  g.events = 40;
  g.seed = 52;
  ASSERT_TRUE(GenerateToFile(g, tmp_.file("good.jsonl"), "").ok());
  std::vector<std::string> good;
  {
    std::ifstream in(tmp_.file("good.jsonl"));
    for (std::string l; std::getline(in, l);) good.push_back(l);
  }
  ASSERT_EQ(good.size(), 40u);
  const std::string agent = SubjectOf(good[0]);
  std::string non_utf8 = good[1];
  non_utf8.replace(non_utf8.find(agent), 1, "\xff\xfe");
  std::string wrong_types = good[2];
  wrong_types.replace(wrong_types.find("\"time\":\""), 8, "\"time\":12345,\"x\":\"");
  struct Bad {
    std::string what, value;
    std::optional<std::string> key;
  };
  const std::vector<Bad> bad = {
      {"garbage bytes", std::string("\x00\x01\x02garbage\xff", 11), agent},
      {"non-UTF-8", non_utf8, agent},
      {"truncated JSON", good[3].substr(0, good[3].size() / 2), agent},
      {"wrong JSON types", wrong_types, agent},
      {"valid JSON, invalid event", R"({"hello":"world","n":[1,2,3]})", agent},
      {"empty message", "", agent},
      {"huge message", "{\"pad\":\"" + std::string(300000, 'a') + "\"}", agent},
      {"missing key", good[4], std::nullopt},
      {"key is not the agent", good[5], std::string("someone-else")},
  };
  RawProducer p(broker_.bootstraps());
  std::map<int64_t, std::string> bad_at;  // offset -> what
  int64_t offset = 0;
  for (size_t i = 6; i < good.size(); ++i) {
    ASSERT_TRUE(p.Produce(good[i], agent));
    ++offset;
    const size_t b = i - 6;
    if (b < bad.size()) {
      ASSERT_TRUE(p.Produce(bad[b].value, bad[b].key)) << bad[b].what;
      bad_at[offset++] = bad[b].what;
    }
  }
  const size_t good_count = good.size() - 6;

  std::string out;
  ASSERT_EQ(test::RunX402ToEnd(RunArgs(tmp_.file("d")), tmp_.file("run.log"), &out), 0) << out;
  EXPECT_NE(out.find(std::to_string(good_count) + " applied, 0 duplicates dropped, " +
                     std::to_string(bad.size()) + " dead letters"),
            std::string::npos)
      << out;
  test::Consumed dl = test::ConsumeTopic(broker_.bootstraps(), kDeadLetterTopic, 4);
  ASSERT_EQ(dl.values.size(), bad.size());
  std::map<int64_t, std::string> seen;
  for (size_t i = 0; i < dl.values.size(); ++i) {
    EXPECT_EQ(dl.Header(i, "x402-source-topic"), kEventsTopic);
    EXPECT_EQ(dl.Header(i, "x402-source-partition"), "0");
    const int64_t off = std::stoll(dl.Header(i, "x402-source-offset"));
    const std::string reason = dl.Header(i, "x402-reason");
    EXPECT_FALSE(reason.empty()) << bad_at[off];
    seen[off] = reason;
    std::printf("[ deadltr  ] offset %lld (%s): %s\n", static_cast<long long>(off),
                bad_at[off].c_str(), reason.substr(0, 120).c_str());
  }
  ASSERT_EQ(seen.size(), bad_at.size());
  for (const auto& [off, what] : bad_at)
    EXPECT_TRUE(seen.count(off)) << what << " at offset " << off;
  for (const auto& [off, what] : bad_at) {
    std::string want;
    if (what == "missing key") want = "no key";
    if (what == "key is not the agent") want = "someone-else";
    if (what == "huge message") want = "limit";
    EXPECT_NE(seen[off].find(want), std::string::npos) << what << ": " << seen[off];
  }
}

}  // namespace
}  // namespace x402
