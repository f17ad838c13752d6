// x402rec: the command. Subcommands run | replay | gen, each with --help. Only this layer
// prints to the terminal; libraries return errors as values.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/cli/broker_command.h"
#include "engine/cli/chain_command.h"
#include "engine/cli/commands.h"

namespace {

const char* kUsage =
    "x402rec: reconciliation engine for x402 agent payments\n"
    "\n"
    "Usage: x402rec <command> [options]\n"
    "\n"
    "Commands:\n"
    "  run       process events (a JSONL file) into a persistent state directory; resumable\n"
    "  replay    rebuild all state from the log, as of any time, and write a report\n"
    "  gen       generate a realistic, seed-deterministic x402 event stream\n"
    "  demo      generate a stream, replay it and show the report (the quick start)\n"
    "  broker    run an embedded Kafka broker on 127.0.0.1 for development and demos\n"
    "  chain-watch  follow an EVM chain (JSON-RPC) and emit the x402.chain.* events\n"
    "\n"
    "Run 'x402rec <command> --help' for the options of a command.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "--version") {
    std::puts("x402rec 0.1.0");
    return 0;
  }
  x402::cli::InstallSignalHandlers();
  if (cmd == "run") return x402::cli::RunCommand(argc - 1, argv + 1);
  if (cmd == "replay") return x402::cli::ReplayCommand(argc - 1, argv + 1);
  if (cmd == "gen") return x402::cli::GenCommand(argc - 1, argv + 1);
  if (cmd == "demo") return x402::cli::DemoCommand(argc - 1, argv + 1);
  if (cmd == "broker") return x402::cli::BrokerCommand(argc - 1, argv + 1);
  if (cmd == "chain-watch") return x402::cli::ChainWatchCommand(argc - 1, argv + 1);
  std::fprintf(stderr,
               "x402rec: unknown command '%s' (commands: run, replay, gen, demo, broker, "
               "chain-watch; see x402rec --help)\n",
               cmd.c_str());
  return 2;
}
