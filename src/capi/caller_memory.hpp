// Memory the library hands to the caller, who frees it with q8_free (std::free): serialized
// models and calibrations, descriptions. One place, so every such buffer is allocated the same way.
#pragma once
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace q8::capi {

// A malloc'd copy of n bytes (at least one byte is allocated, so an empty result is not NULL).
inline void *caller_copy(const void *data, std::size_t n) {
  void *p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  if (n) std::memcpy(p, data, n);
  return p;
}

// A malloc'd NUL-terminated copy of s.
inline char *caller_string(const std::string &s) { return static_cast<char *>(caller_copy(s.c_str(), s.size() + 1)); }

}  // namespace q8::capi
