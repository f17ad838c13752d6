#include "api/log.h"

#include <unistd.h>

#include <chrono>

#include "schemas/json_writer.h"
#include "schemas/time.h"

namespace x402 {

namespace {
std::string_view LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}
}  // namespace

std::string FormatLogLine(LogLevel level, std::string_view msg,
                          std::initializer_list<LogField> fields) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("ts", FormatRfc3339(TimeMs{ms}));
  j.Field("level", LevelName(level));
  j.Field("msg", msg);
  for (const auto& [k, v] : fields) j.Field(k, v);
  j.EndObject();
  out.push_back('\n');
  return out;
}

void LogJson(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  const std::string line = FormatLogLine(level, msg, fields);
  ssize_t n = ::write(2, line.data(), line.size());
  (void)n;
}

}  // namespace x402
