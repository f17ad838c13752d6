#include "projections/finding.h"

#include "projections/codec.h"
#include "schemas/json_writer.h"
#include "schemas/sha256.h"

namespace x402 {

namespace {
constexpr std::string_view kKindNames[kFindingKindCount] = {
    "budget.threshold",          "budget.exhausted",          "budget.per_transaction_exceeded",
    "authorization.stale",       "authorization.expired",     "authorization.settled_after_expiry",
    "authorization.nonce_reuse", "recon.missing_on_chain",    "recon.amount_mismatch",
    "recon.recipient_mismatch",  "recon.asset_mismatch",      "recon.duplicate_claim",
    "recon.paid_but_failed",     "recon.unrecorded_transfer", "recon.reorged",
    "recon.unconfirmed",         "vendor.failure_streak",     "wallet.balance_low",
};
}  // namespace

std::string_view FindingKindName(FindingKind k) { return kKindNames[static_cast<int>(k)]; }

std::optional<FindingKind> FindingKindFromName(std::string_view name) {
  for (int i = 0; i < kFindingKindCount; ++i)
    if (kKindNames[i] == name) return FindingKind(i);
  return std::nullopt;
}

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "info";
}

std::optional<Severity> SeverityFromName(std::string_view name) {
  if (name == "info") return Severity::kInfo;
  if (name == "warning") return Severity::kWarning;
  if (name == "critical") return Severity::kCritical;
  return std::nullopt;
}

std::string FindingId(FindingKind kind, std::string_view key) {
  Sha256 h;
  h.Update(FindingKindName(kind));
  h.Update("|");
  h.Update(key);
  return h.FinalHex();
}

std::string Finding::Encode() const {
  std::string out;
  Writer w(&out);
  w.U8(1);  // version
  w.Str(finding_id);
  w.U8(static_cast<uint8_t>(kind));
  w.U8(static_cast<uint8_t>(severity));
  w.Str(agent_id);
  w.Str(key);
  w.Bool(open);
  w.Time(opened_at);
  w.Bool(resolved_at.has_value());
  if (resolved_at) w.Time(*resolved_at);
  w.Var(evidence.size());
  for (const auto& [k, v] : evidence) {
    w.Str(k);
    w.Str(v);
  }
  w.Str(message);
  w.Var(reopen_count);
  return out;
}

bool Finding::Decode(std::string_view bytes, Finding* f) {
  Reader r(bytes);
  if (r.U8() != 1) return false;
  f->finding_id = r.Str();
  f->kind = FindingKind(r.U8());
  f->severity = Severity(r.U8());
  f->agent_id = r.Str();
  f->key = r.Str();
  f->open = r.Bool();
  f->opened_at = r.Time();
  if (r.Bool()) {
    f->resolved_at = r.Time();
  } else {
    f->resolved_at.reset();
  }
  uint64_t n = r.Var();
  f->evidence.clear();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    std::string k = r.Str();
    std::string v = r.Str();
    f->evidence.emplace_back(std::move(k), std::move(v));
  }
  f->message = r.Str();
  f->reopen_count = static_cast<uint32_t>(r.Var());
  return r.ok() && static_cast<int>(f->kind) < kFindingKindCount;
}

std::string Finding::ToJson() const {
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("finding_id", finding_id);
  j.Field("kind", FindingKindName(kind));
  j.Field("severity", SeverityName(severity));
  j.Field("agent_id", agent_id);
  j.Field("key", key);
  j.Field("status", open ? "open" : "resolved");
  j.Field("opened_at", FormatRfc3339(opened_at));
  j.Key("resolved_at");
  if (resolved_at) {
    j.String(FormatRfc3339(*resolved_at));
  } else {
    j.Null();
  }
  j.Key("evidence").BeginObject();
  for (const auto& [k, v] : evidence) j.Field(k, v);
  j.EndObject();
  j.Field("message", message);
  j.EndObject();
  return out;
}

std::string AlertId(const Finding& f, bool opened) {
  return f.finding_id + (opened ? ":opened:" : ":resolved:") + std::to_string(f.reopen_count);
}

std::string AlertJson(const Finding& f, bool opened) {
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("alert_id", AlertId(f, opened));
  j.Field("finding_id", f.finding_id);
  j.Field("transition", opened ? "opened" : "resolved");
  j.Key("finding").Raw(f.ToJson());
  j.EndObject();
  return out;
}

}  // namespace x402
