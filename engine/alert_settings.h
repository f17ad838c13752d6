// Alert delivery settings: Discord webhooks with their routing, the grouping window and the
// storm threshold. Filled from the config file ([alerts], [[alerts.discord]]), then the
// environment (DISCORD_WEBHOOK_ALERTS, DISCORD_WEBHOOK_PAYMENTS), then flags
// (engine/cli/alerts.h). Webhook URLs are secrets: print them only through RedactUrl().
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "projections/finding.h"

namespace x402 {

struct DiscordRoute {
  std::string url;     // secret
  std::string label;   // short name for logs and metrics ("alerts", "payments", "1", …)
  std::string origin;  // where it was configured: "--discord-webhook", "DISCORD_WEBHOOK_ALERTS",
                       // "file.toml:12"
  Severity min_severity = Severity::kInfo;
  Severity max_severity = Severity::kCritical;
  // Empty: every kind. Otherwise exact kind names ("recon.amount_mismatch") or prefixes
  // written "recon.*".
  std::vector<std::string> kinds;

  bool Matches(FindingKind kind, Severity severity) const;
};

struct AlertSettings {
  std::vector<DiscordRoute> discord;
  int64_t group_window_ms = 2000;  // 0: no grouping wait and no storm summaries
  uint64_t storm_threshold = 10;   // more than this many of one kind in a window: one summary
  int64_t request_timeout_ms = 10000;
};

}  // namespace x402
