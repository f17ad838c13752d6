#include "schemas/money.h"

#include <algorithm>

namespace x402 {
namespace {

constexpr u128 kMax = ~u128(0);

std::string Quote(std::string_view text) {
  std::string out = "\"";
  out.append(text.substr(0, 64));
  if (text.size() > 64) out += "…";
  out += "\"";
  return out;
}

}  // namespace

std::optional<Amount> CheckedAdd(Amount a, Amount b) {
  if (kMax - a.v < b.v) return std::nullopt;
  return Amount{a.v + b.v};
}

std::optional<Amount> CheckedSub(Amount a, Amount b) {
  if (a.v < b.v) return std::nullopt;
  return Amount{a.v - b.v};
}

Amount SaturatingAdd(Amount a, Amount b) {
  auto r = CheckedAdd(a, b);
  return r ? *r : Amount{kMax};
}

Amount MulDiv(Amount a, uint64_t num, uint64_t den) {
  // 128x64 -> 192-bit product held as (hi:128, lo:64), then long division by den.
  const u128 lo_part = (a.v & 0xFFFFFFFFFFFFFFFFull) * num;
  const u128 hi_part = (a.v >> 64) * num + (lo_part >> 64);
  const uint64_t w0 = static_cast<uint64_t>(lo_part);
  // hi_part holds bits 64..191. Divide the 192-bit number by den, digit by digit (base 2^64).
  const uint64_t w2 = static_cast<uint64_t>(hi_part >> 64);
  const uint64_t w1 = static_cast<uint64_t>(hi_part);
  u128 rem = 0;
  uint64_t q[3];
  const uint64_t words[3] = {w2, w1, w0};
  for (int i = 0; i < 3; ++i) {
    const u128 cur = (rem << 64) | words[i];
    q[i] = static_cast<uint64_t>(cur / den);
    rem = cur % den;
  }
  if (q[0] != 0) return Amount{kMax};  // result does not fit: saturate
  return Amount{(u128(q[1]) << 64) | q[2]};
}

bool TryParseAtomic(std::string_view text, Amount* out) {
  if (text.empty() || text.size() > 38) return false;
  if (text.size() > 1 && text[0] == '0') return false;  // "00012": not canonical, refused
  // Up to 19 digits always fit in 64 bits: accumulate there, and go to 128 bits past that.
  const size_t head = std::min<size_t>(text.size(), 19);
  uint64_t lo = 0;
  for (size_t i = 0; i < head; ++i) {
    const unsigned d = static_cast<unsigned char>(text[i]) - unsigned{'0'};
    if (d > 9) return false;
    lo = lo * 10 + d;
  }
  u128 v = lo;
  for (size_t i = head; i < text.size(); ++i) {
    const unsigned d = static_cast<unsigned char>(text[i]) - unsigned{'0'};
    if (d > 9) return false;
    v = v * 10 + d;
  }
  out->v = v;
  return true;
}

Result<Amount> ParseAtomic(std::string_view text, std::string_view field) {
  Amount a;
  if (TryParseAtomic(text, &a)) return a;
  const bool digits =
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (text.size() > 38 && digits) {
    return Err(std::string(field) + ": amount has " + std::to_string(text.size()) +
               " digits, at most 38 allowed");
  }
  if (digits && text.size() > 1 && text[0] == '0') {
    return Err(std::string(field) + ": amount " + Quote(text) +
               " has a leading zero (write it without: a padded amount is not read as a number)");
  }
  return Err(std::string(field) + ": expected atomic-unit integer string, got " + Quote(text));
}

namespace {

// A decimal USDC string split at its point; false if it is not one (any digit count).
bool SplitUsdcDecimal(std::string_view text, std::string_view* whole, std::string_view* frac) {
  if (text.empty()) return false;
  size_t dot = text.find('.');
  *whole = text.substr(0, dot);
  *frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole->empty()) return false;
  if (dot != std::string_view::npos && frac->empty()) return false;
  for (char c : *whole)
    if (c < '0' || c > '9') return false;
  for (char c : *frac)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

bool TryParseUsdcDecimal(std::string_view text, Amount* out) {
  std::string_view whole, frac;
  if (!SplitUsdcDecimal(text, &whole, &frac)) return false;
  if (frac.size() > kUsdcDecimals || whole.size() > 32) return false;
  if (whole.size() > 1 && whole[0] == '0') return false;  // "007.25": not canonical, refused
  u128 v = 0;
  for (char c : whole) v = v * 10 + u128(c - '0');
  for (size_t i = 0; i < kUsdcDecimals; ++i)
    v = v * 10 + (i < frac.size() ? u128(frac[i] - '0') : 0);
  out->v = v;
  return true;
}

Result<Amount> ParseUsdcDecimal(std::string_view text, std::string_view field) {
  Amount a;
  if (TryParseUsdcDecimal(text, &a)) return a;
  std::string_view whole, frac;
  if (!SplitUsdcDecimal(text, &whole, &frac)) {
    return Err(std::string(field) + ": expected a decimal USDC string such as \"100.00\", got " +
               Quote(text));
  }
  if (frac.size() > kUsdcDecimals) {
    return Err(std::string(field) + ": " + Quote(text) + " has " + std::to_string(frac.size()) +
               " decimals, USDC has at most 6");
  }
  if (whole.size() > 1 && whole[0] == '0') {
    return Err(std::string(field) + ": " + Quote(text) +
               " has a leading zero (write it without: a padded amount is not read as a number)");
  }
  return Err(std::string(field) + ": " + Quote(text) + " is too large");
}

std::string ToAtomicString(Amount a) {
  if (a.v == 0) return "0";
  char buf[48];
  int n = 0;
  u128 v = a.v;
  while (v) {
    buf[n++] = char('0' + int(v % 10));
    v /= 10;
  }
  std::string out(n, '0');
  for (int i = 0; i < n; ++i) out[i] = buf[n - 1 - i];
  return out;
}

std::string ToUsdcString(Amount a) {
  const u128 whole = a.v / kUsdcScale;
  uint64_t frac = static_cast<uint64_t>(a.v % kUsdcScale);
  std::string out = ToAtomicString(Amount{whole});
  char f[7];
  for (int i = 5; i >= 0; --i) {
    f[i] = char('0' + frac % 10);
    frac /= 10;
  }
  out.push_back('.');
  out.append(f, 6);
  return out;
}

double ToUsdcDoubleForMetrics(Amount a) {
  return static_cast<double>(a.v / kUsdcScale) + static_cast<double>(a.v % kUsdcScale) / 1e6;
}

}  // namespace x402
