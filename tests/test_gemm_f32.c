/* q8_gemm_f32_ordered: every element must be exactly the fixed-order chain
 *   acc = fmaf(op(A)[i,0], op(B)[0,j], +0); acc = fmaf(op(A)[i,1], op(B)[1,j], acc); ...
 *   C[i,j] = beta != 0 ? fmaf(beta, C_old, alpha * acc) : alpha * acc
 * (libm's fmaf is correctly rounded, so this oracle has no freedom). Checked bit for bit on every
 * ISA path and 1-2 threads (unpacked, and with B packed once, under another ISA), on edge sizes (0, 1, 7, 63, 65 and every kernel's tile edges), both
 * transposes, padded leading dimensions, alpha/beta variants, NaN in C with beta == 0; then the
 * property the runtime relies on: a row's bits do not depend on the batch it is computed in. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(gemm_f32, .fini = restore_runtime);

typedef struct {
  int ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
} f32_shape;

static void oracle(const f32_shape *s, const float *a, const float *b, float *c) {
  for (int64_t i = 0; i < s->m; ++i)
    for (int64_t j = 0; j < s->n; ++j) {
      float *cij = &c[i * s->ldc + j];
      if (s->k == 0) {
        *cij = s->beta == 0.0f ? 0.0f : s->beta * *cij;
        continue;
      }
      float acc = 0.0f;
      for (int64_t q = 0; q < s->k; ++q)
        acc = fmaf(s->ta ? a[q * s->lda + i] : a[i * s->lda + q], s->tb ? b[j * s->ldb + q] : b[q * s->ldb + j], acc);
      const float t = s->alpha * acc;
      *cij = s->beta != 0.0f ? fmaf(s->beta, *cij, t) : t;
    }
}

static q8_status ordered(const f32_shape *s, const float *a, const float *b, float *c) {
  return q8_gemm_f32_ordered(s->ta ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, s->tb ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, s->m,
                             s->n, s->k, s->alpha, a, s->lda, b, s->ldb, s->beta, c, s->ldc);
}

static float *random_floats(size_t count, test_rng *r) {
  float *v = malloc(count * sizeof(float) + sizeof(float));
  cr_assert(v != NULL);
  for (size_t i = 0; i < count; ++i) v[i] = (float)rng_normal(r);
  return v;
}

/* Runs one shape on every ISA and thread count; returns the number of runs. */
static int check_shape(f32_shape s, test_rng *r) {
  if (s.lda == 0) s.lda = s.ta ? s.m : s.k;
  if (s.ldb == 0) s.ldb = s.tb ? s.k : s.n;
  if (s.ldc == 0) s.ldc = s.n;
  if (s.lda < 1) s.lda = 1;
  if (s.ldb < 1) s.ldb = 1;
  if (s.ldc < 1) s.ldc = 1;
  const size_t na = (size_t)((s.ta ? s.k : s.m) * s.lda), nb = (size_t)((s.tb ? s.n : s.k) * s.ldb),
               nc = (size_t)(s.m * s.ldc);
  float *a = random_floats(na, r), *b = random_floats(nb, r), *c0 = random_floats(nc, r);
  if (s.beta == 0.0f)
    for (size_t i = 0; i < nc; ++i) c0[i] = NAN; /* beta == 0: C is only written */
  float *want = malloc(nc * sizeof(float) + sizeof(float)), *got = malloc(nc * sizeof(float) + sizeof(float));
  memcpy(want, c0, nc * sizeof(float));
  oracle(&s, a, b, want);
  q8_isa isas[8];
  const size_t n_isa = supported_isas(isas);
  int runs = 0;
  for (size_t v = 0; v < n_isa; ++v)
    for (int threads = 1; threads <= 2; ++threads) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[v]));
      Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
      memcpy(got, c0, nc * sizeof(float));
      if (threads == 1) {
        Q8_OK_OR_FAIL(ordered(&s, a, b, got));
      } else { /* the packed form, B packed under another ISA: one layout for all paths */
        q8_gemm_f32_packed *packed = NULL;
        Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[(v + 1) % n_isa]));
        Q8_OK_OR_FAIL(q8_gemm_f32_pack_b(s.tb ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, s.k, s.n, b, s.ldb, &packed));
        Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[v]));
        Q8_OK_OR_FAIL(q8_gemm_f32_ordered_packed(s.ta ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, s.m, s.alpha, a, s.lda, packed,
                                                 s.beta, got, s.ldc));
        q8_gemm_f32_packed_destroy(packed);
      }
      for (size_t e = 0; e < nc; ++e)
        cr_assert(memcmp(&got[e], &want[e], sizeof(float)) == 0 || (isnan(got[e]) && isnan(want[e])),
                  "isa %d threads %d ta %d tb %d m %lld n %lld k %lld lda %lld ldb %lld ldc %lld alpha %g beta %g: "
                  "C[%zu] = %a, want %a",
                  (int)isas[v], threads, s.ta, s.tb, (long long)s.m, (long long)s.n, (long long)s.k,
                  (long long)s.lda, (long long)s.ldb, (long long)s.ldc, s.alpha, s.beta, e, got[e], want[e]);
      ++runs;
    }
  free(a);
  free(b);
  free(c0);
  free(want);
  free(got);
  return runs;
}

Test(gemm_f32, ordered_equals_the_fma_chain_on_every_path) {
  test_rng r;
  rng_seed(&r, 77);
  /* 0, 1, 7, 63, 65 and the kernels' tile edges (rows 4/6/12, columns 16/32, tasks 48 x 256). */
  static const int64_t sizes[] = {0, 1, 2, 5, 6, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47, 48, 49, 63, 65};
  const size_t ns = sizeof sizes / sizeof sizes[0];
  int runs = 0, shapes = 0;
  for (int ta = 0; ta <= 1; ++ta)
    for (int tb = 0; tb <= 1; ++tb)
      for (size_t i = 0; i < ns; ++i)
        for (size_t j = (i * 7 + (size_t)ta) % 3; j < ns; j += 3) {
          const int64_t k = sizes[(i + j + (size_t)(2 * tb)) % ns];
          f32_shape s = {ta, tb, sizes[i], sizes[j], k, 0, 0, 0, 1.0f, 0.0f};
          runs += check_shape(s, &r);
          f32_shape t = {ta, tb, sizes[j], sizes[i], k + 1, (int64_t)(i % 3), (int64_t)(j % 2) * 3, 5, -0.75f, 1.5f};
          if (t.lda) t.lda += ta ? t.m : t.k; /* padded rows: odd strides */
          if (t.ldb) t.ldb += tb ? t.k : t.n;
          t.ldc += t.n;
          runs += check_shape(t, &r);
          shapes += 2;
        }
  /* Past one task in both directions, long K, alpha and beta that are not 1. */
  const f32_shape big[] = {{0, 0, 130, 520, 70, 0, 0, 0, 1.0f, 0.0f},  {0, 1, 97, 300, 257, 0, 0, 0, 0.5f, 1.0f},
                           {1, 0, 49, 257, 1100, 0, 0, 0, 1.0f, 0.25f}, {1, 1, 200, 33, 64, 0, 0, 0, -2.0f, 0.0f},
                           {0, 0, 450, 10, 128, 0, 0, 0, 1.0f, 1.0f}};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; ++i) runs += check_shape(big[i], &r);
  shapes += (int)(sizeof big / sizeof big[0]);
  cr_log_info("q8_gemm_f32_ordered: %d shapes, %d runs, all bit-exact", shapes, runs);
}

/* The batch-invariance the pipeline relies on: rows [lo, lo + rows) computed alone equal the same
 * rows of the whole batch's product, for micro-batches of 1, 7, 64 and the rest, on every path. */
Test(gemm_f32, a_row_does_not_depend_on_its_batch) {
  test_rng r;
  rng_seed(&r, 78);
  const int64_t m = 450, n = 130, k = 96;
  for (int tb = 0; tb <= 1; ++tb) {
    float *a = random_floats((size_t)(m * k), &r), *b = random_floats((size_t)(k * n), &r);
    float *whole = malloc((size_t)(m * n) * sizeof(float)), *part = malloc((size_t)(m * n) * sizeof(float));
    q8_isa isas[8];
    const size_t n_isa = supported_isas(isas);
    for (size_t v = 0; v < n_isa; ++v) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[v]));
      Q8_OK_OR_FAIL(q8_runtime_set_threads(2));
      Q8_OK_OR_FAIL(q8_gemm_f32_ordered(Q8_NO_TRANSPOSE, tb ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, m, n, k, 1.0f, a, k, b,
                                        tb ? k : n, 0.0f, whole, n));
      static const int64_t micro[] = {1, 7, 64, 449};
      for (size_t u = 0; u < 4; ++u) {
        for (int64_t lo = 0; lo < m; lo += micro[u]) {
          const int64_t rows = micro[u] < m - lo ? micro[u] : m - lo;
          Q8_OK_OR_FAIL(q8_gemm_f32_ordered(Q8_NO_TRANSPOSE, tb ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, rows, n, k, 1.0f,
                                            a + lo * k, k, b, tb ? k : n, 0.0f, part + lo * n, n));
        }
        cr_assert(memcmp(whole, part, (size_t)(m * n) * sizeof(float)) == 0, "isa %d tb %d micro-batch %lld differs",
                  (int)isas[v], tb, (long long)micro[u]);
      }
      /* Column blocks too: the first 17 columns alone equal the whole product's. */
      Q8_OK_OR_FAIL(q8_gemm_f32_ordered(Q8_NO_TRANSPOSE, tb ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, m, 17, k, 1.0f, a, k, b,
                                        tb ? k : n, 0.0f, part, n));
      for (int64_t i = 0; i < m; ++i) cr_assert(memcmp(whole + i * n, part + i * n, 17 * sizeof(float)) == 0);
    }
    free(a);
    free(b);
    free(whole);
    free(part);
  }
}

Test(gemm_f32, ordered_bad_input) {
  float a[16] = {0}, b[16] = {0}, c[16] = {0};
  const q8_transpose N = Q8_NO_TRANSPOSE, T = Q8_TRANSPOSE;
  Q8_OK_OR_FAIL(q8_gemm_f32_ordered(N, N, 0, 0, 0, 1, NULL, 1, NULL, 1, 0, NULL, 1));
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, N, 2, 2, 2, 1, a, 1, b, 2, 0, c, 2), Q8_ERR_SHAPE); /* lda < k */
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(T, N, 3, 2, 2, 1, a, 2, b, 2, 0, c, 2), Q8_ERR_SHAPE); /* lda < m */
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, T, 2, 3, 2, 1, a, 2, b, 1, 0, c, 3), Q8_ERR_SHAPE); /* ldb < k */
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, N, 2, 3, 2, 1, a, 2, b, 3, 0, c, 2), Q8_ERR_SHAPE); /* ldc < n */
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, N, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, N, 2, 2, 2, 1, a, 2, NULL, 2, 0, c, 2), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, N, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered((q8_transpose)7, N, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, N, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered(N, N, 2, 2, -3, 1, a, 2, b, 2, 0, c, 2), Q8_ERR_SHAPE);
  q8_gemm_f32_packed *packed = NULL;
  Q8_EXPECT_STATUS(q8_gemm_f32_pack_b(N, 2, 3, b, 2, &packed), Q8_ERR_SHAPE); /* ldb < n */
  Q8_EXPECT_STATUS(q8_gemm_f32_pack_b(N, 2, 2, NULL, 2, &packed), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32_pack_b(N, 2, 2, b, 2, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32_pack_b((q8_transpose)3, 2, 2, b, 2, &packed), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(packed == NULL, "no handle on failure");
  Q8_OK_OR_FAIL(q8_gemm_f32_pack_b(T, 2, 3, b, 2, &packed)); /* B stored 3 x 2 */
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered_packed(N, 2, 1, a, 1, packed, 0, c, 3), Q8_ERR_SHAPE); /* lda < k = 2 */
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered_packed(N, 2, 1, a, 2, packed, 0, c, 2), Q8_ERR_SHAPE); /* ldc < n = 3 */
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered_packed(N, 2, 1, a, 2, NULL, 0, c, 3), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32_ordered_packed(N, -1, 1, a, 2, packed, 0, c, 3), Q8_ERR_SHAPE);
  Q8_OK_OR_FAIL(q8_gemm_f32_ordered_packed(N, 2, 1, a, 2, packed, 0, c, 3));
  q8_gemm_f32_packed_destroy(packed);
  q8_gemm_f32_packed_destroy(NULL);
  /* No OpenBLAS int limit here: a K past INT_MAX with m = n = 0 is a valid empty product. */
  Q8_OK_OR_FAIL(q8_gemm_f32_ordered(N, N, 0, 0, (int64_t)1 << 32, 1, a, (int64_t)1 << 32, b, 1, 0, c, 1));
}
