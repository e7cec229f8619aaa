// The few library pieces the GEMM sources need besides themselves, for the standalone aarch64
// test (no oneTBB, no OpenBLAS, no C API): a serial parallel_for, an ISA switch the test sets,
// aligned allocation and q8_dtype_size. The GEMM code itself (driver, packing, reference, NEON
// kernel) is compiled unchanged from src/gemm.
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/runtime.hpp"
#include "core/tensor.hpp"
#include "serial_shim.hpp"

namespace q8 {

namespace {
q8_isa g_isa = Q8_ISA_SCALAR;
}

void shim_set_isa(q8_isa isa) { g_isa = isa; }
q8_isa active_isa() noexcept { return g_isa; }

// Serial, with the chunking of the real one (chunks of `grain`): results never depend on it.
void parallel_for(std::size_t n, std::size_t grain, std::size_t,
                  const std::function<void(std::size_t, std::size_t)> &body) {
  if (grain == 0) grain = 1;
  for (std::size_t i = 0; i < n; i += grain) body(i, n - i < grain ? n : i + grain);
}

void *aligned_zalloc(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t rounded = (bytes + Q8_ALIGNMENT - 1) / Q8_ALIGNMENT * Q8_ALIGNMENT;
  void *p = std::aligned_alloc(Q8_ALIGNMENT, rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return p;
}

void aligned_free(void *p) noexcept { std::free(p); }

}  // namespace q8

extern "C" size_t q8_dtype_size(q8_dtype dtype) {
  switch (dtype) {
    case Q8_DTYPE_U8:
    case Q8_DTYPE_S8: return 1;
    case Q8_DTYPE_S32:
    case Q8_DTYPE_F32: return 4;
    default: return 0;
  }
}
