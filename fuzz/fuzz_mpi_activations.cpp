// libFuzzer target for q8-mpi's activation messages (src/mpi/activations.cpp: the bytes one rank
// sends the next). A malformed message must be refused with an error, never crash; what one
// unpacks to must pack into a message that unpacks and packs to itself.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "activations.hpp"

namespace {
std::vector<unsigned char> repack(const std::vector<unsigned char> &bytes) {
  const auto tensors = q8mpi::unpack(bytes);
  q8mpi::Named named;
  for (const auto &[name, t] : tensors) named.emplace_back(name, t.get());
  return q8mpi::pack(named);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<unsigned char> once;
  try {
    once = repack(std::vector<unsigned char>(data, data + size));
  } catch (const q8cli::CliError &) {
    return 0;
  } catch (const q8cli::Q8Failure &) {
    return 0;
  }
  try {
    if (repack(once) != once) std::abort();
  } catch (...) {
    std::abort();  // what pack() writes must unpack
  }
  return 0;
}
