// WalletRegistrations: follows the x402.wallet.registered events of one network on a Kafka
// topic (every partition from its beginning, no consumer group: the topic is the record of
// which wallets exist), for the chain watcher. Other event types, other networks and events
// that do not decode are skipped. An address registered to a second agent keeps the first
// one seen (reported through `warn`).
// Thread-safety: one thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/chain_watcher.h"
#include "connectors/kafka_producer.h"
#include "schemas/result.h"

namespace x402 {

class WalletRegistrations {
 public:
  static Result<std::unique_ptr<WalletRegistrations>> Open(const KafkaProps& props,
                                                           const std::string& topic,
                                                           const std::string& canonical_network);
  ~WalletRegistrations();
  // Reads what arrives within `timeout_ms`; appends wallets not seen before to *added.
  Status Poll(int timeout_ms, std::vector<WatchedWallet>* added);
  // Every partition has been read up to the end it had at Open.
  bool CaughtUp() const;
  void set_warn(std::function<void(const std::string&)> warn) { warn_ = std::move(warn); }

 private:
  WalletRegistrations() = default;
  void* rk_ = nullptr;
  std::string topic_, network_;
  std::map<int32_t, int64_t> end_at_open_;  // partition -> high watermark at Open
  std::map<int32_t, int64_t> next_;         // partition -> next offset read
  std::map<std::string, std::string> agent_of_;
  std::function<void(const std::string&)> warn_;
};

}  // namespace x402
