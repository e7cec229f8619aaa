// The scalar definitions of q8's integer requantization (gemmlowp / TFLite semantics). Every SIMD
// path and every later epilogue (the GEMM module inlines these) must give these bits.
//
// Each function is total: every int32 input has a defined result and nothing overflows a signed
// type (sums that may wrap are done in uint32_t or int64_t). docs/FIXED_POINT.md has the table.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace q8::requant {
// Internal linkage on purpose (as quant/kernels/reference.hpp): each kernel file compiles these
// with its own ISA flags, and one shared (COMDAT) copy could hand AVX code to the scalar path.
namespace {

constexpr int32_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();

// Shift limits of a quantized multiplier: real = multiplier * 2^(shift - 31).
constexpr int32_t kMinShift = -31;
constexpr int32_t kMaxShift = 30;

inline int32_t clamp_shift(int32_t shift) noexcept {
  return shift < kMinShift ? kMinShift : shift > kMaxShift ? kMaxShift : shift;
}

// Two's complement wrap-around, without signed overflow.
inline int32_t wrapping_add(int32_t a, int32_t b) noexcept {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
inline int32_t wrapping_sub(int32_t a, int32_t b) noexcept {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}
inline int32_t wrapping_neg(int32_t a) noexcept { return wrapping_sub(0, a); }

// gemmlowp SaturatingRoundingDoublingHighMul (ARM VQRDMULH): the high half of 2 * a * b, i.e.
// floor((a * b + 2^30) / 2^31): round to nearest, ties toward +infinity (-0.5 -> 0, 0.5 -> 1).
// gemmlowp writes it as a truncating division with a sign-dependent nudge (2^30 or 1 - 2^30);
// both give floor((p + 2^30) / 2^31) for every product p. The only product that does not fit,
// INT32_MIN * INT32_MIN (2^62 -> 2^31), saturates to INT32_MAX.
inline int32_t sat_rounding_doubling_high_mul(int32_t a, int32_t b) noexcept {
  if (a == kInt32Min && b == kInt32Min) return kInt32Max;
  const int64_t p = static_cast<int64_t>(a) * b;
  // >> on a negative int64_t is arithmetic with GCC and Clang (and defined so by C++20).
  return static_cast<int32_t>((p + (int64_t(1) << 30)) >> 31);
}

// gemmlowp RoundingDivideByPOT: x / 2^exponent to nearest, ties away from zero; exponent clamped
// to [0, 31]. Written as gemmlowp's mask/threshold: floor(x / 2^e) plus one when the dropped bits
// exceed half (or, for negative x, exceed half by at least one).
inline int32_t rounding_divide_by_pot(int32_t x, int exponent) noexcept {
  const int e = exponent < 0 ? 0 : exponent > 31 ? 31 : exponent;
  const int32_t mask = static_cast<int32_t>((int64_t(1) << e) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

// x * 2^s for s in [0, 31], saturated to int32 (gemmlowp SaturatingRoundingMultiplyByPOT with a
// positive exponent).
inline int32_t saturating_left_shift(int32_t x, int s) noexcept {
  if (s <= 0) return x;
  const int32_t hi = kInt32Max >> s, lo = kInt32Min >> s;
  if (x > hi) return kInt32Max;
  if (x < lo) return kInt32Min;
  return static_cast<int32_t>(static_cast<uint32_t>(x) << s);
}

// TFLite's reference MultiplyByQuantizedMultiplier (the default, double-rounding build):
// RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^left, multiplier), right) with
// left = max(shift, 0), right = max(-shift, 0). TFLite's x * (1 << left) is undefined on overflow;
// here it saturates. shift is clamped to [-31, 30].
inline int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) noexcept {
  const int32_t s = clamp_shift(shift);
  const int left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
  return rounding_divide_by_pot(sat_rounding_doubling_high_mul(saturating_left_shift(x, left), multiplier), right);
}

// TFLite's MultiplyByQuantizedMultiplier under TFLITE_SINGLE_ROUNDING:
// (x * multiplier + 2^(total - 1)) >> total with total = 31 - shift in [1, 62]: one rounding, to
// nearest with ties toward +infinity. |x * multiplier| <= 2^62, so the sum fits in int64; the
// result saturates to int32 (TFLite only DCHECKs that it fits).
inline int32_t multiply_by_quantized_multiplier_single_round(int32_t x, int32_t multiplier, int32_t shift) noexcept {
  const int total = 31 - clamp_shift(shift);
  const int64_t r = (static_cast<int64_t>(x) * multiplier + (int64_t(1) << (total - 1))) >> total;
  return r < kInt32Min ? kInt32Min : r > kInt32Max ? kInt32Max : static_cast<int32_t>(r);
}

// TFLite QuantizeMultiplier: real = q * 2^e (frexp, q in [0.5, 1)), multiplier = round(q * 2^31)
// (std::round: ties away from zero), shift = e. A q that rounds up to 2^31 becomes 2^30 with
// shift + 1; shift < -31 flushes to (0, 0); shift > 30 saturates to (INT32_MAX, 30) (TFLite does
// that under TFLITE_SINGLE_ROUNDING; q8 always does, so that every shift stays in [-31, 30]).
// Precondition: real finite and >= 0 (the C entry point checks it).
inline void quantize_multiplier(double real, int32_t &multiplier, int32_t &shift) noexcept {
  if (!(real > 0)) {  // 0 and -0
    multiplier = 0;
    shift = 0;
    return;
  }
  int e = 0;
  const double q = std::frexp(real, &e);
  auto q_fixed = static_cast<int64_t>(std::round(q * 2147483648.0));  // exact product, <= 2^31
  if (q_fixed == (int64_t(1) << 31)) {
    q_fixed /= 2;
    ++e;
  }
  if (e < kMinShift) {
    multiplier = 0;
    shift = 0;
    return;
  }
  if (e > kMaxShift) {
    multiplier = kInt32Max;
    shift = kMaxShift;
    return;
  }
  multiplier = static_cast<int32_t>(q_fixed);
  shift = e;
}

// One element of the requantization epilogue: clamp(mbqm(acc + bias) + zero_point, qmin, qmax),
// the bias added with wrap-around, the zero point added exactly (in int64).
inline int32_t requantize_one(int32_t acc, int32_t bias, int32_t multiplier, int32_t shift, int32_t zero_point,
                              int32_t qmin, int32_t qmax) noexcept {
  const int64_t r = int64_t(multiply_by_quantized_multiplier(wrapping_add(acc, bias), multiplier, shift)) + zero_point;
  // min/max rather than ?: chains, which compilers tend to turn into (mispredicted) branches
  return static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(r, qmin), qmax));
}

}  // namespace
}  // namespace q8::requant
