// The sparse GEMM oracle: for each row of A, plain loops over the format's own arrays accumulate
// a * w modulo 2^32 (u8 view of A), then finish_rows applies the zero-point terms and the
// epilogue. One thread, no blocking; the SIMD kernels must match it bit for bit.
#include <algorithm>
#include <vector>

#include "sparse/gemm.hpp"

namespace q8::sparse {

namespace {

// Row i of A's u8 view (s8 + 128 is s8 ^ 0x80).
void load_row(const gemm::AView &a, int64_t i, int64_t cols, uint8_t *row) {
  const uint8_t flip = a.is_signed ? 0x80 : 0x00;
  const uint8_t *src = a.a + i * a.lda;
  for (int64_t k = 0; k < cols; ++k) row[k] = src[k] ^ flip;
}

inline uint32_t mul(uint8_t a, int8_t w) { return uint32_t(a) * uint32_t(int32_t(w)); }

// acc[j] += sum over the stored elements (j, k) of row[k] * w(j, k).
void accumulate(const Matrix &w, const uint8_t *row, uint32_t *acc) {
  const int8_t *v = w.values.data();
  switch (w.format) {
    case Q8_SPARSE_CSR:
      for (int64_t j = 0; j < w.rows; ++j)
        for (size_t i = w.row_ptr[size_t(j)]; i < w.row_ptr[size_t(j) + 1]; ++i) acc[j] += mul(row[w.col(i)], v[i]);
      break;
    case Q8_SPARSE_BCSR: {
      const size_t br = size_t(w.br), bc = size_t(w.bc);
      for (size_t b = 0; b + 1 < w.row_ptr.size(); ++b)
        for (size_t s = w.row_ptr[b]; s < w.row_ptr[b + 1]; ++s) {
          const uint8_t *ak = row + w.col(s) * bc;
          for (size_t r = 0; r < br; ++r)
            for (size_t q = 0; q < bc; ++q) acc[b * br + r] += mul(ak[q], v[(s * br + r) * bc + q]);
        }
      break;
    }
    case Q8_SPARSE_2_4: {
      const size_t groups = size_t(w.cols / 4);
      for (size_t j = 0; j < size_t(w.rows); ++j)
        for (size_t g = 0; g < groups; ++g) {
          const size_t pg = j / size_t(kPanel) * groups + g, r = j % size_t(kPanel);
          const int nibble = w.meta[pg * 8 + r / 2] >> (4 * (r % 2)) & 0xF;
          acc[j] += mul(row[4 * g + size_t(nibble & 3)], v[pg * 32 + 2 * r]) +
                    mul(row[4 * g + size_t(nibble >> 2)], v[pg * 32 + 2 * r + 1]);
        }
      break;
    }
    case Q8_SPARSE_BITMAP: {
      const size_t groups = size_t(w.groups());
      for (size_t p = 0; p + 1 < w.panel_ptr.size(); ++p) {
        size_t i = w.panel_ptr[p];
        for (size_t g = 0; g < groups; ++g)
          for (uint64_t bits = w.bitmap[p * groups + g]; bits; bits &= bits - 1) {
            const size_t bit = size_t(__builtin_ctzll(bits));
            acc[p * size_t(kPanel) + bit / 4] += mul(row[4 * g + bit % 4], v[i++]);
          }
      }
      break;
    }
  }
}

}  // namespace

void reference(const GemmArgs &g) {
  const Matrix &w = *g.w;
  std::vector<uint8_t> row(size_t(w.cols));
  std::vector<uint32_t> acc(size_t(w.rows));
  std::vector<int32_t> out(size_t(w.rows));
  for (int64_t i = 0; i < g.m; ++i) {
    load_row(*g.a, i, w.cols, row.data());
    std::fill(acc.begin(), acc.end(), 0u);
    accumulate(w, row.data(), acc.data());
    for (size_t j = 0; j < acc.size(); ++j) out[j] = int32_t(acc[j]);
    finish_rows(g, out.data(), 0, i, 1, 0, w.rows);
  }
}

}  // namespace q8::sparse
