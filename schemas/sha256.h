// SHA-256 (OpenSSL EVP), incremental and one-shot, lowercase hex output. Used for finding
// ids (EVENTS.md section 3) and the state digest. Sha256 objects are not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace x402 {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view bytes);
  std::array<uint8_t, 32> Final();
  std::string FinalHex();

 private:
  void* ctx_;
};

std::string Sha256Hex(std::string_view bytes);
std::string ToHex(const uint8_t* data, size_t n);

}  // namespace x402
