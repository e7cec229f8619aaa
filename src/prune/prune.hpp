// Pruning inside q8: magnitude masks (include/q8/prune.h describes the patterns, the 2-D view and
// the tie rule), mask algebra and the gradual schedule. Everything here throws q8::Error; the C
// entry points (src/capi/prune_api.cpp) are thin wrappers, and other passes may call this directly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "q8/prune.h"

namespace q8::prune {

// The C options as a plain C++ struct, with the same defaults as q8_prune_options_init.
struct Options {
  q8_prune_pattern pattern = Q8_PRUNE_UNSTRUCTURED;
  double sparsity = 0.5;
  int32_t n = 2, m = 4;
  int64_t block_rows = 4, block_cols = 4;
  q8_prune_norm norm = Q8_PRUNE_NORM_L2;
};

// Reads C options: struct_size (shorter than the full struct or absurd: rejected), the enums'
// bits, then validate(). Errors name the field ("options->pattern = 99 ...").
Options read_options(const q8_prune_options &c);

// Throws Q8_ERR_INVALID_ARGUMENT unless every numeric field is in range, whatever the pattern:
// sparsity in [0, 1], 1 <= n <= m <= 64, block_rows and block_cols >= 1.
void validate(const Options &o);

// One weight tensor: F32 elements in row-major order and its shape (rank >= 1).
struct Weights {
  const float *data = nullptr;
  std::vector<int64_t> shape;
};

// A mask (1 = keep, 0 = prune) for the weights `w` of `shape`, one byte per element. Throws
// Q8_ERR_SHAPE when the shape does not fit the pattern (rank 0, cols not a multiple of m, rows or
// cols not multiples of the block), Q8_ERR_INVALID_ARGUMENT for NaN weights or bad options.
std::vector<uint8_t> mask(const float *w, const std::vector<int64_t> &shape, const Options &o);

// One ranking of |w| across all tensors, ties by (tensor, position): masks[i] for weights[i].
// Another pattern than UNSTRUCTURED is Q8_ERR_UNSUPPORTED.
std::vector<std::vector<uint8_t>> global_masks(const std::vector<Weights> &weights, const Options &o);

// Zeroes w[i] (to +0.0f) wherever mask[i] is 0; the mask has one byte per element.
void apply(float *w, const std::vector<uint8_t> &mask);

// Fraction of zeros: in a mask (pruned elements), in f32 weights (== 0.0f, either sign).
double sparsity(const std::vector<uint8_t> &mask);
double sparsity(const float *w, std::size_t n);

// ---- On tensors (the C API's semantics) -----------------------------------------------------

// Throws Q8_ERR_DTYPE unless `mask` is U8, Q8_ERR_INVALID_ARGUMENT if an element is not 0 or 1.
void check_mask(const q8_tensor &mask, const char *what);

// Pruned elements of F32 weights become 0.0f, of S8/U8 weights their zero point (0 without
// quantization parameters). The mask must have the weights' shape; nothing changes on error.
void apply(q8_tensor &weights, const q8_tensor &mask);

// dst = dst AND src, dst = dst OR src: two masks of one shape.
void mask_and(q8_tensor &dst, const q8_tensor &src);
void mask_or(q8_tensor &dst, const q8_tensor &src);

// Fraction of elements equal to real zero: 0.0f for F32, the zero point for integer tensors with
// quantization parameters, 0 for integer tensors without. 0 for an empty tensor.
double sparsity(const q8_tensor &t);

// Zhu & Gupta's cubic schedule (q8_prune_schedule_cubic); throws on arguments out of range.
double schedule_cubic(double initial, double final, int64_t begin, int64_t end, int64_t frequency,
                      int64_t step);

}  // namespace q8::prune
