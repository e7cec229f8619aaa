// The sparse GEMM: C = epilogue(A · W^T) with the dense GEMM's epilogue (gemm/gemm.hpp) and
// weight zero points 0, so for every element t = acc + colterm[j] with
//   colterm[j] = bias[j] - za * row_sum[j]  (mod 2^32), za the zero point of A's u8 view.
// Kernels compute acc = sum over stored (j, k) of a[i, k] * w[j, k] (u8 view of A, mod 2^32) and
// hand finished rows of acc to finish_rows().
#pragma once
#include <cstdint>

#include "gemm/gemm.hpp"
#include "sparse/matrix.hpp"

namespace q8::sparse {

struct GemmArgs {
  const gemm::AView *a = nullptr;  // M x cols, never transposed
  int64_t m = 0;
  const Matrix *w = nullptr;
  gemm::EpilogueArgs ep;           // colterm as above, zb all zero (rows entries each)
  void *c = nullptr;
  int64_t ldc = 0;
  size_t out_size = 0;             // bytes per element of C
};

// Applies the epilogue to acc rows [i0, i0 + rows) x columns [j0, j0 + n): acc[r * ldacc + j]
// holds the accumulator of C(i0 + r, j0 + j). Uses the active ISA's epilogue_row.
void finish_rows(const GemmArgs &g, const int32_t *acc, int64_t ldacc, int64_t i0, int64_t rows,
                 int64_t j0, int64_t n);

// The oracle: plain loops over each format's arrays, one thread (reference.cpp).
void reference(const GemmArgs &g);

// SIMD kernels for AVX-512 VNNI (kernels/*.cpp). Each returns false when it has no fast path for
// this matrix and M (the caller then runs reference()); when it returns true C is complete.
#if defined(__x86_64__)
bool gemm_csr_vnni(const GemmArgs &g);
bool gemm_bcsr_vnni(const GemmArgs &g);
bool gemm_panels_vnni(const GemmArgs &g);  // 2_4 and BITMAP: expand panels to dense registers
#endif

// Validated entry (gemm.cpp): builds the GemmArgs and picks kernel or reference by ISA/format.
void run(const gemm::AView &a, int64_t m, const Matrix &w, const gemm::Epilogue &e, void *c,
         int64_t ldc);

}  // namespace q8::sparse
