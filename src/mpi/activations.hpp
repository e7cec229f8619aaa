// Named tensors as one MPI message: what a pipeline stage hands to the next rank. Each tensor
// travels with its name, dtype, shape, quantization parameters and bytes, so the receiver rebuilds
// it exactly (a quantized activation keeps its scale and zero point).
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"

namespace q8mpi {

using Named = std::vector<std::pair<std::string, const q8_tensor *>>;

// Appends the tensors, in order, to a fresh buffer.
std::vector<unsigned char> pack(const Named &tensors);

// The tensors of a buffer made by pack(), as owned copies in the same order. A malformed buffer
// (a peer built differently) is a CliError saying what is wrong.
std::vector<std::pair<std::string, q8cli::Tensor>> unpack(const std::vector<unsigned char> &bytes);

}  // namespace q8mpi
