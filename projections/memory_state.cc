#include "projections/memory_state.h"

namespace x402 {

bool MemoryState::Get(Table t, std::string_view key, std::string* value) {
  auto& m = tables_[static_cast<int>(t)];
  auto it = m.find(key);
  if (it == m.end()) return false;
  *value = it->second;
  return true;
}

void MemoryState::Put(Table t, std::string_view key, std::string_view value) {
  tables_[static_cast<int>(t)][std::string(key)] = std::string(value);
}

void MemoryState::Delete(Table t, std::string_view key) {
  auto& m = tables_[static_cast<int>(t)];
  auto it = m.find(key);
  if (it != m.end()) m.erase(it);
}

void MemoryState::Scan(Table t, std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& fn) {
  auto& m = tables_[static_cast<int>(t)];
  for (auto it = m.lower_bound(prefix); it != m.end() && it->first.starts_with(prefix); ++it) {
    if (!fn(it->first, it->second)) return;
  }
}

}  // namespace x402
