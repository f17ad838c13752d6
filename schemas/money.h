// Exact money. Amounts are token atomic units (USDC: 6 decimals, "1500000" = 1.50 USDC) held
// in an unsigned 128-bit integer. No floating point anywhere in the money path: parsing,
// arithmetic, state and formatting are all integer. 38 decimal digits always fit in 128 bits.
// Thread-safety: value types and pure functions.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/result.h"

namespace x402 {

using u128 = unsigned __int128;

inline constexpr int kUsdcDecimals = 6;
inline constexpr uint64_t kUsdcScale = 1'000'000;

// Atomic units of a token. Arithmetic is checked: the caller decides what overflow means.
struct Amount {
  u128 v = 0;
  constexpr auto operator<=>(const Amount&) const = default;

  static constexpr Amount Usdc(uint64_t whole) { return Amount{u128(whole) * kUsdcScale}; }
  bool is_zero() const { return v == 0; }
};

// Checked arithmetic; nullopt on overflow / underflow.
std::optional<Amount> CheckedAdd(Amount a, Amount b);
std::optional<Amount> CheckedSub(Amount a, Amount b);
// a * num / den, rounded down, exact in 256-bit intermediate arithmetic. REQUIRES: den > 0.
Amount MulDiv(Amount a, uint64_t num, uint64_t den);
// Saturating add (for counters that must never wrap).
Amount SaturatingAdd(Amount a, Amount b);

// Parses an atomic-unit integer string: 1..38 ASCII digits, no sign, no fraction, no
// exponent, no spaces. `field` names the field in the error, e.g. "data.amount".
Result<Amount> ParseAtomic(std::string_view text, std::string_view field);

// Parses a decimal USDC string ("100", "100.5", "0.000001"): digits, optionally a point and
// 1..6 fraction digits. More than 6 decimals is an error, never a rounding.
Result<Amount> ParseUsdcDecimal(std::string_view text, std::string_view field);

// The same two parsers for hot paths (the event decoder): true and *out set when the matching
// Parse* above would succeed with that value; false (*out unspecified) when it would fail, and
// then Parse* gives the reason. No Result, no message, nothing allocated.
[[nodiscard]] bool TryParseAtomic(std::string_view text, Amount* out);
[[nodiscard]] bool TryParseUsdcDecimal(std::string_view text, Amount* out);

// Plain decimal atomic units: "1500000".
std::string ToAtomicString(Amount a);
// Decimal USDC with all 6 fraction digits: 1500000 -> "1.500000", 1234567 -> "1.234567",
// 0 -> "0.000000". The one format of money in every human-facing output (finding messages,
// Markdown and HTML reports, Discord, the API's "usdc" strings): exact, and columns of it
// align (issue 16 chose this over 2 decimals, which would hide sub-cent x402 prices).
std::string ToUsdcString(Amount a);
// Lossy conversion for Prometheus sample values only (never for money decisions).
double ToUsdcDoubleForMetrics(Amount a);

}  // namespace x402
