// Ordered FP32 tiles for aarch64 Advanced SIMD: 6 rows x 16 columns (one B panel, 24 q-register
// accumulators), one fused multiply-add chain per element (FMLA by scalar). A tile narrower than
// the panel keeps its accumulators in a buffer and finishes element by element (same operations).
#include <arm_neon.h>

#include "gemm/f32/ordered.hpp"

namespace q8::gemm::f32 {
namespace {

constexpr int kMr = 6;

template <int R>
void tile_r(const Tile &t, int cols) {
  float32x4_t acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = vdupq_n_f32(0.0f);
  const float *a = t.a, *b = t.b;
  for (int64_t kk = 0; kk < t.k; ++kk, a += kMr, b += kPanel) {
    float32x4_t bv[4];
    for (int v = 0; v < 4; ++v) bv[v] = vld1q_f32(b + 4 * v);
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 4; ++v) acc[r][v] = vfmaq_n_f32(acc[r][v], bv[v], a[r]);
  }
  if (cols < kPanel) {
    float raw[R * kPanel];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 4; ++v) vst1q_f32(raw + r * kPanel + 4 * v, acc[r][v]);
    return finish_rows(t, raw, 1, R, cols);
  }
  float *c = t.c;
  for (int r = 0; r < R; ++r, c += t.ldc)
    for (int v = 0; v < 4; ++v) {
      float32x4_t y = vmulq_n_f32(acc[r][v], t.alpha);
      if (t.beta != 0.0f) y = vfmaq_n_f32(y, vld1q_f32(c + 4 * v), t.beta);
      vst1q_f32(c + 4 * v, y);
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

const Kernel kNeonKernel = {kMr, kPanel, tile};

}  // namespace q8::gemm::f32
