// Scale-out over the dev broker (DESIGN.md principle 7): two `x402rec run` instances in one
// consumer group on an 8-partition topic, each with its own data directory. Together they
// must hold exactly the open findings one instance holds (union equal, no finding in both);
// after one is SIGKILLed, the other takes its partitions, rebuilds them from the topic, and
// alone holds exactly the single instance's findings again.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "connectors/dev_broker.h"
#include "connectors/kafka_gen.h"
#include "tests/integration/kafka_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::X402Child;

class KafkaScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start(8).ok()); }
  std::vector<std::string> RunArgs(const std::string& dir, const std::string& group) {
    std::vector<std::string> a = {"run",        "--brokers", broker_.bootstraps(),
                                  "--data-dir", dir,         "--clock",
                                  "event",      "--group",   group};
    for (const auto& p : test::FastGroupProps()) a.push_back(p);
    return a;
  }
  // The partition count of the member's latest assignment (-1 before the first).
  static int LastAssigned(const std::string& log) {
    const size_t p = log.rfind("x402rec run: assigned ");
    if (p == std::string::npos) return -1;
    return std::atoi(log.c_str() + p + 22);
  }
  // Ready (read to the end) after its latest assignment.
  static bool ReadyAfterAssignment(const std::string& log) {
    const size_t a = log.rfind("x402rec run: assigned ");
    return a != std::string::npos && log.find("x402rec run: ready", a) != std::string::npos;
  }
  bool GroupDone(const std::string& group) {
    const std::vector<std::string> topics = {kEventsTopic, kVendorFactsTopic};
    if (!test::GroupAtEnd(broker_.bootstraps(), group, topics, 8)) return false;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return test::GroupAtEnd(broker_.bootstraps(), group, topics, 8);
  }
  std::set<std::string> SingleInstance(const std::string& dir) {
    std::string out;
    auto args = RunArgs(dir, "single");
    args.push_back("--until-caught-up");
    EXPECT_EQ(test::RunX402ToEnd(args, dir + ".log", &out), 0) << out;
    return test::OpenFindingsInDataDir(dir);
  }
  DevBroker broker_;
  test::TempDir tmp_;
};

TEST_F(KafkaScaleOutTest, TwoInstancesTogetherHoldExactlyTheFindingsOfOneAndSurviveAKill) {
  GeneratorOptions g;
  g.agents = 40;
  g.events = 12000;
  g.seed = 41;
  g.anomalies = 0.04;
  GeneratorStats gs;
  ASSERT_TRUE(ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 0, &gs).ok());

  const std::string a_dir = tmp_.file("a"), b_dir = tmp_.file("b");
  auto a = std::make_unique<X402Child>(RunArgs(a_dir, "pair"), tmp_.file("a.log"));
  auto b = std::make_unique<X402Child>(RunArgs(b_dir, "pair"), tmp_.file("b.log"));
  // Both members own part of the 8 + 8 partitions (events and vendor facts) and are read to
  // the end of them.
  ASSERT_TRUE(test::WaitFor(
      [&] {
        const int na = LastAssigned(a->log()), nb = LastAssigned(b->log());
        return na > 0 && nb > 0 && na + nb == 16 && ReadyAfterAssignment(a->log()) &&
               ReadyAfterAssignment(b->log()) && GroupDone("pair");
      },
      60))
      << "A:\n"
      << a->log() << "\nB:\n"
      << b->log();
  a->Signal(SIGTERM);
  b->Signal(SIGTERM);
  ASSERT_EQ(a->ExitCode(), 0) << a->log();
  ASSERT_EQ(b->ExitCode(), 0) << b->log();

  const std::set<std::string> single = SingleInstance(tmp_.file("single"));
  ASSERT_FALSE(single.empty());
  const std::set<std::string> fa = test::OpenFindingsInDataDir(a_dir),
                              fb = test::OpenFindingsInDataDir(b_dir);
  std::vector<std::string> both;
  std::set_intersection(fa.begin(), fa.end(), fb.begin(), fb.end(), std::back_inserter(both));
  EXPECT_TRUE(both.empty()) << both.size() << " findings held by both instances, e.g. "
                            << both.front();
  std::set<std::string> uni = fa;
  uni.insert(fb.begin(), fb.end());
  EXPECT_EQ(uni, single) << "A holds " << fa.size() << ", B " << fb.size() << ", one instance "
                         << single.size();

  // Both again; then more events while B is SIGKILLed: A takes B's partitions over.
  const size_t a_from = a->log().size(), b_from = b->log().size();
  a = std::make_unique<X402Child>(RunArgs(a_dir, "pair"), tmp_.file("a.log"));
  b = std::make_unique<X402Child>(RunArgs(b_dir, "pair"), tmp_.file("b.log"));
  ASSERT_TRUE(test::WaitFor(
      [&] {
        return a->log().find("x402rec run: assigned", a_from) != std::string::npos &&
               b->log().find("x402rec run: assigned", b_from) != std::string::npos &&
               LastAssigned(a->log()) < 16 && LastAssigned(b->log()) < 16;
      },
      60))
      << "A:\n"
      << a->log() << "\nB:\n"
      << b->log();
  g.seed = 42;
  g.start = TimeMs{1763337600000 + 86400000};
  Status more = Status::Ok();
  std::thread producer(
      [&] { more = ProduceGenerated(g, broker_.bootstraps(), kEventsTopic, 4000, &gs); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  b->Signal(SIGKILL);
  b->Wait();
  producer.join();
  ASSERT_TRUE(more.ok()) << more.error();
  ASSERT_TRUE(test::WaitFor(
      [&] {
        return LastAssigned(a->log()) == 16 && ReadyAfterAssignment(a->log()) && GroupDone("pair");
      },
      60))
      << "A:\n"
      << a->log();
  a->Signal(SIGTERM);
  ASSERT_EQ(a->ExitCode(), 0) << a->log();
  const std::set<std::string> single2 = SingleInstance(tmp_.file("single"));
  EXPECT_NE(single2, single);  // the second part opened findings of its own
  EXPECT_EQ(test::OpenFindingsInDataDir(a_dir), single2);
}

}  // namespace
}  // namespace x402
