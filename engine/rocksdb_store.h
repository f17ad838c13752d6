// RocksStore: the RocksDB database behind the engine: one column family per projection
// Table plus "meta" (source positions, watermarks, counters) and "outbox" (alerts not yet
// delivered). Every physical key of a projection table starts with the 4-byte big-endian
// shard id (see engine/README.md for the full key layout).
//
// Thread-safety: RocksDB handles are thread-safe; RocksStore adds no state after Open.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "projections/state.h"
#include "schemas/result.h"

namespace x402 {

struct StoreOptions {
  std::string path;
  bool disable_wal = false;        // replay into a throw-away store: no WAL needed
  size_t write_buffer_bytes = 128 << 20;  // shared by all column families
  size_t block_cache_bytes = 64 << 20;
  bool read_only = false;
  // Fault injection for tests: when set and it returns true, Write() fails without writing
  // anything (as if the process died just before the commit).
  std::function<bool()> fail_write;
};

class RocksStore {
 public:
  static Result<std::unique_ptr<RocksStore>> Open(const StoreOptions& opts);
  ~RocksStore();

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Table t) { return cfs_[static_cast<int>(t)]; }
  rocksdb::ColumnFamilyHandle* meta() { return meta_; }
  rocksdb::ColumnFamilyHandle* outbox() { return outbox_; }

  // Gets from the store (no overlay). NotFound -> false.
  bool Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string* value);
  Status Write(rocksdb::WriteBatch* batch);
  // Flushes memtables (atomic across column families) so a later open starts fast.
  Status Flush();
  bool empty_at_open() const { return empty_at_open_; }
  uint64_t IntProperty(const char* name);

 private:
  RocksStore() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* cfs_[kTableCount] = {};
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
  rocksdb::WriteOptions wopts_;
  std::function<bool()> fail_write_;
  bool empty_at_open_ = false;
};

}  // namespace x402
