// Helpers for passes that call q8's own public functions: a failing status becomes an exception
// that keeps the inner message.
#pragma once
#include <string>

#include "core/error.hpp"
#include "q8/common.h"

namespace q8::ptq {
inline void check(q8_status s, const std::string &what) {
  if (s != Q8_OK) fail(s, what + ": " + q8_last_error());
}
}  // namespace q8::ptq
