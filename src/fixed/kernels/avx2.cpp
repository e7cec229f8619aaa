// AVX2 kernels for Q7/Q15/Q31. Each computes exactly reference.hpp's numbers: integer operations
// are exact (saturation and wraparound spelled out where the instruction set does not give them),
// real -> fixed rounds with explicit rounding modes, so the MXCSR mode never matters.
#include <immintrin.h>

#include <cmath>

#include "fixed/kernels/blocks.hpp"
#include "fixed/kernels/kernels.hpp"

namespace q8::fixed {
namespace {

using V = __m256i;

inline V ld(const void *p) { return _mm256_loadu_si256(static_cast<const V *>(p)); }
inline __m128i ld128(const void *p) { return _mm_loadu_si128(static_cast<const __m128i *>(p)); }
inline void st(void *p, V v) { _mm256_storeu_si256(static_cast<V *>(p), v); }
inline void st128(void *p, __m128i v) { _mm_storeu_si128(static_cast<__m128i *>(p), v); }

// int16 lanes <-> the even and odd int8 elements, sign-extended (no cross-lane shuffles).
inline V even8(V x) { return _mm256_srai_epi16(_mm256_slli_epi16(x, 8), 8); }
inline V odd8(V x) { return _mm256_srai_epi16(x, 8); }
inline V join8(V even, V odd) {  // both already inside [-128, 127]
  return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi16(0x00FF)), _mm256_slli_epi16(odd, 8));
}
inline V clamp16(V x, int lo, int hi) {
  return _mm256_min_epi16(_mm256_max_epi16(x, _mm256_set1_epi16(short(lo))), _mm256_set1_epi16(short(hi)));
}

// Four vectors of in-range int32 -> 32 int8 in element order; two -> 16 int16.
inline V pack_s32_to_s8(V a, V b, V c, V d) {
  const V bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
inline V pack_s32_to_s16(V a, V b) { return _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8); }

// ---- real -> fixed -----------------------------------------------------------------------------

constexpr int kTrunc = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

template <int R>
inline __m256 round_ps(__m256 v) {
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) {
    return _mm256_round_ps(v, kTrunc);
  } else if constexpr (R == Q8_ROUND_NEAREST_EVEN) {
    return _mm256_round_ps(v, kNearest);
  } else {  // ties away: trunc, then one step away from zero when the dropped part is >= 1/2
    const __m256 t = _mm256_round_ps(v, kTrunc);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 d = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));  // NaN for infinities: no step
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(d, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
  }
}

template <int R>
inline __m256d round_pd(__m256d v) {
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) {
    return _mm256_round_pd(v, kTrunc);
  } else if constexpr (R == Q8_ROUND_NEAREST_EVEN) {
    return _mm256_round_pd(v, kNearest);
  } else {
    const __m256d t = _mm256_round_pd(v, kTrunc);
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d d = _mm256_andnot_pd(sign, _mm256_sub_pd(v, t));
    const __m256d step = _mm256_or_pd(_mm256_and_pd(v, sign), _mm256_set1_pd(1.0));
    return _mm256_add_pd(t, _mm256_and_pd(_mm256_cmp_pd(d, _mm256_set1_pd(0.5), _CMP_GE_OQ), step));
  }
}

// x * scale with NaN lanes -> 0 (exact: a power of two, or an overflow to +-inf that saturates).
inline __m256 scaled_ps(const float *p, __m256 scale) {
  const __m256 x = _mm256_loadu_ps(p);
  return _mm256_and_ps(_mm256_mul_ps(x, scale), _mm256_cmp_ps(x, x, _CMP_ORD_Q));
}
inline __m256d scaled_pd(const double *p, __m256d scale) {
  const __m256d x = _mm256_loadu_pd(p);
  return _mm256_and_pd(_mm256_mul_pd(x, scale), _mm256_cmp_pd(x, x, _CMP_ORD_Q));
}

// Clamp to [lo, hi] (integers, so clamping before rounding equals clamping after), round in mode
// R, convert to int32; the truncating conversion rounds toward zero by itself.
template <int R>
inline V clamp_cvt(__m256 v, float lo, float hi) {
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) return _mm256_cvttps_epi32(v);
  else return _mm256_cvttps_epi32(round_ps<R>(v));
}
template <int R>
inline __m128i clamp_cvt(__m256d v, double lo, double hi) {
  v = _mm256_min_pd(_mm256_max_pd(v, _mm256_set1_pd(lo)), _mm256_set1_pd(hi));
  if constexpr (R == Q8_ROUND_TOWARD_ZERO) return _mm256_cvttpd_epi32(v);
  else return _mm256_cvttpd_epi32(round_pd<R>(v));
}

template <int R>
void f32_s8(const float *src, int8_t *dst, std::size_t n, int frac_bits) {
  const __m256 s = _mm256_set1_ps(std::ldexp(1.0f, frac_bits));
  each_block<32>(src, dst, n, [&](const float *x, int8_t *y) {
    V q[4];
    for (int k = 0; k < 4; ++k) q[k] = clamp_cvt<R>(scaled_ps(x + 8 * k, s), -128.0f, 127.0f);
    st(y, pack_s32_to_s8(q[0], q[1], q[2], q[3]));
  });
}

template <int R>
void f32_s16(const float *src, int16_t *dst, std::size_t n, int frac_bits) {
  const __m256 s = _mm256_set1_ps(std::ldexp(1.0f, frac_bits));
  each_block<16>(src, dst, n, [&](const float *x, int16_t *y) {
    const V a = clamp_cvt<R>(scaled_ps(x, s), -32768.0f, 32767.0f);
    const V b = clamp_cvt<R>(scaled_ps(x + 8, s), -32768.0f, 32767.0f);
    st(y, pack_s32_to_s16(a, b));
  });
}

template <int R>
void f32_s32(const float *src, int32_t *dst, std::size_t n, int frac_bits) {
  const __m256 s = _mm256_set1_ps(std::ldexp(1.0f, frac_bits));
  const __m256 lim = _mm256_set1_ps(2147483648.0f);
  each_block<8>(src, dst, n, [&](const float *x, int32_t *y) {
    // 2^31 - 1 is no float: clamp to the largest float below 2^31 and send lanes >= 2^31 to
    // INT32_MAX afterwards (no float below 2^31 rounds up to it: the floats there are 128 apart).
    const __m256 r = scaled_ps(x, s);
    const V big = _mm256_castps_si256(_mm256_cmp_ps(r, lim, _CMP_GE_OQ));
    const V q = clamp_cvt<R>(r, -2147483648.0f, 2147483520.0f);
    st(y, _mm256_blendv_epi8(q, _mm256_set1_epi32(INT32_MAX), big));
  });
}

template <int R>
void f64_s8(const double *src, int8_t *dst, std::size_t n, int frac_bits) {
  const __m256d s = _mm256_set1_pd(std::ldexp(1.0, frac_bits));
  each_block<32>(src, dst, n, [&](const double *x, int8_t *y) {
    V q[4];
    for (int k = 0; k < 4; ++k)
      q[k] = _mm256_set_m128i(clamp_cvt<R>(scaled_pd(x + 8 * k + 4, s), -128.0, 127.0),
                              clamp_cvt<R>(scaled_pd(x + 8 * k, s), -128.0, 127.0));
    st(y, pack_s32_to_s8(q[0], q[1], q[2], q[3]));
  });
}

template <int R>
void f64_s16(const double *src, int16_t *dst, std::size_t n, int frac_bits) {
  const __m256d s = _mm256_set1_pd(std::ldexp(1.0, frac_bits));
  each_block<16>(src, dst, n, [&](const double *x, int16_t *y) {
    V q[2];
    for (int k = 0; k < 2; ++k)
      q[k] = _mm256_set_m128i(clamp_cvt<R>(scaled_pd(x + 8 * k + 4, s), -32768.0, 32767.0),
                              clamp_cvt<R>(scaled_pd(x + 8 * k, s), -32768.0, 32767.0));
    st(y, pack_s32_to_s16(q[0], q[1]));
  });
}

template <int R>
void f64_s32(const double *src, int32_t *dst, std::size_t n, int frac_bits) {
  const __m256d s = _mm256_set1_pd(std::ldexp(1.0, frac_bits));
  each_block<8>(src, dst, n, [&](const double *x, int32_t *y) {
    st(y, _mm256_set_m128i(clamp_cvt<R>(scaled_pd(x + 4, s), -2147483648.0, 2147483647.0),
                           clamp_cvt<R>(scaled_pd(x, s), -2147483648.0, 2147483647.0)));
  });
}

// One table entry per (source, destination): the rounding mode is chosen once per call.
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
  const __m256 inv = _mm256_set1_ps(std::ldexp(1.0f, -frac_bits));
  each_block<32>(src, dst, n, [&](const int8_t *x, float *y) {
    const __m128i b = ld128(x);
    const __m128i hi = _mm_unpackhi_epi64(b, b);
    _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), inv));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), inv));
    const __m128i c = ld128(x + 16);
    const __m128i chi = _mm_unpackhi_epi64(c, c);
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c)), inv));
    _mm256_storeu_ps(y + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(chi)), inv));
  });
}

void s16_f32(const int16_t *src, float *dst, std::size_t n, int frac_bits) {
  const __m256 inv = _mm256_set1_ps(std::ldexp(1.0f, -frac_bits));
  each_block<16>(src, dst, n, [&](const int16_t *x, float *y) {
    _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(ld128(x))), inv));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(ld128(x + 8))), inv));
  });
}

void s32_f32(const int32_t *src, float *dst, std::size_t n, int frac_bits) {
  const __m256 inv = _mm256_set1_ps(std::ldexp(1.0f, -frac_bits));
  each_block<8>(src, dst, n, [&](const int32_t *x, float *y) {
    _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(ld(x)), inv));  // rounds to nearest, as (float)
  });
}

void s8_f64(const int8_t *src, double *dst, std::size_t n, int frac_bits) {
  const __m256d inv = _mm256_set1_pd(std::ldexp(1.0, -frac_bits));
  each_block<16>(src, dst, n, [&](const int8_t *x, double *y) {
    const V w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(x)));
    const V v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(x + 8)));
    _mm256_storeu_pd(y, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(w)), inv));
    _mm256_storeu_pd(y + 4, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(w, 1)), inv));
    _mm256_storeu_pd(y + 8, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(v)), inv));
    _mm256_storeu_pd(y + 12, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1)), inv));
  });
}

void s16_f64(const int16_t *src, double *dst, std::size_t n, int frac_bits) {
  const __m256d inv = _mm256_set1_pd(std::ldexp(1.0, -frac_bits));
  each_block<8>(src, dst, n, [&](const int16_t *x, double *y) {
    const V w = _mm256_cvtepi16_epi32(ld128(x));
    _mm256_storeu_pd(y, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(w)), inv));
    _mm256_storeu_pd(y + 4, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(w, 1)), inv));
  });
}

void s32_f64(const int32_t *src, double *dst, std::size_t n, int frac_bits) {
  const __m256d inv = _mm256_set1_pd(std::ldexp(1.0, -frac_bits));
  each_block<8>(src, dst, n, [&](const int32_t *x, double *y) {
    _mm256_storeu_pd(y, _mm256_mul_pd(_mm256_cvtepi32_pd(ld128(x)), inv));
    _mm256_storeu_pd(y + 4, _mm256_mul_pd(_mm256_cvtepi32_pd(ld128(x + 4)), inv));
  });
}

// ---- between Q formats ---------------------------------------------------------------------------

void q7_q15(const int8_t *src, int16_t *dst, std::size_t n) {
  each_block<32>(src, dst, n, [](const int8_t *x, int16_t *y) {
    st(y, _mm256_slli_epi16(_mm256_cvtepi8_epi16(ld128(x)), 8));
    st(y + 16, _mm256_slli_epi16(_mm256_cvtepi8_epi16(ld128(x + 16)), 8));
  });
}

void q7_q31(const int8_t *src, int32_t *dst, std::size_t n) {
  each_block<16>(src, dst, n, [](const int8_t *x, int32_t *y) {
    const __m128i b = ld128(x);
    st(y, _mm256_slli_epi32(_mm256_cvtepi8_epi32(b), 24));
    st(y + 8, _mm256_slli_epi32(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(b, b)), 24));
  });
}

void q15_q31(const int16_t *src, int32_t *dst, std::size_t n) {
  each_block<16>(src, dst, n, [](const int16_t *x, int32_t *y) {
    st(y, _mm256_slli_epi32(_mm256_cvtepi16_epi32(ld128(x)), 16));
    st(y + 8, _mm256_slli_epi32(_mm256_cvtepi16_epi32(ld128(x + 8)), 16));
  });
}

void q15_q7(const int16_t *src, int8_t *dst, std::size_t n) {
  each_block<32>(src, dst, n, [](const int16_t *x, int8_t *y) {
    const V a = _mm256_srai_epi16(ld(x), 8), b = _mm256_srai_epi16(ld(x + 16), 8);
    st(y, _mm256_permute4x64_epi64(_mm256_packs_epi16(a, b), 0xD8));
  });
}

void q31_q15(const int32_t *src, int16_t *dst, std::size_t n) {
  each_block<16>(src, dst, n, [](const int32_t *x, int16_t *y) {
    st(y, pack_s32_to_s16(_mm256_srai_epi32(ld(x), 16), _mm256_srai_epi32(ld(x + 8), 16)));
  });
}

void q31_q7(const int32_t *src, int8_t *dst, std::size_t n) {
  each_block<32>(src, dst, n, [](const int32_t *x, int8_t *y) {
    st(y, pack_s32_to_s8(_mm256_srai_epi32(ld(x), 24), _mm256_srai_epi32(ld(x + 8), 24),
                         _mm256_srai_epi32(ld(x + 16), 24), _mm256_srai_epi32(ld(x + 24), 24)));
  });
}

// ---- arithmetic ----------------------------------------------------------------------------------

// An element-wise binary kernel from a per-vector operation.
template <class T, class Op>
inline void binary(const T *a, const T *b, T *dst, std::size_t n, Op op) {
  constexpr std::size_t E = 32 / sizeof(T);
  each_block2<E>(a, b, dst, n, [&](const T *x, const T *y, T *z) { st(z, op(ld(x), ld(y))); });
}
template <class T, class Op>
inline void unary(const T *src, T *dst, std::size_t n, Op op) {
  constexpr std::size_t E = 32 / sizeof(T);
  each_block<E>(src, dst, n, [&](const T *x, T *z) { st(z, op(ld(x))); });
}

// INT32_MAX for lanes of x >= 0, INT32_MIN for x < 0.
inline V sat_by_sign32(V x) { return _mm256_xor_si256(_mm256_srai_epi32(x, 31), _mm256_set1_epi32(INT32_MAX)); }
inline V sat_by_sign16(V x) { return _mm256_xor_si256(_mm256_srai_epi16(x, 15), _mm256_set1_epi16(INT16_MAX)); }

inline V add32(V a, V b) {
  const V s = _mm256_add_epi32(a, b);
  const V overflow = _mm256_and_si256(_mm256_xor_si256(s, a), _mm256_xor_si256(s, b));  // sign bit
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(s), _mm256_castsi256_ps(sat_by_sign32(a)),
                                               _mm256_castsi256_ps(overflow)));
}
inline V sub32(V a, V b) {
  const V s = _mm256_sub_epi32(a, b);
  const V overflow = _mm256_and_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(a, s));
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(s), _mm256_castsi256_ps(sat_by_sign32(a)),
                                               _mm256_castsi256_ps(overflow)));
}

void add_q7(const int8_t *a, const int8_t *b, int8_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm256_adds_epi8(x, y); });
}
void add_q15(const int16_t *a, const int16_t *b, int16_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm256_adds_epi16(x, y); });
}
void add_q31(const int32_t *a, const int32_t *b, int32_t *d, std::size_t n) { binary(a, b, d, n, add32); }
void sub_q7(const int8_t *a, const int8_t *b, int8_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm256_subs_epi8(x, y); });
}
void sub_q15(const int16_t *a, const int16_t *b, int16_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) { return _mm256_subs_epi16(x, y); });
}
void sub_q31(const int32_t *a, const int32_t *b, int32_t *d, std::size_t n) { binary(a, b, d, n, sub32); }

void negate_q7(const int8_t *s, int8_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm256_subs_epi8(_mm256_setzero_si256(), x); });
}
void negate_q15(const int16_t *s, int16_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm256_subs_epi16(_mm256_setzero_si256(), x); });
}
void negate_q31(const int32_t *s, int32_t *d, std::size_t n) {
  unary(s, d, n, [](V x) {  // 0 - MIN wraps to MIN; flipping every bit of those lanes gives MAX
    return _mm256_xor_si256(_mm256_sub_epi32(_mm256_setzero_si256(), x),
                            _mm256_cmpeq_epi32(x, _mm256_set1_epi32(INT32_MIN)));
  });
}
void abs_q7(const int8_t *s, int8_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm256_min_epu8(_mm256_abs_epi8(x), _mm256_set1_epi8(INT8_MAX)); });
}
void abs_q15(const int16_t *s, int16_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm256_min_epu16(_mm256_abs_epi16(x), _mm256_set1_epi16(INT16_MAX)); });
}
void abs_q31(const int32_t *s, int32_t *d, std::size_t n) {
  unary(s, d, n, [](V x) { return _mm256_min_epu32(_mm256_abs_epi32(x), _mm256_set1_epi32(INT32_MAX)); });
}

void mult_q7(const int8_t *a, const int8_t *b, int8_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) {
    // 2.14 products in int16 lanes, >> 7; only -128 * -128 = 128 leaves the range.
    const V e = _mm256_srai_epi16(_mm256_mullo_epi16(even8(x), even8(y)), 7);
    const V o = _mm256_srai_epi16(_mm256_mullo_epi16(odd8(x), odd8(y)), 7);
    const V top = _mm256_set1_epi16(INT8_MAX);
    return join8(_mm256_min_epi16(e, top), _mm256_min_epi16(o, top));
  });
}

void mult_q15(const int16_t *a, const int16_t *b, int16_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) {
    // bits 15..30 of the 32-bit product; MIN * MIN gives 0x8000 there, flipped to 0x7FFF.
    const V hi = _mm256_mulhi_epi16(x, y), lo = _mm256_mullo_epi16(x, y);
    const V r = _mm256_or_si256(_mm256_slli_epi16(hi, 1), _mm256_srli_epi16(lo, 15));
    const V m = _mm256_set1_epi16(INT16_MIN);
    return _mm256_xor_si256(r, _mm256_and_si256(_mm256_cmpeq_epi16(x, m), _mm256_cmpeq_epi16(y, m)));
  });
}

void mult_q31(const int32_t *a, const int32_t *b, int32_t *d, std::size_t n) {
  binary(a, b, d, n, [](V x, V y) {
    // 64-bit products of even and odd lanes; bits 31..62 of each are the result.
    const V pe = _mm256_mul_epi32(x, y);
    const V po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(y, 32));
    const V r = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    const V m = _mm256_set1_epi32(INT32_MIN);
    return _mm256_xor_si256(r, _mm256_and_si256(_mm256_cmpeq_epi32(x, m), _mm256_cmpeq_epi32(y, m)));
  });
}

inline __m128i count(int c) { return _mm_cvtsi32_si128(c); }

// saturate(x * 2^c), 0 <= c <= 16 / 32: shift, shift back, and saturate the lanes that changed.
inline V shl_sat16(V x, __m128i c) {
  const V r = _mm256_sll_epi16(x, c);
  return _mm256_blendv_epi8(sat_by_sign16(x), r, _mm256_cmpeq_epi16(_mm256_sra_epi16(r, c), x));
}
inline V shl_sat32(V x, __m128i c) {
  const V r = _mm256_sll_epi32(x, c);
  return _mm256_blendv_epi8(sat_by_sign32(x), r, _mm256_cmpeq_epi32(_mm256_sra_epi32(r, c), x));
}

void shift_q7(const int8_t *s, int shift, int8_t *d, std::size_t n) {
  if (shift >= 0) {  // in int16 lanes x * 2^8 still fits and every x != 0 saturates int8 there
    const __m128i c = count(shift < 8 ? shift : 8);
    unary(s, d, n, [c](V x) {
      return join8(clamp16(_mm256_sll_epi16(even8(x), c), -128, 127),
                   clamp16(_mm256_sll_epi16(odd8(x), c), -128, 127));
    });
  } else {
    const __m128i c = count(-shift < 7 ? -shift : 7);
    unary(s, d, n, [c](V x) { return join8(_mm256_sra_epi16(even8(x), c), _mm256_sra_epi16(odd8(x), c)); });
  }
}

void shift_q15(const int16_t *s, int shift, int16_t *d, std::size_t n) {
  if (shift >= 0) {
    const __m128i c = count(shift < 16 ? shift : 16);
    unary(s, d, n, [c](V x) { return shl_sat16(x, c); });
  } else {
    const __m128i c = count(-shift < 15 ? -shift : 15);
    unary(s, d, n, [c](V x) { return _mm256_sra_epi16(x, c); });
  }
}

void shift_q31(const int32_t *s, int shift, int32_t *d, std::size_t n) {
  if (shift >= 0) {
    const __m128i c = count(shift < 32 ? shift : 32);
    unary(s, d, n, [c](V x) { return shl_sat32(x, c); });
  } else {
    const __m128i c = count(-shift < 31 ? -shift : 31);
    unary(s, d, n, [c](V x) { return _mm256_sra_epi32(x, c); });
  }
}

void scale_q7(const int8_t *s, int8_t scale_fract, int shift, int8_t *d, std::size_t n) {
  const V f = _mm256_set1_epi16(scale_fract);
  const int k = shift - 7;  // the exact 2.14 product times 2^k, floored, saturated
  if (k >= 0) {
    // Any p outside int8 saturates for k >= 1 (and clamping is the saturation for k = 0), so clamping p
    // to int8 first keeps p * 2^min(k, 8) inside int16 without changing the result.
    const __m128i c = count(k < 8 ? k : 8);
    auto one = [c](V p) { return clamp16(_mm256_sll_epi16(clamp16(p, -128, 127), c), -128, 127); };
    unary(s, d, n, [=](V x) {
      return join8(one(_mm256_mullo_epi16(even8(x), f)), one(_mm256_mullo_epi16(odd8(x), f)));
    });
  } else {
    const __m128i c = count(-k < 15 ? -k : 15);
    auto one = [c](V p) { return clamp16(_mm256_sra_epi16(p, c), -128, 127); };
    unary(s, d, n, [=](V x) {
      return join8(one(_mm256_mullo_epi16(even8(x), f)), one(_mm256_mullo_epi16(odd8(x), f)));
    });
  }
}

void scale_q15(const int16_t *s, int16_t scale_fract, int shift, int16_t *d, std::size_t n) {
  const V f = _mm256_set1_epi16(scale_fract);
  const int k = shift - 15;
  // 32-bit products of elements 0-3 | 8-11 and 4-7 | 12-15; packs_epi32 restores the order.
  auto run = [&](auto one) {
    unary(s, d, n, [=](V x) {
      const V lo = _mm256_mullo_epi16(x, f), hi = _mm256_mulhi_epi16(x, f);
      return _mm256_packs_epi32(one(_mm256_unpacklo_epi16(lo, hi)), one(_mm256_unpackhi_epi16(lo, hi)));
    });
  };
  if (k >= 0) {  // clamp to int16 first (as in scale_q7), so p * 2^min(k, 16) fits int32
    const __m128i c = count(k < 16 ? k : 16);
    run([c](V p) {
      p = _mm256_min_epi32(_mm256_max_epi32(p, _mm256_set1_epi32(INT16_MIN)), _mm256_set1_epi32(INT16_MAX));
      return _mm256_sll_epi32(p, c);
    });
  } else {
    const __m128i c = count(-k < 31 ? -k : 31);
    run([c](V p) { return _mm256_sra_epi32(p, c); });
  }
}

void scale_q31(const int32_t *s, int32_t scale_fract, int shift, int32_t *d, std::size_t n) {
  const V f = _mm256_set1_epi32(scale_fract);
  auto high_word = [f](V x) {  // floor(x * f / 2^32)
    const V pe = _mm256_mul_epi32(x, f);
    const V po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), f);
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
  };
  const int k = shift + 1;
  if (k >= 0) {
    const __m128i c = count(k < 32 ? k : 32);
    unary(s, d, n, [=](V x) { return shl_sat32(high_word(x), c); });
  } else {
    const __m128i c = count(-k < 31 ? -k : 31);
    unary(s, d, n, [=](V x) { return _mm256_sra_epi32(high_word(x), c); });
  }
}

// ---- dot products ------------------------------------------------------------------------------

inline uint32_t sum_u32(V v) {
  alignas(32) uint32_t l[8];
  _mm256_store_si256(reinterpret_cast<V *>(l), v);
  uint32_t s = 0;
  for (uint32_t x : l) s += x;
  return s;
}
inline uint64_t sum_u64(V v) {
  alignas(32) uint64_t l[4];
  _mm256_store_si256(reinterpret_cast<V *>(l), v);
  return l[0] + l[1] + l[2] + l[3];
}

uint32_t dot_q7(const int8_t *a, const int8_t *b, std::size_t n) {
  // pairs of 2.14 products (|sum| <= 2^15) added in wrapping int32 lanes; four independent
  // accumulators over 64 bytes per step
  V acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  each_pair<64>(a, b, n, [&](const int8_t *x, const int8_t *y) {
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_cvtepi8_epi16(ld128(x + 16 * k)),
                                                          _mm256_cvtepi8_epi16(ld128(y + 16 * k))));
  });
  return sum_u32(_mm256_add_epi32(_mm256_add_epi32(acc[0], acc[1]), _mm256_add_epi32(acc[2], acc[3])));
}

uint64_t dot_q15(const int16_t *a, const int16_t *b, std::size_t n) {
  // madd_epi16 adds two products; their sum lies in [-2^31 + 2^16, 2^31], and only 2^31 (both
  // pairs MIN * MIN) wraps. Sum - 1 always fits int32, so accumulate that sign-extended in 64
  // bits and add 1 per pair at the end.
  V acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  const V one = _mm256_set1_epi32(1);
  const std::size_t blocks = each_pair<16>(a, b, n, [&](const int16_t *x, const int16_t *y) {
    const V m = _mm256_sub_epi32(_mm256_madd_epi16(ld(x), ld(y)), one);
    acc0 = _mm256_add_epi64(acc0, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)));
    acc1 = _mm256_add_epi64(acc1, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)));
  });
  return sum_u64(_mm256_add_epi64(acc0, acc1)) + uint64_t(blocks) * 8u;
}

uint64_t dot_q31(const int32_t *a, const int32_t *b, std::size_t n) {
  // floor(p / 2^14) per product without an arithmetic 64-bit shift: (p + 2^63) >> 14 (logical) is
  // floor(p / 2^14) + 2^49; the 2^49 per product comes off at the end.
  const V bias = _mm256_set1_epi64x(INT64_MIN);
  V acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  const std::size_t blocks = each_pair<8>(a, b, n, [&](const int32_t *x, const int32_t *y) {
    const V vx = ld(x), vy = ld(y);
    const V pe = _mm256_mul_epi32(vx, vy);
    const V po = _mm256_mul_epi32(_mm256_srli_epi64(vx, 32), _mm256_srli_epi64(vy, 32));
    acc0 = _mm256_add_epi64(acc0, _mm256_srli_epi64(_mm256_xor_si256(pe, bias), 14));
    acc1 = _mm256_add_epi64(acc1, _mm256_srli_epi64(_mm256_xor_si256(po, bias), 14));
  });
  return sum_u64(_mm256_add_epi64(acc0, acc1)) - uint64_t(blocks) * 8u * (uint64_t(1) << 49);
}

}  // namespace

const FixedKernels kFixedAvx2 = {
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
