// Dead letters keep what EVENTS.md section 5 asks for: the original bytes, or for an oversize
// record its first bytes with the full length and a SHA-256 of all of it; read from a file
// through FileSource as `run` does.
#include "connectors/deadletter_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <simdjson.h>
#include <algorithm>

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

TEST(DeadLetterTest, TheFileIsCutBackToItsCommittedLengthOnResume) {
  test::TempDir tmp;
  const std::string path = tmp.file("deadletter.jsonl");
  SourceRecord rec;
  rec.origin = "in.jsonl";
  rec.is_file = true;
  rec.bytes = "junk";
  rec.length = 4;
  auto first = FileDeadLetterSink::Open(path);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE((*first)->Resume(std::nullopt).ok());
  rec.index = 1;
  (*first)->Write(rec, "committed");
  ASSERT_TRUE((*first)->Flush().ok());
  const Positions marks = (*first)->CommitMarks();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].first, FileDeadLetterSink::kMarkKey);
  EXPECT_TRUE((*first)->CommitMarks().empty());  // unchanged: nothing to commit again
  rec.index = 2;
  (*first)->Write(rec, "not committed");
  ASSERT_TRUE((*first)->Flush().ok());
  first->reset();  // a crash before the batch's commit
  // The restart cuts off the uncommitted line, then appends after the committed one.
  auto second = FileDeadLetterSink::Open(path);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE((*second)->Resume(marks[0].second).ok());
  EXPECT_EQ(std::to_string((*second)->length()), marks[0].second);
  rec.index = 2;
  (*second)->Write(rec, "again");
  ASSERT_TRUE((*second)->Flush().ok());
  const std::string content = test::ReadFile(path);
  EXPECT_NE(content.find("\"committed\""), std::string::npos) << content;
  EXPECT_EQ(content.find("not committed"), std::string::npos) << content;
  EXPECT_NE(content.find("\"again\""), std::string::npos) << content;
  EXPECT_EQ(std::count(content.begin(), content.end(), '\n'), 2);
  // A file shorter than the committed length (rotated by an operator) is appended to as it is;
  // a mark that is not a number is an error naming the file.
  second->reset();
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  auto third = FileDeadLetterSink::Open(path);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE((*third)->Resume(marks[0].second).ok());
  EXPECT_EQ((*third)->length(), 0u);
  Status bad = (*third)->Resume(std::string("12x"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find(path), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace x402
