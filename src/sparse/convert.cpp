// Dense s8 <-> the four layouts of matrix.hpp, and their byte accounting. Each builder counts
// first (so offsets are checked against their uint32 fields before anything is allocated), then
// allocates once and fills.
#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "core/error.hpp"
#include "sparse/matrix.hpp"

namespace q8::sparse {

using std::to_string;

void Bytes::resize(size_t n) {
  const size_t bytes = (n + 64 + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
  void *p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  ptr.reset(static_cast<int8_t *>(p));
  size = n;
}

namespace {

constexpr uint64_t kNarrowRange = 65536;  // indices into a range this long fit uint16

void check_offset(uint64_t count, const char *what) {
  if (count > UINT32_MAX)
    fail(Q8_ERR_SHAPE, to_string(count) + " " + what + " exceed the format's uint32 offsets (at most " +
                           to_string(UINT32_MAX) + ")");
}

// Sizes the index array for `count` indices into a range of `range` entries.
void size_indices(Matrix &w, size_t count, uint64_t range) {
  w.wide = range > kNarrowRange;
  if (w.wide)
    w.col32.resize(count);
  else
    w.col16.resize(count);
}

void put_index(Matrix &w, size_t i, uint32_t v) {
  if (w.wide)
    w.col32[i] = v;
  else
    w.col16[i] = uint16_t(v);
}

void build_csr(Matrix &w, const int8_t *d) {
  const size_t rows = size_t(w.rows), cols = size_t(w.cols);
  w.row_ptr.assign(rows + 1, 0);
  uint64_t nnz = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) nnz += d[r * cols + c] != 0;
    check_offset(nnz, "nonzeros");
    w.row_ptr[r + 1] = uint32_t(nnz);
  }
  w.nonzeros = int64_t(nnz);
  size_indices(w, nnz, cols);
  w.values.resize(nnz);
  size_t i = 0;
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c)
      if (const int8_t v = d[r * cols + c]) {
        w.values.data()[i] = v;
        put_index(w, i++, uint32_t(c));
      }
}

void build_bcsr(Matrix &w, const int8_t *d, int64_t block_rows, int64_t block_cols) {
  if (block_rows < 1 || block_cols < 1)
    fail(Q8_ERR_INVALID_ARGUMENT, "block_rows = " + to_string(block_rows) + ", block_cols = " +
                                      to_string(block_cols) + ": both must be >= 1");
  if (w.rows % block_rows != 0 || w.cols % block_cols != 0)
    fail(Q8_ERR_SHAPE, "the block shape " + to_string(block_rows) + " x " + to_string(block_cols) +
                           " does not divide the matrix's " + to_string(w.rows) + " x " + to_string(w.cols) +
                           " (rows = dimension 0, cols = the product of the others)");
  w.br = block_rows;
  w.bc = block_cols;
  const size_t cols = size_t(w.cols), br = size_t(w.br), bc = size_t(w.bc);
  const size_t brows = size_t(w.rows) / br, bcols = cols / bc;
  std::vector<uint32_t> stored;  // block-column index of each stored block, in order
  std::vector<uint8_t> occupied(bcols);
  w.row_ptr.assign(brows + 1, 0);
  for (size_t b = 0; b < brows; ++b) {
    std::fill(occupied.begin(), occupied.end(), uint8_t(0));
    for (size_t r = b * br; r < (b + 1) * br; ++r)
      for (size_t c = 0; c < cols; ++c)
        if (d[r * cols + c] != 0) {
          occupied[c / bc] = 1;
          ++w.nonzeros;
        }
    for (size_t j = 0; j < bcols; ++j)
      if (occupied[j]) stored.push_back(uint32_t(j));
    check_offset(stored.size(), "stored blocks");
    w.row_ptr[b + 1] = uint32_t(stored.size());
  }
  size_indices(w, stored.size(), bcols);
  w.values.resize(stored.size() * br * bc);
  for (size_t b = 0; b < brows; ++b)
    for (size_t s = w.row_ptr[b]; s < w.row_ptr[b + 1]; ++s) {
      put_index(w, s, stored[s]);
      for (size_t r = 0; r < br; ++r)
        std::memcpy(w.values.data() + (s * br + r) * bc, d + (b * br + r) * cols + stored[s] * bc, bc);
    }
}

void build_2_4(Matrix &w, const int8_t *d) {
  if (w.cols % 4 != 0)
    fail(Q8_ERR_SHAPE, "2_4 needs cols (the product of the dimensions after the first) to be a multiple "
                       "of 4, got " + to_string(w.cols));
  const size_t rows = size_t(w.rows), cols = size_t(w.cols), groups = cols / 4;
  const size_t padded = size_t(w.panels() * kPanel);
  w.values.resize(padded * groups * 2);
  w.meta.assign(padded * groups / 2, 0);
  for (size_t row = 0; row < padded; ++row)
    for (size_t g = 0; g < groups; ++g) {
      // A group stores the positions of its nonzeros, topped up with the lowest zero positions;
      // padding rows are all zero.
      int pos[4], n = 0, filled = 0;
      if (row < rows)
        for (int q = 0; q < 4; ++q)
          if (d[row * cols + 4 * g + size_t(q)] != 0) {
            if (n == 2)
              fail(Q8_ERR_INVALID_ARGUMENT,
                   "row " + to_string(row) + ", column " + to_string(4 * g + size_t(q)) +
                       ": a third nonzero in the group of columns " + to_string(4 * g) + ".." +
                       to_string(4 * g + 3) + " (2_4 allows 2 per group of 4; prune with Q8_PRUNE_N_M, "
                       "n = 2, m = 4, first)");
            pos[n++] = q;
          }
      w.nonzeros += n;
      for (int q = 0; q < 4 && n + filled < 2; ++q)
        if (row >= rows || d[row * cols + 4 * g + size_t(q)] == 0) pos[n + filled++] = q;
      std::sort(pos, pos + 2);
      const size_t pg = row / size_t(kPanel) * groups + g, r = row % size_t(kPanel);
      for (int k = 0; k < 2; ++k)
        w.values.data()[pg * 32 + 2 * r + size_t(k)] = row < rows ? d[row * cols + 4 * g + size_t(pos[k])] : 0;
      w.meta[pg * 8 + r / 2] |= uint8_t((pos[0] | pos[1] << 2) << (4 * (r % 2)));
    }
}

void build_bitmap(Matrix &w, const int8_t *d) {
  const size_t rows = size_t(w.rows), cols = size_t(w.cols);
  const size_t panels = size_t(w.panels()), groups = size_t(w.groups());
  w.bitmap.assign(panels * groups, 0);
  for (size_t row = 0; row < rows; ++row)
    for (size_t c = 0; c < cols; ++c)
      if (d[row * cols + c] != 0)
        w.bitmap[row / size_t(kPanel) * groups + c / 4] |= uint64_t(1) << (4 * (row % size_t(kPanel)) + c % 4);
  w.panel_ptr.assign(panels + 1, 0);
  uint64_t nnz = 0;
  for (size_t p = 0; p < panels; ++p) {
    for (size_t g = 0; g < groups; ++g) nnz += uint64_t(__builtin_popcountll(w.bitmap[p * groups + g]));
    check_offset(nnz, "nonzeros");
    w.panel_ptr[p + 1] = uint32_t(nnz);
  }
  w.nonzeros = int64_t(nnz);
  w.values.resize(nnz);
  size_t i = 0;
  for (size_t pg = 0; pg < panels * groups; ++pg)
    for (uint64_t bits = w.bitmap[pg]; bits; bits &= bits - 1) {
      const size_t bit = size_t(__builtin_ctzll(bits));
      const size_t row = pg / groups * size_t(kPanel) + bit / 4, col = pg % groups * 4 + bit % 4;
      w.values.data()[i++] = d[row * cols + col];
    }
}

}  // namespace

void from_dense(Matrix &out, const int8_t *dense, const std::vector<int64_t> &shape,
                std::vector<float> scales, q8_sparse_format format, int64_t block_rows,
                int64_t block_cols) {
  if (shape.size() < 2)
    fail(Q8_ERR_SHAPE, "a sparse matrix needs a tensor of rank >= 2, got rank " + to_string(shape.size()));
  out.format = format;
  out.shape = shape;
  out.rows = shape[0];
  out.cols = 1;
  for (size_t i = 1; i < shape.size(); ++i) out.cols *= shape[i];  // the dense tensor exists: no overflow
  if (scales.size() > 1 && scales.size() != size_t(out.rows))
    fail(Q8_ERR_SHAPE, to_string(scales.size()) + " scales for " + to_string(out.rows) + " rows");
  out.scales = std::move(scales);
  switch (format) {
    case Q8_SPARSE_CSR: build_csr(out, dense); break;
    case Q8_SPARSE_BCSR: build_bcsr(out, dense, block_rows, block_cols); break;
    case Q8_SPARSE_2_4:
      out.bc = 4;
      build_2_4(out, dense);
      break;
    case Q8_SPARSE_BITMAP:
      out.bc = 4;
      build_bitmap(out, dense);
      break;
  }
  const size_t cols = size_t(out.cols);
  out.row_sum.assign(size_t(out.rows), 0);
  for (size_t r = 0; r < size_t(out.rows); ++r) {
    uint32_t s = 0;  // modulo 2^32, as every accumulator
    for (size_t c = 0; c < cols; ++c) s += uint32_t(int32_t(dense[r * cols + c]));
    out.row_sum[r] = int32_t(s);
  }
}

void to_dense(const Matrix &w, int8_t *dense) {
  const size_t rows = size_t(w.rows), cols = size_t(w.cols);
  if (rows == 0 || cols == 0) return;
  std::memset(dense, 0, rows * cols);
  const int8_t *v = w.values.data();
  switch (w.format) {
    case Q8_SPARSE_CSR:
      for (size_t r = 0; r < rows; ++r)
        for (size_t i = w.row_ptr[r]; i < w.row_ptr[r + 1]; ++i) dense[r * cols + w.col(i)] = v[i];
      break;
    case Q8_SPARSE_BCSR: {
      const size_t br = size_t(w.br), bc = size_t(w.bc);
      for (size_t b = 0; b + 1 < w.row_ptr.size(); ++b)
        for (size_t s = w.row_ptr[b]; s < w.row_ptr[b + 1]; ++s)
          for (size_t r = 0; r < br; ++r)
            std::memcpy(dense + (b * br + r) * cols + w.col(s) * bc, v + (s * br + r) * bc, bc);
      break;
    }
    case Q8_SPARSE_2_4: {
      const size_t groups = cols / 4;
      for (size_t row = 0; row < rows; ++row)
        for (size_t g = 0; g < groups; ++g) {
          const size_t pg = row / size_t(kPanel) * groups + g, r = row % size_t(kPanel);
          const int nibble = w.meta[pg * 8 + r / 2] >> (4 * (r % 2)) & 0xF;
          dense[row * cols + 4 * g + size_t(nibble & 3)] = v[pg * 32 + 2 * r];
          dense[row * cols + 4 * g + size_t(nibble >> 2)] = v[pg * 32 + 2 * r + 1];
        }
      break;
    }
    case Q8_SPARSE_BITMAP: {
      const size_t groups = size_t(w.groups());
      size_t i = 0;
      for (size_t pg = 0; pg < w.bitmap.size(); ++pg)
        for (uint64_t bits = w.bitmap[pg]; bits; bits &= bits - 1) {
          const size_t bit = size_t(__builtin_ctzll(bits));
          dense[(pg / groups * size_t(kPanel) + bit / 4) * cols + pg % groups * 4 + bit % 4] = v[i++];
        }
      break;
    }
  }
}

q8_sparse_info info(const Matrix &w) {
  q8_sparse_info s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  s.format = w.format;
  s.rows = w.rows;
  s.cols = w.cols;
  s.block_rows = w.br;
  s.block_cols = w.bc;
  s.nonzeros = w.nonzeros;
  s.stored_values = w.stored_values();
  s.value_bytes = w.values.size;
  s.index_bytes = w.row_ptr.size() * sizeof(uint32_t) + w.col16.size() * sizeof(uint16_t) +
                  w.col32.size() * sizeof(uint32_t) + w.meta.size() + w.bitmap.size() * sizeof(uint64_t) +
                  w.panel_ptr.size() * sizeof(uint32_t);
  s.qparam_bytes = w.scales.size() * sizeof(float);
  s.aux_bytes = w.row_sum.size() * sizeof(int32_t);
  s.total_bytes = s.value_bytes + s.index_bytes + s.qparam_bytes + s.aux_bytes;
  s.dense_bytes = size_t(w.rows) * size_t(w.cols);
  return s;
}

}  // namespace q8::sparse
