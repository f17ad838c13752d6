#include "connectors/file_source.h"

#include "schemas/decoder.h"

namespace x402 {

std::string FilePosition::Encode() const {
  std::string out = std::to_string(offset) + ":" + std::to_string(line_no);
  return out;
}

std::optional<FilePosition> FilePosition::Decode(std::string_view b) {
  size_t colon = b.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  FilePosition p;
  try {
    p.offset = std::stoull(std::string(b.substr(0, colon)));
    p.line_no = std::stoull(std::string(b.substr(colon + 1)));
  } catch (...) {
    return std::nullopt;
  }
  return p;
}

Result<std::unique_ptr<FileSource>> FileSource::Open(
    const std::vector<std::string>& paths,
    const std::function<std::optional<FilePosition>(const std::string&)>& lookup) {
  std::unique_ptr<FileSource> s(new FileSource());
  for (const auto& path : paths) {
    File f;
    f.path = path;
    if (auto p = lookup(path)) f.start = *p;
    auto r = JsonlReader::Open(path, f.start.offset, f.start.line_no, kMaxEventBytes);
    if (!r) return Err(r.error());
    f.reader = std::move(*r);
    f.pos = f.start;
    s->total_ += f.reader->file_size();
    s->done_before_ += f.start.offset;
    s->files_.push_back(std::move(f));
  }
  return s;
}

uint64_t FileSource::bytes_done() const {
  uint64_t done = 0;
  for (const auto& f : files_) done += f.pos.offset;
  return done;
}

bool FileSource::NextBatch(size_t max, std::vector<SourceRecord>* out) {
  out->clear();
  arena_.clear();
  struct Pending {
    size_t arena_off, len;
    size_t sha_off = 0, sha_len = 0;
    SourceRecord rec;
  };
  std::vector<Pending> pending;
  JsonlLine line;
  while (pending.size() < max && current_ < files_.size()) {
    File& f = files_[current_];
    if (!f.reader->Next(&line)) {
      if (!f.reader->error().empty()) error_ = f.reader->error();
      f.done = true;
      ++current_;
      continue;
    }
    f.pos.offset = line.next_offset;
    f.pos.line_no = line.line_no + 1;
    if (line.length == 0 && !line.oversize) continue;  // blank lines are not events
    Pending p;
    p.arena_off = arena_.size();
    p.len = line.text.size();
    arena_.append(line.text);
    arena_.append(EventDecoder::kPadding, ' ');
    p.sha_off = arena_.size();
    p.sha_len = line.sha256.size();
    arena_.append(line.sha256);
    p.rec.shard = 0;
    p.rec.oversize = line.oversize;
    p.rec.length = line.length;
    p.rec.origin = f.path;
    p.rec.index = line.line_no;
    p.rec.offset = line.offset;
    p.rec.is_file = true;
    pending.push_back(p);
  }
  for (auto& p : pending) {
    p.rec.bytes = std::string_view(arena_.data() + p.arena_off, p.len);
    p.rec.sha256 = std::string_view(arena_.data() + p.sha_off, p.sha_len);
    out->push_back(p.rec);
  }
  if (!out->empty()) return true;
  // A batch of only blank lines still moved positions forward; report exhaustion only when
  // every file is done.
  return current_ < files_.size();
}

Positions FileSource::CurrentPositions() const {
  Positions out;
  for (const auto& f : files_) out.emplace_back(PositionKey(f.path), f.pos.Encode());
  return out;
}

}  // namespace x402
