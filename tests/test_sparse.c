/* q8_sparse_*: every format round-trips to the dense tensor exactly (values, shape of rank 2 to 4,
 * quantization parameters) on edge shapes and sparsities; byte accounting against counts worked
 * out here from the layouts sparse.h describes; the sparse GEMM bit for bit against q8_gemm_* on
 * the dense matrix (every epilogue kind, zero points, leading dimensions, scalar and automatic
 * ISA, 1 and 2 threads, int32 wrap-around); and bad input for every entry point. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(sparse, .fini = restore_runtime);

static const int64_t kEdge[] = {1, 4, 7, 16, 17, 63, 64, 65, 128};
#define N_EDGE (sizeof kEdge / sizeof kEdge[0])
static const int kSparsity[] = {0, 50, 90, 100}; /* percent of zeros */

/* A format with its block shape (read for BCSR only). */
typedef struct {
  q8_sparse_format format;
  int64_t br, bc;
} layout;

static const layout kLayouts[] = {
    {Q8_SPARSE_CSR, 1, 1},   {Q8_SPARSE_BCSR, 1, 4},  {Q8_SPARSE_BCSR, 4, 4}, {Q8_SPARSE_BCSR, 8, 1},
    {Q8_SPARSE_BCSR, 16, 4}, {Q8_SPARSE_BCSR, 2, 8},  {Q8_SPARSE_2_4, 1, 4},  {Q8_SPARSE_BITMAP, 1, 4}};
#define N_LAYOUTS (sizeof kLayouts / sizeof kLayouts[0])

static int layout_fits(const layout *l, int64_t rows, int64_t cols) {
  if (l->format == Q8_SPARSE_BCSR) return rows % l->br == 0 && cols % l->bc == 0;
  if (l->format == Q8_SPARSE_2_4) return cols % 4 == 0;
  return 1;
}

static int8_t nonzero(test_rng *r) {
  int8_t v;
  do v = (int8_t)(uint8_t)rng_next(r);
  while (v == 0);
  return v;
}

/* rows x cols weights with about `sparsity` percent zeros, in the pattern the layout stores well:
 * whole br x bc blocks zero for BCSR (kept blocks a quarter zeros), at most 2 nonzeros per group
 * of 4 for 2_4 (so at least 50 % zeros), single elements otherwise. */
static void fill_weights(int8_t *w, int64_t rows, int64_t cols, int sparsity, const layout *l, test_rng *r) {
  const double keep = 1.0 - sparsity / 100.0;
  if (l->format == Q8_SPARSE_BCSR) {
    for (int64_t b0 = 0; b0 < rows; b0 += l->br)
      for (int64_t c0 = 0; c0 < cols; c0 += l->bc) {
        const int kept = rng_uniform(r) < keep;
        for (int64_t i = b0; i < b0 + l->br; ++i)
          for (int64_t j = c0; j < c0 + l->bc; ++j)
            w[i * cols + j] = kept && rng_uniform(r) < 0.75 ? nonzero(r) : 0;
      }
  } else if (l->format == Q8_SPARSE_2_4) {
    const double p = keep * 2 > 1 ? 1 : keep * 2; /* each of the 2 slots is filled with p */
    memset(w, 0, (size_t)(rows * cols));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t g = 0; g < cols / 4; ++g) {
        const int first = (int)(rng_next(r) % 4), second = (first + 1 + (int)(rng_next(r) % 3)) % 4;
        if (rng_uniform(r) < p) w[i * cols + 4 * g + first] = nonzero(r);
        if (rng_uniform(r) < p) w[i * cols + 4 * g + second] = nonzero(r);
      }
  } else {
    for (int64_t i = 0; i < rows * cols; ++i) w[i] = rng_uniform(r) < keep ? nonzero(r) : 0;
  }
}

/* What q8_sparse_get_info must report, worked out from the layouts in sparse.h. */
static q8_sparse_info expected_info(const int8_t *w, int64_t rows, int64_t cols, const layout *l, size_t scales) {
  q8_sparse_info e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  e.format = l->format;
  e.rows = rows;
  e.cols = cols;
  e.block_rows = 1;
  e.block_cols = l->format == Q8_SPARSE_CSR ? 1 : 4;
  for (int64_t i = 0; i < rows * cols; ++i) e.nonzeros += w[i] != 0;
  const size_t nnz = (size_t)e.nonzeros, panels = (size_t)((rows + 15) / 16);
  switch (l->format) {
    case Q8_SPARSE_CSR:
      e.stored_values = e.nonzeros;
      e.index_bytes = 4 * (size_t)(rows + 1) + (cols > 65536 ? 4 : 2) * nnz;
      break;
    case Q8_SPARSE_BCSR: {
      size_t blocks = 0;
      for (int64_t b0 = 0; b0 < rows; b0 += l->br)
        for (int64_t c0 = 0; c0 < cols; c0 += l->bc) {
          int any = 0;
          for (int64_t i = b0; i < b0 + l->br; ++i)
            for (int64_t j = c0; j < c0 + l->bc; ++j) any |= w[i * cols + j] != 0;
          blocks += (size_t)any;
        }
      e.block_rows = l->br;
      e.block_cols = l->bc;
      e.stored_values = (int64_t)blocks * l->br * l->bc;
      e.index_bytes = 4 * (size_t)(rows / l->br + 1) + (cols / l->bc > 65536 ? 4 : 2) * blocks;
      break;
    }
    case Q8_SPARSE_2_4: /* per padded row and group: 2 values and a 4-bit position pair */
      e.stored_values = (int64_t)(panels * 16 * (size_t)(cols / 4) * 2);
      e.index_bytes = panels * 16 * (size_t)(cols / 4) / 2;
      break;
    case Q8_SPARSE_BITMAP:
      e.stored_values = e.nonzeros;
      e.index_bytes = panels * (size_t)((cols + 3) / 4) * 8 + 4 * (panels + 1);
      break;
  }
  e.value_bytes = (size_t)e.stored_values;
  e.qparam_bytes = 4 * scales;
  e.aux_bytes = 4 * (size_t)rows;
  e.total_bytes = e.value_bytes + e.index_bytes + e.qparam_bytes + e.aux_bytes;
  e.dense_bytes = (size_t)(rows * cols);
  return e;
}

static q8_sparse_info get_info(const q8_sparse *s) {
  q8_sparse_info got;
  memset(&got, 0xCC, sizeof got);
  got.struct_size = sizeof got;
  Q8_OK_OR_FAIL(q8_sparse_get_info(s, &got));
  return got;
}

static void check_info(const q8_sparse *s, const q8_sparse_info *e, const char *what) {
  const q8_sparse_info g = get_info(s);
  cr_assert(g.struct_size == sizeof g && g.format == e->format && g.rows == e->rows && g.cols == e->cols &&
                g.block_rows == e->block_rows && g.block_cols == e->block_cols,
            "%s: info identity: format %d %lldx%lld block %lldx%lld", what, (int)g.format, (long long)g.rows,
            (long long)g.cols, (long long)g.block_rows, (long long)g.block_cols);
  cr_assert(g.nonzeros == e->nonzeros && g.stored_values == e->stored_values,
            "%s: nonzeros %lld stored %lld, wanted %lld %lld", what, (long long)g.nonzeros,
            (long long)g.stored_values, (long long)e->nonzeros, (long long)e->stored_values);
  cr_assert(g.value_bytes == e->value_bytes && g.index_bytes == e->index_bytes &&
                g.qparam_bytes == e->qparam_bytes && g.aux_bytes == e->aux_bytes &&
                g.total_bytes == e->total_bytes && g.dense_bytes == e->dense_bytes,
            "%s: bytes value %zu index %zu qparam %zu aux %zu total %zu dense %zu, wanted %zu %zu %zu %zu %zu %zu",
            what, g.value_bytes, g.index_bytes, g.qparam_bytes, g.aux_bytes, g.total_bytes, g.dense_bytes,
            e->value_bytes, e->index_bytes, e->qparam_bytes, e->aux_bytes, e->total_bytes, e->dense_bytes);
}

/* A dense S8 tensor of `shape` holding w, with no parameters (qp 0), one scale (1) or one per row
 * (2); zero points 0. */
static q8_tensor *dense_tensor(const int64_t *shape, size_t rank, const int8_t *w, int qp) {
  q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, rank);
  size_t n;
  Q8_OK_OR_FAIL(q8_tensor_numel(t, &n));
  if (n) memcpy(tensor_data(t), w, n);
  if (qp == 1) Q8_OK_OR_FAIL(q8_tensor_set_qparams(t, 0.03125f, 0));
  if (qp == 2) {
    float *scales = malloc((size_t)shape[0] * sizeof *scales + 1);
    int32_t *zps = calloc((size_t)shape[0] + 1, sizeof *zps);
    for (int64_t i = 0; i < shape[0]; ++i) scales[i] = 0.001f * (float)(i + 1);
    Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 0, scales, zps, (size_t)shape[0]));
    free(scales);
    free(zps);
  }
  return t;
}

/* to_dense(from_dense(t)) equals t: dtype, shape, bytes and parameters. */
static void check_same_tensor(const q8_tensor *want, const q8_tensor *got, const char *what) {
  size_t rw, rg, nw, ng, cw, cg;
  int32_t aw, ag;
  int64_t sw[8], sg[8];
  q8_dtype dt;
  Q8_OK_OR_FAIL(q8_tensor_dtype(got, &dt));
  cr_assert_eq(dt, Q8_DTYPE_S8, "%s: dtype", what);
  Q8_OK_OR_FAIL(q8_tensor_rank(want, &rw));
  Q8_OK_OR_FAIL(q8_tensor_rank(got, &rg));
  cr_assert_eq(rw, rg, "%s: rank %zu, wanted %zu", what, rg, rw);
  Q8_OK_OR_FAIL(q8_tensor_shape(want, sw, 8));
  Q8_OK_OR_FAIL(q8_tensor_shape(got, sg, 8));
  cr_assert(memcmp(sw, sg, rw * sizeof sw[0]) == 0, "%s: shape differs", what);
  Q8_OK_OR_FAIL(q8_tensor_numel(want, &nw));
  Q8_OK_OR_FAIL(q8_tensor_numel(got, &ng));
  cr_assert_eq(nw, ng, "%s: numel", what);
  if (nw) cr_assert(memcmp(tensor_data(want), tensor_data(got), nw) == 0, "%s: values differ", what);
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(want, &aw, &cw));
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(got, &ag, &cg));
  cr_assert(cw == cg && (cw == 0 || aw == ag), "%s: qparams layout axis %d count %zu, wanted %d %zu", what, ag, cg,
            aw, cw);
  if (cw == 0) return;
  float *fw = malloc(cw * sizeof *fw), *fg = malloc(cw * sizeof *fg);
  int32_t *zw = malloc(cw * sizeof *zw), *zg = malloc(cw * sizeof *zg);
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(want, fw, zw, cw));
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(got, fg, zg, cw));
  cr_assert(memcmp(fw, fg, cw * sizeof *fw) == 0 && memcmp(zw, zg, cw * sizeof *zw) == 0, "%s: qparams differ",
            what);
  free(fw);
  free(fg);
  free(zw);
  free(zg);
}

/* Converts w (the 2-D view rows x cols of `shape`) with layout l and checks the round trip and the
 * byte accounting. */
static void check_round_trip(const int64_t *shape, size_t rank, const int8_t *w, int qp, const layout *l,
                             const char *what) {
  int64_t cols = 1;
  for (size_t i = 1; i < rank; ++i) cols *= shape[i];
  q8_tensor *t = dense_tensor(shape, rank, w, qp), *back = NULL;
  q8_sparse *s = NULL;
  Q8_OK_OR_FAIL(q8_sparse_from_dense(t, l->format, l->br, l->bc, &s));
  const size_t scales = qp == 0 ? 0 : qp == 1 ? 1 : (size_t)shape[0];
  const q8_sparse_info e = expected_info(w, shape[0], cols, l, scales);
  check_info(s, &e, what);
  Q8_OK_OR_FAIL(q8_sparse_to_dense(s, &back));
  check_same_tensor(t, back, what);
  q8_tensor_destroy(back);
  q8_sparse_destroy(s);
  q8_tensor_destroy(t);
}

Test(sparse, every_layout_round_trips_on_edge_shapes) {
  test_rng r;
  rng_seed(&r, 21);
  int8_t *w = malloc(128 * 128);
  unsigned variant = 0;
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (size_t ri = 0; ri < N_EDGE; ++ri)
      for (size_t ci = 0; ci < N_EDGE; ++ci) {
        const int64_t rows = kEdge[ri], cols = kEdge[ci];
        if (!layout_fits(&kLayouts[li], rows, cols)) continue;
        for (size_t si = 0; si < 4; ++si)
          for (int qp = 0; qp < 3; ++qp, ++variant) {
            fill_weights(w, rows, cols, kSparsity[si], &kLayouts[li], &r);
            /* the same 2-D view as rank 2, 3 or 4 */
            const int64_t d = cols % 4 == 0 ? 4 : 1;
            const int64_t shapes[3][4] = {{rows, cols}, {rows, cols / d, d}, {rows, 1, cols / d, d}};
            const size_t rank = 2 + variant % 3;
            char what[160];
            snprintf(what, sizeof what, "format %d block %lldx%lld, %lld x %lld rank %zu, %d %% zeros, qp %d",
                     (int)kLayouts[li].format, (long long)kLayouts[li].br, (long long)kLayouts[li].bc,
                     (long long)rows, (long long)cols, rank, kSparsity[si], qp);
            check_round_trip(shapes[rank - 2], rank, w, qp, &kLayouts[li], what);
          }
      }
  free(w);
}

Test(sparse, empty_dimensions_round_trip) {
  static const int64_t shapes[][3] = {{0, 8, 2}, {5, 0, 4}, {4, 4, 0}};
  for (size_t i = 0; i < 3; ++i)
    for (size_t li = 0; li < N_LAYOUTS; ++li) {
      const int64_t cols = shapes[i][1] * shapes[i][2];
      if (!layout_fits(&kLayouts[li], shapes[i][0], cols)) continue;
      check_round_trip(shapes[i], 3, NULL, 0, &kLayouts[li], "empty");
    }
}

Test(sparse, wide_column_indices) {
  /* one row past 65536 columns (uint32 indices), and exactly 65536 (still uint16) */
  test_rng r;
  rng_seed(&r, 22);
  static const int64_t widths[] = {70001, 65536};
  const layout csr = {Q8_SPARSE_CSR, 1, 1}, bcsr = {Q8_SPARSE_BCSR, 1, 1}, bitmap = {Q8_SPARSE_BITMAP, 1, 4};
  int8_t *w = malloc(2 * 70001);
  for (size_t i = 0; i < 2; ++i) {
    const int64_t one_row[2] = {1, widths[i]}, two_rows[2] = {2, widths[i]};
    fill_weights(w, 2, widths[i], 50, &csr, &r);
    check_round_trip(one_row, 2, w, 2, &csr, "CSR, one wide row");
    check_round_trip(two_rows, 2, w, 1, &bcsr, "BCSR 1x1, wide");
    check_round_trip(two_rows, 2, w, 0, &bitmap, "BITMAP, wide");
  }
  free(w);
}

Test(sparse, byte_accounting_at_4096) {
  /* 2_4 with per-row scales: values and positions are exactly 0.625 bytes per element; BCSR 4x4
   * with 90 % of its blocks zero. Both against FP32 (4 bytes per element) and dense INT8. */
  test_rng r;
  rng_seed(&r, 23);
  const int64_t n = 4096, shape[2] = {n, n};
  const double elems = (double)(n * n);
  int8_t *w = malloc((size_t)(n * n));
  const layout two_four = {Q8_SPARSE_2_4, 1, 4}, block = {Q8_SPARSE_BCSR, 4, 4};

  fill_weights(w, n, n, 50, &two_four, &r);
  q8_tensor *t = dense_tensor(shape, 2, w, 2);
  q8_sparse *s = NULL;
  Q8_OK_OR_FAIL(q8_sparse_from_dense(t, Q8_SPARSE_2_4, 0, 0, &s));
  q8_sparse_info got = get_info(s), want = expected_info(w, n, n, &two_four, (size_t)n);
  check_info(s, &want, "2_4 4096");
  cr_assert_eq((double)(got.value_bytes + got.index_bytes), 0.625 * elems);
  cr_assert_eq(got.total_bytes, (size_t)(0.625 * elems) + 2 * 4 * (size_t)n); /* + scales + row sums */
  cr_assert_eq(got.dense_bytes, (size_t)(n * n));
  cr_log_info("2_4 4096x4096, per-row scales: %zu bytes = %.4f of FP32, %.4f of dense INT8", got.total_bytes,
              (double)got.total_bytes / (4 * elems), (double)got.total_bytes / (double)got.dense_bytes);
  q8_sparse_destroy(s);
  q8_tensor_destroy(t);

  fill_weights(w, n, n, 90, &block, &r);
  t = dense_tensor(shape, 2, w, 2);
  Q8_OK_OR_FAIL(q8_sparse_from_dense(t, Q8_SPARSE_BCSR, 4, 4, &s));
  got = get_info(s);
  want = expected_info(w, n, n, &block, (size_t)n);
  check_info(s, &want, "BCSR 4x4 4096");
  const double stored_blocks = (double)got.stored_values / 16;
  cr_assert(stored_blocks > 0.09 * elems / 16 && stored_blocks < 0.11 * elems / 16, "%.0f blocks", stored_blocks);
  cr_assert(got.total_bytes < got.dense_bytes / 8, "%zu of %zu", got.total_bytes, got.dense_bytes);
  cr_log_info("BCSR 4x4 4096x4096, %.1f %% blocks stored, per-row scales: %zu bytes = %.4f of FP32, %.4f of dense INT8",
              100 * stored_blocks / (elems / 16), got.total_bytes, (double)got.total_bytes / (4 * elems),
              (double)got.total_bytes / (double)got.dense_bytes);
  q8_sparse_destroy(s);
  q8_tensor_destroy(t);
  free(w);
}

/* ---- GEMM against the dense GEMM --------------------------------------------------------------- */

/* C = epilogue(A · W^T) through the sparse handle on the scalar and the automatic ISA with 1 and 2
 * threads, against q8_gemm_* on the dense W; the whole of C's buffer is compared, so the gaps
 * between rows (ldc > rows) must keep their fill. */
static void check_gemm(const q8_sparse *s, const int8_t *w, int64_t rows, int64_t cols, int64_t m, int a_signed,
                       int32_t za, const q8_gemm_epilogue *ep, const unsigned char *a, int64_t lda,
                       const char *what) {
  const int64_t ldc = rows + 3;
  const size_t es = q8_dtype_size(ep ? ep->output_dtype : Q8_DTYPE_S32);
  const size_t bytes = (size_t)((m > 0 ? m : 1) * ldc) * es;
  unsigned char *want = malloc(bytes), *got = malloc(bytes);
  memset(want, 0x5A, bytes);
  const int64_t ldb = cols > 0 ? cols : 1;
  Q8_OK_OR_FAIL(a_signed ? q8_gemm_s8s8(Q8_NO_TRANSPOSE, Q8_TRANSPOSE, m, rows, cols, (const int8_t *)a, lda, za, w,
                                        ldb, NULL, 0, ep, want, ldc)
                         : q8_gemm_u8s8(Q8_NO_TRANSPOSE, Q8_TRANSPOSE, m, rows, cols, a, lda, za, w, ldb, NULL, 0,
                                        ep, want, ldc));
  static const q8_isa isas[2] = {Q8_ISA_SCALAR, Q8_ISA_AUTO};
  for (int i = 0; i < 2; ++i)
    for (int threads = 1; threads <= 2; ++threads) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[i]));
      Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
      memset(got, 0x5A, bytes);
      Q8_OK_OR_FAIL(a_signed ? q8_sparse_gemm_s8s8(m, (const int8_t *)a, lda, za, s, ep, got, ldc)
                             : q8_sparse_gemm_u8s8(m, a, lda, za, s, ep, got, ldc));
      if (memcmp(got, want, bytes) != 0) {
        size_t at = 0;
        while (got[at] == want[at]) ++at;
        cr_assert_fail("%s: m=%lld %s za=%d epilogue kind %d, isa %s, %d threads: first difference at row %zu, "
                       "column %zu",
                       what, (long long)m, a_signed ? "s8s8" : "u8s8", za, ep ? (int)ep->kind : -1,
                       isas[i] == Q8_ISA_SCALAR ? "scalar" : "auto", threads, at / es / (size_t)ldc,
                       at / es % (size_t)ldc);
      }
    }
  free(want);
  free(got);
}

static q8_sparse *make_sparse(const int8_t *w, int64_t rows, int64_t cols, const layout *l) {
  const int64_t shape[2] = {rows, cols};
  q8_tensor *t = dense_tensor(shape, 2, w, 0);
  q8_sparse *s = NULL;
  Q8_OK_OR_FAIL(q8_sparse_from_dense(t, l->format, l->br, l->bc, &s));
  q8_tensor_destroy(t);
  return s;
}

Test(sparse, gemm_matches_dense_gemm) {
  test_rng r;
  rng_seed(&r, 31);
  static const int64_t shapes[][2] = {{1, 4}, {7, 16}, {16, 16}, {17, 64}, {33, 128}, {64, 65}, {65, 7}};
  static const int64_t ms[] = {0, 1, 7, 16, 33};
  static const struct { int is_signed; int32_t za; } zps[] = {{0, 0}, {0, 3}, {0, 255}, {1, -128}, {1, 5}};
  unsigned variant = 0;
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; ++si) {
      const int64_t rows = shapes[si][0], cols = shapes[si][1];
      if (!layout_fits(&kLayouts[li], rows, cols)) continue;
      int8_t *w = malloc((size_t)(rows * cols));
      fill_weights(w, rows, cols, kSparsity[si % 4], &kLayouts[li], &r);
      q8_sparse *s = make_sparse(w, rows, cols, &kLayouts[li]);
      const int64_t lda = cols + 1 + (int64_t)(si % 3);
      unsigned char *a = malloc((size_t)(33 * lda));
      for (int64_t i = 0; i < 33 * lda; ++i) a[i] = (unsigned char)rng_next(&r);
      char what[96];
      snprintf(what, sizeof what, "format %d block %lldx%lld, %lld x %lld, lda %lld", (int)kLayouts[li].format,
               (long long)kLayouts[li].br, (long long)kLayouts[li].bc, (long long)rows, (long long)cols,
               (long long)lda);
      for (int v = 0; v < 8; ++v)
        for (size_t zi = 0; zi < 5; ++zi, ++variant) {
          epilogue_buf eb;
          const q8_gemm_epilogue *ep = epilogue_variant(&eb, v, rows, cols, &r);
          check_gemm(s, w, rows, cols, ms[variant % 5], zps[zi].is_signed, zps[zi].za, ep, a, lda, what);
        }
      free(a);
      q8_sparse_destroy(s);
      free(w);
    }
}

Test(sparse, gemm_empty_dimensions) {
  /* cols = 0: C = epilogue(bias); rows = 0 or m = 0: C untouched */
  test_rng r;
  rng_seed(&r, 32);
  unsigned char a[64];
  for (size_t i = 0; i < sizeof a; ++i) a[i] = (unsigned char)rng_next(&r);
  for (size_t li = 0; li < N_LAYOUTS; ++li) {
    if (!layout_fits(&kLayouts[li], 16, 0)) continue;
    q8_sparse *s = make_sparse(NULL, 16, 0, &kLayouts[li]);
    for (int v = 0; v < 8; ++v) {
      epilogue_buf eb;
      check_gemm(s, NULL, 16, 0, 3, v % 2, 0, epilogue_variant(&eb, v, 16, 0, &r), a, 1, "cols = 0");
    }
    q8_sparse_destroy(s);
    s = make_sparse(NULL, 0, 16, &kLayouts[li]);
    check_gemm(s, NULL, 0, 16, 3, 0, 9, NULL, a, 16, "rows = 0");
    q8_sparse_destroy(s);
  }
}

Test(sparse, gemm_wide_indices_and_int32_wrap) {
  /* 70001 columns (uint32 indices) of -128 against 255 with zero point 0: the exact sum leaves int32
   * and wraps modulo 2^32, as in the dense GEMM */
  const int64_t rows = 3, cols = 70001, lda = cols + 5;
  int8_t *w = malloc((size_t)(rows * cols));
  unsigned char *a = malloc((size_t)(4 * lda));
  for (int64_t i = 0; i < rows * cols; ++i) w[i] = (i % 1009 == 0) ? 0 : -128;
  for (int64_t i = 0; i < 4 * lda; ++i) a[i] = (i % 97 == 0) ? 0 : 255;
  const layout ls[] = {{Q8_SPARSE_CSR, 1, 1}, {Q8_SPARSE_BCSR, 1, 1}, {Q8_SPARSE_BITMAP, 1, 4}};
  for (size_t li = 0; li < 3; ++li) {
    q8_sparse *s = make_sparse(w, rows, cols, &ls[li]);
    check_gemm(s, w, rows, cols, 4, 0, 0, NULL, a, lda, "wide, wrapping");
    check_gemm(s, w, rows, cols, 4, 1, -128, NULL, a, lda, "wide, wrapping, s8");
    q8_sparse_destroy(s);
  }
  free(a);
  free(w);
}

/* ---- bad input ----------------------------------------------------------------------------------- */

Test(sparse, bad_input_from_dense) {
  const int64_t shape[2] = {4, 8}, shape1[1] = {8};
  q8_sparse *const sentinel = (q8_sparse *)(uintptr_t)0x1234, *s = sentinel;
  q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, 2);
  Q8_EXPECT_ERROR(q8_sparse_from_dense(NULL, Q8_SPARSE_CSR, 1, 1, &s), Q8_ERR_INVALID_ARGUMENT, "dense is NULL");
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_CSR, 1, 1, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, (q8_sparse_format)99, 1, 1, &s), Q8_ERR_INVALID_ARGUMENT, "format = 99");
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, (q8_sparse_format)-1, 1, 1, &s), Q8_ERR_INVALID_ARGUMENT, "format = -1");

  q8_tensor *u8 = make_tensor(Q8_DTYPE_U8, shape, 2), *f32 = make_tensor(Q8_DTYPE_F32, shape, 2);
  Q8_EXPECT_ERROR(q8_sparse_from_dense(u8, Q8_SPARSE_CSR, 1, 1, &s), Q8_ERR_DTYPE, "dense is u8");
  Q8_EXPECT_ERROR(q8_sparse_from_dense(f32, Q8_SPARSE_BITMAP, 1, 1, &s), Q8_ERR_DTYPE, "dense is f32");
  q8_tensor *rank1 = make_tensor(Q8_DTYPE_S8, shape1, 1);
  Q8_EXPECT_ERROR(q8_sparse_from_dense(rank1, Q8_SPARSE_CSR, 1, 1, &s), Q8_ERR_SHAPE, "rank 1");

  Q8_OK_OR_FAIL(q8_tensor_set_qparams(t, 0.5f, 3));
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_CSR, 1, 1, &s), Q8_ERR_UNSUPPORTED, "zero point 3");
  const float scales[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  const int32_t zps[8] = {0, 0, -1, 0, 0, 0, 0, 0};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 1, scales, zps, 8));
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_CSR, 1, 1, &s), Q8_ERR_UNSUPPORTED, "per axis 1");
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 0, scales, zps, 4));
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_2_4, 1, 1, &s), Q8_ERR_UNSUPPORTED, "zero point -1 at row 2");
  Q8_OK_OR_FAIL(q8_tensor_clear_qparams(t));

  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_BCSR, 3, 4, &s), Q8_ERR_SHAPE, "does not divide");
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_BCSR, 4, 3, &s), Q8_ERR_SHAPE, "3 does not divide");
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_BCSR, 0, 4, &s), Q8_ERR_INVALID_ARGUMENT, "block_rows = 0");
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_BCSR, 4, -2, &s), Q8_ERR_INVALID_ARGUMENT, "block_cols = -2");

  const int64_t shape6[2] = {2, 6};
  q8_tensor *odd = make_tensor(Q8_DTYPE_S8, shape6, 2);
  Q8_EXPECT_ERROR(q8_sparse_from_dense(odd, Q8_SPARSE_2_4, 1, 1, &s), Q8_ERR_SHAPE, "multiple of 4, got 6");
  int8_t *d = tensor_data(t); /* row 1, columns 4..7: 3 nonzeros, the third at column 6 */
  d[8 + 4] = 1;
  d[8 + 5] = -2;
  d[8 + 6] = 3;
  Q8_EXPECT_ERROR(q8_sparse_from_dense(t, Q8_SPARSE_2_4, 1, 1, &s), Q8_ERR_INVALID_ARGUMENT, "row 1, column 6");
  cr_assert(strstr(q8_last_error(), "Q8_PRUNE_N_M") != NULL, "%s", q8_last_error());
  cr_assert_eq(s, sentinel, "out written on failure");
  /* the other formats take the same matrix */
  for (int f = Q8_SPARSE_CSR; f <= Q8_SPARSE_BITMAP; ++f) {
    if (f == Q8_SPARSE_2_4) continue;
    Q8_OK_OR_FAIL(q8_sparse_from_dense(t, (q8_sparse_format)f, 2, 2, &s));
    q8_sparse_destroy(s);
  }
  q8_sparse_destroy(NULL);
  q8_tensor_destroy(odd);
  q8_tensor_destroy(rank1);
  q8_tensor_destroy(u8);
  q8_tensor_destroy(f32);
  q8_tensor_destroy(t);
}

Test(sparse, bad_input_to_dense_and_info) {
  const int64_t shape[2] = {4, 8};
  q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, 2), *const sentinel = (q8_tensor *)(uintptr_t)0x5678,
            *back = sentinel;
  q8_sparse *s = NULL;
  Q8_OK_OR_FAIL(q8_sparse_from_dense(t, Q8_SPARSE_CSR, 1, 1, &s));
  Q8_EXPECT_ERROR(q8_sparse_to_dense(NULL, &back), Q8_ERR_INVALID_ARGUMENT, "sparse is NULL");
  Q8_EXPECT_ERROR(q8_sparse_to_dense(s, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  cr_assert_eq(back, sentinel);

  q8_sparse_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  Q8_EXPECT_ERROR(q8_sparse_get_info(NULL, &info), Q8_ERR_INVALID_ARGUMENT, "sparse is NULL");
  Q8_EXPECT_ERROR(q8_sparse_get_info(s, NULL), Q8_ERR_INVALID_ARGUMENT, "info is NULL");
  info.struct_size = 0;
  Q8_EXPECT_ERROR(q8_sparse_get_info(s, &info), Q8_ERR_INVALID_ARGUMENT, "struct_size = 0");
  info.struct_size = sizeof info - 1;
  Q8_EXPECT_ERROR(q8_sparse_get_info(s, &info), Q8_ERR_INVALID_ARGUMENT, "struct_size");
  cr_assert_eq(info.rows, 0, "info written on failure");
  q8_sparse_destroy(s);
  q8_tensor_destroy(t);
}

Test(sparse, bad_input_gemm) {
  const int64_t shape[2] = {4, 8};
  q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, 2);
  q8_sparse *w = NULL;
  Q8_OK_OR_FAIL(q8_sparse_from_dense(t, Q8_SPARSE_BITMAP, 1, 1, &w));
  uint8_t a[64] = {0};
  int32_t c[64];
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(-1, a, 8, 0, w, NULL, c, 4), Q8_ERR_SHAPE, "m = -1");
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, 0, NULL, NULL, c, 4), Q8_ERR_INVALID_ARGUMENT, "w is NULL");
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, NULL, 8, 0, w, NULL, c, 4), Q8_ERR_INVALID_ARGUMENT, "a is NULL");
  Q8_EXPECT_ERROR(q8_sparse_gemm_s8s8(2, (const int8_t *)a, 8, 0, w, NULL, NULL, 4), Q8_ERR_INVALID_ARGUMENT, "c is NULL");
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 7, 0, w, NULL, c, 4), Q8_ERR_SHAPE, "lda = 7");
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, 0, w, NULL, c, 3), Q8_ERR_SHAPE, "ldc = 3");
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, 256, w, NULL, c, 4), Q8_ERR_INVALID_ARGUMENT, "a_zero_point = 256");
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, -1, w, NULL, c, 4), Q8_ERR_INVALID_ARGUMENT, "a_zero_point = -1");
  Q8_EXPECT_ERROR(q8_sparse_gemm_s8s8(2, (const int8_t *)a, 8, 128, w, NULL, c, 4), Q8_ERR_INVALID_ARGUMENT,
         "a_zero_point = 128");
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(INT64_MAX / 2, a, 8, 0, w, NULL, c, 4), Q8_ERR_SHAPE, "address space");

  q8_gemm_epilogue ep;
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
  ep.struct_size = 3;
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, 0, w, &ep, c, 4), Q8_ERR_INVALID_ARGUMENT, "struct_size");
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
  ep.kind = (q8_gemm_epilogue_kind)9;
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, 0, w, &ep, c, 4), Q8_ERR_INVALID_ARGUMENT, "kind = 9");
  ep.kind = Q8_GEMM_EPILOGUE_DEQUANTIZE; /* output_dtype still S32 */
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, 0, w, &ep, c, 4), Q8_ERR_DTYPE, "output_dtype");
  const float scales[3] = {1, 1, 1};
  ep.output_dtype = Q8_DTYPE_F32;
  ep.scale = scales;
  ep.channels = 3; /* W has 4 rows */
  Q8_EXPECT_ERROR(q8_sparse_gemm_u8s8(2, a, 8, 0, w, &ep, c, 4), Q8_ERR_INVALID_ARGUMENT, "channels = 3");
  ep.channels = 1;
  Q8_OK_OR_FAIL(q8_sparse_gemm_u8s8(2, a, 8, 0, w, &ep, c, 4));
  q8_sparse_destroy(w);
  q8_tensor_destroy(t);
}
