// BCSR x AVX-512 VNNI. Blocks br x bc with bc a multiple of 4 (others decline: the reference
// runs): each row of a block is bc / 4 dwords of weights, the unit of vpdpbusd. Three strategies,
// picked by M and the block shape (choose(), with the measured reasons):
//
// Lanes over m: A is copied per call as [k / 4][16 or 32 rows of A][4 bytes], so one zmm holds 16
// rows' 4 k-bytes. For each stored block and group of 4 columns in it, A's zmm (one load per 16
// rows) meets each block row's weight dword broadcast from memory: br vpdpbusd per 16 rows, the
// dense kernel's work per 16 x 4 x br, so the speed-up is ~ 1 / density. One accumulator per row
// of W and 16 rows of A, transposed into C's order at the end.
//
// Lanes over n (M <= br / 2, blocks of 16, 32 or 64 bytes): the block itself is the register, its
// dwords (row r, column group q) the lanes, and A's bc bytes at the block's column are broadcast
// to every row's lanes: one vpdpbusd per block and row of A, whatever br. Lanes of one row of W
// are summed at the end when bc > 4.
//
// Lanes over (m, rotation) (4x4 blocks, 2 <= M <= 8): see run_rotations.
//
// All unroll over blocks into several accumulator sets where few accumulators would otherwise wait
// on vpdpbusd's 4-cycle latency, and prefetch ahead in the weights (a task's block rows are one
// contiguous stream). Unlike CSR they do not chunk K: A's copy is at most 128 KiB and is read in
// whole 64-byte lines, and chunking measured slower (it cuts the weight stream into short ones).
#include <algorithm>
#include <type_traits>

#include "core/runtime.hpp"
#include "sparse/kernels/common.hpp"

namespace q8::sparse {
namespace {

using kernels::load_u32;

constexpr int64_t kTaskRows = 64;       // rows of W per parallel task (at least one block row)
// Software prefetch distance in a block row's values and indices. Consecutive block rows are
// contiguous, so one stream runs through a task; the hardware prefetchers alone left cold
// (DRAM) weights at ~9 GB/s.
constexpr int64_t kAheadValues = 8192;  // bytes
constexpr int64_t kAheadBlocks = 512;   // indices

template <class Col>
inline void prefetch(const Col *ci, const int8_t *w) {
  _mm_prefetch(reinterpret_cast<const char *>(w + kAheadValues), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char *>(ci + kAheadBlocks), _MM_HINT_T0);
}

// ---- lanes over m ---------------------------------------------------------------------------

// RC rows of each block x H * 16 rows of A, U accumulator sets, G = bc / 4 groups of 4 columns
// per block (0: read from g_rt); stored blocks [s, e). w points at the first of the RC rows in
// block 0 (blocks bstride bytes apart); writes t[r * MP ...].
template <int RC, int H, int U, int G, class Col>
void m_rows(const uint8_t *ap, const Col *ci, const int8_t *w, int64_t bstride, int g_rt, int64_t s, int64_t e,
            int32_t *t) {
  constexpr int MP = 16 * H;
  const int groups = G ? G : g_rt, bc = 4 * groups;
  const size_t astride = size_t(groups) * MP * 4;  // A's bytes per block column
  __m512i acc[U][RC][H];
#pragma GCC unroll 16
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 16
    for (int r = 0; r < RC; ++r)
#pragma GCC unroll 16
      for (int h = 0; h < H; ++h)
        acc[u][r][h] = _mm512_setzero_si512();
  // Block b into set u: per group of 4 columns, A's H zmm meet each row's weight dword.
  auto block = [&](int64_t b, const int8_t *wb, auto u) {
    const uint8_t *ag = ap + size_t(ci[b]) * astride;
#pragma GCC unroll 4
    for (int q = 0; q < groups; ++q) {
      __m512i x[H];
#pragma GCC unroll 16
      for (int h = 0; h < H; ++h) x[h] = _mm512_load_si512(ag + (q * MP + 16 * h) * 4);
#pragma GCC unroll 16
      for (int r = 0; r < RC; ++r) {
        const __m512i wv = _mm512_set1_epi32(int32_t(load_u32(wb + r * bc + 4 * q)));
#pragma GCC unroll 16
        for (int h = 0; h < H; ++h) acc[u][r][h] = _mm512_dpbusd_epi32(acc[u][r][h], x[h], wv);
      }
    }
  };
  const int8_t *wb = w + s * bstride;
  for (; s + U <= e; s += U, wb += U * bstride) {
    prefetch(ci + s, wb);
    block(s, wb, std::integral_constant<int, 0>{});
    if constexpr (U > 1) block(s + 1, wb + bstride, std::integral_constant<int, 1>{});
    if constexpr (U > 2) block(s + 2, wb + 2 * bstride, std::integral_constant<int, 2>{});
    if constexpr (U > 3) block(s + 3, wb + 3 * bstride, std::integral_constant<int, 3>{});
  }
  for (; s < e; ++s, wb += bstride) block(s, wb, std::integral_constant<int, 0>{});
#pragma GCC unroll 16
  for (int r = 0; r < RC; ++r)
#pragma GCC unroll 16
    for (int h = 0; h < H; ++h) {
      __m512i v = acc[0][r][h];
#pragma GCC unroll 16
      for (int u = 1; u < U; ++u) v = _mm512_add_epi32(v, acc[u][r][h]);
      _mm512_store_si512(t + r * MP + 16 * h, v);
    }
}

template <class Col>
using MRowsFn = void (*)(const uint8_t *, const Col *, const int8_t *, int64_t, int, int64_t, int64_t, int32_t *);

// The kernel for RC rows (a power of two, RC * H <= 16) and G groups per block: enough sets for
// >= 8 accumulators (vpdpbusd's latency is 4 cycles, 2 issue per cycle).
template <int G, class Col>
MRowsFn<Col> m_rows_fn(int rc, int h) {
  if (h == 1) switch (rc) {
      case 1: return m_rows<1, 1, 4, G, Col>;
      case 2: return m_rows<2, 1, 4, G, Col>;
      case 4: return m_rows<4, 1, 2, G, Col>;
      case 8: return m_rows<8, 1, 1, G, Col>;
      default: return m_rows<16, 1, 1, G, Col>;
    }
  switch (rc) {
    case 1: return m_rows<1, 2, 4, G, Col>;
    case 2: return m_rows<2, 2, 2, G, Col>;
    case 4: return m_rows<4, 2, 1, G, Col>;
    default: return m_rows<8, 2, 1, G, Col>;
  }
}

template <class Col>
MRowsFn<Col> m_rows_fn(int rc, int h, int groups) {
  switch (groups) {
    case 1: return m_rows_fn<1, Col>(rc, h);
    case 2: return m_rows_fn<2, Col>(rc, h);
    case 4: return m_rows_fn<4, Col>(rc, h);
    default: return m_rows_fn<0, Col>(rc, h);
  }
}

template <class Col>
void run_lanes_m(const GemmArgs &g, const Col *ci) {
  const Matrix &w = *g.w;
  const int64_t m = g.m, cols = w.cols, kg = cols / 4, br = w.br, bc = w.bc;
  const int64_t brows = w.rows / br;
  size_t bytes = 0;
  const std::vector<kernels::ABlock> blocks = kernels::plan_a_blocks(m, size_t(4 * kg), &bytes);
  uint8_t *ap = kernels::scratch(kernels::kSlotA, bytes);
  for (const kernels::ABlock &b : blocks) kernels::pack_a_groups(*g.a, b.m0, b.rows, cols, b.mp, ap + b.offset);

  const int8_t *values = w.values.data();
  const uint32_t *rp = w.row_ptr.data();
  const int64_t per_task = std::max<int64_t>(1, kTaskRows / br);  // block rows
  const int64_t tasks = (brows + per_task - 1) / per_task;
  const size_t inline_below = kernels::inline_below(double(w.stored_values()) * double(m));
  parallel_for(size_t(tasks), 1, inline_below, [&](size_t t0, size_t t1) {
    int32_t *t = kernels::scratch_as<int32_t>(kernels::kSlotTask, size_t(per_task * br * 32));
    for (size_t task = t0; task < t1; ++task) {
      const int64_t b0 = int64_t(task) * per_task, nb = std::min(per_task, brows - b0);
      for (const kernels::ABlock &b : blocks) {
        const int h = b.mp / 16;
        for (int64_t i = 0; i < nb; ++i)
          for (int r0 = 0; r0 < br;) {  // rows of the block in power-of-two chunks of <= 16 / h
            int rc = 16 / h;
            while (rc > br - r0) rc /= 2;
            m_rows_fn<Col>(rc, h, int(bc / 4))(ap + b.offset, ci, values + r0 * bc, br * bc, int(bc / 4), rp[b0 + i],
                                               rp[b0 + i + 1], t + (i * br + r0) * b.mp);
            r0 += rc;
          }
        kernels::finish_transposed(g, t, b.mp, b.m0, b.rows, b0 * br, nb * br);
      }
    }
  });
}

// ---- lanes over n ---------------------------------------------------------------------------

// The vector of V bytes (16, 32 or 64) and its operations.
template <int V>
struct Vec;
template <>
struct Vec<16> {
  using T = __m128i;
  static T zero() { return _mm_setzero_si128(); }
  static T load(const void *p) { return _mm_loadu_si128(static_cast<const __m128i *>(p)); }
  static T dp(T acc, T a, T w) { return _mm_dpbusd_epi32(acc, a, w); }
  static T add(T x, T y) { return _mm_add_epi32(x, y); }
  static void store(int32_t *p, T v) { _mm_storeu_si128(reinterpret_cast<__m128i *>(p), v); }
  template <int BC>
  static T bcast(const uint8_t *p) {
    if constexpr (BC == 4) return _mm_set1_epi32(int32_t(load_u32(p)));
    else if constexpr (BC == 8) return _mm_set1_epi64x(int64_t(load_u32(p)) | int64_t(load_u32(p + 4)) << 32);
    else return load(p);
  }
};
template <>
struct Vec<32> {
  using T = __m256i;
  static T zero() { return _mm256_setzero_si256(); }
  static T load(const void *p) { return _mm256_loadu_si256(static_cast<const __m256i *>(p)); }
  static T dp(T acc, T a, T w) { return _mm256_dpbusd_epi32(acc, a, w); }
  static T add(T x, T y) { return _mm256_add_epi32(x, y); }
  static void store(int32_t *p, T v) { _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), v); }
  template <int BC>
  static T bcast(const uint8_t *p) {
    if constexpr (BC == 4) return _mm256_set1_epi32(int32_t(load_u32(p)));
    else if constexpr (BC == 8) return _mm256_set1_epi64x(int64_t(load_u32(p)) | int64_t(load_u32(p + 4)) << 32);
    else return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  }
};
template <>
struct Vec<64> {
  using T = __m512i;
  static T zero() { return _mm512_setzero_si512(); }
  static T load(const void *p) { return _mm512_loadu_si512(p); }
  static T dp(T acc, T a, T w) { return _mm512_dpbusd_epi32(acc, a, w); }
  static T add(T x, T y) { return _mm512_add_epi32(x, y); }
  static void store(int32_t *p, T v) { _mm512_storeu_si512(p, v); }
  template <int BC>
  static T bcast(const uint8_t *p) {
    if constexpr (BC == 4) return _mm512_set1_epi32(int32_t(load_u32(p)));
    else if constexpr (BC == 8) return _mm512_set1_epi64(int64_t(load_u32(p)) | int64_t(load_u32(p + 4)) << 32);
    else return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  }
};

// R rows of A (rows lda apart, u8) x one block row of V-byte blocks (bc = BC), U accumulator sets,
// stored blocks [s, e); out[r * ldo + j] = the sum of row j's lanes (BC / 4 of them).
template <int V, int BC, int R, int U, class Col>
void n_rows(const uint8_t *a, int64_t lda, const Col *ci, const int8_t *values, int64_t s, int64_t e, int32_t *out,
            int64_t ldo) {
  using X = Vec<V>;
  typename X::T acc[U][R];
#pragma GCC unroll 16
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[u][r] = X::zero();
  auto block = [&](int64_t b, typename X::T(&c)[R]) {
    const typename X::T wv = X::load(values + b * V);
    const uint8_t *ak = a + size_t(ci[b]) * BC;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) c[r] = X::dp(c[r], X::template bcast<BC>(ak + r * lda), wv);
  };
  for (; s + U <= e; s += U) {
    prefetch(ci + s, values + s * V);
#pragma GCC unroll 16
    for (int u = 0; u < U; ++u) block(s + u, acc[u]);
  }
  for (; s < e; ++s) block(s, acc[0]);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    typename X::T v = acc[0][r];
#pragma GCC unroll 16
    for (int u = 1; u < U; ++u) v = X::add(v, acc[u][r]);
    if constexpr (BC == 4) {
      X::store(out + r * ldo, v);
    } else {
      constexpr int DW = BC / 4;
      alignas(64) int32_t lanes[V / 4];
      X::store(lanes, v);
      for (int j = 0; j < V / 4 / DW; ++j) {
        uint32_t sum = 0;
        for (int d = 0; d < DW; ++d) sum += uint32_t(lanes[j * DW + d]);
        out[r * ldo + j] = int32_t(sum);
      }
    }
  }
}

template <class Col>
using NRowsFn = void (*)(const uint8_t *, int64_t, const Col *, const int8_t *, int64_t, int64_t, int32_t *, int64_t);

template <int V, int BC, class Col>
NRowsFn<Col> n_rows_fn(int r) {
  switch (r) {  // sets: >= 4 independent accumulators
    case 1: return n_rows<V, BC, 1, 4, Col>;
    case 2: return n_rows<V, BC, 2, 2, Col>;
    case 3: return n_rows<V, BC, 3, 2, Col>;
    default: return n_rows<V, BC, 4, 1, Col>;
  }
}

// One row of A x 16-byte blocks, four blocks per zmm: their 64 bytes in one load, A's bc bytes at
// each block's column broadcast into that block's 128-bit lane by merge-masked broadcasts (which
// cost a load and nothing else), the four lanes summed at the end. Per block ~1.6 vector loads
// against 2 (and a quarter of the vpdpbusd) for one xmm per block: measured ~1.4x faster at M = 1.
template <int BC, int U, class Col>
void n_row_quads(const uint8_t *a, int64_t, const Col *ci, const int8_t *values, int64_t s, int64_t e, int32_t *out,
                 int64_t) {
  __m512i acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) acc[u] = _mm512_setzero_si512();
  auto lane = [&](__m512i x, int l, int64_t b) {  // A's bytes for block b into 128-bit lane l
    const uint8_t *p = a + size_t(ci[b]) * BC;
    const __mmask16 k = __mmask16(0xF << (4 * l));
    if constexpr (BC == 4) return _mm512_mask_set1_epi32(x, k, int32_t(load_u32(p)));
    else if constexpr (BC == 8)
      return _mm512_mask_set1_epi64(x, __mmask8(3 << (2 * l)), int64_t(load_u32(p)) | int64_t(load_u32(p + 4)) << 32);
    else return _mm512_mask_broadcast_i32x4(x, k, _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  };
  auto quad = [&](int64_t b, auto u) {
    __m512i x = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) x = lane(x, l, b + l);
    acc[u] = _mm512_dpbusd_epi32(acc[u], x, _mm512_loadu_si512(values + 16 * b));
  };
  for (; s + 4 * U <= e; s += 4 * U) {
    prefetch(ci + s, values + 16 * s);
    quad(s, std::integral_constant<int, 0>{});
    if constexpr (U > 1) quad(s + 4, std::integral_constant<int, 1>{});
  }
  __m512i sum = acc[0];
#pragma GCC unroll 4
  for (int u = 1; u < U; ++u) sum = _mm512_add_epi32(sum, acc[u]);
  // The maskz forms: GCC 12 builds the plain cast/extract on an undefined register and warns.
  __m128i v = _mm_add_epi32(_mm_add_epi32(_mm512_maskz_extracti32x4_epi32(0xF, sum, 0), _mm512_maskz_extracti32x4_epi32(0xF, sum, 1)),
                            _mm_add_epi32(_mm512_maskz_extracti32x4_epi32(0xF, sum, 2), _mm512_maskz_extracti32x4_epi32(0xF, sum, 3)));
  for (; s < e; ++s)  // the last < 4 U blocks
    v = _mm_dpbusd_epi32(v, Vec<16>::template bcast<BC>(a + size_t(ci[s]) * BC), Vec<16>::load(values + 16 * s));
  alignas(16) int32_t lanes[4];
  _mm_store_si128(reinterpret_cast<__m128i *>(lanes), v);
  constexpr int DW = BC / 4;
  for (int j = 0; j < 4 / DW; ++j) {
    uint32_t t = 0;
    for (int d = 0; d < DW; ++d) t += uint32_t(lanes[j * DW + d]);
    out[j] = int32_t(t);
  }
}

template <class Col>
NRowsFn<Col> n_kernel(int v, int bc, int r) {
  if (v == 16 && r == 1)
    return bc == 4 ? n_row_quads<4, 2, Col> : bc == 8 ? n_row_quads<8, 2, Col> : n_row_quads<16, 2, Col>;
  if (v == 16)
    return bc == 4 ? n_rows_fn<16, 4, Col>(r) : bc == 8 ? n_rows_fn<16, 8, Col>(r) : n_rows_fn<16, 16, Col>(r);
  if (v == 32)
    return bc == 4 ? n_rows_fn<32, 4, Col>(r) : bc == 8 ? n_rows_fn<32, 8, Col>(r) : n_rows_fn<32, 16, Col>(r);
  return bc == 4 ? n_rows_fn<64, 4, Col>(r) : bc == 8 ? n_rows_fn<64, 8, Col>(r) : n_rows_fn<64, 16, Col>(r);
}

constexpr int kNRows = 4;  // rows of A per lanes-over-n pass

template <class Col>
void run_lanes_n(const GemmArgs &g, const Col *ci) {
  const Matrix &w = *g.w;
  const int64_t m = g.m, cols = w.cols, br = w.br, bc = w.bc, brows = w.rows / br;
  const int v = int(br * bc);  // block bytes: the vector
  // A's u8 view, row-major (s8 flipped).
  const int64_t lda = cols;
  uint8_t *ap = kernels::scratch(kernels::kSlotA, size_t(m * lda));
  gemm::copy_a_block(*g.a, 0, m, 0, cols, ap, lda);

  const int8_t *values = w.values.data();
  const uint32_t *rp = w.row_ptr.data();
  const int64_t per_task = std::max<int64_t>(1, kTaskRows / br);
  const int64_t tasks = (brows + per_task - 1) / per_task;
  const size_t inline_below = kernels::inline_below(double(w.stored_values()) * double(m));
  parallel_for(size_t(tasks), 1, inline_below, [&](size_t t0, size_t t1) {
    int32_t *out = kernels::scratch_as<int32_t>(kernels::kSlotOut, size_t(kNRows * per_task * br));
    for (size_t task = t0; task < t1; ++task) {
      const int64_t b0 = int64_t(task) * per_task, nb = std::min(per_task, brows - b0), n = nb * br;
      for (int64_t m0 = 0; m0 < m; m0 += kNRows) {
        const int rows = int(std::min<int64_t>(kNRows, m - m0));
        const NRowsFn<Col> f = n_kernel<Col>(v, int(bc), rows);
        for (int64_t i = 0; i < nb; ++i)
          f(ap + m0 * lda, lda, ci, values, rp[b0 + i], rp[b0 + i + 1], out + i * br, n);
        finish_rows(g, out, n, m0, rows, b0 * br, n);
      }
    }
  });
}

// ---- lanes over (m, rotation): 4x4 blocks, 2 <= M <= 8 ---------------------------------------

// A is copied as [k / 4][MR = 4 or 8 rows][4 bytes] and its MR dwords broadcast to every MR-lane
// group of a zmm; the block's 4 row dwords are shuffled so that lane (c, m) meets block row
// (m + rotation c) % 4. A zmm holds 16 / MR rotations, so MR / 4 of them give every row of A every
// row of the block: per block MR / 4 vpdpbusd and two loads, where lanes over n needs M vpdpbusd
// (and M + 1 loads) and lanes over m four (and five loads).
constexpr int kRotLanes = 16;

// Lane L of zmm z: row m of A and rotation rot (row (m + rot) % 4 of the block).
inline void rot_lane(int mr, int z, int lane, int &m, int &rot) {
  m = lane % mr;
  rot = lane / mr + z * (16 / mr);
}

template <int MR, int U, class Col>
void rot_rows(const uint8_t *ap, const Col *ci, const int8_t *values, int64_t s, int64_t e, const __m512i *idx,
              int32_t *lanes) {
  constexpr int Z = MR / 4;  // zmm accumulators per set
  __m512i acc[U][Z];
#pragma GCC unroll 16
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 16
    for (int z = 0; z < Z; ++z) acc[u][z] = _mm512_setzero_si512();
  auto block = [&](int64_t b, auto u) {
    // The 16-byte block in every 128-bit lane, rotated per lane by vpshufb: a load that never
    // splits a cache line and an in-lane shuffle (a 64-byte load and vpermd measured ~2x slower).
    const __m512i wv = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i *>(values + 16 * b)));
    const uint8_t *ag = ap + size_t(ci[b]) * MR * 4;
    __m512i av;
    if constexpr (MR == 4)
      av = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i *>(ag)));
    else
      av = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(ag)));
#pragma GCC unroll 4
    for (int z = 0; z < Z; ++z) acc[u][z] = _mm512_dpbusd_epi32(acc[u][z], av, _mm512_shuffle_epi8(wv, idx[z]));
  };
  for (; s + U <= e; s += U) {
    prefetch(ci + s, values + 16 * s);
    block(s, std::integral_constant<int, 0>{});
    if constexpr (U > 1) block(s + 1, std::integral_constant<int, 1>{});
    if constexpr (U > 2) block(s + 2, std::integral_constant<int, 2>{});
    if constexpr (U > 3) block(s + 3, std::integral_constant<int, 3>{});
  }
  for (; s < e; ++s) block(s, std::integral_constant<int, 0>{});
#pragma GCC unroll 4
  for (int z = 0; z < Z; ++z) {
    __m512i v = acc[0][z];
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u) v = _mm512_add_epi32(v, acc[u][z]);
    _mm512_storeu_si512(lanes + z * kRotLanes, v);
  }
}

template <class Col>
using RotFn = void (*)(const uint8_t *, const Col *, const int8_t *, int64_t, int64_t, const __m512i *, int32_t *);

template <class Col>
void run_rotations(const GemmArgs &g, const Col *ci) {
  const Matrix &w = *g.w;
  const int64_t m = g.m, cols = w.cols, brows = w.rows / 4;
  const int mr = m <= 4 ? 4 : 8, zn = mr / 4;
  uint8_t *ap = kernels::scratch(kernels::kSlotA, size_t(cols / 4 * mr * 4));
  kernels::pack_a_groups(*g.a, 0, m, cols, mr, ap);
  // vpshufb tables (lane (row, rot) takes the 4 bytes of block row (row + rot) % 4) and where
  // each lane goes: row of A, row of the block.
  __m512i idx[2];
  int lane_row[2 * kRotLanes], lane_w[2 * kRotLanes];
  for (int z = 0; z < zn; ++z) {
    alignas(64) uint8_t t[64];
    for (int lane = 0; lane < 16; ++lane) {
      int row, rot;
      rot_lane(mr, z, lane, row, rot);
      lane_row[z * kRotLanes + lane] = row;
      lane_w[z * kRotLanes + lane] = (row + rot) % 4;
      for (int byte = 0; byte < 4; ++byte) t[4 * lane + byte] = uint8_t((row + rot) % 4 * 4 + byte);
    }
    idx[z] = _mm512_load_si512(t);
  }
  const RotFn<Col> f = mr == 4 ? rot_rows<4, 4, Col> : rot_rows<8, 2, Col>;  // >= 4 accumulators
  const int8_t *values = w.values.data();
  const uint32_t *rp = w.row_ptr.data();
  const int64_t per_task = kTaskRows / 4, tasks = (brows + per_task - 1) / per_task;
  const size_t inline_below = kernels::inline_below(double(w.stored_values()) * double(m));
  parallel_for(size_t(tasks), 1, inline_below, [&](size_t t0, size_t t1) {
    int32_t *out = kernels::scratch_as<int32_t>(kernels::kSlotOut, size_t(8 * kTaskRows));
    alignas(64) int32_t lanes[2 * kRotLanes];
    for (size_t task = t0; task < t1; ++task) {
      const int64_t b0 = int64_t(task) * per_task, nb = std::min(per_task, brows - b0), n = 4 * nb;
      for (int64_t i = 0; i < nb; ++i) {
        f(ap, ci, values, rp[b0 + i], rp[b0 + i + 1], idx, lanes);
        for (int l = 0; l < zn * kRotLanes; ++l)
          if (lane_row[l] < m) out[lane_row[l] * n + 4 * i + lane_w[l]] = lanes[l];
      }
      finish_rows(g, out, n, 0, m, 4 * b0, n);
    }
  });
}

// ---- choice -----------------------------------------------------------------------------------

// Per stored block, in vpdpbusd (and loads), with 16 x 4 weights as the unit:
//   lanes over n:  M (1 + M loads), for blocks of 16, 32 or 64 bytes with bc in {4, 8, 16};
//   rotations:     MR / 4 (2 loads), for 4x4 blocks, M <= MR = 4 or 8;
//   lanes over m:  br / 4 per 16 rows of A (1 + br loads), any bc % 4 == 0.
// Lanes over m costs the same for any M <= 16; lanes over n grows with M. Measured at K = N = 4096,
// 50 % blocks: 4x4 at M = 1 lanes over n 147 us (four blocks per zmm), M = 2 rotations 224 us,
// M = 8 rotations 345 us against lanes over m 442 us at M = 9; 16x4 lanes over n 284 us at M = 8
// but 398 us at M = 12, where lanes over m takes 322 us: lanes over n while 2 M <= br.
enum class Strategy { kLanesN, kRotations, kLanesM };

Strategy choose(const Matrix &w, int64_t m) {
  const int64_t bytes = w.br * w.bc;
  const bool n_fits = (w.bc == 4 || w.bc == 8 || w.bc == 16) && (bytes == 16 || bytes == 32 || bytes == 64);
  if (w.br == 4 && w.bc == 4 && m >= 2 && m <= 8) return Strategy::kRotations;
  if (n_fits && 2 * m <= w.br) return Strategy::kLanesN;
  return Strategy::kLanesM;
}

template <class Col>
void run(const GemmArgs &g, const Col *ci) {
  switch (choose(*g.w, g.m)) {
    case Strategy::kLanesN: run_lanes_n(g, ci); break;
    case Strategy::kRotations: run_rotations(g, ci); break;
    case Strategy::kLanesM: run_lanes_m(g, ci); break;
  }
}

}  // namespace

bool gemm_bcsr_vnni(const GemmArgs &g) {
  const Matrix &w = *g.w;
  if (w.bc % 4 != 0) return false;
  if (w.wide)
    run(g, w.col32.data());
  else
    run(g, w.col16.data());
  return true;
}

}  // namespace q8::sparse
