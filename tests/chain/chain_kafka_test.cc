// The watcher's Kafka output on the dev broker: every event on the events topic keyed by its
// agent, the same events as the file output; with the broker gone, the flush fails and the
// cursor stays where it was.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "connectors/chain_watcher.h"
#include "connectors/dev_broker.h"
#include "connectors/kafka_producer.h"
#include "tests/chain/fake_evm_node.h"
#include "tests/child_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::FakeEvmNode;

const std::string kAsset = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";

struct Msg {
  std::string key, value;
};

// Every message of `topic` (all partitions from the beginning) until `want` or 20 s.
std::vector<Msg> ConsumeAll(const std::string& bootstrap, const std::string& topic, size_t want) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  EXPECT_TRUE(ApplyKafkaProps(conf, {{"bootstrap.servers", bootstrap},
                                     {"group.id", "chain-test"},
                                     {"enable.auto.commit", "false"}})
                  .ok());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) return {};
  auto n = TopicPartitionCount(rk, topic);
  EXPECT_TRUE(n.ok());
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
  for (int32_t p = 0; n.ok() && p < *n; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  EXPECT_EQ(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<Msg> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      out.push_back({std::string(static_cast<const char*>(m->key), m->key_len),
                     std::string(static_cast<const char*>(m->payload), m->len)});
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

EvmWatchOptions Options(const std::string& dir) {
  EvmWatchOptions o;
  o.network = "eip155:8453";
  o.asset = kAsset;
  o.wallets = {{test::Addr(0xA1), "alice"}, {test::Addr(0xA2), "bob"}};
  o.data_dir = dir;
  o.from_block = 1;
  o.balance_interval = 0;
  o.max_block_range = 50;
  return o;
}

void Drive(EvmChainWatcher& w) {
  RunOptions r;
  r.until_caught_up = true;
  std::atomic<bool> stop{false};
  r.stop = &stop;
  std::thread guard([&] {
    for (int i = 0; i < 1500 && !stop; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop = true;
  });
  EXPECT_TRUE(RunChainWatcher(w, r).ok());
  EXPECT_FALSE(stop.exchange(true)) << "did not catch up";
  guard.join();
}

TEST(ChainKafkaTest, EventsGoToTheTopicKeyedByAgentAndTheCursorWaitsForDelivery) {
  FakeEvmNode node;
  for (uint64_t n = 1; n <= 30; ++n) {
    const std::string from = test::Addr(n % 2 ? 0xA1 : 0xA2);
    node.Mine({test::TransferLog(kAsset, test::Hex64(n), from, test::Addr(0xB2), n)});
  }
  test::TempDir dir;
  // The same chain to a file, for comparison.
  {
    auto rpc = EvmRpc::Open({node.Url()}, RpcOptions());
    auto sink = FileChainSink::Open(dir.file("ref.jsonl"));
    EvmChainWatcher w(Options(dir.file("ref")), rpc->get(), sink->get());
    Drive(w);
  }
  std::vector<std::string> ref;
  {
    std::ifstream in(dir.file("ref.jsonl"));
    for (std::string l; std::getline(in, l);) ref.push_back(l);
  }
  ASSERT_EQ(ref.size(), 30u);

  DevBroker broker;
  ASSERT_TRUE(broker.Start(4).ok());
  auto producer = KafkaProducer::Open({{"bootstrap.servers", broker.bootstraps()}});
  ASSERT_TRUE(producer.ok()) << producer.error();
  KafkaChainSink sink(producer->get(), kEventsTopic);
  auto rpc = EvmRpc::Open({node.Url()}, RpcOptions());
  {
    EvmChainWatcher w(Options(dir.file("kafka")), rpc->get(), &sink);
    Drive(w);
  }
  auto got = ConsumeAll(broker.bootstraps(), kEventsTopic, ref.size());
  ASSERT_EQ(got.size(), ref.size());
  std::multiset<std::string> values;
  simdjson::dom::parser parser;
  for (const auto& m : got) {
    values.insert(m.value);
    simdjson::padded_string p(m.value);
    std::string_view subject;
    ASSERT_FALSE(parser.parse(p)["subject"].get_string().get(subject));
    EXPECT_EQ(m.key, subject);
  }
  EXPECT_EQ(values, std::multiset<std::string>(ref.begin(), ref.end()));

  // The broker goes away: the next step's events are not acknowledged, the cursor stays.
  node.Mine({test::TransferLog(kAsset, test::Hex64(99), test::Addr(0xA1), test::Addr(0xB2), 1)});
  // A producer that gives up on a message after 500 ms (the default waits 300 s).
  auto impatient = KafkaProducer::Open({{"bootstrap.servers", broker.bootstraps()},
                                        {"message.timeout.ms", "500"},
                                        {"request.timeout.ms", "500"},
                                        {"socket.timeout.ms", "1000"}});
  ASSERT_TRUE(impatient.ok()) << impatient.error();
  KafkaChainSink gone(impatient->get(), kEventsTopic);
  broker.Stop();
  EvmChainWatcher w(Options(dir.file("kafka")), rpc->get(), &gone);
  ASSERT_TRUE(w.Open().ok());
  const uint64_t before = w.cursor().next_block;
  auto step = w.Step();
  EXPECT_FALSE(step.ok());
  EXPECT_EQ(w.cursor().next_block, before);
  EvmChainWatcher reopened(Options(dir.file("kafka")), rpc->get(), &gone);
  ASSERT_TRUE(reopened.Open().ok());
  EXPECT_EQ(reopened.cursor().next_block, before);
}

std::string Registered(const std::string& agent, const std::string& network,
                       const std::string& address, const std::string& id) {
  return test::Ev("wallet.registered", id, "2025-11-17T09:00:00.000Z", agent,
                  "{\"network\":\"" + network + "\",\"address\":\"" + address + "\"}",
                  "test/wallets");
}

// The chain events among a topic's messages: subject -> count.
std::map<std::string, int> ChainSubjects(const std::vector<Msg>& msgs) {
  std::map<std::string, int> out;
  simdjson::dom::parser parser;
  for (const auto& m : msgs) {
    simdjson::padded_string p(m.value);
    simdjson::dom::element doc;
    std::string_view type, subject;
    if (parser.parse(p).get(doc) || doc["type"].get_string().get(type) ||
        doc["subject"].get_string().get(subject))
      continue;
    if (type.starts_with("x402.chain.")) ++out[std::string(subject)];
  }
  return out;
}

TEST(ChainKafkaTest, WalletsComeFromRegistrationsOnTheTopicAndLateOnesAreBackfilled) {
  FakeEvmNode node;
  for (uint64_t n = 1; n <= 20; ++n) {
    if (n % 2 == 0 && n <= 8) {
      node.Mine({test::TransferLog(kAsset, test::Hex64(n), test::Addr(0xA0 + n / 2),
                                   test::Addr(0xB2), n)});
    } else {
      node.Mine();
    }
  }
  DevBroker broker;
  ASSERT_TRUE(broker.Start(4).ok());
  auto producer = KafkaProducer::Open({{"bootstrap.servers", broker.bootstraps()}});
  ASSERT_TRUE(producer.ok());
  auto produce = [&](const std::string& agent, const std::string& line) {
    ASSERT_TRUE((*producer)->Produce(kEventsTopic, agent, line).ok());
    ASSERT_TRUE((*producer)->Flush(10000).ok());
  };
  produce("alice", Registered("alice", "base", test::Addr(0xA1), "r1"));
  produce("bob", Registered("bob", "eip155:8453", test::Addr(0xA2), "r2"));
  produce("dave", Registered("dave", "polygon", test::Addr(0xA4), "r3"));  // another network
  test::TempDir dir;
  auto run = [&] {
    test::ChildProcess p(
        {test::X402Binary(), "chain-watch", "--network", "base", "--rpc", node.Url(), "--brokers",
         broker.bootstraps(), "--data-dir", dir.file("data"), "--from-block", "1",
         "--balance-interval", "0", "--until-caught-up"},
        dir.file("log"));
    EXPECT_EQ(p.ExitCode(), 0) << test::ReadWholeFile(dir.file("log"));
  };
  run();
  auto got = ConsumeAll(broker.bootstraps(), kEventsTopic, 5);
  EXPECT_EQ(ChainSubjects(got), (std::map<std::string, int>{{"alice", 1}, {"bob", 1}}));
  // carol registers later: her history is backfilled from the start block.
  produce("carol", Registered("carol", "base", test::Addr(0xA3), "r4"));
  node.Mine({test::TransferLog(kAsset, test::Hex64(21), test::Addr(0xA3), test::Addr(0xB2), 21)});
  node.Mine();
  run();
  got = ConsumeAll(broker.bootstraps(), kEventsTopic, 8);
  EXPECT_EQ(got.size(), 8u);
  EXPECT_EQ(ChainSubjects(got),
            (std::map<std::string, int>{{"alice", 1}, {"bob", 1}, {"carol", 2}}));
}

}  // namespace
}  // namespace x402
