// Projections: the domain logic. Applies one decoded event (or one due timer) to the state
// it can see through ApplyContext and reports finding transitions. Deterministic: reads no
// clock, no environment, no randomness; everything comes from the event, the stored facts,
// the watermark and the configuration.
//
// Order independence by construction: records store facts (merged so that any arrival order
// gives the same record: the earliest settlement wins, chain observations form a
// semilattice, ...), and every finding is re-derived as a pure function of those facts and
// the watermark whenever either changes (timers re-evaluate at deadlines). The set of open
// findings therefore depends only on the set of events and the watermark.
//
// Thread-compatible: one instance per pipeline thread.
#pragma once

#include <string>
#include <string_view>

#include "projections/config.h"
#include "projections/records.h"
#include "projections/state.h"
#include "schemas/event.h"

namespace x402 {

class Projections {
 public:
  explicit Projections(const ProjectionConfig* cfg) : cfg_(cfg) {}

  // REQUIRES: e is a decoded (valid) event not seen before (the engine dedupes).
  void Apply(const Event& e, ApplyContext& ctx);
  void OnTimer(TimerKind kind, std::string_view key, TimeMs deadline, ApplyContext& ctx);

  // Limits in effect for `agent` at time t: config defaults, environment overrides, then
  // every x402.budget.limits_set with time <= t in event order.
  Limits EffectiveLimits(const std::string& agent, const AgentRecord* rec, TimeMs t) const;

  static std::string BucketKey(std::string_view agent, char period, std::string_view bucket);

 private:
  void ApplyLimits(const Event& e, ApplyContext& ctx);
  void ApplyPaymentEvent(const Event& e, ApplyContext& ctx);

  // Re-derives everything that hangs off a payment: its budget contribution (and so its
  // buckets' findings), the per-transaction finding and its expiry timer.
  void EvaluatePayment(const std::string& payment_id, PaymentRecord& p, ApplyContext& ctx);
  void SetContribution(PaymentRecord& p, Contribution kind, Amount amount, ApplyContext& ctx);
  void EvaluatePerTransaction(const std::string& payment_id, PaymentRecord& p, ApplyContext& ctx);
  void EvaluateBucket(const std::string& agent, char period, const std::string& bucket_key,
                      BucketRecord& b, ApplyContext& ctx);

  bool LoadAgent(const std::string& agent, ApplyContext& ctx, AgentRecord* out);

  const ProjectionConfig* cfg_;
  std::string buf_;
};

}  // namespace x402
