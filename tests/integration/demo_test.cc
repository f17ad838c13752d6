// The quick start's command (1) as a new user runs it: `x402rec demo` starts the embedded
// broker, produces a generated stream, runs the engine over Kafka, and must prove both checks
// (replay digest == live digest, open findings == ground truth) and show every finding kind.
// Runs the real binary from X402_BINARY_DIR.
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>

namespace {

std::string Binary() {
  const char* dir = std::getenv("X402_BINARY_DIR");
  return std::string(dir && *dir ? dir : ".") + "/x402rec";
}

struct Output {
  int code = -1;
  std::string text;
};

// Runs a shell command line, capturing stdout and stderr together.
Output Shell(const std::string& cmd) {
  Output o;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.text.append(buf, n);
  int status = ::pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

class DemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("x402rec_demo_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(DemoTest, RunsOverTheEmbeddedBrokerAndProvesBothChecks) {
  const std::string demo_dir = (dir_ / "demo").string();
  Output o = Shell(Binary() + " demo --dir " + demo_dir +
                   " --events 30000 --agents 20 --anomalies 0.05 --partitions 4");
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("embedded Kafka broker on 127.0.0.1:"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("equals the live engine's"), std::string::npos) << o.text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      o.text, m, std::regex(R"((\d+) of (\d+) expected findings open, (\d+) unexpected)")))
      << o.text;
  EXPECT_EQ(m[1].str(), m[2].str());
  EXPECT_EQ(m[3].str(), "0");
  EXPECT_GT(std::stoi(m[2].str()), 100);
  // Every finding kind of EVENTS.md section 3 is shown open.
  for (const char* kind :
       {"authorization.stale", "authorization.expired", "authorization.settled_after_expiry",
        "authorization.nonce_reuse", "budget.threshold", "budget.exhausted",
        "budget.per_transaction_exceeded", "recon.missing_on_chain", "recon.amount_mismatch",
        "recon.recipient_mismatch", "recon.asset_mismatch", "recon.duplicate_claim",
        "recon.paid_but_failed", "recon.unrecorded_transfer", "recon.reorged", "recon.unconfirmed",
        "vendor.failure_streak", "wallet.balance_low"}) {
    std::smatch k;
    EXPECT_TRUE(
        std::regex_search(o.text, k, std::regex(std::string(kind) + R"(\s+([1-9]\d*) open)")))
        << kind << " not open in:\n"
        << o.text;
  }
  for (const char* f : {"events.jsonl", "truth.json", "report.json", "report.md"}) {
    EXPECT_TRUE(std::filesystem::exists(demo_dir + "/" + f)) << f;
  }
  // The file copy of the stream replays to the same open findings an auditor would expect.
  Output r = Shell(Binary() + " replay --input " + demo_dir + "/events.jsonl");
  ASSERT_EQ(r.code, 0) << r.text;
  EXPECT_NE(r.text.find("findings:"), std::string::npos);

  // Running it again replaces its own directory.
  Output again = Shell(Binary() + " demo --dir " + demo_dir + " --events 2000 --agents 5");
  EXPECT_EQ(again.code, 0) << again.text;
}

TEST_F(DemoTest, BadFlagsAndForeignDirectoriesFailWithOneLine) {
  Output o = Shell(Binary() + " demo --partitions 0 --dir " + (dir_ / "x").string());
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.text.find("--partitions"), std::string::npos) << o.text;
  EXPECT_EQ(std::count(o.text.begin(), o.text.end(), '\n'), 1) << o.text;

  const std::string foreign = (dir_ / "precious").string();
  std::filesystem::create_directories(foreign);
  std::ofstream(foreign + "/keep.txt") << "do not delete";
  o = Shell(Binary() + " demo --dir " + foreign);
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.text.find("not a demo directory"), std::string::npos) << o.text;
  EXPECT_TRUE(std::filesystem::exists(foreign + "/keep.txt"));
}

}  // namespace
