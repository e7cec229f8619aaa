// 2_4 and BITMAP x AVX-512 VNNI, lanes over n. Both formats store W in panels of 16 rows x groups
// of 4 columns, the dense kernel's register layout: vpexpandb (VBMI2) with the group's 64-bit
// occupancy mask spreads its packed nonzeros into the 64-byte register [16 rows][4 k] (zeros
// elsewhere), and the dense small-M inner loop follows: A's 4 bytes of each row broadcast, one
// vpdpbusd per row of A and panel. BITMAP's mask is stored; 2_4's is built from the 2-bit
// positions, 8 groups at a time with a 16-entry vpshufb table (nibble i0 | i1 << 2 -> bits i0, i1).
//
// This does the dense kernel's vpdpbusd count plus one expand per group and panel (the cost of
// two vpdpbusd on Zen 5) and reads only the stored bytes. Measured per group and panel at M = 1:
// ~2.3 cycles whatever the density (mask, popcount, expand and loads bound it), against ~2.25 for
// the dense kernel streaming from L3 and ~5 from DRAM: it wins where the dense GEMM waits for its
// weights (cold weights and M <= 4, by 1.2-1.4x at 50-90 % sparsity) and is within ~10 % of dense
// elsewhere, at any M (the expand is shared by all rows of A).
#include <algorithm>
#include <utility>

#include "core/runtime.hpp"
#include "sparse/kernels/common.hpp"

namespace q8::sparse {
namespace {

using kernels::load_u32;

constexpr int kMaxRows = 8;  // rows of A per pass (accumulators: rows x panels <= 18)
constexpr int64_t kPrefetchValues = 2048;  // bytes ahead in a panel's values
constexpr int64_t kPrefetchGroups = 64;    // groups ahead in a panel's masks

// Panels per pass for `rows` rows of A: as many accumulators as fit beside the expanded weights.
constexpr int panels_for(int rows) {
  return rows <= 4 ? 4 : rows <= 6 ? 3 : 2;
}

// Where panel p's weights are: its occupancy masks (one per group) and packed values.
struct PanelSrc {
  const uint64_t *mask;
  const int8_t *values;
};

// R rows of A x NP panels over all groups; FIXED: 2_4 (32 values per group, stored at a fixed
// stride) rather than BITMAP (popcount of the mask). buf[r * NP * 16 + 16 p + j] = C(r, panel p, j).
template <int R, int NP, bool FIXED>
void tile(int64_t groups, const uint8_t *a, int64_t lda, const PanelSrc *src, int32_t *buf) {
  __m512i acc[R][NP];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_setzero_si512();
  const int8_t *v[NP];
#pragma GCC unroll 16
  for (int p = 0; p < NP; ++p) v[p] = src[p].values;
  for (int64_t g = 0; g < groups; ++g) {
    __m512i w[NP];
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) {
      // Several slowly advancing streams per pass: the hardware prefetchers alone leave DRAM
      // bandwidth unused (cold weights measured ~2x slower without these). Every other group:
      // loads (prefetches included) bound this loop.
      if (g % 2 == 0) _mm_prefetch(reinterpret_cast<const char *>(v[p] + kPrefetchValues), _MM_HINT_T0);
      if (g % 8 == 0) _mm_prefetch(reinterpret_cast<const char *>(src[p].mask + g + kPrefetchGroups), _MM_HINT_T0);
      // vpexpandb {z} waits on its destination's previous value (measured: one expand per
      // ~2.5 cycles instead of 1): merge into a register freshly zeroed by an idiom instead.
      __m512i z = _mm512_setzero_si512();
      __asm__("" : "+v"(z));
      const uint64_t bits = src[p].mask[g];  // one load for the mask register and the popcount
      w[p] = _mm512_mask_expandloadu_epi8(z, _cvtu64_mask64(bits), v[p]);
      v[p] += FIXED ? 32 : _mm_popcnt_u64(bits);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512i av = _mm512_set1_epi32(int32_t(load_u32(a + r * lda + 4 * g)));
#pragma GCC unroll 16
      for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, w[p]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) _mm512_store_si512(buf + r * NP * 16 + 16 * p, acc[r][p]);
}

using TileFn = void (*)(int64_t, const uint8_t *, int64_t, const PanelSrc *, int32_t *);

template <bool FIXED, int... Rs>
TileFn pick(int rows, int np, std::integer_sequence<int, Rs...>) {
  TileFn f = nullptr;
  // np is either panels_for(rows) (a full pass) or 1 (a last, partial one).
  ((rows == Rs + 1 ? (f = np == 1 ? tile<Rs + 1, 1, FIXED> : tile<Rs + 1, panels_for(Rs + 1), FIXED>, 0) : 0), ...);
  return f;
}

template <bool FIXED>
TileFn tile_fn(int rows, int np) {
  return pick<FIXED>(rows, np, std::make_integer_sequence<int, kMaxRows>{});
}

// 2_4's occupancy masks for one panel: byte b of group g's 8 meta bytes holds rows 2b (low
// nibble) and 2b + 1, and mask bit 4r + q is set iff q is one of row r's two positions.
void masks_2_4(const uint8_t *meta, int64_t groups, uint64_t *out) {
  alignas(16) uint8_t lut[16];
  for (int n = 0; n < 16; ++n) lut[n] = uint8_t((1 << (n & 3)) | (1 << (n >> 2)));
  const __m512i lo_lut = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i *>(lut)));
  const __m512i hi_lut = _mm512_slli_epi16(lo_lut, 4);  // no carries: table bytes are < 16
  const __m512i nib = _mm512_set1_epi8(0x0F);
  for (int64_t g = 0; g < groups; g += 8) {
    const int64_t left = std::min<int64_t>(8, groups - g);
    const __mmask64 k = left == 8 ? ~__mmask64(0) : (__mmask64(1) << (8 * left)) - 1;
    const __m512i m = _mm512_maskz_loadu_epi8(k, meta + 8 * g);
    const __m512i lo = _mm512_and_si512(m, nib), hi = _mm512_and_si512(_mm512_srli_epi16(m, 4), nib);
    const __m512i bits = _mm512_or_si512(_mm512_shuffle_epi8(lo_lut, lo), _mm512_shuffle_epi8(hi_lut, hi));
    _mm512_mask_storeu_epi8(out + g, k, bits);
  }
}

}  // namespace

bool gemm_panels_vnni(const GemmArgs &g) {
  if (!kernels::has_vbmi2()) return false;  // vpexpandb
  const Matrix &w = *g.w;
  const bool fixed = w.format == Q8_SPARSE_2_4;
  const int64_t m = g.m, rows = w.rows, groups = w.groups(), panels = w.panels();
  const gemm::AView &av = *g.a;

  // A's u8 view with whole groups: read in place when it already is one, else copied.
  const uint8_t *a = av.a;
  int64_t lda = av.lda;
  if (av.is_signed || w.cols % 4) {
    lda = groups * 4;
    uint8_t *copy = kernels::scratch(kernels::kSlotA, size_t(m * lda));
    gemm::copy_a_block(av, 0, m, 0, w.cols, copy, lda);
    a = copy;
  }

  const int first_rows = int(std::min<int64_t>(m, kMaxRows));
  const int np = panels_for(first_rows);
  const int64_t tasks = (panels + np - 1) / np;
  const double work = double(w.stored_values()) * double(m);
  parallel_for(size_t(tasks), 1, kernels::inline_below(work), [&](size_t t0, size_t t1) {
    alignas(64) int32_t buf[kMaxRows * 4 * 16];
    uint64_t *masks = fixed ? kernels::scratch_as<uint64_t>(kernels::kSlotTask, size_t(np * groups)) : nullptr;
    for (size_t task = t0; task < t1; ++task) {
      const int64_t p0 = int64_t(task) * np, pn = std::min<int64_t>(np, panels - p0);
      PanelSrc src[4];
      for (int64_t p = 0; p < pn; ++p) {
        if (fixed) {
          masks_2_4(w.meta.data() + (p0 + p) * groups * 8, groups, masks + p * groups);
          src[p] = {masks + p * groups, w.values.data() + (p0 + p) * groups * 32};
        } else {
          src[p] = {w.bitmap.data() + (p0 + p) * groups, w.values.data() + w.panel_ptr[size_t(p0 + p)]};
        }
      }
      for (int64_t m0 = 0; m0 < m; m0 += kMaxRows) {
        const int r = int(std::min<int64_t>(kMaxRows, m - m0));
        const int full = panels_for(r);
        // A pass over `full` panels at a time, the rest one by one.
        for (int64_t p = 0; p < pn;) {
          const int n = pn - p >= full ? full : 1;
          const TileFn f = fixed ? tile_fn<true>(r, n) : tile_fn<false>(r, n);
          f(groups, a + m0 * lda, lda, src + p, buf);
          const int64_t j0 = (p0 + p) * kPanel;
          finish_rows(g, buf, n * 16, m0, r, j0, std::min<int64_t>(n * 16, rows - j0));
          p += n;
        }
      }
    }
  });
  return true;
}

}  // namespace q8::sparse
