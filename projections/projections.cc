#include "projections/projections.h"

#include <algorithm>

#include "projections/codec.h"
#include "projections/internal.h"

namespace x402 {
using internal::Bit;

namespace {

constexpr uint32_t kExhaustedBit = 1u << 31;

// spend >= limit * pct / 100, exactly (a zero limit is reached by any spend).
bool Reached(Amount spend, Amount limit, uint32_t pct) {
  if (limit.is_zero()) return !spend.is_zero();
  return MulDiv(spend, 100, pct) >= limit;
}

Amount Total(const BucketRecord& b) { return SaturatingAdd(b.reserved, b.committed); }

std::string PeriodName(char period) { return period == 'D' ? "daily" : "monthly"; }

uint32_t PercentOf(Amount spend, Amount limit) {
  if (limit.is_zero()) return spend.is_zero() ? 0 : 100;
  Amount p = MulDiv(spend, 100, 1);
  Amount q{p.v / limit.v};
  return q.v > 100000 ? 100000 : static_cast<uint32_t>(q.v);
}

void ApplyLimitUpdate(const LimitUpdate& u, Amount def, Amount* cur) {
  if (u.kind == LimitUpdate::Kind::kSet) *cur = u.value;
  if (u.kind == LimitUpdate::Kind::kReset) *cur = def;
}

}  // namespace

std::string Projections::BucketKey(std::string_view agent, char period, std::string_view bucket) {
  std::string k;
  k.reserve(agent.size() + bucket.size() + 3);
  k.append(agent);
  k.push_back('|');
  k.push_back(period);
  k.push_back('|');
  k.append(bucket);
  return k;
}

Limits Projections::EffectiveLimits(const std::string& agent, const AgentRecord* rec,
                                    TimeMs t) const {
  const Limits defaults = cfg_->LimitsFor(agent);
  Limits l = defaults;
  if (rec == nullptr) return l;
  for (const auto& e : rec->limits) {  // sorted by event order
    if (e.ref.time > t) break;
    ApplyLimitUpdate(e.daily, defaults.daily, &l.daily);
    ApplyLimitUpdate(e.monthly, defaults.monthly, &l.monthly);
    ApplyLimitUpdate(e.per_transaction, defaults.per_transaction, &l.per_transaction);
  }
  return l;
}

bool Projections::LoadAgent(const std::string& agent, ApplyContext& ctx, AgentRecord* out) {
  if (!ctx.state->View(Table::kAgents, agent, &view_)) {
    *out = AgentRecord();
    return false;
  }
  return AgentRecord::Decode(view_, out);
}

void Projections::Apply(const Event& e, ApplyContext& ctx) {
  switch (e.type) {
    case EventType::kLimitsSet:
      ApplyLimits(e, ctx);
      break;
    case EventType::kPaymentAuthorized:
    case EventType::kPaymentSettled:
    case EventType::kPaymentFailed:
    case EventType::kPaymentCancelled:
      ApplyPaymentEvent(e, ctx);
      break;
    case EventType::kChainTransfer:
      ApplyTransfer(e, ctx);
      break;
    case EventType::kChainAuthorizationUsed:
    case EventType::kChainAuthorizationCanceled:
      ApplyAuthorizationLog(e, ctx);
      break;
    case EventType::kWalletRegistered:
      ApplyWalletRegistered(e, ctx);
      break;
    case EventType::kWalletBalance:
      ApplyBalance(e, ctx);
      break;
  }
}

void Projections::OnTimer(TimerKind kind, std::string_view key, TimeMs, ApplyContext& ctx) {
  switch (kind) {
    case TimerKind::kPaymentDeadline:
    case TimerKind::kAuthStale:
      EvaluateAuth(std::string(key), ctx);
      break;
    case TimerKind::kChainGrace:
    case TimerKind::kConfirmTimeout:
    case TimerKind::kTransferGrace:
      EvaluateTx(std::string(key), ctx);
      break;
    case TimerKind::kBucketEnd: {
      std::string bk(key);
      BucketRecord b;
      if (!ctx.state->View(Table::kBuckets, bk, &view_) || !BucketRecord::Decode(view_, &b)) return;
      size_t bar = bk.find('|');
      if (bar == std::string::npos || bar + 1 >= bk.size()) return;
      EvaluateBucket(bk.substr(0, bar), bk[bar + 1], bk, b, ctx);
      ctx.state->Put(Table::kBuckets, bk, b.Encode());
      break;
    }
  }
}

bool Projections::LoadPayment(const std::string& id, ApplyContext& ctx, PaymentRecord* out) {
  return ctx.state->View(Table::kPayments, id, &view_) && PaymentRecord::Decode(view_, out);
}
bool Projections::LoadTx(const std::string& key, ApplyContext& ctx, TxRecord* out) {
  return ctx.state->View(Table::kTxs, key, &view_) && TxRecord::Decode(view_, out);
}
bool Projections::LoadAuth(const std::string& key, ApplyContext& ctx, AuthRecord* out) {
  return ctx.state->View(Table::kAuths, key, &view_) && AuthRecord::Decode(view_, out);
}

void Projections::Reconcile(uint32_t* mask, FindingKind kind, bool want, FindingSink::Open spec,
                            TimeMs resolve_at, ApplyContext& ctx) {
  const uint32_t bit = Bit(kind);
  const bool open = *mask & bit;
  if (want && !open) {
    spec.kind = kind;
    ctx.findings->OpenFinding(std::move(spec));
    *mask |= bit;
  } else if (want && open) {
    // Already open: only a severity change is reported (the ledger ignores same-severity).
    spec.kind = kind;
    ctx.findings->OpenFinding(std::move(spec));
  } else if (!want && open) {
    ctx.findings->ResolveFinding(kind, spec.key, resolve_at);
    *mask &= ~bit;
  }
}

void Projections::ApplyLimits(const Event& e, ApplyContext& ctx) {
  AgentRecord a;
  LoadAgent(e.subject, ctx, &a);
  LimitsEntry entry{EventRef::Of(e), e.daily_limit, e.monthly_limit, e.per_transaction_max};
  auto pos =
      std::lower_bound(a.limits.begin(), a.limits.end(), entry,
                       [](const LimitsEntry& x, const LimitsEntry& y) { return x.ref < y.ref; });
  if (pos != a.limits.end() && pos->ref == entry.ref) return;
  a.limits.insert(pos, std::move(entry));
  ctx.state->Put(Table::kAgents, e.subject, a.Encode());

  // The limit in force now changed: re-evaluate the current day and month buckets.
  for (char period : {'D', 'M'}) {
    std::string bk = BucketKey(
        e.subject, period, period == 'D' ? DayBucket(ctx.watermark) : MonthBucket(ctx.watermark));
    BucketRecord b;
    if (ctx.state->View(Table::kBuckets, bk, &view_) && BucketRecord::Decode(view_, &b)) {
      EvaluateBucket(e.subject, period, bk, b, ctx);
      ctx.state->Put(Table::kBuckets, bk, b.Encode());
    }
  }
  // A limit change that arrives after authorizations it applies to (out of order) changes
  // their per-transaction verdicts: re-evaluate those, found through the agent's index.
  if (a.has_auth && e.time <= a.max_auth_time) {
    std::string prefix = e.subject + "|";
    std::string from = prefix;
    PutBigEndian64(&from, SortableTime(e.time));
    std::vector<std::string> ids;
    ctx.state->Scan(Table::kAgentPayments, prefix, [&](std::string_view k, std::string_view) {
      if (k >= std::string_view(from)) ids.emplace_back(k.substr(prefix.size() + 8));
      return true;
    });
    for (const auto& id : ids) {
      PaymentRecord p;
      if (!ctx.state->View(Table::kPayments, id, &view_) || !PaymentRecord::Decode(view_, &p))
        continue;
      EvaluatePerTransaction(id, p, ctx);
      ctx.state->Put(Table::kPayments, id, p.Encode());
    }
  }
}

void Projections::SetContribution(PaymentRecord& p, Contribution kind, Amount amount,
                                  ApplyContext& ctx) {
  if (p.contribution == kind && p.contribution_amount == amount) return;
  const TimeMs t = p.auth_ref.time;
  for (char period : {'D', 'M'}) {
    std::string bk = BucketKey(p.agent, period, period == 'D' ? DayBucket(t) : MonthBucket(t));
    BucketRecord b;
    if (!ctx.state->View(Table::kBuckets, bk, &view_) || !BucketRecord::Decode(view_, &b)) {
      b = BucketRecord();
      b.start = period == 'D' ? DayStart(t) : MonthStart(t);
      b.end = period == 'D' ? DayEnd(t) : MonthEnd(t);
    }
    auto sub = [](Amount* field, Amount v) {
      auto r = CheckedSub(*field, v);
      *field = r ? *r : Amount{};
    };
    if (p.contribution == Contribution::kReserved) sub(&b.reserved, p.contribution_amount);
    if (p.contribution == Contribution::kCommitted) sub(&b.committed, p.contribution_amount);
    if (kind == Contribution::kReserved) b.reserved = SaturatingAdd(b.reserved, amount);
    if (kind == Contribution::kCommitted) b.committed = SaturatingAdd(b.committed, amount);
    EvaluateBucket(p.agent, period, bk, b, ctx);
    ctx.state->Put(Table::kBuckets, bk, b.Encode());
  }
  p.contribution = kind;
  p.contribution_amount = amount;
}

void Projections::EvaluatePerTransaction(const std::string& id, PaymentRecord& p,
                                         ApplyContext& ctx) {
  const uint32_t bit = Bit(FindingKind::kBudgetPerTransactionExceeded);
  bool want = false;
  Amount max{};
  if (p.has_auth) {
    AgentRecord a;
    bool has = LoadAgent(p.agent, ctx, &a);
    max = EffectiveLimits(p.agent, has ? &a : nullptr, p.auth_ref.time).per_transaction;
    want = p.amount > max;
  }
  const bool open = p.open_mask & bit;
  const std::string key = p.agent + "|" + id;
  if (want && !open) {
    FindingSink::Open o{FindingKind::kBudgetPerTransactionExceeded,
                        Severity::kCritical,
                        p.agent,
                        key,
                        ctx.now,
                        {},
                        {}};
    o.evidence = {{"payment_id", id},
                  {"vendor", p.vendor},
                  {"amount", ToAtomicString(p.amount)},
                  {"per_transaction_max", ToAtomicString(max)}};
    o.message = p.agent + " authorized " + ToUsdcString(p.amount) + " USDC to " + p.vendor +
                " (payment " + id + "), above its per-transaction maximum of " + ToUsdcString(max) +
                " USDC";
    ctx.findings->OpenFinding(std::move(o));
    p.open_mask |= bit;
  } else if (!want && open) {
    ctx.findings->ResolveFinding(FindingKind::kBudgetPerTransactionExceeded, key, ctx.now);
    p.open_mask &= ~bit;
  }
}

void Projections::EvaluateBucket(const std::string& agent, char period, const std::string& bk,
                                 BucketRecord& b, ApplyContext& ctx) {
  uint32_t want = 0;
  Amount limit{};
  const Amount spend = Total(b);
  const bool ended = ctx.watermark >= b.end;
  if (!ended) {
    AgentRecord a;
    bool has = LoadAgent(agent, ctx, &a);
    Limits l = EffectiveLimits(agent, has ? &a : nullptr, ctx.watermark);
    limit = period == 'D' ? l.daily : l.monthly;
    for (size_t i = 0; i < cfg_->budget_thresholds_pct.size() && i < 31; ++i) {
      if (Reached(spend, limit, cfg_->budget_thresholds_pct[i])) want |= 1u << i;
    }
    if (Reached(spend, limit, 100)) want |= kExhaustedBit;
  }
  if (want == b.open_mask) return;
  const std::string bucket = bk.substr(agent.size() + 3);
  const std::string pname = PeriodName(period);
  const TimeMs resolve_at = ended ? b.end : ctx.now;
  auto evidence = [&](uint32_t pct) {
    Evidence ev = {{"period", pname},
                   {"bucket", bucket},
                   {"spend", ToAtomicString(spend)},
                   {"committed", ToAtomicString(b.committed)},
                   {"reserved", ToAtomicString(b.reserved)},
                   {"limit", ToAtomicString(limit)}};
    if (pct) ev.emplace_back("threshold_pct", std::to_string(pct));
    return ev;
  };
  const std::string amounts = ToUsdcString(spend) + " of " + ToUsdcString(limit) + " USDC";
  for (size_t i = 0; i < cfg_->budget_thresholds_pct.size() && i < 31; ++i) {
    const uint32_t bit = 1u << i, pct = cfg_->budget_thresholds_pct[i];
    const std::string key = agent + "|" + pname + "|" + bucket + "|" + std::to_string(pct);
    if ((want & bit) && !(b.open_mask & bit)) {
      FindingSink::Open o{
          FindingKind::kBudgetThreshold,
          pct >= cfg_->budget_critical_pct ? Severity::kCritical : Severity::kWarning,
          agent,
          key,
          ctx.now,
          evidence(pct),
          {}};
      o.message = agent + " has used " + std::to_string(PercentOf(spend, limit)) + "% of its " +
                  pname + " budget for " + bucket + " (" + amounts + "), past the " +
                  std::to_string(pct) + "% threshold";
      ctx.findings->OpenFinding(std::move(o));
    } else if (!(want & bit) && (b.open_mask & bit)) {
      ctx.findings->ResolveFinding(FindingKind::kBudgetThreshold, key, resolve_at);
    }
  }
  const std::string ekey = agent + "|" + pname + "|" + bucket;
  if ((want & kExhaustedBit) && !(b.open_mask & kExhaustedBit)) {
    FindingSink::Open o{
        FindingKind::kBudgetExhausted, Severity::kCritical, agent, ekey, ctx.now, evidence(0), {}};
    o.message =
        agent + " has exhausted its " + pname + " budget for " + bucket + " (" + amounts + ")";
    ctx.findings->OpenFinding(std::move(o));
  } else if (!(want & kExhaustedBit) && (b.open_mask & kExhaustedBit)) {
    ctx.findings->ResolveFinding(FindingKind::kBudgetExhausted, ekey, resolve_at);
  }
  if (want != 0 && b.open_mask == 0) ctx.schedule(b.end, TimerKind::kBucketEnd, bk);
  if (want == 0 && b.open_mask != 0) ctx.unschedule(b.end, TimerKind::kBucketEnd, bk);
  b.open_mask = want;
}

}  // namespace x402
