// AVX2 micro-kernel (the Q8_ISA_AVX2 and Q8_ISA_AVX512 paths, which have no VNNI), reading the
// same packed-B layout as the VNNI kernel (gemm.hpp), so one handle serves every ISA.
//
// Exactness: vpmaddubsw (u8 x s8 -> int16 pair sums) is NOT used. With full-range inputs a pair
// sum reaches 2 * 255 * 127 = 64770 or 2 * 255 * -128 = -65280, outside int16, and vpmaddubsw
// saturates it (TOOLCHAIN.md §9). Instead both operands are widened to int16 first (A zero-
// extended, B sign-extended) and multiplied with vpmaddwd, which adds each pair of int16 x int16
// products into an int32: |a0*b0 + a1*b1| <= 2 * 255 * 128 = 65280, far inside int32, and the one
// case vpmaddwd cannot represent (two -32768 * -32768 products) never arises (A >= 0). Those exact
// pair sums are accumulated with vpaddd and finally combined with vphaddd, both of which wrap
// modulo 2^32 -- the arithmetic the numerics define, in which the order of additions is
// irrelevant, so the result is bit-identical to the scalar kernel.
//
// Data flow of one call (rows <= kMR, one 32-column panel): the rows of A are first widened once
// into an int16 scratch (each group of 4 K becomes 8 bytes, later fetched with one vpbroadcastq
// from memory). The panel is then walked in tiles of up to 6 rows x 8 columns: per group of 4 K,
// the tile's 32 bytes of B are sign-extended into two ymm (columns 0-3 and 4-7, each column's 4
// K values adjacent), and per row one vpmaddwd per ymm yields, for each column, two int32 partial
// sums (K pairs 0-1 and 2-3). 12 accumulators + 2 B + 1 A = 15 of the 16 ymm registers. At the
// end vphaddd adds the two partials of every column and vpermq restores column order.
#include <immintrin.h>

#include <cstring>

#include "gemm/epilogue_impl.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {
namespace {

constexpr int64_t kChunkG = 128;         // groups of 4 K widened at a time (kKC / 4)
constexpr int64_t kAwStride = kChunkG * 4;  // int16 elements per widened row
constexpr int kTR = 6;                   // rows per register tile
constexpr int kTC = 8;                   // columns per register tile

inline int64_t load_i64(const int16_t *p) {
  int64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Rows r < R of the widened A (stride kAwStride) times 8 columns of the panel (b points at column
// 0 of the tile in group 0; groups are 4 * kNR bytes apart) into acc (row stride ldacc).
template <int R>
void tile(int64_t kg, const int16_t *aw, const int8_t *b, int32_t *acc, int64_t ldacc,
          bool accumulate) {
  __m256i c0[R], c1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    c0[r] = _mm256_setzero_si256();
    c1[r] = _mm256_setzero_si256();
  }
  for (int64_t g = 0; g < kg; ++g) {
    const int8_t *bg = b + g * 4 * kNR;
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(bg)));
    const __m256i b1 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(bg + 16)));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256i av = _mm256_set1_epi64x(load_i64(aw + r * kAwStride + 4 * g));
      c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(av, b0));
      c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(av, b1));
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    // hadd: [c0 c1 c4 c5 | c2 c3 c6 c7]; vpermq (0, 2, 1, 3) puts the columns in order.
    __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(c0[r], c1[r]), 0xD8);
    int32_t *dst = acc + r * ldacc;
    if (accumulate)
      s = _mm256_add_epi32(s, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(dst)));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst), s);
  }
}

void tile_rows(int rows, int64_t kg, const int16_t *aw, const int8_t *b, int32_t *acc,
               int64_t ldacc, bool accumulate) {
  switch (rows) {
    case 1: return tile<1>(kg, aw, b, acc, ldacc, accumulate);
    case 2: return tile<2>(kg, aw, b, acc, ldacc, accumulate);
    case 3: return tile<3>(kg, aw, b, acc, ldacc, accumulate);
    case 4: return tile<4>(kg, aw, b, acc, ldacc, accumulate);
    case 5: return tile<5>(kg, aw, b, acc, ldacc, accumulate);
    default: return tile<6>(kg, aw, b, acc, ldacc, accumulate);
  }
}

void micro_avx2(int rows, int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
                int64_t ldacc, bool accumulate) {
  alignas(32) int16_t aw[kMR * kAwStride];
  for (int64_t g0 = 0; g0 == 0 || g0 < kg; g0 += kChunkG) {  // once when kg = 0: zeros
    const int64_t gc = kg - g0 < kChunkG ? kg - g0 : kChunkG, len = gc * 4;
    // Widen this chunk of every row: u8 -> int16, zero-extended.
    for (int r = 0; r < rows; ++r) {
      const uint8_t *src = a + r * lda + g0 * 4;
      int16_t *dst = aw + r * kAwStride;
      int64_t q = 0;
      for (; q + 16 <= len; q += 16)
        _mm256_store_si256(reinterpret_cast<__m256i *>(dst + q),
                           _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + q))));
      for (; q < len; ++q) dst[q] = int16_t(src[q]);
    }
    const bool acc_in = accumulate || g0 > 0;
    const int8_t *bc = b + g0 * 4 * kNR;
    for (int r0 = 0; r0 < rows; r0 += kTR)
      for (int c0 = 0; c0 < kNR; c0 += kTC)
        tile_rows(rows - r0 < kTR ? rows - r0 : kTR, gc, aw + r0 * kAwStride, bc + c0 * 4,
                  acc + r0 * ldacc + c0, ldacc, acc_in);
  }
}

}  // namespace

static_assert(kNR % kTC == 0, "micro_avx2 walks a panel in tiles of 8 columns");

// Declared here (and in driver.cpp, which dispatches to it) so that the const has external linkage.
extern const Kernels kAvx2Kernels;
const Kernels kAvx2Kernels = {micro_avx2, epilogue_row_impl, nullptr};

}  // namespace q8::gemm
