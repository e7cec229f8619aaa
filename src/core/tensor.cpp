#include "core/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "core/dtype.hpp"
#include "core/error.hpp"

namespace q8 {

std::size_t checked_numel(const int64_t *shape, std::size_t rank, std::size_t elem_size,
                          const char *what) {
  if (rank > Q8_MAX_RANK)
    fail(Q8_ERR_SHAPE, std::string(what) + ": rank " + std::to_string(rank) + " exceeds Q8_MAX_RANK (" +
                           std::to_string(Q8_MAX_RANK) + ")");
  if (rank > 0 && shape == nullptr)
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + " is NULL with rank " + std::to_string(rank));
  // Byte counts stay below PTRDIFF_MAX so that pointer arithmetic over the storage is defined.
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / elem_size;
  uint64_t n = 1;
  bool empty = false;
  for (std::size_t i = 0; i < rank; ++i) {
    if (shape[i] < 0)
      fail(Q8_ERR_SHAPE, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(shape[i]) +
                             " is negative");
    if (shape[i] == 0) empty = true;
  }
  if (empty) return 0;
  for (std::size_t i = 0; i < rank; ++i) {
    const uint64_t d = static_cast<uint64_t>(shape[i]);
    if (n > limit / d)
      fail(Q8_ERR_SHAPE, std::string(what) + ": element count overflows (the tensor would exceed " +
                             std::to_string(limit * elem_size) + " bytes)");
    n *= d;
  }
  return static_cast<std::size_t>(n);
}

void *aligned_zalloc(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t rounded = (bytes + Q8_ALIGNMENT - 1) / Q8_ALIGNMENT * Q8_ALIGNMENT;
  void *p = std::aligned_alloc(Q8_ALIGNMENT, rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return p;
}

void aligned_free(void *p) noexcept { std::free(p); }

int32_t resolve_axis(int32_t axis, std::size_t rank, const char *what) {
  const int64_t r = static_cast<int64_t>(rank);
  const int64_t a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r)
    fail(Q8_ERR_SHAPE, std::string(what) + " = " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(rank));
  return static_cast<int32_t>(a);
}

const q8_tensor &deref(const q8_tensor *t, const char *what) {
  if (!t) fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  return *t;
}

q8_tensor &deref(q8_tensor *t, const char *what) {
  if (!t) fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  return *t;
}

}  // namespace q8

std::size_t q8_tensor::nbytes() const noexcept { return numel * q8::dtype_size(dtype); }

std::size_t q8_tensor::inner(int32_t axis) const noexcept {
  std::size_t n = 1;
  for (std::size_t i = static_cast<std::size_t>(axis) + 1; i < rank; ++i) n *= static_cast<std::size_t>(shape[i]);
  return n;
}

q8_tensor::~q8_tensor() {
  if (owned) q8::aligned_free(data);
}
