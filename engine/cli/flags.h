// A small command-line flag parser for the x402rec subcommands: "--name value",
// "--name=value", boolean "--name", repeatable flags, and errors that say exactly which flag
// is wrong ("x402rec replay: --as-of: expected RFC 3339 time ..."). Not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schemas/result.h"

namespace x402::cli {

class Flags {
 public:
  Flags(std::string command, std::string usage) : command_(std::move(command)), usage_(std::move(usage)) {}

  // Declares a flag. `value_name` empty means boolean.
  void Add(const std::string& name, const std::string& value_name, const std::string& help,
           bool repeatable = false);
  Status Parse(int argc, char** argv);  // argv[0] is the subcommand

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> Get(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
  std::string Help() const;
  const std::string& command() const { return command_; }

  Result<uint64_t> GetUint(const std::string& name, uint64_t def, uint64_t min, uint64_t max) const;

 private:
  struct Spec {
    std::string value_name, help;
    bool repeatable;
  };
  std::string command_, usage_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace x402::cli
