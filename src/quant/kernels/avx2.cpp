// AVX2 kernels: 32 floats per step packed to 32 bytes; the remainder goes through the scalar
// reference, which computes the same numbers.
#include <immintrin.h>

#include "quant/kernels/kernels.hpp"
#include "quant/kernels/reference.hpp"

namespace q8::quant {
namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// round_half_even(x / scale) + zp, clamped; NaN lanes become zp.
inline __m256i quantize8(__m256 x, __m256 scale, __m256 zp, __m256 qmin, __m256 qmax) {
  __m256 r = _mm256_round_ps(_mm256_div_ps(x, scale), kRound);
  r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, zp), qmin), qmax);
  r = _mm256_blendv_ps(r, zp, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  return _mm256_cvtps_epi32(r);
}

// Packs four vectors of in-range int32 into 32 bytes in element order.
template <bool kSigned>
inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  const __m256i bytes = kSigned ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

template <bool kSigned>
inline __m256i widen8(const void *src) {
  const __m128i b = _mm_loadl_epi64(static_cast<const __m128i *>(src));
  return kSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

template <class Q, bool kSigned>
void quantize(const float *x, Q *y, std::size_t n, float scale, int32_t zp) {
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(float(zp));
  const __m256 lo = _mm256_set1_ps(kSigned ? -128.f : 0.f), hi = _mm256_set1_ps(kSigned ? 127.f : 255.f);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = quantize8(_mm256_loadu_ps(x + i), vs, vz, lo, hi);
    const __m256i b = quantize8(_mm256_loadu_ps(x + i + 8), vs, vz, lo, hi);
    const __m256i c = quantize8(_mm256_loadu_ps(x + i + 16), vs, vz, lo, hi);
    const __m256i d = quantize8(_mm256_loadu_ps(x + i + 24), vs, vz, lo, hi);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(y + i), pack32<kSigned>(a, b, c, d));
  }
  constexpr int32_t qmin = kSigned ? -128 : 0, qmax = kSigned ? 127 : 255;
  for (; i < n; ++i) y[i] = static_cast<Q>(quantize_one<qmin, qmax>(x[i], scale, zp));
}

template <class Q, bool kSigned>
void quantize_vec(const float *x, Q *y, std::size_t n, const float *scales, const int32_t *zps) {
  const __m256 lo = _mm256_set1_ps(kSigned ? -128.f : 0.f), hi = _mm256_set1_ps(kSigned ? 127.f : 255.f);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i v[4];
    for (int u = 0; u < 4; ++u) {
      const std::size_t j = i + 8 * u;
      const __m256 vz = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(zps + j)));
      v[u] = quantize8(_mm256_loadu_ps(x + j), _mm256_loadu_ps(scales + j), vz, lo, hi);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(y + i), pack32<kSigned>(v[0], v[1], v[2], v[3]));
  }
  constexpr int32_t qmin = kSigned ? -128 : 0, qmax = kSigned ? 127 : 255;
  for (; i < n; ++i) y[i] = static_cast<Q>(quantize_one<qmin, qmax>(x[i], scales[i], zps[i]));
}

template <class Q, bool kSigned>
void dequantize(const Q *q, float *y, std::size_t n, float scale, int32_t zp) {
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256i vz = _mm256_set1_epi32(zp);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_sub_epi32(widen8<kSigned>(q + i), vz);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vs));
  }
  for (; i < n; ++i) y[i] = dequantize_one(q[i], scale, zp);
}

template <class Q, bool kSigned>
void dequantize_vec(const Q *q, float *y, std::size_t n, const float *scales, const int32_t *zps) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i vz = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(zps + i));
    const __m256i v = _mm256_sub_epi32(widen8<kSigned>(q + i), vz);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(scales + i)));
  }
  for (; i < n; ++i) y[i] = dequantize_one(q[i], scales[i], zps[i]);
}

}  // namespace

const Kernels kAvx2Kernels = {
    quantize<int8_t, true>,       quantize<uint8_t, false>,
    quantize_vec<int8_t, true>,   quantize_vec<uint8_t, false>,
    dequantize<int8_t, true>,     dequantize<uint8_t, false>,
    dequantize_vec<int8_t, true>, dequantize_vec<uint8_t, false>,
};

}  // namespace q8::quant
