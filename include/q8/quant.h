/* q8 quantization: choosing scale and zero point, and converting tensors between f32 and INT8.
 *
 * Numerics (bit-exact on every ISA path and every thread count; docs/NUMERICS.md has the details):
 *   quantize:    q = clamp(round_half_to_even(x / scale) + zero_point, qmin, qmax)
 *                x / scale is one IEEE-754 f32 division, as ONNX QuantizeLinear specifies.
 *                NaN -> zero_point, +Inf -> qmax, -Inf -> qmin.
 *   dequantize:  x = (float)(q - zero_point) * scale          (one f32 multiply)
 *   requantize:  quantize(dequantize(q, s1, z1), s2, z2)       (the composition, exactly)
 */
#ifndef Q8_QUANT_H
#define Q8_QUANT_H

#include "q8/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a real range [min, max] maps to integers. Every scheme first widens the range to include 0,
 * so that 0.0 is exactly representable (padding, ReLU outputs). */
typedef enum q8_scheme {
  /* s8 in [-127, 127], zero point 0, scale = max(|min|, |max|) / 127.
   * ONNX Runtime and TFLite weights; keeps -x representable for every x. */
  Q8_SCHEME_SYMMETRIC_NARROW = 0,
  /* s8 in [-128, 127], zero point 0, scale = max(|min|, |max|) / 127.5 (PyTorch's symmetric qint8). */
  Q8_SCHEME_SYMMETRIC = 1,
  /* u8 in [0, 255], scale = (max - min) / 255, zero point = round(-min / scale) (activations). */
  Q8_SCHEME_ASYMMETRIC_U8 = 2,
  /* s8 in [-128, 127], scale = (max - min) / 255, zero point = -128 + round(-min / scale). */
  Q8_SCHEME_ASYMMETRIC_S8 = 3
} q8_scheme;

/* The dtype a scheme quantizes to (Q8_DTYPE_S8 or Q8_DTYPE_U8). */
Q8_API q8_status q8_scheme_dtype(q8_scheme scheme, q8_dtype *out);
Q8_API const char *q8_scheme_name(q8_scheme scheme);

/* Scale and zero point for `count` ranges [mins[i], maxs[i]] (count 1 for per-tensor). Ranges must
 * be finite with min <= max. A range that is all zero gets scale 1.0; otherwise the scale is at least
 * FLT_EPSILON (as PyTorch's observers), so no scale is ever 0. Zero points round half to even. */
Q8_API q8_status q8_qparams_from_range(q8_scheme scheme, const float *mins, const float *maxs,
                                       size_t count, float *scales, int32_t *zero_points);

/* x (f32) -> y (s8, u8 or s32), using y's quantization parameters (per-tensor or per-axis), which
 * must be set. Same element count; shapes must match exactly when y is per-axis. s32 targets (bias)
 * need zero point 0 and are computed in double: q = clamp(round_half_even((double)x / scale)). */
Q8_API q8_status q8_quantize(const q8_tensor *x, q8_tensor *y);

/* q (s8, u8 or s32, with parameters) -> y (f32). Same element count (shapes match if per-axis). */
Q8_API q8_status q8_dequantize(const q8_tensor *q, q8_tensor *y);

/* q (s8 or u8, with parameters) -> y (s8 or u8, with its own parameters): new scale, zero point
 * or dtype. Exactly quantize(dequantize(q)), element by element. */
Q8_API q8_status q8_requantize(const q8_tensor *q, q8_tensor *y);

#ifdef __cplusplus
}
#endif
#endif /* Q8_QUANT_H */
