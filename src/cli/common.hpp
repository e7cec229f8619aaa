// Shared pieces of the q8 tool's commands: errors, exit codes, owned handles, argument helpers.
#pragma once
#include <q8/q8.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace q8cli {


inline constexpr int kExitError = 1, kExitUsage = 2;

// Thrown for anything that ends the run; main() prints it.
struct CliError {
  std::string message;
  int exit_code;
};

[[noreturn]] inline void usage_error(const std::string &message) { throw CliError{message, kExitUsage}; }

// A failed q8 call: its name, status and q8_last_error().
struct Q8Failure {
  const char *call;
  q8_status status;
  std::string detail;
};

inline void check(q8_status st, const char *call) {
  if (st != Q8_OK) throw Q8Failure{call, st, q8_last_error()};
}
#define Q8_CHECK(call) check((call), #call)

struct TensorDeleter {
  void operator()(q8_tensor *t) const { q8_tensor_destroy(t); }
};
struct ObserverDeleter {
  void operator()(q8_observer *o) const { q8_observer_destroy(o); }
};
using Tensor = std::unique_ptr<q8_tensor, TensorDeleter>;
using Observer = std::unique_ptr<q8_observer, ObserverDeleter>;

// A [rows, cols] f32 tensor over `data` (borrowed).
inline Tensor wrap_f32(float *data, std::size_t rows, std::size_t cols) {
  const int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  q8_tensor *t = nullptr;
  Q8_CHECK(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, rows > 0 && cols > 0 ? data : nullptr,
                          rows * cols * sizeof(float), &t));
  return Tensor(t);
}

inline Tensor create(q8_dtype dt, std::size_t rows, std::size_t cols) {
  const int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  q8_tensor *t = nullptr;
  Q8_CHECK(q8_tensor_create(dt, shape, 2, &t));
  return Tensor(t);
}



}  // namespace q8cli
