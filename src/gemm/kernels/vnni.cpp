// AVX-512 VNNI kernels and their own blocking (Kernels::run).
//
// Tiles: R rows x NP panels (32 columns each) of int32 accumulators held in zmm registers, two per
// row and panel, one vpdpbusd per zmm per group of 4 K. A's 4 bytes of a row are broadcast (u8,
// the unsigned operand of vpdpbusd), B's packed panels supply 64 signed bytes per zmm. vpdpbusd
// (not the saturating vpdpbusds) adds the four u8 x s8 products exactly and wraps the int32 sum,
// which is the modulo-2^32 arithmetic the numerics define: any blocking gives the same bits.
//
// Large M: tasks of up to kMaxMB rows x kNB columns of C (a task owns its block over all of K, so
// nothing depends on the thread count), M cut into near-equal blocks so no thin tail block streams
// B again. A 6 x 64 tile (24 accumulators, 4 B loads and 6 broadcasts per 24 vpdpbusd) runs over
// the whole of K up to kKCMax, reading A in place: measured on Zen 5 it beats 12 x 32 (12
// broadcasts per 24) by ~10 %, and K blocks of 512-1024 by 3-8 % (each block costs a pass over
// the accumulators, and the A strip plus the B slices still stream well from L2). Int32 results
// (plus the zero-point/bias terms) go straight from registers into C; other epilogues go through
// the accumulator buffer and epilogue_row.
//
// Small M (<= kSmallM rows): the packed weights are streamed once, all rows at a time, over the
// whole of K in registers, split over threads by groups of panels. A single-panel stream (7-8
// rows) gets software prefetch (~2x from DRAM); several concurrent panel streams run faster
// without it.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/runtime.hpp"
#include "gemm/epilogue_impl.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {
namespace {

constexpr int kTileRows = 6;      // large-M tile: 6 rows x 2 panels
constexpr int kTilePanels = 2;
constexpr int64_t kKCMax = 4096;  // K per block at most (A block <= kMaxMB x 4 KiB in L2)
constexpr int64_t kMaxMB = 132;   // rows per task at most (a multiple of kTileRows)
constexpr int kSmallM = 8;        // at most this many rows take the streaming path
constexpr int64_t kPrefetch = 128;  // groups of 4 K ahead (16 KiB) for a single-panel stream

inline int32_t load_u32(const uint8_t *p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Where a finished tile goes when written straight into an int32 C.
struct Out {
  int32_t *c;                // C(i0, j0)
  int64_t ldc;
  const uint32_t *colterm;   // at j0
  const int32_t *zb;         // at j0
  const uint32_t *rowsum;    // at i0; NULL when every zb is 0
  int64_t cols;              // valid columns from j0 (the rest is masked off)
};

inline __mmask16 col_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
}

// acc (+)= A[R x 4kg] . B[4kg x 32NP]: a rows lda apart, b panels pstride bytes apart. Without out
// the sums go to acc (row stride ldacc; added to it when accumulate), with out into C.
template <int R, int NP, bool PF>
void tile(int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int64_t pstride, int32_t *acc,
          int64_t ldacc, bool accumulate, const Out *out) {
  constexpr int J = 2 * NP;
  __m512i c[R][J];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j)
      c[r][j] = accumulate ? _mm512_loadu_si512(acc + r * ldacc + 16 * j) : _mm512_setzero_si512();
  for (int64_t g = 0; g < kg; ++g) {
    __m512i bv[J];
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      const int8_t *bp = b + p * pstride + g * 4 * kNR;
      bv[2 * p] = _mm512_load_si512(bp);
      bv[2 * p + 1] = _mm512_load_si512(bp + 64);
      if (PF) {
        _mm_prefetch(reinterpret_cast<const char *>(bp + kPrefetch * 4 * kNR), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char *>(bp + kPrefetch * 4 * kNR + 64), _MM_HINT_T0);
      }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512i av = _mm512_set1_epi32(load_u32(a + r * lda + 4 * g));
#pragma GCC unroll 8
      for (int j = 0; j < J; ++j) c[r][j] = _mm512_dpbusd_epi32(c[r][j], av, bv[j]);
    }
  }
  if (!out) {
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int j = 0; j < J; ++j) _mm512_storeu_si512(acc + r * ldacc + 16 * j, c[r][j]);
    return;
  }
  // t = acc + colterm[j] - zb[j] * rowsum[i], all modulo 2^32.
#pragma GCC unroll 8
  for (int j = 0; j < J; ++j) {
    const int64_t left = out->cols - 16 * j;
    if (left <= 0) break;
    const __mmask16 mk = col_mask(left);
    const __m512i ct = _mm512_maskz_loadu_epi32(mk, out->colterm + 16 * j);
    if (out->rowsum) {
      const __m512i zb = _mm512_maskz_loadu_epi32(mk, out->zb + 16 * j);
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r) {
        const __m512i rs = _mm512_set1_epi32(int32_t(out->rowsum[r]));
        const __m512i v = _mm512_sub_epi32(_mm512_add_epi32(c[r][j], ct), _mm512_mullo_epi32(zb, rs));
        _mm512_mask_storeu_epi32(out->c + r * out->ldc + 16 * j, mk, v);
      }
    } else {
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r)
        _mm512_mask_storeu_epi32(out->c + r * out->ldc + 16 * j, mk, _mm512_add_epi32(c[r][j], ct));
    }
  }
}

using TileFn = void (*)(int64_t, const uint8_t *, int64_t, const int8_t *, int64_t, int32_t *, int64_t,
                        bool, const Out *);

template <int NP, bool PF, int... Rs>
constexpr TileFn pick_rows(int rows, std::integer_sequence<int, Rs...>) {
  TileFn f = nullptr;
  ((rows == Rs + 1 ? (f = tile<Rs + 1, NP, PF>, 0) : 0), ...);
  return f;
}

// The tile for 1..12 rows x 1 panel, or 1..6 x 2, 1..4 x 3, 1..2 x 4 (all fit the 32 zmm).
template <bool PF>
TileFn tile_fn(int rows, int np) {
  switch (np) {
    case 1: return pick_rows<1, PF>(rows, std::make_integer_sequence<int, 12>{});
    case 2: return pick_rows<2, PF>(rows, std::make_integer_sequence<int, 6>{});
    case 3: return pick_rows<3, PF>(rows, std::make_integer_sequence<int, 4>{});
    default: return pick_rows<4, PF>(rows, std::make_integer_sequence<int, 2>{});
  }
}

// Panels per streaming tile for `rows` rows: as many accumulators as fit beside B.
int small_panels(int rows) {
  static constexpr int kNP[kSmallM + 1] = {0, 4, 4, 3, 3, 2, 2, 1, 1};
  return kNP[rows];
}

struct Scratch {
  std::vector<int32_t> acc;    // kMaxMB x kNB accumulators
  std::vector<uint8_t> apack;  // kMaxMB x kKCMax bytes of A
};

Scratch &scratch() {
  thread_local Scratch s;
  if (s.acc.empty()) {
    s.acc.resize(size_t(kMaxMB * kNB));
    s.apack.resize(size_t(kMaxMB * kKCMax));
  }
  return s;
}

// A's rows can be read in place: u8, not transposed, K a whole number of groups.
bool a_direct(const AView &a, int64_t k) { return !a.is_signed && !a.trans && k > 0 && k % 4 == 0; }

void run_small(const RunArgs &ra) {
  const AView &a = *ra.a;
  const Packed &b = *ra.b;
  const int rows = int(ra.m);
  const int64_t n = b.n, kg = b.kg, pstride = kg * 4 * kNR;
  std::vector<uint8_t> apack;
  const uint8_t *ap = a.a;
  int64_t lda = a.lda;
  if (!a_direct(a, b.k)) {
    lda = std::max<int64_t>(kg * 4, 4);
    apack.resize(size_t(rows * lda));
    copy_a_block(a, 0, rows, 0, b.k, apack.data(), lda);
    ap = apack.data();
  }
  const bool fuse = ra.ep.e->kind == Q8_GEMM_EPILOGUE_S32;
  const bool any_zb = !b.zb_all_zero;
  const int np = small_panels(rows);
  const TileFn full = np == 1 ? tile_fn<true>(rows, 1) : tile_fn<false>(rows, np);
  const TileFn one = tile_fn<false>(rows, 1);
  const int64_t groups = (b.panels + np - 1) / np;
  // Chunks of a few groups: enough for both threads to balance, few enough to stream long runs.
  const size_t grain = size_t(std::max<int64_t>(1, groups / 16));
  parallel_for(size_t(groups), grain, ra.small ? SIZE_MAX : 2, [&](size_t g0, size_t g1) {
    alignas(64) int32_t buf[kSmallM * 4 * kNR];
    for (size_t gi = g0; gi < g1; ++gi) {
      const int64_t p0 = int64_t(gi) * np, pn = std::min<int64_t>(np, b.panels - p0);
      for (int64_t p = p0; p < p0 + pn; p += (pn == np ? np : 1)) {
        const int64_t w = pn == np ? np : 1, j0 = p * kNR, cols = std::min<int64_t>(w * kNR, n - j0);
        const TileFn f = pn == np ? full : one;
        const int8_t *bp = b.data + p * pstride;
        if (fuse) {
          const Out out{static_cast<int32_t *>(ra.c) + j0, ra.ldc, ra.ep.colterm + j0, ra.ep.zb + j0,
                        any_zb ? ra.rowsum : nullptr, cols};
          f(kg, ap, lda, bp, pstride, buf, 4 * kNR, false, &out);
        } else {
          f(kg, ap, lda, bp, pstride, buf, 4 * kNR, false, nullptr);
          for (int r = 0; r < rows; ++r)
            epilogue_row_impl(ra.ep, buf + r * 4 * kNR, cols, j0, ra.rowsum[r],
                              static_cast<unsigned char *>(ra.c) + (size_t(r) * size_t(ra.ldc) + size_t(j0)) * ra.out_size);
        }
      }
    }
  });
}

void run_large(const RunArgs &ra) {
  const AView &a = *ra.a;
  const Packed &b = *ra.b;
  const int64_t m = ra.m, n = b.n, k = b.k, pstride = b.kg * 4 * kNR;
  const bool fuse = ra.ep.e->kind == Q8_GEMM_EPILOGUE_S32;
  const bool any_zb = !b.zb_all_zero, direct = a_direct(a, k);
  // Near-equal K blocks (a tail of a few groups would cost a pass over the accumulators) and
  // near-equal M blocks, whole tiles each.
  const int64_t nkb = std::max<int64_t>(1, (k + kKCMax - 1) / kKCMax);
  const int64_t kcb = std::max<int64_t>(4, ((k + nkb - 1) / nkb + 3) / 4 * 4);  // 4: one pass at K = 0
  const int64_t mblocks = (m + kMaxMB - 1) / kMaxMB;
  const int64_t mb = ((m + mblocks - 1) / mblocks + kTileRows - 1) / kTileRows * kTileRows;
  const int64_t nblocks = (n + kNB - 1) / kNB;
  parallel_for(size_t(mblocks * nblocks), 1, ra.small ? SIZE_MAX : 2, [&](size_t t0, size_t t1) {
    Scratch &s = scratch();
    for (size_t t = t0; t < t1; ++t) {
      const int64_t m0 = int64_t(t) / nblocks * mb, n0 = int64_t(t) % nblocks * kNB;
      const int64_t rows = std::min(mb, m - m0), cols = std::min(kNB, n - n0);
      const int64_t panels = (cols + kNR - 1) / kNR, ldacc = panels * kNR;
      int32_t *acc = s.acc.data();
      for (int64_t k0 = 0; k0 == 0 || k0 < k; k0 += kcb) {
        const int64_t kc = std::min(kcb, k - k0), kgc = (kc + 3) / 4;
        const bool to_c = fuse && k0 + kcb >= k;
        // u8 rows with whole groups are read in place (copying them measured slower); s8,
        // transposed A and a K tail are copied as u8, zero-padded.
        const uint8_t *ap = a.a + m0 * a.lda + k0;
        int64_t ldap = a.lda;
        if (!direct) {
          ldap = kgc * 4;
          copy_a_block(a, m0, rows, k0, kc, s.apack.data(), ldap);
          ap = s.apack.data();
        }
        for (int64_t p = 0; p < panels; p += kTilePanels) {
          const int np = int(std::min<int64_t>(kTilePanels, panels - p));
          const int64_t j0 = n0 + p * kNR;
          const int8_t *bp = b.data + (j0 / kNR * b.kg + k0 / 4) * 4 * kNR;
          for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
            const TileFn f = tile_fn<false>(int(std::min<int64_t>(kTileRows, rows - r0)), np);
            int32_t *tacc = acc + r0 * ldacc + p * kNR;
            if (to_c) {
              const Out out{static_cast<int32_t *>(ra.c) + (m0 + r0) * ra.ldc + j0, ra.ldc,
                            ra.ep.colterm + j0, ra.ep.zb + j0, any_zb ? ra.rowsum + m0 + r0 : nullptr,
                            std::min<int64_t>(np * kNR, n - j0)};
              f(kgc, ap + r0 * ldap, ldap, bp, pstride, tacc, ldacc, k0 > 0, &out);
            } else {
              f(kgc, ap + r0 * ldap, ldap, bp, pstride, tacc, ldacc, k0 > 0, nullptr);
            }
          }
        }
      }
      if (!fuse)
        for (int64_t r = 0; r < rows; ++r)
          epilogue_row_impl(ra.ep, acc + r * ldacc, cols, n0, ra.rowsum[size_t(m0 + r)],
                            static_cast<unsigned char *>(ra.c) + (size_t(m0 + r) * size_t(ra.ldc) + size_t(n0)) * ra.out_size);
    }
  });
}

void run_vnni(const RunArgs &ra) {
  if (ra.m <= kSmallM && ra.b->k > 0)
    run_small(ra);
  else
    run_large(ra);
}

// The generic driver's micro-kernel contract (gemm.hpp), kept for callers of Kernels::micro.
void micro_vnni(int rows, int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
                int64_t ldacc, bool accumulate) {
  tile_fn<false>(rows, 1)(kg, a, lda, b, 0, acc, ldacc, accumulate, nullptr);
}

}  // namespace

static_assert(kMR == 12 && kNR == 32, "the tiles are written for 32-column panels, 12 rows at most");
static_assert(kMaxMB % kTileRows == 0 && kKCMax % 4 == 0 && kNB % (kTilePanels * kNR) == 0,
              "blocks hold whole tiles and groups");

const Kernels kVnniKernels = {micro_vnni, epilogue_row_impl, run_vnni};

}  // namespace q8::gemm
