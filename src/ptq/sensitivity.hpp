// Per-node sensitivity to quantization (q8_model_sensitivity).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "ptq/ptq.hpp"

namespace q8::ptq {
// (node name, relative MSE at output 0 when only that node is quantized), worst first.
std::vector<std::pair<std::string, double>> sensitivity(const q8_model &m, const Options &opt,
                                                        const q8_tensor *const *batches,
                                                        size_t batch_count);
}  // namespace q8::ptq
