// A tiny binary codec for projection records: varints, length-prefixed strings, 128-bit
// amounts and a big-endian u64 for sortable keys. Records are versioned by their first byte
// so the layout can evolve. Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "schemas/money.h"
#include "schemas/time.h"

namespace x402 {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Var(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void I64(int64_t v) { Var((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Time(TimeMs t) { I64(t.ms); }
  void Str(std::string_view s) {
    Var(s.size());
    out_->append(s);
  }
  void Amt(Amount a) {
    Var(static_cast<uint64_t>(a.v));
    Var(static_cast<uint64_t>(a.v >> 64));
  }
  void Bool(bool b) { U8(b ? 1 : 0); }

 private:
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}
  // A Reader views its input: a temporary string would be gone before the first read.
  explicit Reader(std::string&&) = delete;
  bool ok() const { return ok_; }
  uint8_t U8() {
    if (p_ >= end_) return Fail();
    return static_cast<uint8_t>(*p_++);
  }
  uint64_t Var() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return Fail();
      uint8_t b = static_cast<uint8_t>(*p_++);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  int64_t I64() {
    uint64_t u = Var();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  TimeMs Time() { return TimeMs{I64()}; }
  std::string Str() {
    uint64_t n = Var();
    if (static_cast<uint64_t>(end_ - p_) < n) {
      Fail();
      return {};
    }
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  Amount Amt() {
    uint64_t lo = Var(), hi = Var();
    return Amount{(u128(hi) << 64) | lo};
  }
  bool Bool() { return U8() != 0; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  uint8_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

// Big-endian u64, so keys sort numerically.
inline void PutBigEndian64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (i * 8)));
}
inline uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(in.size()); ++i)
    v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}
// Event times are >= 1970 in practice, but keep negative times ordered too.
inline uint64_t SortableTime(TimeMs t) { return static_cast<uint64_t>(t.ms) ^ (uint64_t(1) << 63); }

}  // namespace x402
