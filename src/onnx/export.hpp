// ONNX export in QDQ form: a q8 model becomes an opset-13 ONNX model of standard operators only.
// Quantized operators become DequantizeLinear -> the float operator -> QuantizeLinear (the form
// ONNX Runtime's and TensorRT's quantization tools write), f32 operators stay, and the int64
// configuration inputs the importer folded into attributes become inputs again. docs/ONNX.md
// ("ONNX export (QDQ)") has the mapping and what is refused.
#pragma once
#include <string>

#include "model/graph.hpp"

namespace q8::onnx {

// The serialized ModelProto, after onnx::checker::check_model and ONNX's strict type inference
// passed on it. Throws q8::Error: Q8_ERR_UNSUPPORTED naming the node and operator that has no
// opset-13 QDQ form (or a model above protobuf's 2 GiB), Q8_ERR_INTERNAL with the checker's
// message when the result does not check (a bug in the exporter).
std::string export_onnx(const model::Graph &g);

// The same written atomically to `path` (format/atomic_file.hpp); Q8_ERR_IO if it cannot be.
void export_onnx_file(const model::Graph &g, const char *path);

}  // namespace q8::onnx
