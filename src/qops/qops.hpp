// Quantized operators on raw quantization parameters, shared by the public q8_q* entry points
// (capi/qops_api.cpp) and the runtime's quantized kernels (runtime/kernels_quant_*.cpp).
// include/q8/qops.h and docs/QUANTIZED_OPS.md state the numerics; everything here assumes valid
// arguments (callers check dtypes, shapes and parameters first).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "gemm/gemm.hpp"

namespace q8::qops {

struct Affine {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// ---- element-wise ------------------------------------------------------------------------

// The numpy broadcast of two shapes; throws Q8_ERR_SHAPE naming `what` when they do not broadcast.
std::vector<int64_t> broadcast_shape(const int64_t *a, std::size_t ra, const int64_t *b, std::size_t rb,
                                     const char *what);

enum class Binary { kAdd, kMul };
// y = quantize(dequantize(a) OP dequantize(b)) with numpy broadcasting (y has the broadcast shape).
// a, b, y: u8 or s8 each.
void binary(Binary op, const q8_tensor &a, Affine pa, const q8_tensor &b, Affine pb, q8_tensor &y, Affine py);

enum class Unary { kIdentity, kRelu, kSigmoid, kTanh, kScale };
// table[v] (v the u8 value, or the s8 value + 128) = quantize(f(dequantize(v))); `c` is the
// constant of kScale.
void build_table(Unary f, float c, q8_dtype in, Affine pin, q8_dtype out, Affine pout, uint8_t table[256]);
// y[i] = table[x[i]] over x.numel elements (u8/s8 in, u8/s8 out).
void apply_table(const uint8_t table[256], const q8_tensor &x, q8_tensor &y);

// Quantize one f32 with q8_quantize's numerics (f32 division, half to even, saturation, NaN -> zp).
uint8_t quantize_byte(float x, q8_dtype dtype, Affine p);

// ---- GEMM and convolution epilogues -----------------------------------------------------

// The output stage of a quantized GEMM/conv with n output columns:
//   out u8/s8: REQUANTIZE_FLOAT, scale_j = fl(fl(fl(alpha * sa) * sb[j]) / y.scale), zero point y
//   out f32:   DEQUANTIZE,       scale_j = fl(fl(alpha * sa) * sb[j])
//   out s32:   S32
// sb has 1 or n entries; bias NULL or n entries (borrowed: must outlive the epilogue's use).
gemm::Epilogue make_epilogue(q8_dtype out, float alpha, float sa, const float *sb, std::size_t sb_count,
                             Affine y, const int32_t *bias, int64_t n);

// ---- dynamic quantization ---------------------------------------------------------------

// ONNX DynamicQuantizeLinear's parameters for n floats (u8): range widened to include 0,
// scale = (max - min) / 255 in f32 (1 if max == min), zero point = round_half_even(clamp(0 - min
// / scale, 0, 255)). NaN elements are skipped; an infinite element is Q8_ERR_INVALID_ARGUMENT
// naming `what`.
Affine dynamic_qparams(const float *x, std::size_t n, const char *what);

}  // namespace q8::qops
