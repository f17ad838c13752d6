// Internal helpers shared by the projection source files. Not part of the interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "projections/finding.h"
#include "schemas/money.h"
#include "schemas/network.h"
#include "schemas/time.h"

namespace x402::internal {

inline uint32_t Bit(FindingKind k) { return 1u << static_cast<uint32_t>(k); }

// "0x1234…abcd" for messages.
inline std::string ShortHex(std::string_view h) {
  if (h.size() <= 14) return std::string(h);
  return std::string(h.substr(0, 6)) + "…" + std::string(h.substr(h.size() - 4));
}

inline std::string Usdc(Amount a) { return ToUsdcString(a) + " USDC"; }

inline std::string Duration(int64_t seconds) {
  if (seconds % 3600 == 0 && seconds >= 3600) return std::to_string(seconds / 3600) + " h";
  if (seconds % 60 == 0 && seconds >= 60) return std::to_string(seconds / 60) + " minutes";
  return std::to_string(seconds) + " s";
}

inline std::string Net(std::string_view network) { return NetworkDisplayName(network); }

}  // namespace x402::internal
