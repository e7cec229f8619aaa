// Helpers of the quantized operator kernels (kernels_quant_*.cpp): reading scale and zero-point
// inputs (ONNX passes them as tensors, usually constant), the registration functions, and views.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qops/qops.hpp"
#include "runtime/kernel.hpp"

namespace q8::rt::qk {

void register_qdq_kernels();          // QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, ai.q8 DequantizeBlockwise
void register_matmul_kernels();       // QLinearMatMul, MatMulInteger, QGemm, DynamicGemm
void register_conv_kernels();         // QLinearConv, ConvInteger, DynamicConv
void register_elementwise_kernels();  // QLinearAdd, QLinearMul, QLinearSigmoid, QLinearTanh, QLinearConcat
void register_pool_kernels();         // QLinearGlobalAveragePool, QLinearAveragePool

template <class K>
std::unique_ptr<Kernel> make(const model::Node &node) {
  return std::make_unique<K>(node);
}

// Whether input i is absent or constant (its value is known at prepare()).
bool known(const NodeContext &ctx, std::size_t i);
bool present(const NodeContext &ctx, std::size_t i);

// Scale input i: f32 with 1 element, or `n` elements when n > 1 (a 1-D per-axis scale); each
// finite and > 0. Throws naming the node and `what`.
std::vector<float> read_scales(const NodeContext &ctx, std::size_t i, const char *what, int64_t n);
// Zero-point input i (optional: absent means `count` zeros): `count` elements (or 1, repeated)
// of dtype `dt` (absent: any); returned as int32.
std::vector<int32_t> read_zero_points(const NodeContext &ctx, std::size_t i, const char *what, q8_dtype dt,
                                      std::size_t count);
// The dtype of zero-point input i, or `def` when it is absent.
q8_dtype zero_point_dtype(const NodeContext &ctx, std::size_t i, q8_dtype def);
// Per-tensor (scale, zero point) from inputs si and zi, the zero point of dtype dt.
qops::Affine read_affine(const NodeContext &ctx, std::size_t si, std::size_t zi, const char *what, q8_dtype dt);

void require_8bit(const NodeContext &ctx, const q8_tensor &t, const char *what);
void set_qparams(q8_tensor *t, qops::Affine p);

// A borrowed header over t's data (no qparams; never frees).
void make_view(const q8_tensor &t, q8_tensor &view);

// u8 weights as s8: w - 128 with zero points - 128 is the same difference w - zw, which is all the
// integer accumulator sees. dst has n entries.
void u8_to_s8(const uint8_t *src, int8_t *dst, std::size_t n);

}  // namespace q8::rt::qk
