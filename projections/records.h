// Records the projections keep in the state store, with their binary encodings. Every
// record holds *facts* (what events said) plus what was derived from them and already
// applied elsewhere (a payment's current budget contribution, the mask of findings open on
// it), so re-evaluating a record is a pure function of it and the watermark.
// Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/event.h"

namespace x402 {

// Identity of an input event for tie-breaking: (time, source, id) totally orders events.
struct EventRef {
  TimeMs time;
  std::string source, id;
  bool operator<(const EventRef& o) const {
    if (time != o.time) return time < o.time;
    if (source != o.source) return source < o.source;
    return id < o.id;
  }
  bool operator==(const EventRef& o) const { return time == o.time && source == o.source && id == o.id; }
  static EventRef Of(const Event& e) { return EventRef{e.time, e.source, e.id}; }
};

struct LimitsEntry {
  EventRef ref;
  LimitUpdate daily, monthly, per_transaction;
};

struct AgentRecord {
  std::vector<LimitsEntry> limits;  // sorted by ref
  TimeMs max_auth_time = kTimeMin;  // latest authorization seen (skip rescans for in-order limits)
  bool has_auth = false;

  std::string Encode() const;
  static bool Decode(std::string_view bytes, AgentRecord* out);
};

enum class Contribution : uint8_t { kNone = 0, kReserved = 1, kCommitted = 2 };

struct PaymentRecord {
  std::string agent;  // subject of the authorization (or of the first event seen)
  // Authorization facts.
  bool has_auth = false;
  EventRef auth_ref;
  std::string vendor, resource, network, asset, payer, pay_to, nonce;
  Amount amount;
  int64_t valid_after = 0, valid_before = 0;
  // Settlement facts (the earliest settlement event wins).
  bool settled = false;
  EventRef settle_ref;
  std::string tx_hash;
  bool has_settled_amount = false;
  Amount settled_amount;
  // Failure / cancellation facts (earliest wins; all failures counted).
  bool failed = false;
  EventRef fail_ref;
  std::string fail_reason, fail_tx_hash;
  uint32_t failures = 0;
  bool cancelled = false;
  EventRef cancel_ref;
  // Derived and applied.
  Contribution contribution = Contribution::kNone;
  Amount contribution_amount;
  uint32_t open_mask = 0;  // bits: FindingKind values of payment-keyed findings that are open

  Amount SettledAmount() const { return has_settled_amount ? settled_amount : amount; }
  std::string Encode() const;
  static bool Decode(std::string_view bytes, PaymentRecord* out);
};

struct BucketRecord {
  TimeMs start, end;
  Amount reserved, committed;
  uint32_t open_mask = 0;  // bit i: threshold i open; bit 31: exhausted

  std::string Encode() const;
  static bool Decode(std::string_view bytes, BucketRecord* out);
};

}  // namespace x402
