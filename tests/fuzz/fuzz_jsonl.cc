// libFuzzer target: the JSONL reader (schemas/jsonl.h) on an arbitrary file. Lines come in
// file order, each within the file and after the previous one, line numbers increase, the
// reader ends at the end of the file, and an oversize line's text is a bounded prefix.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "schemas/jsonl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/x402-fuzz-jsonl-" + std::to_string(::getpid()) + ".jsonl";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  auto reader = x402::JsonlReader::Open(path);
  if (!reader.ok()) return 0;
  x402::JsonlLine line;
  uint64_t next = 0, line_no = 0;
  while ((*reader)->Next(&line)) {
    if (line.offset < next || line.next_offset <= line.offset || line.next_offset > size)
      __builtin_trap();
    if (line.line_no <= line_no) __builtin_trap();
    if (line.text.size() > line.length) __builtin_trap();
    if (!line.oversize && line.text.size() != line.length) __builtin_trap();
    if (line.oversize && line.text.size() > x402::kOversizeHeadBytes) __builtin_trap();
    next = line.next_offset;
    line_no = line.line_no;
  }
  if ((*reader)->error().empty() && (*reader)->position() != size) __builtin_trap();
  return 0;
}
