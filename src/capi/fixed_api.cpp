// q8_fixed_*: Q7/Q15/Q31 conversions and arithmetic (include/q8/fixed.h, first half). Argument
// checks here; the work is in src/fixed/.
#include <cstdint>
#include <string>

#include "capi/guard.hpp"
#include "fixed/ops.hpp"

using namespace q8;

namespace {

// An array argument: non-NULL when n > 0, and n elements must be addressable.
template <class T>
void check_array(const T *p, const char *name, size_t n) {
  Q8_CHECK_ARG(n <= size_t(PTRDIFF_MAX) / sizeof(T),
               std::string("n = ") + std::to_string(n) + " is too large for " + name);
  Q8_CHECK_ARG(p != nullptr, std::string(name) + " is NULL (n = " + std::to_string(n) + ")");
}

// dst may be exactly a source array (same address, same byte length), or disjoint from it.
template <class S, class D>
void check_overlap(const S *src, const char *src_name, const D *dst, size_t n) {
  const uintptr_t s = reinterpret_cast<uintptr_t>(src), d = reinterpret_cast<uintptr_t>(dst);
  const uintptr_t sb = n * sizeof(S), db = n * sizeof(D);
  const bool disjoint = s + sb <= d || d + db <= s;
  const bool same = s == d && sb == db;
  Q8_CHECK_ARG(disjoint || same, std::string("dst overlaps ") + src_name +
                                     " partially (in place needs dst == " + src_name + ", same element size)");
}

template <class T>
void check_frac_bits(int frac_bits) {
  constexpr int hi = 8 * int(sizeof(T)) - 1;
  Q8_CHECK_ARG(frac_bits >= 0 && frac_bits <= hi,
               "frac_bits = " + std::to_string(frac_bits) + " is outside [0, " + std::to_string(hi) + "] for s" +
                   std::to_string(8 * sizeof(T)) + " storage");
}

// See enum_bits: the caller's bits are validated before they are used as a q8_rounding.
q8_rounding check_rounding(const q8_rounding &rounding) {
  const int v = enum_bits(rounding);
  Q8_CHECK_ARG(v >= Q8_ROUND_TOWARD_ZERO && v <= Q8_ROUND_NEAREST_EVEN,
               "rounding = " + std::to_string(v) +
                   " is not a q8_rounding (0 toward zero, 1 nearest away, 2 nearest even)");
  return static_cast<q8_rounding>(v);
}

// Checks for dst = f(src): returns false when there is nothing to do.
template <class S, class D>
bool unary_args(const S *src, const D *dst, size_t n) {
  if (n == 0) return false;
  check_array(src, "src", n);
  check_array(dst, "dst", n);
  check_overlap(src, "src", dst, n);
  return true;
}

template <class T>
bool binary_args(const T *a, const T *b, const T *dst, size_t n) {
  if (n == 0) return false;
  check_array(a, "a", n);
  check_array(b, "b", n);
  check_array(dst, "dst", n);
  check_overlap(a, "a", dst, n);
  check_overlap(b, "b", dst, n);
  return true;
}

template <class T, class R>
void dot_args(const T *a, const T *b, size_t n, const R *result) {
  Q8_CHECK_NOT_NULL(result);
  if (n == 0) return;
  check_array(a, "a", n);
  check_array(b, "b", n);
}

}  // namespace

extern "C" {

// ---- real <-> Qm.n ----------------------------------------------------------------------------

#define Q8_FROM_REAL(F, T, fname)                                                                  \
  q8_status q8_fixed_##fname(const F *src, T *dst, size_t n, int frac_bits, q8_rounding rounding) { \
    return guard(__func__, [&] {                                                                   \
      check_frac_bits<T>(frac_bits);                                                               \
      const q8_rounding r = check_rounding(rounding);                                              \
      if (unary_args(src, dst, n)) fixed::fname(src, dst, n, frac_bits, r);                        \
    });                                                                                            \
  }
Q8_FROM_REAL(float, int8_t, from_f32_s8)
Q8_FROM_REAL(float, int16_t, from_f32_s16)
Q8_FROM_REAL(float, int32_t, from_f32_s32)
Q8_FROM_REAL(double, int8_t, from_f64_s8)
Q8_FROM_REAL(double, int16_t, from_f64_s16)
Q8_FROM_REAL(double, int32_t, from_f64_s32)
#undef Q8_FROM_REAL

#define Q8_TO_REAL(T, F, fname)                                                                    \
  q8_status q8_fixed_##fname(const T *src, F *dst, size_t n, int frac_bits) {                     \
    return guard(__func__, [&] {                                                                   \
      check_frac_bits<T>(frac_bits);                                                               \
      if (unary_args(src, dst, n)) fixed::fname(src, dst, n, frac_bits);                           \
    });                                                                                            \
  }
Q8_TO_REAL(int8_t, float, to_f32_s8)
Q8_TO_REAL(int16_t, float, to_f32_s16)
Q8_TO_REAL(int32_t, float, to_f32_s32)
Q8_TO_REAL(int8_t, double, to_f64_s8)
Q8_TO_REAL(int16_t, double, to_f64_s16)
Q8_TO_REAL(int32_t, double, to_f64_s32)
#undef Q8_TO_REAL

// ---- element-wise, one source ---------------------------------------------------------------

#define Q8_UNARY(S, D, fname)                                                                      \
  q8_status q8_fixed_##fname(const S *src, D *dst, size_t n) {                                   \
    return guard(__func__, [&] {                                                                   \
      if (unary_args(src, dst, n)) fixed::fname(src, dst, n);                                      \
    });                                                                                            \
  }
Q8_UNARY(int8_t, int16_t, q7_to_q15)
Q8_UNARY(int8_t, int32_t, q7_to_q31)
Q8_UNARY(int16_t, int8_t, q15_to_q7)
Q8_UNARY(int16_t, int32_t, q15_to_q31)
Q8_UNARY(int32_t, int8_t, q31_to_q7)
Q8_UNARY(int32_t, int16_t, q31_to_q15)
Q8_UNARY(int8_t, int8_t, negate_q7)
Q8_UNARY(int16_t, int16_t, negate_q15)
Q8_UNARY(int32_t, int32_t, negate_q31)
Q8_UNARY(int8_t, int8_t, abs_q7)
Q8_UNARY(int16_t, int16_t, abs_q15)
Q8_UNARY(int32_t, int32_t, abs_q31)
#undef Q8_UNARY

#define Q8_SHIFT(T, fname)                                                                         \
  q8_status q8_fixed_##fname(const T *src, int8_t shift_bits, T *dst, size_t n) {                \
    return guard(__func__, [&] {                                                                   \
      if (unary_args(src, dst, n)) fixed::fname(src, shift_bits, dst, n);                          \
    });                                                                                            \
  }
Q8_SHIFT(int8_t, shift_q7)
Q8_SHIFT(int16_t, shift_q15)
Q8_SHIFT(int32_t, shift_q31)
#undef Q8_SHIFT

#define Q8_SCALE(T, fname)                                                                         \
  q8_status q8_fixed_##fname(const T *src, T scale_fract, int8_t shift, T *dst, size_t n) {      \
    return guard(__func__, [&] {                                                                   \
      if (unary_args(src, dst, n)) fixed::fname(src, scale_fract, shift, dst, n);                  \
    });                                                                                            \
  }
Q8_SCALE(int8_t, scale_q7)
Q8_SCALE(int16_t, scale_q15)
Q8_SCALE(int32_t, scale_q31)
#undef Q8_SCALE

// ---- element-wise, two sources --------------------------------------------------------------

#define Q8_BINARY(T, fname)                                                                        \
  q8_status q8_fixed_##fname(const T *a, const T *b, T *dst, size_t n) {                         \
    return guard(__func__, [&] {                                                                   \
      if (binary_args(a, b, dst, n)) fixed::fname(a, b, dst, n);                                   \
    });                                                                                            \
  }
Q8_BINARY(int8_t, add_q7)
Q8_BINARY(int16_t, add_q15)
Q8_BINARY(int32_t, add_q31)
Q8_BINARY(int8_t, sub_q7)
Q8_BINARY(int16_t, sub_q15)
Q8_BINARY(int32_t, sub_q31)
Q8_BINARY(int8_t, mult_q7)
Q8_BINARY(int16_t, mult_q15)
Q8_BINARY(int32_t, mult_q31)
#undef Q8_BINARY

// ---- dot products ---------------------------------------------------------------------------

q8_status q8_fixed_dot_prod_q7(const int8_t *a, const int8_t *b, size_t n, int32_t *result) {
  return guard(__func__, [&] {
    dot_args(a, b, n, result);
    *result = n ? fixed::dot_prod_q7(a, b, n) : 0;
  });
}
q8_status q8_fixed_dot_prod_q15(const int16_t *a, const int16_t *b, size_t n, int64_t *result) {
  return guard(__func__, [&] {
    dot_args(a, b, n, result);
    *result = n ? fixed::dot_prod_q15(a, b, n) : 0;
  });
}
q8_status q8_fixed_dot_prod_q31(const int32_t *a, const int32_t *b, size_t n, int64_t *result) {
  return guard(__func__, [&] {
    dot_args(a, b, n, result);
    *result = n ? fixed::dot_prod_q31(a, b, n) : 0;
  });
}

// ---- scalar forms: total functions ----------------------------------------------------------

int8_t q8_fixed_add_q7_scalar(int8_t a, int8_t b) { return fixed::add_q7_scalar(a, b); }
int16_t q8_fixed_add_q15_scalar(int16_t a, int16_t b) { return fixed::add_q15_scalar(a, b); }
int32_t q8_fixed_add_q31_scalar(int32_t a, int32_t b) { return fixed::add_q31_scalar(a, b); }
int8_t q8_fixed_sub_q7_scalar(int8_t a, int8_t b) { return fixed::sub_q7_scalar(a, b); }
int16_t q8_fixed_sub_q15_scalar(int16_t a, int16_t b) { return fixed::sub_q15_scalar(a, b); }
int32_t q8_fixed_sub_q31_scalar(int32_t a, int32_t b) { return fixed::sub_q31_scalar(a, b); }
int8_t q8_fixed_negate_q7_scalar(int8_t x) { return fixed::negate_q7_scalar(x); }
int16_t q8_fixed_negate_q15_scalar(int16_t x) { return fixed::negate_q15_scalar(x); }
int32_t q8_fixed_negate_q31_scalar(int32_t x) { return fixed::negate_q31_scalar(x); }
int8_t q8_fixed_abs_q7_scalar(int8_t x) { return fixed::abs_q7_scalar(x); }
int16_t q8_fixed_abs_q15_scalar(int16_t x) { return fixed::abs_q15_scalar(x); }
int32_t q8_fixed_abs_q31_scalar(int32_t x) { return fixed::abs_q31_scalar(x); }
int8_t q8_fixed_mult_q7_scalar(int8_t a, int8_t b) { return fixed::mult_q7_scalar(a, b); }
int16_t q8_fixed_mult_q15_scalar(int16_t a, int16_t b) { return fixed::mult_q15_scalar(a, b); }
int32_t q8_fixed_mult_q31_scalar(int32_t a, int32_t b) { return fixed::mult_q31_scalar(a, b); }
int8_t q8_fixed_shift_q7_scalar(int8_t x, int8_t shift_bits) { return fixed::shift_q7_scalar(x, shift_bits); }
int16_t q8_fixed_shift_q15_scalar(int16_t x, int8_t shift_bits) { return fixed::shift_q15_scalar(x, shift_bits); }
int32_t q8_fixed_shift_q31_scalar(int32_t x, int8_t shift_bits) { return fixed::shift_q31_scalar(x, shift_bits); }
int32_t q8_fixed_mac_q7_scalar(int32_t acc, int8_t a, int8_t b) { return fixed::mac_q7_scalar(acc, a, b); }
int64_t q8_fixed_mac_q15_scalar(int64_t acc, int16_t a, int16_t b) { return fixed::mac_q15_scalar(acc, a, b); }
int64_t q8_fixed_mac_q31_scalar(int64_t acc, int32_t a, int32_t b) { return fixed::mac_q31_scalar(acc, a, b); }

}  // extern "C"
