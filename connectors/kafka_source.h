// KafkaSource: an EventSource over Kafka (librdkafka), in one of two modes:
//  - group mode (`x402rec run`): a consumer-group member on the events topics. Offsets live
//    in RocksDB in the same WriteBatch as the state they produced (DESIGN.md principle 2):
//    on assignment each partition is seeked to the stored offset (or the beginning if never
//    seen), and Kafka commits are made too, asynchronously, only for lag tooling. A stored
//    offset beyond the end of a partition (the broker lost data) resets that partition.
//  - scan mode (`x402rec replay --brokers`): no group; every partition is read from the
//    beginning up to the end seen at start (or --until-offset), then the source is exhausted.
// Records are copied into a per-batch arena with the decoder's padding. Shard of a record:
// (index of its topic in `topics`) << 16 | partition.
// Thread-safety: not thread-safe; librdkafka callbacks run inside NextBatch.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/event_source.h"
#include "connectors/kafka_producer.h"
#include "schemas/result.h"

namespace x402 {

struct KafkaSourceOptions {
  KafkaProps props;  // bootstrap.servers, group.id, security ... (verbatim)
  std::vector<std::string> topics = {"x402.events"};
  // Group mode: also consume this internal topic of vendor facts (engine/vendor_facts.h); its
  // records are marked vendor_fact and its shard's topic index is topics.size().
  std::string vendor_facts_topic;
  bool scan = false;                    // scan mode instead of group mode
  std::optional<int64_t> until_offset;  // scan mode: stop each partition before this offset
  int max_wait_ms = 50;                 // a batch closes after this long even if not full
  int idle_close_ms = 2;                // ... or when no record arrived for this long
  // Next offset to read for a partition, from the state store (nullopt: never seen).
  std::function<std::optional<int64_t>(const std::string& topic, int32_t partition)> stored_offset;
  // The partition's stored offset is past its end: drop that shard's state (rebuild).
  std::function<void(uint32_t shard)> reset_shard;
  // Group mode, on every (eager) assignment, before any stored offset is read: the shards
  // this member now owns. The engine drops the state of shards it no longer owns, so a
  // partition that comes back later is rebuilt from the beginning rather than resumed from a
  // stale offset, and no instance counts findings of partitions another instance owns.
  std::function<void(const std::vector<uint32_t>& owned)> on_assign;
  // One-line warnings (e.g. history lost to retention: the partition's low watermark is past
  // the stored offset, or past 0 with no stored offset).
  std::function<void(const std::string& message)> warn;
};

class KafkaSource final : public EventSource {
 public:
  static Result<std::unique_ptr<KafkaSource>> Open(KafkaSourceOptions opts);
  ~KafkaSource() override;

  static std::string PositionKey(const std::string& topic, int32_t partition);
  static uint32_t Shard(size_t topic_index, int32_t partition) {
    return (static_cast<uint32_t>(topic_index) << 16) | static_cast<uint32_t>(partition);
  }

  bool NextBatch(size_t max, std::vector<SourceRecord>* out) override;
  Positions CurrentPositions() const override;
  uint64_t bytes_done() const override { return 0; }
  uint64_t bytes_total() const override { return 0; }
  std::string error() const override { return error_; }

  // After the batch's state is committed: commit the same offsets to Kafka (async).
  void CommitAsync();
  // Every assigned events partition has been consumed up to the end it had when first
  // assigned, and every vendor-facts partition up to its end now (facts this process produced
  // and flushed included; asks the broker). exact_facts false: the facts partitions' ends
  // are the ones last seen in fetch responses (no round trip; for readiness checks).
  bool CaughtUp(bool exact_facts = true);
  // Partitions of `topic` per the broker's metadata.
  Result<int32_t> PartitionCount(const std::string& topic);
  bool assigned() const { return !assignment_.empty(); }
  // Shards whose consumed position equals their current end (for the wall clock).
  std::vector<uint32_t> IdleShards();
  // Total lag (end - position) over assigned partitions, from cached watermarks.
  int64_t Lag();
  struct PartitionLag {
    std::string topic;
    int32_t partition = 0;
    int64_t lag = 0;  // end - next offset to process; 0 when unknown
  };
  // Lag of every assigned partition (vendor-facts partitions included), from cached watermarks.
  std::vector<PartitionLag> PartitionLags();

  // Called by librdkafka's rebalance callback.
  void OnRebalance(int err, void* partitions);
  // Group mode: called by librdkafka's error callback (errors it retries by itself).
  void OnError(std::string message) { error_ = std::move(message); }
  // Group mode: forgets the last error once the caller has reported it.
  void ClearError() { error_.clear(); }
  // Kafka timestamps (ms since the epoch; 0 if none) of the events in the last batch, for
  // event-to-committed-state latency.
  const std::vector<int64_t>& batch_timestamps() const { return batch_ts_; }
  // Bumped on every assignment and revocation.
  uint64_t assignment_epoch() const { return epoch_; }

 private:
  KafkaSource() = default;
  struct Part {
    std::string topic;
    int32_t partition = 0;
    uint32_t shard = 0;
    int64_t next = 0;          // next offset to process
    int64_t end_at_start = 0;  // high watermark when assigned
    bool touched = false;      // advanced in the last batch
    bool facts = false;        // a vendor-facts partition
    bool end_known = true;     // false: the watermark query failed; asked again by CaughtUp
    uint64_t epoch = 0;        // assignment generation that created this entry
  };
  Part* FindPart(const std::string& topic, int32_t partition);
  int TopicIndex(const std::string& topic) const;
  void Assign(void* partitions);

  KafkaSourceOptions o_;
  void* rk_ = nullptr;
  std::map<std::pair<std::string, int32_t>, Part> assignment_;
  std::string arena_;
  std::vector<int64_t> batch_ts_;
  std::deque<std::string> oversize_digests_;  // this batch's oversize records' SHA-256 (views)
  std::string error_;
  bool scan_started_ = false;
  // Bumped on every assignment and revocation: records polled under an older assignment are
  // never returned (their partition may have been re-assigned and re-seeked meanwhile).
  uint64_t epoch_ = 0;
};

}  // namespace x402
