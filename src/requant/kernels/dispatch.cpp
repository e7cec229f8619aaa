#include "core/runtime.hpp"
#include "requant/kernels/kernels.hpp"

namespace q8::requant {

const Kernels &active_kernels() noexcept {
  switch (active_isa()) {
#if defined(__x86_64__)
    case Q8_ISA_AVX512_VNNI:
    case Q8_ISA_AVX512: return kAvx512Kernels;
    case Q8_ISA_AVX2: return kAvx2Kernels;
#endif
    default: return kScalarKernels;
  }
}

}  // namespace q8::requant
