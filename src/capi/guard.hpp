// The one place where C++ meets the C ABI: run a body, turn any exception into a q8_status and a
// readable message for q8_last_error(). Every fallible q8_* entry point is `return guard([&] {...});`.
#pragma once
#include <cstring>
#include <new>
#include <type_traits>

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

// Enums arrive from C, where an enum object may hold any int. In C++ loading an enum outside its
// range of values is undefined (UBSan's -fsanitize=enum stops there), so entry points read the
// bits of an incoming enum (a parameter or an options field) as an int and validate that before
// anything loads it as the enum type.
template <class E>
int enum_bits(const E &e) noexcept {
  static_assert(std::is_enum<E>::value && sizeof(E) == sizeof(int), "a C enum of int size");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

}  // namespace q8
