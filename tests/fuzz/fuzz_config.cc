// libFuzzer target: the TOML configuration loader (engine/config_file.h) on arbitrary file
// contents: every file is loaded or refused with one line naming the problem.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/x402-fuzz-config-" + std::to_string(::getpid()) + ".toml";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  x402::FileSettings settings;
  x402::Status st = x402::LoadConfigFile(path, &settings);
  if (!st.ok() && (st.error().empty() || st.error().find('\n') != std::string::npos))
    __builtin_trap();
  return 0;
}
