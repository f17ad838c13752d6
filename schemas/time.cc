#include "schemas/time.h"

#include <cstdio>

namespace x402 {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

namespace {

// The n digits at s[pos..), or -1 (also past the end).
inline int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned d = static_cast<unsigned char>(s[pos + i]) - unsigned{'0'};
    if (d > 9) return -1;
    v = v * 10 + static_cast<int>(d);
  }
  return v;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The grammar, once: nullptr and *out set, or why `s` is not an RFC 3339 time.
const char* ParseRfc3339Into(std::string_view s, TimeMs* out) {
  if (s.size() < 19) return "too short";
  const int Y = Digits(s, 0, 4), M = Digits(s, 5, 2), D = Digits(s, 8, 2);
  if (Y < 0 || s[4] != '-' || M < 0 || s[7] != '-' || D < 0) return "bad date";
  if (s[10] != 'T' && s[10] != 't') return "missing 'T'";
  const int h = Digits(s, 11, 2), mi = Digits(s, 14, 2);
  int sec = Digits(s, 17, 2);
  if (h < 0 || s[13] != ':' || mi < 0 || s[16] != ':' || sec < 0) return "bad time of day";
  if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > static_cast<int>(DaysInMonth(Y, M)))
    return "date out of range";
  if (h > 23 || mi > 59 || sec > 60) return "time of day out of range";
  const bool leap = sec == 60;
  if (leap) sec = 59;  // a leap second: clamped, event time has no leap seconds
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 3) millis = millis * 10 + (s[pos] - '0');
      ++pos;
    }
    size_t n = pos - start;
    if (n == 0) return "empty fraction";
    if (n > 9) return "fraction longer than nanoseconds";
    for (size_t i = n; i < 3; ++i) millis *= 10;
  }
  if (pos >= s.size()) return "missing 'Z' or offset";
  int64_t offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int oh = Digits(s, pos + 1, 2);
    if (oh < 0 || pos + 3 >= s.size() || s[pos + 3] != ':') return "bad offset";
    const int om = Digits(s, pos + 4, 2);
    if (om < 0 || oh > 23 || om > 59) return "bad offset";
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return "missing 'Z' or offset";
  }
  if (pos != s.size()) return "trailing characters";
  // Second 60 exists only as a leap second, inserted at 23:59:60 UTC.
  if (leap && (h * 60 + mi - offset_min + 1440) % 1440 != 1439)
    return "second 60 is only valid as a leap second, at 23:59:60 UTC";
  int64_t days = DaysFromCivil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  out->ms = secs * 1000 + millis;
  return nullptr;
}

}  // namespace

bool TryParseRfc3339(std::string_view text, TimeMs* out) {
  return ParseRfc3339Into(text, out) == nullptr;
}

Result<TimeMs> ParseRfc3339(std::string_view s, std::string_view field) {
  TimeMs t;
  if (const char* why = ParseRfc3339Into(s, &t)) {
    std::string shown(s.substr(0, 64));
    return Err(std::string(field) + ": expected RFC 3339 time (" + why + "), got \"" + shown +
               "\"");
  }
  return t;
}

std::string FormatRfc3339(TimeMs t) {
  int64_t days = FloorDiv(t.ms, 86400000);
  int64_t rem = t.ms - days * 86400000;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y),
                m, d, static_cast<int>(rem / 3600000), static_cast<int>(rem / 60000 % 60),
                static_cast<int>(rem / 1000 % 60), static_cast<int>(rem % 1000));
  return buf;
}

TimeMs DayStart(TimeMs t) { return TimeMs{FloorDiv(t.ms, 86400000) * 86400000}; }
TimeMs DayEnd(TimeMs t) { return TimeMs{DayStart(t).ms + 86400000}; }

TimeMs MonthStart(TimeMs t) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(FloorDiv(t.ms, 86400000), &y, &m, &d);
  return TimeMs{DaysFromCivil(y, m, 1) * 86400000};
}

TimeMs MonthEnd(TimeMs t) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(FloorDiv(t.ms, 86400000), &y, &m, &d);
  if (++m == 13) {
    m = 1;
    ++y;
  }
  return TimeMs{DaysFromCivil(y, m, 1) * 86400000};
}

std::string DayBucket(TimeMs t) { return FormatRfc3339(DayStart(t)).substr(0, 10); }
std::string MonthBucket(TimeMs t) { return FormatRfc3339(MonthStart(t)).substr(0, 7); }

}  // namespace x402
