// Helpers shared by the f32 and layout kernels (kernels_float_*.cpp, kernels_layout.cpp): input
// checks that name the node, window geometry for Conv and the pools, qparams passing, the
// OpenBLAS call, and the registration functions registry.cpp calls.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/kernel.hpp"

namespace q8::rt {

void register_float_gemm_kernels();           // Gemm, MatMul
void register_float_conv_kernels();           // Conv
void register_float_elementwise_kernels();    // Add, Mul, Relu, Clip, Sigmoid, Tanh
void register_float_pool_kernels();           // MaxPool, AveragePool, GlobalAveragePool
void register_float_normalization_kernels();  // Softmax, BatchNormalization
void register_layout_kernels();               // Flatten, Reshape, Transpose, Concat, Identity, Dropout

// The KernelFactory of a kernel class that needs nothing from the node at construction.
template <class K>
std::unique_ptr<Kernel> make_kernel(const model::Node &) {
  return std::make_unique<K>();
}

// Input `i` (throws naming the node when it is missing).
const q8_tensor &input(const NodeContext &ctx, std::size_t i, const char *what);
// Input `i`, or nullptr when it is omitted.
const q8_tensor *optional_input(const NodeContext &ctx, std::size_t i);
// Output `i` (throws naming the node when the graph omits it).
q8_tensor *output(NodeContext &ctx, std::size_t i, const char *what);
// Throws Q8_ERR_UNSUPPORTED naming the node if output `i` exists and is used.
void reject_output(const NodeContext &ctx, std::size_t i, const char *why);
void require_dtype(const NodeContext &ctx, const q8_tensor &t, q8_dtype dtype, const char *what);
std::vector<int64_t> dims(const q8_tensor &t);
std::string shape_string(const q8_tensor &t);

inline const float *f32(const q8_tensor &t) { return static_cast<const float *>(t.data); }
inline float *f32(q8_tensor *t) { return static_cast<float *>(t->data); }

// Sliding windows along one spatial axis (Conv and the pools): output i reads input positions
// i * stride - pad_begin + k * dilation for k < kernel.
struct Window {
  int64_t in = 0, kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0, out = 0;
};

// Reads kernel_shape (or `kernel` from the weights when the attribute is absent), strides,
// pads, dilations and auto_pad for `spatial` axes of `x` (N, C, spatial...), and computes the
// output sizes. ceil_mode: PyTorch's rule, which later ONNX opsets adopted: round up, but drop a
// last window that would start inside the end padding.
std::vector<Window> windows(const NodeContext &ctx, const q8_tensor &x, const std::vector<int64_t> &kernel,
                            bool allow_dilations, bool ceil_mode);

// Copies `from`'s qparams onto `to` (same rank; a per-axis axis must keep its length).
void pass_qparams(const NodeContext &ctx, const q8_tensor &from, q8_tensor *to);
// The same across a reshape: a per-axis axis survives if some output axis has the same length and
// the same product of dimensions before it; else Q8_ERR_UNSUPPORTED.
void pass_qparams_reshaped(const NodeContext &ctx, const q8_tensor &from, q8_tensor *to);

// Grain and inline threshold (elements) for parallel_for over cheap element-wise loops.
constexpr std::size_t kGrain = 1 << 14;
constexpr std::size_t kInlineBelow = 1 << 16;

}  // namespace q8::rt
