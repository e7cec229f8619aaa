// Portable kernels: element loops over reference.hpp, the definition every SIMD path is tested
// against.
#include <cmath>

#include "fixed/kernels/kernels.hpp"
#include "fixed/kernels/reference.hpp"

namespace q8::fixed {
namespace {

template <class F, class T, int R>
void from_real_mode(const F *src, T *dst, std::size_t n, F scale) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = from_real_one<T, R>(src[i], scale);
}

template <class F, class T>
void from_real(const F *src, T *dst, std::size_t n, int frac_bits, q8_rounding r) {
  const F scale = std::ldexp(F(1), frac_bits);
  switch (r) {
    case Q8_ROUND_TOWARD_ZERO: return from_real_mode<F, T, Q8_ROUND_TOWARD_ZERO>(src, dst, n, scale);
    case Q8_ROUND_NEAREST_AWAY: return from_real_mode<F, T, Q8_ROUND_NEAREST_AWAY>(src, dst, n, scale);
    default: return from_real_mode<F, T, Q8_ROUND_NEAREST_EVEN>(src, dst, n, scale);
  }
}

template <class T, class F>
void to_real(const T *src, F *dst, std::size_t n, int frac_bits) {
  const F inv = std::ldexp(F(1), -frac_bits);
  for (std::size_t i = 0; i < n; ++i) dst[i] = to_real_one<F>(src[i], inv);
}

template <class S, class D, D (*op)(S)>
void unary(const S *src, D *dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = op(src[i]);
}

template <class T, T (*op)(T, T)>
void binary(const T *a, const T *b, T *dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = op(a[i], b[i]);
}

template <class T>
void shift(const T *src, int s, T *dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = shift_one<T>(src[i], s);
}

template <class T>
void scale_small(const T *src, T scale_fract, int s, T *dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = scale_small_one<T>(src[i], scale_fract, s);
}

void scale_q31(const int32_t *src, int32_t scale_fract, int s, int32_t *dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = scale_q31_one(src[i], scale_fract, s);
}

uint32_t dot_q7(const int8_t *a, const int8_t *b, std::size_t n) {
  int32_t acc = 0;
  for (std::size_t i = 0; i < n; ++i) acc = mac_q7_one(acc, a[i], b[i]);
  return uint32_t(acc);
}

uint64_t dot_q15(const int16_t *a, const int16_t *b, std::size_t n) {
  int64_t acc = 0;
  for (std::size_t i = 0; i < n; ++i) acc = mac_q15_one(acc, a[i], b[i]);
  return uint64_t(acc);
}

uint64_t dot_q31(const int32_t *a, const int32_t *b, std::size_t n) {
  int64_t acc = 0;
  for (std::size_t i = 0; i < n; ++i) acc = mac_q31_one(acc, a[i], b[i]);
  return uint64_t(acc);
}

}  // namespace

const FixedKernels kFixedScalar = {
    from_real<float, int8_t>,  from_real<float, int16_t>,  from_real<float, int32_t>,
    from_real<double, int8_t>, from_real<double, int16_t>, from_real<double, int32_t>,
    to_real<int8_t, float>,    to_real<int16_t, float>,    to_real<int32_t, float>,
    to_real<int8_t, double>,   to_real<int16_t, double>,   to_real<int32_t, double>,
    unary<int8_t, int16_t, q7_to_q15_one>,  unary<int8_t, int32_t, q7_to_q31_one>,
    unary<int16_t, int8_t, q15_to_q7_one>,  unary<int16_t, int32_t, q15_to_q31_one>,
    unary<int32_t, int8_t, q31_to_q7_one>,  unary<int32_t, int16_t, q31_to_q15_one>,
    binary<int8_t, add_one<int8_t>>, binary<int16_t, add_one<int16_t>>, binary<int32_t, add_one<int32_t>>,
    binary<int8_t, sub_one<int8_t>>, binary<int16_t, sub_one<int16_t>>, binary<int32_t, sub_one<int32_t>>,
    unary<int8_t, int8_t, negate_one<int8_t>>, unary<int16_t, int16_t, negate_one<int16_t>>,
    unary<int32_t, int32_t, negate_one<int32_t>>,
    unary<int8_t, int8_t, abs_one<int8_t>>, unary<int16_t, int16_t, abs_one<int16_t>>,
    unary<int32_t, int32_t, abs_one<int32_t>>,
    binary<int8_t, mult_one<int8_t>>, binary<int16_t, mult_one<int16_t>>, binary<int32_t, mult_one<int32_t>>,
    shift<int8_t>, shift<int16_t>, shift<int32_t>,
    scale_small<int8_t>, scale_small<int16_t>, scale_q31,
    dot_q7, dot_q15, dot_q31,
};

}  // namespace q8::fixed
