#include "projections/records.h"

#include <algorithm>
#include <tuple>

#include "projections/codec.h"

namespace x402 {
namespace {

void PutRef(Writer& w, const EventRef& r) {
  w.Time(r.time);
  w.Str(r.source);
  w.Str(r.id);
}
EventRef GetRef(Reader& r) {
  EventRef e;
  e.time = r.Time();
  e.source = r.Str();
  e.id = r.Str();
  return e;
}
void PutLimit(Writer& w, const LimitUpdate& l) {
  w.U8(static_cast<uint8_t>(l.kind));
  if (l.kind == LimitUpdate::Kind::kSet) w.Amt(l.value);
}
LimitUpdate GetLimit(Reader& r) {
  LimitUpdate l;
  l.kind = LimitUpdate::Kind(r.U8());
  if (l.kind == LimitUpdate::Kind::kSet) l.value = r.Amt();
  return l;
}

}  // namespace

std::string AgentRecord::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  w.Var(limits.size());
  for (const auto& e : limits) {
    PutRef(w, e.ref);
    PutLimit(w, e.daily);
    PutLimit(w, e.monthly);
    PutLimit(w, e.per_transaction);
  }
  w.Bool(has_auth);
  w.Time(max_auth_time);
  return out;
}

bool AgentRecord::Decode(std::string_view bytes, AgentRecord* a) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  uint64_t n = r.Var();
  a->limits.clear();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    LimitsEntry e;
    e.ref = GetRef(r);
    e.daily = GetLimit(r);
    e.monthly = GetLimit(r);
    e.per_transaction = GetLimit(r);
    a->limits.push_back(std::move(e));
  }
  a->has_auth = r.Bool();
  a->max_auth_time = r.Time();
  return r.ok();
}

uint64_t FailureFingerprint(const EventRef& ref) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator: ("ab","c") != ("a","bc")
    h *= 1099511628211ull;
  };
  const std::string t = std::to_string(ref.time.ms);
  mix(t);
  mix(ref.source);
  mix(ref.id);
  return h;
}

bool PaymentRecord::AddFailure(const FailureRef& f) {
  auto pos =
      std::lower_bound(failure_refs.begin(), failure_refs.end(), f,
                       [](const FailureRef& a, const FailureRef& b) { return a.ref < b.ref; });
  if (pos != failure_refs.end() && pos->ref == f.ref) return false;
  if (failure_refs.size() >= kMaxFailureRefs && pos == failure_refs.end()) {
    // Later than every kept one: count it by fingerprint.
    const uint64_t fp = FailureFingerprint(f.ref);
    auto q = std::lower_bound(failure_fps.begin(), failure_fps.end(), fp);
    if (q != failure_fps.end() && *q == fp) return false;
    failure_fps.insert(q, fp);
    return true;
  }
  failure_refs.insert(pos, f);
  if (failure_refs.size() >
      kMaxFailureRefs) {  // keep the earliest; the last one is counted by fingerprint
    const uint64_t fp = FailureFingerprint(failure_refs.back().ref);
    failure_refs.pop_back();
    auto q = std::lower_bound(failure_fps.begin(), failure_fps.end(), fp);
    if (q == failure_fps.end() || *q != fp) failure_fps.insert(q, fp);
  }
  return true;
}

bool PaymentRecord::HasAuthKey(std::string_view key) const {
  for (const std::string* part : {&network, &asset, &payer, &nonce}) {
    if (part != &network) {
      if (key.empty() || key.front() != '|') return false;
      key.remove_prefix(1);
    }
    if (!key.starts_with(*part)) return false;
    key.remove_prefix(part->size());
  }
  return key.empty();
}

std::string PaymentRecord::Encode() const {
  std::string out;
  out.reserve(256);
  Writer w(&out);
  w.U8(2);
  w.Str(agent);
  w.Bool(has_auth);
  if (has_auth) {
    PutRef(w, auth_ref);
    w.Str(vendor);
    w.Str(resource);
    w.Str(network);
    w.Str(asset);
    w.Str(payer);
    w.Str(pay_to);
    w.Str(nonce);
    w.Amt(amount);
    w.I64(valid_after);
    w.I64(valid_before);
  }
  w.Bool(settled);
  if (settled) {
    PutRef(w, settle_ref);
    w.Str(tx_hash);
    w.Bool(has_settled_amount);
    if (has_settled_amount) w.Amt(settled_amount);
    w.Time(max_settle_time);
  }
  w.Bool(failed);
  if (failed) {
    PutRef(w, fail_ref);
    w.Str(fail_reason);
    w.Str(fail_tx_hash);
  }
  w.Var(failures_untracked);
  w.Var(failure_refs.size());
  for (const auto& f : failure_refs) {
    PutRef(w, f.ref);
    w.Str(f.reason);
  }
  w.Var(failure_fps.size());
  for (uint64_t fp : failure_fps) w.Var(fp);
  w.Bool(cancelled);
  if (cancelled) PutRef(w, cancel_ref);
  w.U8(static_cast<uint8_t>(contribution));
  w.Amt(contribution_amount);
  w.Var(open_mask);
  w.U8(match);
  return out;
}

bool PaymentRecord::Decode(std::string_view bytes, PaymentRecord* p) {
  Reader r(bytes);
  // Version 1 (state format 2) kept a plain failure count; version 2 fingerprints them.
  const uint8_t version = r.U8();
  if (version != 1 && version != 2) return false;
  *p = PaymentRecord();
  p->agent = r.Str();
  p->has_auth = r.Bool();
  if (p->has_auth) {
    p->auth_ref = GetRef(r);
    p->vendor = r.Str();
    p->resource = r.Str();
    p->network = r.Str();
    p->asset = r.Str();
    p->payer = r.Str();
    p->pay_to = r.Str();
    p->nonce = r.Str();
    p->amount = r.Amt();
    p->valid_after = r.I64();
    p->valid_before = r.I64();
  }
  p->settled = r.Bool();
  if (p->settled) {
    p->settle_ref = GetRef(r);
    p->tx_hash = r.Str();
    p->has_settled_amount = r.Bool();
    if (p->has_settled_amount) p->settled_amount = r.Amt();
    p->max_settle_time = r.Time();
  }
  p->failed = r.Bool();
  if (p->failed) {
    p->fail_ref = GetRef(r);
    p->fail_reason = r.Str();
    p->fail_tx_hash = r.Str();
  }
  const uint64_t counted = r.Var();
  uint64_t nf = r.Var();
  for (uint64_t i = 0; i < nf && r.ok(); ++i) {
    FailureRef f;
    f.ref = GetRef(r);
    f.reason = r.Str();
    p->failure_refs.push_back(std::move(f));
  }
  if (version == 1) {
    p->failures_untracked = counted > nf ? static_cast<uint32_t>(counted - nf) : 0;
  } else {
    p->failures_untracked = static_cast<uint32_t>(counted);
    const uint64_t nfp = r.Var();
    for (uint64_t i = 0; i < nfp && r.ok(); ++i) p->failure_fps.push_back(r.Var());
  }
  p->cancelled = r.Bool();
  if (p->cancelled) p->cancel_ref = GetRef(r);
  p->contribution = Contribution(r.U8());
  p->contribution_amount = r.Amt();
  p->open_mask = static_cast<uint32_t>(r.Var());
  p->match = r.U8();
  return r.ok();
}

std::string BucketRecord::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  w.Time(start);
  w.Time(end);
  w.Amt(reserved);
  w.Amt(committed);
  w.Var(open_mask);
  return out;
}

bool BucketRecord::Decode(std::string_view bytes, BucketRecord* b) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  b->start = r.Time();
  b->end = r.Time();
  b->reserved = r.Amt();
  b->committed = r.Amt();
  b->open_mask = static_cast<uint32_t>(r.Var());
  return r.ok();
}

namespace {
// Orders blocks for the winner: higher number, then more confirmations, then smaller ref.
bool Better(const ChainBlock& a, const ChainBlock& b) {
  if (a.number != b.number) return a.number > b.number;
  if (a.confirmations != b.confirmations) return a.confirmations > b.confirmations;
  return a.ref < b.ref;
}
}  // namespace

bool ChainObs::Merge(const ChainBlock& o) {
  auto pos = std::lower_bound(blocks.begin(), blocks.end(), o,
                              [](const ChainBlock& a, const ChainBlock& b) {
                                return a.number != b.number ? a.number < b.number : a.hash < b.hash;
                              });
  if (pos == blocks.end() || pos->number != o.number || pos->hash != o.hash) {
    ChainBlock b = o;
    if (b.removed) b.removed_ref = o.ref;
    blocks.insert(pos, std::move(b));
    Settle();
    return true;
  }
  ChainBlock& b = *pos;
  bool changed = false;
  if (o.confirmations > b.confirmations || (o.confirmations == b.confirmations && o.ref < b.ref)) {
    b.confirmations = o.confirmations;
    b.ref = o.ref;
    b.block_time = o.block_time;
    b.tx = o.tx;
    changed = true;
  }
  if (o.removed && (!b.removed || o.ref < b.removed_ref)) {
    b.removed = true;
    b.removed_ref = o.ref;
    changed = true;
  }
  if (changed) Settle();
  return changed;
}

void ChainObs::Settle() {
  present = !blocks.empty();
  const ChainBlock* win = nullptr;
  for (const ChainBlock& b : blocks) {
    if (!b.removed && (!win || Better(b, *win))) win = &b;
  }
  removed = win == nullptr;
  if (removed) {
    for (const ChainBlock& b : blocks) {
      if (!win || Better(b, *win)) win = &b;
    }
  }
  if (!win) return;
  block_number = win->number;
  confirmations = win->confirmations;
  ref = removed ? win->removed_ref : win->ref;
  block_time = win->block_time;
  tx = win->tx;
}

namespace {
// obs := 0x00 (never observed)
//      | 0x01 varint(number) bool(removed) varint(confirmations) eventref   ; state format 2
//      | 0x02 varint(n) block{n}
// block := varint(number) str(hash) bool(removed) varint(confirmations) eventref
//          [eventref(removed_ref) if removed] time(block_time) str(tx)
void PutObs(Writer& w, const ChainObs& o) {
  if (!o.present) {
    w.U8(0);
    return;
  }
  w.U8(2);
  w.Var(o.blocks.size());
  for (const ChainBlock& b : o.blocks) {
    w.Var(b.number);
    w.Str(b.hash);
    w.Bool(b.removed);
    w.Var(b.confirmations);
    PutRef(w, b.ref);
    if (b.removed) PutRef(w, b.removed_ref);
    w.Time(b.block_time);
    w.Str(b.tx);
  }
}
// *legacy: the state format 2 form, whose tx (authorization logs) and block time (transfers)
// the caller fills in from the record's own fields before Settle().
ChainObs GetObs(Reader& r, bool* legacy) {
  ChainObs o;
  const uint8_t form = r.U8();
  *legacy = form == 1;
  if (form == 1) {
    ChainBlock b;
    b.number = r.Var();
    b.removed = r.Bool();
    b.confirmations = r.Var();
    b.ref = GetRef(r);
    b.removed_ref = b.ref;
    o.blocks.push_back(std::move(b));
  } else if (form == 2) {
    const uint64_t n = r.Var();
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      ChainBlock b;
      b.number = r.Var();
      b.hash = r.Str();
      b.removed = r.Bool();
      b.confirmations = r.Var();
      b.ref = GetRef(r);
      if (b.removed) b.removed_ref = GetRef(r);
      b.block_time = r.Time();
      b.tx = r.Str();
      o.blocks.push_back(std::move(b));
    }
  } else if (form != 0) {
    r.U8();  // past the end: marks the reader failed
    return o;
  }
  o.Settle();
  return o;
}
void PutStrings(Writer& w, const std::vector<std::string>& v) {
  w.Var(v.size());
  for (const auto& s : v) w.Str(s);
}
std::vector<std::string> GetStrings(Reader& r) {
  std::vector<std::string> v;
  uint64_t n = r.Var();
  for (uint64_t i = 0; i < n && r.ok(); ++i) v.push_back(r.Str());
  return v;
}
}  // namespace

std::string AuthRecord::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  PutStrings(w, payment_ids);
  PutObs(w, used);
  PutObs(w, canceled);
  w.Str(used_tx);
  w.Str(canceled_tx);
  w.Var(open_mask);
  return out;
}

bool AuthRecord::Decode(std::string_view bytes, AuthRecord* a) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  a->payment_ids = GetStrings(r);
  bool legacy_used, legacy_canceled;
  a->used = GetObs(r, &legacy_used);
  a->canceled = GetObs(r, &legacy_canceled);
  a->used_tx = r.Str();
  a->canceled_tx = r.Str();
  for (auto [obs, legacy, tx] : {std::tuple{&a->used, legacy_used, &a->used_tx},
                                 std::tuple{&a->canceled, legacy_canceled, &a->canceled_tx}}) {
    if (!legacy) continue;
    for (ChainBlock& b : obs->blocks) b.tx = *tx;
    obs->Settle();
  }
  a->open_mask = static_cast<uint32_t>(r.Var());
  return r.ok();
}

TransferLog* TxRecord::FindLog(uint64_t log_index) {
  for (auto& l : logs)
    if (l.log_index == log_index) return &l;
  return nullptr;
}

std::string TxRecord::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  w.Var(logs.size());
  for (const auto& l : logs) {
    w.Var(l.log_index);
    PutObs(w, l.obs);
    w.Str(l.subject);
    w.Str(l.asset);
    w.Str(l.from);
    w.Str(l.to);
    w.Amt(l.amount);
    w.Time(l.block_time);
    w.Var(l.open_mask);
  }
  w.Var(claims.size());
  for (const auto& c : claims) {
    w.Time(c.time);
    w.Str(c.payment_id);
  }
  PutStrings(w, auth_used);
  PutStrings(w, failed_refs);
  w.Var(open_mask);
  return out;
}

bool TxRecord::Decode(std::string_view bytes, TxRecord* t) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  *t = TxRecord();
  uint64_t n = r.Var();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    TransferLog l;
    l.log_index = r.Var();
    bool legacy;
    l.obs = GetObs(r, &legacy);
    l.subject = r.Str();
    l.asset = r.Str();
    l.from = r.Str();
    l.to = r.Str();
    l.amount = r.Amt();
    l.block_time = r.Time();
    if (legacy) {
      for (ChainBlock& b : l.obs.blocks) b.block_time = l.block_time;
      l.obs.Settle();
    }
    l.open_mask = static_cast<uint32_t>(r.Var());
    t->logs.push_back(std::move(l));
  }
  n = r.Var();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    TxClaim c;
    c.time = r.Time();
    c.payment_id = r.Str();
    t->claims.push_back(std::move(c));
  }
  t->auth_used = GetStrings(r);
  t->failed_refs = GetStrings(r);
  t->open_mask = static_cast<uint32_t>(r.Var());
  return r.ok();
}

std::string VendorRecord::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  w.Bool(has_settle);
  w.Time(latest_settle);
  w.Var(failures.size());
  for (const auto& f : failures) {
    PutRef(w, f.ref);
    w.Str(f.agent);
    w.Str(f.reason);
  }
  w.Var(open_mask);
  w.U8(severity);
  w.Str(open_agent);
  return out;
}

bool VendorRecord::Decode(std::string_view bytes, VendorRecord* v) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  *v = VendorRecord();
  v->has_settle = r.Bool();
  v->latest_settle = r.Time();
  uint64_t n = r.Var();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    VendorFailure f;
    f.ref = GetRef(r);
    f.agent = r.Str();
    f.reason = r.Str();
    v->failures.push_back(std::move(f));
  }
  v->open_mask = static_cast<uint32_t>(r.Var());
  v->severity = r.U8();
  v->open_agent = r.Str();
  return r.ok();
}

std::string BalanceRecord::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);
  w.Var(block_number);
  w.Amt(balance);
  PutRef(w, ref);
  w.Str(agent);
  w.Var(open_mask);
  w.U8(severity);
  return out;
}

bool BalanceRecord::Decode(std::string_view bytes, BalanceRecord* b) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  b->block_number = r.Var();
  b->balance = r.Amt();
  b->ref = GetRef(r);
  b->agent = r.Str();
  b->open_mask = static_cast<uint32_t>(r.Var());
  b->severity = r.U8();
  return r.ok();
}

}  // namespace x402
