// RocksStore: the RocksDB database behind the engine: one column family per projection
// Table plus "meta" (source positions, watermarks, counters) and "outbox" (alerts not yet
// delivered). Every physical key of a projection table starts with the 4-byte big-endian
// shard id (see engine/README.md for the full key layout).
//
// Thread-safety: RocksDB handles are thread-safe. The one piece of state RocksStore adds,
// the write in flight of WriteAsync() (done by one writer thread), is guarded by a mutex; every
// accessor but GetUnsynced() waits for that write first, so readers never see a batch half-way.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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

  // Waits for a write in flight (WriteAsync), so iterators see every batch handed over.
  rocksdb::DB* db() {
    (void)WaitWrites();
    return db_.get();
  }
  rocksdb::ColumnFamilyHandle* cf(Table t) { return cfs_[static_cast<int>(t)]; }
  rocksdb::ColumnFamilyHandle* meta() { return meta_; }
  rocksdb::ColumnFamilyHandle* outbox() { return outbox_; }

  // Gets from the store (no overlay), after any write in flight. NotFound -> false.
  bool Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string* value);
  // Get without waiting for the write in flight. REQUIRES: the caller knows the key is not
  // in that write, or holds the batch's value itself (BatchState keeps every key of the
  // previous batch cached until the write is done).
  bool GetUnsynced(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string* value);
  Status Write(rocksdb::WriteBatch* batch);
  // A write made while opening (a state format upgrade), not a commit: the fault-injection
  // hook, which stands for a crash at a commit, does not apply.
  Status WriteAtOpen(rocksdb::WriteBatch* batch);
  // Hands the batch to a writer thread and returns at once, after waiting for the previous
  // one: applying the next batch overlaps with this one's memtable inserts. The batch is not
  // written when this returns: a caller that acts on a commit outside the store waits first
  // (engine/README.md, "Overlapped commits"). A failure is reported by the next WriteAsync,
  // Write or WaitWrites (and by every one after it).
  Status WriteAsync(rocksdb::WriteBatch&& batch);
  // Waits for the write in flight; its status (or an earlier failure).
  Status WaitWrites();
  // Wall-clock time (ms since the epoch) at which the latest WriteAsync write finished; 0
  // before the first. For latency measurement.
  int64_t last_async_done_ms() const { return last_async_done_ms_.load(std::memory_order_acquire); }
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
  Status WriteNow(rocksdb::WriteBatch* batch, bool hooked);
  void WriterLoop();
  std::mutex async_mu_;
  std::condition_variable async_cv_;
  std::thread writer_;  // started by the first WriteAsync
  // Guarded by async_mu_: the batch handed over and not yet taken by the writer; counts of
  // batches handed over and done (a reader waits for the count at its arrival, so a busy
  // pipeline cannot keep it waiting write after write); stop request; the first failure
  // (sticky).
  std::optional<rocksdb::WriteBatch> handed_;
  uint64_t handed_count_ = 0;  // batches handed over so far
  uint64_t done_count_ = 0;    // batches written (or failed) so far
  bool stop_ = false;
  Status async_error_;
  std::atomic<int64_t> last_async_done_ms_{0};
};

}  // namespace x402
