// A 64-bit fingerprint of a graph (FNV-1a over its structure, attributes and constant bytes): a
// calibration remembers the model it observed, so that merging it with, or quantizing from it,
// another model fails instead of silently mixing parameters.
#pragma once
#include <cstdint>

#include "model/graph.hpp"

namespace q8::calibration {

uint64_t fingerprint(const model::Graph &g);

}  // namespace q8::calibration
