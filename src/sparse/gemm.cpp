// The sparse GEMM's entry: the zero-point and bias terms once per call, then the AVX-512 VNNI
// kernel for the format when that path is active and has a fast path, else the reference.
#include <vector>

#include "core/runtime.hpp"
#include "sparse/gemm.hpp"

namespace q8::sparse {

void finish_rows(const GemmArgs &g, const int32_t *acc, int64_t ldacc, int64_t i0, int64_t rows,
                 int64_t j0, int64_t n) {
  const gemm::Kernels &kern = gemm::active_kernels();
  auto *c = static_cast<unsigned char *>(g.c);
  // Weight zero points are 0, so the row-sum term of the dense epilogue vanishes: rowsum 0.
  for (int64_t r = 0; r < rows; ++r)
    kern.epilogue_row(g.ep, acc + r * ldacc, n, j0, 0u,
                      c + (size_t(i0 + r) * size_t(g.ldc) + size_t(j0)) * g.out_size);
}

namespace {

#if defined(__x86_64__)
bool run_vnni(const GemmArgs &g) {
  switch (g.w->format) {
    case Q8_SPARSE_CSR: return gemm_csr_vnni(g);
    case Q8_SPARSE_BCSR: return gemm_bcsr_vnni(g);
    case Q8_SPARSE_2_4:
    case Q8_SPARSE_BITMAP: return gemm_panels_vnni(g);
  }
  return false;
}
#endif

}  // namespace

void run(const gemm::AView &a, int64_t m, const Matrix &w, const gemm::Epilogue &e, void *c,
         int64_t ldc) {
  if (m == 0 || w.rows == 0) return;
  // sum_k (a - za) * w = sum_k a * w - za * row_sum, all modulo 2^32, on A's u8 view.
  const uint32_t za = uint32_t(a.zero_point + (a.is_signed ? 128 : 0));
  std::vector<uint32_t> colterm(size_t(w.rows));
  for (size_t j = 0; j < colterm.size(); ++j)
    colterm[j] = (e.bias ? uint32_t(e.bias[j]) : 0u) - za * uint32_t(w.row_sum[j]);
  const std::vector<int32_t> zb(size_t(w.rows), 0);
  GemmArgs g;
  g.a = &a;
  g.m = m;
  g.w = &w;
  g.ep.e = &e;
  g.ep.colterm = colterm.data();
  g.ep.zb = zb.data();
  g.c = c;
  g.ldc = ldc;
  g.out_size = q8_dtype_size(e.out);
#if defined(__x86_64__)
  if (active_isa() == Q8_ISA_AVX512_VNNI && run_vnni(g)) return;
#endif
  reference(g);
}

}  // namespace q8::sparse
