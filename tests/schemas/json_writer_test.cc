// JSON output is valid UTF-8 whatever bytes it is given: well-formed UTF-8 passes through,
// anything else (a stray 0xFF, a truncated, overlong or surrogate sequence) becomes U+FFFD.
#include "schemas/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace x402 {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(JsonWriterTest, WellFormedUtf8PassesThrough) {
  EXPECT_EQ(Quoted("plain"), "\"plain\"");
  EXPECT_EQ(Quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb8"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb8\"");
  EXPECT_EQ(Quoted("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(JsonWriterTest, IllFormedBytesBecomeTheReplacementCharacter) {
  const std::pair<std::string, std::string> cases[] = {
      {"\xff", "\"\\ufffd\""},
      {"a\xc3", "\"a\\ufffd\""},                                 // truncated
      {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                        // overlong '/'
      {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},             // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},  // past U+10FFFF
      {"\xe2\x82", "\"\\ufffd\\ufffd\""},
  };
  for (const auto& [in, want] : cases) {
    const std::string out = Quoted(in);
    EXPECT_EQ(out, want);
    EXPECT_TRUE(simdjson::validate_utf8(out.data(), out.size()));
  }
}

}  // namespace
}  // namespace x402
