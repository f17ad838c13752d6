#include "api/chain_probe.h"

#include <prometheus/text_serializer.h>

namespace x402 {

namespace pm = prometheus;

ChainWatchProbe::ChainWatchProbe(const std::string& network)
    : network_(network), registry_(std::make_shared<pm::Registry>()) {
  const pm::Labels labels = {{"network", network}};
  head_ = &pm::BuildGauge()
               .Name("x402_chain_head_block")
               .Help("The RPC node's head block at the watcher's last step")
               .Register(*registry_)
               .Add(labels);
  processed_ = &pm::BuildGauge()
                    .Name("x402_chain_processed_block")
                    .Help("The last block whose events the output acknowledged")
                    .Register(*registry_)
                    .Add(labels);
  lag_ = &pm::BuildGauge()
              .Name("x402_chain_lag_blocks")
              .Help("Head block minus processed block")
              .Register(*registry_)
              .Add(labels);
  reorgs_ = &pm::BuildCounter()
                 .Name("x402_chain_reorgs_total")
                 .Help("Chain reorganizations found (fork points)")
                 .Register(*registry_)
                 .Add(labels);
  errors_ =
      &pm::BuildCounter()
           .Name("x402_chain_rpc_errors_total")
           .Help("Failed JSON-RPC attempts by cause (http_429, http_5xx, timeout, rpc_<code>, ...)")
           .Register(*registry_);
}

void ChainWatchProbe::Observe(uint64_t head, uint64_t processed, uint64_t reorgs,
                              const std::map<std::string, uint64_t>& rpc_errors, bool caught_up) {
  std::lock_guard<std::mutex> l(mu_);
  head_->Set(static_cast<double>(head));
  processed_->Set(static_cast<double>(processed));
  lag_->Set(head > processed ? static_cast<double>(head - processed) : 0.0);
  if (reorgs > last_reorgs_) reorgs_->Increment(static_cast<double>(reorgs - last_reorgs_));
  last_reorgs_ = std::max(last_reorgs_, reorgs);
  for (const auto& [code, n] : rpc_errors) {
    uint64_t& last = last_errors_[code];
    auto& c = errors_->Add({{"network", network_}, {"code", code}});
    if (n > last) c.Increment(static_cast<double>(n - last));
    last = std::max(last, n);
  }
  ready_ = caught_up;
}

std::string ChainWatchProbe::Render() {
  std::lock_guard<std::mutex> l(mu_);
  return pm::TextSerializer().Serialize(registry_->Collect());
}

bool ChainWatchProbe::Ready() const {
  std::lock_guard<std::mutex> l(mu_);
  return ready_;
}

}  // namespace x402
