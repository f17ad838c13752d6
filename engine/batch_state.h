// BatchState: the StateView the engine hands to projections. Reads go through the batch's
// own writes, then a bounded cache of clean values, then RocksDB; writes stay in the batch
// until Flush() moves them into the single WriteBatch that also carries findings, timers,
// the outbox and the source position (DESIGN.md principle 2). Physical keys are the
// 4-byte big-endian shard followed by the logical key.
//
// Thread-safety: not thread-safe; owned by the pipeline thread.
#pragma once

#include <rocksdb/write_batch.h>

#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/rocksdb_store.h"
#include "projections/state.h"

namespace x402 {

class BatchState final : public StateView {
 public:
  // `cache_entries`: clean entries kept per table (two generations of this size at most).
  BatchState(RocksStore* store, size_t cache_entries);

  void SetShard(uint32_t shard);
  uint32_t shard() const { return shard_; }

  bool Get(Table t, std::string_view key, std::string* value) override;
  void Put(Table t, std::string_view key, std::string_view value) override;
  void Delete(Table t, std::string_view key) override;
  void Scan(Table t, std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) override;
  // Visits logical keys in [from, to) of the current shard, in order, pending writes included.
  void ScanRange(Table t, std::string_view from, std::string_view to,
                 const std::function<bool(std::string_view, std::string_view)>& fn);

  // Moves every pending write into `batch` and marks it clean.
  void Flush(rocksdb::WriteBatch* batch);
  // Forgets pending writes (after a failed commit) and the clean cache.
  void Discard();

  static std::string ShardPrefix(uint32_t shard);

 private:
  // One map holds both the batch's pending writes and the clean cache, so a read costs one
  // hash lookup. Pending entries are also listed in dirty_ until Flush().
  struct Slot {
    std::string value;
    bool exists = false;
    bool dirty = false;
    uint64_t used = 0;  // batch number of the last access, for eviction
  };
  using Map = std::unordered_map<std::string, Slot>;
  // Pending entries ordered by physical key, so a range scan visits only the pending writes
  // inside its range (map nodes do not move on rehash; dirty entries are never evicted).
  struct KeyLess {
    using is_transparent = void;
    bool operator()(const Map::value_type* a, const Map::value_type* b) const {
      return a->first < b->first;
    }
    bool operator()(const Map::value_type* a, std::string_view b) const { return a->first < b; }
    bool operator()(std::string_view a, const Map::value_type* b) const { return a < b->first; }
  };
  struct TableCache {
    Map entries;
    std::vector<Map::value_type*> dirty;
    // Kept only for tables that have been range-scanned at least once (most never are).
    bool ordered = false;
    std::set<Map::value_type*, KeyLess> dirty_ordered;
  };
  void MarkDirty(TableCache& c, Map::value_type* kv);
  const std::string& Physical(std::string_view key);
  Slot& Touch(TableCache& c, const std::string& pk, bool* inserted);
  void Evict(TableCache& c);
  void RangeMerge(Table t, const std::string& lo, const std::string& hi,
                  const std::function<bool(std::string_view, std::string_view)>& fn);

  RocksStore* store_;
  size_t cap_;
  uint32_t shard_ = 0;
  uint64_t batch_ = 1;
  std::string prefix_;
  std::string key_buf_;
  TableCache tables_[kTableCount];
};

}  // namespace x402
