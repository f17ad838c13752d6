#include "engine/engine.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "projections/codec.h"
#include "schemas/sha256.h"

namespace x402 {

namespace {
constexpr const char* kStatsKey = "stats";
constexpr const char* kOutboxSeqKey = "outbox_seq";
// The layout of the projection tables (engine/README.md). 1: before the key was written;
// 2: tx_hash_index lists the networks of a hash under one key; 3: no permanent dedupe keys
// (a dedupe window in meta segments), payment records version 2 (failures fingerprinted).
constexpr const char* kFormatKey = "format";
constexpr int kFormat = 3;

// Decodes every record of `t` and puts it back as this build encodes it (a format upgrade).
template <class Record>
Status RewriteRecords(RocksStore* store, Table t, rocksdb::WriteBatch* wb, size_t* n) {
  std::unique_ptr<rocksdb::Iterator> it(
      store->db()->NewIterator(rocksdb::ReadOptions(), store->cf(t)));
  Record r;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!Record::Decode(std::string_view(it->value().data(), it->value().size()), &r)) continue;
    wb->Put(store->cf(t), it->key(), r.Encode());
    ++*n;
  }
  return it->status().ok() ? Status::Ok() : Err("format upgrade: " + it->status().ToString());
}

std::string ShardKey(const char* prefix, uint32_t shard) {
  return std::string(prefix) + BatchState::ShardPrefix(shard);
}
}  // namespace

std::string WatermarkKey(uint32_t shard) { return ShardKey("wm|", shard); }

std::string_view DeadLetterClassName(DeadLetterClass c) {
  switch (c) {
    case DeadLetterClass::kOversize:
      return "oversize";
    case DeadLetterClass::kNotJson:
      return "not_json";
    case DeadLetterClass::kEnvelope:
      return "envelope";
    case DeadLetterClass::kUnknownType:
      return "unknown_type";
    case DeadLetterClass::kData:
      return "data";
    case DeadLetterClass::kVendorFact:
      return "vendor_fact";
  }
  return "envelope";
}

DeadLetterClass ClassifyDeadLetter(std::string_view reason) {
  if (reason.find("bytes exceeds") != std::string_view::npos) return DeadLetterClass::kOversize;
  if (reason.starts_with("event:")) return DeadLetterClass::kNotJson;
  if (reason.starts_with("type: unknown")) return DeadLetterClass::kUnknownType;
  if (reason.starts_with("data")) return DeadLetterClass::kData;
  if (reason.starts_with("vendor fact")) return DeadLetterClass::kVendorFact;
  return DeadLetterClass::kEnvelope;
}

namespace {
double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

uint64_t EngineStats::applied_total() const {
  uint64_t n = 0;
  for (auto v : applied) n += v;
  return n;
}

std::string EngineStats::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  w.Var(applied.size());
  for (auto v : applied) w.Var(v);
  w.Var(duplicates);
  w.Var(dead_letters);
  w.Var(skipped_after_as_of);
  w.Var(findings_opened);
  w.Var(findings_resolved);
  w.Var(batches);
  return out;
}

EngineStats EngineStats::Decode(std::string_view bytes) {
  EngineStats s;
  Reader r(bytes);
  if (r.U8() != 1) return s;
  uint64_t n = r.Var();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t v = r.Var();
    if (i < s.applied.size()) s.applied[i] = v;
  }
  s.duplicates = r.Var();
  s.dead_letters = r.Var();
  s.skipped_after_as_of = r.Var();
  s.findings_opened = r.Var();
  s.findings_resolved = r.Var();
  s.batches = r.Var();
  return r.ok() ? s : EngineStats();
}

std::string OutboxEntry::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  w.U8(static_cast<uint8_t>(kind));
  w.U8(static_cast<uint8_t>(severity));
  w.Bool(opened);
  w.Str(agent_id);
  w.Str(alert_id);
  w.Str(json);
  return out;
}

bool OutboxEntry::Decode(std::string_view bytes, OutboxEntry* e) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  e->kind = FindingKind(r.U8());
  e->severity = Severity(r.U8());
  e->opened = r.Bool();
  e->agent_id = r.Str();
  e->alert_id = r.Str();
  e->json = r.Str();
  return r.ok();
}

Engine::Engine(EngineOptions opts) : opts_(std::move(opts)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(EngineOptions opts) {
  auto store = RocksStore::Open(opts.store);
  if (!store) return Err(store.error());
  std::unique_ptr<Engine> e(new Engine(std::move(opts)));
  e->store_ = std::move(*store);
  e->state_ =
      std::make_unique<BatchState>(e->store_.get(), e->opts_.cache_entries, e->opts_.cache_bytes);
  e->state_->SetWriteBack(e->opts_.write_back);
  e->projections_ = std::make_unique<Projections>(&e->opts_.projections);
  e->timers_ = std::make_unique<TimerIndex>(e->store_.get());
  e->timers_->Load();
  e->ledger_ = std::make_unique<FindingLedger>(
      e->state_.get(),
      [eng = e.get()](const Finding& f, bool opened) { eng->OnTransition(f, opened); });
  // Restore clocks, counters and the outbox sequence.
  std::string v;
  if (e->store_->Get(e->store_->meta(), kStatsKey, &v)) e->stats_ = EngineStats::Decode(v);
  if (e->store_->Get(e->store_->meta(), kOutboxSeqKey, &v)) e->outbox_seq_ = GetBigEndian64(v);
  std::unique_ptr<rocksdb::Iterator> it(
      e->store_->db()->NewIterator(rocksdb::ReadOptions(), e->store_->meta()));
  for (it->Seek("wm|"); it->Valid() && it->key().starts_with("wm|"); it->Next()) {
    uint32_t shard = static_cast<uint32_t>(
        GetBigEndian64(std::string(4, '\0') + it->key().ToString().substr(3)));
    e->watermarks_[shard] = TimeMs{static_cast<int64_t>(GetBigEndian64(it->value().ToString()))};
  }
  e->dedupe_ = std::make_unique<DedupeWindow>(e->opts_.projections.dedupe_horizon_s * 1000);
  if (Status st = e->dedupe_->Load(e->store_.get(), e->watermarks_); !st.ok()) {
    return Err(e->opts_.store.path + ": " + st.error());
  }
  if (Status st = e->UpgradeFormat(); !st.ok()) return Err(e->opts_.store.path + ": " + st.error());
  return e;
}

// Brings a store written by an older build to kFormat, in one WriteBatch with the format key
// (a crash before it repeats the conversion, which is idempotent). Refuses a store from a
// newer build.
Status Engine::UpgradeFormat() {
  std::string v;
  const bool recorded = store_->Get(store_->meta(), kFormatKey, &v);
  int format = store_->empty_at_open() ? kFormat : 1;  // 1: written before the key existed
  if (recorded) {
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), format);
    if (ec != std::errc() || end != v.data() + v.size()) {
      return Err("state store format '" + v + "' is not a number: the store is damaged");
    }
  }
  if (format > kFormat) {
    return Err("state store format " + v + " is newer than this build reads (" +
               std::to_string(kFormat) +
               "): use a newer x402rec, or rebuild the state with replay");
  }
  if (recorded && format == kFormat) return Status::Ok();
  if (opts_.store.read_only) return Status::Ok();  // --status reads what is there
  rocksdb::WriteBatch wb;
  if (format < 2) {
    size_t n = 0;
    for (const auto& [shard, wm] : watermarks_) {
      state_->SetShard(shard);
      n += Projections::MigrateTxHashIndex(state_.get());
    }
    state_->Flush(&wb);
    if (n > 0) {
      std::fprintf(stderr, "x402rec: %s: state format 1 -> 2: %zu tx_hash_index keys rewritten\n",
                   opts_.store.path.c_str(), n);
    }
  }
  if (format < 3) {
    // The permanent (source, id) keys become the dedupe window, each remembered at its
    // shard's watermark (the event's own time is not in the key: this keeps every pair for a
    // full horizon from now, never less); payment records are rewritten as version 2.
    size_t pairs = 0, rewritten = 0;
    std::unique_ptr<rocksdb::Iterator> it(
        store_->db()->NewIterator(rocksdb::ReadOptions(), store_->cf(Table::kDedupe)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view k(it->key().data(), it->key().size());
      if (k.size() < 5) continue;
      const uint32_t shard =
          static_cast<uint32_t>(GetBigEndian64(std::string(4, '\0') + std::string(k.substr(0, 4))));
      Reader r(k.substr(4));
      const std::string source = r.Str();
      if (!r.ok()) continue;
      const std::string_view id = k.substr(k.size() - r.remaining());
      auto wm = watermarks_.find(shard);
      dedupe_->Remember(shard, source, id, wm == watermarks_.end() ? kTimeMin : wm->second);
      wb.Delete(store_->cf(Table::kDedupe), it->key());
      ++pairs;
    }
    if (!it->status().ok()) return Err("format upgrade: " + it->status().ToString());
    // Records whose encoding changed: payments (failures fingerprinted), and the chain log
    // state of authorizations and transactions (per block).
    for (Status st :
         {RewriteRecords<PaymentRecord>(store_.get(), Table::kPayments, &wb, &rewritten),
          RewriteRecords<AuthRecord>(store_.get(), Table::kAuths, &wb, &rewritten),
          RewriteRecords<TxRecord>(store_.get(), Table::kTxs, &wb, &rewritten)}) {
      if (!st.ok()) return st;
    }
    dedupe_->Stage(&wb, store_->meta(), watermarks_);
    std::fprintf(stderr,
                 "x402rec: %s: state format %d -> 3: %zu dedupe keys moved to the dedupe window, "
                 "%zu records "
                 "rewritten\n",
                 opts_.store.path.c_str(), format, pairs, rewritten);
  }
  wb.Put(store_->meta(), kFormatKey, std::to_string(kFormat));
  return store_->WriteAtOpen(&wb);
}

std::optional<std::string> Engine::GetMeta(const std::string& key) {
  std::string v;
  if (!store_->Get(store_->meta(), key, &v)) return std::nullopt;
  return v;
}

Status Engine::PutMeta(const std::string& key, const std::string& value) {
  if (Status st = store_->WaitWrites(); !st.ok()) return st;
  rocksdb::WriteBatch wb;
  wb.Put(store_->meta(), key, value);
  return store_->Write(&wb);
}

Status Engine::DropShard(uint32_t shard, const std::vector<std::string>& meta_keys) {
  rocksdb::WriteBatch wb;
  // Point deletes, not DeleteRange: range tombstones trip a memtable assertion when the
  // shard is rebuilt into the same memtable right after.
  const std::string lo = BatchState::ShardPrefix(shard), hi = BatchState::ShardPrefix(shard + 1);
  for (int i = 0; i < kTableCount; ++i) {
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(hi);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(ro, store_->cf(Table(i))));
    for (it->Seek(lo); it->Valid(); it->Next()) wb.Delete(store_->cf(Table(i)), it->key());
    if (!it->status().ok()) return Err("drop shard: " + it->status().ToString());
  }
  for (const auto& k : meta_keys) wb.Delete(store_->meta(), k);
  wb.Delete(store_->meta(), WatermarkKey(shard));
  dedupe_->DropShard(shard, &wb, store_->meta());
  state_->Discard();
  timers_->DropShard(shard);
  watermarks_.erase(shard);
  return store_->Write(&wb);
}

void Engine::OnTransition(const Finding& f, bool opened) {
  OutboxEntry o;
  o.kind = f.kind;
  o.severity = f.severity;
  o.opened = opened;
  o.agent_id = f.agent_id;
  o.alert_id = AlertId(f, opened);
  o.json = AlertJson(f, opened);
  pending_outbox_.push_back(std::move(o));
  if (opened) {
    ++stats_.findings_opened;
  } else {
    ++stats_.findings_resolved;
  }
}

void Engine::Schedule(TimeMs deadline, TimerKind kind, std::string_view key) {
  TimerIndex::KeyInto(&timer_key_, deadline, kind, key);
  timers_->Schedule(state_->shard(), timer_key_);
}

void Engine::Unschedule(TimeMs deadline, TimerKind kind, std::string_view key) {
  TimerIndex::KeyInto(&timer_key_, deadline, kind, key);
  timers_->Cancel(state_->shard(), timer_key_);
}

ApplyContext Engine::Context(TimeMs watermark, TimeMs now) {
  ApplyContext ctx{state_.get(),
                   ledger_.get(),
                   watermark,
                   now,
                   [this](TimeMs d, TimerKind k, std::string_view key) { Schedule(d, k, key); },
                   [this](TimeMs d, TimerKind k, std::string_view key) { Unschedule(d, k, key); },
                   nullptr};
  if (opts_.vendor_facts)
    ctx.emit_vendor_fact = [sink = opts_.vendor_facts](const VendorFact& f) { sink->Add(f); };
  return ctx;
}

void Engine::Touch(uint32_t shard, TimeMs t) {
  TimeMs& wm = watermarks_.try_emplace(shard, kTimeMin).first->second;
  if (t > wm) wm = t;
  if (std::find(touched_shards_.begin(), touched_shards_.end(), shard) == touched_shards_.end()) {
    touched_shards_.push_back(shard);
  }
}

// A vendor fact from the re-keyed stream: no dedupe (applying one is idempotent), no timers.
void Engine::ApplyVendorFactRecord(const SourceRecord& rec) {
  VendorFact fact;
  Status st = rec.oversize
                  ? Err("vendor fact: " + std::to_string(rec.length) + " bytes is oversize")
                  : DecodeVendorFact(rec.bytes, &fact);
  if (!st.ok()) {
    ++stats_.dead_letters;
    if (opts_.dead_letters) opts_.dead_letters->Write(rec, st.error());
    if (opts_.observer) opts_.observer->OnDeadLetter(DeadLetterClass::kVendorFact);
    return;
  }
  if (opts_.as_of && fact.EventTime() > *opts_.as_of) {
    ++stats_.skipped_after_as_of;
    return;
  }
  FireTimers(rec.shard);  // due before this fact: independent of batch boundaries
  state_->SetShard(rec.shard);
  Touch(rec.shard, fact.EventTime());
  ApplyContext ctx = Context(watermarks_[rec.shard], fact.EventTime());
  projections_->ApplyVendorFact(fact, ctx);
  ++stats_.vendor_facts;
}

void Engine::ApplyRecord(const SourceRecord& rec) {
  if (rec.vendor_fact) return ApplyVendorFactRecord(rec);
  if (rec.oversize) {
    ++stats_.dead_letters;
    if (opts_.dead_letters) {
      opts_.dead_letters->Write(rec, "event: " + std::to_string(rec.length) +
                                         " bytes exceeds the " + std::to_string(kMaxEventBytes) +
                                         "-byte limit");
    }
    if (opts_.observer) opts_.observer->OnDeadLetter(DeadLetterClass::kOversize);
    return;
  }
  Status st = decoder_.DecodeInto(rec.bytes, &event_);
  if (!st.ok()) {
    ++stats_.dead_letters;
    if (opts_.dead_letters) opts_.dead_letters->Write(rec, st.error());
    if (opts_.observer) opts_.observer->OnDeadLetter(ClassifyDeadLetter(st.error()));
    return;
  }
  if (rec.check_key && (!rec.has_key || rec.key != event_.subject)) {
    ++stats_.dead_letters;
    if (opts_.dead_letters) {
      opts_.dead_letters->Write(
          rec, rec.has_key ? "kafka key '" + std::string(rec.key.substr(0, 128)) +
                                 "' is not the event's subject '" + event_.subject +
                                 "' (the key must be the agent id)"
                           : "kafka message has no key (the key must be the agent id '" +
                                 event_.subject + "')");
    }
    return;
  }
  if (opts_.as_of && event_.time > *opts_.as_of) {
    ++stats_.skipped_after_as_of;
    return;
  }
  // Timers that the watermark passed before this event fire before it, so the result does
  // not depend on where batch boundaries fall (a live run vs a replay, a crash and restart).
  FireTimers(rec.shard);
  state_->SetShard(rec.shard);
  {
    auto w = watermarks_.find(rec.shard);
    if (dedupe_->CheckAndRemember(rec.shard, event_.source, event_.id, event_.time,
                                  w == watermarks_.end() ? kTimeMin : w->second)) {
      ++stats_.duplicates;
      if (opts_.observer) opts_.observer->OnDuplicate(event_.type);
      return;
    }
  }
  Touch(rec.shard, event_.time);
  ApplyContext ctx = Context(watermarks_[rec.shard], event_.time);
  projections_->Apply(event_, ctx);
  ++stats_.applied[static_cast<int>(event_.type)];
  if (opts_.observer) opts_.observer->OnEventApplied(event_.type);
}

void Engine::FireTimers(uint32_t shard) {
  auto w = watermarks_.find(shard);
  if (w == watermarks_.end() || !timers_->HasDue(shard, w->second)) return;
  state_->SetShard(shard);
  const TimeMs wm = w->second;
  ApplyContext ctx = Context(wm, wm);
  std::string k;
  // Firing can schedule more timers, possibly already due: PopDue sees them too.
  while (timers_->PopDue(shard, wm, &k)) {
    if (k.size() < 9) continue;
    const TimeMs deadline{static_cast<int64_t>(GetBigEndian64(k) ^ (uint64_t(1) << 63))};
    ctx.now = deadline;
    projections_->OnTimer(TimerKind(static_cast<uint8_t>(k[8])), std::string_view(k).substr(9),
                          deadline, ctx);
  }
}

Status Engine::Commit(const Positions& positions) {
  if (opts_.dead_letters) {
    Status st = opts_.dead_letters->Flush();
    if (!st.ok()) return st;
  }
  // Facts this batch derived must be durable before its positions are (a crash in between
  // repeats them, which is harmless: see engine/vendor_facts.h).
  if (opts_.vendor_facts) {
    Status st = opts_.vendor_facts->Flush();
    if (!st.ok()) {
      state_->Discard();
      pending_outbox_.clear();
      touched_shards_.clear();
      return Err("vendor facts: " + st.error());
    }
  }
  // Sized like the last commit's: growing a multi-megabyte batch by doubling costs a page
  // fault per fresh page, every commit.
  rocksdb::WriteBatch wb(last_commit_bytes_ + last_commit_bytes_ / 8);
  if (opts_.vendor_facts) opts_.vendor_facts->Stage(&wb, store_->meta());
  if (opts_.dead_letters) {
    for (const auto& [k, v] : opts_.dead_letters->CommitMarks()) wb.Put(store_->meta(), k, v);
  }
  state_->Flush(&wb);
  timers_->Flush(&wb);
  dedupe_->Stage(&wb, store_->meta(), watermarks_);
  for (const auto& [k, v] : positions) wb.Put(store_->meta(), k, v);
  for (uint32_t shard : touched_shards_) {
    std::string v;
    PutBigEndian64(&v, static_cast<uint64_t>(watermarks_[shard].ms));
    wb.Put(store_->meta(), WatermarkKey(shard), v);
  }
  for (auto& o : pending_outbox_) {
    o.seq = outbox_seq_++;
    std::string k;
    PutBigEndian64(&k, o.seq);
    wb.Put(store_->outbox(), k, o.Encode());
  }
  std::string seq;
  PutBigEndian64(&seq, outbox_seq_);
  wb.Put(store_->meta(), kOutboxSeqKey, seq);
  ++stats_.batches;
  wb.Put(store_->meta(), kStatsKey, stats_.Encode());
  last_commit_bytes_ = wb.GetDataSize();
  Status st = opts_.async_commit ? store_->WriteAsync(std::move(wb)) : store_->Write(&wb);
  if (st.ok() && opts_.observer) {
    for (const auto& o : pending_outbox_) opts_.observer->OnFinding(o.kind, o.severity, o.opened);
  }
  pending_outbox_.clear();
  touched_shards_.clear();
  if (!st.ok()) state_->Discard();
  return st;
}

Status Engine::Sync() { return store_->WaitWrites(); }

Status Engine::ProcessBatch(std::span<const SourceRecord> records, const Positions& positions) {
  if (!opts_.observer) {
    for (const auto& rec : records) ApplyRecord(rec);
    for (uint32_t shard : std::vector<uint32_t>(touched_shards_)) FireTimers(shard);
    return Commit(positions);
  }
  for (const auto& rec : records) {
    if (++sample_counter_ % kApplySampleEvery != 0) {
      ApplyRecord(rec);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    ApplyRecord(rec);
    opts_.observer->OnApplySampled(SecondsSince(t0));
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t shard : std::vector<uint32_t>(touched_shards_)) FireTimers(shard);
  Status st = Commit(positions);
  opts_.observer->OnBatchCommitted(records.size(), SecondsSince(t0), st.ok());
  return st;
}

Status Engine::AdvanceClock(uint32_t shard, TimeMs t) {
  TimeMs& wm = watermarks_.try_emplace(shard, kTimeMin).first->second;
  if (t <= wm) return Status::Ok();
  wm = t;
  touched_shards_.push_back(shard);
  const auto t0 = std::chrono::steady_clock::now();
  FireTimers(shard);
  Status st = Commit({});
  if (opts_.observer) opts_.observer->OnBatchCommitted(0, SecondsSince(t0), st.ok());
  return st;
}

std::string Engine::Digest() {
  Sha256 h;
  auto put = [&](std::string_view s) {
    std::string len;
    Writer(&len).Var(s.size());
    h.Update(len);
    h.Update(s);
  };
  for (int i = 0; i < kTableCount; ++i) {
    const Table t = Table(i);
    if (!TableInDigest(t)) continue;
    put(TableName(t));
    ForEachEntry(t, [&](std::string_view k, std::string_view v) {
      put(k);
      put(v);
    });
  }
  put("open_findings");
  {
    Finding f;
    ForEachEntry(Table::kFindings, [&](std::string_view k, std::string_view v) {
      if (!Finding::Decode(v, &f) || !f.open) return;
      put(k.substr(0, 4));  // shard
      put(f.finding_id);
      put(FindingKindName(f.kind));
      put(f.key);
      put(SeverityName(f.severity));
      put(f.agent_id);
    });
  }
  put("watermarks");
  for (const auto& [shard, wm] : watermarks_) {
    put(BatchState::ShardPrefix(shard));
    put(std::to_string(wm.ms));
  }
  return h.FinalHex();
}

void Engine::ForEachEntry(Table t,
                          const std::function<void(std::string_view, std::string_view)>& fn) {
  state_->ForEachMerged(t, fn);
}

Status Engine::WriteBackAll() {
  if (!state_->write_back()) return Status::Ok();
  state_->SetWriteBack(false);
  return Commit({});
}

void Engine::ForEachFinding(const std::function<void(const Finding&)>& fn) {
  Finding f;
  ForEachEntry(Table::kFindings, [&](std::string_view, std::string_view v) {
    if (Finding::Decode(v, &f)) fn(f);
  });
}

void Engine::ForEachOutbox(uint64_t from_seq, const std::function<bool(const OutboxEntry&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->outbox()));
  std::string k;
  PutBigEndian64(&k, from_seq);
  OutboxEntry e;
  for (it->Seek(k); it->Valid(); it->Next()) {
    if (!OutboxEntry::Decode(std::string_view(it->value().data(), it->value().size()), &e))
      continue;
    e.seq = GetBigEndian64(std::string_view(it->key().data(), it->key().size()));
    if (!fn(e)) return;
  }
}

Status Engine::DeleteOutbox(const std::vector<uint64_t>& seqs) {
  rocksdb::WriteBatch wb;
  for (uint64_t s : seqs) {
    std::string k;
    PutBigEndian64(&k, s);
    wb.Delete(store_->outbox(), k);
  }
  return store_->Write(&wb);
}

}  // namespace x402
