// Dead letters keep what EVENTS.md section 5 asks for: the original bytes, or for an oversize
// record its first bytes with the full length and a SHA-256 of all of it; read from a file
// through FileSource as `run` does.
#include "connectors/deadletter_sink.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "connectors/file_source.h"
#include "schemas/jsonl.h"
#include "schemas/sha256.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

TEST(DeadLetterTest, AnOversizeLineKeepsItsHeadLengthAndHash) {
  test::TempDir tmp;
  // Longer than the event limit and than the reader's buffer, so it is drained in chunks.
  const std::string big = "{\"id\":\"" + std::string(3 << 20, 'x') + "\"}";
  test::WriteLines(tmp.file("in.jsonl"), {"not json", big});
  auto src =
      FileSource::Open({tmp.file("in.jsonl")}, [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(src.ok()) << src.error();
  std::vector<SourceRecord> batch;
  ASSERT_TRUE((*src)->NextBatch(10, &batch));
  ASSERT_EQ(batch.size(), 2u);

  const std::string plain = DeadLetterJson(MakeDeadLetter(batch[0], "event: not JSON"));
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  ASSERT_EQ(parser.parse(plain).get(e), simdjson::SUCCESS) << plain;
  EXPECT_EQ(std::string_view(e["original"]), "not json");
  EXPECT_TRUE(e["original_truncated"].error());  // absent

  ASSERT_TRUE(batch[1].oversize);
  const std::string json = DeadLetterJson(MakeDeadLetter(batch[1], "event: oversize"));
  ASSERT_EQ(parser.parse(json).get(e), simdjson::SUCCESS) << json.substr(0, 200);
  EXPECT_EQ(std::string_view(e["original"]), big.substr(0, kOversizeHeadBytes));
  EXPECT_EQ(bool(e["original_truncated"]), true);
  EXPECT_EQ(uint64_t(e["original_length"]), big.size());
  Sha256 h;
  h.Update(big);
  EXPECT_EQ(std::string_view(e["original_sha256"]), h.FinalHex());
  EXPECT_EQ(uint64_t(e["line"]), 2u);
}

}  // namespace
}  // namespace x402
