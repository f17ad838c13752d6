// Internal: the per-CPU-target decoder implementations behind EventDecoder.
#pragma once

#include <memory>
#include <string_view>

#include "schemas/decoder.h"

namespace x402::detail {

class DecoderBackend {
 public:
  virtual ~DecoderBackend() = default;
  virtual Status DecodeInto(std::string_view json, Event* e) = 0;
};

namespace generic {
std::unique_ptr<DecoderBackend> NewBackend();
}
namespace haswell {
std::unique_ptr<DecoderBackend> NewBackend();
}

}  // namespace x402::detail
