// The streaming checkpoint quantizer behind q8_checkpoint_quantize (include/q8/checkpoint.h,
// docs/CHECKPOINTS.md): plan the output graph and its exact .q8 layout from the input's metadata
// alone (a safetensors header, or an ONNX model whose initializers stay in their mappings), then
// push row blocks of the tensors through a oneTBB flow graph (source -> limiter -> calibrate ->
// quantize -> write) that writes each block at its final offset in a temporary file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace q8::ckpt {

enum class Format { kInt8PerChannel, kInt4Grouped };

struct Options {
  Format format = Format::kInt8PerChannel;
  std::size_t group = 64;               // INT4 group size
  uint64_t max_memory = uint64_t{512} << 20;
  std::size_t threads = 0;              // 0: q8's run-time setting
  uint64_t min_elements = 4096;
  std::vector<std::string> keep;        // tensor names kept unquantized (each must exist)
  // Called after each block is written (from one thread at a time); returns false to cancel.
  std::function<bool(uint64_t done, uint64_t total)> progress;
};

struct Report {
  uint64_t input_bytes = 0, output_bytes = 0;
  std::size_t tensors = 0, quantized_tensors = 0;
  uint64_t peak_in_flight_bytes = 0;
};

// Quantizes the safetensors file or ONNX model `input` into the .q8 file `output` (atomically).
// Throws q8::Error: Q8_ERR_FORMAT / Q8_ERR_UNSUPPORTED for the input (safetensors.hpp, or ONNX
// import), Q8_ERR_INVALID_ARGUMENT for options that cannot work (a keep name that is not a tensor,
// a row larger than max_memory) or a tensor to quantize that holds NaN or infinities,
// Q8_ERR_STATE when `progress` cancels, Q8_ERR_IO.
Report quantize_file(const std::string &input, const std::string &output, const Options &options);

}  // namespace q8::ckpt
