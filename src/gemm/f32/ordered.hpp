// FP32 GEMM in a fixed summation order (the runtime's f32 matrix products; q8_gemm_f32_ordered).
//
// Every element of C is one fused multiply-add chain over k = 0 .. K-1 in order, starting from
// +0, then t = alpha * acc and, when beta != 0, t = fma(beta, C_old, t). Nothing else touches
// it: no split of K, no pairwise or interleaved partial sums, no extra rounding. So an element's
// bits depend only on its row of A, its column of B, alpha, beta and its old value -- not on M,
// N, the tiling, the thread count or the ISA (every kernel, scalar included, performs the same
// IEEE operations). That is what lets a micro-batched pipeline, data-parallel replicas or MPI
// ranks reproduce the whole batch's outputs bit for bit, which OpenBLAS's size-dependent
// kernels do not (docs/PARTITIONS.md). Vectors run across columns of C, never along K.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace q8::gemm::f32 {

// B packed in panels of kPanel columns: panel p holds B[kk][p * kPanel + jj] at
// data[p * k * kPanel + kk * kPanel + jj]; columns past N are zero. One layout for every ISA, so
// weights packed once (a constant Gemm/MatMul operand) survive q8_runtime_set_isa.
constexpr int kPanel = 16;

struct PackedB {
  int64_t k = 0, n = 0;
  std::vector<float> data;
};

// Packs op(B) (K x N): element (kk, j) is b[kk * ldb + j], or b[j * ldb + kk] when trans.
void pack_b(PackedB &p, bool trans, int64_t k, int64_t n, const float *b, int64_t ldb);

// One tile of C: rows x cols elements (rows <= the kernel's mr, cols <= its nr, a multiple of
// kPanel except at the end of N). A is packed by the driver, element (r, kk) at a[kk * mr + r];
// b points at the tile's first panel (the next one is k * kPanel floats further); C element
// (r, j) at c[r * ldc + j].
struct Tile {
  const float *a;
  const float *b;
  float *c;
  int64_t ldc;
  int64_t k;
  float alpha, beta;
};

struct Kernel {
  int mr, nr;
  void (*tile)(const Tile &t, int rows, int cols);
};

extern const Kernel kScalarKernel;
#if defined(__x86_64__)
extern const Kernel kAvx2Kernel;
extern const Kernel kAvx512Kernel;
#elif defined(__aarch64__)
extern const Kernel kNeonKernel;
#endif

// The kernel of the active ISA (q8_runtime_set_isa).
const Kernel &active_kernel() noexcept;

// The end of an element's chain.
inline float finish(float acc, float alpha, float beta, float c_old) {
  const float t = alpha * acc;
  return beta != 0.0f ? std::fma(beta, c_old, t) : t;
}

// Writes columns [0, cols) of `rows` rows of raw accumulators (acc[r * kPanel * panels + j]) to
// the tile's C through finish(): the edge path of the vector kernels, the same operations.
inline void finish_rows(const Tile &t, const float *acc, int panels, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    float *c = t.c + r * t.ldc;
    for (int j = 0; j < cols; ++j) c[j] = finish(acc[r * kPanel * panels + j], t.alpha, t.beta, c[j]);
  }
}

// C = alpha * op(A) · B + beta * C for packed B, row-major A and C, parallel on q8's arena.
// k == 0 gives C = beta * C (C only written when beta == 0), as in BLAS.
void sgemm_packed(bool trans_a, int64_t m, const PackedB &b, float alpha, const float *a, int64_t lda, float beta,
                  float *c, int64_t ldc);

// The same with B as the caller stores it (packed on the way).
void sgemm_ordered(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

}  // namespace q8::gemm::f32
