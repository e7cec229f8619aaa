// Errors inside q8 are C++ exceptions carrying a q8_status; the C API boundary (src/capi/guard.hpp)
// turns them into a status and this thread's last-error message. Nothing else may throw across it.
#pragma once
#include <stdexcept>
#include <string>

#include "q8/common.h"

namespace q8 {

class Error : public std::runtime_error {
 public:
  Error(q8_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  q8_status status() const noexcept { return status_; }

 private:
  q8_status status_;
};

[[noreturn]] inline void fail(q8_status status, const std::string &message) {
  throw Error(status, message);
}

// Sets this thread's message for q8_last_error() to "function: message" (truncated, never throws).
void set_last_error(const char *function, const char *message) noexcept;
const char *last_error() noexcept;

}  // namespace q8
