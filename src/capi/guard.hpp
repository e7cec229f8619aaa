// The one place where C++ meets the C ABI: run a body, turn any exception into a q8_status and a
// readable message for q8_last_error(). Every fallible q8_* entry point is `return guard([&] {...});`.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <string>
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

// A caller's versioned options struct (struct_size first, fields only ever appended): at least
// `first_size` bytes (its first version, the smallest there will ever be), copied up to what both
// sides know over `defaults` (what its _init gives), so fields past the caller's struct keep
// theirs. `what` names the argument, `init` its _init function, for the message.
template <class T>
T read_versioned(const T &in, std::size_t first_size, T defaults, const char *what, const char *init) {
  Q8_CHECK_ARG(in.struct_size >= first_size && in.struct_size <= 4096,
               std::string(what) + "->struct_size = " + std::to_string(in.struct_size) +
                   " is not a known size (use " + init + ")");
  std::memcpy(&defaults, &in, std::min(in.struct_size, sizeof defaults));
  return defaults;
}

}  // namespace q8
