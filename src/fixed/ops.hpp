// Q7/Q15/Q31 array operations behind include/q8/fixed.h: the active ISA's kernel over chunks of
// the arrays, on q8's threads for large arrays. Arguments are validated by the caller
// (src/capi/fixed_api.cpp). Chunk boundaries depend only on n, and the dot products add wrapped
// partial sums, so no result depends on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>

#include "q8/fixed.h"

namespace q8::fixed {

void from_f32_s8(const float *src, int8_t *dst, std::size_t n, int frac_bits, q8_rounding r);
void from_f32_s16(const float *src, int16_t *dst, std::size_t n, int frac_bits, q8_rounding r);
void from_f32_s32(const float *src, int32_t *dst, std::size_t n, int frac_bits, q8_rounding r);
void from_f64_s8(const double *src, int8_t *dst, std::size_t n, int frac_bits, q8_rounding r);
void from_f64_s16(const double *src, int16_t *dst, std::size_t n, int frac_bits, q8_rounding r);
void from_f64_s32(const double *src, int32_t *dst, std::size_t n, int frac_bits, q8_rounding r);
void to_f32_s8(const int8_t *src, float *dst, std::size_t n, int frac_bits);
void to_f32_s16(const int16_t *src, float *dst, std::size_t n, int frac_bits);
void to_f32_s32(const int32_t *src, float *dst, std::size_t n, int frac_bits);
void to_f64_s8(const int8_t *src, double *dst, std::size_t n, int frac_bits);
void to_f64_s16(const int16_t *src, double *dst, std::size_t n, int frac_bits);
void to_f64_s32(const int32_t *src, double *dst, std::size_t n, int frac_bits);

void q7_to_q15(const int8_t *src, int16_t *dst, std::size_t n);
void q7_to_q31(const int8_t *src, int32_t *dst, std::size_t n);
void q15_to_q7(const int16_t *src, int8_t *dst, std::size_t n);
void q15_to_q31(const int16_t *src, int32_t *dst, std::size_t n);
void q31_to_q7(const int32_t *src, int8_t *dst, std::size_t n);
void q31_to_q15(const int32_t *src, int16_t *dst, std::size_t n);

void add_q7(const int8_t *a, const int8_t *b, int8_t *dst, std::size_t n);
void add_q15(const int16_t *a, const int16_t *b, int16_t *dst, std::size_t n);
void add_q31(const int32_t *a, const int32_t *b, int32_t *dst, std::size_t n);
void sub_q7(const int8_t *a, const int8_t *b, int8_t *dst, std::size_t n);
void sub_q15(const int16_t *a, const int16_t *b, int16_t *dst, std::size_t n);
void sub_q31(const int32_t *a, const int32_t *b, int32_t *dst, std::size_t n);
void negate_q7(const int8_t *src, int8_t *dst, std::size_t n);
void negate_q15(const int16_t *src, int16_t *dst, std::size_t n);
void negate_q31(const int32_t *src, int32_t *dst, std::size_t n);
void abs_q7(const int8_t *src, int8_t *dst, std::size_t n);
void abs_q15(const int16_t *src, int16_t *dst, std::size_t n);
void abs_q31(const int32_t *src, int32_t *dst, std::size_t n);
void mult_q7(const int8_t *a, const int8_t *b, int8_t *dst, std::size_t n);
void mult_q15(const int16_t *a, const int16_t *b, int16_t *dst, std::size_t n);
void mult_q31(const int32_t *a, const int32_t *b, int32_t *dst, std::size_t n);
void shift_q7(const int8_t *src, int shift, int8_t *dst, std::size_t n);
void shift_q15(const int16_t *src, int shift, int16_t *dst, std::size_t n);
void shift_q31(const int32_t *src, int shift, int32_t *dst, std::size_t n);
void scale_q7(const int8_t *src, int8_t scale_fract, int shift, int8_t *dst, std::size_t n);
void scale_q15(const int16_t *src, int16_t scale_fract, int shift, int16_t *dst, std::size_t n);
void scale_q31(const int32_t *src, int32_t scale_fract, int shift, int32_t *dst, std::size_t n);

int32_t dot_prod_q7(const int8_t *a, const int8_t *b, std::size_t n);
int64_t dot_prod_q15(const int16_t *a, const int16_t *b, std::size_t n);
int64_t dot_prod_q31(const int32_t *a, const int32_t *b, std::size_t n);

// The scalar forms (total functions, no dispatch).
int8_t add_q7_scalar(int8_t a, int8_t b) noexcept;
int16_t add_q15_scalar(int16_t a, int16_t b) noexcept;
int32_t add_q31_scalar(int32_t a, int32_t b) noexcept;
int8_t sub_q7_scalar(int8_t a, int8_t b) noexcept;
int16_t sub_q15_scalar(int16_t a, int16_t b) noexcept;
int32_t sub_q31_scalar(int32_t a, int32_t b) noexcept;
int8_t negate_q7_scalar(int8_t x) noexcept;
int16_t negate_q15_scalar(int16_t x) noexcept;
int32_t negate_q31_scalar(int32_t x) noexcept;
int8_t abs_q7_scalar(int8_t x) noexcept;
int16_t abs_q15_scalar(int16_t x) noexcept;
int32_t abs_q31_scalar(int32_t x) noexcept;
int8_t mult_q7_scalar(int8_t a, int8_t b) noexcept;
int16_t mult_q15_scalar(int16_t a, int16_t b) noexcept;
int32_t mult_q31_scalar(int32_t a, int32_t b) noexcept;
int8_t shift_q7_scalar(int8_t x, int shift) noexcept;
int16_t shift_q15_scalar(int16_t x, int shift) noexcept;
int32_t shift_q31_scalar(int32_t x, int shift) noexcept;
int32_t mac_q7_scalar(int32_t acc, int8_t a, int8_t b) noexcept;
int64_t mac_q15_scalar(int64_t acc, int16_t a, int16_t b) noexcept;
int64_t mac_q31_scalar(int64_t acc, int32_t a, int32_t b) noexcept;

}  // namespace q8::fixed
