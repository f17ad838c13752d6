#include "engine/timer_index.h"

#include <memory>

#include "engine/batch_state.h"
#include "projections/codec.h"

namespace x402 {

std::string TimerIndex::Key(TimeMs deadline, TimerKind kind, std::string_view key) {
  std::string k;
  KeyInto(&k, deadline, kind, key);
  return k;
}

void TimerIndex::KeyInto(std::string* out, TimeMs deadline, TimerKind kind, std::string_view key) {
  out->clear();
  out->reserve(9 + key.size());
  PutBigEndian64(out, SortableTime(deadline));
  out->push_back(static_cast<char>(kind));
  out->append(key);
}

void TimerIndex::Load() {
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->cf(Table::kTimers)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() < 4 + 9) continue;
    const auto* p = reinterpret_cast<const uint8_t*>(it->key().data());
    const uint32_t shard =
        (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    shards_[shard][std::string(it->key().data() + 4, it->key().size() - 4)].persisted = true;
  }
}

void TimerIndex::Schedule(uint32_t shard, std::string_view key) {
  Ordered& s = shards_[shard];
  auto it = s.lower_bound(key);
  if (it != s.end() && it->first == key) return;
  it = s.emplace_hint(it, std::string(key), Entry{});
  fresh_.emplace_back(shard, it->first);
}

void TimerIndex::Erase(uint32_t shard, Ordered::iterator it) {
  if (it->second.persisted) deletes_.push_back(BatchState::ShardPrefix(shard) + it->first);
  shards_[shard].erase(it);
}

void TimerIndex::Cancel(uint32_t shard, std::string_view key) {
  auto s = shards_.find(shard);
  if (s == shards_.end()) return;
  auto it = s->second.find(key);
  if (it != s->second.end()) Erase(shard, it);
}

bool TimerIndex::HasDue(uint32_t shard, TimeMs watermark) const {
  auto s = shards_.find(shard);
  if (s == shards_.end() || s->second.empty()) return false;
  const TimeMs deadline{
      static_cast<int64_t>(GetBigEndian64(s->second.begin()->first) ^ (uint64_t(1) << 63))};
  return deadline <= watermark;
}

bool TimerIndex::PopDue(uint32_t shard, TimeMs watermark, std::string* key) {
  auto s = shards_.find(shard);
  if (s == shards_.end() || s->second.empty()) return false;
  auto it = s->second.begin();
  const TimeMs deadline{static_cast<int64_t>(GetBigEndian64(it->first) ^ (uint64_t(1) << 63))};
  if (deadline > watermark) return false;
  *key = it->first;
  Erase(shard, it);
  return true;
}

void TimerIndex::Flush(rocksdb::WriteBatch* batch) {
  auto* cf = store_->cf(Table::kTimers);
  for (const auto& k : deletes_) batch->Delete(cf, k);
  deletes_.clear();
  for (const auto& [shard, k] : fresh_) {
    auto s = shards_.find(shard);
    if (s == shards_.end()) continue;
    auto it = s->second.find(k);
    if (it == s->second.end() || it->second.persisted) continue;  // fired or cancelled already
    batch->Put(cf, BatchState::ShardPrefix(shard) + k, rocksdb::Slice());
    it->second.persisted = true;
  }
  fresh_.clear();
}

size_t TimerIndex::size() const {
  size_t n = 0;
  for (const auto& [s, t] : shards_) n += t.size();
  return n;
}

}  // namespace x402
