// Finding kinds of EVENTS.md section 3, their names and default severities, the stable
// finding id (lowercase hex SHA-256 of "<kind>|<key>"), and the Finding record itself.
// Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/time.h"

namespace x402 {

enum class FindingKind : uint8_t {
  kBudgetThreshold = 0,
  kBudgetExhausted,
  kBudgetPerTransactionExceeded,
  kAuthorizationStale,
  kAuthorizationExpired,
  kAuthorizationSettledAfterExpiry,
  kAuthorizationNonceReuse,
  kReconMissingOnChain,
  kReconAmountMismatch,
  kReconRecipientMismatch,
  kReconAssetMismatch,
  kReconDuplicateClaim,
  kReconPaidButFailed,
  kReconUnrecordedTransfer,
  kReconReorged,
  kReconUnconfirmed,
  kVendorFailureStreak,
  kWalletBalanceLow,
};
inline constexpr int kFindingKindCount = 18;

enum class Severity : uint8_t { kInfo = 0, kWarning = 1, kCritical = 2 };

std::string_view FindingKindName(FindingKind k);
std::optional<FindingKind> FindingKindFromName(std::string_view name);
std::string_view SeverityName(Severity s);
std::optional<Severity> SeverityFromName(std::string_view name);

// lowercase hex SHA-256 of "<kind>|<key>".
std::string FindingId(FindingKind kind, std::string_view key);

// Evidence is an ordered list of string fields, rendered as a JSON object of strings.
using Evidence = std::vector<std::pair<std::string, std::string>>;

struct Finding {
  std::string finding_id;
  FindingKind kind = FindingKind::kBudgetThreshold;
  Severity severity = Severity::kInfo;
  std::string agent_id;
  std::string key;
  bool open = true;
  TimeMs opened_at;
  std::optional<TimeMs> resolved_at;
  Evidence evidence;
  std::string message;
  uint32_t reopen_count = 0;  // n in alert ids: how many times it was re-opened

  std::string Encode() const;
  static bool Decode(std::string_view bytes, Finding* out);
  // EVENTS.md section 3 JSON object.
  std::string ToJson() const;
};

// EVENTS.md section 4 alert object for a transition ("opened" / "resolved") of `f`.
std::string AlertId(const Finding& f, bool opened);
std::string AlertJson(const Finding& f, bool opened);

}  // namespace x402
