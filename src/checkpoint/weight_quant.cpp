// Row kernels of the checkpoint quantizer. The reductions keep 16 independent lanes so that the
// compiler vectorizes them without reassociating floating-point math (-ffp-contract=off, no
// -ffast-math); codes come from q8's dispatched quantize kernels.
#include "checkpoint/weight_quant.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "quant/kernels/kernels.hpp"
#include "quant/params.hpp"

namespace q8::ckpt {
namespace {

constexpr std::size_t kLanes = 16;

// Min and max of x[0, n) and whether any element is NaN or infinite.
struct Range {
  float lo, hi;
  bool finite;
};

Range row_range(const float *x, std::size_t n) noexcept {
  float lo[kLanes], hi[kLanes];
  uint32_t bad[kLanes] = {};
  for (std::size_t l = 0; l < kLanes; ++l) lo[l] = hi[l] = 0.0f;  // ranges are widened to 0 anyway
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t l = 0; l < kLanes; ++l) {
      const float v = x[i + l];
      lo[l] = v < lo[l] ? v : lo[l];
      hi[l] = v > hi[l] ? v : hi[l];
      bad[l] |= !(std::fabs(v) <= FLT_MAX);
    }
  for (std::size_t l = 0; i < n; ++i, ++l) {
    const float v = x[i];
    lo[l] = v < lo[l] ? v : lo[l];
    hi[l] = v > hi[l] ? v : hi[l];
    bad[l] |= !(std::fabs(v) <= FLT_MAX);
  }
  Range r{lo[0], hi[0], bad[0] == 0};
  for (std::size_t l = 1; l < kLanes; ++l) {
    r.lo = std::min(r.lo, lo[l]);
    r.hi = std::max(r.hi, hi[l]);
    r.finite = r.finite && bad[l] == 0;
  }
  return r;
}

}  // namespace

float row_abs_max(const float *x, std::size_t n) noexcept {
  float m[kLanes] = {};
  uint32_t bad[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t l = 0; l < kLanes; ++l) {
      const float a = std::fabs(x[i + l]);
      m[l] = a > m[l] ? a : m[l];
      bad[l] |= !(a <= FLT_MAX);
    }
  for (std::size_t l = 0; i < n; ++i, ++l) {
    const float a = std::fabs(x[i]);
    m[l] = a > m[l] ? a : m[l];
    bad[l] |= !(a <= FLT_MAX);
  }
  float out = 0.0f;
  for (std::size_t l = 0; l < kLanes; ++l) {
    if (bad[l]) return -1.0f;
    out = std::max(out, m[l]);
  }
  return out;
}

float int8_scale(float abs_max) noexcept { return quant::symmetric_from_range(-abs_max, abs_max, 127.0f).scale; }

void int8_codes(const float *x, std::size_t n, float scale, int8_t *codes) noexcept {
  // |x| <= max|row| = 127 * scale (up to rounding of the scale), so no code reaches -128.
  quant::active_kernels().quantize_s8(x, codes, n, scale, 0);
}

bool fold_column_abs_max(const float *x, std::size_t rows, std::size_t cols, float *max) noexcept {
  uint32_t bad = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float *row = x + r * cols;
    for (std::size_t j = 0; j < cols; ++j) {
      const float a = std::fabs(row[j]);
      max[j] = a > max[j] ? a : max[j];
      bad |= !(a <= FLT_MAX);
    }
  }
  return bad == 0;
}

void int8_codes_per_column(const float *x, std::size_t n, const float *scales, const int32_t *zero_points,
                           int8_t *codes) noexcept {
  quant::active_kernels().quantize_s8_vec(x, codes, n, scales, zero_points);
}

void transpose(const float *x, std::size_t rows, std::size_t cols, float *y) noexcept {
  // Blocks of 16 x 16 keep both sides in the cache.
  constexpr std::size_t kBlock = 16;
  for (std::size_t r0 = 0; r0 < rows; r0 += kBlock)
    for (std::size_t c0 = 0; c0 < cols; c0 += kBlock)
      for (std::size_t r = r0; r < std::min(rows, r0 + kBlock); ++r)
        for (std::size_t c = c0; c < std::min(cols, c0 + kBlock); ++c) y[c * rows + r] = x[r * cols + c];
}

bool int4_params(const float *x, std::size_t n, std::size_t group, float *scales, uint8_t *zero_points) noexcept {
  for (std::size_t g = 0, at = 0; at < n; ++g, at += group) {
    const Range r = row_range(x + at, std::min(group, n - at));
    // asymmetric_from_range throws for a range wider than the largest float: rule it out first.
    if (!r.finite || !std::isfinite(r.hi - r.lo)) return false;
    const quant::Affine p = quant::asymmetric_from_range(r.lo, r.hi, 0, 15);
    scales[g] = p.scale;
    zero_points[g] = static_cast<uint8_t>(p.zero_point);
  }
  return true;
}

void int4_codes(const float *x, std::size_t n, std::size_t group, const float *scales, const uint8_t *zero_points,
                uint8_t *scratch, uint8_t *packed) noexcept {
  const quant::Kernels &k = quant::active_kernels();
  for (std::size_t g = 0, at = 0; at < n; ++g, at += group)
    k.quantize_u8(x + at, scratch + at, std::min(group, n - at), scales[g], zero_points[g]);
  // The u8 kernel clamps to [0, 255]; the 4-bit range is the same clamp to 15.
  for (std::size_t i = 0; i < n; ++i) scratch[i] = std::min<uint8_t>(scratch[i], 15);
  for (std::size_t i = 0; i + 1 < n; i += 2) packed[i / 2] = static_cast<uint8_t>(scratch[i] | scratch[i + 1] << 4);
  if (n % 2) packed[n / 2] = scratch[n - 1];
}

}  // namespace q8::ckpt
