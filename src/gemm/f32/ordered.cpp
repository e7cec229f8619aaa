// The ordered FP32 GEMM's driver: kernel choice, packing, tiling on q8's arena.
#include "gemm/f32/ordered.hpp"

#include <algorithm>
#include <cstddef>

#include "core/runtime.hpp"

namespace q8::gemm::f32 {
namespace {

constexpr double kInlineOps = double(1 << 20);  // multiply-adds below which one thread does it all
constexpr int64_t kRowsPerTask = 48;            // a multiple of every kernel's mr (4, 6, 12)
constexpr int64_t kColsPerTask = 256;           // a multiple of every kernel's nr (16, 32, 64)
constexpr int kScalarMr = 4;

// The reference order, element by element.
void scalar_tile(const Tile &t, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) {
      const float *b = t.b + (j / kPanel) * t.k * kPanel + j % kPanel;
      float acc = 0.0f;
      for (int64_t kk = 0; kk < t.k; ++kk) acc = std::fma(t.a[kk * kScalarMr + r], b[kk * kPanel], acc);
      float *c = t.c + r * t.ldc + j;
      *c = finish(acc, t.alpha, t.beta, *c);
    }
}

// Rows [i0, i0 + rows) of op(A), K columns, as chunks of mr rows: chunk q holds element
// (q * mr + r, kk) at dst[q * k * mr + kk * mr + r]; rows past the end of the last chunk are 0.
void pack_a(bool trans_a, const float *a, int64_t lda, int64_t i0, int64_t rows, int64_t k, int mr, float *dst) {
  for (int64_t q0 = 0; q0 < rows; q0 += mr, dst += k * mr) {
    const int live = int(std::min<int64_t>(mr, rows - q0));
    for (int64_t kk = 0; kk < k; ++kk) {
      float *d = dst + kk * mr;
      for (int r = 0; r < live; ++r) d[r] = trans_a ? a[kk * lda + i0 + q0 + r] : a[(i0 + q0 + r) * lda + kk];
      for (int r = live; r < mr; ++r) d[r] = 0.0f;
    }
  }
}

std::size_t inline_below(int64_t m, int64_t n, int64_t k) {
  return double(m) * double(n) * double(k) < kInlineOps ? SIZE_MAX : 2;
}

}  // namespace

const Kernel kScalarKernel = {kScalarMr, kPanel, scalar_tile};

const Kernel &active_kernel() noexcept {
  switch (active_isa()) {
#if defined(__x86_64__)
    case Q8_ISA_AVX512:
    case Q8_ISA_AVX512_VNNI: return kAvx512Kernel;
    case Q8_ISA_AVX2: return kAvx2Kernel;
#elif defined(__aarch64__)
    case Q8_ISA_NEON: return kNeonKernel;
#endif
    default: return kScalarKernel;
  }
}

void pack_b(PackedB &p, bool trans, int64_t k, int64_t n, const float *b, int64_t ldb) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  p.k = k;
  p.n = n;
  p.data.assign(std::size_t(panels * k * kPanel), 0.0f);
  parallel_for(std::size_t(panels), 1, inline_below(1, n, k), [&](std::size_t p0, std::size_t p1) {
    for (std::size_t panel = p0; panel < p1; ++panel) {
      const int64_t j0 = int64_t(panel) * kPanel, cols = std::min<int64_t>(kPanel, n - j0);
      float *dst = p.data.data() + j0 * k;
      if (trans)  // each column of op(B) is a contiguous row of b; K in blocks keeps dst in L1
        for (int64_t k0 = 0; k0 < k; k0 += 64)
          for (int64_t jj = 0; jj < cols; ++jj)
            for (int64_t kk = k0; kk < std::min<int64_t>(k, k0 + 64); ++kk)
              dst[kk * kPanel + jj] = b[(j0 + jj) * ldb + kk];
      else
        for (int64_t kk = 0; kk < k; ++kk)
          for (int64_t jj = 0; jj < cols; ++jj) dst[kk * kPanel + jj] = b[kk * ldb + j0 + jj];
    }
  });
}

void sgemm_packed(bool trans_a, int64_t m, const PackedB &b, float alpha, const float *a, int64_t lda, float beta,
                  float *c, int64_t ldc) {
  const int64_t n = b.n, k = b.k;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  const Kernel &kern = active_kernel();
  const int64_t row_tasks = (m + kRowsPerTask - 1) / kRowsPerTask, col_tasks = (n + kColsPerTask - 1) / kColsPerTask;
  parallel_for(std::size_t(row_tasks * col_tasks), 1, inline_below(m, n, k), [&](std::size_t t0, std::size_t t1) {
    std::vector<float> packed;
    int64_t packed_row = -1;
    for (std::size_t task = t0; task < t1; ++task) {
      const int64_t i0 = int64_t(task) / col_tasks * kRowsPerTask, i1 = std::min(m, i0 + kRowsPerTask);
      const int64_t j0 = int64_t(task) % col_tasks * kColsPerTask, j1 = std::min(n, j0 + kColsPerTask);
      if (packed_row != i0) {  // consecutive tasks of one row block share its packed A
        packed.resize(std::size_t((i1 - i0 + kern.mr - 1) / kern.mr * kern.mr * k));
        pack_a(trans_a, a, lda, i0, i1 - i0, k, kern.mr, packed.data());
        packed_row = i0;
      }
      // Column panels outside, rows inside: one K x nr slice of B serves every row of the task.
      for (int64_t j = j0; j < j1; j += kern.nr)
        for (int64_t i = i0; i < i1; i += kern.mr) {
          const Tile t{packed.data() + (i - i0) * k, b.data.data() + j * k, c + i * ldc + j, ldc, k, alpha, beta};
          kern.tile(t, int(std::min<int64_t>(kern.mr, i1 - i)), int(std::min<int64_t>(kern.nr, j1 - j)));
        }
    }
  });
}

void sgemm_ordered(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  PackedB packed;
  pack_b(packed, trans_b, std::max<int64_t>(k, 0), n, b, ldb);
  sgemm_packed(trans_a, m, packed, alpha, a, lda, beta, c, ldc);
}

}  // namespace q8::gemm::f32
