// AVX-512 (F/BW/DQ/VL) kernels: 16 floats per step, masked tails, so no scalar remainder.
// IEEE division and an explicit round-to-nearest-even keep them bit-identical to reference.hpp.
#include <immintrin.h>

#include "quant/kernels/kernels.hpp"

namespace q8::quant {
namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

inline __mmask16 tail_mask(std::size_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
}

// fixupimm table: QNaN and SNaN (tokens 0, 1) become +0 (response 8); every other class keeps
// its value (response 1).
constexpr int kNanToZero = 0x11111188;

// round_half_even(x / scale) + zp, clamped to [qmin, qmax]; NaN lanes become zp. The quotient is
// clamped to [lo, hi] = [qmin - zp, qmax - zp] before rounding: the bounds are integers, so this
// equals clamping after rounding, and lets one vcvtps2dq{rn-sae} round and convert together.
// The instruction count per 16 elements, not the divider, bounds this loop in cache.
inline __m512i quantize16(__m512 x, __m512 scale, __m512i zp, __m512 lo, __m512 hi) {
  __m512 q = _mm512_div_ps(x, scale);
  q = _mm512_fixupimm_ps(q, q, _mm512_set1_epi32(kNanToZero), 0);
  q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
  return _mm512_add_epi32(_mm512_cvt_roundps_epi32(q, kRound), zp);
}

template <bool kSigned>
inline void store_bytes(void *dst, __mmask16 m, __m512i v) {
  if (kSigned)
    _mm512_mask_cvtsepi32_storeu_epi8(dst, m, v);
  else
    _mm512_mask_cvtusepi32_storeu_epi8(dst, m, v);
}

template <bool kSigned>
inline __m128i narrow16(__m512i v) {
  return kSigned ? _mm512_cvtsepi32_epi8(v) : _mm512_cvtusepi32_epi8(v);
}

template <bool kSigned>
inline __m512i load_bytes(const void *src, __mmask16 m) {
  const __m128i b = _mm_maskz_loadu_epi8(m, src);
  return kSigned ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

template <class Q, bool kSigned>
void quantize(const float *x, Q *y, std::size_t n, float scale, int32_t zp) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512i vz = _mm512_set1_epi32(zp);
  const __m512 lo = _mm512_set1_ps(float((kSigned ? -128 : 0) - zp));
  const __m512 hi = _mm512_set1_ps(float((kSigned ? 127 : 255) - zp));
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {  // four independent chains hide the divider's latency
    for (int u = 0; u < 4; ++u) {
      const __m512i q = quantize16(_mm512_loadu_ps(x + i + 16 * u), vs, vz, lo, hi);
      store_bytes<kSigned>(y + i + 16 * u, 0xFFFF, q);  // measured faster here than vpmovsdb + store
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    store_bytes<kSigned>(y + i, m, quantize16(_mm512_maskz_loadu_ps(m, x + i), vs, vz, lo, hi));
  }
}

// Masked loads and stores cost extra on every iteration, so the main loops run unmasked and only
// the tail (fewer than 16 elements) takes masks.
template <class Q, bool kSigned>
void quantize_vec(const float *x, Q *y, std::size_t n, const float *scales, const int32_t *zps) {
  const __m512 qmin = _mm512_set1_ps(kSigned ? -128.f : 0.f), qmax = _mm512_set1_ps(kSigned ? 127.f : 255.f);
  auto one = [&](__m512 v, __m512 vs, __m512i vz) {
    const __m512 zf = _mm512_cvtepi32_ps(vz);
    return quantize16(v, vs, vz, _mm512_sub_ps(qmin, zf), _mm512_sub_ps(qmax, zf));
  };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i q = one(_mm512_loadu_ps(x + i), _mm512_loadu_ps(scales + i), _mm512_loadu_si512(zps + i));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(y + i), narrow16<kSigned>(q));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    // Masked-off lanes load scale 1 so they never divide by zero (their results are not stored).
    const __m512 vs = _mm512_mask_loadu_ps(_mm512_set1_ps(1.f), m, scales + i);
    store_bytes<kSigned>(y + i, m, one(_mm512_maskz_loadu_ps(m, x + i), vs, _mm512_maskz_loadu_epi32(m, zps + i)));
  }
}

template <bool kSigned>
inline __m512 dequantize16(__m512i q, __m512i zp, __m512 scale) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, zp)), scale);
}

template <bool kSigned>
inline __m512i widen16(const void *src) {
  const __m128i b = _mm_loadu_si128(static_cast<const __m128i *>(src));
  return kSigned ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

template <class Q, bool kSigned>
void dequantize(const Q *q, float *y, std::size_t n, float scale, int32_t zp) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512i vz = _mm512_set1_epi32(zp);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, dequantize16<kSigned>(widen16<kSigned>(q + i), vz, vs));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, dequantize16<kSigned>(load_bytes<kSigned>(q + i, m), vz, vs));
  }
}

template <class Q, bool kSigned>
void dequantize_vec(const Q *q, float *y, std::size_t n, const float *scales, const int32_t *zps) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, dequantize16<kSigned>(widen16<kSigned>(q + i), _mm512_loadu_si512(zps + i),
                                                  _mm512_loadu_ps(scales + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, dequantize16<kSigned>(load_bytes<kSigned>(q + i, m),
                                                          _mm512_maskz_loadu_epi32(m, zps + i),
                                                          _mm512_maskz_loadu_ps(m, scales + i)));
  }
}

}  // namespace

const Kernels kAvx512Kernels = {
    quantize<int8_t, true>,       quantize<uint8_t, false>,
    quantize_vec<int8_t, true>,   quantize_vec<uint8_t, false>,
    dequantize<int8_t, true>,     dequantize<uint8_t, false>,
    dequantize_vec<int8_t, true>, dequantize_vec<uint8_t, false>,
};

}  // namespace q8::quant
