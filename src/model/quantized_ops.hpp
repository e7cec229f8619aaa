// Where q8's quantizing operators keep the parameters of their output: the one table the importer's
// type inference, the QDQ passes and model surgery read (graph.hpp lists the operators).
#pragma once
#include <cstddef>
#include <cstdint>

#include "model/graph.hpp"

namespace q8::model {

struct OutputQParams {
  // The input holding y_scale; y_zero_point is the next one.
  std::size_t scale;
  // When y_zero_point is absent, the output has this input's element type; kDefaultU8: u8
  // (ONNX's default for QuantizeLinear, and the type QLinearConv/QLinearMatMul assume).
  std::size_t dtype_from;
  static constexpr std::size_t kDefaultU8 = SIZE_MAX;
};

// The layout for n's output, or nullptr when n is not an operator that computes a quantized output
// from scale/zero-point inputs (DynamicQuantizeLinear, whose parameters are outputs, is not one).
inline const OutputQParams *output_qparams(const Node &n) {
  struct Entry {
    const char *domain, *op;
    OutputQParams at;
  };
  static const Entry table[] = {
      {"", "QuantizeLinear", {1, OutputQParams::kDefaultU8}},
      {"", "QLinearConv", {6, OutputQParams::kDefaultU8}},
      {"", "QLinearMatMul", {6, OutputQParams::kDefaultU8}},
      {"com.microsoft", "QGemm", {7, 0}},
      {"com.microsoft", "QLinearAdd", {6, 0}},
      {"com.microsoft", "QLinearMul", {6, 0}},
      {"com.microsoft", "QLinearSigmoid", {3, 0}},
      {"ai.q8", "QLinearTanh", {3, 0}},
      {"com.microsoft", "QLinearGlobalAveragePool", {3, 0}},
      {"com.microsoft", "QLinearAveragePool", {3, 0}},
      {"com.microsoft", "QLinearConcat", {0, 2}},  // then (x, x_scale, x_zero_point) per input
  };
  for (const Entry &e : table)
    if (n.domain == e.domain && n.op == e.op) return &e.at;
  return nullptr;
}

}  // namespace q8::model
