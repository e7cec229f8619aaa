/* q8_session_*: every f32 and layout kernel of the runtime on ONNX fixtures from
 * scripts/make_float_op_models.py (tests/data/ops), against plain C references written here from
 * the ONNX operator definitions (double accumulation); quantized Relu/Clip/MaxPool and layout ops
 * keeping qparams; constant folding; thread-count independence; bad input; and the bundled digits
 * models' FP32 accuracy on the held-out split. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "support.h"

#define MAXR 8

/* ---- helpers ------------------------------------------------------------------------------ */

static q8_model *load_path(const char *sub, const char *name) {
  const char *dir = getenv("Q8_TEST_DATA");
  cr_assert(dir != NULL, "Q8_TEST_DATA is not set");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &m));
  return m;
}

static q8_model *load(const char *name) {
  char file[256];
  snprintf(file, sizeof file, "%s.onnx", name);
  return load_path("ops", file);
}

static size_t numel_of(const int64_t *shape, size_t rank) {
  size_t n = 1;
  for (size_t i = 0; i < rank; ++i) n *= (size_t)shape[i];
  return n;
}

/* A f32 tensor of uniform values in [lo, hi). */
static q8_tensor *rand_f32(test_rng *r, const int64_t *shape, size_t rank, double lo, double hi) {
  q8_tensor *t = make_tensor(Q8_DTYPE_F32, shape, rank);
  float *p = tensor_data(t);
  for (size_t i = 0, n = numel_of(shape, rank); i < n; ++i) p[i] = (float)(lo + (hi - lo) * rng_uniform(r));
  return t;
}

static const float *fdata(const q8_tensor *t) { return (const float *)tensor_data(t); }

static q8_session *session_run(const q8_model *m, int64_t batch, q8_tensor *const *in, size_t n) {
  q8_session *s = NULL;
  Q8_OK_OR_FAIL(q8_session_create(m, batch, &s));
  Q8_OK_OR_FAIL(q8_session_run(s, (const q8_tensor *const *)in, n));
  return s;
}

static const q8_tensor *out_at(const q8_session *s, size_t i) {
  const q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_session_output(s, i, &t));
  return t;
}

static const q8_tensor *named(const q8_session *s, const char *name) {
  const q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_session_tensor(s, name, &t));
  return t;
}

static void expect_shape(const q8_tensor *t, q8_dtype dt, const int64_t *want, size_t rank) {
  q8_dtype got_dt;
  size_t got_rank;
  int64_t got[MAXR];
  Q8_OK_OR_FAIL(q8_tensor_dtype(t, &got_dt));
  Q8_OK_OR_FAIL(q8_tensor_rank(t, &got_rank));
  cr_assert_eq(got_dt, dt, "dtype %s, wanted %s", q8_dtype_name(got_dt), q8_dtype_name(dt));
  cr_assert_eq(got_rank, rank, "rank %zu, wanted %zu", got_rank, rank);
  Q8_OK_OR_FAIL(q8_tensor_shape(t, got, MAXR));
  for (size_t i = 0; i < rank; ++i) cr_assert_eq(got[i], want[i], "dim %zu is %lld, wanted %lld", i, (long long)got[i], (long long)want[i]);
}

/* |got - want| <= tol * (1 + |want|) everywhere (NaN only where wanted). */
static void expect_close(const float *got, const double *want, size_t n, double tol, const char *what) {
  for (size_t i = 0; i < n; ++i) {
    if (isnan(want[i])) {
      cr_assert(isnan(got[i]), "%s[%zu] = %g, wanted NaN", what, i, got[i]);
      continue;
    }
    cr_assert(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s[%zu] = %.9g, wanted %.9g", what, i, got[i], want[i]);
  }
}

static double *dalloc(size_t n) {
  double *p = calloc(n ? n : 1, sizeof(double));
  cr_assert(p != NULL);
  return p;
}

#define TOL 2e-5

/* ---- Gemm and MatMul ---------------------------------------------------------------------- */

/* Y[M,N] = alpha * op(A) op(B) + beta * C, C of c_rows x c_cols broadcast (NULL: none). */
static void ref_gemm(int64_t m, int64_t n, int64_t k, const float *a, int ta, const float *b, int tb, double alpha,
                     double beta, const float *c, int64_t c_rows, int64_t c_cols, double *y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      acc *= alpha;
      if (c) acc += beta * c[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
      y[i * n + j] = acc;
    }
}

static void gemm_case(const char *model, int64_t batch, int ta, int tb, double alpha, double beta, int64_t k, int64_t n,
                      int c_kind /* 0 none, 1 [N], 2 [1,N], 3 [M,1] */) {
  test_rng r;
  rng_seed(&r, 100 + (uint64_t)batch);
  q8_model *m = load(model);
  const int64_t as[2] = {ta ? k : batch, ta ? batch : k}, bs[2] = {tb ? n : k, tb ? k : n};
  q8_tensor *in[3] = {rand_f32(&r, as, 2, -1, 1), rand_f32(&r, bs, 2, -1, 1), NULL};
  int64_t cr = 1, cc = n;
  size_t count = 2;
  if (c_kind) {
    const int64_t s1[1] = {n}, s2[2] = {1, n}, s3[2] = {batch, 1};
    if (c_kind == 3) cr = batch, cc = 1;
    in[2] = c_kind == 1 ? rand_f32(&r, s1, 1, -1, 1) : rand_f32(&r, c_kind == 2 ? s2 : s3, 2, -1, 1);
    count = 3;
  }
  q8_session *s = session_run(m, batch, in, count);
  const q8_tensor *y = out_at(s, 0);
  const int64_t ys[2] = {batch, n};
  expect_shape(y, Q8_DTYPE_F32, ys, 2);
  double *want = dalloc((size_t)(batch * n));
  ref_gemm(batch, n, k, fdata(in[0]), ta, fdata(in[1]), tb, alpha, beta, c_kind ? fdata(in[2]) : NULL, cr, cc, want);
  expect_close(fdata(y), want, (size_t)(batch * n), TOL, model);
  free(want);
  for (size_t i = 0; i < count; ++i) q8_tensor_destroy(in[i]);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

Test(runtime_gemm, bias_vector_batch_1_and_7) {
  gemm_case("gemm_bias_n", 1, 0, 0, 1, 1, 5, 3, 1);
  gemm_case("gemm_bias_n", 7, 0, 0, 1, 1, 5, 3, 1);
}
Test(runtime_gemm, transposes_alpha_beta_row_bias) {
  gemm_case("gemm_trans", 1, 1, 1, 0.5, -1.5, 6, 4, 2);
  gemm_case("gemm_trans", 7, 1, 1, 0.5, -1.5, 6, 4, 2);
}
Test(runtime_gemm, column_bias) { gemm_case("gemm_col_bias", 7, 0, 0, 1, 1, 7, 3, 3); }
Test(runtime_gemm, no_bias_odd_sizes) {
  gemm_case("gemm_noc", 1, 0, 0, 1, 1, 17, 13, 0);
  gemm_case("gemm_noc", 7, 0, 0, 1, 1, 17, 13, 0);
}

/* Constant B and a scalar C: the session reads them in place from the model. */
Test(runtime_gemm, constant_weights_and_scalar_bias) {
  test_rng r;
  rng_seed(&r, 3);
  q8_model *m = load("gemm_const");
  const int64_t as[2] = {7, 9};
  q8_tensor *a = rand_f32(&r, as, 2, -2, 2);
  q8_session *s = session_run(m, 7, &a, 1);
  const q8_tensor *w = named(s, "W"), *c0 = named(s, "c0");
  const int64_t ws[2] = {9, 4};
  expect_shape(w, Q8_DTYPE_F32, ws, 2);
  expect_shape(c0, Q8_DTYPE_F32, NULL, 0);
  cr_assert_eq(fdata(c0)[0], 1.75f);
  double want[28];
  ref_gemm(7, 4, 9, fdata(a), 0, fdata(w), 0, 1.0, 0.25, fdata(c0), 1, 1, want);
  expect_close(fdata(out_at(s, 0)), want, 28, TOL, "gemm_const");
  q8_tensor_destroy(a);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* Batched matmul reference: A [batch..., M, K] x B [batch..., K, N] with broadcasting, given the
 * output batch dims (ob, rank obr) and each operand's batch dims right-aligned to them. */
static void ref_matmul(const float *a, const int64_t *ab, const float *b, const int64_t *bb, const int64_t *ob, size_t obr,
                       int64_t m, int64_t k, int64_t n, double *y) {
  const size_t count = numel_of(ob, obr);
  for (size_t o = 0; o < count; ++o) {
    size_t rem = o, ao = 0, bo = 0, as = 1, bs = 1;
    for (size_t i = obr; i-- > 0;) {
      const size_t idx = rem % (size_t)ob[i];
      rem /= (size_t)ob[i];
      ao += (ab[i] == 1 ? 0 : idx) * as;
      bo += (bb[i] == 1 ? 0 : idx) * bs;
      as *= (size_t)ab[i];
      bs *= (size_t)bb[i];
    }
    ref_gemm(m, n, k, a + ao * m * k, 0, b + bo * k * n, 0, 1, 0, NULL, 1, 1, y + o * m * n);
  }
}

Test(runtime_matmul, two_d) {
  test_rng r;
  rng_seed(&r, 4);
  q8_model *m = load("matmul_2d");
  for (int64_t batch = 1; batch <= 7; batch += 6) {
    const int64_t as[2] = {batch, 7}, bs[2] = {7, 5};
    q8_tensor *in[2] = {rand_f32(&r, as, 2, -1, 1), rand_f32(&r, bs, 2, -1, 1)};
    q8_session *s = session_run(m, batch, in, 2);
    double want[35];
    ref_gemm(batch, 5, 7, fdata(in[0]), 0, fdata(in[1]), 0, 1, 0, NULL, 1, 1, want);
    const int64_t ys[2] = {batch, 5};
    expect_shape(out_at(s, 0), Q8_DTYPE_F32, ys, 2);
    expect_close(fdata(out_at(s, 0)), want, (size_t)(batch * 5), TOL, "matmul_2d");
    q8_session_destroy(s);
    q8_tensor_destroy(in[0]);
    q8_tensor_destroy(in[1]);
  }
  q8_model_destroy(m);
}

Test(runtime_matmul, broadcast_batches) {
  test_rng r;
  rng_seed(&r, 5);
  q8_model *m = load("matmul_bcast");
  const int64_t batch = 3, as[4] = {batch, 1, 4, 5}, bs[3] = {2, 5, 3};
  q8_tensor *in[2] = {rand_f32(&r, as, 4, -1, 1), rand_f32(&r, bs, 3, -1, 1)};
  q8_session *s = session_run(m, batch, in, 2);
  const int64_t ys[4] = {batch, 2, 4, 3}, ab[2] = {batch, 1}, bb[2] = {1, 2}, ob[2] = {batch, 2};
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, ys, 4);
  double want[3 * 2 * 4 * 3];
  ref_matmul(fdata(in[0]), ab, fdata(in[1]), bb, ob, 2, 4, 5, 3, want);
  expect_close(fdata(out_at(s, 0)), want, 72, TOL, "matmul_bcast");
  q8_session_destroy(s);
  q8_tensor_destroy(in[0]);
  q8_tensor_destroy(in[1]);
  q8_model_destroy(m);

  m = load("matmul_batched");
  const int64_t a2[3] = {7, 3, 4}, b2[3] = {7, 4, 2};
  q8_tensor *in2[2] = {rand_f32(&r, a2, 3, -1, 1), rand_f32(&r, b2, 3, -1, 1)};
  s = session_run(m, 7, in2, 2);
  const int64_t y2[3] = {7, 3, 2}, bd[1] = {7};
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, y2, 3);
  double want2[42];
  ref_matmul(fdata(in2[0]), bd, fdata(in2[1]), bd, bd, 1, 3, 4, 2, want2);
  expect_close(fdata(out_at(s, 0)), want2, 42, TOL, "matmul_batched");
  q8_session_destroy(s);
  q8_tensor_destroy(in2[0]);
  q8_tensor_destroy(in2[1]);
  q8_model_destroy(m);
}

/* 1-D operands: [N,5] x [5] -> [N], and [5] x [N,5,3] -> [N,3]. */
Test(runtime_matmul, vectors) {
  test_rng r;
  rng_seed(&r, 6);
  q8_model *m = load("matmul_vec");
  const int64_t as[2] = {7, 5}, vs[1] = {5}, bs[3] = {7, 5, 3};
  q8_tensor *in[3] = {rand_f32(&r, as, 2, -1, 1), rand_f32(&r, vs, 1, -1, 1), rand_f32(&r, bs, 3, -1, 1)};
  q8_session *s = session_run(m, 7, in, 3);
  const int64_t y1[1] = {7}, y2[2] = {7, 3};
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, y1, 1);
  expect_shape(out_at(s, 1), Q8_DTYPE_F32, y2, 2);
  double w1[7], w2[21];
  ref_gemm(7, 1, 5, fdata(in[0]), 0, fdata(in[1]), 0, 1, 0, NULL, 1, 1, w1);
  for (int b = 0; b < 7; ++b) ref_gemm(1, 3, 5, fdata(in[1]), 0, fdata(in[2]) + b * 15, 0, 1, 0, NULL, 1, 1, w2 + b * 3);
  expect_close(fdata(out_at(s, 0)), w1, 7, TOL, "matrix x vector");
  expect_close(fdata(out_at(s, 1)), w2, 21, TOL, "vector x batched matrix");
  q8_session_destroy(s);
  for (int i = 0; i < 3; ++i) q8_tensor_destroy(in[i]);
  q8_model_destroy(m);
}

/* ---- Conv ---------------------------------------------------------------------------------- */

typedef struct {
  int64_t c, h, w, m, kh, kw, sh, sw, dh, dw, group;
  int64_t pt, pl, pb, pr; /* explicit pads (auto_pad cases compute them below) */
  int bias, one_d;
  const char *auto_pad; /* NULL, "SAME_UPPER", "SAME_LOWER", "VALID" */
} conv_p;

static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t *p0, int64_t *p1, const char *auto_pad,
                          int ceil_mode) {
  const int64_t span = d * (k - 1) + 1;
  if (auto_pad && strncmp(auto_pad, "SAME", 4) == 0) {
    const int64_t out = (in + s - 1) / s;
    int64_t total = (out - 1) * s + span - in;
    if (total < 0) total = 0;
    *p0 = strcmp(auto_pad, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
    *p1 = total - *p0;
    return out;
  }
  if (auto_pad) *p0 = *p1 = 0; /* VALID */
  const int64_t avail = in + *p0 + *p1 - span;
  int64_t out = avail / s + 1;
  if (ceil_mode && avail % s) {
    ++out;
    if ((out - 1) * s >= in + *p0) --out; /* a window may not start in the end padding */
  }
  return out;
}

static void conv_case(const char *model, conv_p p, int64_t batch) {
  test_rng r;
  rng_seed(&r, 7 + (uint64_t)batch);
  q8_model *m = load(model);
  const int64_t cg = p.c / p.group, mg = p.m / p.group;
  const int64_t oh = window_out(p.h, p.kh, p.sh, p.dh, &p.pt, &p.pb, p.auto_pad, 0);
  const int64_t ow = window_out(p.w, p.kw, p.sw, p.dw, &p.pl, &p.pr, p.auto_pad, 0);
  const int64_t xs4[4] = {batch, p.c, p.h, p.w}, ws4[4] = {p.m, cg, p.kh, p.kw}, bs[1] = {p.m};
  const int64_t xs3[3] = {batch, p.c, p.w}, ws3[3] = {p.m, cg, p.kw};
  q8_tensor *in[3] = {p.one_d ? rand_f32(&r, xs3, 3, -1, 1) : rand_f32(&r, xs4, 4, -1, 1),
                      p.one_d ? rand_f32(&r, ws3, 3, -1, 1) : rand_f32(&r, ws4, 4, -1, 1),
                      p.bias ? rand_f32(&r, bs, 1, -1, 1) : NULL};
  q8_session *s = session_run(m, batch, in, p.bias ? 3 : 2);
  const q8_tensor *y = out_at(s, 0);
  const int64_t ys4[4] = {batch, p.m, oh, ow}, ys3[3] = {batch, p.m, ow};
  if (p.one_d)
    expect_shape(y, Q8_DTYPE_F32, ys3, 3);
  else
    expect_shape(y, Q8_DTYPE_F32, ys4, 4);
  const float *x = fdata(in[0]), *w = fdata(in[1]), *b = p.bias ? fdata(in[2]) : NULL;
  double *want = dalloc((size_t)(batch * p.m * oh * ow));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < p.m; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t g = o / mg;
          double acc = b ? b[o] : 0;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t ky = 0; ky < p.kh; ++ky)
              for (int64_t kx = 0; kx < p.kw; ++kx) {
                const int64_t iy = oy * p.sh - p.pt + ky * p.dh, ix = ox * p.sw - p.pl + kx * p.dw;
                if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
                acc += (double)w[((o * cg + c) * p.kh + ky) * p.kw + kx] * x[((n * p.c + g * cg + c) * p.h + iy) * p.w + ix];
              }
          want[((n * p.m + o) * oh + oy) * ow + ox] = acc;
        }
  expect_close(fdata(y), want, (size_t)(batch * p.m * oh * ow), TOL, model);
  free(want);
  for (int i = 0; i < 3; ++i) q8_tensor_destroy(in[i]);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/*                     c  h   w   m  kh kw sh sw dh dw g  pt pl pb pr bias 1d */
static const conv_p P_BASIC = {3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, NULL};
static const conv_p P_STRIDED = {2, 13, 10, 5, 3, 2, 2, 3, 2, 1, 1, 1, 0, 2, 1, 1, 0, NULL};
static const conv_p P_GROUP = {4, 8, 7, 6, 3, 3, 1, 1, 1, 1, 2, 0, 1, 1, 0, 0, 0, NULL};
static const conv_p P_DW = {3, 7, 9, 6, 3, 3, 2, 2, 1, 1, 3, 1, 1, 1, 1, 1, 0, NULL};
static const conv_p P_DW_DIL = {4, 10, 10, 4, 3, 3, 1, 1, 2, 2, 4, 2, 2, 2, 2, 0, 0, NULL};
static const conv_p P_SAME_UPPER = {2, 7, 8, 3, 4, 3, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1, 0, "SAME_UPPER"};
static const conv_p P_SAME_LOWER = {2, 7, 8, 3, 4, 4, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, "SAME_LOWER"};
static const conv_p P_VALID = {3, 9, 8, 2, 3, 3, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1, 0, "VALID"};
static const conv_p P_1X1 = {5, 6, 7, 8, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, NULL};
static const conv_p P_1D = {3, 1, 12, 4, 1, 3, 1, 2, 1, 1, 1, 0, 1, 0, 1, 1, 1, NULL};
static const conv_p P_BIG = {8, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, NULL};
static const conv_p P_DW_BIG = {32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 32, 1, 1, 1, 1, 1, 0, NULL};

Test(runtime_conv, basic_batch_1_and_7) {
  conv_case("conv_basic", P_BASIC, 1);
  conv_case("conv_basic", P_BASIC, 7);
}
Test(runtime_conv, strides_asymmetric_pads_dilation) { conv_case("conv_strided", P_STRIDED, 2); }
Test(runtime_conv, groups) { conv_case("conv_group", P_GROUP, 3); }
Test(runtime_conv, depthwise_multiplier_2) {
  conv_case("conv_depthwise", P_DW, 1);
  conv_case("conv_depthwise", P_DW, 7);
}
Test(runtime_conv, depthwise_dilated) { conv_case("conv_dw_dil", P_DW_DIL, 2); }
Test(runtime_conv, same_upper) { conv_case("conv_same_upper", P_SAME_UPPER, 3); }
Test(runtime_conv, same_lower_even_kernel) { conv_case("conv_same_lower", P_SAME_LOWER, 3); }
Test(runtime_conv, valid) { conv_case("conv_valid", P_VALID, 2); }
Test(runtime_conv, pointwise_in_place) { conv_case("conv_1x1", P_1X1, 7); }
Test(runtime_conv, one_d) { conv_case("conv_1d", P_1D, 5); }
Test(runtime_conv, large_parallel) {
  conv_case("conv_big", P_BIG, 3);
  conv_case("conv_dw_big", P_DW_BIG, 2);
}

/* Weights and bias as initializers, read back through q8_session_tensor. */
Test(runtime_conv, constant_weights) {
  test_rng r;
  rng_seed(&r, 8);
  q8_model *m = load("conv_const");
  const int64_t xs[4] = {2, 1, 8, 8};
  q8_tensor *x = rand_f32(&r, xs, 4, -1, 1);
  q8_session *s = session_run(m, 2, &x, 1);
  const float *w = fdata(named(s, "W")), *b = fdata(named(s, "B")), *xp = fdata(x);
  double want[2 * 4 * 64];
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 4; ++o)
      for (int oy = 0; oy < 8; ++oy)
        for (int ox = 0; ox < 8; ++ox) {
          double acc = b[o];
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = oy - 1 + ky, ix = ox - 1 + kx;
              if (iy >= 0 && iy < 8 && ix >= 0 && ix < 8) acc += (double)w[(o * 3 + ky) * 3 + kx] * xp[(n * 8 + iy) * 8 + ix];
            }
          want[((n * 4 + o) * 8 + oy) * 8 + ox] = acc;
        }
  expect_close(fdata(out_at(s, 0)), want, 512, TOL, "conv_const");
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* ---- element-wise ------------------------------------------------------------------------- */

/* numpy broadcasting of A and B into the output shape (rank orank). */
static void ref_binary(int mul, const float *a, const int64_t *as, size_t ar, const float *b, const int64_t *bs, size_t br,
                       const int64_t *os, size_t orank, double *y) {
  const size_t n = numel_of(os, orank);
  for (size_t i = 0; i < n; ++i) {
    size_t rem = i, ao = 0, bo = 0, astr = 1, bstr = 1;
    for (size_t d = orank; d-- > 0;) {
      const size_t idx = rem % (size_t)os[d];
      rem /= (size_t)os[d];
      const size_t ad = d + ar >= orank ? d + ar - orank : (size_t)-1, bd = d + br >= orank ? d + br - orank : (size_t)-1;
      if (ad != (size_t)-1) {
        if (as[ad] != 1) ao += idx * astr;
        astr *= (size_t)as[ad];
      }
      if (bd != (size_t)-1) {
        if (bs[bd] != 1) bo += idx * bstr;
        bstr *= (size_t)bs[bd];
      }
    }
    y[i] = mul ? (double)a[ao] * b[bo] : (double)a[ao] + b[bo];
  }
}

static void binary_case(const char *model, int mul, const int64_t *as, size_t ar, const int64_t *bs, size_t br,
                        const int64_t *os, size_t orank, int64_t batch, int a_first) {
  test_rng r;
  rng_seed(&r, 9);
  q8_model *m = load(model);
  q8_tensor *a = rand_f32(&r, as, ar, -3, 3), *b = rand_f32(&r, bs, br, -3, 3);
  q8_tensor *in[2] = {a_first ? a : b, a_first ? b : a};
  q8_session *s = session_run(m, batch, in, 2);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, os, orank);
  const size_t n = numel_of(os, orank);
  double *want = dalloc(n);
  ref_binary(mul, fdata(a), as, ar, fdata(b), bs, br, os, orank, want);
  expect_close(fdata(out_at(s, 0)), want, n, 1e-6, model);
  free(want);
  q8_tensor_destroy(a);
  q8_tensor_destroy(b);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

Test(runtime_elementwise, add_broadcast_both_ways) {
  for (int64_t batch = 1; batch <= 7; batch += 6) {
    const int64_t as[4] = {batch, 3, 1, 5}, bs[2] = {4, 1}, os[4] = {batch, 3, 4, 5};
    binary_case("add_bcast", 0, as, 4, bs, 2, os, 4, batch, 1);
  }
}
Test(runtime_elementwise, mul_broadcast_middle) {
  const int64_t as[3] = {7, 4, 6}, bs[3] = {1, 4, 1}, os[3] = {7, 4, 6};
  binary_case("mul_bcast", 1, as, 3, bs, 3, os, 3, 7, 1);
}
Test(runtime_elementwise, add_scalar) {
  const int64_t as[2] = {7, 5}, os[2] = {7, 5};
  binary_case("add_scalar", 0, as, 2, NULL, 0, os, 2, 7, 1);
}
Test(runtime_elementwise, mul_same_shape) {
  const int64_t as[2] = {7, 8};
  binary_case("mul_same", 1, as, 2, as, 2, as, 2, 7, 1);
}
Test(runtime_elementwise, add_lower_rank_first) {
  const int64_t bs[1] = {3}, as[3] = {7, 2, 3};
  binary_case("add_lowrank", 0, bs, 1, as, 3, as, 3, 7, 1);
}

Test(runtime_elementwise, unary_relu_sigmoid_tanh_clip) {
  test_rng r;
  rng_seed(&r, 10);
  q8_model *m = load("unary");
  const int64_t xs[3] = {7, 3, 5};
  q8_tensor *x = rand_f32(&r, xs, 3, -4, 4);
  float *xp = tensor_data(x);
  xp[0] = 100.0f; /* sigmoid/tanh saturate without overflow */
  xp[1] = -100.0f;
  xp[2] = NAN;
  xp[3] = -0.5f;
  q8_session *s = session_run(m, 7, &x, 1);
  double want[105];
  const char *names[5] = {"relu", "sigmoid", "tanh", "clip", "clip_max"};
  for (int k = 0; k < 5; ++k) {
    expect_shape(out_at(s, (size_t)k), Q8_DTYPE_F32, xs, 3);
    for (int i = 0; i < 105; ++i) {
      const double v = xp[i];
      switch (k) {
        case 0: want[i] = isnan(v) ? v : v < 0 ? 0 : v; break;
        case 1: want[i] = 1 / (1 + exp(-v)); break;
        case 2: want[i] = tanh(v); break;
        case 3: want[i] = isnan(v) ? v : v < -0.5 ? -0.5 : v > 0.75 ? 0.75 : v; break;
        default: want[i] = isnan(v) ? v : v > 0.25 ? 0.25 : v; break;
      }
    }
    expect_close(fdata(out_at(s, (size_t)k)), want, 105, 1e-6, names[k]);
  }
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* ---- Softmax -------------------------------------------------------------------------------- */

static void ref_softmax(const float *x, const int64_t *shape, size_t rank, size_t axis, double *y) {
  size_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= (size_t)shape[i];
  for (size_t i = axis + 1; i < rank; ++i) inner *= (size_t)shape[i];
  const size_t len = (size_t)shape[axis];
  for (size_t o = 0; o < outer; ++o)
    for (size_t in = 0; in < inner; ++in) {
      double mx = -INFINITY, sum = 0;
      for (size_t j = 0; j < len; ++j) mx = fmax(mx, x[(o * len + j) * inner + in]);
      for (size_t j = 0; j < len; ++j) sum += exp(x[(o * len + j) * inner + in] - mx);
      for (size_t j = 0; j < len; ++j) y[(o * len + j) * inner + in] = exp(x[(o * len + j) * inner + in] - mx) / sum;
    }
}

Test(runtime_softmax, axes_1_last_and_0) {
  test_rng r;
  rng_seed(&r, 11);
  q8_model *m = load("softmax");
  for (int64_t batch = 1; batch <= 7; batch += 6) {
    const int64_t xs[3] = {batch, 3, 4};
    q8_tensor *x = rand_f32(&r, xs, 3, -20, 20);
    ((float *)tensor_data(x))[0] = 80.0f; /* exp would overflow without the max subtracted */
    q8_session *s = session_run(m, batch, &x, 1);
    double want[84];
    const size_t axes[3] = {1, 2, 0};
    for (size_t k = 0; k < 3; ++k) {
      ref_softmax(fdata(x), xs, 3, axes[k], want);
      expect_shape(out_at(s, k), Q8_DTYPE_F32, xs, 3);
      expect_close(fdata(out_at(s, k)), want, (size_t)(batch * 12), 1e-6, "softmax");
    }
    q8_tensor_destroy(x);
    q8_session_destroy(s);
  }
  q8_model_destroy(m);
}

/* ---- pools ------------------------------------------------------------------------------------ */

typedef struct {
  int64_t c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int ceil_mode, include_pad;
  const char *auto_pad;
} pool_p;

/* kind 0: max, 1: average */
static void pool_case(const char *model, int kind, pool_p p, int64_t batch) {
  test_rng r;
  rng_seed(&r, 12 + (uint64_t)batch);
  q8_model *m = load(model);
  const int64_t oh = window_out(p.h, p.kh, p.sh, p.dh, &p.pt, &p.pb, p.auto_pad, p.ceil_mode);
  const int64_t ow = window_out(p.w, p.kw, p.sw, p.dw, &p.pl, &p.pr, p.auto_pad, p.ceil_mode);
  const int64_t xs[4] = {batch, p.c, p.h, p.w}, ys[4] = {batch, p.c, oh, ow};
  q8_tensor *x = rand_f32(&r, xs, 4, -5, 5);
  q8_session *s = session_run(m, batch, &x, 1);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, ys, 4);
  const float *xp = fdata(x);
  double *want = dalloc((size_t)(batch * p.c * oh * ow));
  for (int64_t pl = 0; pl < batch * p.c; ++pl)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -INFINITY, sum = 0;
        int64_t inside = 0, padded = 0;
        for (int64_t ky = 0; ky < p.kh; ++ky)
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t iy = oy * p.sh - p.pt + ky * p.dh, ix = ox * p.sw - p.pl + kx * p.dw;
            if (iy >= -p.pt && iy < p.h + p.pb && ix >= -p.pl && ix < p.w + p.pr) ++padded;
            if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
            const double v = xp[(pl * p.h + iy) * p.w + ix];
            best = v > best ? v : best;
            sum += v;
            ++inside;
          }
        want[(pl * oh + oy) * ow + ox] = kind == 0 ? best : sum / (double)(p.include_pad ? padded : inside);
      }
  expect_close(fdata(out_at(s, 0)), want, (size_t)(batch * p.c * oh * ow), kind == 0 ? 0 : 1e-6, model);
  free(want);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/*                                    c  h   w kh kw sh sw dh dw pt pl pb pr ceil incl auto */
Test(runtime_pool, maxpool_padded_batch_1_and_7) {
  const pool_p p = {3, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, NULL};
  pool_case("maxpool_basic", 0, p, 1);
  pool_case("maxpool_basic", 0, p, 7);
}
Test(runtime_pool, maxpool_ceil_mode) {
  const pool_p p = {2, 10, 9, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0, NULL};
  pool_case("maxpool_ceil", 0, p, 2);
}
Test(runtime_pool, maxpool_dilations_asymmetric_pads) {
  const pool_p p = {2, 8, 9, 2, 3, 1, 2, 2, 1, 0, 1, 1, 0, 0, 0, NULL};
  pool_case("maxpool_dil", 0, p, 3);
}
Test(runtime_pool, maxpool_same_upper) {
  const pool_p p = {2, 7, 7, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, "SAME_UPPER"};
  pool_case("maxpool_same", 0, p, 2);
}
Test(runtime_pool, avgpool_count_include_pad) {
  const pool_p p = {3, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 1, NULL};
  pool_case("avgpool_incl", 1, p, 7);
}
Test(runtime_pool, avgpool_ceil_mode_exclude_pad) {
  const pool_p p = {2, 10, 9, 3, 2, 2, 2, 1, 1, 1, 0, 1, 1, 1, 0, NULL};
  pool_case("avgpool_excl_ceil", 1, p, 2);
}
/* The ceil_mode window past the end padding does not count toward the divisor. */
Test(runtime_pool, avgpool_ceil_mode_include_pad) {
  const pool_p p = {2, 10, 9, 3, 2, 2, 2, 1, 1, 1, 0, 1, 1, 1, 1, NULL};
  pool_case("avgpool_incl_ceil", 1, p, 2);
}

Test(runtime_pool, global_average) {
  test_rng r;
  rng_seed(&r, 13);
  q8_model *m = load("gap");
  const int64_t xs[4] = {7, 5, 6, 7}, ys[4] = {7, 5, 1, 1};
  q8_tensor *x = rand_f32(&r, xs, 4, -5, 5);
  q8_session *s = session_run(m, 7, &x, 1);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, ys, 4);
  double want[35];
  for (int p = 0; p < 35; ++p) {
    double sum = 0;
    for (int i = 0; i < 42; ++i) sum += fdata(x)[p * 42 + i];
    want[p] = sum / 42;
  }
  expect_close(fdata(out_at(s, 0)), want, 35, 1e-6, "gap");
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

Test(runtime_norm, batchnorm_inference) {
  test_rng r;
  rng_seed(&r, 14);
  q8_model *m = load("batchnorm");
  const int64_t xs[4] = {7, 4, 3, 5};
  q8_tensor *x = rand_f32(&r, xs, 4, -3, 3);
  q8_session *s = session_run(m, 7, &x, 1);
  const float *sc = fdata(named(s, "scale")), *bi = fdata(named(s, "bias")), *mu = fdata(named(s, "mean")),
              *va = fdata(named(s, "var"));
  double want[420];
  for (int i = 0; i < 420; ++i) {
    const int c = i / 15 % 4;
    want[i] = ((double)fdata(x)[i] - mu[c]) / sqrt((double)va[c] + (double)1e-3f) * sc[c] + bi[c];
  }
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, xs, 4);
  expect_close(fdata(out_at(s, 0)), want, 420, 1e-5, "batchnorm");
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* ---- layout ----------------------------------------------------------------------------------- */

static void expect_same_bytes(const q8_tensor *got, const q8_tensor *want) {
  size_t a, b;
  Q8_OK_OR_FAIL(q8_tensor_nbytes(got, &a));
  Q8_OK_OR_FAIL(q8_tensor_nbytes(want, &b));
  cr_assert_eq(a, b);
  cr_assert(a == 0 || memcmp(tensor_data(got), tensor_data(want), a) == 0, "bytes differ");
}

Test(runtime_layout, flatten_reshape_identity) {
  test_rng r;
  rng_seed(&r, 15);
  q8_model *m = load("flatten");
  const int64_t xs[4] = {7, 3, 4, 5}, f2[2] = {21, 20}, f0[2] = {1, 420};
  q8_tensor *x = rand_f32(&r, xs, 4, -1, 1);
  q8_session *s = session_run(m, 7, &x, 1);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, f2, 2);
  expect_shape(out_at(s, 1), Q8_DTYPE_F32, f0, 2);
  expect_same_bytes(out_at(s, 0), x);
  expect_same_bytes(out_at(s, 1), x);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);

  m = load("reshape");
  const int64_t rs[3] = {7, 4, 6}, r1[2] = {7, 24}, r2[3] = {14, 2, 6};
  x = rand_f32(&r, rs, 3, -1, 1);
  s = session_run(m, 7, &x, 1);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, r1, 2);
  expect_shape(out_at(s, 1), Q8_DTYPE_F32, r2, 3);
  expect_same_bytes(out_at(s, 1), x);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);

  m = load("identity");
  const int64_t is[2] = {7, 3};
  x = rand_f32(&r, is, 2, -1, 1);
  s = session_run(m, 7, &x, 1);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, is, 2);
  expect_same_bytes(out_at(s, 0), x);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* allowzero = 1: the 0 in [0, 6, 3] is a real 0 (an empty tensor), not a copy of dim 0. */
Test(runtime_layout, reshape_allowzero_empty) {
  q8_model *m = load("reshape_allowzero");
  const int64_t xs[3] = {2, 3, 0}, ys[3] = {0, 6, 3};
  q8_tensor *x = make_tensor(Q8_DTYPE_F32, xs, 3);
  q8_session *s = session_run(m, 1, &x, 1);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, ys, 3);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

static void ref_transpose(const float *x, const int64_t *xs, size_t rank, const int *perm, float *y) {
  int64_t os[MAXR], xstr[MAXR];
  for (size_t i = rank, s = 1; i-- > 0;) xstr[i] = (int64_t)s, s *= (size_t)xs[i];
  for (size_t i = 0; i < rank; ++i) os[i] = xs[perm[i]];
  const size_t n = numel_of(xs, rank);
  for (size_t o = 0; o < n; ++o) {
    size_t rem = o, off = 0;
    for (size_t i = rank; i-- > 0;) {
      off += rem % (size_t)os[i] * (size_t)xstr[perm[i]];
      rem /= (size_t)os[i];
    }
    y[o] = x[off];
  }
}

Test(runtime_layout, transpose_perm_and_default) {
  test_rng r;
  rng_seed(&r, 16);
  q8_model *m = load("transpose");
  const int64_t xs[4] = {7, 3, 4, 5}, t1[4] = {7, 4, 5, 3}, t2[4] = {5, 4, 3, 7};
  const int p1[4] = {0, 2, 3, 1}, p2[4] = {3, 2, 1, 0};
  q8_tensor *x = rand_f32(&r, xs, 4, -1, 1);
  q8_session *s = session_run(m, 7, &x, 1);
  float want[420];
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, t1, 4);
  ref_transpose(fdata(x), xs, 4, p1, want);
  cr_assert(memcmp(fdata(out_at(s, 0)), want, sizeof want) == 0);
  expect_shape(out_at(s, 1), Q8_DTYPE_F32, t2, 4);
  ref_transpose(fdata(x), xs, 4, p2, want);
  cr_assert(memcmp(fdata(out_at(s, 1)), want, sizeof want) == 0);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

Test(runtime_layout, concat_middle_and_last_axis) {
  test_rng r;
  rng_seed(&r, 17);
  q8_model *m = load("concat");
  const int64_t as[3] = {7, 2, 3}, bs[3] = {7, 1, 3}, cs[3] = {7, 4, 3}, c1[3] = {7, 7, 3}, c2[3] = {7, 2, 6};
  q8_tensor *in[3] = {rand_f32(&r, as, 3, -1, 1), rand_f32(&r, bs, 3, -1, 1), rand_f32(&r, cs, 3, -1, 1)};
  q8_session *s = session_run(m, 7, in, 3);
  expect_shape(out_at(s, 0), Q8_DTYPE_F32, c1, 3);
  expect_shape(out_at(s, 1), Q8_DTYPE_F32, c2, 3);
  const float *y1 = fdata(out_at(s, 0)), *y2 = fdata(out_at(s, 1));
  for (int n = 0; n < 7; ++n)
    for (int j = 0; j < 7; ++j)
      for (int k = 0; k < 3; ++k) {
        const float want = j < 2 ? fdata(in[0])[(n * 2 + j) * 3 + k]
                           : j < 3 ? fdata(in[1])[n * 3 + k]
                                   : fdata(in[2])[(n * 4 + j - 3) * 3 + k];
        cr_assert_eq(y1[(n * 7 + j) * 3 + k], want);
      }
  for (int n = 0; n < 7; ++n)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 6; ++k) cr_assert_eq(y2[(n * 2 + j) * 6 + k], fdata(in[0])[(n * 2 + j) * 3 + k % 3]);
  for (int i = 0; i < 3; ++i) q8_tensor_destroy(in[i]);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* ---- quantized tensors through Relu, Clip, MaxPool and layout ops ---------------------------- */

static void expect_qparams(const q8_tensor *t, float scale, int32_t zp) {
  int32_t axis;
  size_t count;
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(t, &axis, &count));
  cr_assert_eq(count, 1);
  float s;
  int32_t z;
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(t, &s, &z, 1));
  cr_assert_eq(s, scale);
  cr_assert_eq(z, zp);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* u8, scale 0.2, zero point 100: Relu is max(q, 100); Clip(-0.3, 0.9) quantizes its bounds with
 * round half to even: -1.5 -> -2 and 4.5 -> 4, so q is clamped to [98, 104]. */
Test(runtime_quantized, u8_relu_maxpool_reshape_clip) {
  test_rng r;
  rng_seed(&r, 18);
  q8_model *m = load("quant_u8");
  const int64_t batch = 7, xs[4] = {batch, 2, 4, 4}, ys[2] = {batch, 8};
  q8_tensor *x = make_tensor(Q8_DTYPE_U8, xs, 4);
  uint8_t *xp = tensor_data(x);
  for (int i = 0; i < batch * 32; ++i) xp[i] = (uint8_t)(rng_next(&r) % 256);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(x, 0.2f, 100));
  q8_session *s = session_run(m, batch, &x, 1);
  const q8_tensor *relu = named(s, "r"), *y = out_at(s, 0), *c = out_at(s, 1);
  expect_shape(relu, Q8_DTYPE_U8, xs, 4);
  expect_shape(y, Q8_DTYPE_U8, ys, 2);
  expect_shape(c, Q8_DTYPE_U8, xs, 4);
  expect_qparams(relu, 0.2f, 100);
  expect_qparams(y, 0.2f, 100);
  expect_qparams(c, 0.2f, 100);
  const uint8_t *rp = tensor_data(relu), *yp = tensor_data(y), *cp = tensor_data(c);
  for (int i = 0; i < batch * 32; ++i) {
    cr_assert_eq(rp[i], xp[i] < 100 ? 100 : xp[i]);
    cr_assert_eq(cp[i], clampi(xp[i], 98, 104));
  }
  for (int pl = 0; pl < batch * 2; ++pl)
    for (int oy = 0; oy < 2; ++oy)
      for (int ox = 0; ox < 2; ++ox) {
        int best = 0;
        for (int ky = 0; ky < 2; ++ky)
          for (int kx = 0; kx < 2; ++kx) {
            const int v = rp[(pl * 4 + oy * 2 + ky) * 4 + ox * 2 + kx];
            best = v > best ? v : best;
          }
        cr_assert_eq(yp[pl * 4 + oy * 2 + ox], best);
      }
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* s8, scale 0.1, zero point 125: Clip's upper bound 9 + 125 saturates to 127; the lower is 122. */
Test(runtime_quantized, s8_relu_transpose_flatten_clip_saturates) {
  test_rng r;
  rng_seed(&r, 19);
  q8_model *m = load("quant_s8");
  const int64_t xs[4] = {1, 3, 2, 2}, ys[2] = {1, 12};
  q8_tensor *x = make_tensor(Q8_DTYPE_S8, xs, 4);
  int8_t *xp = tensor_data(x);
  for (int i = 0; i < 12; ++i) xp[i] = (int8_t)(int)(rng_next(&r) % 256 - 128);
  xp[0] = 127;
  xp[1] = -128;
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(x, 0.1f, 125));
  q8_session *s = session_run(m, 1, &x, 1);
  const q8_tensor *y = out_at(s, 0), *c = out_at(s, 1);
  expect_shape(y, Q8_DTYPE_S8, ys, 2);
  expect_qparams(y, 0.1f, 125);
  expect_qparams(c, 0.1f, 125);
  const int8_t *yp = tensor_data(y), *cp = tensor_data(c);
  for (int ch = 0; ch < 3; ++ch)
    for (int p = 0; p < 4; ++p) {
      const int v = xp[ch * 4 + p];
      cr_assert_eq(yp[p * 3 + ch], v < 125 ? 125 : v);
      cr_assert_eq(cp[ch * 4 + p], clampi(v, 122, 127));
    }
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* Per-channel parameters: bounds per channel, and the axis follows the channel through Transpose. */
Test(runtime_quantized, per_axis_relu_clip_transpose) {
  test_rng r;
  rng_seed(&r, 20);
  q8_model *m = load("quant_per_axis");
  const int64_t xs[4] = {2, 3, 2, 2};
  q8_tensor *x = make_tensor(Q8_DTYPE_S8, xs, 4);
  int8_t *xp = tensor_data(x);
  for (int i = 0; i < 24; ++i) xp[i] = (int8_t)(int)(rng_next(&r) % 256 - 128);
  const float scales[3] = {0.2f, 0.1f, 0.05f};
  const int32_t zps[3] = {-5, 0, 10};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(x, 1, scales, zps, 3));
  q8_session *s = session_run(m, 2, &x, 1);
  const q8_tensor *y = out_at(s, 0), *c = out_at(s, 1);
  int32_t axis;
  size_t count;
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(y, &axis, &count));
  cr_assert_eq(axis, 3);
  cr_assert_eq(count, 3);
  float got_s[3];
  int32_t got_z[3];
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(y, got_s, got_z, 3));
  cr_assert(memcmp(got_s, scales, sizeof scales) == 0 && memcmp(got_z, zps, sizeof zps) == 0);
  /* Clip(-0.3, 0.9): channel 0 -> [-7, -1] (-1.5 -> -2, 4.5 -> 4); 1 -> [-3, 9]; 2 -> [4, 28]. */
  const int lo[3] = {-7, -3, 4}, hi[3] = {-1, 9, 28};
  const int8_t *yp = tensor_data(y), *cp = tensor_data(c);
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < 4; ++p) {
        const int v = xp[(n * 3 + ch) * 4 + p];
        cr_assert_eq(yp[(n * 4 + p) * 3 + ch], v < zps[ch] ? zps[ch] : v);
        cr_assert_eq(cp[(n * 3 + ch) * 4 + p], clampi(v, lo[ch], hi[ch]));
      }
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

Test(runtime_quantized, concat_requires_shared_qparams) {
  q8_model *m = load("concat_u8");
  const int64_t as[2] = {3, 2}, bs[2] = {3, 3};
  q8_tensor *in[2] = {make_tensor(Q8_DTYPE_U8, as, 2), make_tensor(Q8_DTYPE_U8, bs, 2)};
  for (int i = 0; i < 6; ++i) ((uint8_t *)tensor_data(in[0]))[i] = (uint8_t)i;
  for (int i = 0; i < 9; ++i) ((uint8_t *)tensor_data(in[1]))[i] = (uint8_t)(100 + i);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(in[0], 0.5f, 3));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(in[1], 0.5f, 3));
  q8_session *s = session_run(m, 3, in, 2);
  const q8_tensor *y = out_at(s, 0);
  expect_qparams(y, 0.5f, 3);
  const uint8_t *yp = tensor_data(y);
  for (int n = 0; n < 3; ++n)
    for (int j = 0; j < 5; ++j) cr_assert_eq(yp[n * 5 + j], j < 2 ? n * 2 + j : 100 + n * 3 + j - 2);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(in[1], 0.25f, 3));
  Q8_EXPECT_STATUS(q8_session_run(s, (const q8_tensor *const *)in, 2), Q8_ERR_UNSUPPORTED);
  cr_assert(strstr(q8_last_error(), "concat_u8_node") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_session_output(s, 0, &y), Q8_ERR_STATE); /* a failed run leaves no outputs */
  q8_tensor_destroy(in[0]);
  q8_tensor_destroy(in[1]);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* ---- sessions ------------------------------------------------------------------------------- */

/* Mul and Relu of constants run once at creation; their values are readable by name. */
Test(runtime_session, constant_folding) {
  q8_model *m = load("fold");
  const int64_t xs[2] = {2, 4};
  q8_tensor *x = make_tensor(Q8_DTYPE_F32, xs, 2);
  float *xp = tensor_data(x);
  for (int i = 0; i < 8; ++i) xp[i] = (float)i;
  q8_session *s = session_run(m, 2, &x, 1);
  const float prod[4] = {3.0f, -2.0f, -2.0f, 0.75f}, relu[4] = {3.0f, 0, 0, 0.75f};
  cr_assert(memcmp(fdata(named(s, "prod")), prod, sizeof prod) == 0);
  cr_assert(memcmp(fdata(named(s, "prod_relu")), relu, sizeof relu) == 0);
  for (int i = 0; i < 8; ++i) cr_assert_eq(fdata(out_at(s, 0))[i], (float)i + relu[i % 4]);
  /* A second run with new inputs recomputes only what depends on them. */
  for (int i = 0; i < 8; ++i) xp[i] = -(float)i;
  Q8_OK_OR_FAIL(q8_session_run(s, (const q8_tensor *const *)&x, 1));
  for (int i = 0; i < 8; ++i) cr_assert_eq(fdata(out_at(s, 0))[i], -(float)i + relu[i % 4]);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* The same bits with 1 and 2 threads (OpenBLAS follows q8's limit; q8's loops chunk by size). */
Test(runtime_session, results_do_not_depend_on_thread_count) {
  const char *models[3] = {"conv_big", "conv_dw_big", "add_bcast"};
  const int64_t batch[3] = {3, 2, 2000};
  for (int k = 0; k < 3; ++k) {
    test_rng r;
    rng_seed(&r, 21);
    q8_model *m = load(models[k]);
    size_t n_in;
    Q8_OK_OR_FAIL(q8_model_input_count(m, &n_in));
    q8_tensor *in[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < n_in; ++i) {
      q8_dtype dt;
      int64_t shape[MAXR];
      size_t rank;
      Q8_OK_OR_FAIL(q8_model_input_info(m, i, &dt, shape, MAXR, &rank));
      for (size_t d = 0; d < rank; ++d)
        if (shape[d] < 0) shape[d] = batch[k];
      in[i] = rand_f32(&r, shape, rank, -1, 1);
    }
    void *first = NULL;
    size_t bytes = 0;
    for (int threads = 1; threads <= 2; ++threads) {
      Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
      q8_session *s = session_run(m, batch[k], in, n_in);
      const q8_tensor *y = out_at(s, 0);
      Q8_OK_OR_FAIL(q8_tensor_nbytes(y, &bytes));
      if (!first) {
        first = malloc(bytes);
        memcpy(first, tensor_data(y), bytes);
      } else {
        cr_assert(memcmp(first, tensor_data(y), bytes) == 0, "%s differs between 1 and 2 threads", models[k]);
      }
      q8_session_destroy(s);
    }
    free(first);
    for (size_t i = 0; i < n_in; ++i) q8_tensor_destroy(in[i]);
    q8_model_destroy(m);
  }
  Q8_OK_OR_FAIL(q8_runtime_set_threads(0));
}

Test(runtime_session, bad_input) {
  q8_model *m = load("gemm_bias_n");
  q8_session *s = NULL;
  const q8_tensor *t = NULL;
  Q8_EXPECT_STATUS(q8_session_create(NULL, 1, &s), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_create(m, 1, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_create(m, 0, &s), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_create(m, -3, &s), Q8_ERR_INVALID_ARGUMENT);
  cr_assert_null(s);
  Q8_EXPECT_STATUS(q8_session_run(NULL, NULL, 0), Q8_ERR_INVALID_ARGUMENT); /* run before create */
  Q8_EXPECT_STATUS(q8_session_output(NULL, 0, &t), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_tensor(NULL, "Y", &t), Q8_ERR_INVALID_ARGUMENT);
  q8_session_destroy(NULL);

  Q8_OK_OR_FAIL(q8_session_create(m, 4, &s));
  Q8_EXPECT_STATUS(q8_session_output(s, 0, &t), Q8_ERR_STATE); /* output before run */
  Q8_EXPECT_STATUS(q8_session_tensor(s, "Y", &t), Q8_ERR_STATE);
  const int64_t as[2] = {4, 5}, bs[2] = {5, 3}, cs[1] = {3}, wrong_batch[2] = {3, 5};
  q8_tensor *in[3] = {make_tensor(Q8_DTYPE_F32, as, 2), make_tensor(Q8_DTYPE_F32, bs, 2), make_tensor(Q8_DTYPE_F32, cs, 1)};
  q8_tensor *u8 = make_tensor(Q8_DTYPE_U8, as, 2), *shaped = make_tensor(Q8_DTYPE_F32, wrong_batch, 2);
  q8_tensor *rank1 = make_tensor(Q8_DTYPE_F32, cs, 1);
  Q8_EXPECT_STATUS(q8_session_run(s, NULL, 3), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_run(s, (const q8_tensor *const *)in, 2), Q8_ERR_INVALID_ARGUMENT);
  const q8_tensor *with_null[3] = {in[0], NULL, in[2]};
  Q8_EXPECT_STATUS(q8_session_run(s, with_null, 3), Q8_ERR_INVALID_ARGUMENT);
  const q8_tensor *bad_dtype[3] = {u8, in[1], in[2]};
  Q8_EXPECT_STATUS(q8_session_run(s, bad_dtype, 3), Q8_ERR_DTYPE);
  cr_assert(strstr(q8_last_error(), "'A'") != NULL, "%s", q8_last_error());
  const q8_tensor *bad_shape[3] = {shaped, in[1], in[2]};
  Q8_EXPECT_STATUS(q8_session_run(s, bad_shape, 3), Q8_ERR_SHAPE);
  cr_assert(strstr(q8_last_error(), "'A'") != NULL, "%s", q8_last_error());
  const q8_tensor *bad_rank[3] = {in[0], rank1, in[2]};
  Q8_EXPECT_STATUS(q8_session_run(s, bad_rank, 3), Q8_ERR_SHAPE);
  cr_assert(strstr(q8_last_error(), "'B'") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_session_output(s, 0, &t), Q8_ERR_STATE); /* failed runs leave no outputs */

  Q8_OK_OR_FAIL(q8_session_run(s, (const q8_tensor *const *)in, 3));
  Q8_EXPECT_STATUS(q8_session_output(s, 1, &t), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_output(s, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_tensor(s, NULL, &t), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_tensor(s, "no such tensor", &t), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_session_tensor(s, "Y", NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_session_tensor(s, "A", &t)); /* graph inputs are named tensors too */
  expect_same_bytes(t, in[0]);
  for (int i = 0; i < 3; ++i) q8_tensor_destroy(in[i]);
  q8_tensor_destroy(u8);
  q8_tensor_destroy(shaped);
  q8_tensor_destroy(rank1);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

/* ---- the bundled digits models --------------------------------------------------------------- */

/* Held-out rows (i % 4 == 0) of digits.csv.gz. */
static digits_rows g_test;

static void load_digits(void) { digits_load_bundled(NULL, &g_test); }

/* The "fp32_accuracy" figure of model `key` in fp32_accuracy.json. */
static double expected_accuracy(const char *key) {
  const char *dir = getenv("Q8_TEST_DATA");
  char path[1024], buf[8192];
  snprintf(path, sizeof path, "%s/models/fp32_accuracy.json", dir);
  FILE *f = fopen(path, "rb");
  cr_assert(f != NULL, "cannot open %s", path);
  const size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = '\0';
  char quoted[64];
  snprintf(quoted, sizeof quoted, "\"%s\": {", key);
  const char *at = strstr(buf, quoted);
  cr_assert(at != NULL, "no model %s in fp32_accuracy.json", key);
  at = strstr(at, "\"fp32_accuracy\":");
  cr_assert(at != NULL);
  return strtod(at + strlen("\"fp32_accuracy\":"), NULL);
}

static void digits_case(const char *file, const char *key, int cnn) {
  load_digits();
  const size_t n = g_test.n;
  cr_assert_eq(n, 450);
  q8_model *m = load_path("models", file);
  const int64_t s_cnn[4] = {(int64_t)n, 1, 8, 8}, s_mlp[2] = {(int64_t)n, 64};
  q8_tensor *x = cnn ? make_tensor(Q8_DTYPE_F32, s_cnn, 4) : make_tensor(Q8_DTYPE_F32, s_mlp, 2);
  memcpy(tensor_data(x), g_test.x, n * 64 * sizeof(float));
  q8_session *s = session_run(m, (int64_t)n, &x, 1);
  const q8_tensor *y = out_at(s, 0);
  const int64_t ys[2] = {(int64_t)n, 10};
  expect_shape(y, Q8_DTYPE_F32, ys, 2);
  const size_t correct = digits_correct(fdata(y), g_test.y, n);
  const double acc = (double)correct / (double)n, want = expected_accuracy(key);
  cr_assert(fabs(acc - want) <= 0.003, "%s: accuracy %.6f, fp32_accuracy.json says %.6f", file, acc, want);

  q8_session *one = NULL;
  Q8_OK_OR_FAIL(q8_session_create(m, 1, &one));
  const int64_t s1_cnn[4] = {1, 1, 8, 8}, s1_mlp[2] = {1, 64};
  q8_tensor *x1 = cnn ? make_tensor(Q8_DTYPE_F32, s1_cnn, 4) : make_tensor(Q8_DTYPE_F32, s1_mlp, 2);
  memcpy(tensor_data(x1), g_test.x, 64 * sizeof(float));
  Q8_OK_OR_FAIL(q8_session_run(one, (const q8_tensor *const *)&x1, 1));
  /* Batch 1 gives row 0 of the batch bit for bit: the FP32 runtime's products keep one summation
   * order per element whatever the row count (q8_gemm_f32_ordered). */
  cr_assert(memcmp(fdata(out_at(one, 0)), fdata(y), 10 * sizeof(float)) == 0, "%s: batch 1 vs row 0 of batch 450", file);
  q8_tensor_destroy(x1);
  q8_session_destroy(one);
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

Test(runtime_digits, mlp_accuracy) { digits_case("digits_mlp.onnx", "mlp", 0); }
Test(runtime_digits, cnn_accuracy) { digits_case("digits_cnn.onnx", "cnn", 1); }
Test(runtime_digits, tiny_cnn_accuracy) { digits_case("digits_tiny_cnn.onnx", "tiny_cnn", 1); }

/* Sessions of one model made and run on four threads at once (batches 1, 7, 64, 450): the first
 * session to prepare a layer packs its constant weights, the others share that packing (the
 * model's PackCache), and every row equals the same row of a 450-row session bit for bit. */
typedef struct {
  const q8_model *m;
  int64_t batch;
  const float *want; /* 450 x 10 logits */
  int ok;
} shared_run;

static void *run_shared(void *arg) {
  shared_run *r = arg;
  q8_session *s = NULL;
  q8_tensor *x = NULL;
  const int64_t shape[4] = {r->batch, 1, 8, 8};
  if (q8_session_create(r->m, r->batch, &s) != Q8_OK || q8_tensor_create(Q8_DTYPE_F32, shape, 4, &x) != Q8_OK)
    return NULL;
  void *xd = NULL;
  const q8_tensor *y = NULL;
  void *yd = NULL;
  q8_tensor_data(x, &xd);
  memcpy(xd, g_test.x, (size_t)r->batch * 64 * sizeof(float));
  if (q8_session_run(s, (const q8_tensor *const *)&x, 1) == Q8_OK && q8_session_output(s, 0, &y) == Q8_OK &&
      q8_tensor_data(y, &yd) == Q8_OK)
    r->ok = memcmp(yd, r->want, (size_t)r->batch * 10 * sizeof(float)) == 0;
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  return NULL;
}

static void expect_shared_sessions(q8_model *m, const char *what) {
  const int64_t n = 450, shape[4] = {n, 1, 8, 8};
  q8_tensor *x = make_tensor(Q8_DTYPE_F32, shape, 4);
  memcpy(tensor_data(x), g_test.x, (size_t)n * 64 * sizeof(float));
  q8_session *whole = session_run(m, n, &x, 1);
  const q8_tensor *y = out_at(whole, 0);
  q8_dtype ydt;
  Q8_OK_OR_FAIL(q8_tensor_dtype(y, &ydt));
  cr_assert_eq(ydt, Q8_DTYPE_F32);
  static const int64_t batches[4] = {1, 7, 64, 450};
  for (int round = 0; round < 2; ++round) { /* first round: an empty cache raced for; then filled */
    q8_model *fresh = NULL;
    if (round == 0) { /* a model of its own (no session has packed it yet) */
      void *bytes = NULL;
      size_t size = 0;
      Q8_OK_OR_FAIL(q8_model_save_bytes(m, &bytes, &size));
      Q8_OK_OR_FAIL(q8_model_load_bytes(bytes, size, &fresh));
      q8_free(bytes);
    }
    shared_run runs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; ++i) {
      runs[i] = (shared_run){fresh ? fresh : m, batches[i], fdata(y), 0};
      cr_assert_eq(pthread_create(&th[i], NULL, run_shared, &runs[i]), 0);
    }
    for (int i = 0; i < 4; ++i) {
      pthread_join(th[i], NULL);
      cr_assert(runs[i].ok, "%s: round %d, batch %lld differs from the 450-row session", what, round,
                (long long)batches[i]);
    }
    q8_model_destroy(fresh);
  }
  q8_tensor_destroy(x);
  q8_session_destroy(whole);
}

Test(runtime_digits, sessions_on_threads_share_packed_weights) {
  load_digits();
  q8_model *m = load_path("models", "digits_cnn.onnx");
  expect_shared_sessions(m, "FP32 CNN");
  q8_model *int8 = NULL;
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  q8_tensor *calib[2];
  const int64_t shape[4] = {64, 1, 8, 8};
  for (int i = 0; i < 2; ++i) {
    calib[i] = make_tensor(Q8_DTYPE_F32, shape, 4);
    memcpy(tensor_data(calib[i]), g_test.x + (size_t)i * 64 * 64, 64 * 64 * sizeof(float));
  }
  Q8_OK_OR_FAIL(q8_model_quantize(m, &o, (const q8_tensor *const *)calib, 2, &int8));
  expect_shared_sessions(int8, "INT8 CNN");
  for (int i = 0; i < 2; ++i) q8_tensor_destroy(calib[i]);
  q8_model_destroy(int8);
  q8_model_destroy(m);
}
