/* q8 fixed-point arithmetic: Q7 (int8, 7 fractional bits), Q15 (int16), Q31 (int32), general
 * Qm.n conversions, and the integer-only requantization primitives of gemmlowp / TFLite.
 *
 * Where CMSIS-DSP has a function of the same purpose, the q8 function of the same name stem gives
 * the same bits (arm_add_q7 -> q8_fixed_add_q7, ...); docs/FIXED_POINT.md lists each function with
 * its rounding, saturation, overflow behaviour and the CMSIS-DSP or TFLite function it matches.
 *
 * Conventions of this header:
 *  - Array functions take (sources..., destination, count), return q8_status, accept n = 0 with
 *    any pointers, and need non-NULL pointers otherwise. A destination may be the same array as a
 *    source (in place); partial overlap is not allowed. Array results are identical on every ISA
 *    path.
 *  - Scalar functions (suffix _scalar, and the requantization primitives) are total: every input
 *    has a defined, documented result, so they return the value itself, not a status.
 *  - Integer overflow never invokes undefined behaviour: it saturates where the CMSIS/TFLite
 *    counterpart saturates and wraps (two's complement) where it wraps, as documented.
 */
#ifndef Q8_FIXED_H
#define Q8_FIXED_H

#include "q8/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Conversions between floating point and Qm.n --------------------------------------------- */

/* How a real value is rounded to the fixed-point grid. */
typedef enum q8_rounding {
  Q8_ROUND_TOWARD_ZERO = 0,    /* truncate: CMSIS-DSP's default build (arm_float_to_q*) */
  Q8_ROUND_NEAREST_AWAY = 1,   /* nearest, ties away from zero: CMSIS-DSP's ARM_MATH_ROUNDING, done
                                  exactly (CMSIS's float add of 0.5 can round twice: FIXED_POINT.md) */
  Q8_ROUND_NEAREST_EVEN = 2    /* nearest, ties to even: IEEE, ONNX, q8_quantize */
} q8_rounding;

/* Real -> fixed point with `frac_bits` fractional bits in 8-, 16- or 32-bit signed storage:
 * dst[i] = saturate(round(src[i] * 2^frac_bits)), rounded exactly (no intermediate rounding).
 * frac_bits may be 0..(storage bits - 1) (Q7 = s8 with 7, Q15 = s16 with 15, Q31 = s32 with 31;
 * other values are Qm.n with m = storage bits - 1 - frac_bits integer bits); a frac_bits or
 * rounding out of range is Q8_ERR_INVALID_ARGUMENT even when n = 0. NaN -> 0; +-Inf saturate.
 * With frac_bits = 7/15/31 and Q8_ROUND_TOWARD_ZERO these are arm_float_to_q7/q15/q31. */
Q8_API q8_status q8_fixed_from_f32_s8(const float *src, int8_t *dst, size_t n, int frac_bits, q8_rounding rounding);
Q8_API q8_status q8_fixed_from_f32_s16(const float *src, int16_t *dst, size_t n, int frac_bits, q8_rounding rounding);
Q8_API q8_status q8_fixed_from_f32_s32(const float *src, int32_t *dst, size_t n, int frac_bits, q8_rounding rounding);
Q8_API q8_status q8_fixed_from_f64_s8(const double *src, int8_t *dst, size_t n, int frac_bits, q8_rounding rounding);
Q8_API q8_status q8_fixed_from_f64_s16(const double *src, int16_t *dst, size_t n, int frac_bits, q8_rounding rounding);
Q8_API q8_status q8_fixed_from_f64_s32(const double *src, int32_t *dst, size_t n, int frac_bits, q8_rounding rounding);

/* Fixed point -> real: dst[i] = src[i] / 2^frac_bits (exact in f64; in f32 exact for s8/s16, and
 * for s32 rounded to nearest f32, as arm_q31_to_float). */
Q8_API q8_status q8_fixed_to_f32_s8(const int8_t *src, float *dst, size_t n, int frac_bits);
Q8_API q8_status q8_fixed_to_f32_s16(const int16_t *src, float *dst, size_t n, int frac_bits);
Q8_API q8_status q8_fixed_to_f32_s32(const int32_t *src, float *dst, size_t n, int frac_bits);
Q8_API q8_status q8_fixed_to_f64_s8(const int8_t *src, double *dst, size_t n, int frac_bits);
Q8_API q8_status q8_fixed_to_f64_s16(const int16_t *src, double *dst, size_t n, int frac_bits);
Q8_API q8_status q8_fixed_to_f64_s32(const int32_t *src, double *dst, size_t n, int frac_bits);

/* Between Q formats, as arm_q7_to_q15 etc.: widening shifts left (exact); narrowing keeps the high
 * bits (arithmetic shift right: rounds toward minus infinity, never saturates). */
Q8_API q8_status q8_fixed_q7_to_q15(const int8_t *src, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_q7_to_q31(const int8_t *src, int32_t *dst, size_t n);
Q8_API q8_status q8_fixed_q15_to_q7(const int16_t *src, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_q15_to_q31(const int16_t *src, int32_t *dst, size_t n);
Q8_API q8_status q8_fixed_q31_to_q7(const int32_t *src, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_q31_to_q15(const int32_t *src, int16_t *dst, size_t n);

/* ---- Arithmetic, as CMSIS-DSP's basic math functions ----------------------------------------- */

/* Saturating add and subtract (arm_add_q*, arm_sub_q*). */
Q8_API q8_status q8_fixed_add_q7(const int8_t *a, const int8_t *b, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_add_q15(const int16_t *a, const int16_t *b, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_add_q31(const int32_t *a, const int32_t *b, int32_t *dst, size_t n);
Q8_API q8_status q8_fixed_sub_q7(const int8_t *a, const int8_t *b, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_sub_q15(const int16_t *a, const int16_t *b, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_sub_q31(const int32_t *a, const int32_t *b, int32_t *dst, size_t n);
Q8_API int8_t q8_fixed_add_q7_scalar(int8_t a, int8_t b);
Q8_API int16_t q8_fixed_add_q15_scalar(int16_t a, int16_t b);
Q8_API int32_t q8_fixed_add_q31_scalar(int32_t a, int32_t b);
Q8_API int8_t q8_fixed_sub_q7_scalar(int8_t a, int8_t b);
Q8_API int16_t q8_fixed_sub_q15_scalar(int16_t a, int16_t b);
Q8_API int32_t q8_fixed_sub_q31_scalar(int32_t a, int32_t b);

/* Negate and absolute value; MIN saturates to MAX (arm_negate_q*, arm_abs_q*). */
Q8_API q8_status q8_fixed_negate_q7(const int8_t *src, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_negate_q15(const int16_t *src, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_negate_q31(const int32_t *src, int32_t *dst, size_t n);
Q8_API q8_status q8_fixed_abs_q7(const int8_t *src, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_abs_q15(const int16_t *src, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_abs_q31(const int32_t *src, int32_t *dst, size_t n);
Q8_API int8_t q8_fixed_negate_q7_scalar(int8_t x);
Q8_API int16_t q8_fixed_negate_q15_scalar(int16_t x);
Q8_API int32_t q8_fixed_negate_q31_scalar(int32_t x);
Q8_API int8_t q8_fixed_abs_q7_scalar(int8_t x);
Q8_API int16_t q8_fixed_abs_q15_scalar(int16_t x);
Q8_API int32_t q8_fixed_abs_q31_scalar(int32_t x);

/* Multiply (arm_mult_q*): the full product shifted back to the format, truncated (toward minus
 * infinity), saturated (only MIN * MIN overflows). */
Q8_API q8_status q8_fixed_mult_q7(const int8_t *a, const int8_t *b, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_mult_q15(const int16_t *a, const int16_t *b, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_mult_q31(const int32_t *a, const int32_t *b, int32_t *dst, size_t n);
Q8_API int8_t q8_fixed_mult_q7_scalar(int8_t a, int8_t b);
Q8_API int16_t q8_fixed_mult_q15_scalar(int16_t a, int16_t b);
Q8_API int32_t q8_fixed_mult_q31_scalar(int32_t a, int32_t b);

/* Multiply-accumulate into a wide accumulator, in the formats of arm_dot_prod_*:
 * q7: 2.14 products summed in a 32-bit accumulator (18.14); q15: 2.30 products in 64 bits (34.30);
 * q31: 2.62 products truncated to 2.48 (>> 14) and summed in 64 bits (16.48). The sums wrap
 * (two's complement) on overflow, as CMSIS-DSP's do, instead of being undefined. */
Q8_API int32_t q8_fixed_mac_q7_scalar(int32_t acc, int8_t a, int8_t b);
Q8_API int64_t q8_fixed_mac_q15_scalar(int64_t acc, int16_t a, int16_t b);
Q8_API int64_t q8_fixed_mac_q31_scalar(int64_t acc, int32_t a, int32_t b);
Q8_API q8_status q8_fixed_dot_prod_q7(const int8_t *a, const int8_t *b, size_t n, int32_t *result);
Q8_API q8_status q8_fixed_dot_prod_q15(const int16_t *a, const int16_t *b, size_t n, int64_t *result);
Q8_API q8_status q8_fixed_dot_prod_q31(const int32_t *a, const int32_t *b, size_t n, int64_t *result);

/* Shift (arm_shift_q*): shift_bits > 0 shifts left with saturation, < 0 shifts right
 * (arithmetic: toward minus infinity). |shift_bits| beyond the storage width behaves as the
 * largest meaningful shift (saturation, or all sign bits). */
Q8_API q8_status q8_fixed_shift_q7(const int8_t *src, int8_t shift_bits, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_shift_q15(const int16_t *src, int8_t shift_bits, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_shift_q31(const int32_t *src, int8_t shift_bits, int32_t *dst, size_t n);
Q8_API int8_t q8_fixed_shift_q7_scalar(int8_t x, int8_t shift_bits);
Q8_API int16_t q8_fixed_shift_q15_scalar(int16_t x, int8_t shift_bits);
Q8_API int32_t q8_fixed_shift_q31_scalar(int32_t x, int8_t shift_bits);

/* Scale by a fractional value and a power of two (arm_scale_q*): the overall factor is
 * scale_fract * 2^shift, scale_fract in the same Q format; every int8 shift is accepted.
 *  q7, q15: dst = saturate((src * scale_fract) >> (7 or 15 - shift)), the exact 2.14 / 2.30 product
 *           shifted once (right: toward minus infinity; left, for shift > 7 or 15: saturating).
 *  q31:     as arm_scale_q31, the 2.62 product first keeps its high word, (src * scale_fract) >> 32,
 *           which is then shifted by shift + 1 (left saturating, or right toward minus infinity):
 *           for shift >= 0 the low shift + 1 bits of the result are 0. */
Q8_API q8_status q8_fixed_scale_q7(const int8_t *src, int8_t scale_fract, int8_t shift, int8_t *dst, size_t n);
Q8_API q8_status q8_fixed_scale_q15(const int16_t *src, int16_t scale_fract, int8_t shift, int16_t *dst, size_t n);
Q8_API q8_status q8_fixed_scale_q31(const int32_t *src, int32_t scale_fract, int8_t shift, int32_t *dst, size_t n);

/* ---- Requantization: the integer-only inference path (gemmlowp / TFLite semantics) ---------- */

/* floor((a * b + 2^30) / 2^31): a * b / 2^31 rounded to nearest with ties toward +infinity
 * (0.5 -> 1, -0.5 -> 0), as gemmlowp SaturatingRoundingDoublingHighMul and ARM VQRDMULH; the one
 * overflow, INT32_MIN * INT32_MIN, saturates to INT32_MAX. */
Q8_API int32_t q8_fixed_sat_rounding_doubling_high_mul(int32_t a, int32_t b);

/* x / 2^exponent rounded to nearest, ties away from zero (gemmlowp RoundingDivideByPOT).
 * exponent outside [0, 31] is clamped into it. */
Q8_API int32_t q8_fixed_rounding_divide_by_pot(int32_t x, int exponent);

/* A real multiplier as multiplier * 2^(shift - 31), as TFLite's QuantizeMultiplier: frexp gives
 * real = q * 2^shift with q in [0.5, 1); multiplier = round(q * 2^31), ties away from zero, in
 * [2^30, 2^31) (a q that rounds to 2^31 becomes 2^30 with shift + 1). A zero real gives (0, 0), and
 * so do reals whose shift would be below -31 (below about 2^-32: flushed to zero); shift is at most
 * 30 (reals from about 2^30 on saturate to (INT32_MAX, 30), as TFLite under TFLITE_SINGLE_ROUNDING).
 * `real` must be finite and >= 0, else Q8_ERR_INVALID_ARGUMENT. */
Q8_API q8_status q8_fixed_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift);

/* x * multiplier * 2^(shift - 31), rounded as TFLite's reference MultiplyByQuantizedMultiplier
 * (double rounding): x * 2^max(shift, 0) saturated to int32 (TFLite's shift overflows, undefined),
 * the rounding doubling high multiply, then a rounding right shift by max(-shift, 0). Any
 * multiplier; shift in [-31, 30] (clamped). */
Q8_API int32_t q8_fixed_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

/* The same product with one rounding (TFLite's TFLITE_SINGLE_ROUNDING): round((x * multiplier) /
 * 2^(31 - shift)), ties toward plus infinity, saturated to int32. shift in [-31, 30] (clamped). */
Q8_API int32_t q8_fixed_multiply_by_quantized_multiplier_single_round(int32_t x, int32_t multiplier, int32_t shift);

/* The GEMM/conv epilogue over arrays: dst[i] = clamp(mbqm(acc[i] + bias, multiplier, shift) +
 * zero_point, qmin, qmax) with the double-rounding product above (shift clamped as there). Per
 * tensor when channels == 1 (bias, multiplier and shift point to one value each); per channel
 * otherwise: acc is row-major [n / channels, channels], and bias, multiplier and shift are arrays of
 * `channels`. bias may be NULL (no bias); bias additions wrap (two's complement); the zero point is
 * added exactly. qmin <= qmax and zero_point inside the output type's range, channels >= 1
 * (Q8_ERR_INVALID_ARGUMENT), n a multiple of channels (Q8_ERR_SHAPE); these are checked even when
 * n = 0. dst must not overlap acc. */
Q8_API q8_status q8_fixed_requantize_s8(const int32_t *acc, size_t n, const int32_t *bias,
                                       const int32_t *multiplier, const int32_t *shift, size_t channels,
                                       int32_t zero_point, int32_t qmin, int32_t qmax, int8_t *dst);
Q8_API q8_status q8_fixed_requantize_u8(const int32_t *acc, size_t n, const int32_t *bias,
                                       const int32_t *multiplier, const int32_t *shift, size_t channels,
                                       int32_t zero_point, int32_t qmin, int32_t qmax, uint8_t *dst);

/* ---- Fixed-point transcendental functions, for INT8 activation tables ----------------------- */

/* gemmlowp's exp_on_negative_values, logistic and tanh. Inputs are Q(integer_bits).(31 -
 * integer_bits) int32 values, integer_bits in [0, 30] (clamped); results are Q0.31, where 1.0
 * saturates to 2^31 - 1. docs/FIXED_POINT.md gives the measured error against the real function
 * (at most 2.3e-7 for exp, 7.2e-8 for logistic, 1.5e-7 for tanh). */
Q8_API int32_t q8_fixed_exp_on_negative_values(int32_t x, int integer_bits); /* x <= 0; x >= 0 -> 2^31-1 */
Q8_API int32_t q8_fixed_logistic(int32_t x, int integer_bits);                /* 1 / (1 + e^-x), in [0, 1) */
Q8_API int32_t q8_fixed_tanh(int32_t x, int integer_bits);                    /* in (-1, 1) */

typedef enum q8_fixed_function { Q8_FIXED_SIGMOID = 0, Q8_FIXED_TANH = 1 } q8_fixed_function;

/* A 256-entry lookup table for an INT8 activation: each entry is the output quantization of
 * f((q - in_zero_point) * in_scale), rounded half to even and saturated; f itself is evaluated
 * with the fixed-point functions above on the input rounded (half to even) to Q5.26 and saturated
 * to [-32, 32) (the scales are applied in double around it). s8 tables are indexed by q + 128, u8
 * tables by q. Scales finite and > 0; zero points inside the type's range. */
Q8_API q8_status q8_fixed_lut_s8(q8_fixed_function f, float in_scale, int32_t in_zero_point,
                                 float out_scale, int32_t out_zero_point, int8_t table[256]);
Q8_API q8_status q8_fixed_lut_u8(q8_fixed_function f, float in_scale, int32_t in_zero_point,
                                 float out_scale, int32_t out_zero_point, uint8_t table[256]);

#ifdef __cplusplus
}
#endif
#endif /* Q8_FIXED_H */
