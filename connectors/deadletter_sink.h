// DeadLetterSink: where events that cannot be accepted go (EVENTS.md section 5), with the
// original bytes, the source position and the reason naming the field. FileDeadLetterSink
// appends JSONL to <data-dir>/deadletter.jsonl; MemoryDeadLetterSink keeps the first N for a
// replay report and counts the rest. Dead letters are flushed before the batch that
// rejected them commits, so a crash never loses one. The file sink writes each exactly once:
// every commit that flushed dead letters also commits the file's length (CommitMarks), and a
// restart cuts the file back to the committed length (Resume) before the uncommitted batches
// are read again and reject their records again.
// Thread-safety: not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/event_source.h"
#include "schemas/result.h"

namespace x402 {

struct DeadLetter {
  std::string origin;
  bool is_file = true;
  uint64_t index = 0;    // line number or partition
  uint64_t offset = 0;   // byte offset or message offset
  std::string original;  // the first kOversizeHeadBytes of an oversize record
  std::string reason;
  bool truncated = false;  // oversize: `original` is a prefix of `length` bytes hashing to sha256
  uint64_t length = 0;
  std::string sha256;
};

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  virtual void Write(const SourceRecord& rec, std::string_view reason) = 0;
  virtual Status Flush() = 0;
  // Meta key/values to commit in the WriteBatch of the batch whose dead letters the last
  // Flush wrote (empty: nothing to tie to the commit).
  virtual Positions CommitMarks() { return {}; }
};

// The JSON line written for a dead letter (also the value of a Kafka dead letter).
std::string DeadLetterJson(const DeadLetter& d);

class FileDeadLetterSink final : public DeadLetterSink {
 public:
  // The meta key holding the file's committed length (decimal bytes).
  static constexpr const char* kMarkKey = "deadletter|file|length";

  static Result<std::unique_ptr<FileDeadLetterSink>> Open(const std::string& path);
  ~FileDeadLetterSink() override;
  // Before the first Write: `committed` is the kMarkKey value the state holds (nullopt: a
  // state without one). A file longer than that ends with dead letters of batches that were
  // not committed and will be read again: they are cut off. A shorter file (rotated or
  // emptied by an operator) is appended to as it is.
  Status Resume(const std::optional<std::string>& committed);
  void Write(const SourceRecord& rec, std::string_view reason) override;
  // Writes and fdatasyncs the buffered dead letters (a committed length never points past
  // bytes a power cut could lose).
  Status Flush() override;
  Positions CommitMarks() override;
  uint64_t length() const { return length_; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  std::string buf_;
  uint64_t length_ = 0;      // bytes in the file after the last Flush
  uint64_t marked_ = ~0ull;  // length last handed to CommitMarks
};

class MemoryDeadLetterSink final : public DeadLetterSink {
 public:
  explicit MemoryDeadLetterSink(size_t keep = 1000) : keep_(keep) {}
  void Write(const SourceRecord& rec, std::string_view reason) override;
  Status Flush() override { return Status::Ok(); }
  const std::vector<DeadLetter>& kept() const { return kept_; }
  uint64_t count() const { return count_; }

 private:
  size_t keep_;
  std::vector<DeadLetter> kept_;
  uint64_t count_ = 0;
};

// Produces dead letters to a Kafka topic (default x402.deadletter): the value is the original
// bytes, headers carry the source topic/partition/offset and the reason.
class KafkaDeadLetterSink final : public DeadLetterSink {
 public:
  KafkaDeadLetterSink(class KafkaProducer* producer, std::string topic)
      : producer_(producer), topic_(std::move(topic)) {}
  void Write(const SourceRecord& rec, std::string_view reason) override;
  Status Flush() override;
  uint64_t count() const { return count_; }

 private:
  class KafkaProducer* producer_;
  std::string topic_;
  std::string error_;
  uint64_t count_ = 0;
};

DeadLetter MakeDeadLetter(const SourceRecord& rec, std::string_view reason);

}  // namespace x402
