// EventDecoder: CloudEvents 1.0 structured-JSON -> typed Event, enforcing every rule of
// EVENTS.md sections 1 and 2. Built on simdjson's on-demand API in its no-exception form.
// Every rejection carries a reason that names the field, e.g.
//   "data.amount: expected atomic-unit integer string, got 1.5".
// Thread-safety: an EventDecoder owns a simdjson parser and is NOT thread-safe; use one per
// thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace x402 {

namespace detail {
class DecoderBackend;
}

inline constexpr size_t kMaxEventBytes = 64 * 1024;

class EventDecoder {
 public:
  // Bytes that must be readable after an event passed to DecodeInto (content irrelevant).
  static constexpr size_t kPadding = 64;

  EventDecoder();
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // Decodes one event in place into `*out` (whose strings are reused). REQUIRES: at least
  // kPadding readable bytes after json.data() + json.size(). On error `*out` is unspecified.
  Status DecodeInto(std::string_view json, Event* out);

  // Convenience: copies `json` into a padded buffer first.
  Result<Event> Decode(std::string_view json);

 private:
  std::unique_ptr<detail::DecoderBackend> backend_;
  std::string scratch_;
};

}  // namespace x402
