/* Batched and strided-batched q8 GEMM (pointer arrays, strides, packed B per batch or shared) on
 * every ISA path and 1-2 threads, each batch against the single call it is defined to equal (the
 * single call is checked against the definition in test_gemm.c); and q8_gemm_f32 against a plain
 * double-accumulated reference. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(gemm_batched, .fini = restore_runtime);

/* ---- batched INT8 ------------------------------------------------------------------------- */

typedef struct {
  int64_t m, n, k, lda, ldb, ldc, count;
  int a_signed, ta, tb;
  int32_t za;
  const int32_t *zb;
  size_t zb_count;
  const q8_gemm_epilogue *ep;
} shape;

static size_t a_elems(const shape *s) { return (size_t)((s->ta ? s->k : s->m) * s->lda); }
static size_t b_elems(const shape *s) { return (size_t)((s->tb ? s->n : s->k) * s->ldb); }
static size_t c_elems(const shape *s) { return (size_t)(s->m * s->ldc); }

static q8_status single(const shape *s, const void *a, const int8_t *b, void *c) {
  return s->a_signed ? q8_gemm_s8s8(s->ta, s->tb, s->m, s->n, s->k, a, s->lda, s->za, b, s->ldb, s->zb,
                                    s->zb_count, s->ep, c, s->ldc)
                     : q8_gemm_u8s8(s->ta, s->tb, s->m, s->n, s->k, a, s->lda, s->za, b, s->ldb, s->zb,
                                    s->zb_count, s->ep, c, s->ldc);
}

/* Runs the six batched forms for s and compares every C (gaps included) with single calls. */
static void check_batched(const shape *s, test_rng *r) {
  const size_t es = q8_dtype_size(s->ep ? s->ep->output_dtype : Q8_DTYPE_S32);
  const int64_t cnt = s->count;
  const size_t na = a_elems(s), nb = b_elems(s), nc = c_elems(s) + 8; /* + 8: a gap between batches */
  uint8_t *a = malloc(na * (size_t)cnt + 1);
  int8_t *b = malloc(nb * (size_t)cnt + 1);
  for (size_t i = 0; i < na * (size_t)cnt; ++i) a[i] = (uint8_t)rng_next(r);
  for (size_t i = 0; i < nb * (size_t)cnt; ++i) b[i] = (int8_t)rng_next(r);
  const size_t cbytes = nc * es * (size_t)cnt + 1;
  unsigned char *want = malloc(cbytes), *want_shared = malloc(cbytes), *got = malloc(cbytes);
  memset(want, 0x3C, cbytes);
  memset(want_shared, 0x3C, cbytes);
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_AUTO));
  for (int64_t i = 0; i < cnt; ++i) {
    Q8_OK_OR_FAIL(single(s, a + (size_t)i * na, b + (size_t)i * nb, want + (size_t)i * nc * es));
    Q8_OK_OR_FAIL(single(s, a + (size_t)i * na, b, want_shared + (size_t)i * nc * es));
  }
  const void **ap = malloc(sizeof(void *) * (size_t)cnt + 1);
  const int8_t **bp = malloc(sizeof(void *) * (size_t)cnt + 1), **bp_shared = malloc(sizeof(void *) * (size_t)cnt + 1);
  void **cp = malloc(sizeof(void *) * (size_t)cnt + 1);
  q8_gemm_packed **pk = calloc((size_t)cnt + 1, sizeof(void *));
  const q8_gemm_packed **pkp = malloc(sizeof(void *) * (size_t)cnt + 1),
                       **pk_shared = malloc(sizeof(void *) * (size_t)cnt + 1);
  for (int64_t i = 0; i < cnt; ++i) {
    ap[i] = a + (size_t)i * na;
    bp[i] = b + (size_t)i * nb;
    bp_shared[i] = b;
    cp[i] = got + (size_t)i * nc * es;
    Q8_OK_OR_FAIL(q8_gemm_pack_b(s->tb, s->k, s->n, bp[i], s->ldb, s->zb, s->zb_count, &pk[i]));
    pkp[i] = pk[i];
  }
  for (int64_t i = 0; i < cnt; ++i) pk_shared[i] = pk[0];
  q8_isa isas[8];
  const size_t n_isa = supported_isas(isas);
  for (size_t is = 0; is < n_isa; ++is)
    for (int threads = 1; threads <= 2; ++threads)
      for (int form = 0; form < 8; ++form) {
        Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[is]));
        Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
        memset(got, 0x3C, cbytes);
        const int shared = form == 1 || form == 3 || form == 5 || form == 6;
        q8_status st;
        const int64_t sa = (int64_t)na, sc = (int64_t)nc;
        switch (form) {
          case 0:
          case 1:
            st = s->a_signed
                     ? q8_gemm_s8s8_batched(s->ta, s->tb, s->m, s->n, s->k, (const int8_t *const *)ap, s->lda, s->za,
                                            form ? bp_shared : bp, s->ldb, s->zb, s->zb_count, s->ep, cp, s->ldc, cnt)
                     : q8_gemm_u8s8_batched(s->ta, s->tb, s->m, s->n, s->k, (const uint8_t *const *)ap, s->lda,
                                            s->za, form ? bp_shared : bp, s->ldb, s->zb, s->zb_count, s->ep, cp,
                                            s->ldc, cnt);
            break;
          case 2:
          case 3:
            st = s->a_signed
                     ? q8_gemm_s8s8_strided_batched(s->ta, s->tb, s->m, s->n, s->k, (const int8_t *)a, s->lda, sa,
                                                    s->za, b, s->ldb, form == 3 ? 0 : (int64_t)nb, s->zb,
                                                    s->zb_count, s->ep, got, s->ldc, sc, cnt)
                     : q8_gemm_u8s8_strided_batched(s->ta, s->tb, s->m, s->n, s->k, a, s->lda, sa, s->za, b,
                                                    s->ldb, form == 3 ? 0 : (int64_t)nb, s->zb, s->zb_count,
                                                    s->ep, got, s->ldc, sc, cnt);
            break;
          case 4:
          case 5:
            st = s->a_signed ? q8_gemm_s8s8_packed_batched(s->ta, s->m, (const int8_t *const *)ap, s->lda, s->za,
                                                           form == 5 ? pk_shared : pkp, s->ep, cp, s->ldc, cnt)
                             : q8_gemm_u8s8_packed_batched(s->ta, s->m, (const uint8_t *const *)ap, s->lda, s->za,
                                                           form == 5 ? pk_shared : pkp, s->ep, cp, s->ldc, cnt);
            break;
          case 6:
            st = s->a_signed ? q8_gemm_s8s8_packed_strided_batched(s->ta, s->m, (const int8_t *)a, s->lda, sa,
                                                                   s->za, pk[0], s->ep, got, s->ldc, sc, cnt)
                             : q8_gemm_u8s8_packed_strided_batched(s->ta, s->m, a, s->lda, sa, s->za, pk[0], s->ep,
                                                                   got, s->ldc, sc, cnt);
            break;
          default: /* strided with stride_b = 0 and a single batch: the unshared path */
            st = s->a_signed
                     ? q8_gemm_s8s8_strided_batched(s->ta, s->tb, s->m, s->n, s->k, (const int8_t *)a, s->lda, 0,
                                                    s->za, b, s->ldb, 0, s->zb, s->zb_count, s->ep, got, s->ldc, sc,
                                                    1)
                     : q8_gemm_u8s8_strided_batched(s->ta, s->tb, s->m, s->n, s->k, a, s->lda, 0, s->za, b, s->ldb,
                                                    0, s->zb, s->zb_count, s->ep, got, s->ldc, sc, 1);
            break;
        }
        cr_assert_eq(st, Q8_OK, "form %d: %s", form, q8_last_error());
        const size_t cmp = form == 7 ? nc * es : cbytes;
        if (memcmp(got, shared ? want_shared : want, cmp) != 0) {
          size_t at = 0;
          const unsigned char *w = shared ? want_shared : want;
          while (got[at] == w[at]) ++at;
          cr_assert_fail("form %d, %s, %d threads, m %lld n %lld k %lld count %lld: byte %zu differs", form,
                         q8_isa_name(isas[is]), threads, (long long)s->m, (long long)s->n, (long long)s->k,
                         (long long)cnt, at);
        }
      }
  for (int64_t i = 0; i < cnt; ++i) q8_gemm_packed_destroy(pk[i]);
  free(pk);
  free(pkp);
  free(pk_shared);
  free(ap);
  free(bp);
  free(bp_shared);
  free(cp);
  free(a);
  free(b);
  free(want);
  free(want_shared);
  free(got);
}

Test(gemm_batched, small_and_large) {
  test_rng r;
  rng_seed(&r, 101);
  int32_t zb[300], bias[300], mult[300], shift[300];
  for (int j = 0; j < 300; ++j) {
    zb[j] = (int32_t)(rng_next(&r) % 256) - 128;
    bias[j] = (int32_t)(rng_next(&r) % 2001) - 1000;
    mult[j] = (int32_t)(1073741824u + rng_next(&r) % 1073741823u);
    shift[j] = -14 - (int32_t)(rng_next(&r) % 3);
  }
  q8_gemm_epilogue rq;
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&rq));
  rq.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED;
  rq.output_dtype = Q8_DTYPE_S8;
  rq.bias = bias;
  rq.multiplier = mult;
  rq.shift = shift;
  rq.zero_point = 3;
  static const int64_t dims[][4] = {
      {1, 1, 1, 5}, {3, 7, 17, 9}, {17, 33, 65, 4}, {7, 2, 129, 13}, {200, 300, 100, 3} /* sequential path */,
      {2, 3, 0, 3}};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d)
    for (int variant = 0; variant < 4; ++variant) {
      shape s;
      memset(&s, 0, sizeof s);
      s.m = dims[d][0];
      s.n = dims[d][1];
      s.k = dims[d][2];
      s.count = dims[d][3];
      s.a_signed = variant & 1;
      s.ta = (variant >> 1) & 1;
      s.tb = !s.ta;
      s.lda = (s.ta ? s.m : s.k) + (variant == 3 ? 3 : 0);
      if (s.lda < 1) s.lda = 1;
      s.ldb = (s.tb ? s.k : s.n) + 1;
      s.ldc = s.n + (variant & 1) * 2;
      s.za = s.a_signed ? -5 : 130;
      s.zb = zb;
      s.zb_count = variant == 0 ? 0 : variant == 1 ? 1 : (size_t)s.n;
      rq.channels = variant >= 2 ? (size_t)s.n : 1;
      s.ep = variant == 0 ? NULL : &rq;
      check_batched(&s, &r);
    }
}

Test(gemm_batched, empty_and_bad_input) {
  uint8_t a[64] = {0};
  int8_t b[64] = {0};
  int32_t c[64];
  const uint8_t *ap[2] = {a, a};
  const int8_t *bp[2] = {b, b};
  void *cp[2] = {c, c + 16};
  Q8_OK_OR_FAIL(q8_gemm_u8s8_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, NULL, 2, 0, NULL, 2, NULL, 0, NULL,
                                     NULL, 2, 0));
  Q8_EXPECT_STATUS(q8_gemm_u8s8_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, ap, 2, 0, bp, 2, NULL, 0, NULL,
                                        cp, 2, -1),
                   Q8_ERR_SHAPE);
  const uint8_t *ap_null[2] = {a, NULL};
  Q8_EXPECT_STATUS(q8_gemm_u8s8_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, ap_null, 2, 0, bp, 2, NULL, 0,
                                        NULL, cp, 2, 2),
                   Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_u8s8_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, ap, 1, 0, bp, 2, NULL, 0, NULL,
                                        cp, 2, 2),
                   Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_s8s8_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, (const int8_t *const *)ap, 2,
                                        128, bp, 2, NULL, 0, NULL, cp, 2, 2),
                   Q8_ERR_INVALID_ARGUMENT);
  /* strided: overlapping C, negative stride, an extent past the address space */
  Q8_EXPECT_STATUS(q8_gemm_u8s8_strided_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, a, 2, 4, 0, b, 2, 0, NULL,
                                                0, NULL, c, 2, 3, 2),
                   Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_u8s8_strided_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, a, 2, -4, 0, b, 2, 0,
                                                NULL, 0, NULL, c, 2, 4, 2),
                   Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_u8s8_strided_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, a, 2, INT64_MAX / 2, 0, b,
                                                2, 0, NULL, 0, NULL, c, 2, 4, 3),
                   Q8_ERR_SHAPE);
  Q8_OK_OR_FAIL(q8_gemm_u8s8_strided_batched(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, a, 2, 4, 0, b, 2, 0, NULL, 0,
                                             NULL, c, 2, 4, 2));
  /* packed: mismatched handles, a NULL handle */
  q8_gemm_packed *p1, *p2;
  Q8_OK_OR_FAIL(q8_gemm_pack_b(Q8_NO_TRANSPOSE, 2, 2, b, 2, NULL, 0, &p1));
  Q8_OK_OR_FAIL(q8_gemm_pack_b(Q8_NO_TRANSPOSE, 2, 3, b, 3, NULL, 0, &p2));
  const q8_gemm_packed *mixed[2] = {p1, p2}, *with_null[2] = {p1, NULL};
  Q8_EXPECT_STATUS(q8_gemm_u8s8_packed_batched(Q8_NO_TRANSPOSE, 2, ap, 2, 0, mixed, NULL, cp, 3, 2), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_u8s8_packed_batched(Q8_NO_TRANSPOSE, 2, ap, 2, 0, with_null, NULL, cp, 3, 2),
                   Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_u8s8_packed_strided_batched(Q8_NO_TRANSPOSE, 2, a, 2, 4, 0, NULL, NULL, c, 2, 4, 2),
                   Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_u8s8_packed_strided_batched(Q8_NO_TRANSPOSE, 2, a, 2, 4, 0, p1, NULL, c, 2, 1, 2),
                   Q8_ERR_SHAPE);
  Q8_OK_OR_FAIL(q8_gemm_u8s8_packed_strided_batched(Q8_NO_TRANSPOSE, 2, a, 2, 4, 0, p1, NULL, c, 2, 4, 2));
  q8_gemm_packed_destroy(p1);
  q8_gemm_packed_destroy(p2);
}

/* ---- q8_gemm_f32 -------------------------------------------------------------------------- */

/* Checks C against sum in double. Bound: a length-K f32 dot product (any order, FMA or not) is
 * within gamma_K = K u / (1 - K u) ~ K * 2^-24 of the exact value relative to sum |a_k b_k|;
 * scaling by alpha, the beta * C term and the final add add ~2u more. We allow (K + 2) * 2^-23,
 * twice the first-order bound, times (|alpha| sum |a b| + |beta c|), plus FLT_MIN for underflow. */
static void check_f32(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t pad,
                      test_rng *r) {
  const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const size_t na = (size_t)((ta ? k : m) * (lda ? lda : 1)), nb = (size_t)((tb ? n : k) * (ldb ? ldb : 1)),
               nc = (size_t)(m * ldc);
  float *a = malloc(na * 4 + 4), *b = malloc(nb * 4 + 4), *c = malloc(nc * 4 + 4), *c0 = malloc(nc * 4 + 4);
  for (size_t i = 0; i < na; ++i) a[i] = (float)rng_normal(r);
  for (size_t i = 0; i < nb; ++i) b[i] = (float)rng_normal(r);
  for (size_t i = 0; i < nc; ++i) c0[i] = c[i] = beta == 0.0f ? NAN : (float)rng_normal(r);
  Q8_OK_OR_FAIL(q8_gemm_f32(ta, tb, m, n, k, alpha, a, lda ? lda : 1, b, ldb ? ldb : 1, beta, c, ldc ? ldc : 1));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, mag = 0;
      for (int64_t q = 0; q < k; ++q) {
        const double p = (double)(ta ? a[q * lda + i] : a[i * lda + q]) * (tb ? b[j * ldb + q] : b[q * ldb + j]);
        s += p;
        mag += fabs(p);
      }
      const double cij = beta == 0.0f ? 0.0 : (double)beta * c0[i * ldc + j];
      const double want = (double)alpha * s + cij;
      const double tol = (double)(k + 2) * 0x1p-23 * (fabs((double)alpha) * mag + fabs(cij)) + FLT_MIN;
      const float got = c[i * ldc + j];
      cr_assert(fabs((double)got - want) <= tol, "m %lld n %lld k %lld ta %d tb %d: C[%lld,%lld] = %.9g, want %.9g (tol %.3g)",
                (long long)m, (long long)n, (long long)k, ta, tb, (long long)i, (long long)j, got, want, tol);
    }
    for (int64_t j = n; j < ldc; ++j) /* gaps keep their bits */
      cr_assert(memcmp(&c[i * ldc + j], &c0[i * ldc + j], 4) == 0);
  }
  free(a);
  free(b);
  free(c);
  free(c0);
}

Test(gemm_batched, f32_against_double) {
  test_rng r;
  rng_seed(&r, 201);
  static const int64_t sizes[] = {1, 2, 3, 7, 16, 17, 64, 65, 129};
  int cases = 0;
  for (int ta = 0; ta <= 1; ++ta)
    for (int tb = 0; tb <= 1; ++tb)
      for (size_t i = 0; i < 9; i += 2)
        for (size_t j = 1; j < 9; j += 3)
          for (size_t q = 0; q < 9; q += 4) {
            check_f32(ta, tb, sizes[i], sizes[j], sizes[q], 1.0f, 0.0f, (int64_t)(i % 2), &r);
            check_f32(ta, tb, sizes[j], sizes[i], sizes[q], -0.75f, 1.5f, 3, &r);
            cases += 2;
          }
  check_f32(0, 1, 33, 47, 2000, 0.5f, -1.0f, 1, &r); /* long K */
  check_f32(0, 0, 300, 200, 250, 1.0f, 0.0f, 0, &r); /* large enough for OpenBLAS's threads */
  check_f32(1, 0, 5, 6, 0, 2.0f, 0.5f, 0, &r);       /* k = 0: C = beta * C */
  check_f32(0, 0, 5, 6, 0, 2.0f, 0.0f, 0, &r);       /* k = 0, beta = 0: C = 0 (NaN ignored) */
  cr_log_info("q8_gemm_f32: %d + 4 shapes on %s", cases, q8_gemm_f32_backend());
}

Test(gemm_batched, f32_backend_and_bad_input) {
  const char *be = q8_gemm_f32_backend();
  cr_assert(be != NULL && strncmp(be, "OpenBLAS ", 9) == 0, "backend %s", be ? be : "(null)");
  cr_assert(strlen(be) > 9);
  float a[16] = {0}, b[16] = {0}, c[16] = {0};
  Q8_OK_OR_FAIL(q8_gemm_f32(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 0, 0, 0, 1, NULL, 1, NULL, 1, 0, NULL, 1));
  Q8_EXPECT_STATUS(q8_gemm_f32(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, 1, a, 1, b, 2, 0, c, 2), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_f32(Q8_TRANSPOSE, Q8_NO_TRANSPOSE, 3, 2, 2, 1, a, 2, b, 2, 0, c, 2), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_f32(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2),
                   Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2),
                   Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32((q8_transpose)7, Q8_NO_TRANSPOSE, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2),
                   Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_gemm_f32(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_gemm_f32(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, 1, 1, (int64_t)INT_MAX + 1, 1, a,
                               (int64_t)INT_MAX + 1, b, 1, 0, c, 1),
                   Q8_ERR_SHAPE);
}
