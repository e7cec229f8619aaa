// Quantization-aware training over plain f32 arrays (include/q8/qat.h is the contract,
// docs/QAT.md the numerics). Arguments arrive checked by src/capi/qat_api.cpp: pointers non-NULL
// where their size is non-zero, scales finite and > 0, zero points finite, qmin <= qmax in
// [-128, 255], sizes that fit.
#pragma once
#include <cstddef>
#include <cstdint>

namespace q8::qat {

// Element (o, c, i) of an outer x channels x inner array is at (o * channels + c) * inner + i.
struct Layout {
  std::size_t outer, channels, inner;
  std::size_t numel() const noexcept { return outer * channels * inner; }
};

// [qmin, qmax] of a bit width (bits in [2, 8]).
void range(int bits, bool symmetric, bool narrow, int32_t &qmin, int32_t &qmax);

// Per-channel parameters from ranges; outputs written only once every channel succeeded.
void qparams(const float *mins, const float *maxs, std::size_t channels, int32_t qmin, int32_t qmax,
             float *scales, float *zero_points);

// The integer zero point the forward uses: round_half_even(z) clamped to [qmin, qmax].
int32_t integer_zero_point(float z, int32_t qmin, int32_t qmax) noexcept;

// zero_points and mask may be NULL; y may alias x.
void fake_quantize(const float *x, const Layout &l, const float *scales, const float *zero_points,
                   int32_t qmin, int32_t qmax, float *y, uint8_t *mask);

void ste_backward(const float *dy, const uint8_t *mask, std::size_t n, float *dx);

// zero_points, dx, dscales and dzero_points may be NULL; dx may alias x or dy.
void lsq_backward(const float *x, const float *dy, const Layout &l, const float *scales,
                  const float *zero_points, int32_t qmin, int32_t qmax, float grad_scale, float *dx,
                  float *dscales, float *dzero_points);

// weights [channels, per_channel]; bias may be NULL; outputs may alias their inputs.
void fold_batchnorm(const float *weights, const float *bias, std::size_t channels, std::size_t per_channel,
                    const float *gamma, const float *beta, const float *mean, const float *var, float eps,
                    float *folded_weights, float *folded_bias);

// bias and every output may be NULL; each output may alias the gradient it is computed from.
void fold_batchnorm_backward(const float *weights, const float *bias, std::size_t channels,
                             std::size_t per_channel, const float *gamma, const float *mean,
                             const float *var, float eps, const float *dfolded_weights,
                             const float *dfolded_bias, float *dweights, float *dbias, float *dgamma,
                             float *dbeta);

}  // namespace q8::qat
