// The chain watcher's backfill and steady state against the scripted JSON-RPC node on
// 127.0.0.1 (tests/chain/fake_evm_node.h): blocks and logs per second, RPC calls, and the RPC
// calls per new block once caught up. A plain program; see README.md.
//
//   chain_backfill_bench [BLOCKS] [LOG_EVERY] [WALLETS]   (defaults 200000 50 20)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "connectors/chain_watcher.h"
#include "tests/chain/fake_evm_node.h"
#include "tests/testutil.h"

using namespace x402;

int main(int argc, char** argv) {
  const uint64_t blocks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const uint64_t every = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 50;
  const uint64_t wallets = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 20;
  const std::string asset = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
  test::FakeEvmNode node;
  uint64_t logs = 0;
  for (uint64_t n = 1; n <= blocks; ++n) {
    if (n % every == 0) {
      const std::string from = test::Addr(0x1000 + n % wallets);
      node.Mine({test::TransferLog(asset, test::Hex64(n), from, test::Addr(0xB2), n),
                 test::AuthUsedLog(asset, test::Hex64(n), from, test::Hex64(n))});
      logs += 2;
    } else {
      node.Mine();
    }
  }
  test::TempDir dir;
  EvmWatchOptions o;
  o.network = "eip155:8453";
  o.asset = asset;
  for (uint64_t i = 0; i < wallets; ++i)
    o.wallets.push_back({test::Addr(0x1000 + i), "agent_" + std::to_string(i)});
  o.data_dir = dir.file("data");
  o.from_block = 1;
  o.balance_interval = 0;
  auto rpc = EvmRpc::Open({node.Url()}, RpcOptions());
  auto sink = FileChainSink::Open(dir.file("out.jsonl"));
  if (!rpc || !sink) return 1;
  EvmChainWatcher w(o, rpc->get(), sink->get());
  if (!w.Open().ok()) return 1;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    auto r = w.Step();
    if (!r.ok()) {
      std::fprintf(stderr, "step: %s\n", r.error().c_str());
      return 1;
    }
    if (r->caught_up) break;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ChainWatchStats st = w.stats();
  std::printf(
      "backfill: %llu blocks, %llu logs, %llu events in %.2f s: %.0f blocks/s, %.0f logs/s, "
      "%llu RPC calls\n",
      static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(logs),
      static_cast<unsigned long long>(st.events), s, blocks / s, logs / s,
      static_cast<unsigned long long>(st.rpc_calls));
  const uint64_t before = (*rpc)->calls();
  const int kNew = 200;
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kNew; ++i) {
    node.Mine({test::TransferLog(asset, test::Hex64(blocks + i + 1), test::Addr(0x1000),
                                 test::Addr(0xB2), 1)});
    if (!w.Step().ok()) return 1;
  }
  const double s2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::printf("steady state: %d new blocks, %.2f RPC calls per block, %.2f ms per block\n", kNew,
              static_cast<double>((*rpc)->calls() - before) / kNew, s2 * 1000 / kNew);
  std::ifstream cursor(dir.file("data") + "/chain-cursor.json", std::ios::ate);
  std::printf("cursor file: %lld bytes (reorg window %llu blocks)\n",
              static_cast<long long>(cursor.tellg()),
              static_cast<unsigned long long>(o.reorg_window));
  return 0;
}
