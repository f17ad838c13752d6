// Typed x402 events (EVENTS.md section 2), as produced by the decoder: every field validated
// and in canonical form (networks as CAIP-2, EVM addresses and hashes lowercase, money as
// atomic units).
//
// Event is deliberately one flat struct holding the fields of every type (which of them are
// meaningful is given by `type`, see the table below): the decoder refills the same Event
// for each line, so its strings keep their capacity and decoding allocates nothing in the
// steady state. Value type; thread-compatible.
//
//   type                          fields used
//   x402.budget.limits_set        daily_limit, monthly_limit, per_transaction_max
//   x402.wallet.registered        network, address
//   x402.payment.authorized       payment_id, vendor, resource, network, asset, payer, pay_to,
//                                 amount, valid_after, valid_before, nonce
//   x402.payment.settled          payment_id, tx_hash, amount (has_amount)
//   x402.payment.failed           payment_id, reason, tx_hash (has_tx_hash), retryable
//   x402.payment.cancelled        payment_id, reason (has_reason)
//   x402.chain.transfer           network, tx_hash, log_index, block_number, block_time, asset,
//                                 from, to, amount, confirmations, removed, block_hash
//   x402.chain.authorization_*    network, asset, authorizer, nonce, tx_hash, block_number,
//                                 removed, block_hash
//   x402.wallet.balance           network, address, asset, amount (the balance), block_number
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/money.h"
#include "schemas/time.h"

namespace x402 {

enum class EventType : uint8_t {
  kLimitsSet = 0,
  kWalletRegistered,
  kPaymentAuthorized,
  kPaymentSettled,
  kPaymentFailed,
  kPaymentCancelled,
  kChainTransfer,
  kChainAuthorizationUsed,
  kChainAuthorizationCanceled,
  kWalletBalance,
};
inline constexpr int kEventTypeCount = 10;

// "x402.payment.authorized" etc.
std::string_view EventTypeName(EventType t);
std::optional<EventType> EventTypeFromName(std::string_view name);

// A limit field of x402.budget.limits_set: absent (unchanged), null (back to default) or set.
struct LimitUpdate {
  enum class Kind : uint8_t { kUnchanged = 0, kReset = 1, kSet = 2 } kind = Kind::kUnchanged;
  Amount value;
};

struct Event {
  EventType type = EventType::kLimitsSet;
  // Envelope.
  std::string id, source, subject;
  TimeMs time;
  // x402.budget.limits_set
  LimitUpdate daily_limit, monthly_limit, per_transaction_max;
  // Shared payment / chain / wallet fields.
  std::string network, asset, address;
  std::string payment_id, vendor, resource, payer, pay_to, nonce;
  Amount amount;
  bool has_amount = false;
  int64_t valid_after = 0, valid_before = 0;  // unix seconds
  std::string tx_hash;
  bool has_tx_hash = false;
  std::string reason;
  bool has_reason = false;
  std::optional<bool> retryable;
  uint64_t log_index = 0, block_number = 0, confirmations = 0;
  TimeMs block_time;
  std::string from, to, authorizer;
  bool removed = false;
  std::string block_hash;  // chain logs: the block observed in ("" = named by block_number)
};

}  // namespace x402
