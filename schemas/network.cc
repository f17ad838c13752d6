#include "schemas/network.h"

#include <array>
#include <utility>

namespace x402 {
namespace {

struct NamedNetwork {
  std::string_view name;
  std::string_view caip2;
};

// x402 v1 network names and their CAIP-2 ids.
constexpr std::array<NamedNetwork, 22> kNetworks = {{
    {"base", "eip155:8453"},
    {"base-sepolia", "eip155:84532"},
    {"ethereum", "eip155:1"},
    {"ethereum-sepolia", "eip155:11155111"},
    {"sepolia", "eip155:11155111"},
    {"polygon", "eip155:137"},
    {"polygon-amoy", "eip155:80002"},
    {"avalanche", "eip155:43114"},
    {"avalanche-fuji", "eip155:43113"},
    {"arbitrum", "eip155:42161"},
    {"arbitrum-sepolia", "eip155:421614"},
    {"optimism", "eip155:10"},
    {"optimism-sepolia", "eip155:11155420"},
    {"sei", "eip155:1329"},
    {"sei-testnet", "eip155:1328"},
    {"iotex", "eip155:4689"},
    {"peaq", "eip155:3338"},
    {"story", "eip155:1514"},
    {"educhain", "eip155:41923"},
    {"skale-base-sepolia", "eip155:324705682"},
    {"solana", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"},
    {"solana-devnet", "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"},
}};

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
bool IsBase58(char c) {
  return (c >= '1' && c <= '9') || (c >= 'A' && c <= 'H') || (c >= 'J' && c <= 'N') ||
         (c >= 'P' && c <= 'Z') || (c >= 'a' && c <= 'k') || (c >= 'm' && c <= 'z');
}

std::string Shown(std::string_view s) {
  std::string out = "\"";
  out.append(s.substr(0, 100));
  if (s.size() > 100) out += "…";
  return out + "\"";
}

Result<std::string> HexValue(std::string_view text, size_t hex_len, std::string_view field,
                             const char* what) {
  if (text.size() != hex_len + 2 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return Err(std::string(field) + ": expected " + what + " (0x + " + std::to_string(hex_len) +
               " hex), got " + Shown(text));
  }
  std::string out = "0x";
  out.reserve(hex_len + 2);
  for (size_t i = 2; i < text.size(); ++i) {
    if (!IsHex(text[i])) {
      return Err(std::string(field) + ": expected " + what + " (0x + " + std::to_string(hex_len) +
                 " hex), got " + Shown(text));
    }
    out.push_back(Lower(text[i]));
  }
  return out;
}

Result<std::string> Base58Value(std::string_view text, size_t min, size_t max, std::string_view field,
                                const char* what) {
  bool ok = text.size() >= min && text.size() <= max;
  for (char c : text) ok = ok && IsBase58(c);
  if (!ok) return Err(std::string(field) + ": expected " + what + " (base58), got " + Shown(text));
  return std::string(text);
}

}  // namespace

Result<std::string> CanonicalNetwork(std::string_view text, std::string_view field) {
  for (const auto& n : kNetworks) {
    if (n.name == text) return std::string(n.caip2);
  }
  // CAIP-2: namespace [-a-z0-9]{3,8} ":" reference [-_a-zA-Z0-9]{1,32}
  size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    std::string_view ns = text.substr(0, colon), ref = text.substr(colon + 1);
    bool ok = ns.size() >= 3 && ns.size() <= 8 && !ref.empty() && ref.size() <= 32;
    for (char c : ns) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    for (char c : ref)
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_');
    if (ok && ns == "eip155") {
      // Decimal chain id without leading zeros, so "eip155:08453" can't alias "eip155:8453".
      for (char c : ref) ok = ok && c >= '0' && c <= '9';
      ok = ok && ref[0] != '0';
    }
    if (ok) return std::string(text);
  }
  return Err(std::string(field) + ": unknown network " + Shown(text) +
             " (expected an x402 network name such as \"base\" or a CAIP-2 id such as \"eip155:8453\")");
}

bool IsSolana(std::string_view canonical_network) { return canonical_network.starts_with("solana:"); }

std::string NetworkDisplayName(std::string_view canonical_network) {
  for (const auto& n : kNetworks) {
    if (n.caip2 == canonical_network && n.name != "sepolia") return std::string(n.name);
  }
  return std::string(canonical_network);
}

Result<std::string> CanonicalAddress(std::string_view text, bool solana, std::string_view field) {
  if (solana) return Base58Value(text, 32, 44, field, "address");
  return HexValue(text, 40, field, "address");
}

Result<std::string> CanonicalHash32(std::string_view text, bool solana, std::string_view field) {
  if (solana) return Base58Value(text, 32, 88, field, "hash");
  return HexValue(text, 64, field, "32-byte hex value");
}

}  // namespace x402
