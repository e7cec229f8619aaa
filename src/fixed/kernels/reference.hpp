// The scalar definition of q8's Q7/Q15/Q31 numerics (CMSIS-DSP semantics, with every case CMSIS
// leaves to undefined or implementation-defined C behaviour given a result). Fast kernels must
// match it bit for bit; docs/FIXED_POINT.md is the prose version.
//
// Written with intermediates that cannot overflow (int32 for q7/q15, int64 for q31), floor
// division instead of >> on negative values, and unsigned arithmetic where a result wraps, so
// nothing here depends on the compiler.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "q8/fixed.h"

namespace q8::fixed {
// Internal linkage on purpose: each kernel file compiles these with its own ISA flags, and one
// shared (COMDAT) copy could hand AVX code to the scalar path.
namespace {

template <class T>
constexpr int kBits = 8 * int(sizeof(T));
template <class T>
constexpr int64_t kMin = std::numeric_limits<T>::min();
template <class T>
constexpr int64_t kMax = std::numeric_limits<T>::max();

// floor(v / 2^s) for 0 <= s < the width of W: an arithmetic shift right, spelled without shifting
// a negative value.
template <class W>
inline W asr(W v, int s) noexcept { return v >= 0 ? W(v >> s) : W(~(~v >> s)); }

template <class T>
inline T sat(int64_t v) noexcept {
  return static_cast<T>(v < kMin<T> ? kMin<T> : v > kMax<T> ? kMax<T> : v);
}

// A type that holds any sum, difference or product of two Ts exactly: int32 for q7 and q15 (so
// compilers can vectorize the scalar loops), int64 for q31.
template <class T>
using Wide = std::conditional_t<(sizeof(T) < 4), int32_t, int64_t>;
template <class T>
inline T sat_w(Wide<T> v) noexcept {
  return static_cast<T>(v < Wide<T>(kMin<T>) ? Wide<T>(kMin<T>) : v > Wide<T>(kMax<T>) ? Wide<T>(kMax<T>) : v);
}

// Two's-complement reinterpretation of an unsigned value (a plain cast is implementation-defined
// before C++20 for values above the signed maximum).
inline int32_t wrap32(uint32_t u) noexcept { return u < 0x80000000u ? int32_t(u) : -int32_t(~u) - 1; }
inline int64_t wrap64(uint64_t u) noexcept {
  return u < 0x8000000000000000u ? int64_t(u) : -int64_t(~u) - 1;
}

// ---- arithmetic (arm_add_q*, arm_sub_q*, arm_negate_q*, arm_abs_q*, arm_mult_q*) -------------

template <class T>
inline T add_one(T a, T b) noexcept { return sat_w<T>(Wide<T>(a) + b); }
template <class T>
inline T sub_one(T a, T b) noexcept { return sat_w<T>(Wide<T>(a) - b); }
template <class T>
inline T negate_one(T x) noexcept { return sat_w<T>(-Wide<T>(x)); }
template <class T>
inline T abs_one(T x) noexcept { return sat_w<T>(x < 0 ? -Wide<T>(x) : Wide<T>(x)); }

// (a * b) >> (bits - 1): the full product, truncated toward minus infinity, saturated (only
// MIN * MIN leaves the range).
template <class T>
inline T mult_one(T a, T b) noexcept { return sat_w<T>(asr(Wide<T>(Wide<T>(a) * b), kBits<T> - 1)); }

// arm_shift_q*: shift > 0 is saturate(x * 2^shift), shift < 0 is floor(x / 2^-shift); shifts past
// the width saturate (x != 0) or leave only sign bits.
template <class T>
inline T shift_one(T x, int shift) noexcept {
  constexpr int W = kBits<T>;
  if (shift < 0) return static_cast<T>(asr(x, -shift < W - 1 ? -shift : W - 1));
  if (x == 0) return 0;
  if (shift >= W) return static_cast<T>(x > 0 ? kMax<T> : kMin<T>);
  return sat<T>(int64_t(x) * (int64_t(1) << shift));
}

// arm_scale_q7 / arm_scale_q15: saturate(floor(x * scale * 2^(shift - frac))) with frac = 7 or 15,
// the exact product (2.14 / 2.30) shifted once. Defined for every int8 shift.
template <class T>
inline T scale_small_one(T x, T scale_fract, int shift) noexcept {
  static_assert(sizeof(T) <= 2, "q7 and q15 only");
  const int64_t p = int64_t(x) * scale_fract;  // |p| <= 2^30
  const int k = shift - (kBits<T> - 1);
  if (k < 0) return sat<T>(asr(p, -k < 62 ? -k : 62));
  return sat<T>(p * (int64_t(1) << (k < 20 ? k : 20)));  // k >= 16 saturates every p != 0 anyway
}

// arm_scale_q31: the 2.62 product keeps its high word (floor(p / 2^32), in 2.30), which is then
// shifted by shift + 1: left with saturation, or right (floor). So for shift >= 0 the low shift + 1
// bits of the result are 0, exactly as CMSIS-DSP computes it.
inline int32_t scale_q31_one(int32_t x, int32_t scale_fract, int shift) noexcept {
  const int64_t hi = asr(int64_t(x) * scale_fract, 32);  // |hi| <= 2^30
  const int k = shift + 1;
  if (k < 0) return static_cast<int32_t>(asr(hi, -k < 31 ? -k : 31));
  return sat<int32_t>(hi * (int64_t(1) << (k < 32 ? k : 32)));
}

// Multiply-accumulate in the dot-product formats; the sums wrap.
inline int32_t mac_q7_one(int32_t acc, int8_t a, int8_t b) noexcept {
  return wrap32(uint32_t(acc) + uint32_t(int32_t(a) * b));
}
inline int64_t mac_q15_one(int64_t acc, int16_t a, int16_t b) noexcept {
  return wrap64(uint64_t(acc) + uint64_t(int64_t(int32_t(a) * b)));
}
inline int64_t mac_q31_one(int64_t acc, int32_t a, int32_t b) noexcept {
  return wrap64(uint64_t(acc) + uint64_t(asr(int64_t(a) * b, 14)));
}

// ---- conversions ---------------------------------------------------------------------------

// saturate(round(x * 2^frac_bits)) in rounding mode R; NaN -> 0. The product is exact (a power
// of two) unless it overflows to infinity, which saturates like any large value. Inside the range
// the integer part is a truncating conversion and the dropped fraction v - t is exact, so the
// rounding decision needs neither libm nor the FP rounding mode.
template <class T, int R, class F>
inline T from_real_one(F x, F scale) noexcept {
  if (std::isnan(x)) return 0;
  const F v = x * scale;
  const F lim = F(int64_t(1) << (kBits<T> - 1));  // 2^(W-1), exact in f32 and f64
  if (v >= lim) return static_cast<T>(kMax<T>);
  if (v <= -lim) return static_cast<T>(kMin<T>);
  int64_t t = static_cast<int64_t>(v);  // toward zero; |v| < 2^31
  const F frac = v - F(t);              // exact, in (-1, 1), with the sign of v
  if (R == Q8_ROUND_NEAREST_AWAY) {
    t += int64_t(frac >= F(0.5)) - int64_t(frac <= F(-0.5));
  } else if (R == Q8_ROUND_NEAREST_EVEN) {
    const bool odd = t % 2 != 0;
    t += int64_t(frac > F(0.5) || (frac == F(0.5) && odd)) - int64_t(frac < F(-0.5) || (frac == F(-0.5) && odd));
  }
  return sat<T>(t);  // rounding can step onto 2^(W-1)
}

// x / 2^frac_bits: exact except int32 -> f32, which rounds once (to nearest, as the conversion).
template <class F, class T>
inline F to_real_one(T x, F inv_scale) noexcept { return F(x) * inv_scale; }

inline int16_t q7_to_q15_one(int8_t x) noexcept { return int16_t(int32_t(x) * 256); }
inline int32_t q7_to_q31_one(int8_t x) noexcept { return int32_t(x) * (int32_t(1) << 24); }
inline int32_t q15_to_q31_one(int16_t x) noexcept { return int32_t(x) * (int32_t(1) << 16); }
inline int8_t q15_to_q7_one(int16_t x) noexcept { return int8_t(asr(x, 8)); }
inline int8_t q31_to_q7_one(int32_t x) noexcept { return int8_t(asr(x, 24)); }
inline int16_t q31_to_q15_one(int32_t x) noexcept { return int16_t(asr(x, 16)); }

}  // namespace
}  // namespace q8::fixed
