// Q7/Q15/Q31 array kernels (CMSIS-DSP semantics), one table per ISA. Every entry computes exactly
// what the scalar reference (reference.hpp, scalar.cpp) computes, bit for bit.
//
// Kernels take validated arguments only: frac_bits inside the storage's range, rounding one of
// the three q8_rounding values, n >= 0 with valid pointers (dst may equal a source). Dot products
// return the wrapped (two's complement) sum of their range as an unsigned value, so partial sums
// of chunks add up to the same bits in any order.
#pragma once
#include <cstddef>
#include <cstdint>

#include "q8/fixed.h"

namespace q8::fixed {

struct FixedKernels {
  // real -> Qm.n
  void (*from_f32_s8)(const float *src, int8_t *dst, std::size_t n, int frac_bits, q8_rounding r);
  void (*from_f32_s16)(const float *src, int16_t *dst, std::size_t n, int frac_bits, q8_rounding r);
  void (*from_f32_s32)(const float *src, int32_t *dst, std::size_t n, int frac_bits, q8_rounding r);
  void (*from_f64_s8)(const double *src, int8_t *dst, std::size_t n, int frac_bits, q8_rounding r);
  void (*from_f64_s16)(const double *src, int16_t *dst, std::size_t n, int frac_bits, q8_rounding r);
  void (*from_f64_s32)(const double *src, int32_t *dst, std::size_t n, int frac_bits, q8_rounding r);
  // Qm.n -> real
  void (*to_f32_s8)(const int8_t *src, float *dst, std::size_t n, int frac_bits);
  void (*to_f32_s16)(const int16_t *src, float *dst, std::size_t n, int frac_bits);
  void (*to_f32_s32)(const int32_t *src, float *dst, std::size_t n, int frac_bits);
  void (*to_f64_s8)(const int8_t *src, double *dst, std::size_t n, int frac_bits);
  void (*to_f64_s16)(const int16_t *src, double *dst, std::size_t n, int frac_bits);
  void (*to_f64_s32)(const int32_t *src, double *dst, std::size_t n, int frac_bits);
  // between Q formats
  void (*q7_to_q15)(const int8_t *src, int16_t *dst, std::size_t n);
  void (*q7_to_q31)(const int8_t *src, int32_t *dst, std::size_t n);
  void (*q15_to_q7)(const int16_t *src, int8_t *dst, std::size_t n);
  void (*q15_to_q31)(const int16_t *src, int32_t *dst, std::size_t n);
  void (*q31_to_q7)(const int32_t *src, int8_t *dst, std::size_t n);
  void (*q31_to_q15)(const int32_t *src, int16_t *dst, std::size_t n);
  // arithmetic
  void (*add_q7)(const int8_t *a, const int8_t *b, int8_t *dst, std::size_t n);
  void (*add_q15)(const int16_t *a, const int16_t *b, int16_t *dst, std::size_t n);
  void (*add_q31)(const int32_t *a, const int32_t *b, int32_t *dst, std::size_t n);
  void (*sub_q7)(const int8_t *a, const int8_t *b, int8_t *dst, std::size_t n);
  void (*sub_q15)(const int16_t *a, const int16_t *b, int16_t *dst, std::size_t n);
  void (*sub_q31)(const int32_t *a, const int32_t *b, int32_t *dst, std::size_t n);
  void (*negate_q7)(const int8_t *src, int8_t *dst, std::size_t n);
  void (*negate_q15)(const int16_t *src, int16_t *dst, std::size_t n);
  void (*negate_q31)(const int32_t *src, int32_t *dst, std::size_t n);
  void (*abs_q7)(const int8_t *src, int8_t *dst, std::size_t n);
  void (*abs_q15)(const int16_t *src, int16_t *dst, std::size_t n);
  void (*abs_q31)(const int32_t *src, int32_t *dst, std::size_t n);
  void (*mult_q7)(const int8_t *a, const int8_t *b, int8_t *dst, std::size_t n);
  void (*mult_q15)(const int16_t *a, const int16_t *b, int16_t *dst, std::size_t n);
  void (*mult_q31)(const int32_t *a, const int32_t *b, int32_t *dst, std::size_t n);
  void (*shift_q7)(const int8_t *src, int shift, int8_t *dst, std::size_t n);
  void (*shift_q15)(const int16_t *src, int shift, int16_t *dst, std::size_t n);
  void (*shift_q31)(const int32_t *src, int shift, int32_t *dst, std::size_t n);
  void (*scale_q7)(const int8_t *src, int8_t scale_fract, int shift, int8_t *dst, std::size_t n);
  void (*scale_q15)(const int16_t *src, int16_t scale_fract, int shift, int16_t *dst, std::size_t n);
  void (*scale_q31)(const int32_t *src, int32_t scale_fract, int shift, int32_t *dst, std::size_t n);
  // dot products: the wrapped sums (32 bits for q7, 64 for q15 and q31)
  uint32_t (*dot_q7)(const int8_t *a, const int8_t *b, std::size_t n);
  uint64_t (*dot_q15)(const int16_t *a, const int16_t *b, std::size_t n);
  uint64_t (*dot_q31)(const int32_t *a, const int32_t *b, std::size_t n);
};

extern const FixedKernels kFixedScalar;
#if defined(__x86_64__)
extern const FixedKernels kFixedAvx2;
extern const FixedKernels kFixedAvx512;
#endif

// The table for the active ISA (AVX-512 VNNI uses the AVX-512 table).
const FixedKernels &active_fixed_kernels() noexcept;

}  // namespace q8::fixed
