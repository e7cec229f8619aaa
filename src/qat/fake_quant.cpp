// Fake quantization and its straight-through / LSQ / LSQ+ gradients (docs/QAT.md).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/runtime.hpp"
#include "qat/qat.hpp"
#include "quant/kernels/reference.hpp"

namespace q8::qat {
namespace {

// Element-wise work goes parallel in chunks of kGrain once an array has kInlineBelow elements;
// chunking never changes an element's result.
constexpr std::size_t kGrain = 1 << 16;
constexpr std::size_t kInlineBelow = 1 << 17;
// LSQ sums one channel in pieces of kPiece elements (a constant, so the pieces depend only on the
// sizes) and then adds the pieces in order: the same sums for every thread count.
constexpr std::size_t kPiece = 1 << 13;

// One element's quantization, computed exactly as q8_quantize does (x / s one f32 division,
// round half to even, the zero point added in f32), before the clamp.
struct Step {
  float rounded;  // round_half_even(x / s)
  float q;        // rounded + zi; NaN for a NaN x
  float v;        // x / s
};

inline Step step(float x, float s, int32_t zi) noexcept {
  const float v = x / s;
  const float rounded = quant::round_half_even(v);
  return {rounded, rounded + float(zi), v};
}

// The rounded integers per channel (the zero point the runtime would store). NULL is z = 0, which
// is clamped like any other z (it lies outside ranges such as [1, 3]).
std::vector<int32_t> integer_zero_points(const float *zero_points, std::size_t channels, int32_t qmin,
                                         int32_t qmax) {
  std::vector<int32_t> zi(channels);
  for (std::size_t c = 0; c < channels; ++c)
    zi[c] = integer_zero_point(zero_points ? zero_points[c] : 0.0f, qmin, qmax);
  return zi;
}

}  // namespace

void fake_quantize(const float *x, const Layout &l, const float *scales, const float *zero_points,
                   int32_t qmin, int32_t qmax, float *y, uint8_t *mask) {
  const std::size_t n = l.numel();
  if (n == 0) return;
  const std::vector<int32_t> zi = integer_zero_points(zero_points, l.channels, qmin, qmax);
  const float lo = float(qmin), hi = float(qmax);
  parallel_for(n, kGrain, kInlineBelow, [&](std::size_t b, std::size_t e) {
    // Runs of one channel: the rest of the current (o, c) row, or the chunk's end.
    for (std::size_t k = b; k < e;) {
      const std::size_t row = k / l.inner, c = row % l.channels;
      const std::size_t end = std::min(e, (row + 1) * l.inner);
      const float s = scales[c];
      const int32_t z = zi[c];
      for (; k < end; ++k) {
        const float xv = x[k];
        if (std::isnan(xv)) {
          // q8_quantize maps NaN to the zero point, which dequantizes to 0; y does not follow x.
          y[k] = float(0) * s;
          if (mask) mask[k] = 0;
          continue;
        }
        const float q = step(xv, s, z).q;
        if (mask) mask[k] = q >= lo && q <= hi;
        const float clamped = q < lo ? lo : (q > hi ? hi : q);
        y[k] = float(static_cast<int32_t>(clamped) - z) * s;  // q8_dequantize's one f32 multiply
      }
    }
  });
}

void ste_backward(const float *dy, const uint8_t *mask, std::size_t n, float *dx) {
  parallel_for(n, kGrain, kInlineBelow, [&](std::size_t b, std::size_t e) {
    // A select, not dy * mask: a clipped element passes no gradient, even an Inf or NaN one.
    for (std::size_t k = b; k < e; ++k) dx[k] = mask[k] ? dy[k] : 0.0f;
  });
}

void lsq_backward(const float *x, const float *dy, const Layout &l, const float *scales,
                  const float *zero_points, int32_t qmin, int32_t qmax, float grad_scale, float *dx,
                  float *dscales, float *dzero_points) {
  if (!dx && !dscales && !dzero_points) return;
  const std::size_t per_channel = l.outer * l.inner;
  const std::size_t pieces = (per_channel + kPiece - 1) / kPiece;
  const std::size_t tasks = l.channels * pieces;
  const std::vector<int32_t> zi = integer_zero_points(zero_points, l.channels, qmin, qmax);
  // Per piece, in double: sum of dy * (d y / d s) and the sum of dy over clipped elements.
  std::vector<double> part_s(tasks, 0.0), part_clipped(tasks, 0.0);
  const float lo = float(qmin), hi = float(qmax);
  const std::size_t task_size = std::min(per_channel, kPiece);
  parallel_for(tasks, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(task_size, 1)),
               l.numel() < kInlineBelow ? SIZE_MAX : 2, [&](std::size_t t0, std::size_t t1) {
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t c = t / pieces, first = (t % pieces) * kPiece;
      const std::size_t last = std::min(per_channel, first + kPiece);
      const float s = scales[c];
      const int32_t z = zi[c];
      double sum_s = 0.0, sum_clipped = 0.0;
      // Element number k of channel c is (o, i) = (k / inner, k % inner).
      std::size_t o = first / l.inner, i = first % l.inner;
      for (std::size_t k = first; k < last; ++o, i = 0) {
        const std::size_t run = std::min(l.inner - i, last - k);
        const std::size_t base = (o * l.channels + c) * l.inner + i;
        for (std::size_t j = base; j < base + run; ++j) {
          const float xv = x[j], d = dy[j];  // read before dx[j] is written: dx may alias x or dy
          if (std::isnan(xv)) {
            // The forward's output is the constant 0 here: no gradient to x, s or z.
            if (dx) dx[j] = 0.0f;
            continue;
          }
          const Step st = step(xv, s, z);
          if (st.q >= lo && st.q <= hi) {
            // Inside: y = round(x/s) * s; d y / d s = round(x/s) - x/s (an exact f32 difference).
            sum_s += double(d) * (double(st.rounded) - double(st.v));
            if (dx) dx[j] = d;
          } else {
            // Clipped: y = (qmin or qmax - zi) * s; d y / d z = -s through the rounded zi.
            sum_s += double(d) * double((st.q < lo ? qmin : qmax) - z);
            sum_clipped += double(d);
            if (dx) dx[j] = 0.0f;
          }
        }
        k += run;
      }
      part_s[t] = sum_s;
      part_clipped[t] = sum_clipped;
    }
  });
  for (std::size_t c = 0; c < l.channels; ++c) {
    double sum_s = 0.0, sum_clipped = 0.0;
    for (std::size_t p = 0; p < pieces; ++p) {
      sum_s += part_s[c * pieces + p];
      sum_clipped += part_clipped[c * pieces + p];
    }
    if (dscales) dscales[c] = float(double(grad_scale) * sum_s);
    if (dzero_points) dzero_points[c] = float(-double(grad_scale) * double(scales[c]) * sum_clipped);
  }
}

}  // namespace q8::qat
