// Exact money (schemas/money.h): atomic-unit and decimal-USDC parsing, checked arithmetic,
// MulDiv in wide intermediate arithmetic, and formatting. No floating point may leak into any
// of it, so every expectation here is an exact integer or string.
#include "schemas/money.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace x402 {
namespace {

constexpr u128 kU128Max = ~u128(0);

// 10^38 - 1: the largest 38-digit amount.
u128 ThirtyEightNines() {
  u128 v = 0;
  for (int i = 0; i < 38; ++i) v = v * 10 + 9;
  return v;
}

std::string Str(u128 v) { return ToAtomicString(Amount{v}); }

// --- ParseAtomic -------------------------------------------------------------------------

TEST(ParseAtomicTest, ZeroParses) {
  auto r = ParseAtomic("0", "data.amount");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->v, u128(0));
  EXPECT_TRUE(r->is_zero());
}

TEST(ParseAtomicTest, TypicalAmountParses) {
  auto r = ParseAtomic("1500000", "data.amount");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->v, u128(1500000));
}

TEST(ParseAtomicTest, LeadingZerosAreRefused) {
  // "000123" is not read as 123: a padded amount is a producer's bug, and two spellings of one
  // amount would be two payment records' worth of confusion (schemas/README.md).
  for (const std::string& text :
       {std::string("000123"), std::string("00"), std::string(37, '0') + "7"}) {
    auto r = ParseAtomic(text, "data.amount");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().find("has a leading zero"), std::string::npos) << r.error();
  }
  EXPECT_TRUE(ParseAtomic("0", "data.amount").ok());
}

TEST(ParseAtomicTest, ThirtyEightNinesIsTheExactMaximum) {
  const std::string text(38, '9');
  auto r = ParseAtomic(text, "data.amount");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->v, ThirtyEightNines());
  EXPECT_EQ(ToAtomicString(*r), "99999999999999999999999999999999999999");
}

TEST(ParseAtomicTest, ThirtyNineDigitsIsRejectedWithTheDigitCount) {
  auto r = ParseAtomic("1" + std::string(38, '0'), "data.amount");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "data.amount: amount has 39 digits, at most 38 allowed");
  auto zeros = ParseAtomic(std::string(39, '0'), "data.balance");
  ASSERT_FALSE(zeros.ok());
  EXPECT_EQ(zeros.error(), "data.balance: amount has 39 digits, at most 38 allowed");
}

struct BadAtomicCase {
  const char* text;
  const char* error;
};

class ParseAtomicRejectionTest : public testing::TestWithParam<BadAtomicCase> {};

TEST_P(ParseAtomicRejectionTest, IsRejectedWithTheFieldNameAndTheText) {
  auto r = ParseAtomic(GetParam().text, "data.amount");
  ASSERT_FALSE(r.ok()) << "accepted \"" << GetParam().text << "\" as " << Str(r->v);
  EXPECT_EQ(r.error(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    SignFractionExponentSpaceEmpty, ParseAtomicRejectionTest,
    testing::Values(
        BadAtomicCase{"", "data.amount: expected atomic-unit integer string, got \"\""},
        BadAtomicCase{"-1", "data.amount: expected atomic-unit integer string, got \"-1\""},
        BadAtomicCase{"+1", "data.amount: expected atomic-unit integer string, got \"+1\""},
        BadAtomicCase{"1.5", "data.amount: expected atomic-unit integer string, got \"1.5\""},
        BadAtomicCase{"1.0", "data.amount: expected atomic-unit integer string, got \"1.0\""},
        BadAtomicCase{"1e6", "data.amount: expected atomic-unit integer string, got \"1e6\""},
        BadAtomicCase{"1E6", "data.amount: expected atomic-unit integer string, got \"1E6\""},
        BadAtomicCase{" 1", "data.amount: expected atomic-unit integer string, got \" 1\""},
        BadAtomicCase{"1 ", "data.amount: expected atomic-unit integer string, got \"1 \""},
        BadAtomicCase{"1_000", "data.amount: expected atomic-unit integer string, got \"1_000\""},
        BadAtomicCase{"0x10", "data.amount: expected atomic-unit integer string, got \"0x10\""},
        BadAtomicCase{"NaN", "data.amount: expected atomic-unit integer string, got \"NaN\""}));

TEST(ParseAtomicTest, LongNonDigitTextIsRejectedAndClipped) {
  const std::string text = std::string(100, '1') + "x";
  auto r = ParseAtomic(text, "data.amount");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "data.amount: expected atomic-unit integer string, got \"" +
                           std::string(64, '1') + "…\"");
}

// --- ParseUsdcDecimal --------------------------------------------------------------------

TEST(ParseUsdcDecimalTest, WholeNumberIsScaledToAtomicUnits) {
  auto r = ParseUsdcDecimal("100", "daily_limit");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->v, u128(100'000'000));
}

TEST(ParseUsdcDecimalTest, TrailingZeroDecimalsAreTheSameAmount) {
  auto a = ParseUsdcDecimal("100.00", "daily_limit");
  auto b = ParseUsdcDecimal("100.000000", "daily_limit");
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(a->v, u128(100'000'000));
  EXPECT_EQ(*a, *b);
}

TEST(ParseUsdcDecimalTest, SmallestUnitParses) {
  auto r = ParseUsdcDecimal("0.000001", "per_transaction_max");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->v, u128(1));
}

TEST(ParseUsdcDecimalTest, FractionIsPaddedNotShifted) {
  auto r = ParseUsdcDecimal("10.5", "x");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->v, u128(10'500'000));
  // Leading zeros are refused, not read as a number (schemas/README.md, "Canonical input").
  auto lead = ParseUsdcDecimal("007.25", "x");
  ASSERT_FALSE(lead.ok());
  EXPECT_EQ(lead.error(),
            "x: \"007.25\" has a leading zero (write it without: a padded amount is not read as "
            "a number)");
  EXPECT_TRUE(ParseUsdcDecimal("0.25", "x").ok());
  auto atomic = ParseAtomic("00012", "data.amount");
  ASSERT_FALSE(atomic.ok());
  EXPECT_NE(atomic.error().find("leading zero"), std::string::npos) << atomic.error();
  EXPECT_TRUE(ParseAtomic("0", "data.amount").ok());
}

TEST(ParseUsdcDecimalTest, SevenDecimalsIsAnErrorNotARounding) {
  auto r = ParseUsdcDecimal("0.0000001", "data.daily_limit");
  ASSERT_FALSE(r.ok()) << "rounded to " << Str(r->v);
  EXPECT_EQ(r.error(), "data.daily_limit: \"0.0000001\" has 7 decimals, USDC has at most 6");
  auto up = ParseUsdcDecimal("1.9999999", "data.daily_limit");
  ASSERT_FALSE(up.ok()) << "rounded to " << Str(up->v);
  EXPECT_EQ(up.error(), "data.daily_limit: \"1.9999999\" has 7 decimals, USDC has at most 6");
}

TEST(ParseUsdcDecimalTest, LargestAmountFitsAndOneMoreDigitIsTooLarge) {
  auto r = ParseUsdcDecimal(std::string(32, '9') + ".999999", "x");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->v, ThirtyEightNines());
  auto big = ParseUsdcDecimal(std::string(33, '9'), "x");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error(), "x: \"" + std::string(33, '9') + "\" is too large");
}

class ParseUsdcDecimalRejectionTest : public testing::TestWithParam<const char*> {};

TEST_P(ParseUsdcDecimalRejectionTest, IsRejectedWithTheFieldName) {
  const std::string text = GetParam();
  auto r = ParseUsdcDecimal(text, "data.monthly_limit");
  ASSERT_FALSE(r.ok()) << "accepted \"" << text << "\" as " << Str(r->v);
  EXPECT_EQ(r.error(),
            "data.monthly_limit: expected a decimal USDC string such as \"100.00\", got \"" + text +
                "\"");
}

INSTANTIATE_TEST_SUITE_P(Malformed, ParseUsdcDecimalRejectionTest,
                         testing::Values(".5", "5.", "-1", "+1", "1e3", "", ".", "1,5", " 1", "1 ",
                                         "1.2.3", "1.-5", "0x10", "ten"));

// --- Arithmetic --------------------------------------------------------------------------

TEST(CheckedArithmeticTest, AddWithinRange) {
  auto r = CheckedAdd(Amount{1'500'000}, Amount{250'000});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->v, u128(1'750'000));
}

TEST(CheckedArithmeticTest, AddOverflowIsReportedNotWrapped) {
  EXPECT_FALSE(CheckedAdd(Amount{kU128Max}, Amount{1}).has_value());
  EXPECT_FALSE(CheckedAdd(Amount{kU128Max / 2 + 1}, Amount{kU128Max / 2 + 1}).has_value());
  auto edge = CheckedAdd(Amount{kU128Max - 1}, Amount{1});
  ASSERT_TRUE(edge.has_value());
  EXPECT_EQ(edge->v, kU128Max);
}

TEST(CheckedArithmeticTest, SubUnderflowIsReportedNotWrapped) {
  EXPECT_FALSE(CheckedSub(Amount{0}, Amount{1}).has_value());
  EXPECT_FALSE(CheckedSub(Amount{1'000'000}, Amount{1'000'001}).has_value());
  auto zero = CheckedSub(Amount{1'000'000}, Amount{1'000'000});
  ASSERT_TRUE(zero.has_value());
  EXPECT_TRUE(zero->is_zero());
}

TEST(CheckedArithmeticTest, SaturatingAddStopsAtTheMaximum) {
  EXPECT_EQ(SaturatingAdd(Amount{kU128Max}, Amount{5}).v, kU128Max);
  EXPECT_EQ(SaturatingAdd(Amount{2}, Amount{3}).v, u128(5));
}

TEST(AmountTest, UsdcConstructorScalesWholeUnits) {
  EXPECT_EQ(Amount::Usdc(100).v, u128(100'000'000));
  EXPECT_EQ(Amount::Usdc(0), Amount{});
  EXPECT_LT(Amount{1}, Amount{2});
}

TEST(MulDivTest, PercentOfLimitIsExact) {
  // 95 % of 100 USDC.
  EXPECT_EQ(MulDiv(Amount::Usdc(100), 95, 100), Amount::Usdc(95));
  EXPECT_EQ(MulDiv(Amount{1'500'000}, 9'500, 10'000).v, u128(1'425'000));
}

TEST(MulDivTest, RoundsDown) {
  EXPECT_EQ(MulDiv(Amount{1}, 1, 3).v, u128(0));
  EXPECT_EQ(MulDiv(Amount{10}, 2, 3).v, u128(6));
  EXPECT_EQ(MulDiv(Amount{2}, 2, 3).v, u128(1));
}

TEST(MulDivTest, IntermediateProductWiderThan128BitsIsExact) {
  const Amount n{ThirtyEightNines()};
  // (10^38 - 1) * 10000 does not fit in 128 bits; the quotient does.
  EXPECT_EQ(MulDiv(n, 10'000, 10'000), n);
  EXPECT_EQ(Str(MulDiv(n, 9'999, 10'000).v), "99989999999999999999999999999999999999");
  EXPECT_EQ(Str(MulDiv(n, 3, 7).v), "42857142857142857142857142857142857142");
  EXPECT_EQ(Str(MulDiv(Amount{kU128Max}, 12'345, 67'890).v),
            "61876356159065920333706871833041369427");
  EXPECT_EQ(MulDiv(Amount{kU128Max}, UINT64_MAX, UINT64_MAX).v, kU128Max);
}

TEST(MulDivTest, ResultTooLargeSaturates) {
  EXPECT_EQ(MulDiv(Amount{kU128Max}, 2, 1).v, kU128Max);
  EXPECT_EQ(MulDiv(Amount{kU128Max / 2 + 1}, 2, 1).v, kU128Max);
}

TEST(MulDivTest, ZeroTimesAnythingIsZero) {
  EXPECT_TRUE(MulDiv(Amount{0}, UINT64_MAX, 1).is_zero());
  EXPECT_TRUE(MulDiv(Amount{12345}, 0, 7).is_zero());
}

// --- Formatting --------------------------------------------------------------------------

TEST(ToAtomicStringTest, PlainDecimalDigits) {
  EXPECT_EQ(ToAtomicString(Amount{0}), "0");
  EXPECT_EQ(ToAtomicString(Amount{1'500'000}), "1500000");
  EXPECT_EQ(ToAtomicString(Amount{kU128Max}), "340282366920938463463374607431768211455");
}

struct UsdcFormatCase {
  u128 atomic;
  const char* text;
};

class ToUsdcStringTest : public testing::TestWithParam<UsdcFormatCase> {};

TEST_P(ToUsdcStringTest, KeepsAllSixDecimals) {
  EXPECT_EQ(ToUsdcString(Amount{GetParam().atomic}), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Values, ToUsdcStringTest,
    testing::Values(UsdcFormatCase{1'500'000, "1.500000"}, UsdcFormatCase{1'234'567, "1.234567"},
                    UsdcFormatCase{0, "0.000000"}, UsdcFormatCase{1, "0.000001"},
                    UsdcFormatCase{10, "0.000010"}, UsdcFormatCase{100'000, "0.100000"},
                    UsdcFormatCase{1'000'000, "1.000000"}, UsdcFormatCase{1'230'000, "1.230000"},
                    UsdcFormatCase{1'234'000, "1.234000"},
                    UsdcFormatCase{100'000'000, "100.000000"},
                    UsdcFormatCase{ThirtyEightNines(), "99999999999999999999999999999999.999999"},
                    UsdcFormatCase{kU128Max, "340282366920938463463374607431768.211455"}));

TEST(ToUsdcStringTest, RoundTripsThroughParseUsdcDecimal) {
  for (u128 v : {u128(0), u128(1), u128(999'999), u128(1'500'000), u128(123'456'789'012),
                 ThirtyEightNines()}) {
    auto r = ParseUsdcDecimal(ToUsdcString(Amount{v}), "x");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->v, v) << Str(v);
  }
}

TEST(ToUsdcDoubleForMetricsTest, ApproximatesForMetricsOnly) {
  EXPECT_DOUBLE_EQ(ToUsdcDoubleForMetrics(Amount{1'500'000}), 1.5);
  EXPECT_DOUBLE_EQ(ToUsdcDoubleForMetrics(Amount{0}), 0.0);
}

// The allocation-free parsers the decoder uses must accept exactly what the Result forms accept,
// with the same value: one grammar, two entry points.
TEST(TryParseTest, AgreesWithTheResultForms) {
  std::vector<std::string> inputs = {std::string(38, '9'), std::string(39, '0'),
                                     std::string(32, '9') + ".999999", std::string(33, '9')};
  inputs.push_back(std::string("1").append(38, '0'));
  inputs.push_back(std::string(100, '1').append("x"));
  for (const char* text :
       {"",       "0",   "7",  "1500000",  "000123",    "-1",    "+1",
        "1.5",    "1e6", " 1", "1 ",       "0x10",      "NaN",   "12345678901234567890",
        "100.00", ".5",  "5.", "0.000001", "0.0000001", "007.25"}) {
    inputs.push_back(text);
  }
  for (size_t n = 17; n <= 21; ++n) {
    inputs.push_back(std::string(n, '9'));
    std::string one_then_zeros(n, '0');
    one_then_zeros[0] = '1';
    inputs.push_back(one_then_zeros);
    inputs.push_back(std::string(n - 1, '9').append("a"));
  }
  for (const std::string& text : inputs) {
    Amount a{12345};
    auto r = ParseAtomic(text, "data.amount");
    ASSERT_EQ(TryParseAtomic(text, &a), r.ok()) << text;
    if (r.ok()) {
      EXPECT_EQ(a, *r) << text;
    }
    Amount u{12345};
    auto d = ParseUsdcDecimal(text, "data.daily_limit");
    ASSERT_EQ(TryParseUsdcDecimal(text, &u), d.ok()) << text;
    if (d.ok()) {
      EXPECT_EQ(u, *d) << text;
    }
  }
}

TEST(TryParseTest, TwentyDigitsAreExact) {
  Amount a;
  ASSERT_TRUE(TryParseAtomic("18446744073709551616", &a));  // 2^64: past 64 bits
  EXPECT_EQ(a.v, u128(1) << 64);
  ASSERT_TRUE(TryParseAtomic("99999999999999999999", &a));
  EXPECT_EQ(Str(a.v), "99999999999999999999");
  ASSERT_TRUE(TryParseAtomic(Str(ThirtyEightNines()), &a));
  EXPECT_EQ(a.v, ThirtyEightNines());
  EXPECT_FALSE(TryParseAtomic(std::string(39, '9'), &a));
}

}  // namespace
}  // namespace x402
