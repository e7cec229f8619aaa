// BatchNorm folded into the preceding layer's weights and bias, and the fold's gradients. In
// double, stored f32, with the ONNX import's operation order (model/passes/batchnorm.cpp:
// f = gamma / sqrt(var + eps), b' = b * f + (beta - mean * f)), so both folds give the same bits.
#include <algorithm>
#include <cmath>

#include "core/runtime.hpp"
#include "qat/qat.hpp"

namespace q8::qat {
namespace {

constexpr std::size_t kGrain = 1 << 16;
constexpr std::size_t kInlineBelow = 1 << 17;

// Channels split into chunks of about kGrain weights; each channel's work stays on one thread.
template <class Body>
void per_channel_loop(std::size_t channels, std::size_t per_channel, Body body) {
  const std::size_t work = std::max<std::size_t>(per_channel, 1);
  parallel_for(channels, std::max<std::size_t>(1, kGrain / work), channels * work < kInlineBelow ? SIZE_MAX : 2,
               [&](std::size_t c0, std::size_t c1) {
                 for (std::size_t c = c0; c < c1; ++c) body(c);
               });
}

}  // namespace

void fold_batchnorm(const float *weights, const float *bias, std::size_t channels, std::size_t per_channel,
                    const float *gamma, const float *beta, const float *mean, const float *var, float eps,
                    float *folded_weights, float *folded_bias) {
  per_channel_loop(channels, per_channel, [&](std::size_t c) {
    // Every input of channel c is read before its outputs are written: outputs may alias inputs.
    const double f = double(gamma[c]) / std::sqrt(double(var[c]) + double(eps));
    const double b = bias ? double(bias[c]) : 0.0;
    const double shift = double(beta[c]) - double(mean[c]) * f;
    const float *w = weights + c * per_channel;
    float *wf = folded_weights + c * per_channel;
    for (std::size_t j = 0; j < per_channel; ++j) wf[j] = float(double(w[j]) * f);
    folded_bias[c] = float(b * f + shift);
  });
}

void fold_batchnorm_backward(const float *weights, const float *bias, std::size_t channels,
                             std::size_t per_channel, const float *gamma, const float *mean,
                             const float *var, float eps, const float *dfolded_weights,
                             const float *dfolded_bias, float *dweights, float *dbias, float *dgamma,
                             float *dbeta) {
  per_channel_loop(channels, per_channel, [&](std::size_t c) {
    const double root = std::sqrt(double(var[c]) + double(eps));
    const double f = double(gamma[c]) / root;
    const double b = bias ? double(bias[c]) : 0.0;
    const double db = dfolded_bias[c];
    const float *w = weights + c * per_channel;
    const float *dwf = dfolded_weights + c * per_channel;
    // d w'[c,j] / d gamma = w[c,j] / root and d b'[c] / d gamma = (b - mean) / root. The row's
    // sum is taken (in order, in double) before dweights, which may alias dfolded_weights, is written.
    double dot = 0.0;
    if (dgamma)
      for (std::size_t j = 0; j < per_channel; ++j) dot += double(dwf[j]) * double(w[j]);
    if (dweights) {
      float *dw = dweights + c * per_channel;
      for (std::size_t j = 0; j < per_channel; ++j) dw[j] = float(double(dwf[j]) * f);
    }
    if (dgamma) dgamma[c] = float((dot + db * (b - double(mean[c]))) / root);
    if (dbias) dbias[c] = float(db * f);
    if (dbeta) dbeta[c] = float(db);
  });
}

}  // namespace q8::qat
