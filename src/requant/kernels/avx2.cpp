// AVX2 requantization: the steps of avx512.cpp (see there) on 8 int32 lanes, 32 elements per
// iteration so that two rounds of packs narrow four vectors to one 32-byte store. The last
// n % 32 elements go through the same code via a zero-padded copy on the stack.
#include <immintrin.h>

#include <climits>
#include <cstring>

#include "requant/kernels/kernels.hpp"

namespace q8::requant {
namespace {

constexpr std::size_t kLanes = 8;
constexpr std::size_t kBlock = 4 * kLanes;

struct Lanes {
  __m256i bias, mult, mult_odd, left, right, mask, half;
};

inline __m256i load8(const int32_t *p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)); }

struct Clamp {
  __m256i lo, hi, zp;
  explicit Clamp(const Epilogue &e)
      : lo(_mm256_set1_epi32(e.lo)), hi(_mm256_set1_epi32(e.hi)), zp(_mm256_set1_epi32(e.zero_point)) {}
};

// The compile-time variant of a loop (see avx512.cpp). kClamp = false: the saturating packs clamp.
template <bool kSigned_, bool kLeft_, bool kFixMin_, bool kBias_, bool kClamp_>
struct Variant {
  static constexpr bool kSigned = kSigned_, kLeft = kLeft_, kFixMin = kFixMin_, kBias = kBias_, kClamp = kClamp_;
};

template <class V>
inline __m256i requantize8(__m256i acc, const Lanes &l, const Clamp &k) {
  constexpr bool kLeft = V::kLeft, kFixMin = V::kFixMin;
  __m256i v = V::kBias ? _mm256_add_epi32(acc, l.bias) : acc;
  if (kLeft) {
    const __m256i shifted = _mm256_sllv_epi32(v, l.left);
    const __m256i kept = _mm256_cmpeq_epi32(_mm256_srav_epi32(shifted, l.left), v);
    const __m256i saturated = _mm256_xor_si256(_mm256_srai_epi32(v, 31), _mm256_set1_epi32(INT_MAX));
    v = _mm256_blendv_epi8(saturated, shifted, kept);
  }
  const __m256i nudge = _mm256_set1_epi64x(int64_t(1) << 30);
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(v, l.mult), nudge);
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), l.mult_odd), nudge);
  __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_add_epi64(odd, odd), 0xAA);  // odd << 1
  if (kFixMin) h = _mm256_xor_si256(h, _mm256_cmpeq_epi32(h, _mm256_set1_epi32(INT_MIN)));  // MIN -> MAX
  const __m256i remainder = _mm256_and_si256(h, l.mask);
  const __m256i threshold = _mm256_sub_epi32(l.half, _mm256_srai_epi32(h, 31));
  __m256i r = _mm256_srav_epi32(h, l.right);
  r = _mm256_sub_epi32(r, _mm256_cmpgt_epi32(remainder, threshold));  // + 1 where rounding up
  if (V::kClamp) return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(r, k.lo), k.hi), k.zp);
  return _mm256_add_epi32(r, k.zp);
}

// Four vectors -> 32 bytes in element order, saturated (signed: to int16, then int8; unsigned: to
// int16, then [0, 255]).
template <bool kSigned>
inline void store32(void *dst, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  const __m256i bytes = kSigned ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  // packs work per 128-bit half: dwords come out as a0 b0 c0 d0 | a1 b1 c1 d1 (4 elements each).
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(static_cast<__m256i *>(dst), _mm256_permutevar8x32_epi32(bytes, order));
}

// Parameters for the 4 vectors of a block: one lane set for per tensor, four cursors per channel.
struct TensorParams {
  Lanes l;
  explicit TensorParams(const Epilogue &e) {
    l.bias = _mm256_set1_epi32(e.bias[0]);
    l.mult = l.mult_odd = _mm256_set1_epi32(e.multiplier[0]);
    l.left = _mm256_set1_epi32(e.left[0]);
    l.right = _mm256_set1_epi32(e.right[0]);
    l.mask = _mm256_set1_epi32(e.mask[0]);
    l.half = _mm256_set1_epi32(e.half[0]);
  }
  const Lanes &next() { return l; }
};

template <bool kLeft>
struct ChannelParams {
  const Epilogue &e;
  std::size_t c;
  Lanes l;
  ChannelParams(const Epilogue &ep, std::size_t phase) : e(ep), c(phase), l() {}
  const Lanes &next() {
    // the tiles at the cursor (mask and half precomputed: loads are cheaper than deriving them)
    l.bias = load8(e.bias + c);
    l.mult = load8(e.multiplier + c);
    l.mult_odd = _mm256_srli_epi64(l.mult, 32);
    l.left = kLeft ? load8(e.left + c) : _mm256_setzero_si256();
    l.right = load8(e.right + c);
    l.mask = load8(e.mask + c);
    l.half = load8(e.half + c);
    c += kLanes;
    if (c >= e.period) c -= e.period;
    return l;
  }
};

template <class V, class Params>
inline void block(const int32_t *acc, void *dst, Params &p, const Clamp &k) {
  const __m256i a = requantize8<V>(load8(acc), p.next(), k);
  const __m256i b = requantize8<V>(load8(acc + kLanes), p.next(), k);
  const __m256i c = requantize8<V>(load8(acc + 2 * kLanes), p.next(), k);
  const __m256i d = requantize8<V>(load8(acc + 3 * kLanes), p.next(), k);
  store32<V::kSigned>(dst, a, b, c, d);
}

template <class V, class Q, class Params>
void loop(const int32_t *acc, Q *dst, std::size_t n, const Epilogue &e, Params p) {
  const Clamp k(e);
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) block<V>(acc + i, dst + i, p, k);
  if (i < n) {
    alignas(32) int32_t in[kBlock] = {};
    alignas(32) Q out[kBlock];
    std::memcpy(in, acc + i, (n - i) * sizeof(int32_t));
    block<V>(in, out, p, k);  // parameter reads stay inside the tile padding
    std::memcpy(dst + i, out, (n - i) * sizeof(Q));
  }
}

template <class V, class Q>
void run(const int32_t *acc, Q *dst, std::size_t n, const Epilogue &e, std::size_t phase) {
  if (e.channels == 1)
    loop<V>(acc, dst, n, e, TensorParams(e));
  else
    loop<V>(acc, dst, n, e, ChannelParams<V::kLeft>(e, phase));
}

// As avx512.cpp: rare parameters take the loop with every step.
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

const Kernels kAvx2Kernels = {requantize<int8_t, true>, requantize<uint8_t, false>};

}  // namespace q8::requant
