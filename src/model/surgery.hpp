// Model surgery for transfer learning: cut a model down to what named tensors need (feature
// extraction), and feed another model (a head) from a model's tensors. Both build a new Graph;
// constants are copied as Values, whose Bytes share the weights (no byte is copied).
#pragma once
#include <string>
#include <vector>

#include "model/graph.hpp"

namespace q8::model {

// The values and nodes of g flagged in `values` / `nodes` (by index), in g's order, as a new
// graph without inputs or outputs (the caller states them); *map receives each value's new index
// (-1 where not kept). Every value a kept node reads or writes must be kept. Constants share their
// Bytes with g. Used by extract/append and by partition sub-models (src/partition/plan.cpp).
Graph copy_subset(const Graph &g, const std::vector<char> &values, const std::vector<char> &nodes,
                  std::vector<int> *map);

// A graph computing only the tensors named in `outputs` (its outputs, in this order): their
// producers and everything upstream; unused nodes, constants and inputs are dropped. A name is
// a computed tensor (graph input or node output). A name the graph lacks is looked up as
// "<name>_quantized", the name q8's static quantizer gives an activation's INT8 form. With
// `dequantize`, a u8/s8 output gets a DequantizeLinear with the parameters the graph states for
// it. Throws q8::Error: Q8_ERR_INVALID_ARGUMENT (no names, unknown name or a constant, a tensor
// named twice), Q8_ERR_UNSUPPORTED (a quantized output whose parameters the graph does not state).
Graph extract(const Graph &g, const std::vector<std::string> &outputs, bool dequantize);

// `head` fed from `base`: head input i reads base tensor connect[i] (resolved as extract does;
// an f32 head input connected by the FP32 name of an INT8 activation reads it dequantized). The
// result holds what the connected tensors need of base, then head's nodes and constants (names
// that base's part uses get the suffix "_head", "_head2", ...); its outputs are head's outputs.
// Throws Q8_ERR_INVALID_ARGUMENT (count, names), Q8_ERR_DTYPE / Q8_ERR_SHAPE naming both tensors.
Graph append(const Graph &base, const Graph &head, const std::vector<std::string> &connect);

}  // namespace q8::model
