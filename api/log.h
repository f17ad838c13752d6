// Structured logs: one JSON object per line on stderr, {"ts","level","msg",...fields}.
// Callers pass only non-secret fields (never tokens, never request headers).
// Thread-safe (one write(2) per line).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace x402 {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogField = std::pair<std::string_view, std::string>;

// Formats the line (without writing it); exposed for tests.
std::string FormatLogLine(LogLevel level, std::string_view msg,
                          std::initializer_list<LogField> fields);
void LogJson(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace x402
