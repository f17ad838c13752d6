// x402rec chain-watch run for real against the scripted JSON-RPC node: usage errors, a run
// configured through [chain], and SIGKILL at arbitrary instants (restart: repeats only).
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/chain/fake_evm_node.h"
#include "tests/child_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::ChildProcess;
using test::FakeEvmNode;
using test::TempDir;

const std::string kAsset = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
const std::string kWallet = test::Addr(0xA1), kPayee = test::Addr(0xB2);

void BuildBusyChain(FakeEvmNode& node, uint64_t blocks) {
  for (uint64_t n = 1; n <= blocks; ++n) {
    if (n % 2 == 0) {
      node.Mine({test::TransferLog(kAsset, test::Hex64(n), kWallet, kPayee, n),
                 test::AuthUsedLog(kAsset, test::Hex64(n), kWallet, test::Hex64(n))});
    } else {
      node.Mine();
    }
  }
}

struct RunResult {
  int code;
  std::string output;
};

RunResult RunX402(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {test::X402Binary(), "chain-watch"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, log);
  const int code = p.ExitCode();
  return {code, test::ReadWholeFile(log)};
}

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(test::ReadWholeFile(path));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::set<std::string> Ids(const std::vector<std::string>& lines) {
  std::set<std::string> ids;
  simdjson::dom::parser parser;
  for (const auto& l : lines) {
    simdjson::padded_string p(l);
    simdjson::dom::element doc;
    std::string_view id;
    EXPECT_FALSE(parser.parse(p).get(doc)) << "not JSON: " << l;
    if (!doc["id"].get_string().get(id)) ids.insert(std::string(id));
  }
  return ids;
}

class ChainCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::WriteLines(dir_.file("wallets.csv"), {"agent,address", "alice," + kWallet});
  }
  TempDir dir_;
};

TEST_F(ChainCommandTest, BadUsageExitsTwoWithOneLineNamingTheFlag) {
  const std::string w = dir_.file("wallets.csv"), d = dir_.file("d");
  const std::string rpc = "http://127.0.0.1:1/v2/SECRETKEY";
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  } cases[] = {
      {{"--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o"}, "--network"},
      {{"--network", "nowhere", "--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o"},
       "--network"},
      {{"--network", "base", "--wallets", w, "--data-dir", d, "--out", "o"}, "--rpc"},
      {{"--network", "base", "--rpc", "http://rpc.example.com/v2/SECRETKEY", "--wallets", w,
        "--data-dir", d, "--out", "o"},
       "--rpc"},
      {{"--network", "base", "--rpc", rpc, "--wallets", w, "--out", "o"}, "--data-dir"},
      {{"--network", "base", "--rpc", rpc, "--data-dir", d, "--out", "o"}, "--wallets"},
      {{"--network", "base", "--rpc", rpc, "--wallets", dir_.file("none.csv"), "--data-dir", d,
        "--out", "o"},
       "--wallets"},
      {{"--network", "base", "--rpc", rpc, "--wallets", w, "--data-dir", d}, "--out"},
      {{"--network", "base", "--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o",
        "--brokers", "127.0.0.1:9"},
       "--out"},
      {{"--network", "base", "--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o",
        "--max-block-range", "0"},
       "--max-block-range"},
      {{"--network", "base", "--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o",
        "--from-block", "-3"},
       "--from-block"},
      {{"--network", "base", "--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o", "--asset",
        "0x12"},
       "--asset"},
      {{"--network", "solana", "--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o"},
       "--network"},
      {{"--network", "base", "--rpc", rpc, "--wallets", w, "--data-dir", d, "--out", "o",
        "--listen", "0.0.0.0:0"},
       "--listen"},
      {{"--bogus"}, "--bogus"},
  };
  test::WriteLines(dir_.file("bad.toml"), {"[chain]", "network = \"base\"", "rpc_endpoint = 3"});
  test::WriteLines(dir_.file("range.toml"), {"[chain]", "max_block_range = 0"});
  const std::vector<Case> config_cases = {
      {{"--config", dir_.file("bad.toml")}, "chain.rpc_endpoint"},
      {{"--config", dir_.file("range.toml"), "--network", "base", "--rpc", rpc, "--wallets", w,
        "--data-dir", d, "--out", "o"},
       "max_block_range"},
  };
  std::vector<Case> all(std::begin(cases), std::end(cases));
  all.insert(all.end(), config_cases.begin(), config_cases.end());
  for (const auto& c : all) {
    auto r = RunX402(c.args, dir_.file("log"));
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(c.flag), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.find("SECRETKEY"), std::string::npos) << r.output;
  }
}

TEST_F(ChainCommandTest, RunsFromTheChainTableOfTheConfigUntilCaughtUp) {
  FakeEvmNode node;
  BuildBusyChain(node, 40);
  test::WriteLines(
      dir_.file("x402rec.toml"),
      {"[chain]", "network = \"base\"", "rpc = [\"" + node.Url() + "\"]",
       "wallets = \"" + dir_.file("wallets.csv") + "\"", "data_dir = \"" + dir_.file("data") + "\"",
       "from_block = 1", "max_block_range = 7", "balance_interval = 0"});
  auto r = RunX402(
      {"--config", dir_.file("x402rec.toml"), "--out", dir_.file("out.jsonl"), "--until-caught-up"},
      dir_.file("log"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(Lines(dir_.file("out.jsonl")).size(), 40u);
  EXPECT_EQ(r.output.find("SECRETKEY"), std::string::npos) << r.output;
  // Again: nothing new on chain, nothing new out.
  r = RunX402(
      {"--config", dir_.file("x402rec.toml"), "--out", dir_.file("out.jsonl"), "--until-caught-up"},
      dir_.file("log"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(Lines(dir_.file("out.jsonl")).size(), 40u);
}

TEST_F(ChainCommandTest, SigkillAtAnyInstantThenRestartGivesRepeatsOnly) {
  FakeEvmNode node;
  BuildBusyChain(node, 400);
  auto args = [&](const std::string& data, const std::string& out) {
    return std::vector<std::string>{"--network",
                                    "eip155:8453",
                                    "--rpc",
                                    node.Url(),
                                    "--wallets",
                                    dir_.file("wallets.csv"),
                                    "--data-dir",
                                    data,
                                    "--out",
                                    out,
                                    "--from-block",
                                    "1",
                                    "--max-block-range",
                                    "3",
                                    "--reorg-window",
                                    "20",
                                    "--balance-interval",
                                    "0",
                                    "--until-caught-up"};
  };
  auto ref = RunX402(args(dir_.file("ref"), dir_.file("ref.jsonl")), dir_.file("log"));
  ASSERT_EQ(ref.code, 0) << ref.output;
  const auto reference = Lines(dir_.file("ref.jsonl"));
  ASSERT_EQ(reference.size(), 400u);

  std::mt19937 rng(7);
  int killed = 0;
  for (int i = 0; i < 8; ++i) {
    std::vector<std::string> argv = {test::X402Binary(), "chain-watch"};
    for (auto& a : args(dir_.file("crash"), dir_.file("crash.jsonl"))) argv.push_back(a);
    ChildProcess p(argv, dir_.file("crash.log"), ChildProcess::LogMode::kAppend);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 120));
    if (p.running()) {
      p.Signal(SIGKILL);
      ++killed;
    }
    p.Wait();
  }
  EXPECT_GT(killed, 0);
  auto last = RunX402(args(dir_.file("crash"), dir_.file("crash.jsonl")), dir_.file("log"));
  ASSERT_EQ(last.code, 0) << last.output;
  const auto got = Lines(dir_.file("crash.jsonl"));
  EXPECT_EQ(Ids(got), Ids(reference));
  std::set<std::string> ref_lines(reference.begin(), reference.end());
  for (const auto& l : got) EXPECT_TRUE(ref_lines.count(l)) << "not in the reference: " << l;
}

// A GET on 127.0.0.1:port; "" when nothing answers.
std::string Get(int port, const std::string& target, int* status) {
  namespace http = boost::beast::http;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket sock(ioc);
  boost::system::error_code ec;
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return "";
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(sock, req, ec);
  if (ec) return "";
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res, ec);
  if (ec) return "";
  *status = static_cast<int>(res.result_int());
  return res.body();
}

int FreePort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

TEST_F(ChainCommandTest, ServesMetricsAndIsReadyWhenCaughtUp) {
  FakeEvmNode node;
  BuildBusyChain(node, 30);
  node.QueueFault({test::FakeFault::k429, "0"}, 2);
  const int port = FreePort();
  ChildProcess p({test::X402Binary(), "chain-watch", "--network", "base", "--rpc", node.Url(),
                  "--wallets", dir_.file("wallets.csv"), "--data-dir", dir_.file("data"), "--out",
                  dir_.file("out.jsonl"), "--from-block", "1", "--poll-interval-ms", "50",
                  "--listen", "127.0.0.1:" + std::to_string(port)},
                 dir_.file("log"));
  int status = 0;
  ASSERT_TRUE(test::WaitFor(
      [&] {
        status = 0;
        Get(port, "/readyz", &status);
        return status == 200;
      },
      20))
      << test::ReadWholeFile(dir_.file("log"));
  node.Reorg(29, "b");
  node.MineEmpty(3);  // head 31 on another branch from block 29
  std::string m;
  ASSERT_TRUE(test::WaitFor(
      [&] {
        m = Get(port, "/metrics", &status);
        return m.find("x402_chain_processed_block{network=\"eip155:8453\"} 31") !=
               std::string::npos;
      },
      20))
      << m;
  EXPECT_NE(m.find("x402_chain_head_block{network=\"eip155:8453\"} 31"), std::string::npos) << m;
  EXPECT_NE(m.find("x402_chain_lag_blocks{network=\"eip155:8453\"} 0"), std::string::npos) << m;
  EXPECT_NE(m.find("x402_chain_reorgs_total{network=\"eip155:8453\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("x402_chain_rpc_errors_total{code=\"http_429\",network=\"eip155:8453\"} 2"),
            std::string::npos)
      << m;
  Get(port, "/healthz", &status);
  EXPECT_EQ(status, 200);
  p.Signal(SIGTERM);
  EXPECT_EQ(p.ExitCode(), 0) << test::ReadWholeFile(dir_.file("log"));
  const std::string log = test::ReadWholeFile(dir_.file("log"));
  EXPECT_EQ(log.find("SECRETKEY"), std::string::npos) << log;
  EXPECT_NE(log.find("\"code\":\"http_429\""), std::string::npos) << log;
}

}  // namespace
}  // namespace x402
