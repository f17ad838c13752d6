// Engine: the pipeline core. Takes batches of raw records from a source, decodes them,
// dead-letters what can't be accepted, drops duplicates by (source, id), applies the rest
// to the projections, fires due timers, and commits ONE RocksDB WriteBatch holding the
// projection state, findings, timers, alert outbox entries, watermarks, counters and the
// source position (DESIGN.md principles 1-3). A crash between commits loses nothing and
// applies nothing twice: on restart the source resumes from the committed position.
//
// Thread-safety: not thread-safe; one pipeline thread drives an Engine.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "connectors/deadletter_sink.h"
#include "connectors/event_source.h"
#include "engine/batch_state.h"
#include "engine/dedupe_window.h"
#include "engine/rocksdb_store.h"
#include "engine/timer_index.h"
#include "engine/vendor_facts.h"
#include "projections/config.h"
#include "projections/finding_ledger.h"
#include "projections/projections.h"
#include "schemas/decoder.h"

namespace x402 {

// Classes of dead-letter reasons for metrics: a small fixed set, never free text.
enum class DeadLetterClass : uint8_t {
  kOversize = 0,
  kNotJson,
  kEnvelope,
  kUnknownType,
  kData,
  kVendorFact
};
inline constexpr int kDeadLetterClassCount = 6;
std::string_view DeadLetterClassName(DeadLetterClass c);
// Classifies a decoder error message ("event: not JSON ...", "type: unknown ...", "data.x: ...").
DeadLetterClass ClassifyDeadLetter(std::string_view reason);

// Observes the pipeline for metrics without the engine depending on a metrics library. Every
// call is made on the pipeline thread, inside ProcessBatch / AdvanceClock; implementations
// must be cheap and must not call back into the Engine.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // One record's outcome. `type` is kEventTypeCount when unknown (dead letters).
  virtual void OnEventApplied(EventType type) = 0;
  virtual void OnDuplicate(EventType type) = 0;
  virtual void OnDeadLetter(DeadLetterClass reason) = 0;
  // A finding transition, reported once its batch is committed.
  virtual void OnFinding(FindingKind kind, Severity severity, bool opened) = 0;
  // The decode+dedupe+apply time of one event, sampled (every kApplySampleEvery-th record).
  virtual void OnApplySampled(double seconds) = 0;
  // A commit (ProcessBatch or AdvanceClock): its duration (timers, flush and RocksDB write).
  virtual void OnBatchCommitted(size_t records, double seconds, bool ok) = 0;
};
inline constexpr uint32_t kApplySampleEvery = 64;

struct EngineOptions {
  StoreOptions store;
  ProjectionConfig projections;
  size_t cache_entries = 100000;           // clean state entries cached per table
  size_t cache_bytes = 0;                  // the state cache's byte budget, all tables (0: none)
  std::optional<TimeMs> as_of;             // replay: events after this time are skipped
  DeadLetterSink* dead_letters = nullptr;  // not owned; may be null (counted only)
  // Not owned. When set, vendor facts go here (flushed before every commit) instead of being
  // applied in the shard that derived them; see engine/vendor_facts.h.
  VendorFactSink* vendor_facts = nullptr;
  EngineObserver* observer = nullptr;  // not owned; may be null
  // Each commit's RocksDB write overlaps with applying the next batch
  // (RocksStore::WriteAsync). A commit is then not written when ProcessBatch returns: every
  // reader of the store waits for it, but a caller acting outside the store on a commit
  // (exiting, reporting it done) calls Sync() first. engine/README.md, "Overlapped commits".
  bool async_commit = false;
  // Projection state stays in BatchState's cache across commits and reaches RocksDB only when
  // evicted (BatchState::SetWriteBack): for a replay into a throw-away store. Readers of the
  // state then go through ForEachEntry, never the store alone; WriteBackAll() writes it all.
  bool write_back = false;
};

struct EngineStats {
  std::array<uint64_t, kEventTypeCount> applied{};
  uint64_t duplicates = 0;
  uint64_t dead_letters = 0;
  uint64_t skipped_after_as_of = 0;
  uint64_t vendor_facts = 0;  // facts applied to this engine's vendor shards (not persisted)
  uint64_t findings_opened = 0;
  uint64_t findings_resolved = 0;
  uint64_t batches = 0;
  uint64_t applied_total() const;
  std::string Encode() const;
  static EngineStats Decode(std::string_view bytes);
};

// One alert as stored in the outbox column family.
struct OutboxEntry {
  uint64_t seq = 0;
  FindingKind kind = FindingKind::kBudgetThreshold;
  Severity severity = Severity::kInfo;
  bool opened = true;
  std::string agent_id, alert_id, json;
  std::string Encode() const;
  static bool Decode(std::string_view bytes, OutboxEntry* out);
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(EngineOptions opts);
  ~Engine();

  // Waits for an asynchronous commit (EngineOptions::async_commit) and returns its status.
  Status Sync();
  // Applies `records` and commits them with `positions` in one WriteBatch.
  Status ProcessBatch(std::span<const SourceRecord> records, const Positions& positions);
  // Advances a shard's event-time clock to t (replay --as-of, idle wall clock), fires the
  // timers that became due and commits.
  Status AdvanceClock(uint32_t shard, TimeMs t);

  std::optional<std::string> GetMeta(const std::string& key);
  // Writes one meta key on its own, durably (not part of a batch): for values that must be
  // in the store before the first batch (the dead-letter file's starting length).
  Status PutMeta(const std::string& key, const std::string& value);
  // Drops all state of a shard (and the given meta keys), committed at once: used when a
  // partition must be rebuilt from the beginning of its topic.
  Status DropShard(uint32_t shard, const std::vector<std::string>& meta_keys);
  // SHA-256 over a canonical dump of all projection state, the open findings (canonical
  // fields only) and the shard watermarks. REQUIRES: no batch in flight.
  std::string Digest();

  const EngineStats& stats() const { return stats_; }
  const DedupeWindow& dedupe_window() const { return *dedupe_; }
  std::map<uint32_t, TimeMs> watermarks() const { return watermarks_; }
  RocksStore* store() { return store_.get(); }
  const ProjectionConfig& config() const { return opts_.projections; }
  uint64_t outbox_next_seq() const { return outbox_seq_; }

  // Visits every entry of a projection table (all shards, physical keys, key order), with
  // the write-back cache merged over the store. REQUIRES: no batch in flight.
  void ForEachEntry(Table t,
                    const std::function<void(std::string_view key, std::string_view value)>& fn);
  // Write-back mode: writes every cached pending write and commits (replay --state-dir).
  Status WriteBackAll();
  // Visits every stored finding (open and resolved) of every shard.
  void ForEachFinding(const std::function<void(const Finding&)>& fn);
  // Visits outbox entries in sequence order from `from_seq`, until fn returns false.
  void ForEachOutbox(uint64_t from_seq, const std::function<bool(const OutboxEntry&)>& fn);
  Status DeleteOutbox(const std::vector<uint64_t>& seqs);

 private:
  Status UpgradeFormat();
  explicit Engine(EngineOptions opts);
  void ApplyRecord(const SourceRecord& rec);
  void ApplyVendorFactRecord(const SourceRecord& rec);
  void Touch(uint32_t shard, TimeMs t);
  void Schedule(TimeMs deadline, TimerKind kind, std::string_view key);
  void Unschedule(TimeMs deadline, TimerKind kind, std::string_view key);
  ApplyContext Context(TimeMs watermark, TimeMs now);
  void FireTimers(uint32_t shard);
  Status Commit(const Positions& positions);
  void OnTransition(const Finding& f, bool opened);

  EngineOptions opts_;
  std::unique_ptr<RocksStore> store_;
  std::unique_ptr<BatchState> state_;
  std::unique_ptr<Projections> projections_;
  std::unique_ptr<FindingLedger> ledger_;
  EventDecoder decoder_;
  Event event_;
  std::map<uint32_t, TimeMs> watermarks_;
  std::unique_ptr<TimerIndex> timers_;
  std::string timer_key_;  // Schedule / Unschedule's key, reused
  std::unique_ptr<DedupeWindow> dedupe_;
  std::vector<uint32_t> touched_shards_;
  std::vector<OutboxEntry> pending_outbox_;
  uint64_t outbox_seq_ = 0;
  size_t last_commit_bytes_ = 0;  // size of the last commit's WriteBatch
  EngineStats stats_;
  uint32_t sample_counter_ = 0;
};

// Meta keys.
std::string WatermarkKey(uint32_t shard);

}  // namespace x402
