#include "engine/batch_state.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace x402 {

std::string BatchState::ShardPrefix(uint32_t shard) {
  std::string p(4, '\0');
  p[0] = static_cast<char>(shard >> 24);
  p[1] = static_cast<char>(shard >> 16);
  p[2] = static_cast<char>(shard >> 8);
  p[3] = static_cast<char>(shard);
  return p;
}

BatchState::BatchState(RocksStore* store, size_t cache_entries)
    : store_(store), cap_(cache_entries), prefix_(ShardPrefix(0)) {
  // Sized once for the largest the cache gets (cap clean entries plus a batch), so lookups
  // never pay for a rehash of the whole table.
  for (auto& t : tables_) t.entries.reserve(cap_ + cap_ / 2);
}

void BatchState::SetShard(uint32_t shard) {
  if (shard == shard_) return;
  shard_ = shard;
  prefix_ = ShardPrefix(shard);
}

const std::string& BatchState::Physical(std::string_view key) {
  key_buf_.assign(prefix_);
  key_buf_.append(key);
  return key_buf_;
}

BatchState::Slot& BatchState::Touch(TableCache& c, const std::string& pk, bool* inserted) {
  auto [it, ins] = c.entries.try_emplace(pk);
  *inserted = ins;
  it->second.used = batch_;
  return it->second;
}

bool BatchState::Get(Table t, std::string_view key, std::string* value) {
  TableCache& c = tables_[static_cast<int>(t)];
  const std::string& pk = Physical(key);
  bool inserted;
  Slot& s = Touch(c, pk, &inserted);
  if (inserted) s.exists = store_->Get(store_->cf(t), pk, &s.value);
  if (s.exists) *value = s.value;
  return s.exists;
}

void BatchState::MarkDirty(TableCache& c, Map::value_type* kv) {
  kv->second.dirty = true;
  c.dirty.push_back(kv);
  if (c.ordered) c.dirty_ordered.insert(kv);
}

void BatchState::Put(Table t, std::string_view key, std::string_view value) {
  TableCache& c = tables_[static_cast<int>(t)];
  auto [it, ins] = c.entries.try_emplace(Physical(key));
  Slot& s = it->second;
  s.used = batch_;
  s.value.assign(value);
  s.exists = true;
  if (!s.dirty) MarkDirty(c, &*it);
}

void BatchState::Delete(Table t, std::string_view key) {
  TableCache& c = tables_[static_cast<int>(t)];
  auto [it, ins] = c.entries.try_emplace(Physical(key));
  Slot& s = it->second;
  s.used = batch_;
  s.value.clear();
  s.exists = false;
  if (!s.dirty) MarkDirty(c, &*it);
}

void BatchState::RangeMerge(Table t, const std::string& lo, const std::string& hi,
                            const std::function<bool(std::string_view, std::string_view)>& fn) {
  TableCache& c = tables_[static_cast<int>(t)];
  if (!c.ordered) {
    c.ordered = true;
    c.dirty_ordered.insert(c.dirty.begin(), c.dirty.end());
  }
  auto pending = c.dirty_ordered.lower_bound(std::string_view(lo));
  const auto pending_end = c.dirty_ordered.lower_bound(std::string_view(hi));
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(ro, store_->cf(t)));
  it->Seek(lo);
  const size_t strip = 4;
  while (true) {
    const bool has_db = it->Valid();
    const bool has_p = pending != pending_end;
    if (!has_db && !has_p) break;
    int cmp;
    if (!has_db) {
      cmp = 1;
    } else if (!has_p) {
      cmp = -1;
    } else {
      cmp = it->key().compare(rocksdb::Slice((*pending)->first));
    }
    if (cmp < 0) {
      std::string_view k(it->key().data() + strip, it->key().size() - strip);
      if (!fn(k, std::string_view(it->value().data(), it->value().size()))) return;
      it->Next();
    } else {
      const auto* p = *pending++;
      if (cmp == 0) it->Next();
      if (p->second.exists) {
        if (!fn(std::string_view(p->first).substr(strip), p->second.value)) return;
      }
    }
  }
}

void BatchState::Scan(Table t, std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::string lo = prefix_ + std::string(prefix);
  // Upper bound: the prefix with its last byte incremented (carrying over 0xff bytes).
  std::string hi = lo;
  while (!hi.empty() && static_cast<uint8_t>(hi.back()) == 0xff) hi.pop_back();
  if (hi.empty()) {
    hi = ShardPrefix(shard_ + 1);
  } else {
    hi.back() = static_cast<char>(static_cast<uint8_t>(hi.back()) + 1);
  }
  RangeMerge(t, lo, hi, fn);
}

void BatchState::ScanRange(Table t, std::string_view from, std::string_view to,
                           const std::function<bool(std::string_view, std::string_view)>& fn) {
  RangeMerge(t, prefix_ + std::string(from), prefix_ + std::string(to), fn);
}

void BatchState::Flush(rocksdb::WriteBatch* batch) {
  for (int i = 0; i < kTableCount; ++i) {
    TableCache& c = tables_[i];
    if (!c.dirty.empty()) {
      auto* cf = store_->cf(Table(i));
      // Sorted keys make the memtable inserts sequential (the skiplist reuses its splice),
      // several times cheaper than random-order inserts.
      std::sort(c.dirty.begin(), c.dirty.end(),
                [](const auto* a, const auto* b) { return a->first < b->first; });
      for (auto* kv : c.dirty) {
        if (kv->second.exists) {
          batch->Put(cf, kv->first, kv->second.value);
        } else {
          batch->Delete(cf, kv->first);
        }
        kv->second.dirty = false;
      }
      c.dirty.clear();
      c.dirty_ordered.clear();
    }
    if (c.entries.size() > cap_) Evict(c);
  }
  ++batch_;
}

// Drops clean entries not used in the most recent batches until the cache is at half its
// capacity (amortised: one scan per cap/2 insertions).
void BatchState::Evict(TableCache& c) {
  std::vector<uint64_t> ages;
  ages.reserve(c.entries.size());
  for (const auto& [k, s] : c.entries) ages.push_back(s.used);
  auto mid = ages.begin() + static_cast<std::ptrdiff_t>(ages.size() - cap_ / 2);
  std::nth_element(ages.begin(), mid, ages.end());
  const uint64_t cutoff = *mid;
  for (auto it = c.entries.begin(); it != c.entries.end();) {
    if (!it->second.dirty && it->second.used < cutoff) {
      it = c.entries.erase(it);
    } else {
      ++it;
    }
  }
}

void BatchState::Discard() {
  for (auto& c : tables_) {
    c.dirty.clear();
    c.dirty_ordered.clear();
    c.entries.clear();
  }
}

}  // namespace x402
