// Loading the TOML configuration file (toml++) into the engine and projection settings.
// Every option, its default and meaning is documented in ops/config/x402rec.example.toml.
// Errors name the file, line and key: "x402rec.toml:12: budget.daily_limit: ...".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/alert_settings.h"
#include "projections/config.h"
#include "schemas/result.h"

namespace x402 {

// [chain]: the chain watcher (x402rec chain-watch); flags override each key.
struct ChainSettings {
  std::string network, asset, data_dir, wallets, out, brokers, topic;
  std::vector<std::string> rpc;  // rpc = [...] and/or rpc_env = [...] (URLs from the environment)
  std::optional<int64_t> from_block, max_block_range, balance_interval, reorg_window,
      poll_interval_ms;
};

struct FileSettings {
  ProjectionConfig projections;
  size_t batch_size = 16384;
  size_t cache_entries = 50000;
  // The state cache's byte budget (BatchState), all tables together: --state-cache-mb.
  size_t state_cache_mb = 256;
  std::map<std::string, std::string> kafka;  // [kafka]: librdkafka properties, verbatim
  AlertSettings alerts;                      // [alerts], [[alerts.discord]]
  // [http]: the API server (engine/cli/api_runtime.h). The address is checked where it is used.
  std::string http_listen = "127.0.0.1:9464";
  bool http_listen_set = false;  // given explicitly: a busy port is then an error
  // The longest a request waits for the pipeline (GET /v1/report; 503 after it).
  int64_t http_request_timeout_s = 10;
  int64_t http_max_request_bytes = 16384;
  // Connection limits and per-phase deadlines (api/http_server.h says why these defaults).
  int64_t http_max_connections = 1024;
  int64_t http_max_connections_per_address = 256;  // 0: no per-address cap
  int64_t http_head_timeout_ms = 5000;
  int64_t http_body_timeout_ms = 10000;
  int64_t http_idle_timeout_ms = 5000;
  int64_t http_write_timeout_ms = 10000;
  int64_t http_retry_after_s = 1;
  // [metrics]
  int64_t metrics_top_n = 100;
  int64_t metrics_probe_interval_s = 10;
  int64_t ready_max_lag = 10000;
  ChainSettings chain;  // [chain]
};

// Applies the settings in `path` on top of *out (which holds the defaults).
Status LoadConfigFile(const std::string& path, FileSettings* out);

}  // namespace x402
