// Discord webhook messages for alerts (EVENTS.md section 4): one embed per alert, grouping of
// several alerts into as few messages as Discord's limits allow, and storm summaries.
//
// An embed reads well on a phone: title "🔴 CRITICAL · recon.amount_mismatch" (🟠 warning,
// 🔵 info, ✅ resolved), colour by severity, the finding's one-sentence message, fields for
// agent, network, amounts in USDC (exact integer -> decimal, never a double), the tx hash
// shortened with a block-explorer link for known networks, opened at; footer "alert <alert_id>"
// (the alert id starts with the finding id).
//
// Every message respects Discord's limits (kDiscord* below): strings are cut at a UTF-8
// boundary with "…" and lengths are counted in UTF-16 code units, as Discord counts them.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/result.h"

namespace x402 {

inline constexpr size_t kDiscordContentMax = 2000;
inline constexpr size_t kDiscordEmbedsMax = 10;
inline constexpr size_t kDiscordTitleMax = 256;
inline constexpr size_t kDiscordDescriptionMax = 4096;
inline constexpr size_t kDiscordFieldsMax = 25;
inline constexpr size_t kDiscordFieldNameMax = 256;
inline constexpr size_t kDiscordFieldValueMax = 1024;
inline constexpr size_t kDiscordFooterMax = 2048;
inline constexpr size_t kDiscordTotalMax = 6000;  // all embeds' text of one message

// The parts of an alert (EVENTS.md section 4 JSON) a message needs.
struct AlertView {
  std::string alert_id, finding_id, transition, kind, severity, agent_id, key, opened_at,
      resolved_at, message;
  std::vector<std::pair<std::string, std::string>> evidence;
  uint32_t reopen_count = 0;  // the n of the alert id
  bool opened() const { return transition == "opened"; }
};
Result<AlertView> ParseAlertJson(std::string_view json);

struct DiscordFormatOptions {
  // A storm: more than this many alerts of one kind and transition in one batch become one
  // summary embed. 0 = no storm summaries.
  size_t storm_threshold = 10;
};

struct DiscordMessage {
  std::string json;            // the webhook request body
  std::vector<size_t> alerts;  // indexes (into the input) of the alerts this message carries
  size_t embeds = 0;
  bool has_summary = false;
};

// Messages for `alerts`, in order: every alert is in exactly one message.
std::vector<DiscordMessage> BuildDiscordMessages(std::span<const AlertView> alerts,
                                                 const DiscordFormatOptions& o);
// The smallest message for one alert (title, message cut to 512, footer): the 400 retry.
DiscordMessage BuildMinimalDiscordMessage(const AlertView& a);

// Helpers, exposed for tests.
size_t Utf16Length(std::string_view utf8);
// Cuts to at most `max_units` UTF-16 units at a code-point boundary, ending with "…" if cut.
std::string TruncateUtf16(std::string_view utf8, size_t max_units);
// "0x1234…abcd" for a 0x-hash, unchanged otherwise.
std::string ShortHash(std::string_view hash);
// Explorer URL of a tx on a canonical network (CAIP-2), or "" when unknown.
std::string ExplorerTxUrl(std::string_view network, std::string_view tx_hash);
// "Base" for eip155:8453, the network itself when unknown.
std::string DiscordNetworkName(std::string_view network);

// A finding's evidence, as every human-facing renderer (Discord, the HTML report) reads it:
// the fields holding atomic USDC amounts; the network (the "network" field, else a CAIP-2
// first part of the key); the transaction (the "tx_hash" field, else a 0x-hash second part
// of the key). "" when there is none.
bool IsAmountEvidence(std::string_view field);
std::string EvidenceNetwork(std::string_view key,
                            std::span<const std::pair<std::string, std::string>> evidence);
std::string EvidenceTx(std::string_view key,
                       std::span<const std::pair<std::string, std::string>> evidence);

}  // namespace x402
