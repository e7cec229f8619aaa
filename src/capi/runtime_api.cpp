// Versions, status strings, dtype facts and run-time settings.
#include <string>

#include "capi/guard.hpp"
#include "core/dtype.hpp"
#include "core/runtime.hpp"

#define Q8_STR2(x) #x
#define Q8_STR(x) Q8_STR2(x)

extern "C" {

unsigned q8_version(void) { return Q8_VERSION_NUMBER; }

const char *q8_version_string(void) {
  return Q8_STR(Q8_VERSION_MAJOR) "." Q8_STR(Q8_VERSION_MINOR) "." Q8_STR(Q8_VERSION_PATCH);
}

const char *q8_status_string(q8_status status) {
  switch (q8::enum_bits(status)) {
    case Q8_OK: return "Q8_OK";
    case Q8_ERR_INVALID_ARGUMENT: return "Q8_ERR_INVALID_ARGUMENT";
    case Q8_ERR_SHAPE: return "Q8_ERR_SHAPE";
    case Q8_ERR_DTYPE: return "Q8_ERR_DTYPE";
    case Q8_ERR_OUT_OF_MEMORY: return "Q8_ERR_OUT_OF_MEMORY";
    case Q8_ERR_IO: return "Q8_ERR_IO";
    case Q8_ERR_FORMAT: return "Q8_ERR_FORMAT";
    case Q8_ERR_UNSUPPORTED: return "Q8_ERR_UNSUPPORTED";
    case Q8_ERR_INTERNAL: return "Q8_ERR_INTERNAL";
    case Q8_ERR_STATE: return "Q8_ERR_STATE";
  }
  return "unknown status";
}

const char *q8_last_error(void) { return q8::last_error(); }

namespace {
bool dtype_known(const q8_dtype &dtype) {
  const int v = q8::enum_bits(dtype);
  return v >= Q8_DTYPE_F32 && v <= Q8_DTYPE_S32;
}
bool isa_known(const q8_isa &isa) {
  const int v = q8::enum_bits(isa);
  return v >= Q8_ISA_AUTO && v <= Q8_ISA_NEON;
}
}  // namespace

size_t q8_dtype_size(q8_dtype dtype) { return dtype_known(dtype) ? q8::dtype_size(dtype) : 0; }
const char *q8_dtype_name(q8_dtype dtype) { return dtype_known(dtype) ? q8::dtype_name(dtype) : "unknown"; }

int q8_runtime_isa_supported(q8_isa isa) { return isa_known(isa) && q8::isa_supported(isa) ? 1 : 0; }

q8_status q8_runtime_set_isa(q8_isa isa) {
  return q8::guard(__func__, [&] {
    if (!isa_known(isa))
      q8::fail(Q8_ERR_INVALID_ARGUMENT, "isa = " + std::to_string(q8::enum_bits(isa)) + " is not a q8_isa");
    q8::set_isa(isa);
  });
}

q8_isa q8_runtime_isa(void) { return q8::active_isa(); }

const char *q8_isa_name(q8_isa isa) {
  switch (q8::enum_bits(isa)) {
    case Q8_ISA_AUTO: return "auto";
    case Q8_ISA_SCALAR: return "scalar";
    case Q8_ISA_AVX2: return "avx2";
    case Q8_ISA_AVX512: return "avx512";
    case Q8_ISA_AVX512_VNNI: return "avx512_vnni";
    case Q8_ISA_NEON: return "neon";
  }
  return "unknown";
}

q8_status q8_runtime_set_threads(int threads) {
  return q8::guard(__func__, [&] { q8::set_threads(threads); });
}

int q8_runtime_threads(void) { return q8::threads(); }

}  // extern "C"
