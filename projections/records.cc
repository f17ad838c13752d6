#include "projections/records.h"

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

std::string PaymentRecord::Encode() const {
  std::string out;
  out.reserve(256);
  Writer w(&out);
  w.U8(1);
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
  }
  w.Bool(failed);
  if (failed) {
    PutRef(w, fail_ref);
    w.Str(fail_reason);
    w.Str(fail_tx_hash);
  }
  w.Var(failures);
  w.Bool(cancelled);
  if (cancelled) PutRef(w, cancel_ref);
  w.U8(static_cast<uint8_t>(contribution));
  w.Amt(contribution_amount);
  w.Var(open_mask);
  return out;
}

bool PaymentRecord::Decode(std::string_view bytes, PaymentRecord* p) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
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
  }
  p->failed = r.Bool();
  if (p->failed) {
    p->fail_ref = GetRef(r);
    p->fail_reason = r.Str();
    p->fail_tx_hash = r.Str();
  }
  p->failures = static_cast<uint32_t>(r.Var());
  p->cancelled = r.Bool();
  if (p->cancelled) p->cancel_ref = GetRef(r);
  p->contribution = Contribution(r.U8());
  p->contribution_amount = r.Amt();
  p->open_mask = static_cast<uint32_t>(r.Var());
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

}  // namespace x402
