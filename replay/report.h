// Report: what the engine's state says, as of its watermark: event counts, per-agent limits
// and spend per UTC day and month, every finding (open and resolved), the state digest, where
// the events came from and the configuration that decides findings. Rendered as JSON (for
// machines, schema in replay/README.md), Markdown, and one self-contained HTML page with
// inline SVG charts (for people: replay/report_html.cc). Money is exact everywhere: atomic
// strings in JSON, ToUsdcString (6 decimals) for people. Built from a stopped or replayed
// Engine.
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
  Amount limit;  // the period's limit in force at the bucket's end (or at as_of, if earlier)
  Amount spent() const { return SaturatingAdd(committed, reserved); }
};

struct AgentReport {
  Limits limits;  // in force at as_of
  std::map<std::string, AgentSpend> days, months;
};

// Ledger versus chain, over every settled payment; `unrecorded` counts the transfers out of
// registered wallets that no payment claims (open recon.unrecorded_transfer findings).
struct ReconSummary {
  uint64_t payments_settled = 0, matched = 0, pending = 0, discrepant = 0, unrecorded = 0;
  Amount amount_settled, amount_matched, amount_pending, amount_discrepant, amount_unrecorded;
};

// One input position stored with the state: what was read.
struct ReadPosition {
  std::string origin;  // "file events.jsonl", "kafka x402.events partition 3"
  std::string detail;  // "20,000 lines (4,567,890 bytes)", "offsets 0..12,344 (next 12,345)"
};

struct Report {
  TimeMs as_of;
  std::string state_digest;
  EngineStats stats;
  std::vector<DeadLetter> dead_letters;  // the first ones, for the reader
  std::map<std::string, AgentReport> agents;
  ReconSummary recon;
  std::map<std::string, ReconSummary> recon_by_network;  // CAIP-2 network -> summary
  std::vector<Finding> findings;  // open first, then resolved; each by kind, then key
  std::vector<ReadPosition> read;
  ProjectionConfig config;  // thresholds, confirmations, horizon... that decided the findings

  std::string ToJson() const;
  std::string ToMarkdown() const;
  // One self-contained page (inline CSS and SVG, no script, nothing fetched), bounded for any
  // state: at most kHtmlRowsPerKind open findings per kind are listed, with their count.
  std::string ToHtml() const;
};
inline constexpr size_t kHtmlRowsPerKind = 50;

// What input positions (EventSource::CurrentPositions, or the ones committed with a state)
// say was read, for the report's provenance.
std::vector<ReadPosition> DescribePositions(const Positions& positions);

// Builds the report from the engine's committed state. `dead_letters` may be null.
Report BuildReport(Engine& engine, TimeMs as_of, const MemoryDeadLetterSink* dead_letters);

}  // namespace x402
