// What each node of a model costs, for partition plans: the constants (weights) it reads and its
// arithmetic at a given batch.
#pragma once
#include <cstdint>
#include <vector>

#include "model/graph.hpp"

namespace q8::partition {

// Every value's shape at one batch size, as the runtime infers it: a session prepared at that
// batch (kernels' prepare() are the one shape inference q8 has, so no second copy can disagree).
// known[id] is 0 for a value no node produces (an omitted optional output).
struct Shapes {
  std::vector<char> known;
  std::vector<std::vector<int64_t>> dims;
};
Shapes infer_shapes(const q8_model &model, int64_t batch);

// The distinct constants node k reads, in first-use order.
std::vector<int> constants_of(const model::Graph &g, std::size_t k);

// Multiply-adds x 2 of the matrix products (Conv, Gemm, MatMul and their quantized forms:
// QLinearConv, ConvInteger, DynamicConv, QLinearMatMul, MatMulInteger, QGemm, DynamicGemm); any
// other operator counts one per output element. Saturates at UINT64_MAX.
uint64_t node_flops(const model::Graph &g, std::size_t k, const Shapes &shapes);

// a + b and a * b, saturating at UINT64_MAX (costs of absurd models stay ordered, not wrapped).
uint64_t add_sat(uint64_t a, uint64_t b);
uint64_t mul_sat(uint64_t a, uint64_t b);

}  // namespace q8::partition
