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

// One input to a vendor's failure streak, derived from a payment once its authorization
// (which names the vendor) is known. Applying a fact is idempotent and commutative (failures
// are a set keyed by event ref, the settlement cut is a maximum), so a re-keyed stream of
// facts may be delivered at least once and in any order.
struct VendorFact {
  bool settled = false;  // true: a settlement at `time`; false: the failure `ref`
  std::string vendor;
  TimeMs time;   // settled: the payment's latest settlement time
  EventRef ref;  // failed: the payment.failed event
  std::string agent, reason;
  // The fact's event time (the vendor shard's clock follows it).
  TimeMs EventTime() const { return settled ? time : ref.time; }
};

class Projections {
 public:
  explicit Projections(const ProjectionConfig* cfg) : cfg_(cfg) {}

  // REQUIRES: e is a decoded (valid) event not seen before (the engine dedupes).
  void Apply(const Event& e, ApplyContext& ctx);
  void OnTimer(TimerKind kind, std::string_view key, TimeMs deadline, ApplyContext& ctx);
  // Applies a vendor fact to the vendor state of the context's shard (ctx.emit_vendor_fact
  // is ignored here).
  void ApplyVendorFact(const VendorFact& f, ApplyContext& ctx);

  // Limits in effect for `agent` at time t: config defaults, environment overrides, then
  // every x402.budget.limits_set with time <= t in event order.
  Limits EffectiveLimits(const std::string& agent, const AgentRecord* rec, TimeMs t) const;

  static std::string BucketKey(std::string_view agent, char period, std::string_view bucket);
  // State format 1 -> 2 (the engine runs it once per shard when it opens an older store):
  // tx_hash_index kept one key per network a bare hash was seen on (`tx_hash|n|network`);
  // it now keeps one list per hash (`tx_hash|n`). Idempotent. Returns the keys rewritten.
  static size_t MigrateTxHashIndex(StateView* state);

 private:
  void ApplyLimits(const Event& e, ApplyContext& ctx);
  void ApplyPaymentEvent(const Event& e, ApplyContext& ctx);
  void ApplyTransfer(const Event& e, ApplyContext& ctx);
  void ApplyAuthorizationLog(const Event& e, ApplyContext& ctx);
  void ApplyWalletRegistered(const Event& e, ApplyContext& ctx);
  void ApplyBalance(const Event& e, ApplyContext& ctx);

  // Re-derives everything hanging off one authorization key: the budget contribution and
  // per-transaction verdict of each of its payments, expiry and stale timers, and the
  // authorization.* and recon.paid_but_failed findings.
  void EvaluateAuth(const std::string& auth_key, ApplyContext& ctx);
  // Re-derives everything hanging off one transaction: which settled payment claims it and
  // which of its Transfer logs matches, and the recon.* findings on its logs, its claims and
  // its primary payment (missing on chain).
  void EvaluateTx(const std::string& tx_key, ApplyContext& ctx);
  void EvaluateVendor(const std::string& vendor, VendorRecord& v, ApplyContext& ctx);

  void SetContribution(PaymentRecord& p, Contribution kind, Amount amount, ApplyContext& ctx);
  void EvaluatePerTransaction(const std::string& payment_id, PaymentRecord& p, ApplyContext& ctx);
  void EvaluateBucket(const std::string& agent, char period, const std::string& bucket_key,
                      BucketRecord& b, ApplyContext& ctx);

  void VendorSettled(const std::string& vendor, TimeMs t, ApplyContext& ctx);
  void VendorFailed(const std::string& vendor, const FailureRef& f, const std::string& agent,
                    ApplyContext& ctx);

  // Tx claim bookkeeping: adds/removes a payment's settlement claim or failure reference.
  void UpdateTxRefs(const std::string& tx_key, const std::string& payment_id, const TxClaim* claim,
                    bool claim_add, bool failed_ref_add, ApplyContext& ctx);

  bool LoadAgent(const std::string& agent, ApplyContext& ctx, AgentRecord* out);
  bool LoadPayment(const std::string& id, ApplyContext& ctx, PaymentRecord* out);
  bool LoadTx(const std::string& key, ApplyContext& ctx, TxRecord* out);
  bool LoadAuth(const std::string& key, ApplyContext& ctx, AuthRecord* out);

  // Opens or resolves `kind` on `key` so that its open bit in *mask equals `want`.
  void Reconcile(uint32_t* mask, FindingKind kind, bool want, FindingSink::Open spec,
                 TimeMs resolve_at, ApplyContext& ctx);

  const ProjectionConfig* cfg_;
  std::string_view view_;  // StateView::View's answer, decoded at once
};

}  // namespace x402
