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
    : store_(store), cap_(cache_entries), prefix_(ShardPrefix(0)) {}

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

bool BatchState::Get(Table t, std::string_view key, std::string* value) {
  TableCache& c = tables_[static_cast<int>(t)];
  const std::string& pk = Physical(key);
  if (auto it = c.dirty.find(pk); it != c.dirty.end()) {
    if (it->second.exists) *value = it->second.value;
    return it->second.exists;
  }
  if (auto it = c.young.find(pk); it != c.young.end()) {
    if (it->second.exists) *value = it->second.value;
    return it->second.exists;
  }
  if (auto it = c.old.find(pk); it != c.old.end()) {
    auto node = c.old.extract(it);
    bool exists = node.mapped().exists;
    if (exists) *value = node.mapped().value;
    c.young.insert(std::move(node));
    return exists;
  }
  Slot s;
  s.exists = store_->Get(store_->cf(t), pk, &s.value);
  if (s.exists) *value = s.value;
  bool exists = s.exists;
  c.young.emplace(pk, std::move(s));
  return exists;
}

void BatchState::Put(Table t, std::string_view key, std::string_view value) {
  Slot& s = tables_[static_cast<int>(t)].dirty[Physical(key)];
  s.value.assign(value);
  s.exists = true;
}

void BatchState::Delete(Table t, std::string_view key) {
  Slot& s = tables_[static_cast<int>(t)].dirty[Physical(key)];
  s.value.clear();
  s.exists = false;
}

void BatchState::RangeMerge(Table t, const std::string& lo, const std::string& hi,
                            const std::function<bool(std::string_view, std::string_view)>& fn) {
  TableCache& c = tables_[static_cast<int>(t)];
  std::vector<const std::pair<const std::string, Slot>*> pending;
  for (const auto& kv : c.dirty) {
    if (kv.first >= lo && kv.first < hi) pending.push_back(&kv);
  }
  std::sort(pending.begin(), pending.end(), [](auto* a, auto* b) { return a->first < b->first; });
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(ro, store_->cf(t)));
  it->Seek(lo);
  size_t i = 0;
  const size_t strip = 4;
  while (true) {
    const bool has_db = it->Valid();
    const bool has_p = i < pending.size();
    if (!has_db && !has_p) break;
    int cmp;
    if (!has_db) {
      cmp = 1;
    } else if (!has_p) {
      cmp = -1;
    } else {
      cmp = it->key().compare(rocksdb::Slice(pending[i]->first));
    }
    if (cmp < 0) {
      std::string_view k(it->key().data() + strip, it->key().size() - strip);
      if (!fn(k, std::string_view(it->value().data(), it->value().size()))) return;
      it->Next();
    } else {
      const auto* p = pending[i++];
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
    if (c.dirty.empty()) continue;
    auto* cf = store_->cf(Table(i));
    // Sorted keys make the memtable inserts sequential (the skiplist reuses its splice),
    // several times cheaper than random-order inserts.
    sorted_.clear();
    sorted_.reserve(c.dirty.size());
    for (auto& kv : c.dirty) sorted_.push_back(&kv);
    std::sort(sorted_.begin(), sorted_.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    for (const auto* kv : sorted_) {
      if (kv->second.exists) {
        batch->Put(cf, kv->first, kv->second.value);
      } else {
        batch->Delete(cf, kv->first);
      }
    }
    // Clean now: move into the young generation (replacing stale copies).
    for (auto it = c.dirty.begin(); it != c.dirty.end();) {
      auto node = c.dirty.extract(it++);
      c.old.erase(node.key());
      auto ins = c.young.insert(std::move(node));
      if (!ins.inserted) ins.position->second = std::move(ins.node.mapped());
    }
    if (c.young.size() > cap_) {
      c.old = std::move(c.young);
      c.young.clear();
    }
  }
}

void BatchState::Discard() {
  for (auto& c : tables_) {
    c.dirty.clear();
    c.young.clear();
    c.old.clear();
  }
}

}  // namespace x402
