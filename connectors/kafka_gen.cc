#include "connectors/kafka_gen.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace x402 {

Status ProduceGenerated(const GeneratorOptions& opts, const std::string& brokers,
                        const std::string& topic, double rate, GeneratorStats* out,
                        const KafkaProps& props, const std::function<bool()>& stop) {
  if (brokers.empty()) return Err("kafka: no brokers given");
  if (topic.empty()) return Err("kafka: no topic given");
  if (!(rate >= 0)) return Err("kafka: rate must be >= 0");
  // Fail within a minute rather than librdkafka's default five when the broker is unreachable.
  // zstd batches: JSON events shrink about 10x, which matters on the dev broker, whose mock
  // partitions keep only their last 5 MB of (compressed) batches.
  KafkaProps all = {{"bootstrap.servers", brokers},
                    {"message.timeout.ms", "60000"},
                    {"compression.codec", "zstd"},
                    {"linger.ms", "50"}};
  for (const auto& [k, v] : props) all[k] = v;
  auto producer = KafkaProducer::Open(all);
  if (!producer) return Err(producer.error());
  KafkaProducer& p = **producer;
  auto* rk = static_cast<rd_kafka_t*>(p.handle());

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  uint64_t sent = 0;
  Status failed = Status::Ok();
  bool stopped = false;
  GeneratorStats stats = Generate(opts, [&](std::string_view subject, std::string_view line) {
    if (!failed.ok() || stopped) return;
    if (stop && stop()) {
      stopped = true;
      return;
    }
    if (rate > 0) {
      auto due = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(static_cast<double>(sent) / rate));
      while (due > Clock::now()) {  // in short slices, so `stop` is honoured at low rates
        rd_kafka_poll(rk, 0);
        std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(100)));
        if (stop && stop()) {
          stopped = true;
          return;
        }
      }
    }
    std::string_view key = subject.empty() ? std::string_view(kBadLineKey) : subject;
    if (Status st = p.Produce(topic, key, line); !st.ok()) {
      failed = st;
      return;
    }
    if (++sent % 1024 == 0) rd_kafka_poll(rk, 0);  // serve delivery reports as we go
  });
  if (!failed.ok()) return failed;
  int timeout_ms = std::atoi(all["message.timeout.ms"].c_str());
  if (timeout_ms <= 0) timeout_ms = 300000;
  if (Status st = p.Flush(timeout_ms + 10000); !st.ok()) return st;
  if (stopped) return Err("kafka: stopped after " + std::to_string(sent) + " messages");
  if (p.delivered() != sent) {
    return Err("kafka: " + std::to_string(p.delivered()) + " of " + std::to_string(sent) +
               " messages acknowledged");
  }
  if (out) *out = std::move(stats);
  return Status::Ok();
}

}  // namespace x402
