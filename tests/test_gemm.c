/* q8_gemm_*: every ISA path, packed and unpacked B, 1 and 2 threads, against a plain reference
 * written here from the header's definition, bit for bit; edge shapes, zero points, transposes,
 * leading dimensions, every epilogue, wrap-around of the int32 accumulator, and bad input. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- the reference ------------------------------------------------------------------------- */

typedef struct {
  int64_t m, n, k;
  int a_signed, trans_a, trans_b;
  int64_t lda, ldb, ldc;
  int32_t za;
  const int32_t *zb;  /* zb_count entries */
  size_t zb_count;
  const q8_gemm_epilogue *ep; /* NULL: int32 */
} problem;

static q8_dtype out_dtype(const problem *p) { return p->ep ? p->ep->output_dtype : Q8_DTYPE_S32; }

/* C (typed by the epilogue, ldc apart) from the definition: sum (a - za)(b - zb) mod 2^32 + bias. */
static void reference(const problem *p, const void *a, const int8_t *b, void *c) {
  const q8_gemm_epilogue *ep = p->ep;
  for (int64_t i = 0; i < p->m; ++i)
    for (int64_t j = 0; j < p->n; ++j) {
      uint32_t s = 0;
      const int32_t zb = p->zb_count == 0 ? 0 : p->zb[p->zb_count == 1 ? 0 : j];
      for (int64_t q = 0; q < p->k; ++q) {
        const int64_t ai = p->trans_a ? q * p->lda + i : i * p->lda + q;
        const int32_t av = p->a_signed ? ((const int8_t *)a)[ai] : ((const uint8_t *)a)[ai];
        const int32_t bv = p->trans_b ? b[j * p->ldb + q] : b[q * p->ldb + j];
        s += (uint32_t)((av - p->za) * (bv - zb));
      }
      if (ep && ep->bias) s += (uint32_t)ep->bias[j];
      const int32_t t = (int32_t)s;
      const size_t at = (size_t)(i * p->ldc + j);
      const size_t ch = ep && ep->channels != 1 ? (size_t)j : 0;
      if (!ep || ep->kind == Q8_GEMM_EPILOGUE_S32) {
        ((int32_t *)c)[at] = t;
      } else if (ep->kind == Q8_GEMM_EPILOGUE_DEQUANTIZE) {
        ((float *)c)[at] = (float)t * ep->scale[ch];
      } else {
        const int32_t lo = ep->output_dtype == Q8_DTYPE_U8 ? 0 : -128, hi = lo + 255;
        const int32_t qmin = ep->qmin > lo ? ep->qmin : lo, qmax = ep->qmax < hi ? ep->qmax : hi;
        double v;
        if (ep->kind == Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED) {
          v = (double)ref_multiply_by_quantized_multiplier(t, ep->multiplier[ch], ep->shift[ch]) + ep->zero_point;
        } else {
          const float f = (float)t * ep->scale[ch];           /* one f32 multiply */
          v = isinf(f) ? (double)f : nearbyint((double)f) + ep->zero_point; /* ties to even */
        }
        if (v < qmin) v = qmin;
        if (v > qmax) v = qmax;
        if (ep->output_dtype == Q8_DTYPE_U8)
          ((uint8_t *)c)[at] = (uint8_t)(int32_t)v;
        else
          ((int8_t *)c)[at] = (int8_t)(int32_t)v;
      }
    }
}

/* ---- running every path -------------------------------------------------------------------- */

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(gemm, .fini = restore_runtime);

static size_t c_bytes(const problem *p) {
  return (size_t)(p->m > 0 ? (p->m - 1) * p->ldc + p->n + 16 : 16) * q8_dtype_size(out_dtype(p));
}

static q8_status call(const problem *p, const void *a, const int8_t *b, void *c, int packed) {
  if (!packed) {
    return p->a_signed
               ? q8_gemm_s8s8(p->trans_a, p->trans_b, p->m, p->n, p->k, a, p->lda, p->za, b, p->ldb,
                              p->zb, p->zb_count, p->ep, c, p->ldc)
               : q8_gemm_u8s8(p->trans_a, p->trans_b, p->m, p->n, p->k, a, p->lda, p->za, b, p->ldb,
                              p->zb, p->zb_count, p->ep, c, p->ldc);
  }
  q8_gemm_packed *pk = NULL;
  q8_status s = q8_gemm_pack_b(p->trans_b, p->k, p->n, b, p->ldb, p->zb, p->zb_count, &pk);
  if (s != Q8_OK) return s;
  s = p->a_signed ? q8_gemm_s8s8_packed(p->trans_a, p->m, a, p->lda, p->za, pk, p->ep, c, p->ldc)
                  : q8_gemm_u8s8_packed(p->trans_a, p->m, a, p->lda, p->za, pk, p->ep, c, p->ldc);
  q8_gemm_packed_destroy(pk);
  return s;
}

/* Runs `p` on every path (ISA x threads x packed), comparing all of C's buffer, the gaps between
 * rows included (they must keep their fill), with the reference. */
static void check_problem(const problem *p, const void *a, const int8_t *b, const char *what) {
  const size_t bytes = c_bytes(p);
  unsigned char *want = malloc(bytes), *got = malloc(bytes);
  memset(want, 0xA5, bytes);
  reference(p, a, b, want);
  q8_isa isas[8];
  const size_t n_isa = supported_isas(isas);
  for (size_t s = 0; s < n_isa; ++s)
    for (int threads = 1; threads <= 2; ++threads)
      for (int packed = 0; packed <= 1; ++packed) {
        Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[s]));
        Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
        memset(got, 0xA5, bytes);
        Q8_OK_OR_FAIL(call(p, a, b, got, packed));
        if (memcmp(got, want, bytes) != 0) {
          size_t at = 0;
          while (got[at] == want[at]) ++at;
          const size_t es = q8_dtype_size(out_dtype(p));
          cr_assert_fail("%s: m=%lld n=%lld k=%lld %s trans_a=%d trans_b=%d lda=%lld ldb=%lld ldc=%lld za=%d "
                         "zb_count=%zu epilogue=%d out=%s isa=%s threads=%d packed=%d: first difference "
                         "at element %zu (row %zu, column %zu)",
                         what, (long long)p->m, (long long)p->n, (long long)p->k, p->a_signed ? "s8s8" : "u8s8",
                         p->trans_a, p->trans_b, (long long)p->lda, (long long)p->ldb, (long long)p->ldc, p->za,
                         p->zb_count, p->ep ? (int)p->ep->kind : -1, q8_dtype_name(out_dtype(p)),
                         q8_isa_name(isas[s]), threads, packed, at / es, at / es / (size_t)p->ldc,
                         at / es % (size_t)p->ldc);
        }
      }
  free(want);
  free(got);
}

/* ---- random problems ----------------------------------------------------------------------- */

/* One random problem of shape m x n x k; `variant` rotates signedness, transposes, padding and
 * zero points; epilogue `epi` (0..7), or a random one when epi < 0. */
static void random_case_epi(int64_t m, int64_t n, int64_t k, unsigned variant, int epi, test_rng *r) {
  problem p;
  memset(&p, 0, sizeof p);
  p.m = m; p.n = n; p.k = k;
  p.a_signed = (int)(variant & 1);
  p.trans_a = (int)((variant >> 1) & 1);
  p.trans_b = (int)((variant >> 2) & 1);
  const int64_t pad = (variant % 3 == 0) ? 0 : (int64_t)(variant % 5) + 1;
  p.lda = (p.trans_a ? m : k) + pad;
  p.ldb = (p.trans_b ? k : n) + (variant % 7 == 0 ? 3 : 0);
  p.ldc = n + (variant % 4 == 1 ? 5 : 0);
  if (p.lda < 1) p.lda = 1;
  if (p.ldb < 1) p.ldb = 1;
  if (p.ldc < 1) p.ldc = 1;
  static const int32_t za_u8[5] = {0, 1, 128, 255, -1}, za_s8[5] = {0, 1, -128, 127, -1};
  const int zi = (int)(variant / 3 % 5);
  p.za = p.a_signed ? za_s8[zi] : za_u8[zi];
  if (p.za == -1) p.za = p.a_signed ? (int32_t)(rng_next(r) % 256) - 128 : (int32_t)(rng_next(r) % 256);
  int32_t zb[512];
  static const int32_t zb_vals[5] = {0, 1, -128, 127, 0};
  const int zm = (int)(variant / 5 % 4);
  for (int64_t j = 0; j < n; ++j) zb[j] = (int32_t)(rng_next(r) % 256) - 128;
  p.zb = zb;
  if (zm == 0) p.zb_count = 0;
  else if (zm == 1) { p.zb_count = 1; zb[0] = zb_vals[variant / 7 % 5]; }
  else if (zm == 2) p.zb_count = 1;
  else p.zb_count = (size_t)n;
  epilogue_buf eb;
  p.ep = epilogue_variant(&eb, epi >= 0 ? epi : (int)(rng_next(r) % 8), n, k, r);

  const size_t a_bytes = (size_t)((p.trans_a ? k : m) * p.lda) + 1;
  const size_t b_bytes = (size_t)((p.trans_b ? n : k) * p.ldb) + 1;
  unsigned char *a = malloc(a_bytes);
  int8_t *b = malloc(b_bytes);
  for (size_t i = 0; i < a_bytes; ++i) a[i] = (unsigned char)rng_next(r);
  for (size_t i = 0; i < b_bytes; ++i) b[i] = (int8_t)(uint8_t)rng_next(r);
  check_problem(&p, a, b, "random");
  free(a);
  free(b);
}

static void random_case(int64_t m, int64_t n, int64_t k, unsigned variant, test_rng *r) {
  random_case_epi(m, n, k, variant, -1, r);
}

static const int64_t kEdge[] = {1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 129};
#define N_EDGE (sizeof kEdge / sizeof kEdge[0])

Test(gemm, all_m_n_for_a_few_k) {
  test_rng r;
  rng_seed(&r, 11);
  static const int64_t ks[] = {1, 4, 17, 64, 129};
  unsigned v = 0;
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ++ki)
    for (size_t mi = 0; mi < N_EDGE; ++mi)
      for (size_t ni = 0; ni < N_EDGE; ++ni) random_case(kEdge[mi], kEdge[ni], ks[ki], v++, &r);
}

Test(gemm, all_k_for_a_few_m_n) {
  test_rng r;
  rng_seed(&r, 12);
  static const int64_t mn[][2] = {{1, 1}, {1, 65}, {2, 3}, {7, 33}, {12, 32}, {16, 16}, {13, 129},
                                  {65, 64}, {129, 31}};
  unsigned v = 5;
  for (size_t s = 0; s < sizeof mn / sizeof mn[0]; ++s)
    for (size_t ki = 0; ki < N_EDGE; ++ki)
      for (int rep = 0; rep < 2; ++rep) random_case(mn[s][0], mn[s][1], kEdge[ki], v++, &r);
}

Test(gemm, every_variant_on_one_shape) {
  /* every signedness x transpose x padding x zero-point mode (variants 0..419) x 8 epilogues, on
   * a shape with tails in M, N and K */
  test_rng r;
  rng_seed(&r, 13);
  for (unsigned v = 0; v < 420; ++v)
    for (int epi = 0; epi < 8; ++epi) random_case_epi(5, 37, 23, v, epi, &r);
}

Test(gemm, blocked_and_threaded_shapes) {
  /* past the K block (512), the row block (96) and the column block (256), run in parallel */
  test_rng r;
  rng_seed(&r, 14);
  random_case(100, 290, 1030, 6, &r);
  random_case(197, 65, 515, 9, &r);
  random_case(33, 300, 600, 3, &r);
  random_case(250, 64, 257, 12, &r);
  for (int epi = 0; epi < 8; ++epi) random_case_epi(130, 260, 520, (unsigned)epi * 5 + 1, epi, &r);
}

Test(gemm, zero_sized_and_k_zero) {
  test_rng r;
  rng_seed(&r, 15);
  for (unsigned v = 0; v < 16; ++v) {
    random_case(0, 5, 3, v, &r);
    random_case(4, 0, 3, v, &r);
    random_case(4, 5, 0, v, &r); /* C = epilogue(bias) */
  }
}

Test(gemm, int32_accumulator_wraps_identically) {
  /* K > 33025 with extreme values: the exact sum leaves int32 and wraps modulo 2^32. */
  problem p;
  memset(&p, 0, sizeof p);
  p.m = 3; p.n = 35; p.k = 40001;
  p.lda = p.k; p.ldb = p.n; p.ldc = p.n;
  const int32_t zb = 127;
  p.zb = &zb; p.zb_count = 1;
  uint8_t *a = malloc((size_t)(p.m * p.k));
  int8_t *b = malloc((size_t)(p.k * p.n));
  for (int64_t i = 0; i < p.m * p.k; ++i) a[i] = (i % 97 == 0) ? 0 : 255;
  for (int64_t i = 0; i < p.k * p.n; ++i) b[i] = (i % 89 == 0) ? 127 : -128;
  int32_t *c0 = malloc((size_t)(p.m * p.n) * sizeof(int32_t));
  p.za = 0;
  check_problem(&p, a, b, "wrap u8s8");
  /* the reference's int32 result really is wrapped */
  reference(&p, a, b, c0);
  /* row 0, column 1: a = 0 at k = 0, 97, ...; b = 127 at flat indices divisible by 89 */
  double exact = 0;
  for (int64_t q = 0; q < p.k; ++q) exact += (double)a[q] * (double)(b[q * p.n + 1] - zb);
  cr_assert(exact < INT32_MIN, "exact %g", exact);
  cr_assert_eq((uint32_t)c0[1], (uint32_t)(int64_t)exact, "wrapped modulo 2^32");
  free(c0);
  p.a_signed = 1;
  p.za = 127;
  check_problem(&p, a, b, "wrap s8s8");
  free(a);
  free(b);
}

Test(gemm, fixed_point_epilogue_edges) {
  /* K = 1, A = 1, B = 0: t = bias exactly, so the epilogue sees chosen int32 values. */
  enum { N = 16 };
  const int32_t bias[N] = {INT32_MIN, INT32_MAX, -1, 1, 0, 1 << 30, -(1 << 30), 12345678, -12345678,
                           3, -3, 5, -5, 1 << 20, -(1 << 20), 77};
  const int32_t mult[N] = {INT32_MAX, INT32_MAX, 1 << 30, 1 << 30, INT32_MAX, INT32_MAX,
                           1 << 30, 1518500250, 1518500250, 1 << 30, 1 << 30, 1 << 30, 1 << 30,
                           INT32_MAX, 1 << 30, 0};
  const int32_t shift[N] = {30, 30, -31, -1, 0, 1, 1, -20, -20, -2, -2, -3, -3, -13, -12, 5};
  const uint8_t a[1] = {1};
  const int8_t b[N] = {0};
  for (int s8 = 0; s8 <= 1; ++s8) {
    q8_gemm_epilogue ep;
    Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
    ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED;
    ep.output_dtype = s8 ? Q8_DTYPE_S8 : Q8_DTYPE_U8;
    ep.bias = bias; ep.multiplier = mult; ep.shift = shift; ep.channels = N;
    ep.zero_point = s8 ? 0 : 128;
    problem p;
    memset(&p, 0, sizeof p);
    p.m = 1; p.n = N; p.k = 1; p.lda = 1; p.ldb = N; p.ldc = N; p.ep = &ep;
    check_problem(&p, a, b, "fixed edges");
  }
}

Test(gemm, float_epilogue_ties_and_overflow) {
  /* scale 0.5 makes exact ties (t odd); FLT_MAX sends every nonzero t to +-Inf, which clamps. */
  enum { N = 40 };
  int32_t bias[N];
  for (int j = 0; j < N; ++j) bias[j] = j - 20;
  const float scales[2] = {0.5f, 3.0e38f};
  const uint8_t a[1] = {1};
  const int8_t b[N] = {0};
  for (int s = 0; s < 2; ++s) {
    q8_gemm_epilogue ep;
    Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
    ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT;
    ep.output_dtype = Q8_DTYPE_S8;
    ep.bias = bias; ep.scale = &scales[s]; ep.zero_point = 1;
    problem p;
    memset(&p, 0, sizeof p);
    p.m = 1; p.n = N; p.k = 1; p.lda = 1; p.ldb = N; p.ldc = N; p.ep = &ep;
    check_problem(&p, a, b, "float ties");
  }
}

Test(gemm, packed_handle_reused_and_shape) {
  test_rng r;
  rng_seed(&r, 16);
  enum { K = 70, N = 45, M = 9 };
  int8_t b[K * N];
  uint8_t a[M * K];
  for (int i = 0; i < K * N; ++i) b[i] = (int8_t)(uint8_t)rng_next(&r);
  for (int i = 0; i < M * K; ++i) a[i] = (uint8_t)rng_next(&r);
  const int32_t zb = -7;
  q8_gemm_packed *pk = NULL;
  Q8_OK_OR_FAIL(q8_gemm_pack_b(Q8_NO_TRANSPOSE, K, N, b, N, &zb, 1, &pk));
  int64_t k = 0, n = 0;
  Q8_OK_OR_FAIL(q8_gemm_packed_shape(pk, &k, &n));
  cr_assert(k == K && n == N);
  memset(b, 0, sizeof b); /* the handle holds its own copy */
  int32_t c1[M * N], c2[M * N];
  Q8_OK_OR_FAIL(q8_gemm_u8s8_packed(Q8_NO_TRANSPOSE, M, a, K, 3, pk, NULL, c1, N));
  Q8_OK_OR_FAIL(q8_gemm_u8s8_packed(Q8_NO_TRANSPOSE, M, a, K, 3, pk, NULL, c2, N));
  cr_assert_arr_eq(c1, c2, sizeof c1);
  /* and the result is the product with the original B */
  rng_seed(&r, 16);
  for (int i = 0; i < K * N; ++i) b[i] = (int8_t)(uint8_t)rng_next(&r);
  problem p;
  memset(&p, 0, sizeof p);
  p.m = M; p.n = N; p.k = K; p.lda = K; p.ldb = N; p.ldc = N; p.za = 3; p.zb = &zb; p.zb_count = 1;
  int32_t want[M * N];
  reference(&p, a, b, want);
  cr_assert_arr_eq(c1, want, sizeof want);
  q8_gemm_packed_destroy(pk);
  q8_gemm_packed_destroy(NULL);
}

Test(gemm, extreme_pairs_where_maddubs_would_saturate) {
  /* Adjacent K pairs of 255 x -128 and 255 x 127 (sums -65280 / 64770, outside int16): the
   * AVX2 / AVX-512 (no VNNI) kernel must stay exact, as every other path (check_problem runs
   * every path the CPU supports: scalar, avx2, avx512, avx512_vnni here). */
  enum { M = 13, N = 40, K = 67 };
  static uint8_t a[M * K];
  static int8_t b[K * N];
  for (int i = 0; i < M * K; ++i) a[i] = (uint8_t)(i % 11 == 5 ? 0 : 255);
  for (int q = 0; q < K; ++q)
    for (int j = 0; j < N; ++j) b[q * N + j] = (int8_t)((q / 2 + j) % 3 == 0 ? 127 : -128);
  problem p;
  memset(&p, 0, sizeof p);
  p.m = M; p.n = N; p.k = K; p.lda = K; p.ldb = N; p.ldc = N;
  check_problem(&p, a, b, "extreme u8s8");
  p.a_signed = 1; p.za = -128; /* s8 -128 is u8 0 after the +128 shift: a second extreme */
  check_problem(&p, a, b, "extreme s8s8");
  p.trans_b = 1; p.ldb = K; p.a_signed = 0; p.za = 0;
  check_problem(&p, a, b, "extreme u8s8 transposed B");
}

/* ---- bad input ------------------------------------------------------------------------------ */

Test(gemm, bad_input) {
  uint8_t a[64] = {0};
  int8_t b[64] = {0};
  int32_t c[64];
  const int32_t zb_bad = 128, zb2[2] = {0, 0};
  const q8_transpose NT = Q8_NO_TRANSPOSE;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, -1, 2, 2, a, 2, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE, "m = -1");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, -2, 2, a, 2, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE, "n = -2");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, -3, a, 2, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE, "k = -3");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 4, a, 3, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE, "lda = 3");
  Q8_EXPECT_ERROR(q8_gemm_u8s8((q8_transpose)1, NT, 5, 2, 4, a, 4, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE, "lda = 4");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, (q8_transpose)1, 2, 2, 4, a, 4, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE, "ldb = 2");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 3, 2, a, 2, 0, b, 3, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE, "ldc = 2");
  Q8_EXPECT_ERROR(q8_gemm_u8s8((q8_transpose)2, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, NULL, c, 2),
         Q8_ERR_INVALID_ARGUMENT, "trans_a = 2");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, (q8_transpose)-1, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, NULL, c, 2),
         Q8_ERR_INVALID_ARGUMENT, "trans_b = -1");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, NULL, 2, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_INVALID_ARGUMENT, "a is NULL");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, NULL, 2, NULL, 0, NULL, c, 2), Q8_ERR_INVALID_ARGUMENT, "b is NULL");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, NULL, NULL, 2), Q8_ERR_INVALID_ARGUMENT, "c is NULL");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 256, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_INVALID_ARGUMENT,
         "a_zero_point = 256");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, -1, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_INVALID_ARGUMENT,
         "a_zero_point = -1");
  Q8_EXPECT_ERROR(q8_gemm_s8s8(NT, NT, 2, 2, 2, (const int8_t *)a, 2, 128, b, 2, NULL, 0, NULL, c, 2),
         Q8_ERR_INVALID_ARGUMENT, "a_zero_point = 128");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, &zb_bad, 1, NULL, c, 2), Q8_ERR_INVALID_ARGUMENT,
         "b_zero_points[0] = 128");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 3, 2, a, 2, 0, b, 3, zb2, 2, NULL, c, 3), Q8_ERR_INVALID_ARGUMENT,
         "b_zero_point_count = 2");
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 3, 2, a, 2, 0, b, 3, NULL, 1, NULL, c, 3), Q8_ERR_INVALID_ARGUMENT,
         "b_zero_points is NULL");
  /* sizes whose extent overflows */
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, INT64_MAX / 2, 2, 2, a, 4, 0, b, 2, NULL, 0, NULL, c, 2), Q8_ERR_SHAPE,
         "address space");
  Q8_EXPECT_ERROR(q8_gemm_pack_b(NT, INT64_MAX / 4, INT64_MAX / 4, b, INT64_MAX / 4, NULL, 0, &(q8_gemm_packed *){NULL}),
         Q8_ERR_SHAPE, "address space");

  /* epilogues */
  q8_gemm_epilogue ep;
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
  Q8_EXPECT_ERROR(q8_gemm_epilogue_init(NULL), Q8_ERR_INVALID_ARGUMENT, "epilogue is NULL");
  ep.struct_size = 3;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "struct_size");
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
  ep.kind = (q8_gemm_epilogue_kind)9;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "kind = 9");
  ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED; /* output_dtype still S32 */
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_DTYPE, "output_dtype");
  ep.output_dtype = Q8_DTYPE_U8;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "multiplier is NULL");
  const int32_t m_neg = -1, m_ok = 1 << 30, s_bad = 31, s_ok = -3;
  ep.multiplier = &m_neg; ep.shift = &s_ok;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "multiplier[0] = -1");
  ep.multiplier = &m_ok; ep.shift = &s_bad;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "shift[0] = 31");
  ep.shift = &s_ok; ep.channels = 3;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "channels = 3");
  ep.channels = 1; ep.zero_point = 256;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "zero_point = 256");
  ep.zero_point = 0; ep.qmin = 300;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "qmin = 300");
  ep.qmin = 10; ep.qmax = 5;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "qmin = 10");
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
  ep.kind = Q8_GEMM_EPILOGUE_DEQUANTIZE; ep.output_dtype = Q8_DTYPE_F32;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "scale is NULL");
  const float nan_scale = NAN, neg_scale = -1.0f;
  ep.scale = &nan_scale;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "scale[0]");
  ep.scale = &neg_scale;
  Q8_EXPECT_ERROR(q8_gemm_u8s8(NT, NT, 2, 2, 2, a, 2, 0, b, 2, NULL, 0, &ep, c, 2), Q8_ERR_INVALID_ARGUMENT, "scale[0]");

  /* packed */
  q8_gemm_packed *pk = (q8_gemm_packed *)(uintptr_t)0x1234;
  Q8_EXPECT_ERROR(q8_gemm_pack_b(NT, 2, 2, b, 2, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  Q8_EXPECT_ERROR(q8_gemm_pack_b(NT, 2, 2, b, 1, NULL, 0, &pk), Q8_ERR_SHAPE, "ldb = 1");
  cr_assert(pk == (q8_gemm_packed *)(uintptr_t)0x1234, "out written on failure");
  Q8_EXPECT_ERROR(q8_gemm_u8s8_packed(NT, 2, a, 2, 0, NULL, NULL, c, 2), Q8_ERR_INVALID_ARGUMENT, "b is NULL");
  Q8_OK_OR_FAIL(q8_gemm_pack_b(NT, 4, 3, b, 3, NULL, 0, &pk));
  Q8_EXPECT_ERROR(q8_gemm_u8s8_packed(NT, 2, a, 3, 0, pk, NULL, c, 3), Q8_ERR_SHAPE, "lda = 3");
  Q8_EXPECT_ERROR(q8_gemm_s8s8_packed(NT, 2, (const int8_t *)a, 4, -129, pk, NULL, c, 3), Q8_ERR_INVALID_ARGUMENT,
         "a_zero_point = -129");
  Q8_EXPECT_ERROR(q8_gemm_u8s8_packed(NT, -1, a, 4, 0, pk, NULL, c, 3), Q8_ERR_SHAPE, "m = -1");
  Q8_EXPECT_ERROR(q8_gemm_packed_shape(NULL, NULL, NULL), Q8_ERR_INVALID_ARGUMENT, "packed is NULL");
  q8_gemm_packed_destroy(pk);
}
