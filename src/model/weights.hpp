// The weights of a model's layers (Conv / Gemm / MatMul and their quantized forms) in prune.h's
// 2-D view rows = output channels x cols = reduction: what pruning masks, what the sparse GEMM
// multiplies, what describe and q8_model_weight_sparsity count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/graph.hpp"

namespace q8::model {

struct WeightRef {
  int value = -1;           // the constant's value index
  std::string node;         // the (first) node that uses it
  bool transposed = false;  // stored [K, N] (reduction first): the view is its transpose
  int64_t rows = 0, cols = 0;
};

// Constant weights of the graph's layers, each once (f32 ones only when f32_only).
std::vector<WeightRef> weights_of(const Graph &g, bool f32_only);

// Elements of the weight equal to real zero (f32 0, or the zero point of a quantized weight).
std::size_t zero_count(const Graph &g, const WeightRef &w);

// The fraction of zero elements over all layer weights, and their count.
double weight_sparsity(const Graph &g, std::size_t *elements);

// Between a weight's stored layout and its view (rows x cols, row-major): a transpose when the
// weight is stored [K, N], else a copy. Only w.transposed, w.rows and w.cols are read.
template <class T>
void to_view(const T *stored, const WeightRef &w, T *view) {
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c)
      view[r * w.cols + c] = w.transposed ? stored[c * w.rows + r] : stored[r * w.cols + c];
}
template <class T>
void from_view(const T *view, const WeightRef &w, T *stored) {
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c)
      (w.transposed ? stored[c * w.rows + r] : stored[r * w.cols + c]) = view[r * w.cols + c];
}

// The weight as rows x cols int8 in the view (s8 weights with zero point 0 only; else empty).
std::vector<int8_t> s8_view(const Graph &g, const WeightRef &w);

}  // namespace q8::model
