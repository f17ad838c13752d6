// Internal helpers shared by the projection source files. Not part of the interface.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "projections/finding.h"
#include "projections/state.h"
#include "schemas/money.h"
#include "schemas/network.h"
#include "schemas/time.h"

namespace x402::internal {

// Collects the timer decisions of one evaluation: timers of different entities of the same
// key can share a deadline, so a timer is kept if any of them still needs it.
class TimerPlan {
 public:
  void Want(TimeMs deadline, TimerKind kind, bool want) {
    bool& w = plan_[{deadline.ms, kind}];
    w = w || want;
  }
  void Apply(ApplyContext& ctx, std::string_view key) const {
    for (const auto& [dk, want] : plan_) {
      if (want) {
        ctx.schedule(TimeMs{dk.first}, dk.second, key);
      } else {
        ctx.unschedule(TimeMs{dk.first}, dk.second, key);
      }
    }
  }

 private:
  std::map<std::pair<int64_t, TimerKind>, bool> plan_;
};

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
