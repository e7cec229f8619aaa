// Portable kernels: the scalar definition (requantize_one) element by element, the reference every
// SIMD path is tested against.
#include "requant/kernels/kernels.hpp"
#include "requant/primitives.hpp"

namespace q8::requant {
namespace {

template <class Q>
void requantize(const int32_t *acc, Q *dst, std::size_t n, const Epilogue &e, std::size_t phase) {
  std::size_t c = phase;
  for (std::size_t i = 0; i < n; ++i) {
    dst[i] = static_cast<Q>(
        requantize_one(acc[i], e.bias[c], e.multiplier[c], e.shift[c], e.zero_point, e.qmin, e.qmax));
    if (e.channels > 1 && ++c == e.period) c = 0;
  }
}

}  // namespace

const Kernels kScalarKernels = {requantize<int8_t>, requantize<uint8_t>};

}  // namespace q8::requant
