// Result<T>: a value or an error message, returned across module boundaries instead of
// throwing (STYLE.md rule 4). The error is a human-readable reason that names the field or
// the place, e.g. "data.amount: expected atomic-unit integer string, got 1.5".
// Thread-safety: a plain value type.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace x402 {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const std::string& error() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, Error> v_;
};

// Status: success or an error message.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e.message)) {}  // NOLINT(google-explicit-constructor)
  static Status Ok() { return Status(); }
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return *err_; }

 private:
  std::optional<std::string> err_;
};

inline Error Err(std::string message) { return Error{std::move(message)}; }

}  // namespace x402
