/* q8 quantized operators: arithmetic directly on quantized tensors (u8 or s8 with quantization
 * parameters), the output requantized to the parameters of the output tensor.
 *
 * Conventions of this header:
 *  - Every operand, inputs and the caller-created output alike, carries its quantization
 *    parameters (q8_tensor_set_qparams); the output's scale and zero point say how the result is
 *    quantized. A missing set is Q8_ERR_STATE naming the tensor. Element-wise operators take
 *    per-tensor parameters only; q8_qmatmul and q8_qconv2d also take per-column / per-output-
 *    channel weight parameters.
 *  - The output has exactly the shape the operator produces (Q8_ERR_SHAPE otherwise) and must not
 *    share storage with an input. Empty tensors (a dimension of 0) are valid and write nothing.
 *  - Numerics are exact definitions, identical on every ISA path and thread count:
 *      dequantize(q) = (float)(q - zero_point) * scale                 (one f32 multiply)
 *      quantize(x)   = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)
 *                      (one f32 division; NaN -> zero_point; +-Inf saturate)
 *    exactly as q8_dequantize / q8_quantize (quant.h). docs/QUANTIZED_OPS.md relates each operator
 *    to the ONNX / ONNX Runtime operator it implements.
 */
#ifndef Q8_QOPS_H
#define Q8_QOPS_H

#include "q8/common.h"
#include "q8/conv.h"
#include "q8/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- element-wise ------------------------------------------------------------------------
 * a, b, x: u8 or s8; y: u8 or s8 (any combination). Binary operators broadcast as numpy does
 * (shapes aligned at the last dimension; each pair of dimensions equal or one of them 1) and y
 * must have the broadcast shape. Per element, all arithmetic in f32:
 *   q8_qadd:     y = quantize(dequantize(a) + dequantize(b))
 *   q8_qmul:     y = quantize(dequantize(a) * dequantize(b))
 *   q8_qscale:   y = quantize(dequantize(x) * c)              (c finite; any sign)
 *   q8_qrelu:    y = quantize(max(dequantize(x), 0))
 *   q8_qsigmoid: y = quantize((float)(1 / (1 + exp(-(double)dequantize(x)))))
 *   q8_qtanh:    y = quantize((float)tanh((double)dequantize(x)))
 * (the sigmoid and tanh are evaluated in double with the C library and rounded once to f32).
 * Unary operators compute this once per possible input byte (a 256-entry table built from the
 * scales) and then look every element up; binary operators dequantize each input byte through
 * a 256-entry f32 table. */
Q8_API q8_status q8_qadd(const q8_tensor *a, const q8_tensor *b, q8_tensor *y);
Q8_API q8_status q8_qmul(const q8_tensor *a, const q8_tensor *b, q8_tensor *y);
Q8_API q8_status q8_qscale(const q8_tensor *x, float c, q8_tensor *y);
Q8_API q8_status q8_qrelu(const q8_tensor *x, q8_tensor *y);
Q8_API q8_status q8_qsigmoid(const q8_tensor *x, q8_tensor *y);
Q8_API q8_status q8_qtanh(const q8_tensor *x, q8_tensor *y);

/* ---- matrix multiplication and convolution -----------------------------------------------
 * The integer accumulator is gemm.h's / conv.h's, with sa, za the activation's (per-tensor)
 * parameters and sw[j], zw[j] the weights' (per tensor, or one per output column / channel j):
 *     t = sum (x - za) * (w - zw[j]) + bias[j]           (int32, modulo 2^32)
 * then, by y's dtype:
 *   u8/s8: y = clamp(round_half_even((float)t * m[j]) + zy, qmin, qmax)
 *          with m[j] = (float)(sa * sw[j]) / sy: the product rounded to f32, then one f32
 *          division (ONNX Runtime's QLinearConv/QLinearMatMul order), then the GEMM's
 *          Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT
 *   f32:   y = (float)t * (float)(sa * sw[j])              (Q8_GEMM_EPILOGUE_DEQUANTIZE)
 * bias: NULL, or s32 with one element per output column / channel; it is added in the
 * accumulator's domain (its scale is sa * sw[j]); its own quantization parameters, if any, are
 * not read. */

/* a [M, K] u8 or s8, per-tensor parameters; b [K, N] s8, per tensor or per column (axis 1, N
 * entries); y [M, N] u8, s8 (per-tensor parameters) or f32 (no parameters). */
Q8_API q8_status q8_qmatmul(const q8_tensor *a, const q8_tensor *b, const q8_tensor *bias, q8_tensor *y);

/* NHWC convolution on q8_conv2d (conv.h: geometry, groups, padding as the input zero point):
 * x [N, H, W, C] u8 or s8, per tensor; w [O, kh, kw, C / groups] s8 (OHWI), per tensor or per
 * output channel (axis 0, O entries); y [N, OH, OW, O] u8/s8 (per tensor) or f32. options NULL =
 * defaults. */
Q8_API q8_status q8_qconv2d(const q8_conv2d_options *options, const q8_tensor *x, const q8_tensor *w,
                            const q8_tensor *bias, q8_tensor *y);

#ifdef __cplusplus
}
#endif
#endif /* Q8_QOPS_H */
