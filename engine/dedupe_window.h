// DedupeWindow: the (source, id) pairs of the events applied within the dedupe horizon
// (EVENTS.md section 1), in memory, per shard. A second event with a remembered pair is a
// duplicate when the first one's time is within the horizon of the shard's watermark at the
// second one's arrival: `first_time >= watermark - horizon`. Past the horizon the pair is
// forgotten and a repeat is applied (every projection merge is idempotent, so it changes
// nothing but the applied count). A horizon of 0 remembers nothing.
//
// Memory: one 16-byte slot per remembered pair (an 80-bit fingerprint of the pair and its
// 48-bit event time), in open-addressed tables (64 per shard, by fingerprint, at most 80 %
// full) that drop expired pairs before they grow: about 20 to 30 bytes a pair. Two different pairs
// are taken for one with probability about N*M/2^80 for N remembered pairs and M lookups (1e7
// remembered, 1e10 looked up: 8e-6).
//
// Durability: the pairs a commit adds are ONE meta value of that commit's WriteBatch
// ("dd|" be64(segment seq)), not a key per event; a segment whose pairs have all passed the
// horizon is deleted in a later commit. Load() rebuilds the table from the segments. A
// dropped shard leaves a marker ("ddx|" be32(shard) -> be64(first segment still valid)) so
// that pairs remembered before the drop are not loaded back for a shard rebuilt from scratch.
//
// Thread-safety: not thread-safe; owned by the pipeline thread.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/rocksdb_store.h"
#include "schemas/time.h"

namespace x402 {

class DedupeWindow {
 public:
  // horizon_ms <= 0: nothing is remembered.
  explicit DedupeWindow(int64_t horizon_ms) : horizon_ms_(horizon_ms) {}

  bool enabled() const { return horizon_ms_ > 0; }
  // Reads the segments and drop markers in `store`'s meta column family; pairs already past
  // the horizon of their shard's watermark are skipped.
  Status Load(RocksStore* store, const std::map<uint32_t, TimeMs>& watermarks);
  // True if (source, id) is a duplicate at `watermark` (the shard's clock before this event).
  // Otherwise remembers the pair at `time` and returns false.
  bool CheckAndRemember(uint32_t shard, std::string_view source, std::string_view id, TimeMs time,
                        TimeMs watermark);
  // Remembers a pair without checking (a store upgrade from the permanent dedupe keys).
  void Remember(uint32_t shard, std::string_view source, std::string_view id, TimeMs time);
  // Writes the pairs remembered since the last Stage as one segment, and deletes the segments
  // whose pairs have all passed the horizon of `watermarks`.
  void Stage(rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* meta,
             const std::map<uint32_t, TimeMs>& watermarks);
  // Forgets a shard's pairs, in memory and (through the marker written into `wb`) on disk.
  // The marker holds the first segment number still valid for the shard; Load never numbers
  // a later segment below it.
  void DropShard(uint32_t shard, rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* meta);

  size_t remembered() const;  // pairs held in memory (expired ones not yet dropped included)
  size_t memory_bytes() const;

 private:
  struct Slot {
    uint64_t fp = 0;    // 64 bits of the pair's hash, never 0 (0 = empty slot)
    uint64_t meta = 0;  // 16 more hash bits << 48 | (time + 2^47) in 48 bits
  };
  // A shard's pairs are split by fingerprint into kParts open-addressed tables that grow
  // one at a time, so growing never holds two copies of the whole window.
  static constexpr int kParts = 64;
  struct Part {
    std::vector<Slot> slots;
    size_t used = 0;
  };
  struct Shard {
    Part parts[kParts];
    Part& PartOf(const Slot& s) { return parts[s.fp >> 58]; }
  };
  struct Segment {
    uint64_t seq;
    std::vector<std::pair<uint32_t, TimeMs>> max_time;  // per shard, the latest pair time
  };
  Slot Fingerprint(std::string_view source, std::string_view id, TimeMs time);
  static TimeMs TimeOf(const Slot& s);
  // The slot holding s's fingerprint, or the empty slot where it belongs.
  static Slot* Find(Part& p, const Slot& s);
  void Insert(uint32_t shard, const Slot& s, TimeMs watermark);
  void Grow(Part& p, TimeMs watermark);
  bool Expired(TimeMs t, TimeMs watermark) const;

  int64_t horizon_ms_;
  std::unordered_map<uint32_t, Shard> shards_;
  std::string scratch_;                             // Fingerprint's encoding of the pair
  std::vector<std::pair<uint32_t, Slot>> pending_;  // remembered since the last Stage
  std::deque<Segment> segments_;                    // on disk, oldest first
  uint64_t next_seq_ = 0;
};

}  // namespace x402
