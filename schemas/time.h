// Event time: milliseconds since the Unix epoch, UTC. RFC 3339 parsing (Z or numeric offset,
// optional fraction truncated to milliseconds) and formatting ("2025-11-17T10:00:00.123Z"),
// plus the UTC day / month buckets budgets use. Pure functions; thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "schemas/result.h"

namespace x402 {

// A point in event time (ms since epoch, UTC). A strong type so it can't be mixed up with
// offsets, unix seconds or durations.
struct TimeMs {
  int64_t ms = 0;
  constexpr auto operator<=>(const TimeMs&) const = default;
  constexpr TimeMs plus_seconds(int64_t s) const { return TimeMs{ms + s * 1000}; }
};

inline constexpr TimeMs kTimeMin{INT64_MIN};

// Parses RFC 3339 ("2025-11-17T10:00:00.123Z", "2025-11-17T12:00:00+02:00"). Lowercase 't'/'z'
// are accepted as RFC 3339 allows. Years 1970..9999.
Result<TimeMs> ParseRfc3339(std::string_view text, std::string_view field);
// The same for hot paths (the event decoder): true and *out set exactly when ParseRfc3339
// succeeds; on false, ParseRfc3339 gives the reason. No Result, no message.
[[nodiscard]] bool TryParseRfc3339(std::string_view text, TimeMs* out);

// "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string FormatRfc3339(TimeMs t);

// Days since epoch <-> civil date (Howard Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d);

// UTC day bucket: "2025-11-17"; month bucket: "2025-11".
std::string DayBucket(TimeMs t);
std::string MonthBucket(TimeMs t);
// [start, end) of the day / month containing t.
TimeMs DayStart(TimeMs t);
TimeMs DayEnd(TimeMs t);
TimeMs MonthStart(TimeMs t);
TimeMs MonthEnd(TimeMs t);

}  // namespace x402
