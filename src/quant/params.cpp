#include "quant/params.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "quant/kernels/reference.hpp"

namespace q8::quant {

bool scheme_valid(q8_scheme scheme) noexcept {
  return scheme >= Q8_SCHEME_SYMMETRIC_NARROW && scheme <= Q8_SCHEME_ASYMMETRIC_S8;
}

q8_dtype scheme_dtype(q8_scheme scheme) {
  if (!scheme_valid(scheme))
    fail(Q8_ERR_INVALID_ARGUMENT, "scheme = " + std::to_string(int(scheme)) + " is not a q8_scheme");
  return scheme == Q8_SCHEME_ASYMMETRIC_U8 ? Q8_DTYPE_U8 : Q8_DTYPE_S8;
}

const char *scheme_name(q8_scheme scheme) noexcept {
  switch (scheme) {
    case Q8_SCHEME_SYMMETRIC_NARROW: return "symmetric_narrow";
    case Q8_SCHEME_SYMMETRIC: return "symmetric";
    case Q8_SCHEME_ASYMMETRIC_U8: return "asymmetric_u8";
    case Q8_SCHEME_ASYMMETRIC_S8: return "asymmetric_s8";
  }
  return "unknown";
}

Affine symmetric_from_range(float min, float max, float divisor) {
  // Widen to include 0 so that 0.0 quantizes exactly (padding, ReLU).
  const float lo = std::min(min, 0.0f), hi = std::max(max, 0.0f);
  // Arithmetic in f32, as PyTorch's observers, so the same range gives the same parameters.
  const float amax = std::max(-lo, hi);
  if (amax == 0.0f) return {1.0f, 0};
  return {std::max(amax / divisor, FLT_EPSILON), 0};
}

Affine asymmetric_from_range(float min, float max, int32_t qmin, int32_t qmax) {
  const float lo = std::min(min, 0.0f), hi = std::max(max, 0.0f);
  if (hi == lo) return {1.0f, qmin};
  const float width = hi - lo;
  if (!std::isfinite(width))
    fail(Q8_ERR_INVALID_ARGUMENT, "the range [" + std::to_string(min) + ", " + std::to_string(max) +
                                      "] is too wide for a finite f32 scale");
  const float scale = std::max(width / float(qmax - qmin), FLT_EPSILON);
  const float zp = float(qmin) - round_half_even(lo / scale);
  return {scale, static_cast<int32_t>(std::min(std::max(zp, float(qmin)), float(qmax)))};
}

Affine qparams_from_range(q8_scheme scheme, float min, float max) {
  switch (scheme) {
    case Q8_SCHEME_SYMMETRIC_NARROW: return symmetric_from_range(min, max, 127.0f);
    case Q8_SCHEME_SYMMETRIC: return symmetric_from_range(min, max, 127.5f);
    case Q8_SCHEME_ASYMMETRIC_U8: return asymmetric_from_range(min, max, 0, 255);
    case Q8_SCHEME_ASYMMETRIC_S8: return asymmetric_from_range(min, max, -128, 127);
  }
  fail(Q8_ERR_INVALID_ARGUMENT, "scheme = " + std::to_string(int(scheme)) + " is not a q8_scheme");
}

}  // namespace q8::quant
