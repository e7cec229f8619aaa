// The C++ side of the bindings (compiled into every language's SWIG wrapper, never into libq8):
// checked buffer calls over the C API, a count of live handles, and the error type that each
// language's %exception turns into its own exception or error value.
//
// Every buffer arrives as a (pointer, length in elements) pair, so nothing here reads or writes
// past what the caller's language object holds: each length is checked against the shape before
// the C API sees the pointer.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "q8/q8.h"

namespace q8b {

// A failed q8 call (code != Q8_OK) or a binding-level misuse (a closed object, a short buffer).
struct Error {
  q8_status code;
  std::string message;
};

[[noreturn]] inline void fail(q8_status code, std::string message) {
  throw Error{code, std::move(message)};
}

inline void check(q8_status s) {
  if (s != Q8_OK) fail(s, q8_last_error());
}

// Handles made and not yet destroyed through the bindings: a leak check for every language's
// tests (0 once the test's objects are closed or collected).
inline std::atomic<long> &live_counter() {
  static std::atomic<long> n{0};
  return n;
}
template <class T> T *born(T *p) {
  if (p) live_counter().fetch_add(1, std::memory_order_relaxed);
  return p;
}
inline void died(const void *p) {
  if (p) live_counter().fetch_sub(1, std::memory_order_relaxed);
}

// A method called on a closed (destroyed) object receives NULL: refuse it by name.
inline void require_open(const void *self, const char *what) {
  if (!self) fail(Q8_ERR_STATE, std::string(what) + " is closed");
}

inline void require_len(const char *what, size_t have, size_t want) {
  if (have != want)
    fail(Q8_ERR_SHAPE, std::string(what) + " holds " + std::to_string(have) +
                           " elements; expected " + std::to_string(want));
}

inline size_t numel_of(const int64_t *dims, size_t ndims) {
  if (ndims > Q8_MAX_RANK) fail(Q8_ERR_SHAPE, "rank " + std::to_string(ndims) + " exceeds 8");
  size_t n = 1;
  for (size_t i = 0; i < ndims; ++i) {
    if (dims[i] < 0) fail(Q8_ERR_SHAPE, "dimension " + std::to_string(i) + " is negative");
    n *= static_cast<size_t>(dims[i]);
  }
  return n;
}

inline size_t tensor_numel(const q8_tensor *t) {
  size_t n = 0;
  check(q8_tensor_numel(t, &n));
  return n;
}

inline q8_dtype tensor_dtype(const q8_tensor *t) {
  q8_dtype d = Q8_DTYPE_F32;
  check(q8_tensor_dtype(t, &d));
  return d;
}

// The storage of `t` as an array of `dtype` and `len` elements: the dtype and the element count
// must both match, so a copy through it stays inside the tensor and the caller's array.
inline void *storage_for(const q8_tensor *t, q8_dtype dtype, size_t len) {
  require_open(t, "tensor");
  if (tensor_dtype(t) != dtype)
    fail(Q8_ERR_DTYPE, std::string("tensor is ") + q8_dtype_name(tensor_dtype(t)) + ", the array is " +
                           q8_dtype_name(dtype));
  require_len("array", len, tensor_numel(t));
  void *data = nullptr;
  check(q8_tensor_data(t, &data));
  return data;
}

// Element copies between a language array and a tensor of the matching dtype.
inline void copy_in(q8_tensor *t, q8_dtype dtype, const void *src, size_t len) {
  void *data = storage_for(t, dtype, len);
  if (len) std::memcpy(data, src, len * q8_dtype_size(dtype));
}

inline void copy_out(const q8_tensor *t, q8_dtype dtype, void *dst, size_t len) {
  const void *data = storage_for(t, dtype, len);
  if (len) std::memcpy(dst, data, len * q8_dtype_size(dtype));
}

// A tensor over memory the facade already holds (a language array, a member vector), freed with
// the guard; never handed to a language, so not counted in live_handles().
using WrappedTensor = std::unique_ptr<q8_tensor, void (*)(q8_tensor *)>;
inline WrappedTensor wrap(q8_dtype dtype, const int64_t *dims, size_t rank, const void *data,
                          size_t bytes) {
  q8_tensor *t = nullptr;
  check(q8_tensor_wrap(dtype, dims, rank, const_cast<void *>(data), bytes, &t));
  return WrappedTensor(t, q8_tensor_destroy);
}

inline q8_tensor *new_tensor(q8_dtype dtype, const int64_t *dims, size_t ndims) {
  numel_of(dims, ndims);
  q8_tensor *t = nullptr;
  check(q8_tensor_create(dtype, dims, ndims, &t));
  return born(t);
}

inline void destroy_tensor(q8_tensor *t) {
  died(t);
  q8_tensor_destroy(t);
}

// Owns a tensor until release(): a failure between create and return frees it.
struct TensorGuard {
  q8_tensor *t;
  ~TensorGuard() {
    if (t) destroy_tensor(t);
  }
  q8_tensor *release() { return std::exchange(t, nullptr); }
};

inline q8_tensor *tensor_from(q8_dtype dtype, const void *src, size_t len, const int64_t *dims,
                              size_t ndims) {
  require_len("array", len, numel_of(dims, ndims));
  TensorGuard g{new_tensor(dtype, dims, ndims)};
  copy_in(g.t, dtype, src, len);
  return g.release();
}

inline q8_tensor *clone_tensor(const q8_tensor *src) {
  q8_tensor *t = nullptr;
  check(q8_tensor_clone(src, &t));
  return born(t);
}

// ---- GEMM -------------------------------------------------------------------------------------
// Row-major A [m, k] and B [k, n] (or B stored [n, k] when b_transposed), C [m, n]. The epilogue
// vectors (bias, scales) hold 0 or n entries for bias, 1 or n for scales.

// The leading dimension of rows of `cols` elements: at least 1, which the C API (like BLAS)
// requires even of an empty matrix (k = 0 or n = 0).
inline int64_t ld(int64_t cols) { return cols > 1 ? cols : 1; }

inline size_t checked_mn(int64_t m, int64_t n, int64_t k) {
  if (m < 0 || n < 0 || k < 0) fail(Q8_ERR_SHAPE, "m, n and k must be >= 0");
  return static_cast<size_t>(m) * static_cast<size_t>(n);
}

inline q8_gemm_epilogue make_epilogue(q8_gemm_epilogue_kind kind, q8_dtype out, int64_t n,
                                      const int32_t *bias, size_t bias_len, const float *scales,
                                      size_t scales_len) {
  q8_gemm_epilogue e;
  check(q8_gemm_epilogue_init(&e));
  e.kind = kind;
  e.output_dtype = out;
  if (bias_len) {
    require_len("bias", bias_len, static_cast<size_t>(n));
    e.bias = bias;
  }
  if (kind != Q8_GEMM_EPILOGUE_S32) {
    if (scales_len != 1 && scales_len != static_cast<size_t>(n))
      fail(Q8_ERR_SHAPE, "scales hold " + std::to_string(scales_len) + " entries; expected 1 or n = " +
                             std::to_string(n));
    e.channels = scales_len;
    e.scale = scales;
  }
  return e;
}

template <class A>
void gemm(int64_t m, int64_t n, int64_t k, const A *a, size_t a_len, int32_t a_zp, const int8_t *b,
          size_t b_len, bool b_transposed, int32_t b_zp, const q8_gemm_epilogue &e, void *c,
          size_t c_len) {
  const size_t mn = checked_mn(m, n, k);
  require_len("a", a_len, static_cast<size_t>(m) * static_cast<size_t>(k));
  require_len("b", b_len, static_cast<size_t>(k) * static_cast<size_t>(n));
  require_len("c", c_len, mn);
  const q8_transpose tb = b_transposed ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE;
  const int64_t ldb = ld(b_transposed ? k : n);
  if constexpr (std::is_same_v<A, uint8_t>)
    check(q8_gemm_u8s8(Q8_NO_TRANSPOSE, tb, m, n, k, a, ld(k), a_zp, b, ldb, &b_zp, 1, &e, c, ld(n)));
  else
    check(q8_gemm_s8s8(Q8_NO_TRANSPOSE, tb, m, n, k, a, ld(k), a_zp, b, ldb, &b_zp, 1, &e, c, ld(n)));
}

}  // namespace q8b
