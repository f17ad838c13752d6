// MemoryState: an in-memory StateView (one ordered map per table) for unit tests and
// tools. Also a timer list so projections can be driven without the engine.
// Thread-compatible.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "projections/state.h"

namespace x402 {

class MemoryState final : public StateView {
 public:
  bool Get(Table t, std::string_view key, std::string* value) override;
  void Put(Table t, std::string_view key, std::string_view value) override;
  void Delete(Table t, std::string_view key) override;
  void Scan(Table t, std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) override;

  const std::map<std::string, std::string, std::less<>>& table(Table t) const {
    return tables_[static_cast<int>(t)];
  }

 private:
  std::map<std::string, std::string, std::less<>> tables_[kTableCount];
};

}  // namespace x402
