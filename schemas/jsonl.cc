#include "schemas/jsonl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "schemas/decoder.h"
#include "schemas/sha256.h"

namespace x402 {

namespace {
// Small enough that the lines just read are still in the L2 cache when the caller decodes them
// (a 4 MiB buffer measured ~6% slower end to end in tests/bench/decoder_bench), and large
// enough that read() calls are rare. Never less than two maximal lines: see Open().
constexpr size_t kBufBytes = 256 << 10;
}  // namespace

Result<std::unique_ptr<JsonlReader>> JsonlReader::Open(const std::string& path, uint64_t offset,
                                                       uint64_t line_no, size_t max_line_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Err(path + ": not a regular file");
  }
  if (offset > static_cast<uint64_t>(st.st_size)) {
    ::close(fd);
    return Err(path + ": resume offset " + std::to_string(offset) +
               " is past the end of the file (" + std::to_string(st.st_size) +
               " bytes): was the file replaced?");
  }
  if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    ::close(fd);
    return Err(path + ": cannot seek: " + std::strerror(errno));
  }
  std::unique_ptr<JsonlReader> r(new JsonlReader());
  r->fd_ = fd;
  r->path_ = path;
  r->max_line_ = max_line_bytes;
  r->cap_ = std::max(kBufBytes, max_line_bytes * 2);
  r->buf_.reset(new char[r->cap_ + EventDecoder::kPadding]);
  std::memset(r->buf_.get() + r->cap_, ' ', EventDecoder::kPadding);
  r->pos_ = offset;
  r->line_no_ = line_no;
  r->file_size_ = static_cast<uint64_t>(st.st_size);
  return r;
}

JsonlReader::~JsonlReader() {
  if (fd_ >= 0) ::close(fd_);
}

// Moves unread bytes to the front and reads more. False when nothing more can be read.
bool JsonlReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) return false;
  ssize_t n;
  do {
    n = ::read(fd_, buf_.get() + end_, cap_ - end_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    error_ = path_ + ": read error: " + std::strerror(errno);
    eof_ = true;
    return false;
  }
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<size_t>(n);
  return true;
}

bool JsonlReader::Next(JsonlLine* line) {
  for (;;) {
    char* start = buf_.get() + begin_;
    size_t avail = end_ - begin_;
    char* nl = static_cast<char*>(std::memchr(start, '\n', avail));
    if (nl == nullptr && !eof_ && avail < cap_) {
      if (Fill()) continue;
      start = buf_.get() + begin_;
      avail = end_ - begin_;
      nl = static_cast<char*>(std::memchr(start, '\n', avail));
    }
    if (nl == nullptr && avail == cap_) {
      // A line longer than the whole buffer: report it oversize and skip to its end.
      uint64_t length = avail;
      uint64_t offset = pos_;
      // Its first bytes and a hash of all of it go to the dead letter (schemas/README.md).
      head_.assign(start, std::min<size_t>(avail, kOversizeHeadBytes));
      Sha256 hash;
      hash.Update(std::string_view(start, avail));
      begin_ = end_ = 0;
      bool found = false;
      while (!found) {
        if (!Fill()) break;
        char* p = static_cast<char*>(std::memchr(buf_.get(), '\n', end_));
        if (p) {
          hash.Update(std::string_view(buf_.get(), static_cast<size_t>(p - buf_.get())));
          length += static_cast<uint64_t>(p - buf_.get());
          begin_ = static_cast<size_t>(p - buf_.get()) + 1;
          found = true;
        } else {
          hash.Update(std::string_view(buf_.get(), end_));
          length += end_;
          begin_ = end_ = 0;
        }
      }
      // A line ending in "\r\n" keeps its '\r' in the hash and length here: it was never in
      // one buffer to look at. Rare enough (a > 1 MB line from Windows) to say, not to fix.
      digest_ = hash.FinalHex();
      line->sha256 = digest_;
      line->text = head_;
      line->oversize = true;
      line->length = length;
      line->offset = offset;
      line->line_no = line_no_++;
      line->next_offset = offset + length + (found ? 1 : 0);
      pos_ = line->next_offset;
      return true;
    }
    if (avail == 0) return false;
    size_t len = nl ? static_cast<size_t>(nl - start) : avail;
    size_t consumed = nl ? len + 1 : len;
    size_t text_len = len;
    if (text_len > 0 && start[text_len - 1] == '\r') --text_len;
    line->offset = pos_;
    line->next_offset = pos_ + consumed;
    line->line_no = line_no_++;
    line->length = text_len;
    line->oversize = text_len > max_line_;
    line->text = std::string_view(
        start, line->oversize ? std::min<size_t>(text_len, kOversizeHeadBytes) : text_len);
    line->sha256 = {};
    if (line->oversize) {
      Sha256 hash;
      hash.Update(std::string_view(start, text_len));
      digest_ = hash.FinalHex();
      line->sha256 = digest_;
    }
    begin_ += consumed;
    pos_ += consumed;
    return true;
  }
}

}  // namespace x402
