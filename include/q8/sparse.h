/* q8 sparse INT8 weights: compact storage for pruned, quantized weight matrices, and a GEMM that
 * multiplies by them directly.
 *
 * A sparse matrix W is rows x cols of s8 values: the 2-D view of prune.h (rows = dimension 0, the
 * output channels; cols = the rest, the reduction). Its quantization parameters are symmetric:
 * one scale, or one per row, and zero point 0, so an element that is not stored is real zero.
 * The handle is immutable and holds no thread or ISA state.
 *
 * Formats (byte counts are exact: q8_sparse_get_info reports every array the handle holds):
 *   CSR     compressed sparse rows: row offsets (uint32, rows + 1), one column index per
 *           nonzero (uint16 when cols <= 65536, else uint32), the nonzero values. Any shape.
 *   BCSR    block CSR for block sparsity: blocks of block_rows x block_cols; per block row the
 *           offsets of its stored blocks (uint32), one block-column index per stored block (uint16
 *           or uint32 as above), and each stored block's values in full (row-major; zeros inside a
 *           stored block are stored). rows and cols must be multiples of the block shape.
 *   2_4     2:4 structured: in every group of 4 consecutive elements of a row at most 2 are
 *           nonzero; each group stores exactly 2 values and two 2-bit positions (4 bits), i.e.
 *           0.625 bytes per element. Rows are stored in panels of 16 (a last partial panel is
 *           padded); cols must be a multiple of 4.
 *   BITMAP  one occupancy bit per element plus the nonzero values, in panels of 16 rows x groups
 *           of 4 columns (the dense GEMM's register layout), so a kernel expands it to dense
 *           registers without index arithmetic: the unstructured format for few activation rows,
 *           where the GEMM streams weights and bytes are time.
 * The matrix keeps the dense tensor's shape (any rank >= 2) for q8_sparse_to_dense.
 *
 * GEMM: C (M x rows) = epilogue(A (M x cols) · W^T), A row-major u8 or s8 with a zero point, with
 * exactly the numerics and epilogue of q8_gemm_u8s8 / q8_gemm_s8s8 called with trans_b and the
 * dense W (N = rows, K = cols, weight zero points 0): the same bits, on every ISA path and thread
 * count. Per-column epilogue arrays have one entry per row of W.
 */
#ifndef Q8_SPARSE_H
#define Q8_SPARSE_H

#include "q8/gemm.h"
#include "q8/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum q8_sparse_format {
  Q8_SPARSE_CSR = 0,
  Q8_SPARSE_BCSR = 1,
  Q8_SPARSE_2_4 = 2,
  Q8_SPARSE_BITMAP = 3
} q8_sparse_format;

typedef struct q8_sparse q8_sparse; /* opaque, immutable once created */

/* What a sparse matrix holds. Fill struct_size (sizeof) before the call. */
typedef struct q8_sparse_info {
  size_t struct_size;
  q8_sparse_format format;
  int64_t rows, cols;
  int64_t block_rows, block_cols;  /* BCSR's block shape; 1 x 1 for CSR, 1 x 4 for 2_4, BITMAP */
  int64_t nonzeros;                /* nonzero values of the matrix */
  int64_t stored_values;           /* values stored: >= nonzeros (zeros inside stored blocks,
                                      2:4 groups with fewer than 2 nonzeros, panel padding) */
  size_t value_bytes;              /* the stored values */
  size_t index_bytes;              /* offsets, column indices, positions, bitmaps */
  size_t qparam_bytes;             /* scales */
  size_t aux_bytes;                /* kernel aids (per-row sums for the zero-point correction) */
  size_t total_bytes;              /* the sum of the four above: the handle's storage */
  size_t dense_bytes;              /* rows * cols, the same matrix as dense INT8 */
} q8_sparse_info;

/* Converts a dense S8 tensor (rank >= 2) to `format`. Its quantization parameters, if any, must
 * be per tensor or per axis 0 with every zero point 0 (Q8_ERR_UNSUPPORTED otherwise). block_rows
 * and block_cols are read for BCSR only (each >= 1 and dividing rows / cols). 2_4 rejects a group
 * with more than 2 nonzeros with Q8_ERR_INVALID_ARGUMENT naming its row and column (prune with
 * Q8_PRUNE_N_M, n = 2, m = 4, first). */
Q8_API q8_status q8_sparse_from_dense(const q8_tensor *dense, q8_sparse_format format,
                                      int64_t block_rows, int64_t block_cols, q8_sparse **out);

/* A new dense S8 tensor equal to the one the matrix was made from: same shape, values and
 * quantization parameters. */
Q8_API q8_status q8_sparse_to_dense(const q8_sparse *sparse, q8_tensor **out);

Q8_API q8_status q8_sparse_get_info(const q8_sparse *sparse, q8_sparse_info *info);

/* Frees the handle. NULL is a no-op. */
Q8_API void q8_sparse_destroy(q8_sparse *sparse);

/* C = epilogue(A · W^T): A is m x cols (row-major, leading dimension lda >= cols), C is m x rows
 * (ldc >= rows, in elements of the epilogue's output type). a_zero_point in [0, 255] (u8) or
 * [-128, 127] (s8). */
Q8_API q8_status q8_sparse_gemm_u8s8(int64_t m, const uint8_t *a, int64_t lda, int32_t a_zero_point,
                                     const q8_sparse *w, const q8_gemm_epilogue *epilogue,
                                     void *c, int64_t ldc);
Q8_API q8_status q8_sparse_gemm_s8s8(int64_t m, const int8_t *a, int64_t lda, int32_t a_zero_point,
                                     const q8_sparse *w, const q8_gemm_epilogue *epilogue,
                                     void *c, int64_t ldc);

/* ---- sparse weights in models ------------------------------------------------------------ */

/* Whether sessions run a constant INT8 weight (QGemm, QLinearMatMul, MatMulInteger, DynamicGemm
 * with weight zero points 0) through the sparse GEMM:
 *   AUTO    (default) per layer, from the weight's measured density and structure (2:4, 4x4
 *           blocks, unstructured) and the session's row count, against the crossover densities
 *           bench_sparse measured on this kind of CPU (docs/SPARSITY.md); dense otherwise.
 *   DENSE   never.
 *   SPARSE  whenever the weight has a zero, in the format its structure suits (for tests).
 * Results are the same bits either way. The environment variable Q8_SPARSE=auto|dense|sparse
 * sets the starting value. Applies to sessions created afterwards. */
typedef enum q8_sparse_policy {
  Q8_SPARSE_POLICY_AUTO = 0,
  Q8_SPARSE_POLICY_DENSE = 1,
  Q8_SPARSE_POLICY_SPARSE = 2
} q8_sparse_policy;

Q8_API q8_status q8_sparse_set_policy(q8_sparse_policy policy);
Q8_API q8_sparse_policy q8_sparse_get_policy(void);

#ifdef __cplusplus
}
#endif
#endif /* Q8_SPARSE_H */
