// The dev broker (librdkafka mock cluster) against real clients: our KafkaProducer, a plain
// librdkafka consumer (group and manual assignment), an independent client (kcat, spawned as
// a child process), the --port forwarder, and ProduceGenerated. Everything on 127.0.0.1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/dev_broker.h"
#include "connectors/generator.h"
#include "connectors/kafka_gen.h"
#include "connectors/kafka_producer.h"

extern char** environ;

namespace x402 {
namespace {

using Clock = std::chrono::steady_clock;

struct Msg {
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key, value;
  KafkaHeaders headers;
};

Msg ToMsg(const rd_kafka_message_t* m) {
  Msg out;
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key) out.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) out.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; ++i)
      out.headers.emplace_back(name, std::string(static_cast<const char*>(val), size));
  }
  return out;
}

rd_kafka_t* NewConsumer(const KafkaProps& props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Status st = ApplyKafkaProps(conf, props);
  EXPECT_TRUE(st.ok()) << st.error();
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  EXPECT_NE(rk, nullptr) << err;
  if (rk) rd_kafka_poll_set_consumer(rk);
  return rk;
}

// Consumes `topic` from the beginning until `want` messages arrived or `timeout_ms` passed.
// With a group: subscribe (consumer-group protocol); without: assign every partition.
std::vector<Msg> Consume(const std::string& bootstrap, const std::string& topic, size_t want,
                         const std::string& group = "", int timeout_ms = 20000) {
  KafkaProps props = {
      {"bootstrap.servers", bootstrap},  {"group.id", group.empty() ? "x402-test-assign" : group},
      {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"},
      {"session.timeout.ms", "6000"},    {"fetch.wait.max.ms", "20"}};
  rd_kafka_t* rk = NewConsumer(props);
  if (!rk) return {};
  if (group.empty()) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    EXPECT_EQ(rd_kafka_metadata(rk, 0, t, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
    if (md && md->topic_cnt == 1) {
      for (int i = 0; i < md->topics[0].partition_cnt; ++i)
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    EXPECT_EQ(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
  } else {
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
    EXPECT_EQ(rd_kafka_subscribe(rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
  }
  std::vector<Msg> out;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < want && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) out.push_back(ToMsg(m));
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Sum of the high watermarks of every partition of `topic`: the exact message count.
int64_t TopicCount(const std::string& bootstrap, const std::string& topic, int partitions) {
  rd_kafka_t* rk = NewConsumer({{"bootstrap.servers", bootstrap}, {"group.id", "x402-wm"}});
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = -1, hi = -1;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 5000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    total += hi - lo;
  }
  rd_kafka_destroy(rk);
  return total;
}

std::string HeaderValue(const KafkaHeaders& h, const std::string& name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return "<missing>";
}

// Runs argv as a child process, feeding `input` to its stdin and collecting its stdout.
// Kills it after timeout_ms. Returns the exit status (-1 on timeout or spawn failure).
int RunChild(const std::vector<std::string>& argv, const std::string& input, std::string* out,
             int timeout_ms = 20000) {
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    return -1;
  }
  ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  int wfd = in_pipe[1];
  if (input.empty()) {
    ::close(wfd);
    wfd = -1;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  for (;;) {
    pollfd p[2] = {{out_pipe[0], POLLIN, 0}, {wfd, POLLOUT, 0}};
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(p, wfd >= 0 ? 2 : 1, left) < 0) continue;
    if (wfd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(wfd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        ::close(wfd);
        wfd = -1;
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      char buf[65536];
      ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
      if (n <= 0) break;
      out->append(buf, static_cast<size_t>(n));
    }
  }
  if (wfd >= 0) ::close(wfd);
  ::close(out_pipe[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t e; (e = s.find('\n', b)) != std::string::npos; b = e + 1)
    out.push_back(s.substr(b, e - b));
  if (b < s.size()) out.push_back(s.substr(b));
  return out;
}

// A loopback port that was free a moment ago.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

int PortOf(const std::string& address) {
  return std::atoi(address.c_str() + address.rfind(':') + 1);
}

std::unique_ptr<KafkaProducer> OpenProducer(const std::string& bootstrap) {
  auto p = KafkaProducer::Open({{"bootstrap.servers", bootstrap}, {"message.timeout.ms", "10000"}});
  EXPECT_TRUE(p.ok()) << p.error();
  return p.ok() ? std::move(*p) : nullptr;
}

bool HaveKcat() { return ::access("/usr/bin/kcat", X_OK) == 0; }

long long MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// One broker for most tests (stopping a mock cluster can take a second), reached through a
// forwarded --port, so every client of those tests bootstraps via the forwarder. Tests use
// their own topics.
class SharedBroker : public ::testing::Environment {
 public:
  void SetUp() override {
    Status st = broker_.Start(8, FreePort());
    ASSERT_TRUE(st.ok()) << st.error();
  }
  void TearDown() override { broker_.Stop(); }
  static DevBroker& Get() { return broker_; }

 private:
  static inline DevBroker broker_;
};
[[maybe_unused]] ::testing::Environment* const kSharedBroker =
    ::testing::AddGlobalTestEnvironment(new SharedBroker);

// A new topic on the shared broker.
std::string FreshTopic(const std::string& name, int partitions) {
  static int n = 0;
  std::string topic = "test." + name + "." + std::to_string(++n);
  Status st = SharedBroker::Get().CreateTopic(topic, partitions);
  EXPECT_TRUE(st.ok()) << st.error();
  return topic;
}

const std::string& Bootstrap() { return SharedBroker::Get().bootstraps(); }

TEST(DevBrokerTest, StartsOnLoopbackWithTheX402TopicsAndStops) {
  DevBroker b;
  auto t0 = Clock::now();
  Status st = b.Start(8);
  ASSERT_TRUE(st.ok()) << st.error();
  std::printf("start: %lld ms\n", MsSince(t0));
  EXPECT_EQ(b.bootstraps().rfind("127.0.0.1:", 0), 0u) << b.bootstraps();
  EXPECT_EQ(b.bootstraps(), b.broker_address());

  rd_kafka_t* rk = NewConsumer({{"bootstrap.servers", b.bootstraps()}, {"group.id", "md"}});
  const rd_kafka_metadata_t* md = nullptr;
  ASSERT_EQ(rd_kafka_metadata(rk, 1, nullptr, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(md->broker_cnt, 1);
  EXPECT_STREQ(md->brokers[0].host, "127.0.0.1");
  std::map<std::string, int> topics;
  for (int i = 0; i < md->topic_cnt; ++i) topics[md->topics[i].topic] = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  EXPECT_EQ(topics[kEventsTopic], 8);
  EXPECT_EQ(topics[kDeadLetterTopic], 8);
  EXPECT_EQ(topics[kAlertsTopic], 8);
  EXPECT_EQ(topics[kVendorFactsTopic], 8);

  int port = PortOf(b.bootstraps());
  EXPECT_TRUE(CanConnect(port));
  EXPECT_FALSE(b.Start(8).ok());                      // already running
  EXPECT_FALSE(b.CreateTopic(kEventsTopic, 2).ok());  // exists
  t0 = Clock::now();
  b.Stop();
  std::printf("stop: %lld ms\n", MsSince(t0));
  EXPECT_FALSE(b.running());
  EXPECT_FALSE(CanConnect(port));
  b.Stop();  // idempotent
  EXPECT_FALSE(b.Start(0).ok());
  EXPECT_FALSE(b.Start(8, 70000).ok());
  EXPECT_FALSE(b.CreateTopic("t", 1).ok());  // not running
}

// Our producer, then two consumer groups at once (each first join waits out the mock's 3 s
// initial rebalance delay): a plain librdkafka consumer and kcat -G.
TEST(DevBrokerTest, ProduceThenConsumeKeysValuesHeadersInGroups) {
  const std::string topic = FreshTopic("group", 4);
  auto p = OpenProducer(Bootstrap());
  ASSERT_NE(p, nullptr);
  constexpr int kN = 300;
  for (int i = 0; i < kN; ++i) {
    std::string key = "agent-" + std::to_string(i % 7);
    KafkaHeaders h = {{"seq", std::to_string(i)}, {"origin", "test"}};
    ASSERT_TRUE(p->Produce(topic, key, "{\"n\":" + std::to_string(i) + "}", h).ok());
  }
  Status st = p->Flush(10000);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(p->delivered(), uint64_t{kN});

  std::string kcat_out;
  int kcat_rc = 0;
  std::thread kcat;
  if (HaveKcat()) {
    kcat = std::thread([&] {
      kcat_rc = RunChild({"/usr/bin/kcat", "-b", Bootstrap(), "-G", "kcat-group", "-o", "beginning",
                          "-e", "-q", "-X", "session.timeout.ms=6000", "-f", "%k|%s|%h\\n", topic},
                         "", &kcat_out, 30000);
    });
  }
  auto t0 = Clock::now();
  std::vector<Msg> got = Consume(Bootstrap(), topic, kN, "x402-test-group");
  std::printf("group consume of %d: %lld ms\n", kN, MsSince(t0));
  if (kcat.joinable()) kcat.join();
  std::printf("with kcat -G: %lld ms\n", MsSince(t0));

  ASSERT_EQ(got.size(), size_t{kN});
  std::set<int> seen;
  std::map<std::string, std::set<int32_t>> partitions_of;
  std::map<std::string, int> last_seq;  // per key: one partition, so in production order
  for (const Msg& m : got) {
    int i = std::atoi(HeaderValue(m.headers, "seq").c_str());
    EXPECT_EQ(HeaderValue(m.headers, "origin"), "test");
    EXPECT_EQ(m.key, "agent-" + std::to_string(i % 7));
    EXPECT_EQ(m.value, "{\"n\":" + std::to_string(i) + "}");
    seen.insert(i);
    partitions_of[m.key].insert(m.partition);
    auto it = last_seq.find(m.key);
    if (it != last_seq.end()) {
      EXPECT_LT(it->second, i) << m.key;
    }
    last_seq[m.key] = i;
  }
  EXPECT_EQ(seen.size(), size_t{kN});
  for (const auto& [key, parts] : partitions_of) EXPECT_EQ(parts.size(), 1u) << key;
  EXPECT_EQ(TopicCount(Bootstrap(), topic, 4), kN);

  if (!HaveKcat()) GTEST_SKIP() << "/usr/bin/kcat not installed (ops/install-deps.sh)";
  ASSERT_EQ(kcat_rc, 0) << kcat_out;
  std::set<std::string> want, kcat_got;
  for (int i = 0; i < kN; ++i) {
    want.insert("agent-" + std::to_string(i % 7) + "|{\"n\":" + std::to_string(i) +
                "}|seq=" + std::to_string(i) + ",origin=test");
  }
  for (const auto& l : Lines(kcat_out)) kcat_got.insert(l);
  EXPECT_EQ(kcat_got, want);
}

TEST(DevBrokerTest, ExplicitPartitionOnTheDeadLetterTopic) {
  auto p = OpenProducer(Bootstrap());
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(
      p->Produce(kDeadLetterTopic, "k", "dead", {{"x402.reason", "data.amount: bad"}}, 2).ok());
  ASSERT_TRUE(p->Flush(10000).ok());
  auto dl = Consume(Bootstrap(), kDeadLetterTopic, 1);
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].partition, 2);
  EXPECT_EQ(dl[0].offset, 0);
  EXPECT_EQ(dl[0].key, "k");
  EXPECT_EQ(HeaderValue(dl[0].headers, "x402.reason"), "data.amount: bad");
}

// Clients only bootstrap through the forwarder (metadata then points them at the broker's own
// port), so exercise the relay directly: many pipelined Kafka ApiVersions requests written
// while the responses (far larger in total) are read back, all in order.
void ExpectRelaysPipelinedRequests(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  constexpr int kRequests = 20000;
  std::thread writer([fd] {
    std::string all;
    for (int i = 0; i < kRequests; ++i) {
      // size 11, api_key 18 (ApiVersions), api_version 0, correlation_id i, client_id "t".
      unsigned char f[15] = {0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 0, 0, 1, 't'};
      uint32_t id = htonl(static_cast<uint32_t>(i));
      std::memcpy(f + 8, &id, 4);
      all.append(reinterpret_cast<char*>(f), sizeof f);
    }
    for (size_t off = 0; off < all.size();) {
      ssize_t n = ::send(fd, all.data() + off, all.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  });
  std::string in;
  int next = 0;
  size_t bytes = 0;
  pollfd pfd = {fd, POLLIN, 0};
  while (next<kRequests&& ::poll(&pfd, 1, 10000)> 0) {
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    bytes += static_cast<size_t>(n);
    size_t pos = 0;
    while (in.size() - pos >= 4) {
      uint32_t len, id;
      std::memcpy(&len, in.data() + pos, 4);
      len = ntohl(len);
      if (in.size() - pos < 4 + len) break;
      std::memcpy(&id, in.data() + pos + 4, 4);
      EXPECT_EQ(static_cast<int>(ntohl(id)), next) << "response out of order";
      EXPECT_EQ(in[pos + 8], 0);  // error_code 0 (int16, big-endian)
      EXPECT_EQ(in[pos + 9], 0);
      ++next;
      pos += 4 + len;
    }
    in.erase(0, pos);
  }
  writer.join();
  ::close(fd);
  EXPECT_EQ(next, kRequests);
  EXPECT_GT(bytes, size_t{2} << 20);  // more than the forwarder buffers per direction
}

TEST(DevBrokerTest, RequestedPortIsForwardedToTheBroker) {
  int port = FreePort();
  DevBroker b;
  Status st = b.Start(2, port);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(b.bootstraps(), "127.0.0.1:" + std::to_string(port));
  EXPECT_NE(PortOf(b.broker_address()), port);

  // Clients bootstrap on the forwarded port, then talk to the advertised broker port.
  auto p = OpenProducer(b.bootstraps());
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(p->Produce(kEventsTopic, "k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(p->Flush(10000).ok());
  p.reset();
  EXPECT_EQ(Consume(b.bootstraps(), kEventsTopic, 50).size(), 50u);

  // A metadata request answered on the bootstrap (forwarded) connection.
  rd_kafka_t* rk = NewConsumer({{"bootstrap.servers", b.bootstraps()}, {"group.id", "md"}});
  const rd_kafka_metadata_t* md = nullptr;
  ASSERT_EQ(rd_kafka_metadata(rk, 1, nullptr, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(md->orig_broker_id, -1);
  ASSERT_EQ(md->broker_cnt, 1);
  EXPECT_EQ(md->brokers[0].port, PortOf(b.broker_address()));
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);

  {
    SCOPED_TRACE("pipelined requests through the forwarder");
    ExpectRelaysPipelinedRequests(port);
  }

  // A second broker cannot take the same port, and says which.
  DevBroker other;
  Status clash = other.Start(1, port);
  EXPECT_FALSE(clash.ok());
  EXPECT_NE(clash.error().find(std::to_string(port)), std::string::npos) << clash.error();
  EXPECT_FALSE(other.running());

  b.Stop();
  EXPECT_FALSE(CanConnect(port));
  // The port is free again at once: a restarted broker takes it, empty (memory only).
  st = b.Start(2, port);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(TopicCount(b.bootstraps(), kEventsTopic, 2), 0);
}

TEST(KcatTest, KcatProducesWeConsume) {
  if (!HaveKcat()) GTEST_SKIP() << "/usr/bin/kcat not installed (ops/install-deps.sh)";
  const std::string topic = FreshTopic("kcat-in", 4);
  std::string input;
  for (int i = 0; i < 100; ++i)
    input += "agent-" + std::to_string(i % 5) + "|{\"i\":" + std::to_string(i) + "}\n";
  std::string out;
  int rc = RunChild({"/usr/bin/kcat", "-P", "-b", Bootstrap(), "-t", topic, "-K", "|", "-H",
                     "origin=kcat", "-H", "ce_type=x402.test", "-q"},
                    input, &out);
  ASSERT_EQ(rc, 0) << out;
  auto got = Consume(Bootstrap(), topic, 100);
  ASSERT_EQ(got.size(), 100u);
  std::set<std::string> values;
  std::map<std::string, std::set<int32_t>> parts;
  for (const Msg& m : got) {
    EXPECT_EQ(HeaderValue(m.headers, "origin"), "kcat");
    EXPECT_EQ(HeaderValue(m.headers, "ce_type"), "x402.test");
    values.insert(m.key + "|" + m.value);
    parts[m.key].insert(m.partition);
  }
  std::set<std::string> want;
  for (const auto& l : Lines(input)) want.insert(l);
  EXPECT_EQ(values, want);
  EXPECT_EQ(parts.size(), 5u);
  for (const auto& [k, ps] : parts) EXPECT_EQ(ps.size(), 1u) << k;
}

TEST(KcatTest, WeProduceKcatConsumes) {
  if (!HaveKcat()) GTEST_SKIP() << "/usr/bin/kcat not installed (ops/install-deps.sh)";
  const std::string topic = FreshTopic("kcat-out", 3);
  auto p = OpenProducer(Bootstrap());
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(p->Produce(topic, "agent-" + std::to_string(i % 3), "alert-" + std::to_string(i),
                           {{"alert_id", "a" + std::to_string(i)}})
                    .ok());
  }
  ASSERT_TRUE(p->Flush(10000).ok());
  std::string out;
  int rc = RunChild({"/usr/bin/kcat", "-C", "-b", Bootstrap(), "-t", topic, "-o", "beginning", "-e",
                     "-q", "-X", "fetch.wait.max.ms=20", "-f", "%k|%s|%h\\n"},
                    "", &out);
  ASSERT_EQ(rc, 0) << out;
  std::set<std::string> got;
  for (const auto& l : Lines(out)) got.insert(l);
  std::set<std::string> want;
  for (int i = 0; i < 60; ++i) {
    want.insert("agent-" + std::to_string(i % 3) + "|alert-" + std::to_string(i) + "|alert_id=a" +
                std::to_string(i));
  }
  EXPECT_EQ(Lines(out).size(), 60u);
  EXPECT_EQ(got, want);
}

TEST(ProduceGeneratedTest, ExactlyEveryLineKeyedBySubjectInOrder) {
  const std::string topic = FreshTopic("gen", 8);
  GeneratorOptions o;
  o.agents = 9;
  o.events = 3000;
  o.seed = 7;
  o.anomalies = 0.05;
  o.bad_lines = 0.01;
  GeneratorStats stats;
  auto t0 = Clock::now();
  Status st = ProduceGenerated(o, Bootstrap(), topic, 0, &stats);
  ASSERT_TRUE(st.ok()) << st.error();
  std::printf("ProduceGenerated %llu messages: %lld ms\n",
              static_cast<unsigned long long>(stats.events + stats.bad_lines), MsSince(t0));
  EXPECT_EQ(stats.events, o.events);
  EXPECT_GT(stats.bad_lines, 0u);
  const uint64_t total = o.events + stats.bad_lines;

  // What the generator emits, per key, in order.
  std::map<std::string, std::vector<std::string>> want;
  Generate(o, [&](std::string_view subject, std::string_view line) {
    want[subject.empty() ? std::string(kBadLineKey) : std::string(subject)].emplace_back(line);
  });
  EXPECT_EQ(want.size(), size_t{o.agents} + 1);  // every agent, plus "bad"

  EXPECT_EQ(TopicCount(Bootstrap(), topic, 8), static_cast<int64_t>(total));
  std::vector<Msg> got = Consume(Bootstrap(), topic, total);
  ASSERT_EQ(got.size(), total);
  std::map<std::string, std::vector<std::string>> by_key;
  std::map<std::string, std::set<int32_t>> parts;
  std::map<int32_t, int64_t> last_offset;
  for (const Msg& m : got) {
    auto it = last_offset.find(m.partition);
    if (it != last_offset.end()) {
      EXPECT_LT(it->second, m.offset);
    }
    last_offset[m.partition] = m.offset;
    by_key[m.key].push_back(m.value);
    parts[m.key].insert(m.partition);
  }
  for (const auto& [key, ps] : parts)
    EXPECT_EQ(ps.size(), 1u) << "key " << key << " on several partitions";
  ASSERT_EQ(by_key.size(), want.size());
  for (const auto& [key, lines] : want)
    EXPECT_TRUE(by_key[key] == lines) << "key " << key << ": order or content differs";
  EXPECT_GT(last_offset.size(), 1u);  // spread over partitions
}

TEST(ProduceGeneratedTest, RateIsPacedWithASteadyClock) {
  GeneratorOptions o;
  o.events = 120;
  o.agents = 3;
  GeneratorStats stats;
  auto t0 = Clock::now();
  // An unknown topic is auto-created by the mock cluster, with 4 partitions.
  const std::string topic = "test.paced";
  ASSERT_TRUE(ProduceGenerated(o, Bootstrap(), topic, 400, &stats).ok());
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(secs, 119.0 / 400 - 0.01);  // message n is due at n/rate
  EXPECT_LT(secs, 5.0);
  EXPECT_EQ(TopicCount(Bootstrap(), topic, 4), 120);
}

TEST(ProduceGeneratedTest, StopAndUnreachableBrokerAreErrors) {
  GeneratorOptions o;
  o.events = 50;
  int port = FreePort();  // nobody listens here
  auto t0 = Clock::now();
  Status st = ProduceGenerated(o, "127.0.0.1:" + std::to_string(port), kEventsTopic, 0, nullptr,
                               {{"message.timeout.ms", "300"}, {"log_level", "0"}});
  EXPECT_FALSE(st.ok());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 15.0);

  const std::string topic = FreshTopic("stop", 1);
  int calls = 0;
  st = ProduceGenerated(o, Bootstrap(), topic, 0, nullptr, {}, [&] { return ++calls > 10; });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("stopped after 10 messages"), std::string::npos) << st.error();
  EXPECT_EQ(TopicCount(Bootstrap(), topic, 1), 10);  // what was produced is flushed
  EXPECT_FALSE(ProduceGenerated(o, Bootstrap(), topic, -1, nullptr).ok());
  EXPECT_FALSE(ProduceGenerated(o, Bootstrap(), "", 0, nullptr).ok());
}

// The command line: `x402rec broker` prints its address and stops on SIGTERM with status 0;
// `x402rec gen --brokers` fills it.
TEST(BrokerCommandTest, BrokerAndGenCommands) {
  const char* bin_dir = std::getenv("X402_BINARY_DIR");
  std::string bin = std::string(bin_dir ? bin_dir : ".") + "/x402rec";
  if (::access(bin.c_str(), X_OK) != 0) GTEST_SKIP() << bin << " not built";
  int port = FreePort();
  int out_pipe[2];
  ASSERT_EQ(::pipe2(out_pipe, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  std::string port_s = std::to_string(port);
  std::vector<std::string> argv = {bin, "broker", "--port", port_s, "--partitions", "3"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &fa, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  std::string line;
  char c;
  pollfd pfd = {out_pipe[0], POLLIN, 0};
  while (::poll(&pfd, 1, 10000) > 0 && ::read(out_pipe[0], &c, 1) == 1 && c != '\n')
    line.push_back(c);
  ::close(out_pipe[0]);
  EXPECT_EQ(line, "bootstrap: 127.0.0.1:" + port_s);

  std::string out;
  int rc = RunChild({bin, "gen", "--brokers", "127.0.0.1:" + port_s, "--events", "500", "--agents",
                     "4", "--bad-lines", "0.02", "--rate", "5000"},
                    "", &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("-> kafka 127.0.0.1:" + port_s + " x402.events"), std::string::npos) << out;
  int64_t n = TopicCount("127.0.0.1:" + port_s, kEventsTopic, 3);
  EXPECT_GT(n, 500);  // 500 events plus the malformed lines
  EXPECT_LT(n, 560);
  out.clear();
  EXPECT_EQ(RunChild({bin, "gen", "--topic", "t"}, "", &out), 2);  // needs --out or --brokers

  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace x402
