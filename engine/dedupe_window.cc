#include "engine/dedupe_window.h"

#include <xxhash.h>

#include <algorithm>
#include <memory>

#include "projections/codec.h"

namespace x402 {

namespace {
constexpr std::string_view kSegmentPrefix = "dd|";
constexpr std::string_view kDropPrefix = "ddx|";
constexpr uint64_t kTimeBias = uint64_t(1) << 47;
constexpr uint64_t kTimeMask = (uint64_t(1) << 48) - 1;
constexpr size_t kInitialSlots = 64;   // per part
constexpr size_t kSlotBytes = 4 + 16;  // a segment entry: be32 shard, fp, meta

void PutBigEndian32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t GetBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(in[i]);
  return v;
}
std::string SegmentKey(uint64_t seq) {
  std::string k(kSegmentPrefix);
  PutBigEndian64(&k, seq);
  return k;
}
}  // namespace

DedupeWindow::Slot DedupeWindow::Fingerprint(std::string_view source, std::string_view id,
                                             TimeMs time) {
  // The pair as the engine names it: varint(len(source)) source id, so ("ab","c") != ("a","bc").
  // The scratch string keeps its capacity: no allocation per event.
  scratch_.clear();
  Writer(&scratch_).Str(source);
  scratch_.append(id);
  const char* data = scratch_.data();
  const size_t n = scratch_.size();
  const XXH128_hash_t h = XXH3_128bits(data, n);
  Slot s;
  s.fp = h.low64 ? h.low64 : 1;
  // 48 bits hold times within 4,400 years of 1970; later ones (the decoder accepts years to
  // 9999) are kept as the latest representable time, so they never wrap to the distant past,
  // and Expired() takes such a clock at that time too: pairs that late never expire.
  const int64_t ms = std::clamp<int64_t>(time.ms, -static_cast<int64_t>(kTimeBias),
                                         static_cast<int64_t>(kTimeBias) - 1);
  const uint64_t t = (static_cast<uint64_t>(ms) + kTimeBias) & kTimeMask;
  s.meta = (h.high64 >> 48 << 48) | t;
  return s;
}

TimeMs DedupeWindow::TimeOf(const Slot& s) {
  return TimeMs{static_cast<int64_t>(s.meta & kTimeMask) - static_cast<int64_t>(kTimeBias)};
}

bool DedupeWindow::Expired(TimeMs t, TimeMs watermark) const {
  // Within the horizon: t >= watermark - horizon (saturating at the bottom of time). A clock
  // past the 48-bit range is taken at its top, as the pair times are (Fingerprint).
  const int64_t wm = std::min<int64_t>(watermark.ms, static_cast<int64_t>(kTimeBias) - 1);
  if (wm < INT64_MIN + horizon_ms_) return false;
  return t.ms < wm - horizon_ms_;
}

DedupeWindow::Slot* DedupeWindow::Find(Part& p, const Slot& s) {
  const size_t n = p.slots.size();
  // The top 6 bits chose the part: place by the bits below them.
  size_t i = static_cast<size_t>((static_cast<unsigned __int128>(s.fp << 6) * n) >> 64);
  const uint64_t tag = s.meta >> 48;
  while (true) {
    Slot& x = p.slots[i];
    if (x.fp == 0 || (x.fp == s.fp && (x.meta >> 48) == tag)) return &x;
    if (++i == n) i = 0;
  }
}

void DedupeWindow::Grow(Part& p, TimeMs watermark) {
  // Drop what passed the horizon first; grow by half only if the live pairs still fill the
  // table past half.
  size_t live = 0;
  for (const Slot& x : p.slots) live += x.fp != 0 && !Expired(TimeOf(x), watermark);
  size_t n = std::max(kInitialSlots, p.slots.size());
  while (live * 2 > n) n += n / 2;
  std::vector<Slot> old;
  old.swap(p.slots);
  p.slots.assign(n, Slot{});
  p.used = 0;
  for (const Slot& x : old) {
    if (x.fp == 0 || Expired(TimeOf(x), watermark)) continue;
    *Find(p, x) = x;
    ++p.used;
  }
}

void DedupeWindow::Insert(uint32_t shard, const Slot& s, TimeMs watermark) {
  Part& p = shards_[shard].PartOf(s);
  if (p.slots.empty()) p.slots.assign(kInitialSlots, Slot{});
  Slot* x = Find(p, s);
  if (x->fp == 0) {
    if ((p.used + 1) * 5 > p.slots.size() * 4) {  // load factor 0.8
      Grow(p, watermark);
      x = Find(p, s);
    }
    ++p.used;
  }
  *x = s;
}

bool DedupeWindow::CheckAndRemember(uint32_t shard, std::string_view source, std::string_view id,
                                    TimeMs time, TimeMs watermark) {
  if (!enabled()) return false;
  const Slot s = Fingerprint(source, id, time);
  auto it = shards_.find(shard);
  if (it != shards_.end()) {
    Part& p = it->second.PartOf(s);
    if (!p.slots.empty()) {
      const Slot* x = Find(p, s);
      if (x->fp != 0 && !Expired(TimeOf(*x), watermark)) return true;
    }
  }
  Insert(shard, s, watermark);
  pending_.emplace_back(shard, s);
  return false;
}

void DedupeWindow::Remember(uint32_t shard, std::string_view source, std::string_view id,
                            TimeMs time) {
  if (!enabled()) return;
  const Slot s = Fingerprint(source, id, time);
  Insert(shard, s, kTimeMin);  // at open: nothing is purged while the window is rebuilt
  pending_.emplace_back(shard, s);
}

void DedupeWindow::Stage(rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* meta,
                         const std::map<uint32_t, TimeMs>& watermarks) {
  auto clock = [&](uint32_t shard) {
    auto it = watermarks.find(shard);
    return it == watermarks.end() ? kTimeMin : it->second;
  };
  // Oldest segments first, while they are wholly past the horizon: pairs are remembered in
  // roughly event-time order, so this keeps the list at about one segment per commit within
  // the horizon without looking at all of them every commit.
  while (!segments_.empty()) {
    const Segment& seg = segments_.front();
    bool expired = true;
    for (const auto& [shard, t] : seg.max_time) expired = expired && Expired(t, clock(shard));
    if (!expired) break;
    wb->Delete(meta, SegmentKey(seg.seq));
    segments_.pop_front();
  }
  if (pending_.empty()) return;
  std::string v;
  v.reserve(1 + pending_.size() * kSlotBytes);
  v.push_back(1);
  Segment seg{next_seq_++, {}};
  for (const auto& pending : pending_) {
    const uint32_t shard = pending.first;  // not a structured binding: the lambda below uses it
    const Slot& s = pending.second;
    if (Expired(TimeOf(s), clock(shard))) continue;  // already past the horizon: nothing to keep
    PutBigEndian32(&v, shard);
    PutBigEndian64(&v, s.fp);
    PutBigEndian64(&v, s.meta);
    auto m = std::find_if(seg.max_time.begin(), seg.max_time.end(),
                          [&](const auto& p) { return p.first == shard; });
    if (m == seg.max_time.end()) {
      seg.max_time.emplace_back(shard, TimeOf(s));
    } else if (TimeOf(s) > m->second) {
      m->second = TimeOf(s);
    }
  }
  pending_.clear();
  if (seg.max_time.empty()) return;
  wb->Put(meta, SegmentKey(seg.seq), v);
  segments_.push_back(std::move(seg));
}

void DedupeWindow::DropShard(uint32_t shard, rocksdb::WriteBatch* wb,
                             rocksdb::ColumnFamilyHandle* meta) {
  shards_.erase(shard);
  std::erase_if(pending_, [&](const auto& p) { return p.first == shard; });
  for (Segment& seg : segments_) {
    std::erase_if(seg.max_time, [&](const auto& p) { return p.first == shard; });
  }
  std::string k(kDropPrefix), v;
  PutBigEndian32(&k, shard);
  PutBigEndian64(&v, next_seq_);
  wb->Put(meta, k, v);
}

Status DedupeWindow::Load(RocksStore* store, const std::map<uint32_t, TimeMs>& watermarks) {
  std::map<uint32_t, uint64_t> dropped_before;
  std::unique_ptr<rocksdb::Iterator> it(
      store->db()->NewIterator(rocksdb::ReadOptions(), store->meta()));
  for (it->Seek(std::string(kDropPrefix));
       it->Valid() && it->key().starts_with(std::string(kDropPrefix)); it->Next()) {
    if (it->key().size() != kDropPrefix.size() + 4 || it->value().size() != 8) {
      return Err("dedupe window: damaged drop marker");
    }
    const uint64_t valid_from = GetBigEndian64(std::string_view(it->value().data(), 8));
    dropped_before[GetBigEndian32(std::string_view(it->key().data() + kDropPrefix.size(), 4))] =
        valid_from;
    // Segments written from now on must number at least this, even if every segment below
    // it is gone: else a rebuilt shard's pairs would be taken for ones from before its drop.
    next_seq_ = std::max(next_seq_, valid_from);
  }
  auto clock = [&](uint32_t shard) {
    auto c = watermarks.find(shard);
    return c == watermarks.end() ? kTimeMin : c->second;
  };
  for (it->Seek(std::string(kSegmentPrefix));
       it->Valid() && it->key().starts_with(std::string(kSegmentPrefix)); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const std::string_view v(it->value().data(), it->value().size());
    if (key.size() != kSegmentPrefix.size() + 8 || v.empty() || v[0] != 1 ||
        (v.size() - 1) % kSlotBytes != 0) {
      return Err("dedupe window: damaged segment");
    }
    Segment seg{GetBigEndian64(key.substr(kSegmentPrefix.size())), {}};
    next_seq_ = std::max(next_seq_, seg.seq + 1);
    for (size_t off = 1; off < v.size(); off += kSlotBytes) {
      const uint32_t shard = GetBigEndian32(v.substr(off, 4));
      auto d = dropped_before.find(shard);
      if (d != dropped_before.end() && seg.seq < d->second) continue;
      Slot s{GetBigEndian64(v.substr(off + 4, 8)), GetBigEndian64(v.substr(off + 12, 8))};
      const TimeMs t = TimeOf(s);
      auto m = std::find_if(seg.max_time.begin(), seg.max_time.end(),
                            [&](const auto& p) { return p.first == shard; });
      if (m == seg.max_time.end()) {
        seg.max_time.emplace_back(shard, t);
      } else if (t > m->second) {
        m->second = t;
      }
      if (Expired(t, clock(shard)) || !enabled()) continue;
      Insert(shard, s, clock(shard));
    }
    segments_.push_back(std::move(seg));
  }
  if (!it->status().ok()) return Err("dedupe window: " + it->status().ToString());
  return Status::Ok();
}

size_t DedupeWindow::remembered() const {
  size_t n = 0;
  for (const auto& [shard, sh] : shards_) {
    for (const Part& p : sh.parts) n += p.used;
  }
  return n;
}

size_t DedupeWindow::memory_bytes() const {
  size_t n = pending_.capacity() * sizeof(pending_[0]);
  for (const auto& [shard, sh] : shards_) {
    for (const Part& p : sh.parts) n += p.slots.capacity() * sizeof(Slot);
  }
  return n;
}

}  // namespace x402
