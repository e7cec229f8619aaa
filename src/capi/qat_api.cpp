// q8_qat_* entry points: C arguments checked (every array, parameter and size before any output
// is written) and handed to src/qat.
#include "q8/qat.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "capi/guard.hpp"
#include "qat/qat.hpp"

using namespace q8;

namespace {

// %g rather than std::to_string, which prints 1e-40 as "0.000000".
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string at(const char *name, std::size_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; }

// A NULL array is an error only when it has elements to read or write.
void check_array(const void *p, std::size_t count, const char *name) {
  Q8_CHECK_ARG(p != nullptr || count == 0, std::string(name) + " is NULL");
}

void check_qrange(int32_t qmin, int32_t qmax) {
  Q8_CHECK_ARG(qmin >= -128 && qmin <= 255, "qmin = " + std::to_string(qmin) + " is outside [-128, 255]");
  Q8_CHECK_ARG(qmax >= -128 && qmax <= 255, "qmax = " + std::to_string(qmax) + " is outside [-128, 255]");
  Q8_CHECK_ARG(qmin <= qmax,
               "qmin = " + std::to_string(qmin) + " is greater than qmax = " + std::to_string(qmax));
}

// a * b, or Q8_ERR_SHAPE if the product (or its f32 byte count) does not fit.
std::size_t checked_mul(std::size_t a, std::size_t b, const std::string &what) {
  if (a != 0 && b > SIZE_MAX / a) fail(Q8_ERR_SHAPE, what + " overflows size_t");
  return a * b;
}

qat::Layout checked_layout(std::size_t outer, std::size_t channels, std::size_t inner) {
  const std::string what = "outer * channels * inner = " + std::to_string(outer) + " * " +
                           std::to_string(channels) + " * " + std::to_string(inner);
  // Any zero makes the array empty, whatever the other sizes.
  if (outer == 0 || channels == 0 || inner == 0) return {outer, channels, inner};
  const std::size_t n = checked_mul(checked_mul(outer, channels, what), inner, what);
  if (n > std::size_t(PTRDIFF_MAX) / sizeof(float)) fail(Q8_ERR_SHAPE, what + " is too many f32 elements");
  return {outer, channels, inner};
}

void check_count(std::size_t n, const char *name) {
  if (n > std::size_t(PTRDIFF_MAX) / sizeof(float))
    fail(Q8_ERR_SHAPE, std::string(name) + " = " + std::to_string(n) + " is too many f32 elements");
}

void check_scales(const float *scales, std::size_t channels) {
  for (std::size_t c = 0; c < channels; ++c)
    Q8_CHECK_ARG(std::isfinite(scales[c]) && scales[c] > 0.0f,
                 at("scales", c) + " = " + num(scales[c]) + " is not finite and > 0");
}

void check_zero_points(const float *zero_points, std::size_t channels) {
  if (!zero_points) return;  // NULL means all 0
  for (std::size_t c = 0; c < channels; ++c)
    Q8_CHECK_ARG(std::isfinite(zero_points[c]), at("zero_points", c) + " = " + num(zero_points[c]) + " is not finite");
}

// The parameters of a fake quantizer: per-channel scales and zero points, and its integer range.
void check_quantizer(const float *scales, const float *zero_points, std::size_t channels, int32_t qmin,
                     int32_t qmax) {
  check_array(scales, channels, "scales");
  check_qrange(qmin, qmax);
  check_scales(scales, channels);
  check_zero_points(zero_points, channels);
}

// BatchNorm: sizes, eps and var[c] + eps > 0 (both in double, as the fold computes it).
std::size_t check_batchnorm(std::size_t channels, std::size_t per_channel, const float *var, float eps) {
  const std::size_t n = checked_mul(channels, per_channel, "channels * per_channel = " + std::to_string(channels) +
                                                               " * " + std::to_string(per_channel));
  check_count(n, "channels * per_channel");
  Q8_CHECK_ARG(std::isfinite(eps) && eps >= 0.0f, "eps = " + num(eps) + " is not finite and >= 0");
  check_array(var, channels, "var");
  for (std::size_t c = 0; c < channels; ++c) {
    const double d = double(var[c]) + double(eps);
    Q8_CHECK_ARG(std::isfinite(d) && d > 0.0, at("var", c) + " + eps = " + num(d) + " is not finite and > 0");
  }
  return n;
}

}  // namespace

extern "C" {

q8_status q8_qat_range(int bits, int symmetric, int narrow, int32_t *qmin, int32_t *qmax) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(qmin);
    Q8_CHECK_NOT_NULL(qmax);
    Q8_CHECK_ARG(bits >= 2 && bits <= 8, "bits = " + std::to_string(bits) + " is outside [2, 8]");
    int32_t lo, hi;
    qat::range(bits, symmetric != 0, narrow != 0, lo, hi);
    *qmin = lo;
    *qmax = hi;
  });
}

q8_status q8_qat_qparams(const float *mins, const float *maxs, size_t channels, int32_t qmin, int32_t qmax,
                         float *scales, float *zero_points) {
  return guard(__func__, [&] {
    check_array(mins, channels, "mins");
    check_array(maxs, channels, "maxs");
    check_array(scales, channels, "scales");
    check_array(zero_points, channels, "zero_points");
    check_qrange(qmin, qmax);
    // One level has no step to choose.
    Q8_CHECK_ARG(qmin < qmax, "qmin = " + std::to_string(qmin) + " must be less than qmax = " +
                                  std::to_string(qmax) + " to choose a scale");
    for (size_t c = 0; c < channels; ++c) {
      Q8_CHECK_ARG(std::isfinite(mins[c]), at("mins", c) + " = " + num(mins[c]) + " is not finite");
      Q8_CHECK_ARG(std::isfinite(maxs[c]), at("maxs", c) + " = " + num(maxs[c]) + " is not finite");
      Q8_CHECK_ARG(mins[c] <= maxs[c], at("mins", c) + " = " + num(mins[c]) + " is greater than " +
                                           at("maxs", c) + " = " + num(maxs[c]));
    }
    qat::qparams(mins, maxs, channels, qmin, qmax, scales, zero_points);
  });
}

q8_status q8_qat_fake_quantize(const float *x, size_t outer, size_t channels, size_t inner, const float *scales,
                               const float *zero_points, int32_t qmin, int32_t qmax, float *y, uint8_t *mask) {
  return guard(__func__, [&] {
    const qat::Layout l = checked_layout(outer, channels, inner);
    check_array(x, l.numel(), "x");
    check_array(y, l.numel(), "y");
    check_quantizer(scales, zero_points, channels, qmin, qmax);
    qat::fake_quantize(x, l, scales, zero_points, qmin, qmax, y, mask);
  });
}

q8_status q8_qat_ste_backward(const float *dy, const uint8_t *mask, size_t n, float *dx) {
  return guard(__func__, [&] {
    check_count(n, "n");
    check_array(dy, n, "dy");
    check_array(mask, n, "mask");
    check_array(dx, n, "dx");
    qat::ste_backward(dy, mask, n, dx);
  });
}

q8_status q8_qat_lsq_backward(const float *x, const float *dy, size_t outer, size_t channels, size_t inner,
                              const float *scales, const float *zero_points, int32_t qmin, int32_t qmax,
                              float grad_scale, float *dx, float *dscales, float *dzero_points) {
  return guard(__func__, [&] {
    const qat::Layout l = checked_layout(outer, channels, inner);
    check_array(x, l.numel(), "x");
    check_array(dy, l.numel(), "dy");
    check_quantizer(scales, zero_points, channels, qmin, qmax);
    qat::lsq_backward(x, dy, l, scales, zero_points, qmin, qmax, grad_scale, dx, dscales, dzero_points);
  });
}

q8_status q8_qat_fold_batchnorm(const float *weights, const float *bias, size_t channels, size_t per_channel,
                                const float *gamma, const float *beta, const float *mean, const float *var,
                                float eps, float *folded_weights, float *folded_bias) {
  return guard(__func__, [&] {
    const size_t n = check_batchnorm(channels, per_channel, var, eps);
    check_array(weights, n, "weights");
    check_array(folded_weights, n, "folded_weights");
    check_array(gamma, channels, "gamma");
    check_array(beta, channels, "beta");
    check_array(mean, channels, "mean");
    check_array(folded_bias, channels, "folded_bias");
    qat::fold_batchnorm(weights, bias, channels, per_channel, gamma, beta, mean, var, eps, folded_weights,
                        folded_bias);
  });
}

q8_status q8_qat_fold_batchnorm_backward(const float *weights, const float *bias, size_t channels,
                                         size_t per_channel, const float *gamma, const float *mean,
                                         const float *var, float eps, const float *dfolded_weights,
                                         const float *dfolded_bias, float *dweights, float *dbias,
                                         float *dgamma, float *dbeta) {
  return guard(__func__, [&] {
    const size_t n = check_batchnorm(channels, per_channel, var, eps);
    check_array(weights, n, "weights");
    check_array(dfolded_weights, n, "dfolded_weights");
    check_array(gamma, channels, "gamma");
    check_array(mean, channels, "mean");
    check_array(dfolded_bias, channels, "dfolded_bias");
    qat::fold_batchnorm_backward(weights, bias, channels, per_channel, gamma, mean, var, eps, dfolded_weights,
                                 dfolded_bias, dweights, dbias, dgamma, dbeta);
  });
}

}  // extern "C"
