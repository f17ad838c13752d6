#include "schemas/decoder.h"

#include <cstring>
#include <string>

#include "schemas/decoder_backend.h"

namespace x402 {

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kLimitsSet: return "x402.budget.limits_set";
    case EventType::kWalletRegistered: return "x402.wallet.registered";
    case EventType::kPaymentAuthorized: return "x402.payment.authorized";
    case EventType::kPaymentSettled: return "x402.payment.settled";
    case EventType::kPaymentFailed: return "x402.payment.failed";
    case EventType::kPaymentCancelled: return "x402.payment.cancelled";
    case EventType::kChainTransfer: return "x402.chain.transfer";
    case EventType::kChainAuthorizationUsed: return "x402.chain.authorization_used";
    case EventType::kChainAuthorizationCanceled: return "x402.chain.authorization_canceled";
    case EventType::kWalletBalance: return "x402.wallet.balance";
  }
  return "unknown";
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (int i = 0; i < kEventTypeCount; ++i) {
    if (EventTypeName(EventType(i)) == name) return EventType(i);
  }
  return std::nullopt;
}

EventDecoder::EventDecoder() {
  // simdjson's on-demand parser is compiled per CPU target; pick the best one this CPU runs.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") &&
      __builtin_cpu_supports("pclmul")) {
    backend_ = detail::haswell::NewBackend();
  } else {
    backend_ = detail::generic::NewBackend();
  }
}

EventDecoder::~EventDecoder() = default;

Status EventDecoder::DecodeInto(std::string_view json, Event* out) {
  return backend_->DecodeInto(json, out);
}

Result<Event> EventDecoder::Decode(std::string_view json) {
  scratch_.assign(json);
  scratch_.append(kPadding, ' ');
  Event e;
  Status st = DecodeInto(std::string_view(scratch_.data(), json.size()), &e);
  if (!st.ok()) return Err(st.error());
  return e;
}

}  // namespace x402
