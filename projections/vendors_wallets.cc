// Vendor failure streaks and wallet balances (EVENTS.md section 3).
#include <algorithm>

#include "projections/internal.h"
#include "projections/projections.h"

namespace x402 {

using internal::Net;
using internal::ShortHex;
using internal::Usdc;

namespace {
constexpr size_t kMaxStreakKept = 1024;
}

// The streak is the number of failures with a time after the vendor's latest settlement, so
// a settlement only ever moves the cut forward and failures at or before it are dropped:
// any arrival order leaves the same record.
void Projections::ApplyVendorFact(const VendorFact& f, ApplyContext& ctx) {
  ApplyContext local = ctx;
  local.emit_vendor_fact = nullptr;
  if (f.settled) {
    VendorSettled(f.vendor, f.time, local);
  } else {
    VendorFailed(f.vendor, FailureRef{f.ref, f.reason}, f.agent, local);
  }
}

void Projections::VendorSettled(const std::string& vendor, TimeMs t, ApplyContext& ctx) {
  if (ctx.emit_vendor_fact) {
    VendorFact fact;
    fact.settled = true;
    fact.vendor = vendor;
    fact.time = t;
    ctx.emit_vendor_fact(fact);
    return;
  }
  VendorRecord v;
  if (ctx.state->View(Table::kVendors, vendor, &view_)) VendorRecord::Decode(view_, &v);
  if (v.has_settle && t <= v.latest_settle) return;
  v.has_settle = true;
  v.latest_settle = t;
  v.failures.erase(std::remove_if(v.failures.begin(), v.failures.end(),
                                  [&](const VendorFailure& f) { return f.ref.time <= t; }),
                   v.failures.end());
  EvaluateVendor(vendor, v, ctx);
  ctx.state->Put(Table::kVendors, vendor, v.Encode());
}

void Projections::VendorFailed(const std::string& vendor, const FailureRef& f,
                               const std::string& agent, ApplyContext& ctx) {
  if (ctx.emit_vendor_fact) {
    VendorFact fact;
    fact.vendor = vendor;
    fact.ref = f.ref;
    fact.agent = agent;
    fact.reason = f.reason;
    ctx.emit_vendor_fact(fact);
    return;
  }
  VendorRecord v;
  if (ctx.state->View(Table::kVendors, vendor, &view_)) VendorRecord::Decode(view_, &v);
  if (v.has_settle && f.ref.time <= v.latest_settle) return;
  VendorFailure vf{f.ref, agent, f.reason};
  auto pos = std::lower_bound(
      v.failures.begin(), v.failures.end(), vf,
      [](const VendorFailure& a, const VendorFailure& b) { return a.ref < b.ref; });
  if (pos != v.failures.end() && pos->ref == vf.ref) return;
  v.failures.insert(pos, std::move(vf));
  if (v.failures.size() > kMaxStreakKept) v.failures.erase(v.failures.begin());
  EvaluateVendor(vendor, v, ctx);
  ctx.state->Put(Table::kVendors, vendor, v.Encode());
}

void Projections::EvaluateVendor(const std::string& vendor, VendorRecord& v, ApplyContext& ctx) {
  const size_t streak = v.failures.size();
  const bool want = streak >= cfg_->vendor_streak_warning;
  const Severity sev =
      streak >= cfg_->vendor_streak_critical ? Severity::kCritical : Severity::kWarning;
  if (!want && !(v.open_mask & 1)) return;

  if (want) {
    const VendorFailure& last = v.failures.back();
    FindingSink::Open o{FindingKind::kVendorFailureStreak,
                        sev,
                        last.agent,
                        vendor,
                        v.failures[cfg_->vendor_streak_warning - 1].ref.time,
                        {},
                        {}};
    o.evidence = {{"vendor", vendor},
                  {"streak", std::to_string(streak)},
                  {"last_failure_at", FormatRfc3339(last.ref.time)},
                  {"last_reason", last.reason}};
    if (v.has_settle) o.evidence.emplace_back("last_settlement_at", FormatRfc3339(v.latest_settle));
    o.message = "vendor " + vendor + " failed " + std::to_string(streak) + " payments in a row" +
                (v.has_settle ? " since its last settlement" : "") + " (latest: " + last.reason +
                ", for " + last.agent + ")";
    ctx.findings->OpenFinding(std::move(o));
    v.open_mask = 1;
    v.severity = static_cast<uint8_t>(sev);
    v.open_agent = last.agent;
  } else {
    ctx.findings->ResolveFinding(FindingKind::kVendorFailureStreak, vendor, ctx.now);
    v.open_mask = 0;
    v.severity = 0;
    v.open_agent.clear();
  }
}

// Balances form a semilattice: the higher block wins; at equal block, the lower balance.
void Projections::ApplyBalance(const Event& e, ApplyContext& ctx) {
  const std::string key = e.network + "|" + e.address + "|" + e.asset;
  BalanceRecord b;
  const bool exists =
      ctx.state->View(Table::kBalances, key, &view_) && BalanceRecord::Decode(view_, &b);
  const EventRef ref = EventRef::Of(e);
  if (exists) {
    bool wins = e.block_number != b.block_number ? e.block_number > b.block_number
                : e.amount != b.balance          ? e.amount < b.balance
                                                 : ref < b.ref;
    if (!wins) return;
  }
  b.block_number = e.block_number;
  b.balance = e.amount;
  b.ref = ref;
  b.agent = e.subject;
  const bool want = b.balance < cfg_->wallet_low_warning;
  const Severity sev =
      b.balance < cfg_->wallet_low_critical ? Severity::kCritical : Severity::kWarning;
  if (want && (!(b.open_mask & 1) || b.severity != static_cast<uint8_t>(sev))) {
    const Amount threshold =
        sev == Severity::kCritical ? cfg_->wallet_low_critical : cfg_->wallet_low_warning;
    FindingSink::Open o{FindingKind::kWalletBalanceLow, sev, b.agent, key, ctx.now, {}, {}};
    o.evidence = {{"network", e.network},
                  {"address", e.address},
                  {"asset", e.asset},
                  {"balance", ToAtomicString(b.balance)},
                  {"threshold", ToAtomicString(threshold)},
                  {"block_number", std::to_string(b.block_number)}};
    o.message = b.agent + "'s wallet " + ShortHex(e.address) + " on " + Net(e.network) + " holds " +
                Usdc(b.balance) + ", below the " + Usdc(threshold) + " threshold";
    ctx.findings->OpenFinding(std::move(o));
    b.open_mask = 1;
    b.severity = static_cast<uint8_t>(sev);
  } else if (!want && (b.open_mask & 1)) {
    ctx.findings->ResolveFinding(FindingKind::kWalletBalanceLow, key, ctx.now);
    b.open_mask = 0;
    b.severity = 0;
  }
  ctx.state->Put(Table::kBalances, key, b.Encode());
}

}  // namespace x402
