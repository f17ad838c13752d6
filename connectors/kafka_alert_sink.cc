#include "connectors/kafka_alert_sink.h"

#include <algorithm>

namespace x402 {

Result<std::unique_ptr<KafkaAlertSink>> KafkaAlertSink::Open(const KafkaProps& props,
                                                             std::string topic) {
  auto p = KafkaProducer::Open(props);
  if (!p) return Err("alerts topic " + topic + ": " + p.error());
  return std::unique_ptr<KafkaAlertSink>(new KafkaAlertSink(std::move(*p), std::move(topic)));
}

KafkaAlertSink::KafkaAlertSink(std::unique_ptr<KafkaProducer> p, std::string topic)
    : producer_(std::move(p)), topic_(std::move(topic)), name_("kafka-" + topic_) {}

SinkAttempt KafkaAlertSink::Deliver(std::span<const AlertRecord> alerts) {
  SinkAttempt out;
  Status st = Status::Ok();
  for (const auto& a : alerts) {
    st = producer_->Produce(topic_, a.agent_id, a.json, {{"x402-alert-id", a.alert_id}});
    if (!st.ok()) break;
  }
  if (st.ok()) st = producer_->Flush(30000);
  if (st.ok()) {
    failures_ = 0;
    out.handled = alerts.size();
    out.delivered = alerts.size();
    return out;
  }
  // Nothing is acknowledged: a retry may repeat some messages (same alert_id), never lose one.
  ++failures_;
  out.failed = true;
  out.retry_after =
      std::chrono::milliseconds(std::min<int64_t>(60000, 1000LL << std::min(failures_ - 1, 6)));
  out.error = name_ + ": " + st.error();
  return out;
}

}  // namespace x402
