#include "connectors/discord_format.h"

#include <simdjson.h>

#include <algorithm>
#include <map>

#include "schemas/json_writer.h"
#include "schemas/money.h"

namespace x402 {
namespace {

struct NetworkInfo {
  const char* caip2;
  const char* name;
  const char* tx_prefix;
  const char* tx_suffix;
};
constexpr NetworkInfo kNetworks[] = {
    {"eip155:8453", "Base", "https://basescan.org/tx/", ""},
    {"eip155:84532", "Base Sepolia", "https://sepolia.basescan.org/tx/", ""},
    {"eip155:1", "Ethereum", "https://etherscan.io/tx/", ""},
    {"eip155:137", "Polygon", "https://polygonscan.com/tx/", ""},
    {"eip155:80002", "Polygon Amoy", "https://amoy.polygonscan.com/tx/", ""},
    {"eip155:43114", "Avalanche", "https://snowtrace.io/tx/", ""},
    {"eip155:43113", "Avalanche Fuji", "https://testnet.snowtrace.io/tx/", ""},
    {"eip155:42161", "Arbitrum", "https://arbiscan.io/tx/", ""},
    {"eip155:1329", "Sei", "https://seitrace.com/tx/", ""},
    {"eip155:4689", "IoTeX", "https://iotexscan.io/tx/", ""},
    {"solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "Solana", "https://solscan.io/tx/", ""},
    {"solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1", "Solana Devnet", "https://solscan.io/tx/",
     "?cluster=devnet"},
};

const NetworkInfo* FindNetwork(std::string_view n) {
  for (const auto& i : kNetworks)
    if (n == i.caip2) return &i;
  return nullptr;
}

bool IsAmountField(std::string_view k) { return IsAmountEvidence(k); }

std::string Usdc(std::string_view atomic) {
  auto a = ParseAtomic(atomic, "amount");
  if (!a) return std::string(atomic);
  return ToUsdcString(*a) + " USDC";
}

std::string Pretty(std::string_view k) {
  std::string s(k);
  for (char& c : s)
    if (c == '_') c = ' ';
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::vector<std::string_view> SplitKey(std::string_view key) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t bar = key.find('|', start);
    parts.push_back(key.substr(start, bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return parts;
}

bool IsTxHash(std::string_view s) { return s.size() == 66 && s.starts_with("0x"); }

const char* SeverityIcon(std::string_view sev) {
  if (sev == "critical") return "🔴";
  if (sev == "warning") return "🟠";
  return "🔵";
}
uint32_t SeverityColour(std::string_view sev, bool opened) {
  if (!opened) return 0x2ECC71;
  if (sev == "critical") return 0xE74C3C;
  if (sev == "warning") return 0xE67E22;
  return 0x3498DB;
}
int SeverityRank(std::string_view sev) { return sev == "critical" ? 2 : sev == "warning" ? 1 : 0; }
std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

struct Field {
  std::string name, value;
  bool inline_ = true;
};

struct Embed {
  std::string title, description, footer, timestamp;
  uint32_t colour = 0;
  std::vector<Field> fields;

  // Clamps every part to Discord's limits, and the whole embed to the message total.
  void Clamp() {
    title = TruncateUtf16(title, kDiscordTitleMax);
    description = TruncateUtf16(description, kDiscordDescriptionMax);
    footer = TruncateUtf16(footer, kDiscordFooterMax);
    if (fields.size() > kDiscordFieldsMax) fields.resize(kDiscordFieldsMax);
    for (auto& f : fields) {
      f.name = TruncateUtf16(f.name.empty() ? "-" : f.name, kDiscordFieldNameMax);
      f.value = TruncateUtf16(f.value.empty() ? "-" : f.value, kDiscordFieldValueMax);
    }
    // One embed alone must fit the message total: drop trailing fields, then cut the description.
    while (Chars() > kDiscordTotalMax && !fields.empty()) fields.pop_back();
    if (Chars() > kDiscordTotalMax) {
      size_t other = Chars() - Utf16Length(description);
      description =
          TruncateUtf16(description, kDiscordTotalMax > other ? kDiscordTotalMax - other : 1);
    }
  }
  size_t Chars() const {
    size_t n = Utf16Length(title) + Utf16Length(description) + Utf16Length(footer);
    for (const auto& f : fields) n += Utf16Length(f.name) + Utf16Length(f.value);
    return n;
  }
  void Write(JsonWriter& j) const {
    j.BeginObject();
    j.Field("title", title);
    if (!description.empty()) j.Field("description", description);
    j.Key("color").Uint(colour);
    if (!fields.empty()) {
      j.Key("fields").BeginArray();
      for (const auto& f : fields) {
        j.BeginObject()
            .Field("name", f.name)
            .Field("value", f.value)
            .Key("inline")
            .Bool(f.inline_)
            .EndObject();
      }
      j.EndArray();
    }
    if (!footer.empty()) j.Key("footer").BeginObject().Field("text", footer).EndObject();
    if (!timestamp.empty()) j.Field("timestamp", timestamp);
    j.EndObject();
  }
};

std::string NetworkOf(const AlertView& a) { return EvidenceNetwork(a.key, a.evidence); }
std::string TxOf(const AlertView& a) { return EvidenceTx(a.key, a.evidence); }

std::string TxLink(std::string_view network, std::string_view tx) {
  std::string url = ExplorerTxUrl(network, tx);
  if (url.empty()) return "`" + ShortHash(tx) + "`";
  return "[" + ShortHash(tx) + "](" + url + ")";
}

Embed AlertEmbed(const AlertView& a) {
  Embed e;
  const bool opened = a.opened();
  e.title = opened
                ? std::string(SeverityIcon(a.severity)) + " " + Upper(a.severity) + " · " + a.kind
                : "✅ RESOLVED · " + a.kind;
  if (opened && a.reopen_count > 0)
    e.title += " (re-opened ×" + std::to_string(a.reopen_count) + ")";
  e.colour = SeverityColour(a.severity, opened);
  e.description = a.message.empty() ? a.kind + " " + a.key : a.message;
  e.footer = "alert " + a.alert_id;
  e.timestamp = opened || a.resolved_at.empty() ? a.opened_at : a.resolved_at;
  e.fields.push_back({"Agent", a.agent_id.empty() ? "-" : a.agent_id, true});
  const std::string network = NetworkOf(a);
  if (!network.empty()) e.fields.push_back({"Network", DiscordNetworkName(network), true});
  for (const auto& [k, v] : a.evidence)
    if (IsAmountField(k)) e.fields.push_back({Pretty(k), Usdc(v), true});
  const std::string tx = TxOf(a);
  if (!tx.empty()) e.fields.push_back({"Tx", TxLink(network, tx), true});
  for (const auto& [k, v] : a.evidence) {
    if (IsAmountField(k) || k == "network" || k == "tx_hash") continue;
    e.fields.push_back({Pretty(k), IsTxHash(v) ? ShortHash(v) : v, true});
  }
  e.fields.push_back({"Opened at", a.opened_at, true});
  if (!opened && !a.resolved_at.empty()) e.fields.push_back({"Resolved at", a.resolved_at, true});
  e.Clamp();
  return e;
}

Embed StormEmbed(std::span<const AlertView> all, const std::vector<size_t>& idx) {
  const AlertView& first = all[idx.front()];
  const bool opened = first.opened();
  std::string worst = first.severity;
  std::map<std::string, size_t> agents, severities, networks;
  std::string first_at = first.opened_at, last_at = first.opened_at;
  Amount total{};
  bool have_total = false;
  for (size_t i : idx) {
    const AlertView& a = all[i];
    if (SeverityRank(a.severity) > SeverityRank(worst)) worst = a.severity;
    ++agents[a.agent_id];
    ++severities[a.severity];
    std::string n = NetworkOf(a);
    if (!n.empty()) ++networks[DiscordNetworkName(n)];
    first_at = std::min(first_at, a.opened_at);
    last_at = std::max(last_at, a.opened_at);
    for (const auto& [k, v] : a.evidence) {
      if (k != "amount") continue;
      if (auto amt = ParseAtomic(v, "amount")) {
        total = SaturatingAdd(total, *amt);  // exact u128
        have_total = true;
      }
      break;
    }
  }
  std::vector<std::pair<size_t, std::string>> by_count;
  for (const auto& [agent, n] : agents) by_count.emplace_back(n, agent);
  std::stable_sort(by_count.begin(), by_count.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  const std::string count = std::to_string(idx.size()) + " × " + first.kind;
  Embed e;
  e.title = opened ? std::string(SeverityIcon(worst)) + " " + Upper(worst) + " STORM · " + count
                   : "✅ RESOLVED · " + count;
  e.colour = SeverityColour(worst, opened);
  std::string list;
  for (size_t i = 0; i < by_count.size(); ++i) {
    list += (i ? ", " : "") + by_count[i].second;
    if (by_count[i].first > 1) list += " (" + std::to_string(by_count[i].first) + ")";
    if (list.size() > 3000) {
      list += " …";
      break;
    }
  }
  e.description = count + (opened ? "" : " resolved") + " for " + list;
  std::string sev;
  for (const char* s : {"critical", "warning", "info"}) {
    auto it = severities.find(s);
    if (it != severities.end())
      sev += (sev.empty() ? "" : ", ") + std::to_string(it->second) + " " + s;
  }
  e.fields.push_back({"Severity", sev, true});
  e.fields.push_back({"Agents", std::to_string(agents.size()), true});
  if (!networks.empty()) {
    std::string ns;
    for (const auto& [n, c] : networks)
      ns += (ns.empty() ? "" : ", ") + n + " (" + std::to_string(c) + ")";
    e.fields.push_back({"Networks", ns, true});
  }
  if (have_total) e.fields.push_back({"Amount total", ToUsdcString(total) + " USDC", true});
  e.fields.push_back({"First opened at", first_at, true});
  e.fields.push_back({"Last opened at", last_at, true});
  e.footer = std::to_string(idx.size()) +
             " alerts, each on x402.alerts with its alert_id; first alert " + first.alert_id;
  e.timestamp = last_at;
  e.Clamp();
  return e;
}

std::string Content(size_t alerts, const std::map<std::string, size_t>& sev, size_t resolved) {
  std::string s = "**" + std::to_string(alerts) + (alerts == 1 ? " alert**" : " alerts**");
  for (const char* k : {"critical", "warning", "info"}) {
    auto it = sev.find(k);
    if (it != sev.end()) s += " · " + std::to_string(it->second) + " " + k;
  }
  if (resolved) s += " · " + std::to_string(resolved) + " resolved";
  return TruncateUtf16(s, kDiscordContentMax);
}

struct Pending {
  std::vector<Embed> embeds;
  std::vector<size_t> alerts;
  std::map<std::string, size_t> sev;
  size_t resolved = 0, chars = 0;
  bool has_summary = false;
};

DiscordMessage Finish(Pending& p) {
  DiscordMessage m;
  JsonWriter j(&m.json);
  j.BeginObject();
  j.Field("content", Content(p.alerts.size(), p.sev, p.resolved));
  j.Key("embeds").BeginArray();
  for (const auto& e : p.embeds) e.Write(j);
  j.EndArray();
  j.Key("allowed_mentions").BeginObject().Key("parse").BeginArray().EndArray().EndObject();
  j.EndObject();
  m.alerts = std::move(p.alerts);
  m.embeds = p.embeds.size();
  m.has_summary = p.has_summary;
  p = Pending();
  return m;
}

}  // namespace

Result<AlertView> ParseAlertJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc))
    return Err(std::string("alert JSON: ") + simdjson::error_message(err));
  AlertView a;
  auto str = [](simdjson::dom::element e, const char* k, std::string* out) -> bool {
    std::string_view v;
    if (e[k].get_string().get(v)) return false;
    *out = std::string(v);
    return true;
  };
  simdjson::dom::element f;
  if (!str(doc, "alert_id", &a.alert_id) || !str(doc, "finding_id", &a.finding_id) ||
      !str(doc, "transition", &a.transition) || doc["finding"].get(f)) {
    return Err("alert JSON: expected alert_id, finding_id, transition and finding");
  }
  if (!str(f, "kind", &a.kind) || !str(f, "severity", &a.severity) ||
      !str(f, "agent_id", &a.agent_id) || !str(f, "key", &a.key) ||
      !str(f, "opened_at", &a.opened_at)) {
    return Err("alert JSON: finding: expected kind, severity, agent_id, key and opened_at");
  }
  (void)str(f, "resolved_at", &a.resolved_at);
  (void)str(f, "message", &a.message);
  simdjson::dom::object ev;
  if (!f["evidence"].get(ev)) {
    for (auto [k, v] : ev) {
      std::string_view s;
      if (!v.get_string().get(s)) a.evidence.emplace_back(std::string(k), std::string(s));
    }
  }
  size_t colon = a.alert_id.rfind(':');
  if (colon != std::string::npos) {
    uint64_t n = 0;
    for (char c : a.alert_id.substr(colon + 1)) {
      if (c < '0' || c > '9' || n > 100000000) break;
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    a.reopen_count = static_cast<uint32_t>(n);
  }
  return a;
}

size_t Utf16Length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    n += (c >= 0xF0) ? 2 : 1;          // 4-byte sequences are surrogate pairs in UTF-16
  }
  return n;
}

std::string TruncateUtf16(std::string_view s, size_t max_units) {
  if (Utf16Length(s) <= max_units) return std::string(s);
  if (max_units == 0) return std::string();
  const size_t budget = max_units - 1;  // room for "…" (one UTF-16 unit)
  size_t units = 0, cut = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
    size_t u = len == 4 ? 2 : 1;
    if (units + u > budget || i + len > s.size()) break;
    units += u;
    i += len;
    cut = i;
  }
  return std::string(s.substr(0, cut)) + "…";
}

bool IsAmountEvidence(std::string_view k) {
  static constexpr std::string_view kAmounts[] = {
      "amount",   "observed_amount", "expected_amount",     "spend",   "committed",
      "reserved", "limit",           "per_transaction_max", "balance", "threshold"};
  return std::find(std::begin(kAmounts), std::end(kAmounts), k) != std::end(kAmounts);
}

std::string EvidenceNetwork(std::string_view key,
                            std::span<const std::pair<std::string, std::string>> evidence) {
  for (const auto& [k, v] : evidence)
    if (k == "network") return v;
  auto parts = SplitKey(key);
  if (!parts.empty() && (parts[0].starts_with("eip155:") || parts[0].starts_with("solana:")))
    return std::string(parts[0]);
  return "";
}

std::string EvidenceTx(std::string_view key,
                       std::span<const std::pair<std::string, std::string>> evidence) {
  for (const auto& [k, v] : evidence)
    if (k == "tx_hash") return v;
  auto parts = SplitKey(key);
  if (parts.size() >= 2 && IsTxHash(parts[1])) return std::string(parts[1]);
  return "";
}

std::string ShortHash(std::string_view h) {
  if (h.size() <= 14 || !h.starts_with("0x")) return std::string(h);
  return std::string(h.substr(0, 6)) + "…" + std::string(h.substr(h.size() - 4));
}

std::string ExplorerTxUrl(std::string_view network, std::string_view tx) {
  const NetworkInfo* n = FindNetwork(network);
  if (!n || tx.empty()) return "";
  return std::string(n->tx_prefix) + std::string(tx) + n->tx_suffix;
}

std::string DiscordNetworkName(std::string_view network) {
  const NetworkInfo* n = FindNetwork(network);
  return n ? n->name : std::string(network);
}

std::vector<DiscordMessage> BuildDiscordMessages(std::span<const AlertView> alerts,
                                                 const DiscordFormatOptions& o) {
  // Storm groups: (kind, transition) with more than the threshold alerts.
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> groups;
  for (size_t i = 0; i < alerts.size(); ++i)
    groups[{alerts[i].kind, alerts[i].transition}].push_back(i);
  std::vector<const std::vector<size_t>*> storm_of(alerts.size(), nullptr);
  if (o.storm_threshold > 0) {
    for (const auto& [k, idx] : groups)
      if (idx.size() > o.storm_threshold)
        for (size_t i : idx) storm_of[i] = &idx;
  }
  std::vector<DiscordMessage> out;
  Pending p;
  auto add = [&](Embed e, const std::vector<size_t>& covered, bool summary) {
    const size_t chars = e.Chars();
    if (!p.embeds.empty() &&
        (p.embeds.size() >= kDiscordEmbedsMax || p.chars + chars > kDiscordTotalMax)) {
      out.push_back(Finish(p));
    }
    p.embeds.push_back(std::move(e));
    p.chars += chars;
    p.has_summary = p.has_summary || summary;
    for (size_t i : covered) {
      p.alerts.push_back(i);
      if (alerts[i].opened()) {
        ++p.sev[alerts[i].severity];
      } else {
        ++p.resolved;
      }
    }
  };
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (storm_of[i]) {
      if (storm_of[i]->front() == i) add(StormEmbed(alerts, *storm_of[i]), *storm_of[i], true);
      continue;
    }
    add(AlertEmbed(alerts[i]), {i}, false);
  }
  if (!p.embeds.empty()) out.push_back(Finish(p));
  return out;
}

DiscordMessage BuildMinimalDiscordMessage(const AlertView& a) {
  Embed e;
  e.title =
      TruncateUtf16((a.opened() ? std::string(SeverityIcon(a.severity)) + " " + Upper(a.severity)
                                : std::string("✅ RESOLVED")) +
                        " · " + a.kind,
                    kDiscordTitleMax);
  e.colour = SeverityColour(a.severity, a.opened());
  e.description = TruncateUtf16(a.message, 512);
  e.footer = TruncateUtf16("alert " + a.alert_id, kDiscordFooterMax);
  Pending p;
  p.embeds.push_back(std::move(e));
  p.alerts.push_back(0);
  if (a.opened()) {
    ++p.sev[a.severity];
  } else {
    ++p.resolved;
  }
  return Finish(p);
}

}  // namespace x402
