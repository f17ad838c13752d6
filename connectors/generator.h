// Generator: a realistic, seed-deterministic stream of x402 events for demos, tests and
// benchmarks: wallet registrations, budget limits, authorizations, settlements, failures,
// cancellations, the matching on-chain Transfer and AuthorizationUsed logs, and balance
// observations, in (nearly) time order as producers emit them. The same options give
// byte-identical output.
//
// With anomalies > 0 it injects every finding kind of EVENTS.md section 3 at that rate
// (a fraction of payments), and keeps its own model of what each injection must produce, so
// it can write the ground truth: the findings that must be open as of the stream's end.
// The model is independent of the engine's projections; the gen -> replay test compares them.
// Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "schemas/result.h"
#include "schemas/time.h"

namespace x402 {

struct GeneratorOptions {
  uint32_t agents = 10;
  uint64_t events = 1000;  // exactly this many valid events are produced
  uint64_t seed = 1;
  TimeMs start = TimeMs{1763337600000};  // 2025-11-17T00:00:00Z
  uint32_t vendors = 20;
  double payments_per_second = 0;  // across all agents, in event time; 0: 0.05 per agent
  double anomalies = 0;            // fraction of payments that carry an injected anomaly
  double bad_lines = 0;            // fraction of lines followed by a malformed line
};

struct TruthFinding {
  std::string kind, key, severity;
  bool operator<(const TruthFinding& o) const {
    return kind != o.kind ? kind < o.kind : key < o.key;
  }
};

struct GeneratorStats {
  uint64_t events = 0, bad_lines = 0, payments = 0, settled = 0, failed = 0, cancelled = 0,
           anomalies = 0;
  TimeMs first, last;
  std::vector<TruthFinding> truth;  // open findings as of `last`, sorted
  std::string TruthJson() const;
};

// Calls `emit(subject, line)` for each line (no trailing newline). Malformed lines have an
// empty subject.
GeneratorStats Generate(
    const GeneratorOptions& opts,
    const std::function<void(std::string_view subject, std::string_view line)>& emit);

// Writes the stream to `path` as JSONL, and the ground truth to `truth_path` if not empty.
Result<GeneratorStats> GenerateToFile(const GeneratorOptions& opts, const std::string& path,
                                      const std::string& truth_path = "");

}  // namespace x402
