// Helpers for the Kafka reliability tests (kafka_crash_test, kafka_scaleout_test,
// kafka_input_test): `x402rec` as a child process with its output in a log file, reading a
// topic back, group offsets and watermarks, and the reference results of a clean replay.
// Everything talks to an in-process DevBroker on 127.0.0.1.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/dev_broker.h"
#include "connectors/kafka_source.h"
#include "engine/engine.h"
#include "replay/replay.h"
#include "tests/child_process.h"
#include "tests/testutil.h"

namespace x402::test {

// `x402rec args...` with stdout and stderr appended to `log_path`.
class X402Child : public ChildProcess {
 public:
  X402Child(const std::vector<std::string>& args, const std::string& log_path)
      : ChildProcess(WithBinary(args), log_path, LogMode::kAppend), log_(log_path) {}
  std::string log() const { return ReadWholeFile(log_); }

 private:
  static std::vector<std::string> WithBinary(const std::vector<std::string>& args) {
    std::vector<std::string> all = {X402Binary()};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }
  std::string log_;
};

// Runs `x402rec args...` to completion; returns the exit code and the log.
inline int RunX402ToEnd(const std::vector<std::string>& args, const std::string& log_path,
                        std::string* out) {
  X402Child c(args, log_path);
  const int code = c.ExitCode();
  *out = c.log();
  return code;
}

// 12345 -> "12,345", as the command's summary prints counts.
inline std::string Thousands(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

inline std::string DigestIn(const std::string& out) {
  const size_t p = out.rfind("state digest: ");
  return p == std::string::npos ? "" : out.substr(p + 14, 64);
}

struct Consumed {
  std::vector<std::string> keys, values;
  std::vector<std::vector<std::pair<std::string, std::string>>> headers;
  std::string Header(size_t i, const std::string& name) const {
    for (const auto& [k, v] : headers[i])
      if (k == name) return v;
    return "";
  }
};

// A plain consumer handle (no group membership) for watermarks and committed offsets.
class KafkaAdmin {
 public:
  explicit KafkaAdmin(const std::string& brokers, const std::string& group = "x402-test-admin") {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  }
  ~KafkaAdmin() { rd_kafka_destroy(rk_); }
  rd_kafka_t* rk() { return rk_; }
  // Low and high watermarks of topic/p (-1, -1 on error).
  std::pair<int64_t, int64_t> Watermarks(const std::string& topic, int32_t p) {
    int64_t lo = -1, hi = -1;
    if (rd_kafka_query_watermark_offsets(rk_, topic.c_str(), p, &lo, &hi, 5000)) return {-1, -1};
    return {lo, hi};
  }
  // Committed offsets of this handle's group for partitions 0..n-1 of topic (-1 where none).
  std::vector<int64_t> Committed(const std::string& topic, int n) {
    std::vector<int64_t> out(static_cast<size_t>(n), -1);
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(l, topic.c_str(), p);
    if (rd_kafka_committed(rk_, l, 5000) == 0) {
      for (int i = 0; i < l->cnt; ++i)
        if (!l->elems[i].err) out[static_cast<size_t>(l->elems[i].partition)] = l->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return out;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
};

// Whether `group` has committed the high watermark of every partition of every topic.
inline bool GroupAtEnd(const std::string& brokers, const std::string& group,
                       const std::vector<std::string>& topics, int partitions) {
  KafkaAdmin a(brokers, group);
  for (const auto& t : topics) {
    std::vector<int64_t> c = a.Committed(t, partitions);
    for (int p = 0; p < partitions; ++p) {
      auto [lo, hi] = a.Watermarks(t, p);
      if (hi < 0 || (hi > 0 && c[static_cast<size_t>(p)] != hi)) return false;
    }
  }
  return true;
}

// Reads a whole topic (partitions 0..n-1) from the beginning, without a consumer group.
inline Consumed ConsumeTopic(const std::string& brokers, const std::string& topic, int partitions) {
  Consumed c;
  KafkaAdmin a(brokers);
  rd_kafka_t* rk = a.rk();
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* t = rd_kafka_topic_partition_list_new(partitions);
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    auto [lo, hi] = a.Watermarks(topic, p);
    if (hi > lo) total += hi - lo;
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
      c.keys.emplace_back(m->key ? static_cast<const char*>(m->key) : "", m->key_len);
      c.values.emplace_back(m->payload ? static_cast<const char*>(m->payload) : "", m->len);
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
  rd_kafka_consumer_close(rk);
  return c;
}

// What a clean replay of the topic gives: the reference for a live run.
struct Reference {
  std::string digest;
  std::set<std::string> open_findings;  // "kind|key"
  std::set<std::string> alert_ids;      // every alert the log implies (the outbox history)
};

inline std::set<std::string> OpenFindingsOf(Engine& e) {
  std::set<std::string> out;
  e.ForEachFinding([&](const Finding& f) {
    if (f.open) out.insert(std::string(FindingKindName(f.kind)) + "|" + f.key);
  });
  return out;
}

// Open findings ("kind|key") of a stopped engine's data directory.
inline std::set<std::string> OpenFindingsInDataDir(const std::string& data_dir) {
  EngineOptions eo;
  eo.store.path = data_dir + "/state";
  eo.store.read_only = true;
  auto e = Engine::Open(eo);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error());
  if (!e.ok()) return {};
  return OpenFindingsOf(**e);
}

// Sum of the committed positions of `topic` (partitions 0..n-1) in a stopped engine's store.
inline int64_t StoredOffsetsInDataDir(const std::string& data_dir, const std::string& topic,
                                      int n) {
  EngineOptions eo;
  eo.store.path = data_dir + "/state";
  eo.store.read_only = true;
  auto e = Engine::Open(eo);
  if (!e.ok()) return -1;
  int64_t sum = 0;
  for (int p = 0; p < n; ++p) {
    if (auto v = (*e)->GetMeta(KafkaSource::PositionKey(topic, p))) sum += std::stoll(*v);
  }
  return sum;
}

inline Reference ReplayReference(const std::string& brokers, const std::string& state_dir,
                                 const std::vector<std::string>& topics = {"x402.events"}) {
  Reference ref;
  ReplayOptions o;
  o.brokers = brokers;
  o.topics = topics;
  o.state_dir = state_dir;
  auto r = RunReplay(o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  if (!r.ok()) return ref;
  ref.digest = r->report.state_digest;
  EngineOptions eo;
  eo.store.path = state_dir;
  eo.store.read_only = true;
  auto e = Engine::Open(eo);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error());
  if (!e.ok()) return ref;
  ref.open_findings = OpenFindingsOf(**e);
  (*e)->ForEachOutbox(0, [&](const OutboxEntry& o) {
    ref.alert_ids.insert(o.alert_id);
    return true;
  });
  return ref;
}

inline std::set<std::string> AlertIdsOnTopic(const std::string& brokers, int partitions) {
  std::set<std::string> ids;
  Consumed c = ConsumeTopic(brokers, "x402.alerts", partitions);
  for (size_t i = 0; i < c.values.size(); ++i) ids.insert(c.Header(i, "x402-alert-id"));
  return ids;
}

// Group properties that make a mock-cluster rebalance take seconds, not minutes
// (DESIGN.md, "Facts about the dev broker").
inline std::vector<std::string> FastGroupProps() {
  return {"--kafka-prop", "session.timeout.ms=6000",  "--kafka-prop", "heartbeat.interval.ms=1000",
          "--kafka-prop", "max.poll.interval.ms=6000"};
}

// A dev broker with 8 partitions per x402 topic and a data directory, for tests that drive
// `x402rec run --brokers` as a child process.
class DevBrokerRunTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start(8).ok()); }
  // `x402rec run` arguments (without the binary) for one consumer group, event clock.
  std::vector<std::string> RunArgs(const std::string& group) {
    std::vector<std::string> a = {"run",        "--brokers", broker_.bootstraps(),
                                  "--data-dir", data_dir_,   "--clock",
                                  "event",      "--group",   group};
    for (const auto& p : FastGroupProps()) a.push_back(p);
    return a;
  }
  DevBroker broker_;
  TempDir tmp_;
  std::string data_dir_ = tmp_.file("d");
};

}  // namespace x402::test
