// Report: what the engine's state says, as of its watermark: event counts, per-agent limits
// and spend per UTC day and month, every finding (open and resolved), the state digest.
// Rendered as JSON (for machines, schema in replay/README.md) and Markdown (for people:
// amounts in USDC, one sentence per open finding). Built from a stopped or replayed Engine.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "connectors/deadletter_sink.h"
#include "engine/engine.h"

namespace x402 {

struct AgentSpend {
  Amount committed, reserved;
};

struct AgentReport {
  Limits limits;  // in force at as_of
  std::map<std::string, AgentSpend> days, months;
};

// Ledger versus chain, over every settled payment.
struct ReconSummary {
  uint64_t payments_settled = 0, matched = 0, pending = 0, discrepant = 0;
  Amount amount_settled, amount_matched, amount_pending, amount_discrepant;
};

struct Report {
  TimeMs as_of;
  std::string state_digest;
  EngineStats stats;
  std::vector<DeadLetter> dead_letters;  // the first ones, for the reader
  std::map<std::string, AgentReport> agents;
  ReconSummary recon;
  std::vector<Finding> findings;  // open first, then resolved; each by kind, then key

  std::string ToJson() const;
  std::string ToMarkdown() const;
};

// Builds the report from the engine's committed state. `dead_letters` may be null.
Report BuildReport(Engine& engine, TimeMs as_of, const MemoryDeadLetterSink* dead_letters);

}  // namespace x402
