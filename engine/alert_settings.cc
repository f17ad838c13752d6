#include "engine/alert_settings.h"

namespace x402 {

bool DiscordRoute::Matches(FindingKind kind, Severity severity) const {
  if (severity < min_severity || severity > max_severity) return false;
  if (kinds.empty()) return true;
  const std::string_view name = FindingKindName(kind);
  for (const auto& k : kinds) {
    if (k == name) return true;
    if (k.size() > 2 && k.ends_with(".*") &&
        name.starts_with(std::string_view(k).substr(0, k.size() - 1)))
      return true;
  }
  return false;
}

}  // namespace x402
