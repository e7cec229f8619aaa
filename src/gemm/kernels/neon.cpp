// NEON micro-kernel for aarch64 (the Q8_ISA_NEON path), reading the same packed-B layout as the
// x86 kernels (gemm.hpp: 32-column panels, per group of 4 K each column's 4 bytes adjacent), so a
// handle is valid on every ISA. Two bodies, chosen at compile time; both are exact, and both sum
// modulo 2^32 like the scalar kernel, where the order of additions does not matter:
//
//  * With the dot-product extension (__ARM_FEATURE_DOTPROD, e.g. -march=armv8.2-a+dotprod):
//    SDOT multiplies s8 x s8 only, and A is u8. A's bytes are therefore shifted to s8 by
//    a' = a - 128 (a ^ 0x80) and the shift is undone per column:
//        sum_k a*b = sum_k a'*b + 128 * sum_k b.
//    One 16-byte register of a packed group holds 4 columns x 4 K, so `sdot acc, b, a'` with a'
//    the row's 4 bytes broadcast gives each column's 4-term sum exactly (|.| <= 4 * 128 * 128);
//    sum_k b per column comes from a second SDOT against a vector of ones, shifted left by 7.
//    Tiles of up to 6 rows x 16 columns: 24 accumulators + 4 B + 1 A registers of 32.
//
//  * Without it (plain armv8-a Advanced SIMD): widen both operands to int16 (A zero-extended, B
//    sign-extended) and multiply-accumulate into int32 with SMLAL by lane, whose products
//    (|a*b| <= 255 * 128) and sums are exact modulo 2^32. LD4 de-interleaves a group of 16
//    columns into 4 registers, one per K, so every lane is one column. Tiles of up to 4 rows x 16
//    columns: 16 accumulators + 8 widened B + 4 A registers.
#include <arm_neon.h>

#include <cstring>

#include "gemm/epilogue_impl.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {
namespace {

constexpr int kTC = 16;  // columns per register tile

inline uint32_t load_u32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Stores 16 int32 columns of one row: acc (+)= v[0..3].
inline void store_row(int32_t *dst, const int32x4_t v[4], bool accumulate) {
  for (int c = 0; c < 4; ++c) {
    int32x4_t s = v[c];
    if (accumulate) s = vaddq_s32(s, vld1q_s32(dst + 4 * c));
    vst1q_s32(dst + 4 * c, s);
  }
}

#if defined(__ARM_FEATURE_DOTPROD)
constexpr int kTR = 6;  // rows per register tile

// b points at column 0 of the tile in group 0 (groups are 4 * kNR bytes apart).
template <int R>
void tile(int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc, int64_t ldacc,
          bool accumulate) {
  // 128 * sum_k b per column: the correction for the a -> a - 128 shift.
  int32x4_t corr[4];
  {
    const int8x16_t ones = vdupq_n_s8(1);
    for (int c = 0; c < 4; ++c) corr[c] = vdupq_n_s32(0);
    for (int64_t g = 0; g < kg; ++g)
      for (int c = 0; c < 4; ++c) corr[c] = vdotq_s32(corr[c], vld1q_s8(b + g * 4 * kNR + 16 * c), ones);
    for (int c = 0; c < 4; ++c) corr[c] = vshlq_n_s32(corr[c], 7);  // wraps like the sums
  }
  int32x4_t s[R][4];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) s[r][c] = corr[c];
  for (int64_t g = 0; g < kg; ++g) {
    const int8_t *bg = b + g * 4 * kNR;
    const int8x16_t b0 = vld1q_s8(bg), b1 = vld1q_s8(bg + 16), b2 = vld1q_s8(bg + 32),
                    b3 = vld1q_s8(bg + 48);
    for (int r = 0; r < R; ++r) {
      const int8x16_t av =
          vreinterpretq_s8_u32(vdupq_n_u32(load_u32(a + r * lda + 4 * g) ^ 0x80808080u));
      s[r][0] = vdotq_s32(s[r][0], b0, av);
      s[r][1] = vdotq_s32(s[r][1], b1, av);
      s[r][2] = vdotq_s32(s[r][2], b2, av);
      s[r][3] = vdotq_s32(s[r][3], b3, av);
    }
  }
  for (int r = 0; r < R; ++r) store_row(acc + r * ldacc, s[r], accumulate);
}

#else
constexpr int kTR = 4;  // rows per register tile

template <int R>
void tile(int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc, int64_t ldacc,
          bool accumulate) {
  int32x4_t s[R][4];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) s[r][c] = vdupq_n_s32(0);
  for (int64_t g = 0; g < kg; ++g) {
    // val[q] = K row 4g + q of columns 0..15, widened to int16 (columns 0-7 and 8-15).
    const int8x16x4_t bq = vld4q_s8(b + g * 4 * kNR);
    int16x8_t lo[4], hi[4];
    for (int q = 0; q < 4; ++q) {
      lo[q] = vmovl_s8(vget_low_s8(bq.val[q]));
      hi[q] = vmovl_high_s8(bq.val[q]);
    }
    for (int r = 0; r < R; ++r) {
      const int16x4_t av = vget_low_s16(vreinterpretq_s16_u16(
          vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(load_u32(a + r * lda + 4 * g))))));
#define Q8_NEON_MLAL(q)                                          \
  s[r][0] = vmlal_lane_s16(s[r][0], vget_low_s16(lo[q]), av, q); \
  s[r][1] = vmlal_high_lane_s16(s[r][1], lo[q], av, q);          \
  s[r][2] = vmlal_lane_s16(s[r][2], vget_low_s16(hi[q]), av, q); \
  s[r][3] = vmlal_high_lane_s16(s[r][3], hi[q], av, q);
      Q8_NEON_MLAL(0)
      Q8_NEON_MLAL(1)
      Q8_NEON_MLAL(2)
      Q8_NEON_MLAL(3)
#undef Q8_NEON_MLAL
    }
  }
  for (int r = 0; r < R; ++r) store_row(acc + r * ldacc, s[r], accumulate);
}
#endif

void tile_rows(int rows, int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
               int64_t ldacc, bool accumulate) {
  switch (rows) {
    case 1: return tile<1>(kg, a, lda, b, acc, ldacc, accumulate);
    case 2: return tile<2>(kg, a, lda, b, acc, ldacc, accumulate);
    case 3: return tile<3>(kg, a, lda, b, acc, ldacc, accumulate);
#if defined(__ARM_FEATURE_DOTPROD)
    case 4: return tile<4>(kg, a, lda, b, acc, ldacc, accumulate);
    case 5: return tile<5>(kg, a, lda, b, acc, ldacc, accumulate);
#endif
    default: return tile<kTR>(kg, a, lda, b, acc, ldacc, accumulate);
  }
}

void micro_neon(int rows, int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
                int64_t ldacc, bool accumulate) {
  for (int r0 = 0; r0 < rows; r0 += kTR)
    for (int c0 = 0; c0 < kNR; c0 += kTC)
      tile_rows(rows - r0 < kTR ? rows - r0 : kTR, kg, a + r0 * lda, lda, b + c0 * 4,
                acc + r0 * ldacc + c0, ldacc, accumulate);
}

}  // namespace

static_assert(kNR % kTC == 0, "micro_neon walks a panel in tiles of 16 columns");

// Declared here (and in driver.cpp, which dispatches to it) so that the const has external linkage.
extern const Kernels kNeonKernels;
const Kernels kNeonKernels = {micro_neon, epilogue_row_impl, nullptr};

}  // namespace q8::gemm
