#include "connectors/deadletter_sink.h"

#include <simdjson.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "connectors/kafka_producer.h"
#include "schemas/json_writer.h"

namespace x402 {

DeadLetter MakeDeadLetter(const SourceRecord& rec, std::string_view reason) {
  DeadLetter d;
  d.origin = std::string(rec.origin);
  d.is_file = rec.is_file;
  d.index = rec.index;
  d.offset = rec.offset;
  d.original = std::string(rec.bytes);
  d.reason = std::string(reason);
  if (rec.oversize) {
    d.truncated = true;
    d.length = rec.length;
    d.sha256 = std::string(rec.sha256);
  }
  return d;
}

std::string DeadLetterJson(const DeadLetter& d) {
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  if (d.is_file) {
    j.Field("file", d.origin);
    j.Key("line").Uint(d.index);
    j.Key("byte_offset").Uint(d.offset);
  } else {
    j.Field("topic", d.origin);
    j.Key("partition").Uint(d.index);
    j.Key("offset").Uint(d.offset);
  }
  j.Field("reason", d.reason);
  if (simdjson::validate_utf8(d.original.data(), d.original.size())) {
    j.Field("original", d.original);
  } else {
    // Not text: keep the bytes exactly, as hex.
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    hex.reserve(d.original.size() * 2);
    for (unsigned char c : d.original) {
      hex.push_back(kHex[c >> 4]);
      hex.push_back(kHex[c & 15]);
    }
    j.Field("original_hex", hex);
  }
  if (d.truncated) {
    j.Key("original_truncated").Bool(true);
    j.Key("original_length").Uint(d.length);
    j.Field("original_sha256", d.sha256);
  }
  j.EndObject();
  return out;
}

Result<std::unique_ptr<FileDeadLetterSink>> FileDeadLetterSink::Open(const std::string& path) {
  // A crash in the middle of a write can leave a partial last line: cut it off, so the file
  // stays one JSON object per line (the batch it belonged to was not committed and will be
  // dead-lettered again).
  if (std::FILE* r = std::fopen(path.c_str(), "rbe")) {
    std::string content;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, r)) > 0) content.append(buf, n);
    std::fclose(r);
    if (!content.empty() && content.back() != '\n') {
      const size_t keep = content.rfind('\n') == std::string::npos ? 0 : content.rfind('\n') + 1;
      if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0) {
        return Err(path + ": cannot repair a partial last line: " + std::strerror(errno));
      }
    }
  }
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) return Err(path + ": cannot open dead-letter file: " + std::strerror(errno));
  auto s = std::make_unique<FileDeadLetterSink>();
  s->f_ = f;
  s->path_ = path;
  struct stat st;
  if (::fstat(fileno(f), &st) == 0) s->length_ = static_cast<uint64_t>(st.st_size);
  return s;
}

Status FileDeadLetterSink::Resume(const std::optional<std::string>& committed) {
  if (!committed) return Status::Ok();
  uint64_t len = 0;
  try {
    size_t used = 0;
    len = std::stoull(*committed, &used);
    if (used != committed->size()) throw std::invalid_argument("trailing bytes");
  } catch (...) {
    return Err(path_ + ": the state's committed dead-letter length is not a number: '" +
               *committed + "'");
  }
  marked_ = len;
  if (length_ <= len) return Status::Ok();
  // The file is opened for appending (O_APPEND): later writes go to the new end.
  if (::ftruncate(fileno(f_), static_cast<off_t>(len)) != 0) {
    return Err(path_ +
               ": cannot cut off the dead letters of uncommitted batches: " + std::strerror(errno));
  }
  length_ = len;
  return Status::Ok();
}

Positions FileDeadLetterSink::CommitMarks() {
  if (marked_ == length_) return {};
  marked_ = length_;
  return {{kMarkKey, std::to_string(length_)}};
}

FileDeadLetterSink::~FileDeadLetterSink() {
  if (f_) std::fclose(f_);
}

void FileDeadLetterSink::Write(const SourceRecord& rec, std::string_view reason) {
  buf_ += DeadLetterJson(MakeDeadLetter(rec, reason));
  buf_.push_back('\n');
}

Status FileDeadLetterSink::Flush() {
  if (buf_.empty()) return Status::Ok();
  if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size() || std::fflush(f_) != 0 ||
      ::fdatasync(fileno(f_)) != 0) {
    return Err(path_ + ": cannot write dead letters: " + std::strerror(errno));
  }
  length_ += buf_.size();
  buf_.clear();
  return Status::Ok();
}

void KafkaDeadLetterSink::Write(const SourceRecord& rec, std::string_view reason) {
  ++count_;
  KafkaHeaders h = {{"x402-source-topic", std::string(rec.origin)},
                    {"x402-source-partition", std::to_string(rec.index)},
                    {"x402-source-offset", std::to_string(rec.offset)},
                    {"x402-reason", std::string(reason)}};
  if (rec.oversize) {
    h.push_back({"x402-original-length", std::to_string(rec.length)});
    h.push_back({"x402-original-sha256", std::string(rec.sha256)});
  }
  Status st = producer_->Produce(topic_, "", rec.bytes, h);
  if (!st.ok() && error_.empty()) error_ = st.error();
}

Status KafkaDeadLetterSink::Flush() {
  if (!error_.empty()) {
    std::string e = error_;
    error_.clear();
    return Err(e);
  }
  return producer_->FlushUntilDelivered();  // a broker outage is waited out, not fatal
}

void MemoryDeadLetterSink::Write(const SourceRecord& rec, std::string_view reason) {
  ++count_;
  if (kept_.size() < keep_) kept_.push_back(MakeDeadLetter(rec, reason));
}

}  // namespace x402
