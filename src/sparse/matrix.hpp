// Sparse INT8 matrices: the one in-memory representation per format that conversion, the scalar
// reference, the SIMD kernels and byte accounting all share. include/q8/sparse.h states the
// contract; this file states the layouts.
//
// W is rows x cols s8 (rows = output channels N, cols = reduction K), zero point 0, so an element
// that is not stored is 0. Index arrays use uint16 when the indexed range fits (<= 65536 entries),
// else uint32 (`wide`); exactly one of col16 / col32 is filled.
//
// CSR:    row_ptr[rows + 1] offsets into values/cols; cols (per value) ascending within a row;
//         values[nnz] (only nonzeros are stored).
// BCSR:   br x bc blocks; row_ptr[rows / br + 1] offsets in blocks; cols = block-column index per
//         stored block (ascending within a block row); values = stored blocks, br * bc bytes each,
//         row-major inside the block. A block is stored iff it holds a nonzero.
// 2_4:    panels of kPanel = 16 rows (rows_padded = ceil(rows / 16) * 16; padding rows are zero),
//         groups of 4 columns (groups = cols / 4). For panel p and group g, at index pg = p * groups + g:
//           values[pg * 32 + 2r + {0, 1}] = row 16p + r's two values in ascending column order,
//           meta[pg * 8 + r / 2] >> (4 * (r % 2)) & 0xF = i0 | i1 << 2, their positions in the
//           group, i0 < i1. A group with fewer than 2 nonzeros stores zeros at the lowest free
//           positions, so i0 < i1 always holds.
// BITMAP: the same panels and groups (groups = ceil(cols / 4); columns past cols are zero):
//           bitmap[pg] (uint64) bit 4r + q set iff element (16p + r, 4g + q) is nonzero;
//           values = the nonzeros in (p, g, bit) order, panel_ptr[p] (uint32, panels + 1) the offset
//           of panel p's first value. Within a panel, group g's values follow group g - 1's.
//
// row_sum[rows] (all formats) = sum of row r's values: the kernels' a-zero-point correction
// (acc = sum_k a*w - za * row_sum).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "q8/sparse.h"

namespace q8::sparse {

constexpr int64_t kPanel = 16;  // rows per panel of the 2_4 and BITMAP layouts

// 64-byte aligned bytes that SIMD kernels may read up to 64 bytes past the end of (the tail is
// allocated and zeroed), so a kernel never masks its last load.
struct Bytes {
  struct Free { void operator()(void *p) const noexcept { std::free(p); } };
  std::unique_ptr<int8_t[], Free> ptr;
  size_t size = 0;  // bytes in use (what byte accounting reports)
  void resize(size_t n);  // zero-filled, n + 64 allocated
  int8_t *data() noexcept { return ptr.get(); }
  const int8_t *data() const noexcept { return ptr.get(); }
};

struct Matrix {
  q8_sparse_format format = Q8_SPARSE_CSR;
  std::vector<int64_t> shape;  // the dense tensor's shape (rank >= 2)
  int64_t rows = 0, cols = 0;
  int64_t br = 1, bc = 1;      // block shape (BCSR); 1 x 1 for CSR, 1 x 4 for 2_4 and BITMAP
  std::vector<float> scales;   // empty (no quantization parameters), 1, or rows entries
  bool per_row = false;        // scales were per axis 0 (tells rows == 1 from per tensor)
  int64_t nonzeros = 0;

  std::vector<uint32_t> row_ptr;    // CSR, BCSR
  bool wide = false;
  std::vector<uint16_t> col16;      // CSR, BCSR
  std::vector<uint32_t> col32;
  Bytes values;                     // every format
  std::vector<uint8_t> meta;        // 2_4
  std::vector<uint64_t> bitmap;     // BITMAP
  std::vector<uint32_t> panel_ptr;  // BITMAP
  std::vector<int32_t> row_sum;     // every format

  int64_t panels() const noexcept { return (rows + kPanel - 1) / kPanel; }
  int64_t groups() const noexcept { return (cols + 3) / 4; }
  int64_t stored_values() const noexcept { return int64_t(values.size); }
  uint32_t col(size_t i) const noexcept { return wide ? col32[i] : col16[i]; }
};

// Conversion (convert.cpp). dense is rows x cols row-major (shape's product); fills `out`
// (a fresh Matrix); throws q8::Error on bad input.
void from_dense(Matrix &out, const int8_t *dense, const std::vector<int64_t> &shape,
                std::vector<float> scales, q8_sparse_format format, int64_t block_rows,
                int64_t block_cols);
void to_dense(const Matrix &w, int8_t *dense);  // rows * cols bytes
q8_sparse_info info(const Matrix &w);

}  // namespace q8::sparse

// The public handle is the matrix itself.
struct q8_sparse : q8::sparse::Matrix {};
