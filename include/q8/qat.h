/* q8 quantization-aware training: the exact quantization math a training loop calls, so that what
 * is trained is bit for bit what the INT8 runtime later runs. q8 is not a training framework: it
 * gives the forward fake quantization, the straight-through and LSQ/LSQ+ gradients and
 * BatchNorm folding over plain f32 arrays; the framework (PyTorch through q8.torch, or any other)
 * owns the parameters, the optimizer and autograd.
 *
 * Layout: an array of outer * channels * inner elements, element (o, c, i) at
 * (o * channels + c) * inner + i, with one scale and zero point per channel c. Per tensor is
 * channels = 1 (outer = 1, inner = n); a Linear weight [out, in] per output channel is outer = 1,
 * channels = out, inner = in; a Conv weight OIHW is outer = 1, channels = O, inner = I*H*W.
 *
 * Fake quantization of x with scale s > 0 and zero point z (a real number, learnable; the forward
 * uses zi = round_half_even(z) clamped to [qmin, qmax], the integer the runtime stores):
 *     q = round_half_even(x / s) + zi        (x / s one IEEE f32 division, as q8_quantize)
 *     y = (clamp(q, qmin, qmax) - zi) * s    (one f32 multiply, as q8_dequantize)
 * so y is exactly q8_dequantize(q8_quantize(x)) for the same parameters. mask = 1 where
 * qmin <= q <= qmax (the value was not clipped), else 0.
 *
 * Gradients (with dy the loss gradient at y; the estimators PyTorch's fake-quant modules use):
 *     STE:   dx = dy * mask
 *     LSQ:   ds = g * sum over the channel of dy * (inside ? round(x/s) - x/s : clipped - zi),
 *            where clipped is qmin or qmax (Esser et al. 2020, "Learned Step Size Quantization")
 *     LSQ+:  dz = g * sum over the channel of dy * (inside ? 0 : -s)
 *            (Bhalgat et al. 2020; z learnable, rounded in the forward with a straight-through)
 * g is the caller's gradient scale (LSQ's 1 / sqrt(inner * outer * qmax); 1 for none). These are
 * the exact derivatives of the surrogate in which each rounding is the identity plus a constant
 * frozen at the evaluation point, which is how the tests check them against finite differences.
 *
 * Errors: NULL arrays (with a non-zero size), a scale not finite and > 0, a zero point that is
 * not finite, bits outside [2, 8], qmin > qmax or outside [-128, 255] are Q8_ERR_INVALID_ARGUMENT;
 * outer * channels * inner overflowing is Q8_ERR_SHAPE. Results depend on nothing but the inputs
 * (not the ISA or the thread count). */
#ifndef Q8_QAT_H
#define Q8_QAT_H

#include "q8/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The integer range of a bit width: symmetric (signed, zero point 0) is [-(2^(bits-1) - 1),
 * 2^(bits-1) - 1] when narrow (the INT8 weight convention: [-127, 127]; [-7, 7] at 4 bits), else
 * [-2^(bits-1), 2^(bits-1) - 1]; asymmetric (unsigned) is [0, 2^bits - 1]. bits in [2, 8]. */
Q8_API q8_status q8_qat_range(int bits, int symmetric, int narrow, int32_t *qmin, int32_t *qmax);

/* Scale and zero point for the ranges [mins[c], maxs[c]] (finite, min <= max, each widened to
 * include 0) on [qmin, qmax] (qmin < qmax): symmetric when qmin == -qmax (scale =
 * max(|min|, |max|) / qmax, zero point 0), otherwise asymmetric (scale = (max - min) /
 * (qmax - qmin), zero point = qmin - round(min / scale) clamped to the range). An all-zero range
 * gets scale 1. At 8 bits these are exactly q8_qparams_from_range's parameters for the matching
 * scheme. */
Q8_API q8_status q8_qat_qparams(const float *mins, const float *maxs, size_t channels, int32_t qmin,
                                int32_t qmax, float *scales, float *zero_points);

/* Forward fake quantization (above). zero_points may be NULL (all 0); mask may be NULL (not
 * written) or holds outer * channels * inner bytes. y may alias x. */
Q8_API q8_status q8_qat_fake_quantize(const float *x, size_t outer, size_t channels, size_t inner,
                                      const float *scales, const float *zero_points, int32_t qmin,
                                      int32_t qmax, float *y, uint8_t *mask);

/* Straight-through estimator: dx = dy * mask (n elements). dx may alias dy. */
Q8_API q8_status q8_qat_ste_backward(const float *dy, const uint8_t *mask, size_t n, float *dx);

/* The LSQ / LSQ+ backward in one pass: dx (STE), and per channel d scale and d zero point
 * (above), each multiplied by grad_scale. Any of dx, dscales, dzero_points may be NULL to skip
 * it. zero_points may be NULL (all 0). */
Q8_API q8_status q8_qat_lsq_backward(const float *x, const float *dy, size_t outer, size_t channels,
                                     size_t inner, const float *scales, const float *zero_points,
                                     int32_t qmin, int32_t qmax, float grad_scale, float *dx,
                                     float *dscales, float *dzero_points);

/* BatchNorm folded into the layer before it, per output channel c (weights [channels,
 * per_channel] row-major, e.g. a Linear [out, in] or a Conv OIHW):
 *     f[c]  = gamma[c] / sqrt(var[c] + eps)
 *     w'[c] = w[c] * f[c]
 *     b'[c] = (b[c] - mean[c]) * f[c] + beta[c]      (b = 0 when bias is NULL)
 * in double, stored f32 (what q8's ONNX import does when it folds BatchNormalization, so a folded
 * export and q8's own fold agree). Writes folded_weights and folded_bias (channels entries);
 * they may alias weights and bias. eps >= 0, var[c] + eps > 0. */
Q8_API q8_status q8_qat_fold_batchnorm(const float *weights, const float *bias, size_t channels,
                                       size_t per_channel, const float *gamma, const float *beta,
                                       const float *mean, const float *var, float eps,
                                       float *folded_weights, float *folded_bias);

/* Its gradients (mean and var are running statistics: constants), from the gradients at the
 * folded weights and bias: dw = dw' * f, db = db' * f, dbeta = db',
 * dgamma[c] = (sum_j dw'[c,j] * w[c,j] + db'[c] * (b[c] - mean[c])) / sqrt(var[c] + eps).
 * Any output may be NULL to skip it (dbias needs bias != NULL only for b in dgamma: NULL = 0). */
Q8_API q8_status q8_qat_fold_batchnorm_backward(const float *weights, const float *bias,
                                                size_t channels, size_t per_channel,
                                                const float *gamma, const float *mean,
                                                const float *var, float eps,
                                                const float *dfolded_weights,
                                                const float *dfolded_bias, float *dweights,
                                                float *dbias, float *dgamma, float *dbeta);

#ifdef __cplusplus
}
#endif
#endif /* Q8_QAT_H */
