#include "schemas/network.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// Checks that src[0..n) are hex digits and writes them lowercased to dst[0..n); false if any is
// not. For a valid digit, b | 0x20 is its lowercase form ('0'..'9' already have that bit); the
// checks are unsigned range tests, b - '0' <= 9 or (b | 0x20) - 'a' <= 5, which no byte >= 0x80
// passes. Sixteen bytes at a time with SSE2 (every x86-64 has it), then eight in a 64-bit word:
// there, for a byte b < 0x80, b + (0x80 - lo) has its top bit set iff b >= lo, with no carry into
// the next byte; a byte >= 0x80 makes the value invalid anyway, so its carries don't matter.
bool LowerHex(const char* src, size_t n, char* dst) {
  size_t i = 0;
  bool ok = true;
#if defined(__SSE2__)
  const __m128i k20 = _mm_set1_epi8(0x20), k0 = _mm_set1_epi8('0'), ka = _mm_set1_epi8('a');
  const __m128i k9 = _mm_set1_epi8(9), k5 = _mm_set1_epi8(5);
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i l = _mm_or_si128(x, k20);
    const __m128i d = _mm_sub_epi8(x, k0), a = _mm_sub_epi8(l, ka);
    const __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, k9), d);
    const __m128i alpha = _mm_cmpeq_epi8(_mm_min_epu8(a, k5), a);
    ok &= _mm_movemask_epi8(_mm_or_si128(digit, alpha)) == 0xFFFF;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), l);
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x80 * kOnes;
  uint64_t bad = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    std::memcpy(&x, src + i, 8);
    const uint64_t l = x | (0x20 * kOnes);
    const uint64_t digit = (x + (0x80 - '0') * kOnes) & ~(x + (0x80 - '9' - 1) * kOnes);
    const uint64_t alpha = (l + (0x80 - 'a') * kOnes) & ~(l + (0x80 - 'f' - 1) * kOnes);
    bad |= (x | ~(digit | alpha)) & kHigh;
    std::memcpy(dst + i, &l, 8);
  }
  for (; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(src[i]);
    const unsigned char l = c | 0x20;
    bad |= !(static_cast<unsigned char>(c - '0') <= 9 || static_cast<unsigned char>(l - 'a') <= 5);
    dst[i] = static_cast<char>(l);
  }
  return ok && bad == 0;
}

Status HexError(std::string_view text, size_t hex_len, std::string_view field, const char* what) {
  return Err(std::string(field) + ": expected " + what + " (0x + " + std::to_string(hex_len) +
             " hex), got " + Shown(text));
}

// "0x" + hex_len hex digits (either case, "0X" too), written lowercased into *out.
Status HexValueTo(std::string_view text, size_t hex_len, std::string_view field, const char* what,
                  std::string* out) {
  if (text.size() != hex_len + 2 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return HexError(text, hex_len, field, what);
  }
  out->resize(hex_len + 2);
  char* dst = out->data();
  dst[0] = '0';
  dst[1] = 'x';
  if (!LowerHex(text.data() + 2, hex_len, dst + 2)) return HexError(text, hex_len, field, what);
  return Status::Ok();
}

Status Base58ValueTo(std::string_view text, size_t min, size_t max, std::string_view field,
                     const char* what, std::string* out) {
  bool ok = text.size() >= min && text.size() <= max;
  for (char c : text) ok = ok && IsBase58(c);
  if (!ok) return Err(std::string(field) + ": expected " + what + " (base58), got " + Shown(text));
  out->assign(text);
  return Status::Ok();
}

Result<std::string> ToResult(Status st, std::string value) {
  if (!st.ok()) return Err(st.error());
  return value;
}

}  // namespace

Status CanonicalNetworkTo(std::string_view text, std::string_view field, std::string* out) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {  // no name has a ':'
    for (const auto& n : kNetworks) {
      if (n.name == text) {
        out->assign(n.caip2);
        return Status::Ok();
      }
    }
  } else {
    // CAIP-2: namespace [-a-z0-9]{3,8} ":" reference [-_a-zA-Z0-9]{1,32}
    std::string_view ns = text.substr(0, colon), ref = text.substr(colon + 1);
    bool ok = ns.size() >= 3 && ns.size() <= 8 && !ref.empty() && ref.size() <= 32;
    for (char c : ns) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    for (char c : ref)
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_');
    // Only the namespaces the contract knows: an address or hash of another chain family
    // cannot be checked, so "cosmos:..." with 0x addresses is refused, not guessed at.
    ok = ok && (ns == "eip155" || ns == "solana");
    if (ok && ns == "eip155") {
      // Decimal chain id without leading zeros, so "eip155:08453" can't alias "eip155:8453",
      // and at most 4294967295: every registered EVM chain id is far below it.
      uint64_t id = 0;
      for (char c : ref) {
        ok = ok && c >= '0' && c <= '9';
        if (ok) id = id * 10 + static_cast<uint64_t>(c - '0');
        ok = ok && id <= 4294967295ull;
      }
      ok = ok && ref[0] != '0';
    }
    if (ok) {
      out->assign(text);
      return Status::Ok();
    }
  }
  return Err(std::string(field) + ": unknown network " + Shown(text) +
             " (expected an x402 network name such as \"base\" or a CAIP-2 id such as "
             "\"eip155:8453\")");
}

Result<std::string> CanonicalNetwork(std::string_view text, std::string_view field) {
  std::string out;
  Status st = CanonicalNetworkTo(text, field, &out);
  return ToResult(std::move(st), std::move(out));
}

bool IsSolana(std::string_view canonical_network) {
  return canonical_network.starts_with("solana:");
}

std::string NetworkDisplayName(std::string_view canonical_network) {
  for (const auto& n : kNetworks) {
    if (n.caip2 == canonical_network && n.name != "sepolia") return std::string(n.name);
  }
  return std::string(canonical_network);
}

Status CanonicalAddressTo(std::string_view text, bool solana, std::string_view field,
                          std::string* out) {
  if (solana) return Base58ValueTo(text, 32, 44, field, "address", out);
  return HexValueTo(text, 40, field, "address", out);
}

Status CanonicalHash32To(std::string_view text, bool solana, std::string_view field,
                         std::string* out) {
  if (solana) return Base58ValueTo(text, 32, 88, field, "hash", out);
  return HexValueTo(text, 64, field, "32-byte hex value", out);
}

Result<std::string> CanonicalAddress(std::string_view text, bool solana, std::string_view field) {
  std::string out;
  Status st = CanonicalAddressTo(text, solana, field, &out);
  return ToResult(std::move(st), std::move(out));
}

Result<std::string> CanonicalHash32(std::string_view text, bool solana, std::string_view field) {
  std::string out;
  Status st = CanonicalHash32To(text, solana, field, &out);
  return ToResult(std::move(st), std::move(out));
}

}  // namespace x402
