// Vendor facts across partitions (DESIGN.md principle 7). Per-agent state is partition-local,
// but a vendor is paid by agents on every partition, so its failure streak is computed
// downstream of a stream re-keyed by vendor, as Kafka Streams does with repartition topics:
// while applying a batch, the engine turns every payment outcome into a VendorFact
// (projections.h) bound for the internal topic `x402.vendor-facts`, partition
// VendorPartition(vendor, N). `run --brokers` uses a transactional outbox: the facts are
// written into the batch's own WriteBatch (OutboxVendorFactSink, meta keys "vfo|" + be64 seq)
// and a VendorFactForwarder thread produces them afterwards and deletes each once the broker
// acknowledged it, so a commit never waits for the broker. Whoever owns that partition
// applies the facts to its vendor shard. Applying a fact is idempotent and commutative, so
// at-least-once delivery (a crash between produce and delete repeats facts) and any
// interleaving give the same vendor state.
//
// File mode has one shard and applies vendor facts in place (no sink). Replay from Kafka
// loops facts back in-process (LoopbackVendorFactSink) onto the same shards a live group
// uses, so its digest equals the live one.
//
// Wire format of a fact (one JSON object; key = vendor):
//   {"vendor":"v","kind":"failed","time":"<RFC
//   3339>","source":"s","id":"e","agent":"a","reason":"r"}
//   {"vendor":"v","kind":"settled","time":"<RFC 3339>"}
//
// Thread-safety: sinks are used by the pipeline thread only.
#pragma once

#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connectors/dev_broker.h"  // kVendorFactsTopic
#include "connectors/kafka_producer.h"
#include "engine/rocksdb_store.h"
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
  // Outbox sinks: moves the facts added so far into the commit's WriteBatch (meta column
  // family `meta`), after Flush. Others do nothing.
  virtual void Stage(rocksdb::WriteBatch* /*wb*/, rocksdb::ColumnFamilyHandle* /*meta*/) {}
  // Forgets facts added since the last Stage (the batch that derived them was not committed).
  virtual void Discard() {}
};

// The transactional outbox of facts: Add buffers, Stage writes "vfo|" + be64(seq) ->
// be32(partition) + be16(vendor length) + vendor + fact JSON into the commit's WriteBatch.
class OutboxVendorFactSink final : public VendorFactSink {
 public:
  explicit OutboxVendorFactSink(int32_t partitions) : partitions_(partitions) {}
  // Continues the sequence after the highest entry an earlier run left in `store`. Call once
  // the store is open, before the first batch.
  void Resume(RocksStore* store);
  void Add(const VendorFact& f) override;
  Status Flush() override { return Status::Ok(); }
  void Stage(rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* meta) override;
  void Discard() override { pending_.clear(); }

  static constexpr std::string_view kPrefix = "vfo|";

 private:
  int32_t partitions_;
  uint64_t next_seq_ = 0;
  std::vector<std::string> pending_;  // encoded values
};

// Delivers the committed fact outbox to Kafka on its own thread, with its own producer: reads
// "vfo|" entries in sequence order from the store (RocksDB is thread-safe; the Engine is not
// touched), produces each to its partition, waits for the acknowledgements and only then
// deletes them. A broker outage just delays delivery; the pipeline is never blocked by it.
class VendorFactForwarder {
 public:
  // `producer` is owned; `store` must outlive the forwarder.
  VendorFactForwarder(RocksStore* store, std::unique_ptr<KafkaProducer> producer,
                      std::string topic);
  ~VendorFactForwarder();  // Stop()s
  void Start();
  void Notify();  // facts were committed
  void Stop();
  // True when no committed fact is waiting (checked against the store now).
  bool Drained();
  std::string last_error() const;

 private:
  void Run();
  size_t DeliverSome();
  std::unique_ptr<rocksdb::Iterator> FromCursor();

  RocksStore* store_;
  // Sequence number of the first fact not yet delivered, as far as this forwarder knows
  // (every entry below it is deleted or not a fact); starts at 0 and catches up on the first
  // pass.
  std::atomic<uint64_t> cursor_{0};
  const std::string iter_upper_{"vfo}"};  // the first key after the "vfo|" range
  const rocksdb::Slice iter_upper_slice_{iter_upper_};
  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::atomic<bool> stop_{false};
  std::string last_error_;  // guarded by mu_
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
