#include "engine/cli/flags.h"

#include "connectors/http_client.h"

namespace x402::cli {

void Flags::Add(const std::string& name, const std::string& value_name, const std::string& help, bool repeatable) {
  order_.push_back(name);
  specs_[name] = Spec{value_name, help, repeatable};
}

Status Flags::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h") arg = "--help";
    if (!arg.starts_with("--")) {
      // A stray URL may be a webhook with its token: never echo one in full.
      const std::string shown = arg.find("://") != std::string::npos ? RedactUrl(arg) : arg;
      return Err("x402rec " + command_ + ": unexpected argument '" + shown +
                 "' (flags start with --; see x402rec " + command_ + " --help)");
    }
    std::string name = arg.substr(2), value;
    bool has_inline = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    if (name == "help") {
      values_["help"].push_back("");
      continue;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      return Err("x402rec " + command_ + ": unknown flag --" + name + " (see x402rec " + command_ + " --help)");
    }
    if (it->second.value_name.empty()) {
      if (has_inline) return Err("x402rec " + command_ + ": --" + name + " takes no value");
    } else if (!has_inline) {
      if (i + 1 >= argc) return Err("x402rec " + command_ + ": --" + name + " needs a value (" + it->second.value_name + ")");
      value = argv[++i];
    }
    auto& v = values_[name];
    if (!v.empty() && !it->second.repeatable) {
      return Err("x402rec " + command_ + ": --" + name + " given more than once");
    }
    v.push_back(value);
  }
  return Status::Ok();
}

std::optional<std::string> Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Flags::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<uint64_t> Flags::GetUint(const std::string& name, uint64_t def, uint64_t min, uint64_t max) const {
  auto v = Get(name);
  if (!v) return def;
  uint64_t n = 0;
  bool ok = !v->empty() && v->size() <= 19;
  for (char c : *v) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || n < min || n > max) {
    return Err("x402rec " + command_ + ": --" + name + ": expected an integer " + std::to_string(min) + ".." +
               std::to_string(max) + ", got '" + *v + "'");
  }
  return n;
}

std::string Flags::Help() const {
  std::string out = usage_ + "\n\nOptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.value_name.empty() ? "" : " " + s.value_name);
    if (left.size() < 30) left.resize(30, ' ');
    else left += "\n" + std::string(30, ' ');
    out += left + s.help + (s.repeatable ? " (repeatable)" : "") + "\n";
  }
  out += "  --help                      this text\n";
  return out;
}

}  // namespace x402::cli
