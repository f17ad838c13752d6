// ChainWatchProbe: the Prometheus metrics of `x402rec chain-watch` (STYLE.md rule 9: the
// watcher reports its stats, this probe owns the families):
//   x402_chain_head_block, x402_chain_processed_block, x402_chain_lag_blocks (gauges),
//   x402_chain_rpc_errors_total{code} (failed RPC attempts by label, e.g. http_429, timeout,
//   rpc_-32000), x402_chain_reorgs_total (fork points found).
// Observe() takes the watcher's cumulative figures after each step; Render() gives the text
// exposition for /metrics; Ready() is true while the last step found the watcher caught up.
// Thread-safety: thread-safe (the watcher thread observes, HTTP threads render).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace x402 {

class ChainWatchProbe {
 public:
  explicit ChainWatchProbe(const std::string& network);
  void Observe(uint64_t head, uint64_t processed, uint64_t reorgs,
               const std::map<std::string, uint64_t>& rpc_errors, bool caught_up);
  std::string Render();
  bool Ready() const;

 private:
  mutable std::mutex mu_;
  std::string network_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* head_;
  prometheus::Gauge* processed_;
  prometheus::Gauge* lag_;
  prometheus::Counter* reorgs_;
  prometheus::Family<prometheus::Counter>* errors_;
  std::map<std::string, uint64_t> last_errors_;
  uint64_t last_reorgs_ = 0;
  bool ready_ = false;
};

}  // namespace x402
