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
  bool operator==(const EventRef& o) const {
    return time == o.time && source == o.source && id == o.id;
  }
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

// A failure event of a payment, kept so vendor streaks can be computed once the vendor is
// known (the authorization may arrive after the failure).
struct FailureRef {
  EventRef ref;
  std::string reason;
};

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
  TimeMs max_settle_time;  // latest of all settlement events (vendor streaks cut at it)
  // Failure / cancellation facts (earliest wins; all failures counted).
  bool failed = false;
  EventRef fail_ref;
  std::string fail_reason, fail_tx_hash;
  std::vector<FailureRef> failure_refs;  // the earliest kMaxFailureRefs failure events
  // Fingerprints (FailureFingerprint) of the failure events past the first kMaxFailureRefs,
  // sorted, so that a repeat of any failure is counted once (EVENTS.md: merges are idempotent).
  std::vector<uint64_t> failure_fps;
  uint32_t failures_untracked = 0;  // counted by a format-2 store, not fingerprinted

  // Distinct payment.failed events seen for this payment.
  uint32_t Failures() const {
    return static_cast<uint32_t>(failure_refs.size() + failure_fps.size()) + failures_untracked;
  }
  // Adds a failure event; false if it was already counted.
  bool AddFailure(const FailureRef& f);
  bool cancelled = false;
  EventRef cancel_ref;
  // Derived and applied.
  Contribution contribution = Contribution::kNone;
  Amount contribution_amount;
  uint32_t open_mask = 0;  // bits: FindingKind values of payment-keyed findings that are open
  // Ledger versus chain, as last evaluated: kMatchNone (not settled, or no verdict yet),
  // kMatchPending (settled, transfer not seen, still within chain_grace), kMatched (a
  // transfer from the payer is matched and no recon finding is open on it; it may still be
  // gathering confirmations), kDiscrepant (a recon finding is open on it or its claim).
  uint8_t match = 0;

  Amount SettledAmount() const { return has_settled_amount ? settled_amount : amount; }
  std::string AuthKey() const { return network + "|" + asset + "|" + payer + "|" + nonce; }
  // AuthKey() == key, without building it.
  bool HasAuthKey(std::string_view key) const;
  std::string Encode() const;
  static bool Decode(std::string_view bytes, PaymentRecord* out);
};
inline constexpr size_t kMaxFailureRefs = 64;
// A 64-bit fingerprint of an event ref (FNV-1a over time, source, id).
uint64_t FailureFingerprint(const EventRef& ref);
inline constexpr uint8_t kMatchNone = 0, kMatchPending = 1, kMatched = 2, kDiscrepant = 3;

// What was observed of one block an on-chain log was seen in. A block is named by its
// block_hash when the observation gave one, else by its block_number alone (EVENTS.md, "Chain
// log state"): (number, hash) with hash "" for the latter.
struct ChainBlock {
  uint64_t number = 0;
  std::string hash;
  bool removed = false;        // a reorg took the log out of this block: final
  uint64_t confirmations = 0;  // of the best observation: most confirmations, then smallest ref
  EventRef ref;                // the best observation
  EventRef removed_ref;        // the earliest removal observed (when removed)
  TimeMs block_time;           // transfers: the block time the best observation reported
  std::string tx;              // authorization logs: the transaction of the best observation
};

// The state of one on-chain log: a join-semilattice over the blocks it was observed in, so
// any arrival order (and any repeat) gives the same state. The log is live while some block
// it was seen in is not removed; among the live blocks the higher block_number wins, then the
// higher confirmations, then the smaller (time, source, id); with no live block it is removed
// (its fields then come from the block that order puts first, `ref` being that block's
// earliest removal). The fields above `blocks` are derived from them by Settle().
struct ChainObs {
  bool present = false;
  uint64_t block_number = 0;
  bool removed = false;
  uint64_t confirmations = 0;
  EventRef ref;
  TimeMs block_time;
  std::string tx;
  std::vector<ChainBlock> blocks;  // sorted by (number, hash)

  // Merges one observation; false if it changed nothing (a repeat, or one the state already
  // covers).
  bool Merge(const ChainBlock& observation);
  void Settle();
};

struct AuthRecord {
  std::vector<std::string> payment_ids;  // sorted; every payment that authorized this key
  ChainObs used, canceled;               // AuthorizationUsed / AuthorizationCanceled logs
  std::string used_tx, canceled_tx;
  uint32_t open_mask = 0;  // FindingKind bits of authorization-keyed findings

  std::string Encode() const;
  static bool Decode(std::string_view bytes, AuthRecord* out);
};

struct TransferLog {
  uint64_t log_index = 0;
  ChainObs obs;
  std::string subject, asset, from, to;
  Amount amount;
  TimeMs block_time;
  uint32_t open_mask = 0;  // FindingKind bits of findings keyed by this log
};

struct TxClaim {
  TimeMs time;  // settlement event time
  std::string payment_id;
  bool operator<(const TxClaim& o) const {
    return time != o.time ? time < o.time : payment_id < o.payment_id;
  }
  bool operator==(const TxClaim& o) const { return time == o.time && payment_id == o.payment_id; }
};

struct TxRecord {
  std::vector<TransferLog> logs;         // by log_index
  std::vector<TxClaim> claims;           // settlements naming this tx, by (time, payment_id)
  std::vector<std::string> auth_used;    // auth keys whose AuthorizationUsed is in this tx
  std::vector<std::string> failed_refs;  // payments whose failure names this tx
  uint32_t open_mask = 0;                // recon.duplicate_claim

  TransferLog* FindLog(uint64_t log_index);
  std::string Encode() const;
  static bool Decode(std::string_view bytes, TxRecord* out);
};

struct VendorFailure {
  EventRef ref;
  std::string agent, reason;
};

struct VendorRecord {
  bool has_settle = false;
  TimeMs latest_settle;
  std::vector<VendorFailure> failures;  // failures after latest_settle, by ref
  uint32_t open_mask = 0;
  uint8_t severity = 0;
  std::string open_agent;  // agent the open finding is attributed to (latest failure's)

  std::string Encode() const;
  static bool Decode(std::string_view bytes, VendorRecord* out);
};

struct BalanceRecord {
  uint64_t block_number = 0;
  Amount balance;
  EventRef ref;
  std::string agent;
  uint32_t open_mask = 0;
  uint8_t severity = 0;

  std::string Encode() const;
  static bool Decode(std::string_view bytes, BalanceRecord* out);
};

struct BucketRecord {
  TimeMs start, end;
  Amount reserved, committed;
  uint32_t open_mask = 0;  // bit i: threshold i open; bit 31: exhausted

  std::string Encode() const;
  static bool Decode(std::string_view bytes, BucketRecord* out);
};

}  // namespace x402
