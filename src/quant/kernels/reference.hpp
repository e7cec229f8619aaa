// The scalar definition of q8's quantization numerics. Fast kernels must match it bit for bit.
#pragma once
#include <cmath>
#include <cstdint>

namespace q8::quant {
// Internal linkage on purpose: each kernel file compiles these with its own ISA flags, and one
// shared (COMDAT) copy could hand AVX code to the scalar path.
namespace {

// Round half to even without depending on the floating-point environment's rounding mode:
// v - floor(v) is exact in binary floating point, so the tie test is exact too.
template <class T>
inline T round_half_even(T v) noexcept {
  const T f = std::floor(v);
  const T d = v - f;
  if (d > T(0.5)) return f + T(1);
  if (d < T(0.5)) return f;
  return std::fmod(f, T(2)) == T(0) ? f : f + T(1);
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
