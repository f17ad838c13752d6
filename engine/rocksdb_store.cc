#include "engine/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <chrono>

namespace x402 {

namespace {
constexpr const char* kMetaCf = "meta";
constexpr const char* kOutboxCf = "outbox";
}  // namespace

Result<std::unique_ptr<RocksStore>> RocksStore::Open(const StoreOptions& o) {
  std::unique_ptr<RocksStore> s(new RocksStore());
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  // With several column families, one WriteBatch is atomic through the WAL; without a WAL
  // (replay) atomic_flush keeps the flushed column families mutually consistent.
  dbo.atomic_flush = true;
  dbo.max_background_jobs = 2;
  dbo.max_open_files = 512;
  dbo.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  dbo.keep_log_file_num = 2;
  dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Memtables are charged to the block cache (one memory budget), so the cache holds both:
  // sized at block_cache_bytes + write_buffer_bytes, or the memtables would crowd out every
  // data, index and filter block and each lookup would read and decompress them again.
  rocksdb::LRUCacheOptions lru;
  lru.capacity = o.block_cache_bytes + o.write_buffer_bytes;
  lru.high_pri_pool_ratio = 0.3;
  auto cache = rocksdb::NewLRUCache(lru);
  dbo.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(o.write_buffer_bytes, cache);

  rocksdb::BlockBasedTableOptions bbt;
  bbt.block_cache = cache;
  bbt.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Partitioned index and filters in the cache: memory stays within the cache however large
  // the state grows, and a miss reloads one small partition, not a file's whole multi-MB
  // filter (which dominated lookups of new keys once the state outgrew the cache). The
  // top-level index of each file stays pinned; index and filter partitions get priority.
  bbt.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  bbt.partition_filters = true;
  bbt.metadata_block_size = 4096;
  bbt.cache_index_and_filter_blocks = true;
  bbt.cache_index_and_filter_blocks_with_high_priority = true;
  bbt.pin_top_level_index_and_filter = true;
  bbt.pin_l0_filter_and_index_blocks_in_cache = true;
  rocksdb::ColumnFamilyOptions cfo;
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bbt));
  cfo.write_buffer_size = 32 << 20;
  cfo.compression = rocksdb::kLZ4Compression;
  // LZ4 everywhere: state is read back far more often than it is stored, and ZSTD's
  // decompression dominated lookups that miss the cache.
  cfo.bottommost_compression = rocksdb::kLZ4Compression;
  cfo.memtable_prefix_bloom_size_ratio = 0.05;
  cfo.memtable_whole_key_filtering = true;
  cfo.level_compaction_dynamic_level_bytes = true;
  // Keys of a batch are inserted in sorted order per shard: a per-shard insert hint lets the
  // memtable skiplist continue from the previous position instead of searching from the top.
  cfo.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(4));

  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, cfo);
  for (int i = 0; i < kTableCount; ++i) descs.emplace_back(std::string(TableName(Table(i))), cfo);
  descs.emplace_back(kMetaCf, cfo);
  descs.emplace_back(kOutboxCf, cfo);

  rocksdb::DB* raw = nullptr;
  rocksdb::Status st;
  if (o.read_only) {
    st = rocksdb::DB::OpenForReadOnly(dbo, o.path, descs, &s->handles_, &raw);
  } else {
    st = rocksdb::DB::Open(dbo, o.path, descs, &s->handles_, &raw);
  }
  if (!st.ok()) return Err(o.path + ": cannot open state store: " + st.ToString());
  s->db_.reset(raw);
  for (int i = 0; i < kTableCount; ++i) s->cfs_[i] = s->handles_[1 + i];
  s->meta_ = s->handles_[1 + kTableCount];
  s->outbox_ = s->handles_[2 + kTableCount];
  s->wopts_.disableWAL = o.disable_wal;
  s->fail_write_ = o.fail_write;
  {
    std::unique_ptr<rocksdb::Iterator> it(s->db_->NewIterator(rocksdb::ReadOptions(), s->meta_));
    it->SeekToFirst();
    s->empty_at_open_ = !it->Valid();
  }
  return s;
}

RocksStore::~RocksStore() {
  (void)WaitWrites();
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    stop_ = true;
  }
  async_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

bool RocksStore::Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string* value) {
  (void)WaitWrites();
  return GetUnsynced(cf, key, value);
}

bool RocksStore::GetUnsynced(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                             std::string* value) {
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(key.data(), key.size()), value);
  return st.ok();
}

Status RocksStore::WaitWrites() {
  std::unique_lock<std::mutex> lock(async_mu_);
  const uint64_t target = handed_count_;
  async_cv_.wait(lock, [&] { return done_count_ >= target; });
  return async_error_;
}

Status RocksStore::WriteAsync(rocksdb::WriteBatch&& batch) {
  std::unique_lock<std::mutex> lock(async_mu_);
  async_cv_.wait(lock, [&] { return done_count_ == handed_count_; });
  if (!async_error_.ok()) return async_error_;
  if (!writer_.joinable()) writer_ = std::thread([this] { WriterLoop(); });
  handed_.emplace(std::move(batch));
  ++handed_count_;
  async_cv_.notify_all();
  return Status::Ok();
}

// One thread for every WriteAsync of this store: a thread per batch would pay for its
// creation and for RocksDB's per-thread state each time.
void RocksStore::WriterLoop() {
  std::unique_lock<std::mutex> lock(async_mu_);
  while (true) {
    async_cv_.wait(lock, [&] { return stop_ || handed_.has_value(); });
    if (!handed_) return;
    rocksdb::WriteBatch b = std::move(*handed_);
    handed_.reset();
    lock.unlock();
    const Status st = WriteNow(&b, /*hooked=*/true);
    if (st.ok()) {
      last_async_done_ms_.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count(),
                                std::memory_order_release);
    }
    lock.lock();
    if (!st.ok() && async_error_.ok()) async_error_ = st;
    ++done_count_;
    async_cv_.notify_all();
  }
}

// The write itself; `hooked`: a commit, where the fault-injection hook applies.
Status RocksStore::WriteNow(rocksdb::WriteBatch* batch, bool hooked) {
  if (hooked && fail_write_ && fail_write_())
    return Err("state store write failed: injected fault");
  rocksdb::Status st = db_->Write(wopts_, batch);
  if (!st.ok()) return Err("state store write failed: " + st.ToString());
  return Status::Ok();
}

Status RocksStore::WriteAtOpen(rocksdb::WriteBatch* batch) {
  if (Status st = WaitWrites(); !st.ok()) return st;
  return WriteNow(batch, /*hooked=*/false);
}

Status RocksStore::Write(rocksdb::WriteBatch* batch) {
  if (Status st = WaitWrites(); !st.ok()) return st;
  return WriteNow(batch, /*hooked=*/true);
}

Status RocksStore::Flush() {
  if (Status st = WaitWrites(); !st.ok()) return st;
  rocksdb::FlushOptions fo;
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  rocksdb::Status st = db_->Flush(fo, all);
  if (!st.ok()) return Err("state store flush failed: " + st.ToString());
  return Status::Ok();
}

uint64_t RocksStore::IntProperty(const char* name) {
  uint64_t v = 0;
  db_->GetAggregatedIntProperty(name, &v);
  return v;
}

}  // namespace x402
