// `x402rec replay --verify DATA_DIR` (the real binary): a live engine's data directory that
// consumed the log verifies (exit 0); one that consumed only part of it does not (exit 1, with
// what differs); usage errors exit 2 with one line; a live store that cannot be read exits 3,
// before the replay.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "connectors/generator.h"
#include "tests/integration/kafka_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

class ReplayVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GeneratorOptions g;
    g.agents = 10;
    g.events = 6000;
    g.seed = 5;
    g.anomalies = 0.05;
    g.bad_lines = 0.002;
    ASSERT_TRUE(GenerateToFile(g, tmp_.file("e.jsonl")).ok());
  }
  int Run(const std::vector<std::string>& args, std::string* out) {
    return test::RunX402ToEnd(args, tmp_.file("x402rec-" + std::to_string(runs_++) + ".log"), out);
  }
  test::TempDir tmp_;
  int runs_ = 0;
};

TEST_F(ReplayVerifyTest, TheLiveStateOfTheSameLogVerifies) {
  std::string out;
  ASSERT_EQ(
      Run({"run", "--input", tmp_.file("e.jsonl"), "--data-dir", tmp_.file("d"), "--http", "off"},
          &out),
      0)
      << out;
  ASSERT_EQ(Run({"replay", "--input", tmp_.file("e.jsonl"), "--verify", tmp_.file("d")}, &out), 0)
      << out;
  EXPECT_NE(out.find("equals the rebuilt state (digest " + test::DigestIn(out)), std::string::npos)
      << out;
}

TEST_F(ReplayVerifyTest, ALiveStateBehindTheLogDoesNotVerifyAndSaysWhy) {
  // The live engine saw the first two thirds of the log.
  std::ifstream in(tmp_.file("e.jsonl"));
  std::ofstream part(tmp_.file("part.jsonl"));
  std::string line;
  for (int i = 0; i < 4000 && std::getline(in, line); ++i) part << line << "\n";
  part.close();
  std::string out;
  ASSERT_EQ(Run({"run", "--input", tmp_.file("part.jsonl"), "--data-dir", tmp_.file("d"), "--http",
                 "off"},
                &out),
            0)
      << out;
  ASSERT_EQ(Run({"replay", "--input", tmp_.file("e.jsonl"), "--verify", tmp_.file("d")}, &out), 1)
      << out;
  EXPECT_NE(out.find("DIFFERS from the rebuilt state"), std::string::npos) << out;
  EXPECT_NE(out.find("did not consume\n  the same log"), std::string::npos) << out;
  EXPECT_NE(out.find("clocks: 1 shard(s) differ"), std::string::npos) << out;
  EXPECT_NE(out.find("open findings only in the rebuilt state: "), std::string::npos) << out;
  EXPECT_EQ(out.find("open findings only in the rebuilt state: 0\n"), std::string::npos) << out;
}

TEST_F(ReplayVerifyTest, UsageErrorsExit2WithOneLine) {
  std::string out;
  EXPECT_EQ(
      Run({"replay", "--input", tmp_.file("e.jsonl"), "--verify", tmp_.file("nothing")}, &out), 2);
  EXPECT_NE(out.find("--verify " + tmp_.file("nothing") + ": no state store there"),
            std::string::npos)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  ASSERT_EQ(
      Run({"run", "--input", tmp_.file("e.jsonl"), "--data-dir", tmp_.file("d"), "--http", "off"},
          &out),
      0);
  EXPECT_EQ(Run({"replay", "--input", tmp_.file("e.jsonl"), "--verify", tmp_.file("d"), "--as-of",
                 "2025-11-17T01:00:00Z"},
                &out),
            2);
  EXPECT_NE(out.find("--verify compares with the live state, which has no --as-of"),
            std::string::npos)
      << out;
}

TEST_F(ReplayVerifyTest, AnUnreadableLiveStoreExits3NotAsADifference) {
  std::string out;
  ASSERT_EQ(
      Run({"run", "--input", tmp_.file("e.jsonl"), "--data-dir", tmp_.file("d"), "--http", "off"},
          &out),
      0);
  std::ofstream(tmp_.file("d/state/CURRENT"), std::ios::trunc) << "garbage\n";
  EXPECT_EQ(Run({"replay", "--input", tmp_.file("e.jsonl"), "--verify", tmp_.file("d")}, &out), 3)
      << out;
  EXPECT_NE(out.find("x402rec replay: --verify: "), std::string::npos) << out;
  EXPECT_EQ(out.find("DIFFERS"), std::string::npos) << out;
  EXPECT_EQ(out.find("state digest"), std::string::npos) << "checked before the replay: " << out;
}

}  // namespace
}  // namespace x402
