// Helpers for passes that call q8's own public functions: a failing status becomes an exception
// that keeps the inner message.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "q8/common.h"
#include "q8/model.h"

namespace q8::ptq {

// A q8_tensor from the public API, destroyed with it.
struct TensorDeleter {
  void operator()(q8_tensor *t) const { q8_tensor_destroy(t); }
};
using TensorPtr = std::unique_ptr<q8_tensor, TensorDeleter>;

inline void check(q8_status s, const std::string &what) {
  if (s != Q8_OK) fail(s, what + ": " + q8_last_error());
}

// Runs `m` over `count` batches (batch b's input i is batches[b * inputs + i]) through the public
// session API, one session per stretch of equal batch sizes, and calls fn(session, b) after each
// run. `what` names the job in errors ("calibration", ...).
void run_batches(const q8_model &m, const q8_tensor *const *batches, size_t count, const std::string &what,
                 const std::function<void(q8_session *, size_t)> &fn);

}  // namespace q8::ptq
