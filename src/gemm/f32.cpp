// The FP32 reference GEMM on OpenBLAS. OpenBLAS chooses its kernels ("core") when it loads, from
// the CPU model or OPENBLAS_CORETYPE; 0.3.21 falls back to SSE3 Prescott kernels on CPUs it does
// not know (docs: gemm.h, TOOLCHAIN notes), so the active core is reported by f32_backend().
#include <cblas.h>

#include <string>

#include "gemm/batched.hpp"

namespace q8::gemm {

void sgemm_f32(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *f32_backend() noexcept {
  static const std::string name = [] {
    std::string version = OPENBLAS_VERSION;  // " OpenBLAS 0.3.21 "
    const auto first = version.find_first_not_of(' '), last = version.find_last_not_of(' ');
    version = first == std::string::npos ? "OpenBLAS" : version.substr(first, last - first + 1);
    const char *core = openblas_get_corename();
    return version + " " + (core ? core : "unknown");
  }();
  return name.c_str();
}

}  // namespace q8::gemm
