// Packing B into the panel layout of gemm.hpp, with column sums and expanded zero points.
#include <algorithm>

#include "core/runtime.hpp"
#include "core/tensor.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {

Packed::~Packed() { aligned_free(data); }

void pack_b(Packed &p, bool trans, int64_t k, int64_t n, const int8_t *b, int64_t ldb,
            const int32_t *zb, size_t zb_count) {
  p.k = k;
  p.n = n;
  p.kg = (k + 3) / 4;
  p.panels = (n + kNR - 1) / kNR;
  const size_t panel_bytes = size_t(p.kg) * 4 * kNR;
  p.data = static_cast<int8_t *>(aligned_zalloc(size_t(p.panels) * panel_bytes));  // padding = 0
  p.colsum.assign(size_t(n), 0);
  p.zb.assign(size_t(n), 0);
  p.zb_count = zb_count;
  for (int64_t j = 0; j < n; ++j) p.zb[size_t(j)] = zb_count == 0 ? 0 : zb[zb_count == 1 ? 0 : j];
  p.zb_all_zero = std::all_of(p.zb.begin(), p.zb.end(), [](int32_t z) { return z == 0; });
  // One panel per task: panels are disjoint, so the packed bytes do not depend on the threads.
  parallel_for(size_t(p.panels), 1, size_t(k) * size_t(n) < (size_t(1) << 20) ? SIZE_MAX : 2,
               [&](size_t p0, size_t p1) {
    for (size_t pi = p0; pi < p1; ++pi) {
      int8_t *dst = p.data + pi * panel_bytes;
      const int64_t j0 = int64_t(pi) * kNR, jn = std::min<int64_t>(kNR, n - j0);
      for (int64_t jj = 0; jj < jn; ++jj) {
        const int64_t j = j0 + jj;
        uint32_t sum = 0;  // modulo 2^32, as every other term of the correction
        for (int64_t q = 0; q < k; ++q) {
          const int8_t v = trans ? b[j * ldb + q] : b[q * ldb + j];
          dst[(q / 4) * (4 * kNR) + jj * 4 + (q % 4)] = v;
          sum += uint32_t(int32_t(v));
        }
        p.colsum[size_t(j)] = int32_t(sum);
      }
    }
  });
}

}  // namespace q8::gemm
