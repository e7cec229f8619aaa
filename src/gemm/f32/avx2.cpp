// Ordered FP32 tiles for AVX2 + FMA: 6 rows x 16 columns (one B panel, 12 ymm accumulators), or
// up to 3 rows x 32 columns (two panels); one FMA chain per element. A tile narrower than its
// panels keeps its accumulators in a buffer and finishes element by element (same operations).
#include <immintrin.h>

#include "gemm/f32/ordered.hpp"

namespace q8::gemm::f32 {
namespace {

constexpr int kMr = 6, kNr = 2 * kPanel;

// R rows x P panels (2 ymm each); b at the first panel, cols <= 16 * P.
template <int R, int P>
void tile_rp(const Tile &t, const float *b, float *c, int cols) {
  __m256 acc[R][2 * P];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 2 * P; ++v) acc[r][v] = _mm256_setzero_ps();
  const float *a = t.a;
  const int64_t panel = t.k * kPanel;
  for (int64_t kk = 0; kk < t.k; ++kk, a += kMr, b += kPanel) {
    __m256 bv[2 * P];
    for (int v = 0; v < 2 * P; ++v) bv[v] = _mm256_loadu_ps(b + (v / 2) * panel + (v % 2) * 8);
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      for (int v = 0; v < 2 * P; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  if (cols < P * kPanel) {
    alignas(32) float raw[R * P * kPanel];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 2 * P; ++v) _mm256_store_ps(raw + r * P * kPanel + v * 8, acc[r][v]);
    Tile edge = t;
    edge.c = c;
    return finish_rows(edge, raw, P, R, cols);
  }
  const __m256 alpha = _mm256_set1_ps(t.alpha), beta = _mm256_set1_ps(t.beta);
  for (int r = 0; r < R; ++r, c += t.ldc)
    for (int v = 0; v < 2 * P; ++v) {
      __m256 y = _mm256_mul_ps(alpha, acc[r][v]);
      if (t.beta != 0.0f) y = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c + 8 * v), y);
      _mm256_storeu_ps(c + 8 * v, y);
    }
}

template <int R>
void tile_r(const Tile &t, int cols) {
  if (R <= 3 && cols > kPanel) return tile_rp<R <= 3 ? R : 3, 2>(t, t.b, t.c, cols);
  for (int p = 0; p * kPanel < cols; ++p) {
    const int left = cols - p * kPanel;
    tile_rp<R, 1>(t, t.b + p * t.k * kPanel, t.c + p * kPanel, left < kPanel ? left : kPanel);
  }
}

void tile(const Tile &t, int rows, int cols) {
  switch (rows) {
    case 1: return tile_r<1>(t, cols);
    case 2: return tile_r<2>(t, cols);
    case 3: return tile_r<3>(t, cols);
    case 4: return tile_r<4>(t, cols);
    case 5: return tile_r<5>(t, cols);
    default: return tile_r<6>(t, cols);
  }
}

}  // namespace

const Kernel kAvx2Kernel = {kMr, kNr, tile};

}  // namespace q8::gemm::f32
