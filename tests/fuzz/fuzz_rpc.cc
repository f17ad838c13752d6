// libFuzzer target: the chain watcher (connectors/chain_watcher.h) over JSON-RPC answers
// taken from the input. The input is split at "\n--\n" into the HTTP bodies a node answers,
// in order, to the watcher's calls (eth_blockNumber, eth_getBlockByNumber, eth_getLogs,
// eth_call); a chunk starting "!429", "!500" or "!drop" is that fault instead, and "\"id\":0"
// in an answer stands for the request's id. Four steps are run. Whatever the node says, the watcher must not crash, and every event it emits must be
// one the engine's decoder accepts (EVENTS.md): a node can make it wait or fail a step, never
// make it write an invalid event.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "connectors/chain_watcher.h"
#include "connectors/evm_rpc.h"
#include "connectors/http_client.h"
#include "schemas/decoder.h"

namespace {

class ScriptedClient final : public x402::HttpClient {
 public:
  explicit ScriptedClient(std::vector<std::string>* answers) : answers_(answers) {}
  x402::Result<x402::HttpResponse> Post(const x402::HttpUrl&, const std::string& body,
                                        const std::string&, std::chrono::milliseconds) override {
    if (answers_->empty()) return x402::Err("connection refused");
    std::string a = std::move(answers_->front());
    answers_->erase(answers_->begin());
    if (const size_t at = body.find("\"id\":"); at != std::string::npos) {
      const std::string id = body.substr(at, body.find_first_not_of("0123456789", at + 5) - at);
      for (size_t p = a.find("\"id\":0"); p != std::string::npos; p = a.find("\"id\":0", p + 1))
        a.replace(p, 6, id);
    }
    x402::HttpResponse r;
    r.status = 200;
    if (a.starts_with("!drop")) return x402::Err("connection reset");
    if (a.starts_with("!429")) {
      r.status = 429;
      r.headers["retry-after"] = "0";
    } else if (a.starts_with("!500")) {
      r.status = 500;
    }
    r.body = std::move(a);
    return r;
  }

 private:
  std::vector<std::string>* answers_;
};

class CheckingSink final : public x402::ChainEventSink {
 public:
  x402::Status Write(const std::vector<x402::ChainEvent>& events) override {
    for (const auto& e : events) {
      std::string buf = e.json;
      buf.append(x402::EventDecoder::kPadding, ' ');
      x402::Status st = decoder_.DecodeInto(std::string_view(buf.data(), e.json.size()), &event_);
      if (!st.ok()) {
        std::fprintf(stderr, "the watcher wrote an event the decoder refuses: %s\n%s\n",
                     st.error().c_str(), e.json.c_str());
        __builtin_trap();
      }
    }
    return x402::Status::Ok();
  }
  x402::Status Flush() override { return x402::Status::Ok(); }

 private:
  x402::EventDecoder decoder_;
  x402::Event event_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir =
      (std::filesystem::exists("/dev/shm") ? std::string("/dev/shm") : std::string("/tmp")) +
      "/x402-fuzz-rpc-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<std::string> answers;
  const std::string input(reinterpret_cast<const char*>(data), size);
  for (size_t start = 0;;) {
    const size_t sep = input.find("\n--\n", start);
    answers.push_back(input.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
    if (sep == std::string::npos) break;
    start = sep + 4;
  }
  x402::RpcOptions ro;
  ro.timeout = std::chrono::milliseconds(50);
  ro.attempts_per_endpoint = 1;
  ro.backoff_initial = std::chrono::milliseconds(0);
  ro.backoff_max = std::chrono::milliseconds(0);
  ro.max_retry_after = std::chrono::milliseconds(0);
  ro.max_body_bytes = 1 << 20;
  auto rpc = x402::EvmRpc::Open({"http://127.0.0.1:8545"}, ro, nullptr,
                                [&answers] { return std::make_unique<ScriptedClient>(&answers); });
  if (!rpc) __builtin_trap();
  x402::EvmWatchOptions wo;
  wo.network = "eip155:8453";
  wo.asset = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
  wo.wallets = {{"0x2c59f56771ac91e5314fa240ecff7f994fdc0466", "builder_agent"},
                {"0x5b55deed0b5320512d43730a59b352df20cc028f", "writer_agent"}};
  wo.data_dir = dir;
  wo.from_block = 1;
  wo.confirmations_required = 2;
  wo.reorg_window = 4;
  wo.max_block_range = 8;
  wo.balance_interval = 2;
  wo.warn = [](const std::string&) {};
  CheckingSink sink;
  x402::EvmChainWatcher w(wo, rpc->get(), &sink);
  if (!w.Open().ok()) return 0;
  for (int i = 0; i < 4 && !answers.empty(); ++i) (void)w.Step();
  return 0;
}
