// ProduceGenerated: the generator's stream (connectors/generator.h) produced to a Kafka topic
// instead of a file, for `x402rec gen --brokers`, the demo and benchmarks. Each line is one
// message keyed by its subject (the agent), so all events of an agent land on one partition
// in stream order; deliberately malformed lines are keyed "bad". Uses the idempotent
// KafkaProducer and returns only after every message is acknowledged (or with the first
// delivery error).
#pragma once

#include <functional>
#include <string>

#include "connectors/generator.h"
#include "connectors/kafka_producer.h"
#include "schemas/result.h"

namespace x402 {

inline constexpr const char* kBadLineKey = "bad";

// rate: messages per second of wall-clock time (malformed lines included), paced with a
// steady clock; 0 = as fast as the broker takes them. `props` are extra librdkafka
// properties (SASL/TLS, ...), applied verbatim after the defaults. `out` (optional) receives
// the generator's statistics. `stop` (optional) is checked before each message: once it
// returns true, nothing more is produced, what was produced is flushed, and the result is an
// error saying how many messages were sent.
Status ProduceGenerated(const GeneratorOptions& opts, const std::string& brokers,
                        const std::string& topic, double rate, GeneratorStats* out,
                        const KafkaProps& props = {}, const std::function<bool()>& stop = {});

}  // namespace x402
