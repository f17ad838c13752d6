// Replay: rebuilds all projections from the log into a fresh store (a temporary directory
// unless a state dir is given), advances the clock to --as-of, and builds the report. The
// same engine code as `x402rec run`, so a replay of the log a live engine consumed gives the
// same state digest (DESIGN.md principle 1).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "projections/config.h"
#include "replay/report.h"
#include "schemas/result.h"

namespace x402 {

struct ReplayOptions {
  std::vector<std::string> inputs;
  // Kafka instead of files: every partition of `topics` from its beginning to its end now
  // (or until_offset). Each partition is its own shard, as in a live `run --brokers`.
  std::string brokers;
  std::vector<std::string> topics = {"x402.events"};
  std::optional<int64_t> until_offset;
  std::map<std::string, std::string> kafka_props;
  std::optional<TimeMs> as_of;
  std::string state_dir;  // empty: temporary, removed afterwards
  ProjectionConfig projections;
  size_t batch_size = 16384;
  size_t cache_entries = 50000;
  size_t cache_bytes = size_t(256) << 20;
  bool progress = false;  // a progress line on stderr (callers pass isatty(2))
};

struct ReplayResult {
  Report report;
  double seconds = 0;
  std::map<uint32_t, TimeMs> watermarks;  // each shard's clock at the end (part of the digest)
};

Result<ReplayResult> RunReplay(const ReplayOptions& opts);

// Prints "events, events/s, percent of bytes, ETA" on one refreshed stderr line.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  void Update(uint64_t events, uint64_t bytes_done, uint64_t bytes_total);
  void Finish();

 private:
  bool enabled_;
  double start_, last_ = 0;
  bool printed_ = false;
};

double MonotonicSeconds();

}  // namespace x402
