// Human-readable and JSON descriptions of a graph (q8_model_describe, `q8 inspect`).
#pragma once
#include <string>

#include "model/graph.hpp"

namespace q8::model {
std::string describe_text(const Graph &g);
std::string describe_json(const Graph &g);
// "f32", "int8", "int8 dynamic", "weights int8": what precision a node computes in.
std::string node_precision(const Graph &g, const Node &n);
}  // namespace q8::model
