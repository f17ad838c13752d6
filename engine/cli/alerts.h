// Alert delivery for the x402rec commands: the alert flags, the environment
// (DISCORD_WEBHOOK_ALERTS for critical, DISCORD_WEBHOOK_PAYMENTS for warning and info), the
// effective configuration with webhook URLs redacted, and the OutboxDispatcher built from
// them (Discord webhooks, plus the x402.alerts topic in Kafka mode). Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "connectors/kafka_producer.h"
#include "engine/alert_settings.h"
#include "engine/cli/flags.h"
#include "engine/outbox_dispatcher.h"

namespace x402::cli {

// --discord-webhook, --alert-group-window, --alert-storm-threshold.
void AddAlertFlags(Flags& f);
// Adds the environment's webhooks and the flags on top of the config file's settings in *a.
// Every URL is validated; errors are one line naming the flag/variable/file, URL redacted.
Status ApplyAlertEnvAndFlags(const Flags& f, AlertSettings* a);
// Human-readable effective configuration, URLs redacted.
std::string DescribeAlerts(const AlertSettings& a, const std::string& kafka_topic);

struct AlertDeliveryOptions {
  std::string data_dir;  // dead letters of alerts go to <data_dir>/alerts-deadletter.jsonl
  const KafkaProps* kafka = nullptr;  // set in Kafka mode: the alerts topic is one more sink
  std::string kafka_topic = "x402.alerts";
};

// The dispatcher for `a` over `store`, started; null when no sink is configured.
Result<std::unique_ptr<OutboxDispatcher>> StartAlertDelivery(const AlertSettings& a,
                                                             RocksStore* store,
                                                             const AlertDeliveryOptions& o);
// "12 delivered, 0 dead-lettered to discord-1a2b3c4d-alerts; …" for the end-of-run summary.
std::string DescribeDelivery(const DispatcherSnapshot& s);

}  // namespace x402::cli
