// End to end: the watcher's output for a scripted chain, together with the ledger's events,
// fed to the engine (EngineHarness, the API the integration tests use): a clean payment
// matches, a reorg that drops the transfer gives recon.reorged, a re-inclusion at the same
// height resolves it, and too few confirmations give recon.unconfirmed until the watcher
// reports the log confirmed.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "connectors/chain_watcher.h"
#include "tests/chain/fake_evm_node.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::FakeEvmNode;

const std::string kAsset = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
const std::string kPayer = test::Addr(0xA1), kPayTo = test::Addr(0xB2);
const std::string kTx = test::Hex64(0xF1);

class ChainReconTest : public ::testing::Test {
 protected:
  // Runs the watcher (from its cursor) until caught up; returns the lines it added.
  std::vector<std::string> Watch(FakeEvmNode& node) {
    auto rpc = EvmRpc::Open({node.Url()}, RpcOptions());
    EXPECT_TRUE(rpc.ok());
    auto sink = FileChainSink::Open(dir_.file("chain.jsonl"));
    EXPECT_TRUE(sink.ok());
    EvmWatchOptions o;
    o.network = "eip155:8453";
    o.asset = kAsset;
    o.wallets = {{kPayer, "builder_agent"}};
    o.data_dir = dir_.file("watch");
    o.from_block = 1;
    o.confirmations_required = 6;  // the engine's default for base
    o.balance_interval = 0;
    EvmChainWatcher w(o, rpc->get(), sink->get());
    RunOptions r;
    r.until_caught_up = true;
    std::atomic<bool> stop{false};
    r.stop = &stop;
    std::thread guard([&] {
      for (int i = 0; i < 500 && !stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      stop = true;
    });
    EXPECT_TRUE(RunChainWatcher(w, r).ok());
    EXPECT_FALSE(stop.exchange(true)) << "watcher did not catch up";
    guard.join();
    std::vector<std::string> all;
    std::ifstream in(dir_.file("chain.jsonl"));
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::vector<std::string> fresh(all.begin() + static_cast<long>(seen_), all.end());
    seen_ = all.size();
    return fresh;
  }
  // The ledger: authorized at 10:00:00, settled with kTx at 10:00:05.
  std::vector<std::string> Ledger() {
    test::Auth a;
    a.payment_id = "pay-1";
    return {test::Authorized(a, "l1"),
            test::Settled("builder_agent", "pay-1", "l2", "2025-11-17T10:00:05.000Z", 0xF1)};
  }
  std::vector<std::string> OpenRecon(test::EngineHarness& h) {
    std::vector<std::string> out;
    for (const auto& f : h.Findings()) {
      const std::string k(FindingKindName(f.kind));
      if (k.starts_with("recon.")) out.push_back(k);
    }
    return out;
  }
  std::vector<test::FakeLog> Payment() {
    return {test::TransferLog(kAsset, kTx, kPayer, kPayTo, 1500000),
            test::AuthUsedLog(kAsset, kTx, kPayer, test::Hex64(1))};
  }

  test::TempDir dir_;
  size_t seen_ = 0;
};

TEST_F(ChainReconTest, CleanPaymentMatches) {
  FakeEvmNode node;  // block n at 10:00:00 + 2n s
  node.MineEmpty(4);
  node.Mine(Payment());  // block 5
  node.MineEmpty(10);
  test::EngineHarness h;
  ASSERT_TRUE(h.Feed(Ledger()).ok());
  ASSERT_TRUE(h.Feed(Watch(node)).ok());
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T12:00:00.000Z").ok());
  EXPECT_TRUE(OpenRecon(h).empty());
  EXPECT_EQ(h.dead_letters().count(), 0u);
}

TEST_F(ChainReconTest, DroppedByAReorgIsReorgedAndReinclusionAtTheSameHeightResolves) {
  FakeEvmNode node;
  node.MineEmpty(4);
  node.Mine(Payment());  // block 5 on branch a
  node.MineEmpty(10);
  test::EngineHarness h;
  ASSERT_TRUE(h.Feed(Ledger()).ok());
  ASSERT_TRUE(h.Feed(Watch(node)).ok());
  // Branch b from block 5: the payment is gone.
  node.Reorg(5, "b");
  node.MineEmpty(12);
  auto removed = Watch(node);
  ASSERT_EQ(removed.size(), 2u);
  ASSERT_TRUE(h.Feed(removed).ok());
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T12:00:00.000Z").ok());
  EXPECT_EQ(OpenRecon(h), std::vector<std::string>{"recon.reorged"});
  // Branch c from block 5: the same transaction again at the same height, another block.
  node.Reorg(5, "c");
  node.Mine(Payment());
  node.MineEmpty(15);
  auto again = Watch(node);
  ASSERT_TRUE(h.Feed(again).ok());
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T12:10:00.000Z").ok());
  EXPECT_TRUE(OpenRecon(h).empty()) << OpenRecon(h).front();
  EXPECT_EQ(h.dead_letters().count(), 0u);
}

TEST_F(ChainReconTest, TooFewConfirmationsIsUnconfirmedUntilTheWatcherReportsThemReached) {
  FakeEvmNode node;
  node.MineEmpty(4);
  node.Mine(Payment());  // block 5
  node.MineEmpty(2);     // 3 confirmations
  test::EngineHarness h;
  ASSERT_TRUE(h.Feed(Ledger()).ok());
  ASSERT_TRUE(h.Feed(Watch(node)).ok());
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T10:40:00.000Z").ok());  // settlement + 1800 s passed
  EXPECT_EQ(OpenRecon(h), std::vector<std::string>{"recon.unconfirmed"});
  node.MineEmpty(5);
  auto confirmed = Watch(node);
  ASSERT_EQ(confirmed.size(), 1u);
  ASSERT_TRUE(h.Feed(confirmed).ok());
  ASSERT_TRUE(h.AdvanceTo("2025-11-17T10:41:00.000Z").ok());
  EXPECT_TRUE(OpenRecon(h).empty());
}

}  // namespace
}  // namespace x402
