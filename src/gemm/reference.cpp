// The GEMM oracle: the definition in include/q8/gemm.h as plain loops over the caller's layouts,
// sum_k (A[i,k] - za) * (B[k,j] - zb[j]) modulo 2^32, then the shared per-row epilogue.
// No packing, no blocking, no threads: the scalar ISA path runs it for unpacked B.
#include <vector>

#include "gemm/epilogue_impl.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {

void reference(const AView &a, int64_t m, int64_t n, int64_t k, const int8_t *b, int64_t ldb,
               bool trans_b, const int32_t *zb, const Epilogue &e, void *c, int64_t ldc) {
  std::vector<uint32_t> bias(size_t(n), 0u);
  if (e.bias)
    for (int64_t j = 0; j < n; ++j) bias[size_t(j)] = uint32_t(e.bias[j]);
  const std::vector<int32_t> zeros(size_t(n), 0);
  EpilogueArgs args;
  args.e = &e;
  args.colterm = bias.data();
  args.zb = zeros.data();
  const size_t out_size = q8_dtype_size(e.out);
  std::vector<int32_t> acc(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      uint32_t s = 0;
      for (int64_t q = 0; q < k; ++q) {
        const uint8_t byte = a.trans ? a.a[q * a.lda + i] : a.a[i * a.lda + q];
        const int32_t av = a.is_signed ? int32_t(int8_t(byte)) : int32_t(byte);
        const int32_t bv = trans_b ? b[j * ldb + q] : b[q * ldb + j];
        s += uint32_t((av - a.zero_point) * (bv - zb[j]));
      }
      acc[size_t(j)] = int32_t(s);
    }
    epilogue_row_impl(args, acc.data(), n, 0, 0u,
                      static_cast<unsigned char *>(c) + size_t(i) * size_t(ldc) * out_size);
  }
}

}  // namespace q8::gemm
