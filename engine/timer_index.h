// TimerIndex: the deadline-ordered timers of every shard (DESIGN.md principle 3), held in
// memory and mirrored to the `timers` column family in the same WriteBatch as the state that
// scheduled or fired them. A timer scheduled and fired (or cancelled) between two commits
// never touches RocksDB. Keys are deadline (sortable big-endian u64) + timer kind + entity
// key, so equal timers collapse into one. On open, the persisted timers are loaded back.
//
// Memory: one entry per pending timer; projections cancel timers that can no longer change
// anything (a settled payment's expiry), so this holds only genuinely pending deadlines.
// Thread-safety: not thread-safe; owned by the pipeline thread.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rocksdb_store.h"
#include "projections/state.h"

namespace x402 {

class TimerIndex {
 public:
  explicit TimerIndex(RocksStore* store) : store_(store) {}
  void Load();

  static std::string Key(TimeMs deadline, TimerKind kind, std::string_view key);
  // Key() into *out (its buffer reused: no allocation per call once it is large enough).
  static void KeyInto(std::string* out, TimeMs deadline, TimerKind kind, std::string_view key);
  // Both take views: a timer already scheduled (or a cancel of one not there, the common
  // cases) costs no key allocation.
  void Schedule(uint32_t shard, std::string_view key);
  void Cancel(uint32_t shard, std::string_view key);
  // Removes and returns the earliest timer of `shard` due at or before `watermark`.
  bool PopDue(uint32_t shard, TimeMs watermark, std::string* key);
  // Whether `shard` has a timer due at or before `watermark` (cheap: one map lookup).
  bool HasDue(uint32_t shard, TimeMs watermark) const;
  // Writes the changes since the last flush into `batch`.
  void Flush(rocksdb::WriteBatch* batch);
  size_t size() const;
  // Forgets a shard's timers (their rows are deleted by the caller's range delete).
  void DropShard(uint32_t shard) { shards_.erase(shard); }

 private:
  struct Entry {
    bool persisted = false;
  };
  using Ordered = std::map<std::string, Entry, std::less<>>;
  void Erase(uint32_t shard, Ordered::iterator it);
  RocksStore* store_;
  std::map<uint32_t, Ordered> shards_;
  std::vector<std::string> deletes_;  // physical keys of persisted timers gone since the flush
  std::vector<std::pair<uint32_t, std::string>> fresh_;  // scheduled since the flush
};

}  // namespace x402
