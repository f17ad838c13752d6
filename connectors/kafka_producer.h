// KafkaProducer: a thin librdkafka producer for generated events, dead letters and alerts.
// Idempotent by default (enable.idempotence=true, acks=all). Properties are passed to
// librdkafka verbatim, so SASL/TLS setups work as Kafka users expect. Flush() waits for
// every delivery report and returns the first failure: callers delete what they produced
// (an outbox entry) only after a successful Flush.
// Thread-safety: Produce/Flush from one thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/result.h"

namespace x402 {

using KafkaProps = std::map<std::string, std::string>;
using KafkaHeaders = std::vector<std::pair<std::string, std::string>>;

// Partitions of `topic` per the metadata seen by the rd_kafka_t* `handle`.
Result<int32_t> TopicPartitionCount(void* handle, const std::string& topic);

class KafkaProducer {
 public:
  static Result<std::unique_ptr<KafkaProducer>> Open(const KafkaProps& props);
  ~KafkaProducer();

  // Enqueues one message (copied). partition -1: by key.
  Status Produce(const std::string& topic, std::string_view key, std::string_view value,
                 const KafkaHeaders& headers = {}, int32_t partition = -1);
  // Waits up to timeout_ms for all outstanding deliveries; error if any failed or timed out.
  Status Flush(int timeout_ms);
  // Waits until every outstanding message is delivered or has failed: librdkafka retries
  // while the broker is away, and fails a message after message.timeout.ms (default 300 s),
  // which bounds the wait. Error if any delivery failed.
  Status FlushUntilDelivered();
  uint64_t delivered() const { return delivered_; }
  // Partitions of `topic` per the broker's metadata (error if it does not exist).
  Result<int32_t> PartitionCount(const std::string& topic) { return TopicPartitionCount(rk_, topic); }
  // Per partition of `topic`: the broker's low and high watermark offsets.
  Result<std::vector<std::pair<int64_t, int64_t>>> Watermarks(const std::string& topic);
  void* handle() { return rk_; }

 private:
  KafkaProducer() = default;
  static void OnDelivery(void* rk, const void* msg, void* opaque);
  void* rk_ = nullptr;
  uint64_t delivered_ = 0;
  std::string first_error_;
};

// Applies `props` to a librdkafka conf; error names the property.
Status ApplyKafkaProps(void* conf, const KafkaProps& props);

}  // namespace x402
