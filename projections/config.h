// Thresholds and defaults of every projection (EVENTS.md section 3), settable from the
// config file, flags and, for budget limits, the X402_<AGENT>_*_USDC environment variables.
// Plain data, read-only once the engine runs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schemas/money.h"
#include "schemas/result.h"

namespace x402 {

struct Limits {
  Amount daily = Amount::Usdc(100);
  Amount monthly = Amount::Usdc(1000);
  Amount per_transaction = Amount::Usdc(10);
  auto operator<=>(const Limits&) const = default;
};

struct AgentLimitOverride {
  std::optional<Amount> daily, monthly, per_transaction;
};

struct ProjectionConfig {
  Limits default_limits;
  // Keyed by the normalised agent name (upper-case, non-alphanumerics as '_').
  std::map<std::string, AgentLimitOverride> agent_limits;
  std::vector<uint32_t> budget_thresholds_pct = {80, 90, 95};  // 95+ is critical
  uint32_t budget_critical_pct = 95;

  // EVENTS.md section 1: a repeated (source, id) is a duplicate while the first one's time is
  // within this many seconds of the shard's watermark; 0 remembers nothing.
  int64_t dedupe_horizon_s = 604800;
  int64_t stale_after_s = 900;
  int64_t chain_grace_s = 600;
  int64_t confirmation_timeout_s = 1800;
  uint32_t amount_tolerance_bps = 0;
  std::map<std::string, uint64_t> confirmations_required = {
      {"eip155:8453", 6}, {"eip155:1", 12}, {"eip155:137", 64}};
  uint64_t default_confirmations_required = 6;
  uint32_t vendor_streak_warning = 3;
  uint32_t vendor_streak_critical = 5;
  Amount wallet_low_warning = Amount::Usdc(200);
  Amount wallet_low_critical = Amount::Usdc(50);

  // The agent's default limits: the global defaults with its environment overrides applied.
  Limits LimitsFor(const std::string& agent) const;
  uint64_t ConfirmationsRequired(const std::string& network) const;
};

// "builder-agent" -> "BUILDER_AGENT".
std::string NormaliseAgentForEnv(const std::string& agent);

// Reads X402_<AGENT>_DAILY_LIMIT_USDC, _MONTHLY_LIMIT_USDC, _PER_TRANSACTION_MAX_USDC from
// `environ` into cfg->agent_limits. An unparsable value is an error naming the variable.
Status LoadAgentLimitsFromEnv(char** environ_ptr, ProjectionConfig* cfg);

}  // namespace x402
