// KafkaAlertSink: delivers alerts to the x402.alerts topic (key = agent id, header
// x402-alert-id) through its own idempotent KafkaProducer; an attempt is acknowledged only
// after Flush() confirmed every message. Failures back off exponentially (base 1 s, cap 60 s).
// Thread-safety: driven by one dispatcher thread.
#pragma once

#include <memory>
#include <string>

#include "connectors/alert_sink.h"
#include "connectors/kafka_producer.h"

namespace x402 {

class KafkaAlertSink final : public AlertSink {
 public:
  static Result<std::unique_ptr<KafkaAlertSink>> Open(const KafkaProps& props, std::string topic);
  const std::string& name() const override { return name_; }
  SinkAttempt Deliver(std::span<const AlertRecord> alerts) override;

 private:
  KafkaAlertSink(std::unique_ptr<KafkaProducer> p, std::string topic);
  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_, name_;
  int failures_ = 0;
};

}  // namespace x402
