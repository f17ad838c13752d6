#include "connectors/wallet_registrations.h"

#include <librdkafka/rdkafka.h>

#include <chrono>

#include "schemas/decoder.h"
#include "schemas/event.h"
#include "schemas/network.h"

namespace x402 {

Result<std::unique_ptr<WalletRegistrations>> WalletRegistrations::Open(const KafkaProps& props,
                                                                       const std::string& topic,
                                                                       const std::string& network) {
  std::unique_ptr<WalletRegistrations> w(new WalletRegistrations());
  w->topic_ = topic;
  w->network_ = network;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  KafkaProps all = {{"group.id", "x402rec-chain-watch"},
                    {"enable.auto.commit", "false"},
                    {"enable.partition.eof", "false"}};
  for (const auto& [k, v] : props) all[k] = v;
  if (Status st = ApplyKafkaProps(conf, all); !st.ok()) {
    rd_kafka_conf_destroy(conf);
    return Err(st.error());
  }
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Err(std::string("kafka consumer: ") + err);
  }
  w->rk_ = rk;
  auto n = TopicPartitionCount(rk, topic);
  if (!n) return Err(n.error());
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(*n);
  for (int32_t p = 0; p < *n; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000);
    if (e) {
      rd_kafka_topic_partition_list_destroy(parts);
      return Err("kafka: watermarks of " + topic + "/" + std::to_string(p) + ": " +
                 rd_kafka_err2str(e));
    }
    w->end_at_open_[p] = hi;
    w->next_[p] = lo;
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (e) return Err(std::string("kafka assign: ") + rd_kafka_err2str(e));
  return w;
}

WalletRegistrations::~WalletRegistrations() {
  if (rk_) {
    auto* rk = static_cast<rd_kafka_t*>(rk_);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
}

bool WalletRegistrations::CaughtUp() const {
  for (const auto& [p, end] : end_at_open_) {
    auto it = next_.find(p);
    if (it == next_.end() || it->second < end) return false;
  }
  return true;
}

Status WalletRegistrations::Poll(int timeout_ms, std::vector<WatchedWallet>* added) {
  auto* rk = static_cast<rd_kafka_t*>(rk_);
  EventDecoder decoder;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    rd_kafka_message_t* m =
        rd_kafka_consumer_poll(rk, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (!m) break;
    if (m->err) {
      const std::string e = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      if (warn_) warn_("kafka: " + e);
      break;
    }
    next_[m->partition] = m->offset + 1;
    std::string_view value(static_cast<const char*>(m->payload), m->len);
    auto ev = decoder.Decode(value);
    if (ev && ev->type == EventType::kWalletRegistered && ev->network == network_) {
      auto [it, inserted] = agent_of_.emplace(ev->address, ev->subject);
      if (inserted) {
        added->push_back({ev->address, ev->subject});
      } else if (it->second != ev->subject && warn_) {
        warn_("wallet " + ev->address + " registered to " + ev->subject + " but already to " +
              it->second + "; keeping " + it->second);
      }
    }
    rd_kafka_message_destroy(m);
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  return Status::Ok();
}

}  // namespace x402
