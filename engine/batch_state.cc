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

void BatchState::WrittenFilter::Probe(const Level& l, uint64_t h, size_t* block,
                                      uint64_t masks[8]) {
  const size_t blocks = l.words.size() / 8;
  *block = static_cast<size_t>((static_cast<unsigned __int128>(h) * blocks) >> 64);
  uint64_t g = (h ^ (h >> 29)) * 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 8; ++i) masks[i] = 0;
  for (int i = 0; i < 6; ++i) {
    const unsigned bit = static_cast<unsigned>(g >> (64 - 9));  // 0..511
    masks[bit >> 6] |= uint64_t(1) << (bit & 63);
    g = g * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
  }
}

void BatchState::WrittenFilter::Add(uint64_t h) {
  if (levels_.empty() || levels_.back().count >= levels_.back().capacity) {
    Level l;
    l.capacity = levels_.empty() ? size_t(1) << 18 : levels_.back().capacity * 2;
    l.words.assign((l.capacity * 10 / 512 + 1) * 8, 0);
    levels_.push_back(std::move(l));
  }
  Level& l = levels_.back();
  size_t b;
  uint64_t m[8];
  Probe(l, h, &b, m);
  for (int i = 0; i < 8; ++i) l.words[b * 8 + i] |= m[i];
  ++l.count;
}

bool BatchState::WrittenFilter::MayContain(uint64_t h) const {
  for (const Level& l : levels_) {
    size_t b;
    uint64_t m[8];
    Probe(l, h, &b, m);
    bool all = true;
    for (int i = 0; i < 8 && all; ++i) all = (l.words[b * 8 + i] & m[i]) == m[i];
    if (all) return true;
  }
  return false;
}

size_t BatchState::WrittenFilter::bytes() const {
  size_t n = 0;
  for (const Level& l : levels_) n += l.words.size() * 8;
  return n;
}

BatchState::BatchState(RocksStore* store, size_t cache_entries, size_t cache_bytes)
    : store_(store),
      filter_absent_(store->empty_at_open()),
      cap_(cache_entries),
      budget_(cache_bytes),
      prefix_(ShardPrefix(0)) {
  // Small to start with: a table's index doubles as its entries grow (load factor at most
  // 1/2, so probes stay short) and keeps its size, so tables that hold few keys stay small.
  constexpr size_t kInitialSlots = 1024;  // a power of two, as every index size
  for (auto& t : tables_) t.index.assign(kInitialSlots, 0);
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

// Re-creates the index with `slots` slots (a power of two) from the live entries.
void BatchState::Rebuild(TableCache& c, size_t slots) {
  c.index.assign(slots, 0);
  const size_t mask = slots - 1;
  for (size_t e = 0; e < c.entries.size(); ++e) {
    if (!c.entries[e].live) continue;
    const uint64_t h = c.entries[e].hash;
    size_t i = h & mask;
    while (c.index[i] != 0) i = (i + 1) & mask;
    c.index[i] = (h >> 32 << 32) | (e + 1);
  }
}

uint32_t BatchState::Touch(TableCache& c, const std::string& pk, bool* inserted) {
  const uint64_t h = std::hash<std::string_view>()(pk);
  const uint64_t tag = h >> 32 << 32;
  size_t mask = c.index.size() - 1;
  size_t i = h & mask;
  while (uint64_t slot = c.index[i]) {
    if ((slot >> 32 << 32) == tag) {
      const uint32_t e = static_cast<uint32_t>(slot) - 1;
      Entry& en = c.entries[e];
      if (en.hash == h && en.key == pk) {
        *inserted = false;
        en.used = batch_;
        return e;
      }
    }
    i = (i + 1) & mask;
  }
  *inserted = true;
  uint32_t e;
  if (!c.free.empty()) {
    e = c.free.back();
    c.free.pop_back();
  } else {
    e = static_cast<uint32_t>(c.entries.size());
    c.entries.emplace_back();
  }
  Entry& en = c.entries[e];
  en.key.assign(pk);
  en.value.clear();
  c.bytes += sizeof(Entry) + en.key.capacity() + en.value.capacity();
  en.hash = h;
  en.used = batch_;
  en.spilled = 0;
  en.exists = false;
  en.dirty = false;
  en.live = true;
  ++c.live;
  if (2 * c.live > c.index.size()) {
    Rebuild(c, c.index.size() * 2);  // places the new entry too
  } else {
    c.index[i] = tag | (e + 1);
  }
  return e;
}

bool BatchState::View(Table t, std::string_view key, std::string_view* value) {
  TableCache& c = tables_[static_cast<int>(t)];
  const std::string& pk = Physical(key);
  bool inserted;
  Entry& s = c.entries[Touch(c, pk, &inserted)];
  // Unsynced: every key of a batch whose write may still be in flight is in this cache
  // (eviction spares the newest batch's entries: see Evict), so a miss is not in that write.
  if (inserted) {
    const size_t before = s.value.capacity();
    s.exists = filter_absent_ && !written_[static_cast<int>(t)].MayContain(s.hash)
                   ? false
                   : store_->GetUnsynced(store_->cf(t), pk, &s.value);
    c.bytes += s.value.capacity() - before;
  }
  if (s.exists) *value = s.value;
  return s.exists;
}

bool BatchState::Get(Table t, std::string_view key, std::string* value) {
  std::string_view v;
  if (!View(t, key, &v)) return false;
  value->assign(v);
  return true;
}

void BatchState::MarkDirty(TableCache& c, uint32_t e) {
  c.entries[e].dirty = true;
  c.dirty.push_back(e);
}

void BatchState::Put(Table t, std::string_view key, std::string_view value) {
  TableCache& c = tables_[static_cast<int>(t)];
  bool inserted;
  const uint32_t e = Touch(c, Physical(key), &inserted);
  Entry& s = c.entries[e];
  // Re-evaluations often write back the bytes they read: an unchanged value is neither
  // copied nor made a pending write (nothing for the commit or the spill to carry).
  if (s.exists && s.value == value) return;
  const size_t before = s.value.capacity();
  s.value.assign(value);
  c.bytes += s.value.capacity() - before;
  s.exists = true;
  if (!s.dirty) MarkDirty(c, e);
}

void BatchState::Delete(Table t, std::string_view key) {
  TableCache& c = tables_[static_cast<int>(t)];
  bool inserted;
  const uint32_t e = Touch(c, Physical(key), &inserted);
  Entry& s = c.entries[e];
  s.value.clear();
  s.exists = false;
  if (!s.dirty) MarkDirty(c, e);
}

// `fn` gets views into cache entries: it must not Get or Put (a new entry can move them);
// the projections' scans only collect keys.
void BatchState::RangeMerge(Table t, const std::string& lo, const std::string& hi,
                            const std::function<bool(std::string_view, std::string_view)>& fn) {
  TableCache& c = tables_[static_cast<int>(t)];
  for (; c.ordered_upto < c.dirty.size(); ++c.ordered_upto)
    c.dirty_ordered.insert(c.dirty[c.ordered_upto]);
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
      cmp = it->key().compare(rocksdb::Slice(c.entries[*pending].key));
    }
    if (cmp < 0) {
      std::string_view k(it->key().data() + strip, it->key().size() - strip);
      if (!fn(k, std::string_view(it->value().data(), it->value().size()))) return;
      it->Next();
    } else {
      const Entry& p = c.entries[*pending++];
      if (cmp == 0) it->Next();
      if (p.exists) {
        if (!fn(std::string_view(p.key).substr(strip), p.value)) return;
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
    if (!c.dirty.empty() && !write_back_) {
      auto* cf = store_->cf(Table(i));
      // Sorted keys make the memtable inserts sequential (the skiplist reuses its splice),
      // several times cheaper than random-order inserts.
      std::sort(c.dirty.begin(), c.dirty.end(),
                [&c](uint32_t a, uint32_t b) { return c.entries[a].key < c.entries[b].key; });
      for (uint32_t e : c.dirty) {
        Entry& en = c.entries[e];
        if (en.exists) {
          batch->Put(cf, en.key, en.value);
          if (filter_absent_) written_[i].Add(en.hash);
        } else {
          batch->Delete(cf, en.key);
        }
        en.dirty = false;
        // In this batch's write: kept until the next flush (eviction spares this batch's
        // entries), also when it was last touched earlier (WriteBackAll after write-back).
        en.used = batch_;
      }
      c.dirty.clear();
      c.dirty_ordered.clear();
      c.ordered_upto = 0;
    }
    if (c.live > cap_) Evict(c, Table(i), batch, cap_ / 2);
  }
  // Over the byte budget: evict the largest tables to half their entries until under it (a
  // table whose entries are all the current batch's cannot shrink: at most one pass each).
  for (int round = 0; budget_ > 0 && cached_bytes() > budget_ && round < kTableCount; ++round) {
    int largest = 0;
    for (int i = 1; i < kTableCount; ++i) {
      if (tables_[i].bytes > tables_[largest].bytes) largest = i;
    }
    TableCache& c = tables_[largest];
    if (c.live < 2) break;
    Evict(c, Table(largest), batch, c.live / 2);
  }
  ++batch_;
}

// Drops entries not used in the most recent batches until the cache is at half its capacity
// (amortised: one pass per cap/2 insertions), then rebuilds the index. Entries used in the
// batch just flushed (used == batch_) are never dropped: the cutoff is at most batch_ and
// only entries strictly older go. RocksStore::GetUnsynced relies on this.
//
// Write-back: an old entry with a pending write is spilled instead, its write added to
// `batch` (sorted), and it stays cached as a clean entry of this batch until a later pass,
// since its write is in flight until the next commit has waited for it.
size_t BatchState::cached_bytes() const {
  size_t n = 0;
  for (const auto& c : tables_) {
    n += c.bytes + c.index.capacity() * sizeof(uint64_t) +
         (c.entries.capacity() - c.live) * sizeof(Entry);
  }
  return n;
}

void BatchState::Evict(TableCache& c, Table t, rocksdb::WriteBatch* batch, size_t keep) {
  std::vector<uint64_t> ages;
  ages.reserve(c.live);
  for (const Entry& en : c.entries) {
    if (en.live) ages.push_back(en.used);
  }
  keep = std::clamp<size_t>(keep, 1, ages.size());
  auto mid = ages.begin() + static_cast<std::ptrdiff_t>(ages.size() - keep);
  std::nth_element(ages.begin(), mid, ages.end());
  const uint64_t cutoff = *mid;
  std::vector<uint32_t> spill;
  for (size_t e = 0; e < c.entries.size(); ++e) {
    Entry& en = c.entries[e];
    if (!en.live || en.used >= cutoff || en.spilled == batch_) continue;
    if (en.dirty) {
      spill.push_back(static_cast<uint32_t>(e));
      continue;
    }
    en.live = false;
    c.bytes -= sizeof(Entry) + en.key.capacity() + en.value.capacity();
    std::string().swap(en.key);  // give the memory back: the cache's size is the bound
    std::string().swap(en.value);
    c.free.push_back(static_cast<uint32_t>(e));
    --c.live;
  }
  if (!spill.empty()) {
    std::sort(spill.begin(), spill.end(),
              [&c](uint32_t a, uint32_t b) { return c.entries[a].key < c.entries[b].key; });
    auto* cf = store_->cf(t);
    const int ti = static_cast<int>(t);
    for (uint32_t e : spill) {
      Entry& en = c.entries[e];
      if (en.exists) {
        batch->Put(cf, en.key, en.value);
        if (filter_absent_) written_[ti].Add(en.hash);
      } else if (!filter_absent_ || written_[ti].MayContain(en.hash)) {
        batch->Delete(cf, en.key);
      }
      en.dirty = false;
      en.spilled = batch_;  // kept until the next flush: its write is in flight until then
    }
    // The spilled entries leave the ordered set one by one (in write-back it holds every
    // pending entry of the table: rebuilding it after each spill cost a string comparison
    // per pending entry and level, at the next range scan).
    for (uint32_t e : spill) c.dirty_ordered.erase(e);
    size_t kept = 0, ordered = 0;
    for (size_t i = 0; i < c.dirty.size(); ++i) {
      const uint32_t e = c.dirty[i];
      if (!c.entries[e].dirty) continue;
      if (i < c.ordered_upto) ++ordered;
      c.dirty[kept++] = e;
    }
    c.dirty.resize(kept);
    c.ordered_upto = ordered;
  }
  Rebuild(c, c.index.size());
}

void BatchState::ForEachMerged(Table t,
                               const std::function<void(std::string_view, std::string_view)>& fn) {
  TableCache& c = tables_[static_cast<int>(t)];
  std::vector<uint32_t> pending(c.dirty);
  std::sort(pending.begin(), pending.end(),
            [&c](uint32_t a, uint32_t b) { return c.entries[a].key < c.entries[b].key; });
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->cf(t)));
  it->SeekToFirst();
  size_t p = 0;
  while (true) {
    const bool has_db = it->Valid(), has_p = p < pending.size();
    if (!has_db && !has_p) break;
    int cmp = !has_db  ? 1
              : !has_p ? -1
                       : it->key().compare(rocksdb::Slice(c.entries[pending[p]].key));
    if (cmp < 0) {
      fn(std::string_view(it->key().data(), it->key().size()),
         std::string_view(it->value().data(), it->value().size()));
      it->Next();
      continue;
    }
    const Entry& en = c.entries[pending[p++]];
    if (cmp == 0) it->Next();
    if (en.exists) fn(en.key, en.value);
  }
}

void BatchState::Discard() {
  // Once the cache is empty, a miss could be for a key of the write in flight: let it land.
  (void)store_->WaitWrites();
  for (auto& c : tables_) {
    c.dirty.clear();
    c.dirty_ordered.clear();
    c.ordered_upto = 0;
    c.entries.clear();
    c.free.clear();
    c.live = 0;
    c.bytes = 0;
    std::fill(c.index.begin(), c.index.end(), 0);
  }
}

}  // namespace x402
