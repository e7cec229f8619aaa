// A's per-call copies for the lanes-over-m kernels and the transposed hand-off (common.hpp).
#include "sparse/kernels/common.hpp"

#include <algorithm>
#include <memory>

namespace q8::sparse::kernels {

uint8_t *scratch(int slot, size_t bytes) {
  struct Slot {
    std::unique_ptr<uint8_t[]> p;
    size_t cap = 0;
  };
  thread_local Slot slots[kSlots];
  Slot &s = slots[slot];
  const size_t need = bytes + 64 + 128;  // the bytes before, alignment, the bytes after
  if (s.cap < need) {
    s.p.reset(new uint8_t[need]());
    s.cap = need;
  }
  uint8_t *base = s.p.get() + 64;
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
  return base;
}

namespace {

// Transposes 16 x 16 dwords in registers: on return r[k] holds input column kCol[k] (the order
// the stages leave them in), lane i from input row i.
constexpr int kCol[16] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15};
// GCC 12's unpack/shuffle intrinsics pass _mm512_undefined_epi32() (a self-initialised variable)
// as their unused merge source, which -Wuninitialized reports once inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
void transpose16(__m512i *r) {
  __m512i t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 2) {  // 2 x 2 blocks of dwords
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 4)  // 4 x 4 within 128-bit lanes
#pragma GCC unroll 2
    for (int j = 0; j < 2; ++j) {
      r[i + j] = _mm512_unpacklo_epi64(t[i + j], t[i + j + 2]);
      r[i + j + 2] = _mm512_unpackhi_epi64(t[i + j], t[i + j + 2]);
    }
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 8)  // lanes across pairs of 4-row groups
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0xDD);
    }
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {  // and across the two 8-row halves
    r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xDD);
  }
}
#pragma GCC diagnostic pop

}  // namespace

void pack_a_groups(const gemm::AView &a, int64_t m0, int64_t rows, int64_t cols, int mp, uint8_t *dst) {
  const uint32_t flip = a.is_signed ? 0x80808080u : 0u;  // s8 -> u8 view: a + 128 is a ^ 0x80
  const int64_t kg = (cols + 3) / 4, stride = 4 * int64_t(mp);
  const __m512i vflip = _mm512_set1_epi32(int32_t(flip));
  // 16 rows x 16 groups (64 columns) at a time: a dword transpose puts each group's 16 rows
  // together; rows past `rows` are zero.
  int64_t g0 = 0;
  for (; (g0 + 16) * 4 <= cols; g0 += 16)
    for (int i0 = 0; i0 < mp; i0 += 16) {
      __m512i r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i0 + i < rows ? _mm512_xor_si512(_mm512_loadu_si512(a.a + (m0 + i0 + i) * a.lda + 4 * g0), vflip)
                             : _mm512_setzero_si512();
      transpose16(r);
      const __mmask16 k = mp >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << mp) - 1);  // 4- and 8-row layouts
      for (int c = 0; c < 16; ++c) _mm512_mask_storeu_epi32(dst + (g0 + kCol[c]) * stride + 4 * i0, k, r[c]);
    }
  for (int64_t i = 0; i < mp; ++i) {  // the last < 16 groups, the last one maybe partial
    uint8_t *d = dst + 4 * i;
    const uint8_t *src = i < rows ? a.a + (m0 + i) * a.lda : nullptr;
    for (int64_t g = g0; g < kg; ++g) {
      uint8_t v[4] = {0, 0, 0, 0};
      for (int64_t q = 0; q < 4 && src && 4 * g + q < cols; ++q) v[q] = src[4 * g + q] ^ uint8_t(flip);
      std::memcpy(d + g * stride, v, 4);
    }
  }
}

void pack_a_kmajor(const gemm::AView &a, int64_t m0, int64_t rows, int64_t cols, int mp, uint8_t *dst) {
  // Groups first (dword copies), then one byte permutation per group turns [16 rows][4 k] into
  // [4 k][16 rows].
  const int64_t kg = (cols + 3) / 4;
  uint8_t *groups = scratch(kSlotGroups, size_t(kg * mp * 4));
  pack_a_groups(a, m0, rows, cols, mp, groups);
  alignas(64) uint8_t ia[64], ib[64];
  for (int q = 0; q < 4; ++q)
    for (int i = 0; i < 16; ++i) ia[16 * q + i] = uint8_t(4 * i + q);
  if (mp == 16) {
    const __m512i idx = _mm512_load_si512(ia);
    for (int64_t g = 0; g < kg; ++g)
      _mm512_storeu_si512(dst + 64 * g, _mm512_permutexvar_epi8(idx, _mm512_load_si512(groups + 64 * g)));
  } else {
    // A group is 128 bytes (two tables); k rows 4g, 4g + 1 come out of one, 4g + 2, 4g + 3 the other.
    for (int q = 0; q < 2; ++q)
      for (int i = 0; i < 32; ++i) {
        ia[32 * q + i] = uint8_t(4 * i + q);
        ib[32 * q + i] = uint8_t(4 * i + q + 2);
      }
    const __m512i i01 = _mm512_load_si512(ia), i23 = _mm512_load_si512(ib);
    for (int64_t g = 0; g < kg; ++g) {
      const __m512i lo = _mm512_load_si512(groups + 128 * g), hi = _mm512_load_si512(groups + 128 * g + 64);
      _mm512_storeu_si512(dst + 128 * g, _mm512_permutex2var_epi8(lo, i01, hi));
      _mm512_storeu_si512(dst + 128 * g + 64, _mm512_permutex2var_epi8(lo, i23, hi));
    }
  }
  std::memset(dst + 4 * kg * mp, 0, size_t(4 * mp));  // the zero row when cols % 4 == 0
}

void finish_transposed(const GemmArgs &g, const int32_t *t, int mp, int64_t m0, int64_t rows, int64_t j0,
                       int64_t n) {
  const int64_t ldo = (n + 15) / 16 * 16;
  int32_t *out = scratch_as<int32_t>(kSlotOut, size_t(mp * ldo));
  int64_t jj = 0;
  for (; jj + 16 <= n; jj += 16)
    for (int i0 = 0; i0 < mp; i0 += 16) {
      __m512i r[16];
      for (int k = 0; k < 16; ++k) r[k] = _mm512_loadu_si512(t + (jj + k) * mp + i0);
      transpose16(r);
      for (int k = 0; k < 16; ++k) _mm512_storeu_si512(out + (i0 + kCol[k]) * ldo + jj, r[k]);
    }
  for (; jj < n; ++jj)
    for (int64_t i = 0; i < rows; ++i) out[i * ldo + jj] = t[jj * mp + i];
  finish_rows(g, out, ldo, m0, rows, j0, n);
}

}  // namespace q8::sparse::kernels
