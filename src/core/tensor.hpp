// The tensor behind the opaque q8_tensor handle: a dense row-major array with an overflow-checked
// shape, owned or borrowed storage, and optional quantization parameters.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "q8/tensor.h"

namespace q8 {

struct QParams {
  int32_t axis = -1;                // -1: per-tensor; else the quantized axis
  std::vector<float> scales;        // empty: not quantized
  std::vector<int32_t> zero_points;
  bool present() const noexcept { return !scales.empty(); }
};

// Validates a shape (rank <= Q8_MAX_RANK, dims >= 0, element and byte counts without overflow)
// and returns the element count. `what` names the argument in errors.
std::size_t checked_numel(const int64_t *shape, std::size_t rank, std::size_t elem_size,
                          const char *what);

// Storage aligned to Q8_ALIGNMENT, zero-filled. Freed with aligned_free.
void *aligned_zalloc(std::size_t bytes);
void aligned_free(void *p) noexcept;

}  // namespace q8

struct q8_tensor {
  q8_dtype dtype = Q8_DTYPE_F32;
  std::size_t rank = 0;
  int64_t shape[Q8_MAX_RANK] = {};
  std::size_t numel = 0;
  void *data = nullptr;
  bool owned = false;
  q8::QParams qp;

  std::size_t nbytes() const noexcept;
  // Product of the dims after `axis` (the stride of `axis`, in elements).
  std::size_t inner(int32_t axis) const noexcept;
  ~q8_tensor();
};

namespace q8 {
// Resolves a possibly negative axis against a rank, or throws Q8_ERR_SHAPE naming `what`.
int32_t resolve_axis(int32_t axis, std::size_t rank, const char *what);
// Throws unless `t` is non-NULL.
const q8_tensor &deref(const q8_tensor *t, const char *what);
q8_tensor &deref(q8_tensor *t, const char *what);
}  // namespace q8
