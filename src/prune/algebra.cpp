// Masks as data: checking them, applying them to f32 and quantized weights, AND / OR, and
// measuring sparsity. Every check runs before the first write, so a failing call changes nothing.
#include <algorithm>
#include <string>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "prune/prune.hpp"

namespace q8::prune {
namespace {

std::string shape_string(const q8_tensor &t) {
  std::string s = "[";
  for (std::size_t i = 0; i < t.rank; ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + "]";
}

void check_same_shape(const q8_tensor &a, const char *a_name, const q8_tensor &b, const char *b_name) {
  if (a.rank != b.rank || !std::equal(a.shape, a.shape + a.rank, b.shape))
    fail(Q8_ERR_SHAPE, std::string(a_name) + " has shape " + shape_string(a) + " but " + b_name + " has shape " +
                           shape_string(b));
}

// Calls f(begin, end, zero) over runs of elements that share one real-zero value: the zero point
// of the tensor or of each index of the quantized axis, else 0.
template <class F>
void for_each_zero_run(const q8_tensor &t, F &&f) {
  if (!t.qp.present()) return f(std::size_t(0), t.numel, int32_t(0));
  if (t.qp.axis < 0) return f(std::size_t(0), t.numel, t.qp.zero_points[0]);
  const std::size_t inner = t.inner(t.qp.axis), len = static_cast<std::size_t>(t.shape[t.qp.axis]);
  for (std::size_t begin = 0, i = 0; begin < t.numel; begin += inner, ++i)
    f(begin, begin + inner, t.qp.zero_points[i % len]);
}

template <class T>
std::size_t count_equal(const T *x, std::size_t begin, std::size_t end, T value) {
  return static_cast<std::size_t>(std::count(x + begin, x + end, value));
}

template <class T>
void apply_as(q8_tensor &w, const uint8_t *mask) {
  T *x = static_cast<T *>(w.data);
  for_each_zero_run(w, [&](std::size_t begin, std::size_t end, int32_t zero) {
    for (std::size_t i = begin; i < end; ++i)
      if (!mask[i]) x[i] = static_cast<T>(zero);
  });
}

template <class T>
std::size_t zeros_as(const q8_tensor &t) {
  const T *x = static_cast<const T *>(t.data);
  std::size_t zeros = 0;
  for_each_zero_run(t, [&](std::size_t begin, std::size_t end, int32_t zero) {
    zeros += count_equal(x, begin, end, static_cast<T>(zero));
  });
  return zeros;
}

// dst[i] = op(dst[i], src[i]) over two masks of one shape.
template <class Op>
void combine(q8_tensor &dst, const q8_tensor &src, Op op) {
  check_mask(dst, "dst");
  check_mask(src, "src");
  check_same_shape(src, "src", dst, "dst");
  uint8_t *d = static_cast<uint8_t *>(dst.data);
  const uint8_t *s = static_cast<const uint8_t *>(src.data);
  for (std::size_t i = 0; i < dst.numel; ++i) d[i] = op(d[i], s[i]);
}

}  // namespace

void check_mask(const q8_tensor &mask, const char *what) {
  if (mask.dtype != Q8_DTYPE_U8)
    fail(Q8_ERR_DTYPE, std::string(what) + " is " + dtype_name(mask.dtype) + " but masks are u8");
  const uint8_t *m = static_cast<const uint8_t *>(mask.data);
  for (std::size_t i = 0; i < mask.numel; ++i)
    if (m[i] > 1)
      fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + ": element " + std::to_string(i) + " is " +
                                        std::to_string(m[i]) + ", not 0 or 1");
}

void apply(float *w, const std::vector<uint8_t> &mask) {
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) w[i] = 0.0f;
}

double sparsity(const std::vector<uint8_t> &mask) {
  if (mask.empty()) return 0.0;
  return static_cast<double>(count_equal(mask.data(), 0, mask.size(), uint8_t(0))) / static_cast<double>(mask.size());
}

double sparsity(const float *w, std::size_t n) {
  // == 0.0f also counts -0.0f.
  return n == 0 ? 0.0 : static_cast<double>(count_equal(w, 0, n, 0.0f)) / static_cast<double>(n);
}

void apply(q8_tensor &weights, const q8_tensor &mask) {
  if (weights.dtype != Q8_DTYPE_F32 && weights.dtype != Q8_DTYPE_S8 && weights.dtype != Q8_DTYPE_U8)
    fail(Q8_ERR_DTYPE, std::string("weights is ") + dtype_name(weights.dtype) + ", not f32, s8 or u8");
  check_mask(mask, "mask");
  check_same_shape(mask, "mask", weights, "weights");
  const uint8_t *m = static_cast<const uint8_t *>(mask.data);
  switch (weights.dtype) {
    case Q8_DTYPE_F32: apply_as<float>(weights, m); break;
    case Q8_DTYPE_S8: apply_as<int8_t>(weights, m); break;
    default: apply_as<uint8_t>(weights, m); break;
  }
}

void mask_and(q8_tensor &dst, const q8_tensor &src) {
  combine(dst, src, [](uint8_t a, uint8_t b) { return uint8_t(a & b); });
}

void mask_or(q8_tensor &dst, const q8_tensor &src) {
  combine(dst, src, [](uint8_t a, uint8_t b) { return uint8_t(a | b); });
}

double sparsity(const q8_tensor &t) {
  if (t.numel == 0) return 0.0;
  std::size_t zeros = 0;
  switch (t.dtype) {
    case Q8_DTYPE_F32: return sparsity(static_cast<const float *>(t.data), t.numel);
    case Q8_DTYPE_S8: zeros = zeros_as<int8_t>(t); break;
    case Q8_DTYPE_U8: zeros = zeros_as<uint8_t>(t); break;
    case Q8_DTYPE_S32: zeros = zeros_as<int32_t>(t); break;
  }
  return static_cast<double>(zeros) / static_cast<double>(t.numel);
}

}  // namespace q8::prune
