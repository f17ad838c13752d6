// JsonlReader (schemas/jsonl.h): lines with exact numbers and byte offsets, CRLF, a last line
// without newline, empty lines, broken and oversize lines that never disturb their neighbours,
// resuming from a recorded offset, and lines that cross the reader's buffer.
#include "schemas/jsonl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schemas/decoder.h"
#include "schemas/sha256.h"

namespace x402 {
namespace {

namespace fs = std::filesystem;

class JsonlReaderTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(testing::TempDir()) / "jsonl_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& content, const std::string& name = "events.jsonl") {
    const fs::path p = dir_ / name;
    std::ofstream out(p, std::ios::binary);
    out << content;
    return p.string();
  }

  std::unique_ptr<JsonlReader> Open(const std::string& path, uint64_t offset = 0,
                                    uint64_t line_no = 1, size_t max_line = 64 * 1024) {
    auto r = JsonlReader::Open(path, offset, line_no, max_line);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? std::move(*r) : nullptr;
  }

  // Every line of `path` (texts copied out).
  struct Line {
    std::string text;
    uint64_t line_no, offset, next_offset, length;
    bool oversize;
    std::string sha256;
  };
  std::vector<Line> ReadAll(JsonlReader* reader) {
    std::vector<Line> out;
    JsonlLine l;
    while (reader->Next(&l)) {
      out.push_back({std::string(l.text), l.line_no, l.offset, l.next_offset, l.length, l.oversize,
                     std::string(l.sha256)});
    }
    EXPECT_EQ(reader->error(), "");
    return out;
  }

  fs::path dir_;
};

std::string Sha256Hex(const std::string& s) {
  Sha256 h;
  h.Update(s);
  return h.FinalHex();
}

// A valid event, one line.
std::string EventLine(const std::string& payment_id) {
  return "{\"specversion\":\"1.0\",\"id\":\"" + payment_id +
         "\",\"source\":\"genesis/a2a-x402\",\"type\":\"x402.payment.cancelled\","
         "\"time\":\"2025-11-17T10:00:00Z\",\"subject\":\"builder_agent\","
         "\"data\":{\"payment_id\":\"" +
         payment_id + "\"}}";
}

TEST_F(JsonlReaderTest, LinesComeWithNumbersAndByteOffsets) {
  auto reader = Open(Write("a\nbb\nccc\n"));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->file_size(), 9u);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text, "a");
  EXPECT_EQ(lines[1].text, "bb");
  EXPECT_EQ(lines[2].text, "ccc");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i].line_no, i + 1);
    EXPECT_FALSE(lines[i].oversize);
    EXPECT_EQ(lines[i].length, lines[i].text.size());
  }
  EXPECT_EQ(lines[0].offset, 0u);
  EXPECT_EQ(lines[0].next_offset, 2u);
  EXPECT_EQ(lines[1].offset, 2u);
  EXPECT_EQ(lines[1].next_offset, 5u);
  EXPECT_EQ(lines[2].offset, 5u);
  EXPECT_EQ(lines[2].next_offset, 9u);
  EXPECT_EQ(reader->position(), 9u);
  JsonlLine after;
  EXPECT_FALSE(reader->Next(&after));
}

TEST_F(JsonlReaderTest, EmptyFileHasNoLines) {
  auto reader = Open(Write(""));
  ASSERT_NE(reader, nullptr);
  JsonlLine l;
  EXPECT_FALSE(reader->Next(&l));
  EXPECT_EQ(reader->error(), "");
}

TEST_F(JsonlReaderTest, CrlfLineEndingsAreStripped) {
  auto reader = Open(Write("a\r\nbb\r\n"));
  ASSERT_NE(reader, nullptr);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "a");
  EXPECT_EQ(lines[0].length, 1u);
  EXPECT_EQ(lines[0].next_offset, 3u);
  EXPECT_EQ(lines[1].text, "bb");
  EXPECT_EQ(lines[1].offset, 3u);
  EXPECT_EQ(lines[1].next_offset, 7u);
}

TEST_F(JsonlReaderTest, LastLineWithoutNewlineIsReturned) {
  auto reader = Open(Write("a\nlast"));
  ASSERT_NE(reader, nullptr);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "last");
  EXPECT_EQ(lines[1].line_no, 2u);
  EXPECT_EQ(lines[1].offset, 2u);
  EXPECT_EQ(lines[1].next_offset, 6u);
  EXPECT_EQ(reader->position(), 6u);
}

TEST_F(JsonlReaderTest, EmptyLinesAreReturnedAsEmptyLines) {
  auto reader = Open(Write("a\n\n\r\nb\n"));
  ASSERT_NE(reader, nullptr);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1].text, "");
  EXPECT_EQ(lines[1].offset, 2u);
  EXPECT_EQ(lines[2].text, "");
  EXPECT_EQ(lines[2].offset, 3u);
  EXPECT_EQ(lines[3].text, "b");
  EXPECT_EQ(lines[3].line_no, 4u);
  EXPECT_EQ(lines[3].offset, 5u);
}

TEST_F(JsonlReaderTest, BrokenLineDoesNotAffectItsNeighbours) {
  std::string junk = "{\"specversion\":\"1.0\",\"data\":{";
  junk += '\0';
  junk += "\xff\xfe[[[";
  const std::string content = EventLine("p1") + "\n" + "{\"specversion\":\"1.0\",\"id\":\"x\n" +
                              junk + "\n" + EventLine("p2") + "\n";
  auto reader = Open(Write(content));
  ASSERT_NE(reader, nullptr);
  EventDecoder decoder;
  JsonlLine l;
  std::vector<std::string> outcomes;
  while (reader->Next(&l)) {
    Event e;
    // The reader guarantees kPadding readable bytes after each line: decode in place.
    Status st = decoder.DecodeInto(l.text, &e);
    outcomes.push_back(st.ok() ? "ok " + e.payment_id : "error");
  }
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0], "ok p1");
  EXPECT_EQ(outcomes[1], "error");
  EXPECT_EQ(outcomes[2], "error");
  EXPECT_EQ(outcomes[3], "ok p2");
}

TEST_F(JsonlReaderTest, ResumeFromARecordedOffsetContinuesWithTheNextLine) {
  const std::string content =
      EventLine("p1") + "\n" + EventLine("p2") + "\n" + EventLine("p3") + "\n";
  const std::string path = Write(content);
  uint64_t resume_offset = 0, resume_line = 0;
  {
    auto reader = Open(path);
    ASSERT_NE(reader, nullptr);
    JsonlLine l;
    ASSERT_TRUE(reader->Next(&l));
    ASSERT_TRUE(reader->Next(&l));
    resume_offset = l.next_offset;
    resume_line = l.line_no + 1;
    EXPECT_EQ(reader->position(), resume_offset);
  }
  auto reader = Open(path, resume_offset, resume_line);
  ASSERT_NE(reader, nullptr);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, EventLine("p3"));
  EXPECT_EQ(lines[0].line_no, 3u);
  EXPECT_EQ(lines[0].offset, resume_offset);
  EXPECT_EQ(lines[0].next_offset, content.size());
}

TEST_F(JsonlReaderTest, ResumeAtTheEndReadsNothing) {
  const std::string path = Write("a\nb\n");
  auto reader = Open(path, 4, 3);
  ASSERT_NE(reader, nullptr);
  JsonlLine l;
  EXPECT_FALSE(reader->Next(&l));
}

TEST_F(JsonlReaderTest, ResumeOffsetPastTheEndIsAnError) {
  const std::string path = Write("a\nb\n");
  auto r = JsonlReader::Open(path, 5, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), path +
                           ": resume offset 5 is past the end of the file (4 bytes): was the "
                           "file replaced?");
}

TEST_F(JsonlReaderTest, MissingFileAndDirectoryAreErrors) {
  auto missing = JsonlReader::Open((dir_ / "nope.jsonl").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cannot open"), std::string::npos) << missing.error();
  auto dir = JsonlReader::Open(dir_.string());
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error(), dir_.string() + ": not a regular file");
}

TEST_F(JsonlReaderTest, OversizeLineIsSkippedAndReportedWithTheNextLineIntact) {
  const std::string big(100, 'x');
  const std::string content = "short\n" + big + "\nafter\n";
  auto reader = Open(Write(content), 0, 1, /*max_line=*/16);
  ASSERT_NE(reader, nullptr);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_FALSE(lines[0].oversize);
  EXPECT_EQ(lines[0].text, "short");
  EXPECT_TRUE(lines[1].oversize);
  EXPECT_EQ(lines[1].line_no, 2u);
  EXPECT_EQ(lines[1].length, 100u);
  EXPECT_EQ(lines[1].offset, 6u);
  EXPECT_EQ(lines[1].next_offset, 107u);
  EXPECT_EQ(big.rfind(lines[1].text, 0), 0u) << "text is the line's first bytes";
  EXPECT_EQ(lines[1].sha256, Sha256Hex(big));
  EXPECT_EQ(lines[2].sha256, "");
  EXPECT_FALSE(lines[2].oversize);
  EXPECT_EQ(lines[2].text, "after");
  EXPECT_EQ(lines[2].line_no, 3u);
  EXPECT_EQ(lines[2].offset, 107u);
}

TEST_F(JsonlReaderTest, LineExactlyAtTheLimitIsNotOversize) {
  auto reader = Open(Write(std::string(16, 'x') + "\n" + std::string(17, 'y') + "\r\n"), 0, 1, 16);
  ASSERT_NE(reader, nullptr);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].oversize);
  EXPECT_TRUE(lines[1].oversize);
  EXPECT_EQ(lines[1].length, 17u);
}

TEST_F(JsonlReaderTest, LineLongerThanTheReadBufferIsSkippedWithExactOffsets) {
  // The reader buffers far less than 9 MiB: such a line has to be drained chunk by chunk.
  const size_t big = 9u << 20;
  std::string content = EventLine("p1") + "\n";
  const uint64_t big_offset = content.size();
  content += std::string(big, 'x') + "\n" + EventLine("p2") + "\n" + std::string(big, 'z');
  auto reader = Open(Write(content), 0, 1, 1024);
  ASSERT_NE(reader, nullptr);
  auto lines = ReadAll(reader.get());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].text, EventLine("p1"));
  EXPECT_TRUE(lines[1].oversize);
  EXPECT_EQ(lines[1].length, big);
  // Its first bytes and a hash of all of it are kept for the dead letter (issue 15: it was
  // dead-lettered with an empty original).
  EXPECT_EQ(lines[1].text, std::string(kOversizeHeadBytes, 'x'));
  EXPECT_EQ(lines[1].sha256, Sha256Hex(std::string(big, 'x')));
  EXPECT_EQ(lines[1].offset, big_offset);
  EXPECT_EQ(lines[1].next_offset, big_offset + big + 1);
  EXPECT_EQ(lines[2].text, EventLine("p2"));
  EXPECT_EQ(lines[2].offset, big_offset + big + 1);
  EXPECT_EQ(lines[2].line_no, 3u);
  // The last line: oversize and without a newline.
  EXPECT_TRUE(lines[3].oversize);
  EXPECT_EQ(lines[3].length, big);
  EXPECT_EQ(lines[3].next_offset, content.size());
  EXPECT_EQ(reader->position(), content.size());
}

TEST_F(JsonlReaderTest, ManyLinesAcrossBufferRefillsKeepContiguousOffsets) {
  std::string content;
  std::vector<std::string> expected;
  for (int i = 0; content.size() < (9u << 20); ++i) {
    expected.push_back(EventLine("pay_" + std::to_string(i)));
    content += expected.back() + (i % 2 ? "\r\n" : "\n");
  }
  auto reader = Open(Write(content));
  ASSERT_NE(reader, nullptr);
  EventDecoder decoder;
  JsonlLine l;
  size_t n = 0;
  uint64_t offset = 0;
  while (reader->Next(&l)) {
    ASSERT_LT(n, expected.size());
    ASSERT_EQ(l.text, expected[n]) << "line " << n + 1;
    ASSERT_EQ(l.line_no, n + 1);
    ASSERT_EQ(l.offset, offset);
    offset = l.next_offset;
    if (n % 1000 == 0) {
      Event e;
      Status st = decoder.DecodeInto(l.text, &e);
      ASSERT_TRUE(st.ok()) << st.error();
      EXPECT_EQ(e.payment_id, "pay_" + std::to_string(n));
    }
    ++n;
  }
  EXPECT_EQ(n, expected.size());
  EXPECT_EQ(offset, content.size());
}

}  // namespace
}  // namespace x402
