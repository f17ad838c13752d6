// Internal helpers shared by the projection source files. Not part of the interface.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
    for (auto& p : plan_) {
      if (p.deadline == deadline.ms && p.kind == kind) {
        p.want = p.want || want;
        return;
      }
    }
    plan_.push_back({deadline.ms, kind, want});
  }
  // In (deadline, kind) order, as the plan always was applied.
  void Apply(ApplyContext& ctx, std::string_view key) {
    std::sort(plan_.begin(), plan_.end(), [](const Item& a, const Item& b) {
      return a.deadline != b.deadline ? a.deadline < b.deadline : a.kind < b.kind;
    });
    for (const auto& p : plan_) {
      if (p.want) {
        ctx.schedule(TimeMs{p.deadline}, p.kind, key);
      } else {
        ctx.unschedule(TimeMs{p.deadline}, p.kind, key);
      }
    }
  }

 private:
  struct Item {
    int64_t deadline;
    TimerKind kind;
    bool want;
  };
  // A handful of timers per evaluation: a vector searched linearly beats a map's nodes.
  std::vector<Item> plan_;
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
