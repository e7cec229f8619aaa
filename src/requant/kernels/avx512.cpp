// AVX-512 (F/BW/DQ/VL) requantization: 16 int32 lanes per step, masked tails, no scalar remainder.
// Each step is requantize_one() of primitives.hpp lane by lane:
//  - bias: a wrapping vpaddd;
//  - saturating left shift: shift, shift back, and where bits were lost take INT32_MAX/MIN by sign;
//  - SaturatingRoundingDoublingHighMul: vpmuldq on even and (shifted down) odd lanes gives exact
//    64-bit products p; floor((p + 2^30) / 2^31) is bits 31..62 of p + 2^30, taken with a 64-bit
//    right shift by 31 for even lanes and a doubling (q + q, on an adder rather than the busier
//    shift unit) for odd ones, so that they land in the high half, then blended. Only
//    INT32_MIN * INT32_MIN wraps, to INT32_MIN, which no other product gives: that lane becomes
//    INT32_MAX;
//  - RoundingDivideByPOT: gemmlowp's mask and threshold, with variable shifts;
//  - clamp(r + zp, qmin, qmax) as clamp(r, qmin - zp, qmax - zp) + zp: equal, and cannot overflow;
//    or, when [qmin, qmax] is the whole type and every right shift >= 1 (|r| <= 2^30), the
//    saturating narrowing alone.
// The loop is picked by the parameters (Variant): bias or not, the clamp or the narrowing, and a
// general loop with every step for left shifts and INT32_MIN multipliers.
// GCC 12 flags the deliberately undefined source operand inside its own avx512fintrin.h
// (_mm512_undefined_epi32, behind srli/sllv/max) as -Wuninitialized, a false positive in a system
// header; silenced for the header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <climits>

#include "requant/kernels/kernels.hpp"

namespace q8::requant {
namespace {

constexpr std::size_t kLanes = 16;

inline __mmask16 tail_mask(std::size_t left) {
  return left >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
}

// One vector of per-lane parameters, in the forms the steps use.
struct Lanes {
  __m512i bias, mult, mult_odd, left, right, mask, half;
};

// Per tensor: the single values broadcast (the odd lanes' multiplier is the same broadcast).
inline Lanes tensor_lanes(const Epilogue &e) {
  Lanes l;
  l.bias = _mm512_set1_epi32(e.bias[0]);
  l.mult = l.mult_odd = _mm512_set1_epi32(e.multiplier[0]);
  l.left = _mm512_set1_epi32(e.left[0]);
  l.right = _mm512_set1_epi32(e.right[0]);
  l.mask = _mm512_set1_epi32(e.mask[0]);
  l.half = _mm512_set1_epi32(e.half[0]);
  return l;
}

// Per channel: vectors of the tiles at the cursor (mask and half precomputed: loads are cheaper
// here than the shifts that would derive them). mult_odd brings the odd lanes' multipliers down to
// the low halves of the 64-bit lanes, where vpmuldq reads them.
template <bool kLeft>
inline Lanes channel_lanes(const Epilogue &e, std::size_t c) {
  Lanes l;
  l.bias = _mm512_loadu_si512(e.bias + c);
  l.mult = _mm512_loadu_si512(e.multiplier + c);
  l.mult_odd = _mm512_srli_epi64(l.mult, 32);
  l.left = kLeft ? _mm512_loadu_si512(e.left + c) : _mm512_setzero_si512();
  l.right = _mm512_loadu_si512(e.right + c);
  l.mask = _mm512_loadu_si512(e.mask + c);
  l.half = _mm512_loadu_si512(e.half + c);
  return l;
}

struct Clamp {
  __m512i lo, hi, zp;
  explicit Clamp(const Epilogue &e)
      : lo(_mm512_set1_epi32(e.lo)), hi(_mm512_set1_epi32(e.hi)), zp(_mm512_set1_epi32(e.zero_point)) {}
};

// The compile-time variant of a loop: which steps the parameters need (see Epilogue's flags).
// kClamp = false: the saturating narrowing clamps (s8 needs nothing more, u8 a max with 0).
template <bool kSigned_, bool kLeft_, bool kFixMin_, bool kBias_, bool kClamp_>
struct Variant {
  static constexpr bool kSigned = kSigned_, kLeft = kLeft_, kFixMin = kFixMin_, kBias = kBias_, kClamp = kClamp_;
};

template <class V>
inline __m512i requantize16(__m512i acc, const Lanes &l, const Clamp &k) {
  constexpr bool kLeft = V::kLeft, kFixMin = V::kFixMin;
  __m512i v = V::kBias ? _mm512_add_epi32(acc, l.bias) : acc;
  if (kLeft) {
    const __m512i shifted = _mm512_sllv_epi32(v, l.left);
    const __mmask16 lost = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(shifted, l.left), v);
    const __m512i saturated = _mm512_xor_si512(_mm512_srai_epi32(v, 31), _mm512_set1_epi32(INT_MAX));
    v = _mm512_mask_mov_epi32(shifted, lost, saturated);
  }
  const __m512i nudge = _mm512_set1_epi64(int64_t(1) << 30);
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(v, l.mult), nudge);
  const __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), l.mult_odd), nudge);
  __m512i h = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 31), _mm512_add_epi64(odd, odd));
  if (kFixMin)
    h = _mm512_mask_mov_epi32(h, _mm512_cmpeq_epi32_mask(h, _mm512_set1_epi32(INT_MIN)), _mm512_set1_epi32(INT_MAX));
  const __m512i remainder = _mm512_and_si512(h, l.mask);
  const __m512i threshold = _mm512_sub_epi32(l.half, _mm512_srai_epi32(h, 31));  // half + (h < 0)
  __m512i r = _mm512_srav_epi32(h, l.right);
  r = _mm512_mask_sub_epi32(r, _mm512_cmpgt_epi32_mask(remainder, threshold), r, _mm512_set1_epi32(-1));
  if (V::kClamp) return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, k.lo), k.hi), k.zp);
  r = _mm512_add_epi32(r, k.zp);
  return V::kSigned ? r : _mm512_max_epi32(r, _mm512_setzero_si512());
}

template <bool kSigned>
inline void store16(void *dst, __m512i v) {
  // saturating narrowing: signed, or unsigned of values >= 0
  const __m128i b = kSigned ? _mm512_cvtsepi32_epi8(v) : _mm512_cvtusepi32_epi8(v);
  _mm_storeu_si128(static_cast<__m128i *>(dst), b);
}

template <bool kSigned>
inline void store16_masked(void *dst, __mmask16 m, __m512i v) {
  if (kSigned)
    _mm512_mask_cvtsepi32_storeu_epi8(dst, m, v);
  else
    _mm512_mask_cvtusepi32_storeu_epi8(dst, m, v);
}

template <class V, class Q>
void per_tensor(const int32_t *acc, Q *dst, std::size_t n, const Epilogue &e) {
  const Lanes l = tensor_lanes(e);
  const Clamp k(e);
  std::size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes)
    for (std::size_t u = 0; u < 4; ++u)
      store16<V::kSigned>(dst + i + u * kLanes, requantize16<V>(_mm512_loadu_si512(acc + i + u * kLanes), l, k));
  for (; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    store16_masked<V::kSigned>(dst + i, m, requantize16<V>(_mm512_maskz_loadu_epi32(m, acc + i), l, k));
  }
}

template <class V, class Q>
void per_channel(const int32_t *acc, Q *dst, std::size_t n, const Epilogue &e, std::size_t phase) {
  const Clamp k(e);
  const std::size_t period = e.period;
  std::size_t c = phase, i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    store16<V::kSigned>(dst + i, requantize16<V>(_mm512_loadu_si512(acc + i), channel_lanes<V::kLeft>(e, c), k));
    c += kLanes;
    if (c >= period) c -= period;
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);  // parameters: full loads, inside the tile padding
    store16_masked<V::kSigned>(dst + i, m,
                               requantize16<V>(_mm512_maskz_loadu_epi32(m, acc + i), channel_lanes<V::kLeft>(e, c), k));
  }
}

template <class V, class Q>
void run(const int32_t *acc, Q *dst, std::size_t n, const Epilogue &e, std::size_t phase) {
  if (e.channels == 1)
    per_tensor<V>(acc, dst, n, e);
  else
    per_channel<V>(acc, dst, n, e, phase);
}

// Rare parameters (a left shift, an INT32_MIN multiplier) take the loop with every step; the usual
// ones a loop without them, with or without the bias and the clamp.
template <class Q, bool kSigned>
void requantize(const int32_t *acc, Q *dst, std::size_t n, const Epilogue &e, std::size_t phase) {
  if (e.any_left_shift || e.any_min_multiplier)
    run<Variant<kSigned, true, true, true, true>>(acc, dst, n, e, phase);
  else if (e.any_bias)
    e.narrowing_clamps ? run<Variant<kSigned, false, false, true, false>>(acc, dst, n, e, phase)
                       : run<Variant<kSigned, false, false, true, true>>(acc, dst, n, e, phase);
  else
    e.narrowing_clamps ? run<Variant<kSigned, false, false, false, false>>(acc, dst, n, e, phase)
                       : run<Variant<kSigned, false, false, false, true>>(acc, dst, n, e, phase);
}

}  // namespace

const Kernels kAvx512Kernels = {requantize<int8_t, true>, requantize<uint8_t, false>};

}  // namespace q8::requant
