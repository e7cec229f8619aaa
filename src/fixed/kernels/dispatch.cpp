#include "core/runtime.hpp"
#include "fixed/kernels/kernels.hpp"

namespace q8::fixed {

const FixedKernels &active_fixed_kernels() noexcept {
  switch (active_isa()) {
#if defined(__x86_64__)
    case Q8_ISA_AVX512_VNNI:
    case Q8_ISA_AVX512: return kFixedAvx512;
    case Q8_ISA_AVX2: return kFixedAvx2;
#endif
    default: return kFixedScalar;
  }
}

}  // namespace q8::fixed
