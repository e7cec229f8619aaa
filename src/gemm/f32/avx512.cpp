// Ordered FP32 tiles for AVX-512: up to 12 rows x 64 columns (four B panels), at most 24 zmm
// accumulators, one FMA chain per element; column edges by masked stores (B's padding is zero,
// so loads need no mask, and masked-off lanes never reach C).
#include <immintrin.h>

#include "gemm/f32/ordered.hpp"

namespace q8::gemm::f32 {
namespace {

constexpr int kMr = 12, kNr = 4 * kPanel;

__mmask16 lanes(int cols) { return cols >= 16 ? __mmask16(0xFFFF) : cols <= 0 ? __mmask16(0) : __mmask16((1u << cols) - 1); }

// R rows x V panels; b at the first panel, cols <= 16 * V.
template <int R, int V>
void tile_rv(const Tile &t, const float *b, float *c, int cols) {
  __m512 acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  const float *a = t.a;
  const int64_t panel = t.k * kPanel;
  for (int64_t kk = 0; kk < t.k; ++kk, a += kMr, b += kPanel) {
    __m512 bv[V];
    for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_ps(b + v * panel);
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m512 alpha = _mm512_set1_ps(t.alpha), beta = _mm512_set1_ps(t.beta);
  for (int r = 0; r < R; ++r, c += t.ldc)
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = lanes(cols - 16 * v);
      __m512 y = _mm512_mul_ps(alpha, acc[r][v]);
      if (t.beta != 0.0f) y = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m, c + 16 * v), y);
      _mm512_mask_storeu_ps(c + 16 * v, m, y);
    }
}

// R rows: up to 6 rows take all four panels at once (24 accumulators); more rows take two
// panels at a time.
template <int R>
void tile_r(const Tile &t, int cols) {
  const int panels = (cols + kPanel - 1) / kPanel;
  if (R <= 6) {
    switch (panels) {
      case 1: return tile_rv<R, 1>(t, t.b, t.c, cols);
      case 2: return tile_rv<R, 2>(t, t.b, t.c, cols);
      case 3: return tile_rv<R, 3>(t, t.b, t.c, cols);
      default: return tile_rv<R, 4>(t, t.b, t.c, cols);
    }
  }
  for (int p = 0; p < panels; p += 2) {
    const int left = cols - p * kPanel;
    if (panels - p == 1)
      tile_rv<R, 1>(t, t.b + p * t.k * kPanel, t.c + p * kPanel, left);
    else
      tile_rv<R, 2>(t, t.b + p * t.k * kPanel, t.c + p * kPanel, left < 2 * kPanel ? left : 2 * kPanel);
  }
}

void tile(const Tile &t, int rows, int cols) {
  switch (rows) {
    case 1: return tile_r<1>(t, cols);
    case 2: return tile_r<2>(t, cols);
    case 3: return tile_r<3>(t, cols);
    case 4: return tile_r<4>(t, cols);
    case 5: return tile_r<5>(t, cols);
    case 6: return tile_r<6>(t, cols);
    case 7: return tile_r<7>(t, cols);
    case 8: return tile_r<8>(t, cols);
    case 9: return tile_r<9>(t, cols);
    case 10: return tile_r<10>(t, cols);
    case 11: return tile_r<11>(t, cols);
    default: return tile_r<12>(t, cols);
  }
}

}  // namespace

const Kernel kAvx512Kernel = {kMr, kNr, tile};

}  // namespace q8::gemm::f32
