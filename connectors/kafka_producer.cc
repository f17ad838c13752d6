#include "connectors/kafka_producer.h"

#include <librdkafka/rdkafka.h>

namespace x402 {

Status ApplyKafkaProps(void* conf, const KafkaProps& props) {
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(static_cast<rd_kafka_conf_t*>(conf), k.c_str(), v.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      return Err("kafka property " + k + ": " + err);
    }
  }
  return Status::Ok();
}

void KafkaProducer::OnDelivery(void*, const void* m, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  const auto* msg = static_cast<const rd_kafka_message_t*>(m);
  if (msg->err) {
    if (self->first_error_.empty()) self->first_error_ = rd_kafka_err2str(msg->err);
  } else {
    ++self->delivered_;
  }
}

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Open(const KafkaProps& props) {
  std::unique_ptr<KafkaProducer> p(new KafkaProducer());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  KafkaProps all = {{"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "5"},
                    {"queue.buffering.max.messages", "1000000"}};
  for (const auto& [k, v] : props) all[k] = v;
  if (Status st = ApplyKafkaProps(conf, all); !st.ok()) {
    rd_kafka_conf_destroy(conf);
    return Err(st.error());
  }
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    OnDelivery(rk, m, opaque);
  });
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Err(std::string("kafka producer: ") + err);
  }
  p->rk_ = rk;
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (rk_) {
    rd_kafka_flush(static_cast<rd_kafka_t*>(rk_), 2000);
    rd_kafka_destroy(static_cast<rd_kafka_t*>(rk_));
  }
}

Status KafkaProducer::Produce(const std::string& topic, std::string_view key, std::string_view value,
                              const KafkaHeaders& headers, int32_t partition) {
  auto* rk = static_cast<rd_kafka_t*>(rk_);
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [k, v] : headers) rd_kafka_header_add(hdrs, k.data(), k.size(), v.data(), v.size());
  }
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();  // headers now owned by the message
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < 1000) {
      rd_kafka_poll(rk, 10);
      continue;
    }
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    return Err("kafka produce to " + topic + ": " + rd_kafka_err2str(e));
  }
}

Status KafkaProducer::Flush(int timeout_ms) {
  auto* rk = static_cast<rd_kafka_t*>(rk_);
  rd_kafka_resp_err_t e = rd_kafka_flush(rk, timeout_ms);
  if (!first_error_.empty()) {
    std::string err = first_error_;
    first_error_.clear();
    return Err("kafka delivery failed: " + err);
  }
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Err(std::string("kafka flush: ") + rd_kafka_err2str(e));
  return Status::Ok();
}

Status KafkaProducer::FlushUntilDelivered() {
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_flush(static_cast<rd_kafka_t*>(rk_), 1000);
    if (!first_error_.empty()) {
      std::string err = first_error_;
      first_error_.clear();
      return Err("kafka delivery failed: " + err);
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    if (e != RD_KAFKA_RESP_ERR__TIMED_OUT)
      return Err(std::string("kafka flush: ") + rd_kafka_err2str(e));
  }
}

Result<int32_t> TopicPartitionCount(void* handle, const std::string& topic) {
  auto* rk = static_cast<rd_kafka_t*>(handle);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
  rd_kafka_topic_destroy(rkt);
  if (e || md->topic_cnt != 1 || md->topics[0].err) {
    if (!e && md) e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (md) rd_kafka_metadata_destroy(md);
    return Err("kafka: cannot read topic " + topic + ": " + rd_kafka_err2str(e));
  }
  const int32_t n = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

Result<std::vector<std::pair<int64_t, int64_t>>> KafkaProducer::Watermarks(const std::string& topic) {
  auto n = PartitionCount(topic);
  if (!n) return Err(n.error());
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int32_t p = 0; p < *n; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(static_cast<rd_kafka_t*>(rk_),
                                                             topic.c_str(), p, &lo, &hi, 10000);
    if (e) {
      return Err("kafka: watermarks of " + topic + "/" + std::to_string(p) + ": " +
                 rd_kafka_err2str(e));
    }
    out.emplace_back(lo, hi);
  }
  return out;
}

}  // namespace x402
