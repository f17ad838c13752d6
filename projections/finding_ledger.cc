#include "projections/finding_ledger.h"

namespace x402 {

std::string FindingLedger::StoreKey(FindingKind kind, std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k.push_back(static_cast<char>(kind));
  k.append(key);
  return k;
}

void FindingLedger::OpenFinding(Open spec) {
  const std::string sk = StoreKey(spec.kind, spec.key);
  Finding f;
  bool exists = state_->View(Table::kFindings, sk, &view_) && Finding::Decode(view_, &f);
  if (exists && f.open) {
    if (f.severity != spec.severity || f.agent_id != spec.agent || f.opened_at != spec.at) {
      // Escalation / de-escalation of an open finding, or a new agent attribution (vendor
      // streaks name the agent of the latest failure): updated in place, no new alert.
      f.severity = spec.severity;
      f.agent_id = std::string(spec.agent);
      f.opened_at = spec.at;  // facts that arrived late moved the moment the condition began
      f.evidence = std::move(spec.evidence);
      f.message = std::move(spec.message);
      state_->Put(Table::kFindings, sk, f.Encode());
    }
    return;
  }
  if (exists) {
    f.reopen_count += 1;
  } else {
    f.finding_id = FindingId(spec.kind, spec.key);
    f.kind = spec.kind;
    f.key = std::string(spec.key);
    f.reopen_count = 0;
  }
  f.severity = spec.severity;
  f.agent_id = std::string(spec.agent);
  f.open = true;
  f.opened_at = spec.at;
  f.resolved_at.reset();
  f.evidence = std::move(spec.evidence);
  f.message = std::move(spec.message);
  state_->Put(Table::kFindings, sk, f.Encode());
  ++opened_;
  if (on_transition_) on_transition_(f, true);
}

void FindingLedger::ResolveFinding(FindingKind kind, std::string_view key, TimeMs at) {
  const std::string sk = StoreKey(kind, key);
  Finding f;
  if (!state_->View(Table::kFindings, sk, &view_) || !Finding::Decode(view_, &f) || !f.open) return;
  f.open = false;
  f.resolved_at = at < f.opened_at ? f.opened_at : at;
  state_->Put(Table::kFindings, sk, f.Encode());
  ++resolved_;
  if (on_transition_) on_transition_(f, false);
}

}  // namespace x402
