#include "engine/cli/chain_command.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "api/api_service.h"
#include "api/chain_probe.h"
#include "api/http_server.h"
#include "api/log.h"
#include "connectors/chain_watcher.h"
#include "connectors/dev_broker.h"
#include "connectors/kafka_producer.h"
#include "connectors/wallet_registrations.h"
#include "engine/cli/commands.h"
#include "engine/cli/flags.h"
#include "engine/config_file.h"
#include "schemas/network.h"

namespace x402::cli {

namespace {

int Usage(const std::string& msg) {
  std::fprintf(stderr, "%s\n", msg.c_str());
  return 2;
}

// "max-block-range" -> "max_block_range" (the [chain] key of a flag).
std::string ConfigKey(std::string flag) {
  for (char& ch : flag) ch = ch == '-' ? '_' : ch;
  return flag;
}

}  // namespace

int ChainWatchCommand(int argc, char** argv) {
  Flags f("chain-watch",
          "Usage: x402rec chain-watch --network NAME --rpc URL [--rpc URL2 ...] --wallets FILE\n"
          "                           --data-dir DIR (--out FILE.jsonl | --brokers HOST:PORT)\n"
          "                           [--asset ADDR] [--from-block N] [--until-caught-up] ...\n\n"
          "Follows an EVM chain over JSON-RPC and emits x402.chain.transfer,\n"
          "x402.chain.authorization_used / _canceled and x402.wallet.balance events for the\n"
          "wallets in --wallets (CSV agent,address): each log when first seen and again once it\n"
          "has the network's required confirmations ([recon] confirmations_required), and\n"
          "'removed' when a reorg takes it out. The cursor in --data-dir moves only after the\n"
          "output acknowledged the events (file: fsync; Kafka: delivery reports), so a restart\n"
          "repeats events with the same ids and never misses one. Faults (timeouts, 429, 5xx,\n"
          "bad answers, a lagging node) are retried with backoff and fail over to the next --rpc.\n"
          "Settings may also come from the [chain] table of --config; flags win.");
  f.Add("config", "FILE", "TOML configuration file ([chain], [recon], [kafka])");
  f.Add("network", "NAME", "x402 network name or CAIP-2 id (base, eip155:8453, ...)");
  f.Add("rpc", "URL", "JSON-RPC endpoint, in failover order (https://; http:// only to 127.0.0.1)",
        true);
  f.Add("asset", "ADDR", "token contract (default: the network's USDC)");
  f.Add("from-block", "N", "first block on the first start (default: the head then)");
  f.Add("data-dir", "DIR", "where the cursor lives (required)");
  f.Add("until-caught-up", "", "exit once the head seen at start is processed and acknowledged");
  f.Add("wallets", "FILE",
        "CSV of agent,address: the wallets to follow (default with --brokers: the "
        "x402.wallet.registered events of the topic, new ones backfilled from the start block)");
  f.Add("out", "FILE.jsonl", "append events to this JSONL file");
  f.Add("brokers", "HOST:PORT", "produce events to Kafka (idempotent producer, key = agent)");
  f.Add("topic", "TOPIC", "Kafka topic with --brokers (default x402.events)");
  f.Add("max-block-range", "N",
        "blocks per eth_getLogs at most (default 2000; halved on provider limits)");
  f.Add("balance-interval", "N", "report wallet balances every N blocks (default 100; 0: never)");
  f.Add("reorg-window", "N",
        "block hashes kept for reorg detection (default 128, at least the confirmations)");
  f.Add("poll-interval-ms", "MS", "wait between head polls when caught up (default 2000)");
  f.Add("listen", "ADDR:PORT",
        "serve /metrics (x402_chain_*), /healthz and /readyz (ready when caught up) here; a "
        "non-loopback address needs a bearer token in X402_API_TOKEN");
  if (Status st = f.Parse(argc, argv); !st.ok()) return Usage(st.error());
  if (f.Has("help")) {
    std::fputs(f.Help().c_str(), stdout);
    return 0;
  }
  const std::string cmd = "x402rec chain-watch: ";
  FileSettings s;
  if (auto path = f.Get("config")) {
    if (Status st = LoadConfigFile(*path, &s); !st.ok())
      return Usage(cmd + "--config " + st.error());
  }
  ChainSettings& c = s.chain;
  auto str = [&](const char* flag, const std::string& from_config) {
    auto v = f.Get(flag);
    return v ? *v : from_config;
  };
  // Integer settings: the flag, else the config, else the default; errors name the flag.
  auto integer = [&](const char* flag, const std::optional<int64_t>& cfg, uint64_t def,
                     uint64_t min, uint64_t max) -> Result<uint64_t> {
    if (!f.Has(flag) && cfg) {
      if (*cfg < 0 || static_cast<uint64_t>(*cfg) < min || static_cast<uint64_t>(*cfg) > max)
        return Err(cmd + "--config [chain] " + ConfigKey(flag) + ": expected " +
                   std::to_string(min) + ".." + std::to_string(max));
      return static_cast<uint64_t>(*cfg);
    }
    return f.GetUint(flag, def, min, max);
  };

  EvmWatchOptions o;
  const std::string network = str("network", c.network);
  if (network.empty()) return Usage(cmd + "--network: required (e.g. base or eip155:8453)");
  auto net = CanonicalNetwork(network, "--network");
  if (!net) return Usage(cmd + net.error());
  if (!net->starts_with("eip155:"))
    return Usage(cmd + "--network: only EVM (eip155:*) networks are supported, got " + *net);
  o.network = *net;
  std::string asset = str("asset", c.asset);
  if (asset.empty()) {
    asset = DefaultUsdcAsset(o.network);
    if (asset.empty())
      return Usage(cmd + "--asset: required on " + o.network + " (no default USDC known)");
  }
  auto a = CanonicalAddress(asset, false, "--asset");
  if (!a) return Usage(cmd + a.error());
  o.asset = *a;
  std::vector<std::string> rpcs = f.GetAll("rpc");
  if (rpcs.empty()) rpcs = c.rpc;
  if (rpcs.empty()) return Usage(cmd + "--rpc: at least one JSON-RPC URL is required");
  for (const auto& u : rpcs) {
    if (!HttpUrl::Parse(u))
      return Usage(cmd + "--rpc: " + RedactRpcUrl(u) +
                   ": expected an https:// URL (http:// only to 127.0.0.1)");
  }
  o.data_dir = str("data-dir", c.data_dir);
  if (o.data_dir.empty()) return Usage(cmd + "--data-dir: required (the cursor lives there)");
  const std::string out = str("out", c.out), brokers = str("brokers", c.brokers);
  if (out.empty() == brokers.empty())
    return Usage(cmd + "--out: give exactly one of --out FILE.jsonl and --brokers");
  const std::string wallets = str("wallets", c.wallets);
  if (wallets.empty() && brokers.empty())
    return Usage(cmd +
                 "--wallets: required (CSV of agent,address), or --brokers to read the "
                 "x402.wallet.registered events of the events topic");
  if (!wallets.empty()) {
    auto w = LoadWalletsCsv(wallets);
    if (!w) return Usage(cmd + "--wallets: " + w.error());
    if (w->empty()) return Usage(cmd + "--wallets: " + wallets + " lists no wallet");
    o.wallets = std::move(*w);
  }
  std::string topic = str("topic", c.topic);
  if (topic.empty()) topic = kEventsTopic;
  if (f.Has("from-block") || c.from_block) {
    auto v = integer("from-block", c.from_block, 0, 0, INT64_MAX / 2);
    if (!v) return Usage(v.error());
    o.from_block = *v;
  }
  auto range = integer("max-block-range", c.max_block_range, 2000, 1, 1000000);
  auto balance = integer("balance-interval", c.balance_interval, 100, 0, 100000000);
  auto window = integer("reorg-window", c.reorg_window, 128, 1, 100000);
  auto poll = integer("poll-interval-ms", c.poll_interval_ms, 2000, 10, 3600000);
  for (const auto* r : {&range, &balance, &window, &poll}) {
    if (!*r) return Usage(r->error());
  }
  o.max_block_range = *range;
  o.balance_interval = *balance;
  o.reorg_window = *window;
  o.confirmations_required = s.projections.ConfirmationsRequired(o.network);
  o.warn = [](const std::string& m) {
    LogJson(LogLevel::kWarn, m, {{"component", "chain-watch"}});
  };

  std::atomic<bool> stop{false};
  std::thread stopper([&stop] {
    while (!stop.load()) {
      if (StopRequested()) stop = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  struct Joiner {
    std::atomic<bool>* stop;
    std::thread* t;
    ~Joiner() {
      stop->store(true);
      t->join();
    }
  } joiner{&stop, &stopper};

  auto rpc = EvmRpc::Open(rpcs, RpcOptions(), &stop);
  if (!rpc) return Usage(cmd + "--rpc: " + rpc.error());
  (*rpc)->set_error_hook([](const std::string& label, const std::string& msg) {
    LogJson(LogLevel::kWarn, "rpc error",
            {{"component", "chain-watch"}, {"code", label}, {"error", msg}});
  });
  std::unique_ptr<ChainEventSink> sink;
  std::unique_ptr<KafkaProducer> producer;
  if (!out.empty()) {
    auto fs = FileChainSink::Open(out);
    if (!fs) return Usage(cmd + "--out: " + fs.error());
    sink = std::move(*fs);
  } else {
    KafkaProps props = s.kafka;
    props["bootstrap.servers"] = brokers;
    auto p = KafkaProducer::Open(props);
    if (!p) return Usage(cmd + "--brokers: " + p.error());
    producer = std::move(*p);
    sink = std::make_unique<KafkaChainSink>(producer.get(), topic);
  }
  // Without --wallets, the wallets are the x402.wallet.registered events of the topic: read
  // to its end before the first step (wallets followed before a restart must be known again
  // before any block is processed), then followed between steps.
  std::unique_ptr<WalletRegistrations> regs;
  std::vector<WatchedWallet> registered;
  if (wallets.empty()) {
    KafkaProps props = s.kafka;
    props["bootstrap.servers"] = brokers;
    auto opened = WalletRegistrations::Open(props, topic, o.network);
    if (!opened) return Usage(cmd + "--brokers: " + opened.error());
    regs = std::move(*opened);
    regs->set_warn([](const std::string& m) {
      LogJson(LogLevel::kWarn, m, {{"component", "chain-watch"}});
    });
    while (!regs->CaughtUp() && !stop.load()) {
      if (Status st = regs->Poll(200, &registered); !st.ok()) {
        LogJson(LogLevel::kWarn, st.error(), {{"component", "chain-watch"}});
      }
    }
    LogJson(LogLevel::kInfo, "wallet registrations read",
            {{"topic", topic}, {"wallets", std::to_string(registered.size())}});
  }
  ChainWatchProbe probe(o.network);
  std::unique_ptr<HttpServer> server;
  if (auto listen = f.Get("listen")) {
    HttpServerOptions ho;
    if (Status st = ParseListenAddress(*listen, &ho.address, &ho.port); !st.ok())
      return Usage(cmd + "--listen: " + st.error());
    // As for `run --http`: a non-loopback address needs a bearer token (X402_API_TOKEN).
    std::string token;
    if (const char* e = std::getenv("X402_API_TOKEN"); e && *e) token = e;
    if (!token.empty() && token.size() < 16)
      return Usage(cmd + "X402_API_TOKEN: at least 16 characters");
    if (token.empty() && !IsLoopbackAddress(ho.address))
      return Usage(cmd + "--listen " + *listen + ": a non-loopback address needs X402_API_TOKEN");
    auto srv = HttpServer::Start(ho, [&probe, token](const HttpRequest& req) {
      ApiResponse res;
      const std::string path = req.target.substr(0, req.target.find('?'));
      if (!token.empty()) {
        std::string_view auth = req.authorization;
        bool ok = auth.size() > 7 && auth.find(' ') == 6;
        for (size_t i = 0; ok && i < 6; ++i) ok = (auth[i] | 0x20) == "bearer"[i];
        if (ok) auth.remove_prefix(6);
        while (ok && auth.starts_with(' ')) auth.remove_prefix(1);
        if (!ok || !ConstantTimeEquals(auth, token)) {
          res.status = 401;
          res.body = "{\"error\":\"missing or wrong bearer token\"}";
          res.headers.emplace_back("WWW-Authenticate", "Bearer");
          return res;
        }
      }
      if (req.method != "GET") {
        res.status = 405;
        res.body = "{\"error\":\"method not allowed\"}";
      } else if (path == "/metrics") {
        res.content_type = "text/plain; version=0.0.4";
        res.body = probe.Render();
      } else if (path == "/healthz") {
        res.body = "{\"status\":\"ok\"}";
      } else if (path == "/readyz") {
        const bool ready = probe.Ready();
        res.status = ready ? 200 : 503;
        res.body = ready ? "{\"ready\":true}" : "{\"ready\":false,\"reason\":\"catching up\"}";
      } else {
        res.status = 404;
        res.body = "{\"error\":\"not found\"}";
      }
      return res;
    });
    if (!srv) return Usage(cmd + "--listen: " + srv.error());
    server = std::move(*srv);
  }
  EvmChainWatcher watcher(o, rpc->get(), sink.get());
  RunOptions r;
  r.until_caught_up = f.Has("until-caught-up");
  r.before_step = [&]() {
    std::vector<WatchedWallet> add;
    add.swap(registered);
    if (regs) {
      if (Status st = regs->Poll(0, &add); !st.ok())
        LogJson(LogLevel::kWarn, st.error(), {{"component", "chain-watch"}});
    }
    if (add.empty()) return;
    for (const auto& w : add)
      LogJson(LogLevel::kInfo, "following wallet", {{"agent", w.agent}, {"address", w.address}});
    watcher.AddWallets(add);
  };
  r.poll_interval = std::chrono::milliseconds(*poll);
  r.stop = &stop;
  EvmRpc* rpc_ptr = rpc->get();
  r.on_step = [&probe, rpc_ptr](const ChainWatchStats& st, bool caught_up) {
    probe.Observe(st.head, st.processed, st.reorgs, rpc_ptr->errors(), caught_up);
  };
  r.log = [](const std::string& level, const std::string& m) {
    LogJson(level == "warn" ? LogLevel::kWarn : LogLevel::kInfo, m, {{"component", "chain-watch"}});
  };
  LogJson(LogLevel::kInfo, "chain-watch starting",
          {{"network", o.network},
           {"asset", o.asset},
           {"wallets", std::to_string(o.wallets.size())},
           {"rpc", (*rpc)->current_endpoint()},
           {"confirmations_required", std::to_string(o.confirmations_required)}});
  if (Status st = RunChainWatcher(watcher, r); !st.ok()) {
    std::fprintf(stderr, "%s%s\n", cmd.c_str(), st.error().c_str());
    return 1;
  }
  const ChainWatchStats st = watcher.stats();
  LogJson(LogLevel::kInfo, "chain-watch stopped",
          {{"head", std::to_string(st.head)},
           {"processed", std::to_string(st.processed)},
           {"events", std::to_string(st.events)},
           {"reorgs", std::to_string(st.reorgs)},
           {"rpc_calls", std::to_string(st.rpc_calls)}});
  return 0;
}

}  // namespace x402::cli
