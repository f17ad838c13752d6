// StateReader: a consistent, read-only view of the engine's committed state for threads other
// than the pipeline thread (HTTP handlers, the metrics probe). It holds a RocksDB snapshot and
// reads the column families directly (key layout: engine/README.md), so it never touches the
// Engine object, which is not thread-safe. What a batch in flight has not committed is not
// seen.
// Thread-safety: one StateReader per thread; RocksStore itself is thread-safe.
#pragma once

#include <rocksdb/db.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rocksdb_store.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace x402 {

// spent / limit in parts per million, exact integer arithmetic, capped at 10^12 (a million
// times the limit). A zero limit gives 0 for zero spend, else 1 (100 %).
uint64_t UtilizationPpm(Amount spent, Amount limit);

class StateReader {
 public:
  explicit StateReader(RocksStore* store);
  ~StateReader();
  StateReader(const StateReader&) = delete;
  StateReader& operator=(const StateReader&) = delete;

  // Value of `logical_key` in table `t` of `shard`.
  bool Get(Table t, uint32_t shard, std::string_view logical_key, std::string* value);
  // Finds `logical_key` in any shard; *shard is where it was found.
  bool Find(Table t, std::string_view logical_key, std::string* value, uint32_t* shard = nullptr);
  bool GetMeta(std::string_view key, std::string* value);
  std::unique_ptr<rocksdb::Iterator> Iter(rocksdb::ColumnFamilyHandle* cf);
  std::unique_ptr<rocksdb::Iterator> Iter(Table t) { return Iter(store_->cf(t)); }

  // Committed shard watermarks (meta "wm|" keys): every shard that ever held an event.
  const std::map<uint32_t, TimeMs>& watermarks() const { return watermarks_; }
  // The latest watermark over all shards (kTimeMin when nothing was applied).
  TimeMs MaxWatermark() const;
  RocksStore* store() { return store_; }

 private:
  RocksStore* store_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions ro_;
  std::map<uint32_t, TimeMs> watermarks_;
};

}  // namespace x402
