// AVX-512 (F/BW/DQ/VL) kernels for Q7/Q15/Q31, bit-identical to reference.hpp: the same
// formulas as the AVX2 file, with mask registers for the lane selections, saturating narrowing
// stores, and the 64-bit arithmetic shift that AVX2 lacks.
#include <immintrin.h>

#include <cmath>

#include "fixed/kernels/blocks.hpp"
#include "fixed/kernels/kernels.hpp"

namespace q8::fixed {
namespace {

using V = __m512i;

inline V ld(const void *p) { return _mm512_loadu_si512(p); }
inline __m256i ld256(const void *p) { return _mm256_loadu_si256(static_cast<const __m256i *>(p)); }
inline __m128i ld128(const void *p) { return _mm_loadu_si128(static_cast<const __m128i *>(p)); }
inline void st(void *p, V v) { _mm512_storeu_si512(p, v); }
inline void st256(void *p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i *>(p), v); }
inline void st128(void *p, __m128i v) { _mm_storeu_si128(static_cast<__m128i *>(p), v); }

inline V even8(V x) { return _mm512_srai_epi16(_mm512_slli_epi16(x, 8), 8); }
inline V odd8(V x) { return _mm512_srai_epi16(x, 8); }
inline V join8(V even, V odd) {
  return _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi16(0x00FF)), _mm512_slli_epi16(odd, 8));
}
inline V clamp16(V x, int lo, int hi) {
  return _mm512_min_epi16(_mm512_max_epi16(x, _mm512_set1_epi16(short(lo))), _mm512_set1_epi16(short(hi)));
}

// ---- real -> fixed -----------------------------------------------------------------------------

constexpr int kTrunc = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

template <int R>
inline __m512 round_ps(__m512 v) {
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) {
    return _mm512_roundscale_ps(v, kTrunc);
  } else if constexpr (R == Q8_ROUND_NEAREST_EVEN) {
    return _mm512_roundscale_ps(v, kNearest);
  } else {  // ties away: trunc, then one step away from zero when the dropped part is >= 1/2
    const __m512 t = _mm512_roundscale_ps(v, kTrunc);
    const __m512 step = _mm512_or_ps(_mm512_and_ps(v, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));
    const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm512_mask_add_ps(t, up, t, step);
  }
}

template <int R>
inline __m512d round_pd(__m512d v) {
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) {
    return _mm512_roundscale_pd(v, kTrunc);
  } else if constexpr (R == Q8_ROUND_NEAREST_EVEN) {
    return _mm512_roundscale_pd(v, kNearest);
  } else {
    const __m512d t = _mm512_roundscale_pd(v, kTrunc);
    const __m512d step = _mm512_or_pd(_mm512_and_pd(v, _mm512_set1_pd(-0.0)), _mm512_set1_pd(1.0));
    const __mmask8 up = _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_sub_pd(v, t)), _mm512_set1_pd(0.5), _CMP_GE_OQ);
    return _mm512_mask_add_pd(t, up, t, step);
  }
}

// x * scale with NaN lanes -> 0 (exact: a power of two, or an overflow to +-inf that saturates).
inline __m512 scaled_ps(const float *p, __m512 scale) {
  const __m512 x = _mm512_loadu_ps(p);
  return _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), x, scale);
}
inline __m512d scaled_pd(const double *p, __m512d scale) {
  const __m512d x = _mm512_loadu_pd(p);
  return _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(x, x, _CMP_ORD_Q), x, scale);
}

// Clamp to [lo, hi], then round to an int32 in mode R. The bounds are integers, so clamping
// before rounding gives the same as after, and the conversion can do the rounding: truncating
// (vcvttps2dq) or to nearest even with embedded rounding; ties away rounds first.
template <int R>
inline V clamp_cvt(__m512 v, float lo, float hi) {
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) return _mm512_cvttps_epi32(v);
  else if constexpr (R == Q8_ROUND_NEAREST_EVEN) return _mm512_cvt_roundps_epi32(v, kNearest);
  else return _mm512_cvttps_epi32(round_ps<R>(v));
}
template <int R>
inline __m256i clamp_cvt(__m512d v, double lo, double hi) {
  v = _mm512_min_pd(_mm512_max_pd(v, _mm512_set1_pd(lo)), _mm512_set1_pd(hi));
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) return _mm512_cvttpd_epi32(v);
  else if constexpr (R == Q8_ROUND_NEAREST_EVEN) return _mm512_cvt_roundpd_epi32(v, kNearest);
  else return _mm512_cvttpd_epi32(round_pd<R>(v));
}

template <int R>
void f32_s8(const float *src, int8_t *dst, std::size_t n, int frac_bits) {
  const __m512 s = _mm512_set1_ps(std::ldexp(1.0f, frac_bits));
  each_block<64>(src, dst, n, [&](const float *x, int8_t *y) {
    for (int k = 0; k < 4; ++k)
      st128(y + 16 * k, _mm512_cvtepi32_epi8(clamp_cvt<R>(scaled_ps(x + 16 * k, s), -128.0f, 127.0f)));
  });
}

template <int R>
void f32_s16(const float *src, int16_t *dst, std::size_t n, int frac_bits) {
  const __m512 s = _mm512_set1_ps(std::ldexp(1.0f, frac_bits));
  each_block<32>(src, dst, n, [&](const float *x, int16_t *y) {
    for (int k = 0; k < 2; ++k)
      st256(y + 16 * k, _mm512_cvtepi32_epi16(clamp_cvt<R>(scaled_ps(x + 16 * k, s), -32768.0f, 32767.0f)));
  });
}

template <int R>
void f32_s32(const float *src, int32_t *dst, std::size_t n, int frac_bits) {
  const __m512 s = _mm512_set1_ps(std::ldexp(1.0f, frac_bits));
  each_block<16>(src, dst, n, [&](const float *x, int32_t *y) {
    // 2^31 - 1 is no float: clamp to the largest float below 2^31 and send lanes >= 2^31 to
    // INT32_MAX afterwards (no float below 2^31 rounds up to it: the floats there are 128 apart).
    const __m512 r = scaled_ps(x, s);
    const __mmask16 big = _mm512_cmp_ps_mask(r, _mm512_set1_ps(2147483648.0f), _CMP_GE_OQ);
    const V q = clamp_cvt<R>(r, -2147483648.0f, 2147483520.0f);
    st(y, _mm512_mask_mov_epi32(q, big, _mm512_set1_epi32(INT32_MAX)));
  });
}

// 16 doubles -> 16 int32 in one vector.
template <int R>
inline V f64x16(const double *x, __m512d s, double lo, double hi) {
  const V a = _mm512_castsi256_si512(clamp_cvt<R>(scaled_pd(x, s), lo, hi));
  return _mm512_inserti64x4(a, clamp_cvt<R>(scaled_pd(x + 8, s), lo, hi), 1);
}

template <int R>
void f64_s8(const double *src, int8_t *dst, std::size_t n, int frac_bits) {
  const __m512d s = _mm512_set1_pd(std::ldexp(1.0, frac_bits));
  each_block<32>(src, dst, n, [&](const double *x, int8_t *y) {
    for (int k = 0; k < 2; ++k) st128(y + 16 * k, _mm512_cvtepi32_epi8(f64x16<R>(x + 16 * k, s, -128.0, 127.0)));
  });
}

template <int R>
void f64_s16(const double *src, int16_t *dst, std::size_t n, int frac_bits) {
  const __m512d s = _mm512_set1_pd(std::ldexp(1.0, frac_bits));
  each_block<32>(src, dst, n, [&](const double *x, int16_t *y) {
    for (int k = 0; k < 2; ++k)
      st256(y + 16 * k, _mm512_cvtepi32_epi16(f64x16<R>(x + 16 * k, s, -32768.0, 32767.0)));
  });
}

template <int R>
void f64_s32(const double *src, int32_t *dst, std::size_t n, int frac_bits) {
  const __m512d s = _mm512_set1_pd(std::ldexp(1.0, frac_bits));
  each_block<16>(src, dst, n, [&](const double *x, int32_t *y) {
    st(y, f64x16<R>(x, s, -2147483648.0, 2147483647.0));
  });
}

template <class F, class T, template <int> class Fn>
void from_real(const F *src, T *dst, std::size_t n, int frac_bits, q8_rounding r) {
  switch (r) {
    case Q8_ROUND_TOWARD_ZERO: return Fn<Q8_ROUND_TOWARD_ZERO>::run(src, dst, n, frac_bits);
    case Q8_ROUND_NEAREST_AWAY: return Fn<Q8_ROUND_NEAREST_AWAY>::run(src, dst, n, frac_bits);
    default: return Fn<Q8_ROUND_NEAREST_EVEN>::run(src, dst, n, frac_bits);
  }
}
template <int R> struct F32S8 { static constexpr auto run = f32_s8<R>; };
template <int R> struct F32S16 { static constexpr auto run = f32_s16<R>; };
template <int R> struct F32S32 { static constexpr auto run = f32_s32<R>; };
template <int R> struct F64S8 { static constexpr auto run = f64_s8<R>; };
template <int R> struct F64S16 { static constexpr auto run = f64_s16<R>; };
template <int R> struct F64S32 { static constexpr auto run = f64_s32<R>; };

// ---- fixed -> real -----------------------------------------------------------------------------

void s8_f32(const int8_t *src, float *dst, std::size_t n, int frac_bits) {
  const __m512 inv = _mm512_set1_ps(std::ldexp(1.0f, -frac_bits));
  each_block<64>(src, dst, n, [&](const int8_t *x, float *y) {
    for (int k = 0; k < 4; ++k)
      _mm512_storeu_ps(y + 16 * k, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(ld128(x + 16 * k))), inv));
  });
}

void s16_f32(const int16_t *src, float *dst, std::size_t n, int frac_bits) {
  const __m512 inv = _mm512_set1_ps(std::ldexp(1.0f, -frac_bits));
  each_block<32>(src, dst, n, [&](const int16_t *x, float *y) {
    for (int k = 0; k < 2; ++k)
      _mm512_storeu_ps(y + 16 * k,
                       _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(ld256(x + 16 * k))), inv));
  });
}

void s32_f32(const int32_t *src, float *dst, std::size_t n, int frac_bits) {
  const __m512 inv = _mm512_set1_ps(std::ldexp(1.0f, -frac_bits));
  each_block<16>(src, dst, n, [&](const int32_t *x, float *y) {
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(ld(x)), inv));  // rounds to nearest, as (float)
  });
}

void s8_f64(const int8_t *src, double *dst, std::size_t n, int frac_bits) {
  const __m512d inv = _mm512_set1_pd(std::ldexp(1.0, -frac_bits));
  each_block<16>(src, dst, n, [&](const int8_t *x, double *y) {
    const V w = _mm512_cvtepi8_epi32(ld128(x));
    _mm512_storeu_pd(y, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(w)), inv));
    _mm512_storeu_pd(y + 8, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(w, 1)), inv));
  });
}

void s16_f64(const int16_t *src, double *dst, std::size_t n, int frac_bits) {
  const __m512d inv = _mm512_set1_pd(std::ldexp(1.0, -frac_bits));
  each_block<16>(src, dst, n, [&](const int16_t *x, double *y) {
    const V w = _mm512_cvtepi16_epi32(ld256(x));
    _mm512_storeu_pd(y, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(w)), inv));
    _mm512_storeu_pd(y + 8, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(w, 1)), inv));
  });
}

void s32_f64(const int32_t *src, double *dst, std::size_t n, int frac_bits) {
  const __m512d inv = _mm512_set1_pd(std::ldexp(1.0, -frac_bits));
  each_block<16>(src, dst, n, [&](const int32_t *x, double *y) {
    _mm512_storeu_pd(y, _mm512_mul_pd(_mm512_cvtepi32_pd(ld256(x)), inv));
    _mm512_storeu_pd(y + 8, _mm512_mul_pd(_mm512_cvtepi32_pd(ld256(x + 8)), inv));
  });
}

// ---- between Q formats ---------------------------------------------------------------------------

void q7_q15(const int8_t *src, int16_t *dst, std::size_t n) {
  each_block<64>(src, dst, n, [](const int8_t *x, int16_t *y) {
    st(y, _mm512_slli_epi16(_mm512_cvtepi8_epi16(ld256(x)), 8));
    st(y + 32, _mm512_slli_epi16(_mm512_cvtepi8_epi16(ld256(x + 32)), 8));
  });
}

void q7_q31(const int8_t *src, int32_t *dst, std::size_t n) {
  each_block<32>(src, dst, n, [](const int8_t *x, int32_t *y) {
    st(y, _mm512_slli_epi32(_mm512_cvtepi8_epi32(ld128(x)), 24));
    st(y + 16, _mm512_slli_epi32(_mm512_cvtepi8_epi32(ld128(x + 16)), 24));
  });
}

void q15_q31(const int16_t *src, int32_t *dst, std::size_t n) {
  each_block<32>(src, dst, n, [](const int16_t *x, int32_t *y) {
    st(y, _mm512_slli_epi32(_mm512_cvtepi16_epi32(ld256(x)), 16));
    st(y + 16, _mm512_slli_epi32(_mm512_cvtepi16_epi32(ld256(x + 16)), 16));
  });
}

void q15_q7(const int16_t *src, int8_t *dst, std::size_t n) {
  each_block<64>(src, dst, n, [](const int16_t *x, int8_t *y) {
    st256(y, _mm512_cvtepi16_epi8(_mm512_srai_epi16(ld(x), 8)));
    st256(y + 32, _mm512_cvtepi16_epi8(_mm512_srai_epi16(ld(x + 32), 8)));
  });
}

void q31_q15(const int32_t *src, int16_t *dst, std::size_t n) {
  each_block<32>(src, dst, n, [](const int32_t *x, int16_t *y) {
    st256(y, _mm512_cvtepi32_epi16(_mm512_srai_epi32(ld(x), 16)));
    st256(y + 16, _mm512_cvtepi32_epi16(_mm512_srai_epi32(ld(x + 16), 16)));
  });
}

void q31_q7(const int32_t *src, int8_t *dst, std::size_t n) {
  each_block<32>(src, dst, n, [](const int32_t *x, int8_t *y) {
    st128(y, _mm512_cvtepi32_epi8(_mm512_srai_epi32(ld(x), 24)));
    st128(y + 16, _mm512_cvtepi32_epi8(_mm512_srai_epi32(ld(x + 16), 24)));
  });
}

// ---- arithmetic ----------------------------------------------------------------------------------

template <class T, class Op>
inline void binary(const T *a, const T *b, T *dst, std::size_t n, Op op) {
  constexpr std::size_t E = 64 / sizeof(T);
  each_block2<E>(a, b, dst, n, [&](const T *x, const T *y, T *z) { st(z, op(ld(x), ld(y))); });
}
template <class T, class Op>
inline void unary(const T *src, T *dst, std::size_t n, Op op) {
  constexpr std::size_t E = 64 / sizeof(T);
  each_block<E>(src, dst, n, [&](const T *x, T *z) { st(z, op(ld(x))); });
}

// INT_MAX for lanes of x >= 0, INT_MIN for x < 0 (a blend by the sign bits: GCC 12 warns falsely
// about its own _mm512_srai_epi32 when inlined here).
inline V sat_by_sign32(V x) {
  return _mm512_mask_blend_epi32(_mm512_movepi32_mask(x), _mm512_set1_epi32(INT32_MAX), _mm512_set1_epi32(INT32_MIN));
}
inline V sat_by_sign16(V x) {
  return _mm512_mask_blend_epi16(_mm512_movepi16_mask(x), _mm512_set1_epi16(INT16_MAX), _mm512_set1_epi16(INT16_MIN));
}

inline V add32(V a, V b) {
  const V s = _mm512_add_epi32(a, b);
  const __mmask16 overflow = _mm512_movepi32_mask(_mm512_and_si512(_mm512_xor_si512(s, a), _mm512_xor_si512(s, b)));
  return _mm512_mask_mov_epi32(s, overflow, sat_by_sign32(a));
}
inline V sub32(V a, V b) {
  const V s = _mm512_sub_epi32(a, b);
  const __mmask16 overflow = _mm512_movepi32_mask(_mm512_and_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(a, s)));
  return _mm512_mask_mov_epi32(s, overflow, sat_by_sign32(a));
}

void add_q7(const int8_t *a, const int8_t *b, int8_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm512_adds_epi8(x, y); });
}
void add_q15(const int16_t *a, const int16_t *b, int16_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm512_adds_epi16(x, y); });
}
void add_q31(const int32_t *a, const int32_t *b, int32_t *d, std::size_t n) { binary(a, b, d, n, add32); }
void sub_q7(const int8_t *a, const int8_t *b, int8_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm512_subs_epi8(x, y); });
}
void sub_q15(const int16_t *a, const int16_t *b, int16_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm512_subs_epi16(x, y); });
}
void sub_q31(const int32_t *a, const int32_t *b, int32_t *d, std::size_t n) { binary(a, b, d, n, sub32); }

void negate_q7(const int8_t *s, int8_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm512_subs_epi8(_mm512_setzero_si512(), x); });
}
void negate_q15(const int16_t *s, int16_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm512_subs_epi16(_mm512_setzero_si512(), x); });
}
void negate_q31(const int32_t *s, int32_t *d, std::size_t n) {
  unary(s, d, n, [](V x) {
    const __mmask16 min = _mm512_cmpeq_epi32_mask(x, _mm512_set1_epi32(INT32_MIN));
    return _mm512_mask_mov_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), x), min, _mm512_set1_epi32(INT32_MAX));
  });
}
void abs_q7(const int8_t *s, int8_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm512_min_epu8(_mm512_abs_epi8(x), _mm512_set1_epi8(INT8_MAX)); });
}
void abs_q15(const int16_t *s, int16_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm512_min_epu16(_mm512_abs_epi16(x), _mm512_set1_epi16(INT16_MAX)); });
}
void abs_q31(const int32_t *s, int32_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm512_min_epu32(_mm512_abs_epi32(x), _mm512_set1_epi32(INT32_MAX)); });
}

void mult_q7(const int8_t *a, const int8_t *b, int8_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) {
    const V e = _mm512_srai_epi16(_mm512_mullo_epi16(even8(x), even8(y)), 7);
    const V o = _mm512_srai_epi16(_mm512_mullo_epi16(odd8(x), odd8(y)), 7);
    const V top = _mm512_set1_epi16(INT8_MAX);
    return join8(_mm512_min_epi16(e, top), _mm512_min_epi16(o, top));
  });
}

void mult_q15(const int16_t *a, const int16_t *b, int16_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) {
    const V hi = _mm512_mulhi_epi16(x, y), lo = _mm512_mullo_epi16(x, y);
    const V r = _mm512_or_si512(_mm512_slli_epi16(hi, 1), _mm512_srli_epi16(lo, 15));
    const V m = _mm512_set1_epi16(INT16_MIN);
    const __mmask32 both = _mm512_cmpeq_epi16_mask(x, m) & _mm512_cmpeq_epi16_mask(y, m);
    return _mm512_mask_mov_epi16(r, both, _mm512_set1_epi16(INT16_MAX));
  });
}

void mult_q31(const int32_t *a, const int32_t *b, int32_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) {
    const V pe = _mm512_mul_epi32(x, y);
    const V po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(y, 32));
    const V r = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    const V m = _mm512_set1_epi32(INT32_MIN);
    const __mmask16 both = _mm512_cmpeq_epi32_mask(x, m) & _mm512_cmpeq_epi32_mask(y, m);
    return _mm512_mask_mov_epi32(r, both, _mm512_set1_epi32(INT32_MAX));
  });
}

inline __m128i count(int c) { return _mm_cvtsi32_si128(c); }

inline V shl_sat16(V x, __m128i c) {
  const V r = _mm512_sll_epi16(x, c);
  return _mm512_mask_mov_epi16(r, _mm512_cmpneq_epi16_mask(_mm512_sra_epi16(r, c), x), sat_by_sign16(x));
}
inline V shl_sat32(V x, __m128i c) {
  const V r = _mm512_sll_epi32(x, c);
  return _mm512_mask_mov_epi32(r, _mm512_cmpneq_epi32_mask(_mm512_sra_epi32(r, c), x), sat_by_sign32(x));
}

void shift_q7(const int8_t *s, int shift, int8_t *d, std::size_t n) {
  if (shift >= 0) {
    const __m128i c = count(shift < 8 ? shift : 8);
    unary(s, d, n, [c](V x) {
      return join8(clamp16(_mm512_sll_epi16(even8(x), c), -128, 127),
                   clamp16(_mm512_sll_epi16(odd8(x), c), -128, 127));
    });
  } else {
    const __m128i c = count(-shift < 7 ? -shift : 7);
    unary(s, d, n, [c](V x) { return join8(_mm512_sra_epi16(even8(x), c), _mm512_sra_epi16(odd8(x), c)); });
  }
}

void shift_q15(const int16_t *s, int shift, int16_t *d, std::size_t n) {
  if (shift >= 0) {
    const __m128i c = count(shift < 16 ? shift : 16);
    unary(s, d, n, [c](V x) { return shl_sat16(x, c); });
  } else {
    const __m128i c = count(-shift < 15 ? -shift : 15);
    unary(s, d, n, [c](V x) { return _mm512_sra_epi16(x, c); });
  }
}

void shift_q31(const int32_t *s, int shift, int32_t *d, std::size_t n) {
  if (shift >= 0) {
    const __m128i c = count(shift < 32 ? shift : 32);
    unary(s, d, n, [c](V x) { return shl_sat32(x, c); });
  } else {
    const __m128i c = count(-shift < 31 ? -shift : 31);
    unary(s, d, n, [c](V x) { return _mm512_sra_epi32(x, c); });
  }
}

void scale_q7(const int8_t *s, int8_t scale_fract, int shift, int8_t *d, std::size_t n) {
  const V f = _mm512_set1_epi16(scale_fract);
  const int k = shift - 7;
  if (k >= 0) {  // see avx2.cpp: clamping p to int8 first changes no result and keeps it in int16
    const __m128i c = count(k < 8 ? k : 8);
    auto one = [c](V p) { return clamp16(_mm512_sll_epi16(clamp16(p, -128, 127), c), -128, 127); };
    unary(s, d, n, [=](V x) {
      return join8(one(_mm512_mullo_epi16(even8(x), f)), one(_mm512_mullo_epi16(odd8(x), f)));
    });
  } else {
    const __m128i c = count(-k < 15 ? -k : 15);
    auto one = [c](V p) { return clamp16(_mm512_sra_epi16(p, c), -128, 127); };
    unary(s, d, n, [=](V x) {
      return join8(one(_mm512_mullo_epi16(even8(x), f)), one(_mm512_mullo_epi16(odd8(x), f)));
    });
  }
}

void scale_q15(const int16_t *s, int16_t scale_fract, int shift, int16_t *d, std::size_t n) {
  const V f = _mm512_set1_epi16(scale_fract);
  const int k = shift - 15;
  auto run = [&](auto one) {  // unpack lo/hi then packs_epi32 keeps the element order per lane
    unary(s, d, n, [=](V x) {
      const V lo = _mm512_mullo_epi16(x, f), hi = _mm512_mulhi_epi16(x, f);
      return _mm512_packs_epi32(one(_mm512_unpacklo_epi16(lo, hi)), one(_mm512_unpackhi_epi16(lo, hi)));
    });
  };
  if (k >= 0) {
    const __m128i c = count(k < 16 ? k : 16);
    run([c](V p) {
      p = _mm512_min_epi32(_mm512_max_epi32(p, _mm512_set1_epi32(INT16_MIN)), _mm512_set1_epi32(INT16_MAX));
      return _mm512_sll_epi32(p, c);
    });
  } else {
    const __m128i c = count(-k < 31 ? -k : 31);
    run([c](V p) { return _mm512_sra_epi32(p, c); });
  }
}

void scale_q31(const int32_t *s, int32_t scale_fract, int shift, int32_t *d, std::size_t n) {
  const V f = _mm512_set1_epi32(scale_fract);
  auto high_word = [f](V x) {  // floor(x * f / 2^32)
    const V pe = _mm512_mul_epi32(x, f);
    const V po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), f);
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
  };
  const int k = shift + 1;
  if (k >= 0) {
    const __m128i c = count(k < 32 ? k : 32);
    unary(s, d, n, [=](V x) { return shl_sat32(high_word(x), c); });
  } else {
    const __m128i c = count(-k < 31 ? -k : 31);
    unary(s, d, n, [=](V x) { return _mm512_sra_epi32(high_word(x), c); });
  }
}

// ---- dot products ------------------------------------------------------------------------------

inline uint32_t sum_u32(V v) {
  alignas(64) uint32_t l[16];
  _mm512_store_si512(l, v);
  uint32_t s = 0;
  for (uint32_t x : l) s += x;
  return s;
}
inline uint64_t sum_u64(V v) {
  alignas(64) uint64_t l[8];
  _mm512_store_si512(l, v);
  uint64_t s = 0;
  for (uint64_t x : l) s += x;
  return s;
}

uint32_t dot_q7(const int8_t *a, const int8_t *b, std::size_t n) {
  V acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  each_pair<64>(a, b, n, [&](const int8_t *x, const int8_t *y) {
    acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(_mm512_cvtepi8_epi16(ld256(x)), _mm512_cvtepi8_epi16(ld256(y))));
    acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(_mm512_cvtepi8_epi16(ld256(x + 32)),
                                                     _mm512_cvtepi8_epi16(ld256(y + 32))));
  });
  return sum_u32(_mm512_add_epi32(acc0, acc1));
}

uint64_t dot_q15(const int16_t *a, const int16_t *b, std::size_t n) {
  // As in avx2.cpp: pair sums minus 1 always fit int32; add the 1s back at the end.
  V acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  const V one = _mm512_set1_epi32(1);
  const std::size_t blocks = each_pair<32>(a, b, n, [&](const int16_t *x, const int16_t *y) {
    const V m = _mm512_sub_epi32(_mm512_madd_epi16(ld(x), ld(y)), one);
    acc0 = _mm512_add_epi64(acc0, _mm512_srai_epi64(_mm512_slli_epi64(m, 32), 32));
    acc1 = _mm512_add_epi64(acc1, _mm512_srai_epi64(m, 32));
  });
  return sum_u64(_mm512_add_epi64(acc0, acc1)) + uint64_t(blocks) * 16u;
}

uint64_t dot_q31(const int32_t *a, const int32_t *b, std::size_t n) {
  V acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  each_pair<16>(a, b, n, [&](const int32_t *x, const int32_t *y) {
    const V vx = ld(x), vy = ld(y);
    const V pe = _mm512_mul_epi32(vx, vy);
    const V po = _mm512_mul_epi32(_mm512_srli_epi64(vx, 32), _mm512_srli_epi64(vy, 32));
    acc0 = _mm512_add_epi64(acc0, _mm512_srai_epi64(pe, 14));
    acc1 = _mm512_add_epi64(acc1, _mm512_srai_epi64(po, 14));
  });
  return sum_u64(_mm512_add_epi64(acc0, acc1));
}

}  // namespace

const FixedKernels kFixedAvx512 = {
    from_real<float, int8_t, F32S8>,   from_real<float, int16_t, F32S16>,   from_real<float, int32_t, F32S32>,
    from_real<double, int8_t, F64S8>,  from_real<double, int16_t, F64S16>,  from_real<double, int32_t, F64S32>,
    s8_f32, s16_f32, s32_f32, s8_f64, s16_f64, s32_f64,
    q7_q15, q7_q31, q15_q7, q15_q31, q31_q7, q31_q15,
    add_q7, add_q15, add_q31, sub_q7, sub_q15, sub_q31,
    negate_q7, negate_q15, negate_q31, abs_q7, abs_q15, abs_q31,
    mult_q7, mult_q15, mult_q31,
    shift_q7, shift_q15, shift_q31,
    scale_q7, scale_q15, scale_q31,
    dot_q7, dot_q15, dot_q31,
};

}  // namespace q8::fixed
