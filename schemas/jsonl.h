// JsonlReader: reads a JSONL file one line at a time without copying lines, for the file
// source and replay. Every line is returned with its 1-based number and byte offsets, so a
// consumer can record exactly where it stopped and resume there. A broken line (not JSON, an
// unterminated object, binary junk, an oversize line) is just a line: it never affects its
// neighbours. Each returned view has EventDecoder::kPadding readable bytes after it.
// Thread-safety: not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "schemas/result.h"

namespace x402 {

// How much of an oversize record a dead letter keeps (its full length and SHA-256 beside).
inline constexpr size_t kOversizeHeadBytes = 1024;

struct JsonlLine {
  std::string_view text;     // without the trailing "\n" / "\r\n"; truncated if oversize
  uint64_t line_no = 0;      // 1-based
  uint64_t offset = 0;       // byte offset of the line's first byte
  uint64_t next_offset = 0;  // byte offset just past its newline
  bool oversize = false;     // longer than max_line_bytes; `text` is its first bytes
  uint64_t length = 0;       // full length in bytes (without the newline)
  // Oversize lines: lowercase hex SHA-256 of the whole line (valid until the next Next()).
  std::string_view sha256;
};

class JsonlReader {
 public:
  // Opens `path` and positions it at `offset` (which must be a line start), whose line number
  // is `line_no`. `max_line_bytes`: longer lines are reported as oversize and skipped.
  static Result<std::unique_ptr<JsonlReader>> Open(const std::string& path, uint64_t offset = 0,
                                                   uint64_t line_no = 1,
                                                   size_t max_line_bytes = 64 * 1024);
  ~JsonlReader();

  // Fills *line with the next line; false at end of file (or on a read error: see error()).
  // The view is valid until the next call.
  bool Next(JsonlLine* line);

  uint64_t file_size() const { return file_size_; }
  uint64_t position() const { return pos_; }  // byte offset of the next unread line
  const std::string& error() const { return error_; }

 private:
  JsonlReader() = default;
  bool Fill();

  int fd_ = -1;
  std::string path_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;  // usable bytes (padding is extra)
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  uint64_t pos_ = 0;  // file offset of buf_[begin_]
  uint64_t line_no_ = 1;
  uint64_t file_size_ = 0;
  size_t max_line_ = 0;
  std::string error_;
  std::string head_, digest_;  // an oversize line's first bytes and SHA-256 (JsonlLine views them)
};

}  // namespace x402
