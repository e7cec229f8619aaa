// q8 export: a model (.q8 or .onnx, FP32 or quantized) as an ONNX file in QDQ form, for ONNX
// Runtime, TensorRT and other ONNX tools.
#include <cstdio>

#include "commands.hpp"
#include "model_io.hpp"

namespace q8cli {

int cmd_export(int argc, char **argv) {
  Args a("export", argc, argv, {}, {});
  if (a.help()) {
    std::printf("usage: q8 export MODEL OUT.onnx\n"
                "  Writes MODEL (.q8 or .onnx) as ONNX opset 13 in QDQ form: each quantized operator\n"
                "  becomes DequantizeLinear -> the float operator -> QuantizeLinear, dynamic ones\n"
                "  DynamicQuantizeLinear -> DequantizeLinear -> the float operator; f32 operators stay.\n"
                "  Standard operators only (runs in ONNX Runtime); q8 loads it back into the same\n"
                "  quantized operators. The file is replaced atomically. docs/ONNX.md has the mapping.\n");
    return 0;
  }
  if (a.positional().size() != 2) usage_error("export: give the model and the output .onnx path");
  const std::string &in = a.positional()[0], &out = a.positional()[1];
  Model m = load_model(in);
  Q8_CHECK(q8_model_export_onnx(m.get(), out.c_str()));
  size_t nodes = 0;
  Q8_CHECK(q8_model_node_count(m.get(), &nodes));
  std::printf("%s -> %s: %zu operators written as ONNX opset 13 (QDQ)\n", in.c_str(), out.c_str(), nodes);
  return 0;
}

}  // namespace q8cli
