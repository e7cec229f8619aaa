// The scalar definition of q8's quantization numerics. Fast kernels must match it bit for bit.
#pragma once
#include <cmath>
#include <cstdint>

namespace q8::quant {
// Internal linkage on purpose: each kernel file compiles these with its own ISA flags, and one
// shared (COMDAT) copy could hand AVX code to the scalar path.
namespace {

// Round half to even. Adding and subtracting 1.5 * 2^(mantissa bits) leaves the integer nearest
// to v, ties to even, under the default rounding mode (round to nearest), which q8 assumes like the
// division before it; magnitudes past 2^(mantissa bits) are integers already.
template <class T>
inline T round_half_even(T v) noexcept {
  constexpr T kMagic = sizeof(T) == 4 ? T(0x1.8p23) : T(0x1.8p52);
  constexpr T kIntegral = sizeof(T) == 4 ? T(0x1p23) : T(0x1p52);
  if (!(std::fabs(v) < kIntegral)) return v;
  return (v + kMagic) - kMagic;  // not folded to v: without -ffast-math the compiler keeps IEEE rounding
}

// q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax); NaN -> zero_point.
template <int32_t QMIN, int32_t QMAX>
inline int32_t quantize_one(float x, float scale, int32_t zero_point) noexcept {
  if (std::isnan(x)) return zero_point;
  float r = round_half_even(x / scale) + static_cast<float>(zero_point);
  r = r < float(QMIN) ? float(QMIN) : r;
  r = r > float(QMAX) ? float(QMAX) : r;
  return static_cast<int32_t>(r);
}

inline float dequantize_one(int32_t q, float scale, int32_t zero_point) noexcept {
  return static_cast<float>(q - zero_point) * scale;
}

}  // namespace
}  // namespace q8::quant
