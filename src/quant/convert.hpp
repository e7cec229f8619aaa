// Tensor-level quantize / dequantize / requantize: shape and parameter checks, the per-axis walk,
// and the split of large tensors across threads. The arithmetic is in kernels/.
#pragma once
#include "core/tensor.hpp"

namespace q8::quant {

void quantize(const q8_tensor &x, q8_tensor &y);
void dequantize(const q8_tensor &q, q8_tensor &y);
void requantize(const q8_tensor &q, q8_tensor &y);

}  // namespace q8::quant
