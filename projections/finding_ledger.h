// FindingLedger: the FindingSink over a StateView. Keeps one Finding record per (kind, key)
// in Table::kFindings, enforces "never opened twice while open", counts re-openings for
// alert ids (EVENTS.md section 4) and reports every transition to `on_transition` (the
// engine writes it to the alert outbox in the same batch). resolved_at is never before
// opened_at. Thread-compatible.
#pragma once

#include <functional>
#include <string>

#include "projections/state.h"

namespace x402 {

class FindingLedger final : public FindingSink {
 public:
  using TransitionFn = std::function<void(const Finding& f, bool opened)>;
  FindingLedger(StateView* state, TransitionFn on_transition)
      : state_(state), on_transition_(std::move(on_transition)) {}

  void OpenFinding(Open spec) override;
  void ResolveFinding(FindingKind kind, std::string_view key, TimeMs at) override;

  // Key of a finding in Table::kFindings.
  static std::string StoreKey(FindingKind kind, std::string_view key);

  uint64_t opened() const { return opened_; }
  uint64_t resolved() const { return resolved_; }

 private:
  StateView* state_;
  TransitionFn on_transition_;
  std::string_view view_;  // StateView::View's answer, decoded at once
  uint64_t opened_ = 0, resolved_ = 0;
};

}  // namespace x402
