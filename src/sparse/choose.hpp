// Sparse or dense, and which format, for one constant weight at one row count M: the runtime's
// per-layer choice (q8_sparse_policy), from the weight's measured structure and the crossover
// densities of bench_sparse.
#pragma once
#include <cstdint>

#include "q8/sparse.h"

namespace q8::sparse {

// What a weight matrix (rows x cols s8, zero = 0) looks like to the kernels.
struct Structure {
  int64_t rows = 0, cols = 0;
  int64_t nonzeros = 0;
  bool two_four = false;       // cols % 4 == 0 and no group of 4 holds more than 2 nonzeros
  int64_t blocks = 0;          // 4x4 blocks (0 when rows or cols is not a multiple of 4)
  int64_t nonzero_blocks = 0;  // ... holding a nonzero
  double density() const { return rows * cols != 0 ? double(nonzeros) / double(rows * cols) : 1.0; }
  double block_density() const { return blocks ? double(nonzero_blocks) / double(blocks) : 1.0; }
};

Structure analyze(const int8_t *w, int64_t rows, int64_t cols);

struct Choice {
  bool sparse = false;
  q8_sparse_format format = Q8_SPARSE_CSR;
  int64_t block_rows = 1, block_cols = 1;
};

// The policy's answer for this weight at M rows of activations.
Choice choose(const Structure &s, int64_t m);

q8_sparse_policy policy() noexcept;
void set_policy(q8_sparse_policy p);

}  // namespace q8::sparse
