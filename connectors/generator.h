// Generator: a realistic, seed-deterministic stream of x402 events for demos, tests and
// benchmarks: wallet registrations, budget limits, authorizations, settlements, failures,
// cancellations, the matching on-chain Transfer and AuthorizationUsed logs, and balance
// observations, in (nearly) time order as producers would emit them. The same options give
// byte-identical output. A clean stream (no anomalies) produces no findings.
// Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "schemas/result.h"
#include "schemas/time.h"

namespace x402 {

struct GeneratorOptions {
  uint32_t agents = 10;
  uint64_t events = 1000;  // exactly this many lines are produced
  uint64_t seed = 1;
  TimeMs start = TimeMs{1763337600000};  // 2025-11-17T00:00:00Z
  uint32_t vendors = 20;
  double payments_per_second = 20;  // across all agents (event time, not wall time)
};

struct GeneratorStats {
  uint64_t events = 0, payments = 0, settled = 0, failed = 0, cancelled = 0;
  TimeMs first, last;
};

// Calls `emit(subject, json_line)` for each event (the line has no trailing newline).
GeneratorStats Generate(const GeneratorOptions& opts,
                        const std::function<void(std::string_view subject, std::string_view line)>& emit);

// Writes the stream to `path` as JSONL.
Result<GeneratorStats> GenerateToFile(const GeneratorOptions& opts, const std::string& path);

}  // namespace x402
