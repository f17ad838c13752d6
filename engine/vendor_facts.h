// Vendor facts across partitions (DESIGN.md principle 7). Per-agent state is partition-local,
// but a vendor is paid by agents on every partition, so its failure streak is computed
// downstream of a stream re-keyed by vendor, as Kafka Streams does with repartition topics:
// while applying a batch, the engine turns every payment outcome into a VendorFact
// (projections.h), produces it to the internal topic `x402.vendor-facts` on partition
// VendorPartition(vendor, N), and waits for the broker's acknowledgement before it commits
// the batch. Whoever owns that partition applies the facts to its vendor shard. Applying a
// fact is idempotent and commutative, so at-least-once delivery (a crash between produce and
// commit repeats facts) and any interleaving give the same vendor state.
//
// File mode has one shard and applies vendor facts in place (no sink). Replay from Kafka
// loops facts back in-process (LoopbackVendorFactSink) onto the same shards a live group
// uses, so its digest equals the live one.
//
// Wire format of a fact (one JSON object; key = vendor):
//   {"vendor":"v","kind":"failed","time":"<RFC 3339>","source":"s","id":"e","agent":"a","reason":"r"}
//   {"vendor":"v","kind":"settled","time":"<RFC 3339>"}
//
// Thread-safety: sinks are used by the pipeline thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/dev_broker.h"  // kVendorFactsTopic
#include "connectors/kafka_producer.h"
#include "projections/projections.h"
#include "schemas/result.h"

namespace x402 {

// FNV-1a 64 of the vendor, modulo `partitions` (> 0). Fixed here, not left to a client's
// partitioner, so replay computes the same vendor shards as the live group.
int32_t VendorPartition(std::string_view vendor, int32_t partitions);

std::string EncodeVendorFact(const VendorFact& f);
// `json` must be followed by simdjson::SIMDJSON_PADDING readable bytes (SourceRecord bytes are).
Status DecodeVendorFact(std::string_view json, VendorFact* out);

class VendorFactSink {
 public:
  virtual ~VendorFactSink() = default;
  virtual void Add(const VendorFact& f) = 0;
  // Makes every fact added so far durable (acknowledged); the engine calls it before each
  // commit. An error fails the commit.
  virtual Status Flush() = 0;
};

// Produces facts to Kafka with an idempotent producer (shared with alerts and dead letters).
class KafkaVendorFactSink final : public VendorFactSink {
 public:
  KafkaVendorFactSink(KafkaProducer* producer, std::string topic, int32_t partitions)
      : producer_(producer), topic_(std::move(topic)), partitions_(partitions) {}
  void Add(const VendorFact& f) override;
  Status Flush() override;
  uint64_t produced() const { return produced_; }

 private:
  KafkaProducer* producer_;
  std::string topic_;
  int32_t partitions_;
  uint64_t produced_ = 0;
  bool pending_ = false;
  Status error_ = Status::Ok();
};

// Collects facts in memory for the caller to feed back into the engine (replay).
class LoopbackVendorFactSink final : public VendorFactSink {
 public:
  void Add(const VendorFact& f) override { facts_.push_back(f); }
  Status Flush() override { return Status::Ok(); }
  // Moves out the facts collected since the last call.
  std::vector<VendorFact> Take() { return std::exchange(facts_, {}); }

 private:
  std::vector<VendorFact> facts_;
};

}  // namespace x402
