// CSR x AVX-512 VNNI, lanes over m: A is copied k-major ([k][16 or 32 rows of A] bytes, plus a zero
// row at k = cols). Each row of W is walked four nonzeros at a time: the four k-rows of A they
// select are loaded into one zmm and a byte permutation transposes them into dwords
// [a(k1) a(k2) a(k3) a(k4)] per row of A, so one vpdpbusd with the four weights broadcast adds
// 16 rows x 4 nonzeros. A row's last 1-3 nonzeros are padded with index cols (the zero row), so the
// weights read past them multiply zeros.
//
// Measured on Zen 5 (4 nonzeros x 32 rows: 4 loads of A, 2 vinserti64x4, 2 vpermi2b, 2 vpdpbusd):
// ~3.6 cycles while A's k-rows come from L1, ~6.6 when they come from L2 (a 4096 x 32 copy is
// 128 KiB), so K is walked in chunks whose slice of A fits L1 (32 KiB), every row of a task's
// block visiting each chunk in turn, and a later row's slice is prefetched meanwhile. Merging the
// k-rows with masked loads instead of vinserti costs no shuffle but measured slower (line-split
// loads). The dense kernel needs ~1.1 cycles per 4 k x 32 rows, so CSR wins only on very sparse
// weights: measured crossover ~82 % sparsity at M = 32, ~90 % at M = 16 (the same cost serves 16
// rows); for few rows BITMAP (lanes over n) is the unstructured format.
#include "sparse/kernels/common.hpp"

#include <algorithm>

#include "core/runtime.hpp"

namespace q8::sparse {
namespace {

using kernels::load_u32;

constexpr int64_t kTaskRows = 64;      // rows of W per parallel task
constexpr int64_t kChunkBytes = 32768;  // the slice of packed A one K chunk reads: L1-resident
constexpr int64_t kAheadBytes = 8192;   // how far ahead the next slices are prefetched (cold W)

// Software prefetch (into L2) of n nonzeros' indices and values. A chunk's slices of the rows of
// W are many short streams that the hardware prefetchers follow poorly (the loop ran ~2x slower
// with W in L3 than in L2, more from DRAM): a later row's next slice is fetched while this one
// runs.
template <class Col>
void prefetch_slice(const Col *ci, const int8_t *v, int64_t n) {
  for (int64_t b = 0; b < int64_t(sizeof(Col)) * n; b += 64)
    _mm_prefetch(reinterpret_cast<const char *>(ci) + b, _MM_HINT_T1);
  for (int64_t b = 0; b < n; b += 64) _mm_prefetch(reinterpret_cast<const char *>(v) + b, _MM_HINT_T1);
}

// Adds the nonzeros [i, e) of one row of W with column < end to t[0..MP) (MP rows of A, k-major at
// `at`); returns where it stopped.
template <int MP, class Col>
int64_t csr_row(const uint8_t *at, uint32_t zero, const Col *ci, const int8_t *v, int64_t i, int64_t e,
                int64_t end, __m512i idx0, __m512i idx1, int32_t *t) {
  constexpr int H = MP / 16;  // zmm accumulators per set
  __m512i acc[2][H];
#pragma GCC unroll 16
  for (int h = 0; h < H; ++h) {
    acc[0][h] = _mm512_load_si512(t + 16 * h);
    acc[1][h] = _mm512_setzero_si512();
  }
  auto row = [&](uint32_t k) { return reinterpret_cast<const __m128i *>(at + size_t(k) * MP); };
  auto quad = [&](uint32_t k0, uint32_t k1, uint32_t k2, uint32_t k3, uint32_t wd, __m512i *a) {
    const __m512i w = _mm512_set1_epi32(int32_t(wd));
    if constexpr (MP == 16) {
      __m512i x = _mm512_castsi128_si512(_mm_loadu_si128(row(k0)));
      x = _mm512_inserti32x4(x, _mm_loadu_si128(row(k1)), 1);
      x = _mm512_inserti32x4(x, _mm_loadu_si128(row(k2)), 2);
      x = _mm512_inserti32x4(x, _mm_loadu_si128(row(k3)), 3);
      a[0] = _mm512_dpbusd_epi32(a[0], _mm512_permutexvar_epi8(idx0, x), w);
    } else {
      auto load = [&](uint32_t k) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row(k))); };
      const __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(load(k0)), load(k1), 1);
      const __m512i y = _mm512_inserti64x4(_mm512_castsi256_si512(load(k2)), load(k3), 1);
      // Register copies of the tables (vpermi2b overwrites its index operand): GCC otherwise
      // reloads them from memory, a sixth of the loop's vector loads.
      __m512i i0 = idx0, i1 = idx1;
      __asm__("" : "+v"(i0), "+v"(i1));
      a[0] = _mm512_dpbusd_epi32(a[0], _mm512_permutex2var_epi8(x, i0, y), w);
      a[1] = _mm512_dpbusd_epi32(a[1], _mm512_permutex2var_epi8(x, i1, y), w);
    }
  };
  for (; i + 8 <= e && ci[i + 7] < end; i += 8) {  // two accumulator sets hide vpdpbusd's latency
    quad(ci[i], ci[i + 1], ci[i + 2], ci[i + 3], load_u32(v + i), acc[0]);
    quad(ci[i + 4], ci[i + 5], ci[i + 6], ci[i + 7], load_u32(v + i + 4), acc[1]);
  }
  for (; i + 4 <= e && ci[i + 3] < end; i += 4) quad(ci[i], ci[i + 1], ci[i + 2], ci[i + 3], load_u32(v + i), acc[0]);
  int64_t left = 0;  // 0-3 nonzeros before the chunk's (or the row's) end
  while (left < 3 && i + left < e && ci[i + left] < end) ++left;
  if (left) {
    quad(ci[i], left > 1 ? ci[i + 1] : zero, left > 2 ? ci[i + 2] : zero, zero, load_u32(v + i), acc[1]);
    i += left;
  }
#pragma GCC unroll 16
  for (int h = 0; h < H; ++h) _mm512_store_si512(t + 16 * h, _mm512_add_epi32(acc[0][h], acc[1][h]));
  return i;
}

template <class Col>
void run(const GemmArgs &g, const Col *cols_idx) {
  const Matrix &w = *g.w;
  const int64_t m = g.m, rows = w.rows, cols = w.cols, kg = (cols + 3) / 4;
  // Blocks of 32 rows of A; a last block of <= 16 rows takes the 16-row kernel.
  size_t bytes = 0;
  const std::vector<kernels::ABlock> blocks = kernels::plan_a_blocks(m, size_t(4 * kg + 4), &bytes);
  uint8_t *ap = kernels::scratch(kernels::kSlotA, bytes);
  for (const kernels::ABlock &b : blocks) kernels::pack_a_kmajor(*g.a, b.m0, b.rows, cols, b.mp, ap + b.offset);

  alignas(64) uint8_t tab[3][64];
  for (int i = 0; i < 16; ++i)
    for (int q = 0; q < 4; ++q) {
      tab[0][4 * i + q] = uint8_t(16 * q + i);  // 16 rows: [k1 | k2 | k3 | k4] x 16 bytes
      tab[1][4 * i + q] = uint8_t(32 * q + i);  // 32 rows: x = [k1 | k2], y = [k3 | k4] x 32 bytes
      tab[2][4 * i + q] = uint8_t(32 * q + i + 16);
    }
  const __m512i idx16 = _mm512_load_si512(tab[0]);
  const __m512i idx32a = _mm512_load_si512(tab[1]), idx32b = _mm512_load_si512(tab[2]);

  const int8_t *values = w.values.data();
  const uint32_t *rp = w.row_ptr.data();
  const uint32_t zero = uint32_t(cols);
  const int64_t tasks = (rows + kTaskRows - 1) / kTaskRows;
  const size_t inline_below = kernels::inline_below(double(w.nonzeros) * double(m));
  parallel_for(size_t(tasks), 1, inline_below, [&](size_t t0, size_t t1) {
    alignas(64) int32_t t[kTaskRows * 32];
    int64_t cursor[kTaskRows];
    for (size_t task = t0; task < t1; ++task) {
      const int64_t j0 = int64_t(task) * kTaskRows, n = std::min(kTaskRows, rows - j0);
      for (const kernels::ABlock &b : blocks) {
        const uint8_t *at = ap + b.offset;
        const int64_t kc = kChunkBytes / b.mp;
        const int64_t share = (kc << 16) / std::max<int64_t>(cols, 1);  // a chunk's share of a row, / 2^16
        std::fill(t, t + n * b.mp, 0);
        for (int64_t jj = 0; jj < n; ++jj) cursor[jj] = rp[j0 + jj];
        // Rows ahead for ~kAheadBytes of indices and values (3 bytes a nonzero with 16-bit ones).
        const int64_t slice = ((int64_t(rp[j0 + n] - rp[j0]) * share) >> 16) * int64_t(sizeof(Col) + 1) / n + 1;
        const int64_t ahead = std::clamp<int64_t>(kAheadBytes / slice, 1, std::max<int64_t>(1, n - 1));
        for (int64_t k0 = 0; k0 < cols; k0 += kc) {
          const int64_t end = std::min(cols, k0 + kc);
          for (int64_t jj = 0; jj < n; ++jj) {
            const int64_t e = rp[j0 + jj + 1];
            // A later row's next slice: its expected length plus a margin.
            const int64_t next = (jj + ahead) % n, r = j0 + next, c = cursor[next];
            prefetch_slice(cols_idx + c, values + c,
                           std::min<int64_t>(rp[r + 1] - c, ((rp[r + 1] - rp[r]) * share >> 16) + 16));
            int32_t *tj = t + jj * b.mp;
            cursor[jj] = b.mp == 16
                             ? csr_row<16>(at, zero, cols_idx, values, cursor[jj], e, end, idx16, idx16, tj)
                             : csr_row<32>(at, zero, cols_idx, values, cursor[jj], e, end, idx32a, idx32b, tj);
          }
        }
        kernels::finish_transposed(g, t, b.mp, b.m0, b.rows, j0, n);
      }
    }
  });
}

}  // namespace

bool gemm_csr_vnni(const GemmArgs &g) {
  if (!kernels::has_vbmi()) return false;  // vpermb, vpermi2b
  if (g.w->wide)
    run(g, g.w->col32.data());
  else
    run(g, g.w->col16.data());
  return true;
}

}  // namespace q8::sparse
