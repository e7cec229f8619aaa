// q8_quantize / q8_dequantize / q8_requantize and parameter selection.
#include <cmath>
#include <string>
#include <vector>

#include "capi/guard.hpp"
#include "quant/convert.hpp"
#include "quant/params.hpp"

using namespace q8;

namespace {
// See enum_bits: validate the caller's bits before the value is used as a q8_scheme.
void check_scheme(const q8_scheme &scheme) {
  const int v = enum_bits(scheme);
  if (v < Q8_SCHEME_SYMMETRIC_NARROW || v > Q8_SCHEME_ASYMMETRIC_S8)
    fail(Q8_ERR_INVALID_ARGUMENT, "scheme = " + std::to_string(v) + " is not a q8_scheme");
}
}  // namespace

extern "C" {

q8_status q8_scheme_dtype(q8_scheme scheme, q8_dtype *out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(out);
    check_scheme(scheme);
    *out = quant::scheme_dtype(scheme);
  });
}

const char *q8_scheme_name(q8_scheme scheme) {
  const int v = enum_bits(scheme);
  return v >= Q8_SCHEME_SYMMETRIC_NARROW && v <= Q8_SCHEME_ASYMMETRIC_S8 ? quant::scheme_name(scheme) : "unknown";
}

q8_status q8_qparams_from_range(q8_scheme scheme, const float *mins, const float *maxs, size_t count,
                                float *scales, int32_t *zero_points) {
  return guard(__func__, [&] {
    check_scheme(scheme);
    if (count == 0) return;
    Q8_CHECK_NOT_NULL(mins);
    Q8_CHECK_NOT_NULL(maxs);
    Q8_CHECK_NOT_NULL(scales);
    Q8_CHECK_NOT_NULL(zero_points);
    for (size_t i = 0; i < count; ++i) {
      const std::string at = "[" + std::to_string(i) + "]";
      Q8_CHECK_ARG(std::isfinite(mins[i]), "mins" + at + " is not finite");
      Q8_CHECK_ARG(std::isfinite(maxs[i]), "maxs" + at + " is not finite");
      Q8_CHECK_ARG(mins[i] <= maxs[i], "mins" + at + " = " + std::to_string(mins[i]) + " is greater than maxs" +
                                           at + " = " + std::to_string(maxs[i]));
    }
    std::vector<quant::Affine> out(count);  // outputs are written only if every range succeeds
    for (size_t i = 0; i < count; ++i) out[i] = quant::qparams_from_range(scheme, mins[i], maxs[i]);
    for (size_t i = 0; i < count; ++i) {
      scales[i] = out[i].scale;
      zero_points[i] = out[i].zero_point;
    }
  });
}

q8_status q8_quantize(const q8_tensor *x, q8_tensor *y) {
  return guard(__func__, [&] { quant::quantize(deref(x, "x"), deref(y, "y")); });
}

q8_status q8_dequantize(const q8_tensor *q, q8_tensor *y) {
  return guard(__func__, [&] { quant::dequantize(deref(q, "q"), deref(y, "y")); });
}

q8_status q8_requantize(const q8_tensor *q, q8_tensor *y) {
  return guard(__func__, [&] { quant::requantize(deref(q, "q"), deref(y, "y")); });
}

}  // extern "C"
