// Model-level pruning: q8_model_prune and the prune step of q8_model_quantize.
#pragma once
#include <set>
#include <string>

#include "model/graph.hpp"
#include "q8/prune.h"

namespace q8::ptq {

// A copy of g with every f32 layer weight (model/weights.hpp) pruned, per layer or by one
// global ranking.
// Weights of nodes named in keep_dense are left as they are.
model::Graph prune(const model::Graph &g, const q8_prune_options *options, bool global,
                   const std::set<std::string> &keep_dense);

}  // namespace q8::ptq
