// The one place where C++ meets the C ABI: run a body, turn any exception into a q8_status and a
// readable message for q8_last_error(). Every fallible q8_* entry point is `return guard([&] {...});`.
#pragma once
#include <new>

#include "core/error.hpp"

namespace q8 {

template <class Body>
q8_status guard(const char *function, Body &&body) noexcept {
  try {
    body();
    return Q8_OK;
  } catch (const Error &e) {
    set_last_error(function, e.what());
    return e.status();
  } catch (const std::bad_alloc &) {
    set_last_error(function, "out of memory");
    return Q8_ERR_OUT_OF_MEMORY;
  } catch (const std::exception &e) {
    set_last_error(function, e.what());
    return Q8_ERR_INTERNAL;
  } catch (...) {
    set_last_error(function, "internal error: unknown exception");
    return Q8_ERR_INTERNAL;
  }
}

// Argument checks that name the argument in the message.
#define Q8_CHECK_ARG(cond, ...)                                 \
  do {                                                          \
    if (!(cond)) ::q8::fail(Q8_ERR_INVALID_ARGUMENT, __VA_ARGS__);    \
  } while (0)
#define Q8_CHECK_NOT_NULL(ptr) Q8_CHECK_ARG((ptr) != nullptr, #ptr " is NULL")

}  // namespace q8
