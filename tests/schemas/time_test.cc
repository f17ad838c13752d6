// Event time (schemas/time.h): RFC 3339 parsing to UTC milliseconds, formatting, and the UTC
// day / month buckets budgets are kept in, across month, year and leap-year boundaries.
#include "schemas/time.h"

#include <gtest/gtest.h>

#include <string>

namespace x402 {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t k20251117T10 = 1'763'373'600'000;  // 2025-11-17T10:00:00Z

TimeMs At(const std::string& text) {
  auto r = ParseRfc3339(text, "time");
  EXPECT_TRUE(r.ok()) << text << ": " << r.error();
  return r.ok() ? *r : TimeMs{};
}

// --- ParseRfc3339 ------------------------------------------------------------------------

TEST(ParseRfc3339Test, ZuluTimeParsesToEpochMilliseconds) {
  EXPECT_EQ(At("2025-11-17T10:00:00Z").ms, k20251117T10);
  EXPECT_EQ(At("1970-01-01T00:00:00Z").ms, 0);
  EXPECT_EQ(At("2024-02-29T00:00:00Z").ms, 1'709'164'800'000);
}

TEST(ParseRfc3339Test, LowercaseSeparatorsAreAccepted) {
  EXPECT_EQ(At("2025-11-17t10:00:00z").ms, k20251117T10);
}

TEST(ParseRfc3339Test, PositiveOffsetConvertsToUtc) {
  EXPECT_EQ(At("2025-11-17T12:00:00+02:00").ms, k20251117T10);
}

TEST(ParseRfc3339Test, NegativeHalfHourOffsetConvertsToUtc) {
  EXPECT_EQ(At("2025-11-17T04:30:00-05:30").ms, k20251117T10);
}

TEST(ParseRfc3339Test, ZeroOffsetEqualsZulu) {
  EXPECT_EQ(At("2025-11-17T10:00:00+00:00"), At("2025-11-17T10:00:00Z"));
  EXPECT_EQ(At("2025-11-17T10:00:00-00:00"), At("2025-11-17T10:00:00Z"));
}

TEST(ParseRfc3339Test, OffsetCanMoveTheDateAcrossAYearBoundary) {
  EXPECT_EQ(FormatRfc3339(At("2025-01-01T00:30:00+01:00")), "2024-12-31T23:30:00.000Z");
  EXPECT_EQ(FormatRfc3339(At("2025-12-31T23:30:00-05:00")), "2026-01-01T04:30:00.000Z");
}

struct FractionCase {
  const char* text;
  int64_t millis;
};

class ParseRfc3339FractionTest : public testing::TestWithParam<FractionCase> {};

TEST_P(ParseRfc3339FractionTest, IsTruncatedToMilliseconds) {
  EXPECT_EQ(At(GetParam().text).ms, k20251117T10 + GetParam().millis);
}

INSTANTIATE_TEST_SUITE_P(Digits0To9, ParseRfc3339FractionTest,
                         testing::Values(FractionCase{"2025-11-17T10:00:00Z", 0},
                                         FractionCase{"2025-11-17T10:00:00.1Z", 100},
                                         FractionCase{"2025-11-17T10:00:00.12Z", 120},
                                         FractionCase{"2025-11-17T10:00:00.123Z", 123},
                                         FractionCase{"2025-11-17T10:00:00.1239Z", 123},
                                         FractionCase{"2025-11-17T10:00:00.123456789Z", 123},
                                         FractionCase{"2025-11-17T10:00:00.999999999Z",
                                                      999},  // not rounded up
                                         FractionCase{"2025-11-17T10:00:00.000Z", 0},
                                         FractionCase{"2025-11-17T12:00:00.5+02:00", 500}));

TEST(ParseRfc3339Test, LeapSecondIsClampedToTheMinutesLastSecond) {
  EXPECT_EQ(At("2016-12-31T23:59:60Z").ms, 1'483'228'799'000);
  EXPECT_EQ(At("2016-12-31T23:59:60.5Z").ms, 1'483'228'799'500);
  // The same leap second in another offset.
  EXPECT_EQ(At("2017-01-01T01:59:60+02:00").ms, 1'483'228'799'000);
}

TEST(ParseRfc3339Test, SecondSixtyIsOnlyALeapSecondAt235960Utc) {
  for (const char* text : {"2025-11-17T10:00:60.5Z", "2025-11-17T23:58:60Z",
                           "2016-12-31T23:59:60+01:00", "2025-11-17T00:00:60Z"}) {
    auto r = ParseRfc3339(text, "time");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().find("second 60 is only valid as a leap second, at 23:59:60 UTC"),
              std::string::npos)
        << r.error();
  }
}

struct BadTimeCase {
  const char* text;
  const char* why;
};

class ParseRfc3339RejectionTest : public testing::TestWithParam<BadTimeCase> {};

TEST_P(ParseRfc3339RejectionTest, IsRejectedWithFieldAndReason) {
  auto r = ParseRfc3339(GetParam().text, "data.block_time");
  ASSERT_FALSE(r.ok()) << GetParam().text << " accepted as " << FormatRfc3339(*r);
  EXPECT_EQ(r.error(), std::string("data.block_time: expected RFC 3339 time (") + GetParam().why +
                           "), got \"" + GetParam().text + "\"");
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ParseRfc3339RejectionTest,
    testing::Values(
        BadTimeCase{"", "too short"}, BadTimeCase{"2025-11-17", "too short"},
        BadTimeCase{"2025-11-17T10:00", "too short"},
        BadTimeCase{"2025-11-17T10:00:00", "missing 'Z' or offset"},
        BadTimeCase{"2025-11-17T10:00:00.123", "missing 'Z' or offset"},
        BadTimeCase{"2025-11-17 10:00:00Z", "missing 'T'"},
        BadTimeCase{"2025/11/17T10:00:00Z", "bad date"},
        BadTimeCase{"25-11-17T10:00:00Z+0", "bad date"},
        BadTimeCase{"2025-11-17T1:00:00ZZ", "bad time of day"},
        BadTimeCase{"2025-11-17T10.00.00Z", "bad time of day"},
        BadTimeCase{"2025-13-01T00:00:00Z", "date out of range"},
        BadTimeCase{"2025-00-10T00:00:00Z", "date out of range"},
        BadTimeCase{"2025-11-31T00:00:00Z", "date out of range"},
        BadTimeCase{"2025-02-29T00:00:00Z", "date out of range"},  // 2025 is not a leap year
        BadTimeCase{"2100-02-29T00:00:00Z", "date out of range"},  // nor is 2100
        BadTimeCase{"1969-12-31T23:59:59Z", "date out of range"},
        BadTimeCase{"2025-11-17T24:00:00Z", "time of day out of range"},
        BadTimeCase{"2025-11-17T10:60:00Z", "time of day out of range"},
        BadTimeCase{"2025-11-17T10:00:61Z", "time of day out of range"},
        BadTimeCase{"2025-11-17T10:00:00.Z", "empty fraction"},
        BadTimeCase{"2025-11-17T10:00:00.1234567891Z", "fraction longer than nanoseconds"},
        BadTimeCase{"2025-11-17T10:00:00+0200", "bad offset"},
        BadTimeCase{"2025-11-17T10:00:00+02", "bad offset"},
        BadTimeCase{"2025-11-17T10:00:00+24:00", "bad offset"},
        BadTimeCase{"2025-11-17T10:00:00+02:60", "bad offset"},
        BadTimeCase{"2025-11-17T10:00:00UTC", "missing 'Z' or offset"},
        BadTimeCase{"2025-11-17T10:00:00Z ", "trailing characters"},
        BadTimeCase{"2025-11-17T10:00:00+02:00Z", "trailing characters"}));

TEST(ParseRfc3339Test, LongBadTextIsClippedInTheMessage) {
  const std::string text = "2025-11-17T10:00:00Z" + std::string(100, 'x');
  auto r = ParseRfc3339(text, "time");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "time: expected RFC 3339 time (trailing characters), got \"" +
                           text.substr(0, 64) + "\"");
}

// --- FormatRfc3339 -----------------------------------------------------------------------

TEST(FormatRfc3339Test, AlwaysMillisecondsAndZulu) {
  EXPECT_EQ(FormatRfc3339(TimeMs{0}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(TimeMs{k20251117T10 + 123}), "2025-11-17T10:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(At("2025-11-17T12:00:00.5+02:00")), "2025-11-17T10:00:00.500Z");
}

TEST(FormatRfc3339Test, TimesBeforeTheEpochFloorCorrectly) {
  EXPECT_EQ(FormatRfc3339(TimeMs{-1}), "1969-12-31T23:59:59.999Z");
}

TEST(FormatRfc3339Test, RoundTripsThroughParse) {
  for (int64_t ms : {int64_t{0}, k20251117T10, k20251117T10 + 999, int64_t{1'709'251'199'999},
                     int64_t{951'782'400'000}, int64_t{253'402'300'799'999}}) {
    const std::string text = FormatRfc3339(TimeMs{ms});
    EXPECT_EQ(At(text).ms, ms) << text;
  }
}

TEST(TimeMsTest, PlusSecondsAddsMilliseconds) {
  EXPECT_EQ(TimeMs{1'000}.plus_seconds(900), TimeMs{901'000});
  EXPECT_EQ(TimeMs{1'000}.plus_seconds(-1), TimeMs{0});
}

// --- Civil date conversion ---------------------------------------------------------------

TEST(CivilDateTest, EveryDayFrom1970To2400RoundTripsAndIsConsecutive) {
  int64_t prev_y = 1969;
  unsigned prev_m = 12, prev_d = 31;
  const int64_t last = DaysFromCivil(2400, 12, 31);
  for (int64_t z = 0; z <= last; ++z) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(z, &y, &m, &d);
    ASSERT_EQ(DaysFromCivil(y, m, d), z);
    const bool next_day = y == prev_y && m == prev_m && d == prev_d + 1;
    const bool next_month = y == prev_y && m == prev_m + 1 && d == 1;
    const bool next_year = y == prev_y + 1 && m == 1 && d == 1 && prev_m == 12 && prev_d == 31;
    ASSERT_TRUE(next_day || next_month || next_year)
        << prev_y << "-" << prev_m << "-" << prev_d << " -> " << y << "-" << m << "-" << d;
    prev_y = y;
    prev_m = m;
    prev_d = d;
  }
  EXPECT_EQ(DaysFromCivil(2000, 3, 1) - DaysFromCivil(2000, 2, 28), 2);  // 2000 is leap
  EXPECT_EQ(DaysFromCivil(2100, 3, 1) - DaysFromCivil(2100, 2, 28), 1);  // 2100 is not
}

// --- Buckets -----------------------------------------------------------------------------

TEST(BucketTest, LeapDayIsItsOwnDayInFebruary) {
  const TimeMs t = At("2024-02-29T23:59:59.999Z");
  EXPECT_EQ(DayBucket(t), "2024-02-29");
  EXPECT_EQ(MonthBucket(t), "2024-02");
  EXPECT_EQ(DayStart(t), At("2024-02-29T00:00:00Z"));
  EXPECT_EQ(DayEnd(t), At("2024-03-01T00:00:00Z"));
  EXPECT_EQ(MonthStart(t), At("2024-02-01T00:00:00Z"));
  EXPECT_EQ(MonthEnd(t), At("2024-03-01T00:00:00Z"));
  EXPECT_EQ(MonthEnd(t).ms - MonthStart(t).ms, 29 * kDayMs);
}

TEST(BucketTest, FebruaryOfACommonYearHas28Days) {
  const TimeMs t = At("2025-02-28T12:00:00Z");
  EXPECT_EQ(DayEnd(t), At("2025-03-01T00:00:00Z"));
  EXPECT_EQ(MonthEnd(t), At("2025-03-01T00:00:00Z"));
  EXPECT_EQ(MonthEnd(t).ms - MonthStart(t).ms, 28 * kDayMs);
  const TimeMs c = At("2100-02-15T00:00:00Z");
  EXPECT_EQ(MonthEnd(c), At("2100-03-01T00:00:00Z"));
  const TimeMs q = At("2000-02-15T00:00:00Z");
  EXPECT_EQ(MonthEnd(q), At("2000-03-01T00:00:00Z"));
}

TEST(BucketTest, LastMillisecondOfTheYearEndsInTheNextYear) {
  const TimeMs t = At("2025-12-31T23:59:59.999Z");
  EXPECT_EQ(DayBucket(t), "2025-12-31");
  EXPECT_EQ(MonthBucket(t), "2025-12");
  EXPECT_EQ(DayEnd(t), At("2026-01-01T00:00:00Z"));
  EXPECT_EQ(MonthEnd(t), At("2026-01-01T00:00:00Z"));
  EXPECT_EQ(MonthStart(t), At("2025-12-01T00:00:00Z"));
}

TEST(BucketTest, MidnightBelongsToTheDayItStarts) {
  const TimeMs t = At("2026-01-01T00:00:00Z");
  EXPECT_EQ(DayBucket(t), "2026-01-01");
  EXPECT_EQ(MonthBucket(t), "2026-01");
  EXPECT_EQ(DayStart(t), t);
  EXPECT_EQ(MonthStart(t), t);
  EXPECT_EQ(DayEnd(t).ms, t.ms + kDayMs);
  const TimeMs before{t.ms - 1};
  EXPECT_EQ(DayBucket(before), "2025-12-31");
  EXPECT_EQ(DayEnd(before), t);
  EXPECT_EQ(MonthEnd(before), t);
}

TEST(BucketTest, ThirtyAndThirtyOneDayMonths) {
  EXPECT_EQ(MonthEnd(At("2025-04-30T23:00:00Z")), At("2025-05-01T00:00:00Z"));
  EXPECT_EQ(MonthEnd(At("2025-01-31T23:00:00Z")), At("2025-02-01T00:00:00Z"));
  EXPECT_EQ(MonthBucket(At("2025-05-01T00:00:00Z")), "2025-05");
}

TEST(BucketTest, BucketsAreUtcNotTheOffsetsLocalDate) {
  // 01:00 at +02:00 is still the previous day (and month, and year) in UTC.
  const TimeMs t = At("2026-01-01T01:00:00+02:00");
  EXPECT_EQ(DayBucket(t), "2025-12-31");
  EXPECT_EQ(MonthBucket(t), "2025-12");
  const TimeMs late = At("2025-11-17T23:30:00-05:00");
  EXPECT_EQ(DayBucket(late), "2025-11-18");
}

TEST(BucketTest, EpochBucket) {
  EXPECT_EQ(DayBucket(TimeMs{0}), "1970-01-01");
  EXPECT_EQ(MonthBucket(TimeMs{0}), "1970-01");
  EXPECT_EQ(MonthEnd(TimeMs{0}), At("1970-02-01T00:00:00Z"));
}

// --- TryParseRfc3339 (the decoder's form) --------------------------------------------------

TEST(TryParseRfc3339Test, AgreesWithParseRfc3339) {
  for (const char* text :
       {"2025-11-17T10:00:00.123Z", "2025-11-17T12:05:00.5+02:00", "2025-11-17t10:00:00z",
        "2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z", "2025-11-17T10:00:60Z",
        "2025-11-17T10:00:00", "2025-11-17 10:00:00Z", "2025-11-17T10:00:00.Z",
        "2025-11-17T10:00:00.1234567890Z", "2025-11-17T10:00:00+0200", "2025-11-17T10:00:00+02",
        "1969-12-31T23:59:59Z", "2025-13-01T00:00:00Z", "2025-11-17T24:00:00Z", "", "2025",
        "2025-11-17T10:00:00Zx", "9999-12-31T23:59:59.999-23:59"}) {
    auto r = ParseRfc3339(text, "time");
    TimeMs t{42};
    ASSERT_EQ(TryParseRfc3339(text, &t), r.ok()) << text;
    if (r.ok()) {
      EXPECT_EQ(t, *r) << text;
    }
  }
}

}  // namespace
}  // namespace x402
