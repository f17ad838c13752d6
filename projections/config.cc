#include "projections/config.h"

#include <cstring>
#include <string_view>

namespace x402 {

std::string NormaliseAgentForEnv(const std::string& agent) {
  std::string out;
  out.reserve(agent.size());
  for (char c : agent) {
    if (c >= 'a' && c <= 'z') {
      out.push_back(char(c - 'a' + 'A'));
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    } else {
      out.push_back('_');
    }
  }
  return out;
}

Limits ProjectionConfig::LimitsFor(const std::string& agent) const {
  Limits l = default_limits;
  if (agent_limits.empty()) return l;
  auto it = agent_limits.find(NormaliseAgentForEnv(agent));
  if (it == agent_limits.end()) return l;
  if (it->second.daily) l.daily = *it->second.daily;
  if (it->second.monthly) l.monthly = *it->second.monthly;
  if (it->second.per_transaction) l.per_transaction = *it->second.per_transaction;
  return l;
}

uint64_t ProjectionConfig::ConfirmationsRequired(const std::string& network) const {
  auto it = confirmations_required.find(network);
  return it == confirmations_required.end() ? default_confirmations_required : it->second;
}

Status LoadAgentLimitsFromEnv(char** env, ProjectionConfig* cfg) {
  static constexpr std::pair<std::string_view, int> kSuffixes[] = {
      {"_DAILY_LIMIT_USDC", 0}, {"_MONTHLY_LIMIT_USDC", 1}, {"_PER_TRANSACTION_MAX_USDC", 2}};
  for (char** e = env; e && *e; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with("X402_")) continue;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = kv.substr(0, eq), value = kv.substr(eq + 1);
    for (const auto& [suffix, which] : kSuffixes) {
      if (!name.ends_with(suffix) || name.size() <= 5 + suffix.size()) continue;
      std::string agent(name.substr(5, name.size() - 5 - suffix.size()));
      auto amount =
          ParseUsdcDecimal(value, std::string("environment variable ") + std::string(name));
      if (!amount) return Err(amount.error());
      auto& o = cfg->agent_limits[agent];
      if (which == 0) o.daily = *amount;
      if (which == 1) o.monthly = *amount;
      if (which == 2) o.per_transaction = *amount;
      break;
    }
  }
  return Status::Ok();
}

}  // namespace x402
