// FileSource: reads one or more JSONL files in order as an EventSource (shard 0). Its
// position per file is (byte offset, next line number), stored in the meta column family
// under "pos|file|<path>" so `x402rec run --input F` resumes exactly after the last
// committed line. Lines are copied into a per-batch arena (with padding for the decoder).
// Thread-safety: not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/event_source.h"
#include "schemas/jsonl.h"
#include "schemas/result.h"

namespace x402 {

struct FilePosition {
  uint64_t offset = 0;
  uint64_t line_no = 1;
  std::string Encode() const;
  static std::optional<FilePosition> Decode(std::string_view bytes);
};

class FileSource final : public EventSource {
 public:
  // `lookup` returns the stored position of a path (nullopt: start at the beginning).
  static Result<std::unique_ptr<FileSource>> Open(
      const std::vector<std::string>& paths,
      const std::function<std::optional<FilePosition>(const std::string& path)>& lookup);

  static std::string PositionKey(const std::string& path) { return "pos|file|" + path; }

  bool NextBatch(size_t max, std::vector<SourceRecord>* out) override;
  Positions CurrentPositions() const override;
  uint64_t bytes_done() const override;
  uint64_t bytes_total() const override { return total_; }
  std::string error() const override { return error_; }

 private:
  struct File {
    std::string path;
    FilePosition start;
    std::unique_ptr<JsonlReader> reader;
    FilePosition pos;
    bool done = false;
  };
  std::vector<File> files_;
  size_t current_ = 0;
  std::string arena_;
  uint64_t total_ = 0;
  uint64_t done_before_ = 0;
  std::string error_;
};

}  // namespace x402
