#include "replay/replay.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "connectors/file_source.h"
#include "connectors/kafka_source.h"

namespace x402 {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled), start_(MonotonicSeconds()) {}

void ProgressLine::Update(uint64_t events, uint64_t done, uint64_t total) {
  if (!enabled_) return;
  double now = MonotonicSeconds();
  if (now - last_ < 0.25) return;
  last_ = now;
  double elapsed = now - start_;
  double rate = elapsed > 0 ? events / elapsed : 0;
  double pct = total ? 100.0 * done / total : 0;
  double eta = (done > 0 && total > done) ? elapsed * (total - done) / done : 0;
  std::fprintf(stderr, "\r  %llu events  %.0f events/s  %.1f%%  ETA %.0fs   ",
               static_cast<unsigned long long>(events), rate, pct, eta);
  printed_ = true;
}

void ProgressLine::Finish() {
  if (enabled_ && printed_) std::fprintf(stderr, "\r%80s\r", "");
}

Result<ReplayResult> RunReplay(const ReplayOptions& o) {
  namespace fs = std::filesystem;
  std::string dir = o.state_dir;
  bool temporary = dir.empty();
  std::error_code ec;
  if (temporary) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/x402rec-replay-XXXXXX";
    if (!::mkdtemp(templ.data()))
      return Err("cannot create a temporary state directory in " + templ);
    dir = templ;
  } else if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return Err("--state-dir " + dir +
               ": not empty (replay builds a fresh store; remove it or pick another)");
  }
  struct Cleanup {
    std::string dir;
    bool on;
    ~Cleanup() {
      std::error_code e;
      if (on) std::filesystem::remove_all(dir, e);
    }
  } cleanup{dir, temporary};

  MemoryDeadLetterSink dls(1000);
  // From Kafka, vendor facts are looped back onto the vendor shards a live group would use
  // (engine/vendor_facts.h), so the digests agree; files are one shard, applied in place.
  const bool kafka = !o.brokers.empty();
  LoopbackVendorFactSink facts;
  int32_t fact_partitions = 0;
  EngineOptions eo;
  eo.store.path = dir;
  eo.store.disable_wal = true;
  eo.store.write_buffer_bytes = 64 << 20;
  eo.projections = o.projections;
  eo.cache_entries = o.cache_entries;
  eo.cache_bytes = o.cache_bytes;
  eo.as_of = o.as_of;
  eo.dead_letters = &dls;
  eo.async_commit = true;  // a throw-away store: nothing outside waits on a commit
  // The state stays in the cache and reaches the store only when evicted; a kept store
  // (--state-dir) gets all of it at the end.
  eo.write_back = true;
  if (kafka) eo.vendor_facts = &facts;
  auto engine = Engine::Open(eo);
  if (!engine) return Err(engine.error());
  std::unique_ptr<EventSource> src;
  if (!o.brokers.empty()) {
    KafkaSourceOptions ko;
    ko.props = o.kafka_props;
    ko.props["bootstrap.servers"] = o.brokers;
    ko.topics = o.topics;
    ko.scan = true;
    ko.until_offset = o.until_offset;
    ko.max_wait_ms = 200;
    auto k = KafkaSource::Open(ko);
    if (!k) return Err(k.error());
    auto n = (*k)->PartitionCount(o.topics.front());
    if (!n) return Err(n.error());
    fact_partitions = *n;
    src = std::move(*k);
  } else {
    auto f = FileSource::Open(o.inputs, [](const std::string&) { return std::nullopt; });
    if (!f) return Err(f.error());
    src = std::move(*f);
  }
  auto* source = &src;

  const double t0 = MonotonicSeconds();
  ProgressLine progress(o.progress);
  std::vector<SourceRecord> batch;
  std::string fact_arena;
  uint64_t records = 0;
  while ((*source)->NextBatch(o.batch_size, &batch)) {
    records += batch.size();
    Status st = (*engine)->ProcessBatch(batch, {});
    if (!st.ok()) return Err(st.error());
    if (std::vector<VendorFact> fs = facts.Take(); !fs.empty()) {
      fact_arena.clear();
      std::vector<std::pair<size_t, size_t>> spans;
      for (const VendorFact& f : fs) {
        std::string json = EncodeVendorFact(f);
        spans.emplace_back(fact_arena.size(), json.size());
        fact_arena += json;
        fact_arena.append(EventDecoder::kPadding, ' ');
      }
      batch.clear();
      for (size_t i = 0; i < fs.size(); ++i) {
        SourceRecord r;
        r.shard =
            KafkaSource::Shard(o.topics.size(), VendorPartition(fs[i].vendor, fact_partitions));
        r.bytes = std::string_view(fact_arena).substr(spans[i].first, spans[i].second);
        r.length = spans[i].second;
        r.origin = kVendorFactsTopic;
        r.is_file = false;
        r.vendor_fact = true;
        batch.push_back(r);
      }
      st = (*engine)->ProcessBatch(batch, {});
      if (!st.ok()) return Err(st.error());
    }
    progress.Update(records, (*source)->bytes_done(), (*source)->bytes_total());
  }
  progress.Finish();
  if (!(*source)->error().empty()) return Err((*source)->error());
  // With --as-of every shard's clock advances to it; without, each shard stays at its own
  // latest event time (what a live engine on event time has) and the report is as of the
  // latest of them.
  auto wms = (*engine)->watermarks();
  TimeMs as_of{0};
  for (const auto& [shard, wm] : wms) as_of = std::max(as_of, wm);
  if (o.as_of) {
    as_of = *o.as_of;
    if (wms.empty()) wms[0] = as_of;
    for (const auto& [shard, wm] : wms) {
      Status st = (*engine)->AdvanceClock(shard, as_of);
      if (!st.ok()) return Err(st.error());
    }
  }
  if (!temporary) {
    if (Status st = (*engine)->WriteBackAll(); !st.ok()) return Err(st.error());
  }
  if (Status st = (*engine)->Sync(); !st.ok()) return Err(st.error());
  ReplayResult res;
  res.seconds = MonotonicSeconds() - t0;
  res.report = BuildReport(**engine, as_of, &dls);
  // A replay commits no input positions: what it read is the source's own.
  if (res.report.read.empty()) res.report.read = DescribePositions((*source)->CurrentPositions());
  res.watermarks = (*engine)->watermarks();
  return res;
}

}  // namespace x402
