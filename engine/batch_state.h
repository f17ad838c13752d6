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
#include <vector>

#include "engine/rocksdb_store.h"
#include "projections/state.h"

namespace x402 {

class BatchState final : public StateView {
 public:
  // `cache_entries`: clean entries kept per table; past it, eviction halves them (entries
  // of the batch just flushed always stay, so a batch touching more keys keeps more).
  // `cache_bytes`: a budget for all tables together (keys, values and bookkeeping); past it,
  // the largest tables are evicted to half their entries, the same way. 0 = no budget.
  BatchState(RocksStore* store, size_t cache_entries, size_t cache_bytes = 0);
  size_t cached_bytes() const;

  void SetShard(uint32_t shard);
  uint32_t shard() const { return shard_; }

  bool Get(Table t, std::string_view key, std::string* value) override;
  bool View(Table t, std::string_view key, std::string_view* value) override;
  void Put(Table t, std::string_view key, std::string_view value) override;
  void Delete(Table t, std::string_view key) override;
  void Scan(Table t, std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) override;
  // Visits logical keys in [from, to) of the current shard, in order, pending writes included.
  void ScanRange(Table t, std::string_view from, std::string_view to,
                 const std::function<bool(std::string_view, std::string_view)>& fn);

  // Write-through (the default): Flush moves every pending write into `batch` and marks it
  // clean. Write-back (replay into a throw-away store): pending writes stay in the cache
  // across commits and reach `batch` only when eviction spills them, so RocksDB sees each
  // record once when it goes cold instead of once per batch that touched it; the state is
  // then the cache merged over the store (ForEachMerged), not the store alone.
  void SetWriteBack(bool on) { write_back_ = on; }
  bool write_back() const { return write_back_; }
  void Flush(rocksdb::WriteBatch* batch);
  // Visits every entry of table `t`, every shard, in physical-key order: the cache's pending
  // writes merged over the store (a pending delete hides the stored entry). Keys are
  // physical (shard included). `fn` must not call back into this BatchState.
  void ForEachMerged(Table t, const std::function<void(std::string_view, std::string_view)>& fn);
  // Forgets pending writes (after a failed commit) and the clean cache.
  void Discard();

  static std::string ShardPrefix(uint32_t shard);

 private:
  // One table holds both the batch's pending writes and the clean cache, so a read costs one
  // probe. Entries live in a vector (indices are stable until eviction compacts the index);
  // the index is open-addressed with linear probing, each slot holding the upper half of the
  // key's hash next to the entry index, so a probe rarely touches an entry that is not the
  // one sought. Pending entries are also listed in `dirty` until Flush().
  struct Entry {
    std::string key;  // physical key
    std::string value;
    uint64_t hash = 0;
    uint64_t used = 0;  // batch number of the last access, for eviction
    uint64_t spilled = 0;  // write-back: batch whose write carries this entry's spill
    bool exists = false;
    bool dirty = false;
    bool live = false;  // false: on the free list
  };
  struct TableCache;
  // Pending entries ordered by physical key, so a range scan visits only the pending writes
  // inside its range.
  struct KeyLess {
    using is_transparent = void;
    const TableCache* c;
    bool operator()(uint32_t a, uint32_t b) const { return c->entries[a].key < c->entries[b].key; }
    bool operator()(uint32_t a, std::string_view b) const { return c->entries[a].key < b; }
    bool operator()(std::string_view a, uint32_t b) const { return a < c->entries[b].key; }
  };
  struct TableCache {
    std::vector<Entry> entries;
    std::vector<uint32_t> free;   // indices of entries not live
    std::vector<uint64_t> index;  // 0 = empty, else (hash >> 32) << 32 | (entry + 1)
    size_t live = 0;
    size_t bytes = 0;  // sizeof(Entry) + key and value capacity of each live entry
    std::vector<uint32_t> dirty;
    // Built when a range scan needs it, from the dirty entries not in it yet (dirty[0,
    // ordered_upto) are): most batches of most tables are never range-scanned.
    size_t ordered_upto = 0;
    std::set<uint32_t, KeyLess> dirty_ordered{KeyLess{this}};

    TableCache() = default;
    TableCache(const TableCache&) = delete;
    TableCache& operator=(const TableCache&) = delete;
  };
  void MarkDirty(TableCache& c, uint32_t e);
  const std::string& Physical(std::string_view key);
  // The entry for physical key `pk`, created (not existing, clean) if absent.
  uint32_t Touch(TableCache& c, const std::string& pk, bool* inserted);
  void Rebuild(TableCache& c, size_t slots);
  // Evicts down to `keep` entries (never those of the batch just flushed).
  void Evict(TableCache& c, Table t, rocksdb::WriteBatch* batch, size_t keep);
  void RangeMerge(Table t, const std::string& lo, const std::string& hi,
                  const std::function<bool(std::string_view, std::string_view)>& fn);

  // The keys this BatchState wrote to a store that was empty when it was opened: a miss on a
  // key the filter rules out is known absent, with no RocksDB lookup (issue 13: absent keys
  // are not probed one Get at a time). Blocked Bloom filters, 10 bits a key, 6 probes in one
  // 64-byte block; a full level gets a successor of twice its capacity.
  class WrittenFilter {
   public:
    void Add(uint64_t h);
    bool MayContain(uint64_t h) const;
    size_t bytes() const;

   private:
    struct Level {
      std::vector<uint64_t> words;  // blocks of 8 words
      size_t capacity = 0, count = 0;
    };
    static void Probe(const Level& l, uint64_t h, size_t* block, uint64_t masks[8]);
    std::vector<Level> levels_;
  };

  RocksStore* store_;
  bool filter_absent_;  // the store was empty at open: WrittenFilter answers for it
  bool write_back_ = false;
  WrittenFilter written_[kTableCount];
  size_t cap_;
  size_t budget_;
  uint32_t shard_ = 0;
  uint64_t batch_ = 1;
  std::string prefix_;
  std::string key_buf_;
  TableCache tables_[kTableCount];
};

}  // namespace x402
