// The state interface projections see (DESIGN.md: projections include no RocksDB, Kafka or
// Beast header). The engine implements it on RocksDB with a per-batch overlay; tests use an
// in-memory implementation (projections/memory_state.h). Keys here are logical: the engine
// prefixes every key with the shard (Kafka partition) the current event belongs to, so all
// state of one shard can be dropped and rebuilt.
//
// Thread-safety: implementations are used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "projections/finding.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace x402 {

// Column families of projection state. Their key layouts are documented in engine/README.md.
enum class Table : uint8_t {
  kDedupe = 0,     // format 2: (source, id) of every applied event; empty since format 3
  kAgents,         // agent -> limits history
  kPayments,       // payment_id -> PaymentRecord
  kBuckets,        // agent|D|YYYY-MM-DD, agent|M|YYYY-MM -> BucketRecord
  kAgentPayments,  // agent|time|payment_id -> "" (index, for late limit changes)
  kAuths,          // network|asset|payer|nonce -> AuthRecord
  kTxHashIndex,    // tx_hash|'n' -> networks seen; tx_hash|'c'|payment_id -> "" (by bare hash)
  kTxs,            // network|tx_hash -> TxRecord (claims, logs in the tx)
  kWallets,        // network|address -> sorted agents that registered it
  kWalletOut,  // network|from|tx_hash -> "" (index: transactions with transfers out of an address)
  kBalances,   // network|address|asset -> BalanceRecord
  kVendors,    // vendor -> VendorRecord
  kFindings,   // kind|key -> Finding
  kTimers,     // deadline(8, big-endian)|timer kind(1)|key -> "" (engine/timer_index.h)
  kCount,
};
inline constexpr int kTableCount = static_cast<int>(Table::kCount);
std::string_view TableName(Table t);
// Tables whose content is a canonical function of the applied events (included in the
// state digest). Indexes and timers are derived and left out.
bool TableInDigest(Table t);

class StateView {
 public:
  virtual ~StateView() = default;
  // Copies the value into *value and returns true if the key exists.
  virtual bool Get(Table t, std::string_view key, std::string* value) = 0;
  // Like Get without the copy: *value views the stored bytes until the next call on this
  // StateView (decode them at once).
  virtual bool View(Table t, std::string_view key, std::string_view* value) {
    if (!Get(t, key, &view_buf_)) return false;
    *value = view_buf_;
    return true;
  }
  virtual void Put(Table t, std::string_view key, std::string_view value) = 0;
  virtual void Delete(Table t, std::string_view key) = 0;
  // Visits keys starting with `prefix` in key order (pending writes included) until fn
  // returns false.
  virtual void Scan(
      Table t, std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;

 private:
  std::string view_buf_;
};

// Where projections report finding transitions. The implementation keeps the Finding
// records (Table::kFindings), counts re-openings and writes an alert to the outbox for every
// transition, in the same batch as the state change.
class FindingSink {
 public:
  virtual ~FindingSink() = default;
  struct Open {
    FindingKind kind;
    Severity severity;
    std::string_view agent;
    std::string_view key;
    TimeMs at;
    Evidence evidence;
    std::string message;
  };
  // Opens the finding, or updates the severity / agent of an already open one (no alert then).
  virtual void OpenFinding(Open spec) = 0;
  virtual void ResolveFinding(FindingKind kind, std::string_view key, TimeMs at) = 0;
};

enum class TimerKind : uint8_t {
  kPaymentDeadline = 1,  // a payment's valid_before (expiry releases the reservation)
  kBucketEnd = 2,        // a budget bucket ends: its findings resolve
  kAuthStale = 3,        // authorization time + stale_after
  kChainGrace = 4,       // settlement time + chain_grace (missing on chain)
  kConfirmTimeout = 5,   // settlement time + confirmation_timeout (unconfirmed)
  kTransferGrace = 6,    // block time + chain_grace (unrecorded transfer)
};

// Everything a projection may touch while applying one event or timer.
struct VendorFact;  // projections.h

struct ApplyContext {
  StateView* state;
  FindingSink* findings;
  TimeMs watermark;  // the shard's event-time clock after this event
  TimeMs now;        // time of the event being applied, or the deadline of the timer
  // Schedules a re-evaluation of `key` once the watermark reaches `deadline` (idempotent).
  std::function<void(TimeMs deadline, TimerKind kind, std::string_view key)> schedule;
  // Cancels a scheduled timer that can no longer change anything (idempotent).
  std::function<void(TimeMs deadline, TimerKind kind, std::string_view key)> unschedule;
  // When set, vendor facts (projections.h) are handed here instead of being applied to this
  // shard's vendor state: with several partitions, a vendor's payments come from agents on
  // every partition, so its streak is computed downstream of a stream re-keyed by vendor.
  std::function<void(const VendorFact& fact)> emit_vendor_fact;
};

}  // namespace x402
