// The EVM chain watcher against a scripted JSON-RPC node on 127.0.0.1 (FakeEvmNode): the
// events it emits (checked field by field and through the engine's own decoder),
// confirmation stages, reorgs, restarts from its cursor after a crash, range halving,
// faults and failover.
#include "connectors/chain_watcher.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "schemas/decoder.h"
#include "schemas/time.h"
#include "tests/chain/fake_evm_node.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::AuthUsedLog;
using test::FakeEvmNode;
using test::FakeFault;
using test::TempDir;
using test::TransferLog;

const std::string kAsset = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
const std::string kNet = "eip155:8453";
const std::string kWallet = test::Addr(0xA1);
const std::string kPayee = test::Addr(0xB2);
const std::string kStranger = test::Addr(0xC3);

std::string Tx(uint64_t n) { return test::Hex64(0x7700 + n); }

struct Out {
  std::string id, type, subject, time, data, json;
};

std::vector<Out> ReadEvents(const std::string& path) {
  std::vector<Out> out;
  std::ifstream in(path);
  std::string line;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) {
    simdjson::padded_string p(line);
    simdjson::dom::element doc;
    EXPECT_FALSE(parser.parse(p).get(doc)) << line;
    Out o;
    o.json = line;
    o.id = std::string(doc["id"].get_string().value());
    o.type = std::string(doc["type"].get_string().value());
    o.subject = std::string(doc["subject"].get_string().value());
    o.time = std::string(doc["time"].get_string().value());
    o.data = simdjson::minify(doc["data"].value());
    out.push_back(o);
  }
  return out;
}

// Fast fault policy for tests.
RpcOptions FastRpc() {
  RpcOptions o;
  o.timeout = std::chrono::milliseconds(1000);
  o.backoff_initial = std::chrono::milliseconds(5);
  o.backoff_max = std::chrono::milliseconds(40);
  o.max_retry_after = std::chrono::milliseconds(3000);
  return o;
}

class ChainWatcherTest : public ::testing::Test {
 protected:
  EvmWatchOptions Options() {
    EvmWatchOptions o;
    o.network = kNet;
    o.asset = kAsset;
    o.wallets = {{kWallet, "alice"}};
    o.data_dir = dir_.file("data");
    o.from_block = 1;
    o.confirmations_required = 6;
    o.balance_interval = 0;
    o.warn = [this](const std::string& m) { warnings_.push_back(m); };
    return o;
  }
  // Runs a fresh watcher (restarting from the cursor in data_dir) until it has processed the
  // head seen at its first step; appends to out.jsonl.
  ChainWatchStats Run(const std::vector<std::string>& urls, EvmWatchOptions o,
                      const std::string& out = "") {
    auto rpc = EvmRpc::Open(urls, FastRpc());
    EXPECT_TRUE(rpc.ok());
    (*rpc)->set_error_hook([this](const std::string& label, const std::string& msg) {
      rpc_errors_.push_back(label + " " + msg);
    });
    auto sink = FileChainSink::Open(out.empty() ? out_path() : out);
    EXPECT_TRUE(sink.ok());
    EvmChainWatcher w(std::move(o), rpc->get(), sink->get());
    RunOptions r;
    r.until_caught_up = true;
    r.poll_interval = std::chrono::milliseconds(10);
    r.error_backoff_initial = std::chrono::milliseconds(5);
    r.error_backoff_max = std::chrono::milliseconds(50);
    r.log = [this](const std::string&, const std::string& m) { run_log_.push_back(m); };
    std::atomic<bool> stop{false};
    std::thread guard([&] {  // a test that hangs fails instead
      for (int i = 0; i < 1000 && !stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      stop = true;
    });
    r.stop = &stop;
    Status st = RunChainWatcher(w, r);
    const bool timed_out = stop.exchange(true);
    guard.join();
    EXPECT_TRUE(st.ok()) << st.error();
    EXPECT_FALSE(timed_out) << "watcher did not catch up";
    calls_ = (*rpc)->calls();
    return w.stats();
  }
  ChainWatchStats Run(FakeEvmNode& node, EvmWatchOptions o) {
    return Run({node.Url()}, std::move(o));
  }
  std::string out_path() const { return dir_.file("out.jsonl"); }
  std::vector<Out> Events() { return ReadEvents(out_path()); }

  TempDir dir_;
  std::vector<std::string> warnings_, rpc_errors_, run_log_;
  uint64_t calls_ = 0;
};

std::string ExpectedId(const std::string& kind, const std::string& tx, uint64_t idx,
                       const std::string& block_hash, const std::string& agent,
                       const std::string& stage) {
  return Sha256Hex("x402rec-chain|1|" + kNet + "|" + kind + "|" + tx + "|" + std::to_string(idx) +
                   "|" + block_hash + "|" + agent + "|" + stage);
}

std::string Time(int64_t s) { return FormatRfc3339(TimeMs{s * 1000}); }

TEST_F(ChainWatcherTest, EmitsTransferAndAuthorizationUsedExactlyPerContract) {
  FakeEvmNode node;
  node.MineEmpty(4);
  const std::string nonce = test::Hex64(0x5EED);
  node.Mine({TransferLog(kAsset, Tx(1), kWallet, kPayee, 1500000),
             AuthUsedLog(kAsset, Tx(1), kWallet, nonce),
             // Not ours: another sender, a transfer into the wallet, another token.
             TransferLog(kAsset, Tx(2), kStranger, kPayee, 7),
             TransferLog(kAsset, Tx(3), kStranger, kWallet, 8),
             TransferLog(test::Addr(0xDEAD), Tx(4), kWallet, kPayee, 9)});
  node.MineEmpty(14);  // head 19
  Run(node, Options());
  auto ev = Events();
  ASSERT_EQ(ev.size(), 2u);
  const std::string h5 = node.HashOf(5);
  EXPECT_EQ(ev[0].type, "x402.chain.transfer");
  EXPECT_EQ(ev[0].subject, "alice");
  EXPECT_EQ(ev[0].time, Time(node.TimeOf(5)));
  EXPECT_EQ(ev[0].id, ExpectedId("transfer", Tx(1), 0, h5, "alice", "confirmed"));
  EXPECT_EQ(ev[0].data, "{\"network\":\"eip155:8453\",\"tx_hash\":\"" + Tx(1) +
                            "\",\"log_index\":0,\"block_number\":5,\"block_time\":\"" +
                            Time(node.TimeOf(5)) + "\",\"asset\":\"" + kAsset + "\",\"from\":\"" +
                            kWallet + "\",\"to\":\"" + kPayee +
                            "\",\"amount\":\"1500000\",\"confirmations\":15,\"removed\":false,"
                            "\"block_hash\":\"" +
                            h5 + "\"}");
  EXPECT_EQ(ev[1].type, "x402.chain.authorization_used");
  EXPECT_EQ(ev[1].id, ExpectedId("authorization_used", Tx(1), 1, h5, "alice", "seen"));
  EXPECT_EQ(ev[1].data,
            "{\"network\":\"eip155:8453\",\"asset\":\"" + kAsset + "\",\"authorizer\":\"" +
                kWallet + "\",\"nonce\":\"" + nonce + "\",\"tx_hash\":\"" + Tx(1) +
                "\",\"block_number\":5,\"removed\":false,\"block_hash\":\"" + h5 + "\"}");
  // The engine's decoder accepts both as they are.
  EventDecoder dec;
  for (const auto& e : ev) {
    auto d = dec.Decode(e.json);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error()) << " in " << e.json;
  }
  // A restart with nothing new on chain emits nothing.
  Run(node, Options());
  EXPECT_EQ(Events().size(), 2u);
}

TEST_F(ChainWatcherTest, ReportsWhenSeenAndAgainWhenConfirmed) {
  FakeEvmNode node;
  node.MineEmpty(2);
  node.Mine({TransferLog(kAsset, Tx(1), kWallet, kPayee, 42)});  // block 3
  node.MineEmpty(2);                                             // head 5: 3 confirmations
  Run(node, Options());
  auto ev = Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_NE(ev[0].data.find("\"confirmations\":3,"), std::string::npos) << ev[0].data;
  EXPECT_EQ(ev[0].id, ExpectedId("transfer", Tx(1), 0, node.HashOf(3), "alice", "seen"));
  node.MineEmpty(2);  // head 7: 5 < 6
  Run(node, Options());
  ASSERT_EQ(Events().size(), 1u);
  node.MineEmpty(1);  // head 8: 6 confirmations
  Run(node, Options());
  ev = Events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_NE(ev[1].data.find("\"confirmations\":6,"), std::string::npos) << ev[1].data;
  EXPECT_EQ(ev[1].id, ExpectedId("transfer", Tx(1), 0, node.HashOf(3), "alice", "confirmed"));
  EXPECT_EQ(ev[1].time, Time(node.TimeOf(8)));  // when it reached them
  node.MineEmpty(3);
  Run(node, Options());
  EXPECT_EQ(Events().size(), 2u);  // reported once per stage
}

TEST_F(ChainWatcherTest, ReorgReportsRemovedWithTheOrphanedHashAndRescansTheNewBranch) {
  FakeEvmNode node;
  node.MineEmpty(7);
  node.Mine({TransferLog(kAsset, Tx(1), kWallet, kPayee, 100)});  // 8
  node.Mine({TransferLog(kAsset, Tx(2), kWallet, kPayee, 200)});  // 9
  node.MineEmpty(1);                                              // 10
  Run(node, Options());
  ASSERT_EQ(Events().size(), 2u);
  const std::string a8 = node.HashOf(8), a9 = node.HashOf(9);
  // Another branch from block 8: tx 1 re-included at 9, tx 2 gone for good.
  node.Reorg(8, "b");
  node.MineEmpty(1);                                              // 8'
  node.Mine({TransferLog(kAsset, Tx(1), kWallet, kPayee, 100)});  // 9'
  node.MineEmpty(2);                                              // head 11
  auto stats = Run(node, Options());
  EXPECT_EQ(stats.reorgs, 1u);
  auto ev = Events();
  ASSERT_EQ(ev.size(), 5u);
  std::map<std::string, Out> by_id;
  for (const auto& e : ev) by_id[e.id] = e;
  const std::string r1 = ExpectedId("transfer", Tx(1), 0, a8, "alice", "removed");
  const std::string r2 = ExpectedId("transfer", Tx(2), 0, a9, "alice", "removed");
  const std::string s1 = ExpectedId("transfer", Tx(1), 0, node.HashOf(9), "alice", "seen");
  ASSERT_TRUE(by_id.count(r1));
  ASSERT_TRUE(by_id.count(r2));
  ASSERT_TRUE(by_id.count(s1));
  EXPECT_NE(by_id[r1].data.find("\"removed\":true,\"block_hash\":\"" + a8 + "\""),
            std::string::npos);
  EXPECT_NE(by_id[r1].data.find("\"block_number\":8,"), std::string::npos);
  EXPECT_NE(by_id[r2].data.find("\"removed\":true,\"block_hash\":\"" + a9 + "\""),
            std::string::npos);
  EXPECT_NE(by_id[s1].data.find("\"block_number\":9,"), std::string::npos);
  EXPECT_NE(by_id[s1].data.find("\"removed\":false"), std::string::npos);
  EventDecoder dec;
  for (const auto& e : ev) EXPECT_TRUE(dec.Decode(e.json).ok()) << e.json;
}

TEST_F(ChainWatcherTest, NodeGoingBackToAShorterBranchIsAReorg) {
  FakeEvmNode node;
  node.MineEmpty(8);
  node.Mine({TransferLog(kAsset, Tx(1), kWallet, kPayee, 100)});  // 9
  node.MineEmpty(1);                                              // 10
  Run(node, Options());
  node.Reorg(9, "b");
  node.MineEmpty(1);  // head 9' < our 10
  Run(node, Options());
  auto ev = Events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_NE(ev[1].data.find("\"removed\":true"), std::string::npos);
}

TEST_F(ChainWatcherTest, NodeBehindOrGoneBackIsWaitedForNeverSkipped) {
  FakeEvmNode node;
  node.MineEmpty(20);
  Run(node, Options());
  node.CapHead(10);  // restarted from an older snapshot of the same chain
  node.Mine({TransferLog(kAsset, Tx(1), kWallet, kPayee, 5)});  // 21, not visible yet
  {
    auto rpc = EvmRpc::Open({node.Url()}, FastRpc());
    auto sink = FileChainSink::Open(out_path());
    EvmChainWatcher w(Options(), rpc->get(), sink->get());
    ASSERT_TRUE(w.Open().ok());
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(w.Step().ok());
    EXPECT_EQ(w.stats().processed, 20u);
  }
  EXPECT_TRUE(Events().empty());
  node.CapHead(std::nullopt);
  node.MineEmpty(1);
  Run(node, Options());
  auto ev = Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_NE(ev[0].data.find("\"block_number\":21,"), std::string::npos);
}

// Chain with a log every third block and a few in the window.
void BuildBusyChain(FakeEvmNode& node, uint64_t blocks) {
  for (uint64_t n = 1; n <= blocks; ++n) {
    if (n % 3 == 0) {
      node.Mine({TransferLog(kAsset, Tx(n), kWallet, kPayee, n),
                 AuthUsedLog(kAsset, Tx(n), kWallet, test::Hex64(n))});
    } else {
      node.Mine();
    }
  }
}

std::set<std::string> Ids(const std::vector<Out>& ev) {
  std::set<std::string> s;
  for (const auto& e : ev) s.insert(e.id);
  return s;
}

TEST_F(ChainWatcherTest, RangeHalvingMissesNothing) {
  FakeEvmNode capped, plain;
  BuildBusyChain(capped, 200);
  BuildBusyChain(plain, 200);
  auto o = Options();
  o.reorg_window = 20;
  o.max_block_range = 50;
  Run(plain, o);
  const auto reference = Events();
  ASSERT_EQ(reference.size(), 2u * 66);
  TempDir other;
  capped.SetMaxRange(3);
  o.data_dir = other.file("data");
  auto stats = Run({capped.Url()}, o, other.file("out.jsonl"));
  const auto got = ReadEvents(other.file("out.jsonl"));
  EXPECT_GT(capped.RangeErrors(), 0u);
  EXPECT_GT(stats.range_halvings, 0u);
  EXPECT_EQ(Ids(got), Ids(reference));
  EXPECT_EQ(got.size(), reference.size());
}

TEST_F(ChainWatcherTest, AnAnswerOverTheBodyLimitHalvesTheRangeToo) {
  FakeEvmNode node;
  BuildBusyChain(node, 120);
  auto o = Options();
  o.max_block_range = 100;
  o.reorg_window = 10;
  Run(node, o);
  const auto reference = Events();
  TempDir other;
  o.data_dir = other.file("data");
  RpcOptions small = FastRpc();
  small.max_body_bytes = 4096;  // a few logs per answer
  auto rpc = EvmRpc::Open({node.Url()}, small);
  ASSERT_TRUE(rpc.ok());
  auto sink = FileChainSink::Open(other.file("out.jsonl"));
  EvmChainWatcher w(o, rpc->get(), sink->get());
  ASSERT_TRUE(w.Open().ok());
  for (int i = 0; i < 200; ++i) {
    auto r = w.Step();
    ASSERT_TRUE(r.ok()) << r.error();
    if (r->caught_up) break;
  }
  EXPECT_GT(w.stats().range_halvings, 0u);
  EXPECT_EQ(Ids(ReadEvents(other.file("out.jsonl"))), Ids(reference));
}

// A sink that "crashes": after `ok_flushes` acknowledged flushes, the next flush fails
// (the process died before the acknowledgement) and its events either reached the output
// anyway (`keep`: they will be repeats) or never did (a watcher that moved its cursor
// regardless would lose them).
class CrashingSink : public ChainEventSink {
 public:
  CrashingSink(ChainEventSink* inner, int ok_flushes, bool keep)
      : inner_(inner), left_(ok_flushes), keep_(keep) {}
  Status Write(const std::vector<ChainEvent>& e) override {
    pending_.insert(pending_.end(), e.begin(), e.end());
    return Status::Ok();
  }
  Status Flush() override {
    const bool crash = left_-- <= 0;
    if (!crash || keep_) {
      if (Status st = inner_->Write(pending_); !st.ok()) return st;
      if (Status st = inner_->Flush(); !st.ok()) return st;
    }
    pending_.clear();
    return crash ? Status(Err("crash")) : Status::Ok();
  }

 private:
  ChainEventSink* inner_;
  int left_;
  bool keep_;
  std::vector<ChainEvent> pending_;
};

TEST_F(ChainWatcherTest, CrashBeforeAcknowledgementRestartsWithRepeatsOnly) {
  FakeEvmNode node;
  BuildBusyChain(node, 60);
  auto o = Options();
  o.max_block_range = 4;
  o.reorg_window = 10;
  Run(node, o);
  const auto reference = Events();
  ASSERT_FALSE(reference.empty());

  TempDir crash;
  o.data_dir = crash.file("data");
  const std::string path = crash.file("out.jsonl");
  for (int k = 0; k < 30; k += 3) {  // crash at the k-th acknowledgement, then restart
    auto rpc = EvmRpc::Open({node.Url()}, FastRpc());
    auto file = FileChainSink::Open(path);
    ASSERT_TRUE(file.ok());
    CrashingSink sink(file->get(), k % 5, k % 2 == 0);
    EvmChainWatcher w(o, rpc->get(), &sink);
    ASSERT_TRUE(w.Open().ok());
    for (int i = 0; i < 100; ++i) {
      auto r = w.Step();
      if (!r.ok()) break;
      if (r->caught_up) break;
    }
  }
  Run({node.Url()}, o, path);
  const auto got = ReadEvents(path);
  EXPECT_GT(got.size(), reference.size());  // repeats happened
  EXPECT_EQ(Ids(got), Ids(reference));      // and nothing else
  std::map<std::string, std::string> ref;
  for (const auto& e : reference) ref[e.id] = e.json;
  for (const auto& e : got) EXPECT_EQ(e.json, ref[e.id]);  // a repeat is the same event
}

TEST_F(ChainWatcherTest, RetriesFaultsAndHonoursRetryAfter) {
  FakeEvmNode node;
  BuildBusyChain(node, 12);
  node.QueueFault({FakeFault::k429, "1"});
  node.QueueFault({FakeFault::k500, ""});
  node.QueueFault({FakeFault::kMalformed, ""});
  node.QueueFault({FakeFault::kRpcError, ""});
  // A dropped keep-alive connection is retried once on a new one by the HTTP client: two.
  node.QueueFault({FakeFault::kClose, ""}, 2);
  node.QueueFault({FakeFault::kHang, ""});  // the request's deadline (1 s here) passes
  Run(node, Options());
  EXPECT_EQ(Events().size(), 8u);
  const auto reqs = node.server().Requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_GE(reqs[1].at - reqs[0].at, std::chrono::milliseconds(950));  // Retry-After: 1
  std::set<std::string> labels;
  for (const auto& e : rpc_errors_) {
    labels.insert(e.substr(0, e.find(' ')));
    EXPECT_EQ(e.find("SECRETKEY"), std::string::npos) << e;
  }
  EXPECT_TRUE(labels.count("http_429"));
  EXPECT_TRUE(labels.count("http_500"));
  EXPECT_TRUE(labels.count("malformed"));
  EXPECT_TRUE(labels.count("rpc_-32000"));
  EXPECT_TRUE(labels.count("transport"));
  EXPECT_TRUE(labels.count("timeout"));
}

TEST_F(ChainWatcherTest, FailsOverToTheNextRpc) {
  FakeEvmNode broken, good;
  BuildBusyChain(broken, 12);
  BuildBusyChain(good, 12);
  broken.FailAll(FakeFault{FakeFault::k500, ""});
  Run({broken.Url("SECRETKEY-A"), good.Url("SECRETKEY-B")}, Options());
  EXPECT_EQ(Events().size(), 8u);
  EXPECT_GT(broken.server().RequestCount(), 0u);
  for (const auto& e : rpc_errors_) EXPECT_EQ(e.find("SECRETKEY"), std::string::npos) << e;
  for (const auto& e : run_log_) EXPECT_EQ(e.find("SECRETKEY"), std::string::npos) << e;
}

TEST_F(ChainWatcherTest, AmountsAreExactAndOneAboveTheMaximumIsSkippedLoudly) {
  FakeEvmNode node;
  test::FakeLog max = TransferLog(kAsset, Tx(1), kWallet, kPayee, 0);
  max.data = test::Word("4b3b4ca85a86c47a098a223fffffffff");  // 10^38 - 1
  test::FakeLog over = TransferLog(kAsset, Tx(2), kWallet, kPayee, 0);
  over.data = test::Word("4b3b4ca85a86c47a098a224000000000");  // 10^38
  test::FakeLog huge = TransferLog(kAsset, Tx(3), kWallet, kPayee, 0);
  huge.data = "0x1" + std::string(63, '0');  // 2^252
  node.Mine({max, over, huge});
  node.MineEmpty(3);
  auto stats = Run(node, Options());
  auto ev = Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_NE(ev[0].data.find("\"amount\":\"99999999999999999999999999999999999999\""),
            std::string::npos);
  EXPECT_EQ(stats.skipped_logs, 2u);
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_NE(warnings_[0].find("above the largest amount"), std::string::npos);
}

TEST_F(ChainWatcherTest, BalancesEveryIntervalNearTheHead) {
  FakeEvmNode node;
  node.SetBalance(kWallet, 250000000);
  node.MineEmpty(25);
  auto o = Options();
  o.balance_interval = 10;
  o.max_block_range = 5;
  Run(node, o);
  auto ev = Events();
  std::vector<std::string> blocks;
  for (const auto& e : ev) {
    ASSERT_EQ(e.type, "x402.wallet.balance");
    EXPECT_EQ(e.subject, "alice");
    EXPECT_NE(e.data.find("\"balance\":\"250000000\""), std::string::npos) << e.data;
    blocks.push_back(e.data.substr(e.data.find("block_number")));
  }
  // The first step's last block, then each step crossing a multiple of 10.
  EXPECT_EQ(blocks, (std::vector<std::string>{"block_number\":5}", "block_number\":10}",
                                              "block_number\":20}"}));
  EventDecoder dec;
  for (const auto& e : ev) EXPECT_TRUE(dec.Decode(e.json).ok()) << e.json;
}

TEST_F(ChainWatcherTest, SplitsLongWalletListsIntoSeveralFilters) {
  FakeEvmNode node;
  auto o = Options();
  o.wallets.clear();
  std::vector<test::FakeLog> logs;
  for (uint64_t i = 0; i < 25; ++i) {
    o.wallets.push_back({test::Addr(0x1000 + i), "agent_" + std::to_string(i)});
    logs.push_back(TransferLog(kAsset, Tx(i), test::Addr(0x1000 + i), kPayee, i + 1));
  }
  o.max_addresses_per_filter = 10;
  node.Mine(logs);
  node.MineEmpty(2);
  Run(node, o);
  auto ev = Events();
  ASSERT_EQ(ev.size(), 25u);
  std::set<std::string> agents;
  for (const auto& e : ev) agents.insert(e.subject);
  EXPECT_EQ(agents.size(), 25u);
  EXPECT_EQ(node.MethodCounts()["eth_getLogs"], 3);
}

TEST_F(ChainWatcherTest, AWalletAddedLaterIsBackfilledFromTheStart) {
  FakeEvmNode node;
  const std::string bob = test::Addr(0xB0B);
  node.Mine({TransferLog(kAsset, Tx(1), bob, kPayee, 11)});  // 1
  node.MineEmpty(10);
  Run(node, Options());
  EXPECT_TRUE(Events().empty());
  node.Mine({TransferLog(kAsset, Tx(2), bob, kPayee, 12)});  // 12
  node.MineEmpty(1);
  auto o = Options();
  o.wallets.push_back({bob, "bob"});
  Run(node, o);
  auto ev = Events();
  ASSERT_EQ(ev.size(), 2u);
  std::set<std::string> txs;
  for (const auto& e : ev) {
    EXPECT_EQ(e.subject, "bob");
    txs.insert(e.data.substr(e.data.find("tx_hash") + 10, 66));
  }
  EXPECT_EQ(txs, (std::set<std::string>{Tx(1), Tx(2)}));
}

TEST_F(ChainWatcherTest, SteadyStateCostsThreeCallsPerNewBlock) {
  FakeEvmNode node;
  BuildBusyChain(node, 20);
  Run(node, Options());
  auto rpc = EvmRpc::Open({node.Url()}, FastRpc());
  auto sink = FileChainSink::Open(out_path());
  EvmChainWatcher w(Options(), rpc->get(), sink->get());
  ASSERT_TRUE(w.Open().ok());
  for (int i = 0; i < 6; ++i) {
    if (i % 2) {
      node.Mine({TransferLog(kAsset, Tx(100 + i), kWallet, kPayee, 1)});
    } else {
      node.Mine();
    }
    const uint64_t before = (*rpc)->calls();
    auto r = w.Step();
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->caught_up);
    EXPECT_EQ((*rpc)->calls() - before, 3u);  // eth_blockNumber, the header, eth_getLogs
  }
  const uint64_t before = (*rpc)->calls();
  ASSERT_TRUE(w.Step().ok());  // nothing new: one call
  EXPECT_EQ((*rpc)->calls() - before, 1u);
}

TEST_F(ChainWatcherTest, ReorgJustAfterADeepBackfillIsFoundThroughTheKeptHashes) {
  FakeEvmNode node;
  BuildBusyChain(node, 300);
  auto o = Options();
  o.reorg_window = 20;
  o.max_block_range = 64;
  Run(node, o);
  const size_t before = Events().size();
  ASSERT_EQ(before, 200u);
  const std::string h294 = node.HashOf(294), h297 = node.HashOf(297);
  node.Reorg(293, "b");
  node.MineEmpty(10);  // 293'..302': the logs of 294, 297 and 300 are gone
  auto stats = Run(node, o);
  EXPECT_EQ(stats.reorgs, 1u);
  auto ev = Events();
  std::vector<std::string> removed;
  for (size_t i = before; i < ev.size(); ++i) {
    ASSERT_NE(ev[i].data.find("\"removed\":true"), std::string::npos) << ev[i].data;
    removed.push_back(ev[i].id);
  }
  EXPECT_EQ(removed.size(), 6u);  // a Transfer and an AuthorizationUsed in each
  EXPECT_TRUE(std::count(removed.begin(), removed.end(),
                         ExpectedId("transfer", Tx(294), 0, h294, "alice", "removed")));
  EXPECT_TRUE(std::count(removed.begin(), removed.end(),
                         ExpectedId("authorization_used", Tx(297), 1, h297, "alice", "removed")));
}

TEST_F(ChainWatcherTest, AReopenedOutputFileLosesOnlyItsTornLastLine) {
  {
    std::ofstream f(out_path());
    f << "{\"a\":1}\n{\"b\":2}\n{\"c\":";
  }
  auto sink = FileChainSink::Open(out_path());
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write({{"k", "{\"d\":4}"}}).ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  std::vector<std::string> lines;
  std::ifstream in(out_path());
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"d\":4}"}));
}

TEST(RpcUrlTest, RedactsEverythingAfterTheHost) {
  EXPECT_EQ(RedactRpcUrl("https://base-mainnet.g.alchemy.com/v2/KEY"),
            "https://base-mainnet.g.alchemy.com/****");
  EXPECT_EQ(RedactRpcUrl("https://x.quiknode.pro/TOKEN/"), "https://x.quiknode.pro/****");
  EXPECT_EQ(RedactRpcUrl("https://user:pw@rpc.example.com:8545/?key=K"),
            "https://rpc.example.com:8545/****");
  EXPECT_EQ(RedactRpcUrl("https://rpc.example.com"), "https://rpc.example.com");
}

TEST(WalletsCsvTest, ReadsAgentsAndAddressesAndNamesTheBadLine) {
  TempDir d;
  test::WriteLines(d.file("w.csv"),
                   {"agent,address", "alice, 0x00000000000000000000000000000000000000A1", "",
                    "# comment", "bob,0x00000000000000000000000000000000000000b2"});
  auto w = LoadWalletsCsv(d.file("w.csv"));
  ASSERT_TRUE(w.ok()) << w.error();
  ASSERT_EQ(w->size(), 2u);
  EXPECT_EQ((*w)[0].address, kWallet);
  EXPECT_EQ((*w)[0].agent, "alice");
  test::WriteLines(d.file("bad.csv"), {"alice,0x00000000000000000000000000000000000000A1",
                                       "bob,0x00000000000000000000000000000000000000a1"});
  auto bad = LoadWalletsCsv(d.file("bad.csv"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("bad.csv:2"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace x402
