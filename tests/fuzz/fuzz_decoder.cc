// libFuzzer target: the event decoder (schemas/decoder.h) on arbitrary bytes. Every input is
// either decoded or refused with a reason; nothing else (no crash, no sanitizer report, no
// reason that is not valid UTF-8 once written as JSON).
#include <cstddef>
#include <cstdint>
#include <string>

#include "schemas/decoder.h"
#include "schemas/json_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static x402::EventDecoder decoder;
  static x402::Event event;
  std::string buf(reinterpret_cast<const char*>(data), size);
  buf.append(x402::EventDecoder::kPadding, ' ');
  x402::Status st = decoder.DecodeInto(std::string_view(buf.data(), size), &event);
  if (!st.ok()) {
    std::string json;
    x402::JsonWriter(&json).BeginObject().Field("reason", st.error()).EndObject();
    if (json.empty()) __builtin_trap();
  }
  return 0;
}
