// Integer ranges of bit widths and the scale / zero point for a real range on them. The formulas
// are quant/params.cpp's (one code path), so 8-bit QAT parameters are exactly PTQ's.
#include <algorithm>
#include <vector>

#include "qat/qat.hpp"
#include "quant/kernels/reference.hpp"
#include "quant/params.hpp"

namespace q8::qat {

void range(int bits, bool symmetric, bool narrow, int32_t &qmin, int32_t &qmax) {
  if (symmetric) {
    const int32_t half = int32_t(1) << (bits - 1);
    qmin = narrow ? -(half - 1) : -half;
    qmax = half - 1;
  } else {
    qmin = 0;
    qmax = (int32_t(1) << bits) - 1;
  }
}

void qparams(const float *mins, const float *maxs, std::size_t channels, int32_t qmin, int32_t qmax,
             float *scales, float *zero_points) {
  // Symmetric exactly when the range is (narrow-)symmetric around 0: [-127, 127], [-7, 7], ...
  const bool symmetric = qmin == -qmax;
  std::vector<quant::Affine> out(channels);  // asymmetric_from_range may throw: write nothing then
  for (std::size_t c = 0; c < channels; ++c)
    out[c] = symmetric ? quant::symmetric_from_range(mins[c], maxs[c], float(qmax))
                       : quant::asymmetric_from_range(mins[c], maxs[c], qmin, qmax);
  for (std::size_t c = 0; c < channels; ++c) {
    scales[c] = out[c].scale;
    zero_points[c] = float(out[c].zero_point);
  }
}

int32_t integer_zero_point(float z, int32_t qmin, int32_t qmax) noexcept {
  const float r = quant::round_half_even(z);  // z is finite (checked at the API)
  return static_cast<int32_t>(std::min(std::max(r, float(qmin)), float(qmax)));
}

}  // namespace q8::qat
