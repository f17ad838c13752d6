// Payments, authorizations and ledger-versus-chain matching (EVENTS.md section 3).
//
// Facts are merged into records (payments, authorization keys, transactions) so that any
// arrival order gives the same records; then the affected entities are re-evaluated, each
// exactly once per event, in a fixed order: transaction bookkeeping, authorization keys
// (budget contributions, authorization.*, paid_but_failed), then transactions (matching and
// recon.*). No evaluation calls another, so there is no recursion and no ordering surprise.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "projections/codec.h"
#include "projections/internal.h"
#include "projections/projections.h"

namespace x402 {

using internal::Bit;
using internal::Duration;
using internal::Net;
using internal::ShortHex;
using internal::TimerPlan;
using internal::Usdc;

namespace {

std::string TxKey(std::string_view network, std::string_view tx) {
  std::string k;
  k.reserve(network.size() + tx.size() + 1);
  k.append(network);
  k.push_back('|');
  k.append(tx);
  return k;
}

std::string EncodeStrings(const std::vector<std::string>& v) {
  std::string out;
  Writer w(&out);
  w.Var(v.size());
  for (const auto& x : v) w.Str(x);
  return out;
}

// Empty if `bytes` is damaged.
std::vector<std::string> DecodeStrings(std::string_view bytes) {
  Reader r(bytes);
  std::vector<std::string> v;
  uint64_t n = r.Var();
  for (uint64_t i = 0; i < n && r.ok(); ++i) v.push_back(r.Str());
  if (!r.ok()) v.clear();
  return v;
}

// tx_hash_index: `tx_hash "|n"` lists the networks a bare hash was seen on (a settlement
// names only the hash), sorted: u8(1) then the list as EncodeStrings writes it. One point
// lookup per settlement instead of a range scan.
constexpr char kNetworksVersion = 1;

std::string NetworksKey(std::string_view tx_hash) {
  std::string k;
  k.reserve(tx_hash.size() + 2);
  k.append(tx_hash);
  k.append("|n");
  return k;
}

std::string EncodeNetworks(const std::vector<std::string>& networks) {
  return kNetworksVersion + EncodeStrings(networks);
}

std::vector<std::string> DecodeNetworks(std::string_view v) {
  if (v.empty() || v[0] != kNetworksVersion) return {};
  return DecodeStrings(v.substr(1));
}

template <typename T>
bool InsertSorted(std::vector<T>& v, const T& x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it != v.end() && *it == x) return false;
  v.insert(it, x);
  return true;
}

template <typename T>
bool EraseSorted(std::vector<T>& v, const T& x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it == v.end() || !(*it == x)) return false;
  v.erase(it);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Ledger events.

void Projections::ApplyPaymentEvent(const Event& e, ApplyContext& ctx) {
  const std::string& id = e.payment_id;
  PaymentRecord p;
  const bool exists = LoadPayment(id, ctx, &p);
  if (!exists) p.agent = e.subject;
  const EventRef ref = EventRef::Of(e);
  // What the record said before, so index entries can be moved.
  const bool had_auth = p.has_auth;
  const std::string old_auth_key = had_auth ? p.AuthKey() : std::string();
  const std::string old_claim_tx =
      had_auth && p.settled ? TxKey(p.network, p.tx_hash) : std::string();
  const TimeMs old_claim_time = p.settle_ref.time;
  const std::string old_fail_tx = had_auth && p.failed && !p.fail_tx_hash.empty()
                                      ? TxKey(p.network, p.fail_tx_hash)
                                      : std::string();
  bool auth_changed = false, settle_changed = false;
  std::vector<std::string> bare_hashes;  // settlement claims by bare hash that changed

  switch (e.type) {
    case EventType::kPaymentAuthorized: {
      AgentRecord a;
      LoadAgent(e.subject, ctx, &a);
      if (!a.has_auth || a.max_auth_time < e.time) {  // over every authorization: order-free
        a.has_auth = true;
        a.max_auth_time = e.time;
        ctx.state->Put(Table::kAgents, e.subject, a.Encode());
      }
      if (p.has_auth && !(ref < p.auth_ref)) break;  // the earliest authorization is the one
      if (p.has_auth) SetContribution(p, Contribution::kNone, Amount{}, ctx);  // re-bucket
      auth_changed = true;
      p.has_auth = true;
      p.auth_ref = ref;
      p.agent = e.subject;
      p.vendor = e.vendor;
      p.resource = e.resource;
      p.network = e.network;
      p.asset = e.asset;
      p.payer = e.payer;
      p.pay_to = e.pay_to;
      p.nonce = e.nonce;
      p.amount = e.amount;
      p.valid_after = e.valid_after;
      p.valid_before = e.valid_before;
      std::string ik = e.subject + "|";
      PutBigEndian64(&ik, SortableTime(e.time));
      ik.append(id);
      ctx.state->Put(Table::kAgentPayments, ik, {});
      break;
    }
    case EventType::kPaymentSettled:
      if (!p.settled || p.max_settle_time < e.time) {
        p.max_settle_time = e.time;
        settle_changed = true;  // the vendor's latest settlement may move
      }
      if (p.settled && !(ref < p.settle_ref)) break;  // the earliest settlement wins
      settle_changed = true;
      if (p.settled && p.tx_hash != e.tx_hash) {
        ctx.state->Delete(Table::kTxHashIndex, p.tx_hash + "|c|" + id);
        bare_hashes.push_back(p.tx_hash);
      }
      ctx.state->Put(Table::kTxHashIndex, e.tx_hash + "|c|" + id, {});
      bare_hashes.push_back(e.tx_hash);
      p.settled = true;
      p.settle_ref = ref;
      p.tx_hash = e.tx_hash;
      p.has_settled_amount = e.has_amount;
      p.settled_amount = e.amount;
      break;
    case EventType::kPaymentFailed: {
      FailureRef f{ref, e.reason};
      p.AddFailure(f);
      if (p.has_auth) VendorFailed(p.vendor, f, p.agent, ctx);
      if (p.failed && !(ref < p.fail_ref)) break;
      p.failed = true;
      p.fail_ref = ref;
      p.fail_reason = e.reason;
      p.fail_tx_hash = e.has_tx_hash ? e.tx_hash : std::string();
      break;
    }
    case EventType::kPaymentCancelled:
      if (p.cancelled && !(ref < p.cancel_ref)) break;
      p.cancelled = true;
      p.cancel_ref = ref;
      break;
    default:
      return;
  }
  ctx.state->Put(Table::kPayments, id, p.Encode());

  // Vendor facts need the vendor, which only the authorization carries.
  if (p.has_auth && auth_changed) {
    for (const auto& f : p.failure_refs) VendorFailed(p.vendor, f, p.agent, ctx);
  }
  if (p.has_auth && p.settled && (auth_changed || settle_changed))
    VendorSettled(p.vendor, p.max_settle_time, ctx);

  // A settlement claims the transfers of its transaction even before its authorization (and
  // so its network) is known: re-examine that hash on every network it was seen on.
  std::vector<std::string> txs_to_evaluate;
  for (const auto& h : bare_hashes) {
    std::string v;
    if (!ctx.state->Get(Table::kTxHashIndex, NetworksKey(h), &v)) continue;
    for (const auto& network : DecodeNetworks(v)) txs_to_evaluate.push_back(TxKey(network, h));
  }
  if (!p.has_auth) {  // nothing else can be evaluated before the authorization arrives
    for (const auto& tx : txs_to_evaluate) EvaluateTx(tx, ctx);
    return;
  }
  const std::string auth_key = p.AuthKey();
  const std::string claim_tx = p.settled ? TxKey(p.network, p.tx_hash) : std::string();
  const std::string fail_tx =
      p.failed && !p.fail_tx_hash.empty() ? TxKey(p.network, p.fail_tx_hash) : std::string();

  // 1. Transaction bookkeeping: settlement claims and failure references.
  if (!old_claim_tx.empty() && (old_claim_tx != claim_tx || old_claim_time != p.settle_ref.time)) {
    TxClaim old{old_claim_time, id};
    UpdateTxRefs(old_claim_tx, id, &old, false, false, ctx);
    txs_to_evaluate.push_back(old_claim_tx);
  }
  if (!claim_tx.empty()) {
    TxClaim c{p.settle_ref.time, id};
    UpdateTxRefs(claim_tx, id, &c, true, false, ctx);
    txs_to_evaluate.push_back(claim_tx);
  }
  if (!old_fail_tx.empty() && old_fail_tx != fail_tx)
    UpdateTxRefs(old_fail_tx, id, nullptr, false, false, ctx);
  if (!fail_tx.empty()) UpdateTxRefs(fail_tx, id, nullptr, false, true, ctx);

  // 2. Authorization keys.
  if (!old_auth_key.empty() && old_auth_key != auth_key) {
    AuthRecord old;
    if (LoadAuth(old_auth_key, ctx, &old) && EraseSorted(old.payment_ids, id)) {
      ctx.state->Put(Table::kAuths, old_auth_key, old.Encode());
    }
    EvaluateAuth(old_auth_key, ctx);
  }
  AuthRecord a;
  LoadAuth(auth_key, ctx, &a);
  if (InsertSorted(a.payment_ids, id)) ctx.state->Put(Table::kAuths, auth_key, a.Encode());
  EvaluateAuth(auth_key, ctx);
  // A newly known authorization claims the transfers of the transaction that used it.
  if (auth_changed && a.used.present && !a.used_tx.empty())
    txs_to_evaluate.push_back(TxKey(p.network, a.used_tx));

  // 3. Transactions.
  std::sort(txs_to_evaluate.begin(), txs_to_evaluate.end());
  txs_to_evaluate.erase(std::unique(txs_to_evaluate.begin(), txs_to_evaluate.end()),
                        txs_to_evaluate.end());
  for (const auto& tx : txs_to_evaluate) EvaluateTx(tx, ctx);
}

void Projections::UpdateTxRefs(const std::string& tx_key, const std::string& payment_id,
                               const TxClaim* claim, bool claim_add, bool failed_ref_add,
                               ApplyContext& ctx) {
  TxRecord t;
  LoadTx(tx_key, ctx, &t);
  bool changed;
  if (claim) {
    changed = claim_add ? InsertSorted(t.claims, *claim) : EraseSorted(t.claims, *claim);
  } else {
    changed = failed_ref_add ? InsertSorted(t.failed_refs, payment_id)
                             : EraseSorted(t.failed_refs, payment_id);
  }
  if (changed) ctx.state->Put(Table::kTxs, tx_key, t.Encode());
}

// ---------------------------------------------------------------------------------------
// Chain events.

void Projections::ApplyTransfer(const Event& e, ApplyContext& ctx) {
  const std::string tx_key = TxKey(e.network, e.tx_hash);
  TxRecord t;
  LoadTx(tx_key, ctx, &t);
  const EventRef ref = EventRef::Of(e);
  TransferLog* log = t.FindLog(e.log_index);
  if (log == nullptr) {
    TransferLog l;
    l.log_index = e.log_index;
    auto pos = std::lower_bound(
        t.logs.begin(), t.logs.end(), l,
        [](const TransferLog& a, const TransferLog& b) { return a.log_index < b.log_index; });
    log = &*t.logs.insert(pos, std::move(l));
  }
  const bool fresh = !log->obs.present;
  ChainBlock observed;
  observed.number = e.block_number;
  observed.hash = e.block_hash;
  observed.removed = e.removed;
  observed.confirmations = e.confirmations;
  observed.ref = ref;
  observed.block_time = e.block_time;
  if (!log->obs.Merge(observed)) return;  // a repeat, or covered by what is known: nothing changes
  bool new_from = false;
  // The log's content is one transaction's: the same in every block it lands in. It is taken
  // from the observation that now decides the state (the first one, for a new log).
  if (fresh || log->obs.ref == ref) {
    new_from = log->from != e.from;
    log->subject = e.subject;
    log->asset = e.asset;
    log->from = e.from;
    log->to = e.to;
    log->amount = e.amount;
  }
  log->block_time = log->obs.block_time;
  ctx.state->Put(Table::kTxs, tx_key, t.Encode());
  {
    const std::string nk = NetworksKey(e.tx_hash);
    std::vector<std::string> networks;
    if (ctx.state->View(Table::kTxHashIndex, nk, &view_)) networks = DecodeNetworks(view_);
    if (InsertSorted(networks, e.network)) {
      ctx.state->Put(Table::kTxHashIndex, nk, EncodeNetworks(networks));
    }
  }
  if (new_from) {
    // Index transfers by sender so a later wallet registration finds them.
    std::string ik = e.network + "|" + e.from + "|" + e.tx_hash;
    ctx.state->Put(Table::kWalletOut, ik, {});
  }
  EvaluateTx(tx_key, ctx);
  // A failed payment naming this transaction may now turn out to have been paid.
  std::vector<std::string> auth_keys;
  for (const auto& pid : t.failed_refs) {
    PaymentRecord p;
    if (LoadPayment(pid, ctx, &p) && p.has_auth) auth_keys.push_back(p.AuthKey());
  }
  std::sort(auth_keys.begin(), auth_keys.end());
  auth_keys.erase(std::unique(auth_keys.begin(), auth_keys.end()), auth_keys.end());
  for (const auto& k : auth_keys) EvaluateAuth(k, ctx);
}

void Projections::ApplyAuthorizationLog(const Event& e, ApplyContext& ctx) {
  const bool used = e.type == EventType::kChainAuthorizationUsed;
  const std::string auth_key = e.network + "|" + e.asset + "|" + e.authorizer + "|" + e.nonce;
  AuthRecord a;
  LoadAuth(auth_key, ctx, &a);
  ChainBlock observed;
  observed.number = e.block_number;
  observed.hash = e.block_hash;
  observed.removed = e.removed;
  observed.ref = EventRef::Of(e);
  observed.tx = e.tx_hash;
  ChainObs& cur = used ? a.used : a.canceled;
  if (!cur.Merge(observed)) return;
  std::string& cur_tx = used ? a.used_tx : a.canceled_tx;
  const std::string old_tx = cur_tx;
  cur_tx = cur.tx;  // the transaction of the observation that decides the state
  ctx.state->Put(Table::kAuths, auth_key, a.Encode());
  if (used) {
    // The transaction carrying the AuthorizationUsed claims its transfers (once the
    // authorization is known); move the marker if a reorg moved the log to another tx.
    if (!old_tx.empty() && old_tx != cur_tx) {
      TxRecord t;
      if (LoadTx(TxKey(e.network, old_tx), ctx, &t) && EraseSorted(t.auth_used, auth_key)) {
        ctx.state->Put(Table::kTxs, TxKey(e.network, old_tx), t.Encode());
      }
    }
    TxRecord t;
    LoadTx(TxKey(e.network, cur_tx), ctx, &t);
    if (InsertSorted(t.auth_used, auth_key))
      ctx.state->Put(Table::kTxs, TxKey(e.network, cur_tx), t.Encode());
  }
  EvaluateAuth(auth_key, ctx);
  if (used) {
    if (!old_tx.empty() && old_tx != cur_tx) EvaluateTx(TxKey(e.network, old_tx), ctx);
    EvaluateTx(TxKey(e.network, cur_tx), ctx);
  }
}

void Projections::ApplyWalletRegistered(const Event& e, ApplyContext& ctx) {
  const std::string wk = e.network + "|" + e.address;
  std::vector<std::string> owners;
  if (ctx.state->View(Table::kWallets, wk, &view_)) owners = DecodeStrings(view_);
  if (!InsertSorted(owners, e.subject)) return;
  ctx.state->Put(Table::kWallets, wk, EncodeStrings(owners));
  // Transfers out of this address seen before the registration are re-examined.
  const std::string prefix = e.network + "|" + e.address + "|";
  std::vector<std::string> txs;
  ctx.state->Scan(Table::kWalletOut, prefix, [&](std::string_view k, std::string_view) {
    txs.push_back(TxKey(e.network, k.substr(prefix.size())));
    return true;
  });
  for (const auto& tx : txs) EvaluateTx(tx, ctx);
}

// ---------------------------------------------------------------------------------------
// Authorization keys.

size_t Projections::MigrateTxHashIndex(StateView* state) {
  std::map<std::string, std::vector<std::string>> legacy;  // hash -> networks
  std::vector<std::string> old_keys;
  state->Scan(Table::kTxHashIndex, "", [&](std::string_view k, std::string_view) {
    // Hashes hold no '|': the first one ends the hash; a payment id (|c| keys) may hold any.
    const size_t bar = k.find('|');
    if (bar != std::string_view::npos && k.substr(bar, 3) == "|n|") {
      legacy[std::string(k.substr(0, bar))].emplace_back(k.substr(bar + 3));
      old_keys.emplace_back(k);
    }
    return true;
  });
  for (auto& [hash, networks] : legacy) {
    std::string v;
    if (state->Get(Table::kTxHashIndex, NetworksKey(hash), &v)) {
      for (auto& n : DecodeNetworks(v)) networks.push_back(std::move(n));
    }
    std::sort(networks.begin(), networks.end());
    networks.erase(std::unique(networks.begin(), networks.end()), networks.end());
    state->Put(Table::kTxHashIndex, NetworksKey(hash), EncodeNetworks(networks));
  }
  for (const auto& k : old_keys) state->Delete(Table::kTxHashIndex, k);
  return old_keys.size();
}

void Projections::EvaluateAuth(const std::string& auth_key, ApplyContext& ctx) {
  AuthRecord a;
  if (!LoadAuth(auth_key, ctx, &a)) return;
  struct Pay {
    std::string id;
    PaymentRecord rec;
  };
  std::vector<Pay> pays;
  for (const auto& id : a.payment_ids) {
    Pay p{id, {}};
    if (LoadPayment(id, ctx, &p.rec) && p.rec.has_auth && p.rec.HasAuthKey(auth_key))
      pays.push_back(std::move(p));
  }
  if (pays.empty()) return;  // chain logs for an authorization we have not seen (yet)
  // The primary payment is the first authorization of this key.
  std::sort(pays.begin(), pays.end(), [](const Pay& x, const Pay& y) {
    if (!(x.rec.auth_ref == y.rec.auth_ref)) return x.rec.auth_ref < y.rec.auth_ref;
    return x.id < y.id;
  });
  const PaymentRecord& primary = pays[0].rec;
  const TimeMs w = ctx.watermark;
  const TimeMs valid_before{primary.valid_before * 1000};
  const TimeMs stale_at = primary.auth_ref.time.plus_seconds(cfg_->stale_after_s);
  const bool chain_used = a.used.present && !a.used.removed;
  const bool chain_canceled = a.canceled.present && !a.canceled.removed;

  bool any_settled = false, any_failed = false, any_cancelled = false;
  TimeMs settle_time{INT64_MAX}, early_stop{INT64_MAX};  // earliest settlement / non-settling end
  for (const auto& p : pays) {
    if (p.rec.settled) {
      any_settled = true;
      settle_time = std::min(settle_time, p.rec.settle_ref.time);
    }
    if (p.rec.failed) {
      any_failed = true;
      early_stop = std::min(early_stop, p.rec.fail_ref.time);
    }
    if (p.rec.cancelled) {
      any_cancelled = true;
      early_stop = std::min(early_stop, p.rec.cancel_ref.time);
    }
  }
  if (chain_used) settle_time = std::min(settle_time, a.used.ref.time);
  if (chain_canceled) early_stop = std::min(early_stop, a.canceled.ref.time);
  const bool settled_evidence = any_settled || chain_used;
  const bool terminal = settled_evidence || any_failed || any_cancelled || chain_canceled;

  // Was the transfer made in a transaction a failed payment names?
  bool failed_tx_paid = false;
  TimeMs failed_tx_paid_at{INT64_MAX};
  for (const auto& p : pays) {
    if (!p.rec.failed || p.rec.fail_tx_hash.empty()) continue;
    TxRecord t;
    if (!LoadTx(TxKey(p.rec.network, p.rec.fail_tx_hash), ctx, &t)) continue;
    for (const auto& l : t.logs) {
      if (!l.obs.removed && l.from == p.rec.payer) {
        failed_tx_paid = true;
        failed_tx_paid_at = std::min(failed_tx_paid_at, l.obs.ref.time);
      }
    }
  }

  // Budget: each payment's contribution, and its per-transaction verdict.
  TimerPlan timers;
  for (size_t i = 0; i < pays.size(); ++i) {
    PaymentRecord& p = pays[i].rec;
    Contribution want = Contribution::kNone;
    Amount amount{};
    if (p.settled) {
      want = Contribution::kCommitted;
      amount = p.SettledAmount();
    } else if (i == 0 && chain_used && !any_settled) {
      // The chain shows the authorization used although the ledger has no settlement: the
      // money left the wallet, so it counts as spent.
      want = Contribution::kCommitted;
      amount = p.amount;
    } else if (!p.failed && !p.cancelled && !chain_canceled && w < TimeMs{p.valid_before * 1000}) {
      want = Contribution::kReserved;
      amount = p.amount;
    }
    const uint32_t before = p.open_mask;
    const Contribution before_c = p.contribution;
    const Amount before_a = p.contribution_amount;
    SetContribution(p, want, amount, ctx);
    EvaluatePerTransaction(pays[i].id, p, ctx);
    timers.Want(TimeMs{p.valid_before * 1000}, TimerKind::kPaymentDeadline,
                want == Contribution::kReserved);
    if (p.open_mask != before || p.contribution != before_c || p.contribution_amount != before_a) {
      ctx.state->Put(Table::kPayments, pays[i].id, p.Encode());
    }
  }
  timers.Want(stale_at, TimerKind::kAuthStale, !terminal && w < stale_at);
  timers.Apply(ctx, auth_key);

  const std::string& agent = primary.agent;
  const std::string pid = pays[0].id;
  // Built only for a finding's message: most evaluations open none.
  auto what = [&] {
    return Usdc(primary.amount) + " to " + primary.vendor + " on " + Net(primary.network);
  };
  const uint32_t before = a.open_mask;
  auto spec = [&](Severity sev, TimeMs at) {
    return FindingSink::Open{FindingKind::kAuthorizationStale, sev, agent, auth_key, at, {}, {}};
  };
  auto base_evidence = [&]() {
    return Evidence{{"payment_id", pid},
                    {"vendor", primary.vendor},
                    {"amount", ToAtomicString(primary.amount)},
                    {"payer", primary.payer},
                    {"nonce", primary.nonce},
                    {"authorized_at", FormatRfc3339(primary.auth_ref.time)},
                    {"valid_before", FormatRfc3339(valid_before)}};
  };
  {  // authorization.stale
    const bool want = !terminal && w >= stale_at && w < valid_before;
    auto o = spec(Severity::kWarning, stale_at);
    if (want) {
      o.evidence = base_evidence();
      o.message = agent + "'s authorization for payment " + pid + " (" + what() +
                  ") has been pending for " + Duration(cfg_->stale_after_s) +
                  " without settling, failing or being cancelled";
    }
    Reconcile(&a.open_mask, FindingKind::kAuthorizationStale, want, std::move(o),
              w >= valid_before ? valid_before : ctx.now, ctx);
  }
  {  // authorization.expired
    const bool want = w >= valid_before && !settled_evidence && early_stop >= valid_before;
    auto o = spec(Severity::kInfo, valid_before);
    if (want) {
      o.evidence = base_evidence();
      o.message = agent + "'s authorization for payment " + pid + " (" + what() +
                  ") expired unsettled; its reservation of " + Usdc(primary.amount) +
                  " was released";
    }
    Reconcile(&a.open_mask, FindingKind::kAuthorizationExpired, want, std::move(o), ctx.now, ctx);
  }
  {  // authorization.settled_after_expiry
    const bool want = settled_evidence && settle_time >= valid_before;
    auto o = spec(Severity::kCritical, settled_evidence ? settle_time : ctx.now);
    if (want) {
      o.evidence = base_evidence();
      o.evidence.emplace_back("settled_at", FormatRfc3339(settle_time));
      o.message = "payment " + pid + " (" + what() + ") by " + agent + " was settled at " +
                  FormatRfc3339(settle_time) + ", after its authorization expired at " +
                  FormatRfc3339(valid_before);
    }
    Reconcile(&a.open_mask, FindingKind::kAuthorizationSettledAfterExpiry, want, std::move(o),
              ctx.now, ctx);
  }
  {  // authorization.nonce_reuse
    const bool want = pays.size() >= 2;
    auto o = spec(Severity::kCritical, want ? pays[1].rec.auth_ref.time : ctx.now);
    if (want) {
      std::string ids;
      for (size_t i = 0; i < pays.size(); ++i) ids += (i ? ", " : "") + pays[i].id;
      o.evidence = base_evidence();
      o.evidence.emplace_back("payment_ids", ids);
      o.message = "authorization nonce " + ShortHex(primary.nonce) + " of " + agent + " on " +
                  Net(primary.network) + " was used by " + std::to_string(pays.size()) +
                  " payments (" + ids + "): a replayed authorization";
    }
    Reconcile(&a.open_mask, FindingKind::kAuthorizationNonceReuse, want, std::move(o), ctx.now,
              ctx);
  }
  {  // recon.paid_but_failed: opens when both sides are known, at the later of the two
    const bool want =
        !any_settled && (any_failed || any_cancelled) && (chain_used || failed_tx_paid);
    TimeMs chain_at = chain_used ? a.used.ref.time : failed_tx_paid_at;
    if (chain_used && failed_tx_paid) chain_at = std::min(chain_at, failed_tx_paid_at);
    auto o = spec(Severity::kCritical, std::max(early_stop, chain_at));
    if (want) {
      const PaymentRecord* f = &primary;
      for (const auto& p : pays)
        if (p.rec.failed || p.rec.cancelled) {
          f = &p.rec;
          break;
        }
      o.evidence = base_evidence();
      o.evidence.emplace_back("ledger_status", f->failed ? "failed" : "cancelled");
      if (f->failed) o.evidence.emplace_back("ledger_reason", f->fail_reason);
      o.evidence.emplace_back("chain_evidence", chain_used ? "authorization_used" : "transfer");
      if (chain_used) o.evidence.emplace_back("tx_hash", a.used_tx);
      o.message = "the ledger says " + agent + "'s payment " + pid + " (" + what() + ") " +
                  (f->failed ? "failed" : "was cancelled") +
                  ", but the chain shows the authorization was used: the wallet was debited";
    }
    Reconcile(&a.open_mask, FindingKind::kReconPaidButFailed, want, std::move(o), ctx.now, ctx);
  }
  if (a.open_mask != before) ctx.state->Put(Table::kAuths, auth_key, a.Encode());
}

// ---------------------------------------------------------------------------------------
// Transactions.

void Projections::EvaluateTx(const std::string& tx_key, ApplyContext& ctx) {
  TxRecord t;
  if (!LoadTx(tx_key, ctx, &t)) return;
  const size_t bar = tx_key.rfind('|');
  const std::string network = tx_key.substr(0, bar), tx = tx_key.substr(bar + 1);
  const TimeMs w = ctx.watermark;
  const uint32_t tx_before = t.open_mask;
  std::vector<uint32_t> log_before;
  for (const auto& l : t.logs) log_before.push_back(l.open_mask);

  // Claimants, earliest first: the first is matched, the others are duplicate claims.
  std::vector<std::pair<TxClaim, PaymentRecord>> claimants;
  for (const auto& c : t.claims) {
    PaymentRecord p;
    if (LoadPayment(c.payment_id, ctx, &p) && p.has_auth && p.settled && p.tx_hash == tx &&
        p.network == network) {
      claimants.emplace_back(c, std::move(p));
    }
  }
  {  // recon.duplicate_claim
    const bool want = claimants.size() >= 2;
    FindingSink::Open o{FindingKind::kReconDuplicateClaim,
                        Severity::kCritical,
                        want ? claimants[0].second.agent : std::string_view(),
                        tx_key,
                        want ? claimants[1].first.time : ctx.now,
                        {},
                        {}};
    std::string agent_holder;
    if (want) {
      agent_holder = claimants[0].second.agent;
      o.agent = agent_holder;
      std::string ids;
      for (size_t i = 0; i < claimants.size(); ++i)
        ids += (i ? ", " : "") + claimants[i].first.payment_id;
      o.evidence = {{"tx_hash", tx},
                    {"payment_ids", ids},
                    {"matched_payment_id", claimants[0].first.payment_id}};
      o.message = "payments " + ids + " all claim the same transaction " + ShortHex(tx) + " on " +
                  Net(network) + "; only " + claimants[0].first.payment_id +
                  " can have been paid by it";
    }
    Reconcile(&t.open_mask, FindingKind::kReconDuplicateClaim, want, std::move(o), ctx.now, ctx);
  }

  // Matching for the primary claimant: a log from its payer, preferring the one whose
  // amount, recipient and token all match, then the most matching attributes, then the
  // lowest log index.
  int matched = -1;
  const PaymentRecord* p0 = claimants.empty() ? nullptr : &claimants[0].second;
  if (p0) {
    int best_score = -1;
    const Amount expected = p0->SettledAmount();
    for (size_t i = 0; i < t.logs.size(); ++i) {
      const auto& l = t.logs[i];
      if (l.from != p0->payer) continue;
      int score = (l.amount == expected) + (l.to == p0->pay_to) + (l.asset == p0->asset);
      if (score > best_score) {
        best_score = score;
        matched = static_cast<int>(i);
      }
    }
  }
  TimerPlan timers;
  // Payment-level: recon.missing_on_chain for the primary, never for duplicate claimants.
  for (size_t i = 0; i < claimants.size(); ++i) {
    PaymentRecord& p = claimants[i].second;
    const std::string& pid = claimants[i].first.payment_id;
    const TimeMs due = p.settle_ref.time.plus_seconds(cfg_->chain_grace_s);
    const bool want = i == 0 && matched < 0 && w >= due;
    timers.Want(due, TimerKind::kChainGrace, i == 0 && matched < 0 && w < due);
    const uint32_t before = p.open_mask;
    FindingSink::Open o{
        FindingKind::kReconMissingOnChain, Severity::kCritical, p.agent, pid, due, {}, {}};
    if (want) {
      o.evidence = {{"payment_id", pid},
                    {"tx_hash", tx},
                    {"amount", ToAtomicString(p.SettledAmount())},
                    {"vendor", p.vendor},
                    {"settled_at", FormatRfc3339(p.settle_ref.time)}};
      o.message = p.agent + "'s payment " + pid + " of " + Usdc(p.SettledAmount()) + " to " +
                  p.vendor + " is settled in the ledger (tx " + ShortHex(tx) +
                  "), but no matching transfer appeared on " + Net(network) + " within " +
                  Duration(cfg_->chain_grace_s);
    }
    Reconcile(&p.open_mask, FindingKind::kReconMissingOnChain, want, std::move(o), ctx.now, ctx);
    // The verdict for the summary; a matched log's own findings are folded in below.
    const uint8_t before_match = p.match;
    p.match = i > 0 || want ? kDiscrepant : (matched < 0 ? kMatchPending : kMatched);
    if (p.open_mask != before || p.match != before_match)
      ctx.state->Put(Table::kPayments, pid, p.Encode());
  }

  // Is the transaction claimed (by a settlement, or by the AuthorizationUsed of a known
  // authorization)?
  bool claimed = !t.claims.empty();
  if (!claimed) {
    ctx.state->Scan(Table::kTxHashIndex, tx + "|c|", [&](std::string_view, std::string_view) {
      claimed = true;
      return false;
    });
  }
  for (size_t i = 0; !claimed && i < t.auth_used.size(); ++i) {
    AuthRecord a;
    claimed = LoadAuth(t.auth_used[i], ctx, &a) && !a.payment_ids.empty() && a.used_tx == tx;
  }

  for (size_t i = 0; i < t.logs.size(); ++i) {
    TransferLog& l = t.logs[i];
    const std::string lkey = tx_key + "|" + std::to_string(l.log_index);
    const bool is_match = static_cast<int>(i) == matched;
    const bool live = is_match && !l.obs.removed;
    const std::string agent = is_match ? p0->agent : l.subject;
    auto open = [&](FindingKind k, Severity sev, TimeMs at) {
      return FindingSink::Open{k, sev, agent, lkey, at, {}, {}};
    };
    auto ev = [&]() {
      Evidence e = {{"tx_hash", tx},
                    {"log_index", std::to_string(l.log_index)},
                    {"block_number", std::to_string(l.obs.block_number)},
                    {"from", l.from},
                    {"to", l.to},
                    {"asset", l.asset},
                    {"observed_amount", ToAtomicString(l.amount)}};
      if (is_match) {
        e.emplace_back("payment_id", claimants[0].first.payment_id);
        e.emplace_back("expected_amount", ToAtomicString(p0->SettledAmount()));
        e.emplace_back("expected_to", p0->pay_to);
        e.emplace_back("expected_asset", p0->asset);
      }
      return e;
    };
    const TimeMs match_at = is_match ? std::max(p0->settle_ref.time, l.obs.ref.time) : ctx.now;
    {  // recon.amount_mismatch
      bool want = false;
      if (live) {
        const Amount expected = p0->SettledAmount();
        const Amount diff =
            l.amount > expected ? Amount{l.amount.v - expected.v} : Amount{expected.v - l.amount.v};
        want = MulDiv(diff, 10000, 1) > MulDiv(expected, cfg_->amount_tolerance_bps, 1) &&
               !diff.is_zero();
      }
      auto o = open(FindingKind::kReconAmountMismatch, Severity::kCritical, match_at);
      if (want) {
        o.evidence = ev();
        o.message = agent + " paid " + p0->vendor + " " + Usdc(l.amount) + " on " + Net(network) +
                    " but the ledger says " + Usdc(p0->SettledAmount()) + " (payment " +
                    claimants[0].first.payment_id + ", tx " + ShortHex(tx) + ")";
      }
      Reconcile(&l.open_mask, FindingKind::kReconAmountMismatch, want, std::move(o), ctx.now, ctx);
    }
    {  // recon.recipient_mismatch
      const bool want = live && l.to != p0->pay_to;
      auto o = open(FindingKind::kReconRecipientMismatch, Severity::kCritical, match_at);
      if (want) {
        o.evidence = ev();
        o.message = agent + "'s payment " + claimants[0].first.payment_id + " to " + p0->vendor +
                    " (" + Usdc(l.amount) + " on " + Net(network) + ") went to " + ShortHex(l.to) +
                    " instead of the authorized " + ShortHex(p0->pay_to);
      }
      Reconcile(&l.open_mask, FindingKind::kReconRecipientMismatch, want, std::move(o), ctx.now,
                ctx);
    }
    {  // recon.asset_mismatch
      const bool want = live && l.asset != p0->asset;
      auto o = open(FindingKind::kReconAssetMismatch, Severity::kCritical, match_at);
      if (want) {
        o.evidence = ev();
        o.message = agent + "'s payment " + claimants[0].first.payment_id + " to " + p0->vendor +
                    " on " + Net(network) + " was paid in token " + ShortHex(l.asset) +
                    " instead of the authorized " + ShortHex(p0->asset);
      }
      Reconcile(&l.open_mask, FindingKind::kReconAssetMismatch, want, std::move(o), ctx.now, ctx);
    }
    {  // recon.reorged
      const bool want = is_match && l.obs.removed;
      auto o = open(FindingKind::kReconReorged, Severity::kCritical,
                    is_match ? l.obs.ref.time : ctx.now);
      if (want) {
        o.evidence = ev();
        o.message = "the transfer paying " + agent + "'s payment " + claimants[0].first.payment_id +
                    " (" + Usdc(l.amount) + " to " + p0->vendor + " on " + Net(network) +
                    ", block " + std::to_string(l.obs.block_number) +
                    ") was removed by a chain reorganization";
      }
      Reconcile(&l.open_mask, FindingKind::kReconReorged, want, std::move(o), ctx.now, ctx);
    }
    {  // recon.unconfirmed
      bool want = false;
      TimeMs due{0};
      const uint64_t required = cfg_->ConfirmationsRequired(network);
      if (live && l.obs.confirmations < required) {
        due = p0->settle_ref.time.plus_seconds(cfg_->confirmation_timeout_s);
        want = w >= due;
        timers.Want(due, TimerKind::kConfirmTimeout, !want);
      } else if (is_match) {
        timers.Want(p0->settle_ref.time.plus_seconds(cfg_->confirmation_timeout_s),
                    TimerKind::kConfirmTimeout, false);
      }
      auto o = open(FindingKind::kReconUnconfirmed, Severity::kWarning, due);
      if (want) {
        o.evidence = ev();
        o.evidence.emplace_back("confirmations", std::to_string(l.obs.confirmations));
        o.evidence.emplace_back("confirmations_required", std::to_string(required));
        o.message = "the transfer for " + agent + "'s payment " + claimants[0].first.payment_id +
                    " (" + Usdc(l.amount) + " on " + Net(network) + ") has " +
                    std::to_string(l.obs.confirmations) + " of " + std::to_string(required) +
                    " required confirmations " + Duration(cfg_->confirmation_timeout_s) +
                    " after settlement";
      }
      Reconcile(&l.open_mask, FindingKind::kReconUnconfirmed, want, std::move(o), ctx.now, ctx);
    }
    {  // recon.unrecorded_transfer
      bool want = false;
      std::string owner;
      const TimeMs due = l.block_time.plus_seconds(cfg_->chain_grace_s);
      if (!claimed && !l.obs.removed) {
        timers.Want(due, TimerKind::kTransferGrace, w < due);
        if (w >= due && ctx.state->View(Table::kWallets, network + "|" + l.from, &view_)) {
          want = true;
          // The wallet's owner, whoever reported the log.
          if (auto owners = DecodeStrings(view_); !owners.empty())
            owner = std::move(owners.front());
        }
      } else {
        timers.Want(due, TimerKind::kTransferGrace, false);
      }
      auto o = open(FindingKind::kReconUnrecordedTransfer, Severity::kCritical, due);
      if (want) {
        o.agent = owner;
        o.evidence = ev();
        o.evidence.emplace_back("block_time", FormatRfc3339(l.block_time));
        o.message = Usdc(l.amount) + " left " + owner + "'s wallet " + ShortHex(l.from) + " on " +
                    Net(network) + " to " + ShortHex(l.to) + " (tx " + ShortHex(tx) +
                    ") with no payment in the ledger claiming it: possible key compromise";
      }
      Reconcile(&l.open_mask, FindingKind::kReconUnrecordedTransfer, want, std::move(o), ctx.now,
                ctx);
    }
  }
  timers.Apply(ctx, tx_key);
  if (matched >= 0 && t.logs[matched].open_mask != 0 && claimants[0].second.match != kDiscrepant) {
    PaymentRecord& p = claimants[0].second;
    p.match = kDiscrepant;
    ctx.state->Put(Table::kPayments, claimants[0].first.payment_id, p.Encode());
  }
  bool changed = t.open_mask != tx_before;
  for (size_t i = 0; i < t.logs.size(); ++i)
    changed = changed || t.logs[i].open_mask != log_before[i];
  if (changed) ctx.state->Put(Table::kTxs, tx_key, t.Encode());
}

}  // namespace x402
