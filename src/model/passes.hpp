// Graph passes that run after import (docs/ONNX.md describes each). Every pass keeps the graph
// valid (Graph::validate holds before and after) and leaves the model's results unchanged up to
// floating-point rounding (BatchNorm folding) or to what the fused quantized operator computes
// exactly as the Q/DQ pattern specifies (QDQ fusion).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model/graph.hpp"

namespace q8::model {

// Whether an operator (domain, op) can run; passes create only operators for which it holds.
using OpSupported = std::function<bool(const std::string &domain, const std::string &op)>;

// Removes Identity and Dropout (inference: identity) by rewiring their consumers. A node whose
// output is a graph output is removed only when its input can take the output's name (the input is
// produced by another node and is not itself a graph input or output); otherwise it stays.
void remove_identities(Graph &g);

// Folds BatchNormalization into the Conv or Gemm that produces its input, when that output feeds
// only the BatchNormalization and the weights, bias and BN parameters are f32 constants.
void fold_batchnorm(Graph &g);

// QDQ -> QOperator: DQ(x), DQ(W) -> Conv -> Q becomes QLinearConv, -> MatMul -> Q becomes
// QLinearMatMul, -> Gemm -> Q becomes com.microsoft QGemm, when the dequantized tensors have no
// other consumers and `supported` has the fused operator.
void fuse_qdq(Graph &g, const OpSupported &supported);

// All of the above in order, then drops values nothing refers to.
void run_import_passes(Graph &g, const OpSupported &supported);

// ---- helpers shared by the passes ----------------------------------------------------------

// For each value, the number of node inputs that read it (a node reading it twice counts twice).
std::vector<int> use_counts(const Graph &g);
// The index of the node producing value `id`, or -1.
int producer_of(const Graph &g, int id);
bool is_graph_output(const Graph &g, int id);
// Replaces every node input `from` with `to`.
void replace_uses(Graph &g, int from, int to);
// Removes the nodes whose flag is set, keeping the order of the rest.
void erase_nodes(Graph &g, const std::vector<char> &dead);
// Removes values that no node, graph input or graph output refers to, and reindexes.
void prune_values(Graph &g);
// A value name not yet in the graph, derived from `base`.
std::string fresh_name(const Graph &g, const std::string &base);
// Adds an f32/s8/u8/s32 constant of the given shape and bytes; returns its index.
int add_const(Graph &g, const std::string &base, q8_dtype dtype, std::vector<int64_t> shape,
              std::vector<uint8_t> bytes);

}  // namespace q8::model
