// x402rec chain-watch: follows an EVM chain over JSON-RPC for the registered wallets and emits
// the x402.chain.* and x402.wallet.balance events (connectors/chain_watcher.h) to a JSONL file
// or the events topic. Returns the process exit code (0, 1 runtime failure, 2 bad usage).
#pragma once

namespace x402::cli {

int ChainWatchCommand(int argc, char** argv);

}  // namespace x402::cli
