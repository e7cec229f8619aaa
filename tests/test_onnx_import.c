/* ONNX import through the public API: the fixtures of scripts/make_onnx_fixtures.py
 * (tests/data/onnx, found through Q8_TEST_DATA). FP32 models run and match references computed
 * here from the same weight formulas; the graph passes (Identity/Dropout removal, BatchNorm
 * folding, QDQ fusion) change node counts and descriptions without changing results; malformed
 * and unsupported models fail with the right status and a message naming the culprit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- fixtures and helpers -------------------------------------------------------------------- */

static void fixture_path(const char *name, char *out, size_t cap) {
  const char *dir = getenv("Q8_TEST_DATA");
  cr_assert(dir != NULL, "Q8_TEST_DATA is not set");
  snprintf(out, cap, "%s/onnx/%s", dir, name);
}

static q8_model *load(const char *name) {
  char path[1024];
  fixture_path(name, path, sizeof path);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &m));
  cr_assert(m != NULL);
  return m;
}

static unsigned char *read_fixture(const char *name, size_t *size) {
  char path[1024];
  fixture_path(name, path, sizeof path);
  FILE *f = fopen(path, "rb");
  cr_assert(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n);
  cr_assert(buf != NULL);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return buf;
}

/* Loading `name` fails with `want`, and the message contains each of the NULL-terminated needles. */
static void expect_load_error(const char *name, q8_status want, const char *needle1, const char *needle2) {
  char path[1024];
  fixture_path(name, path, sizeof path);
  q8_model *m = (q8_model *)0x1;
  Q8_EXPECT_STATUS(q8_model_load_onnx(path, &m), want);
  cr_assert_eq(m, (q8_model *)0x1, "out was written on failure");
  if (needle1) cr_assert(strstr(q8_last_error(), needle1), "'%s' not in: %s", needle1, q8_last_error());
  if (needle2) cr_assert(strstr(q8_last_error(), needle2), "'%s' not in: %s", needle2, q8_last_error());
}

static size_t node_count(const q8_model *m) {
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_model_node_count(m, &n));
  return n;
}

/* Input formula shared with the fixtures' test inputs. */
static float x_value(size_t i) { return (float)(((double)((i * 13) % 23) - 11.0) / 10.0); }
/* Weight formula of scripts/make_onnx_fixtures.py (w_value). */
static float w_value(size_t i, int salt) {
  return (float)(((double)((i * 37 + (size_t)salt * 11) % 17) - 8.0) / 16.0);
}
static float bn_gamma(int o) { return (float)(0.5 + 0.25 * o); }
static float bn_beta(int o) { return (float)(0.1 - 0.05 * o); }
static float bn_mean(int o) { return (float)(0.2 * o - 0.1); }
static float bn_var(int o) { return (float)(0.5 + 0.5 * o); }
static double bn(double v, int o, double eps) {
  return bn_gamma(o) * (v - bn_mean(o)) / sqrt(bn_var(o) + eps) + bn_beta(o);
}

/* A session run on one f32 input filled from x_value. */
typedef struct {
  q8_session *s;
  q8_tensor *x;
  const float *xd;
} run_t;

static run_t run_model(const q8_model *m, const int64_t *shape, size_t rank) {
  run_t r;
  r.x = make_tensor(Q8_DTYPE_F32, shape, rank);
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_tensor_numel(r.x, &n));
  float *xd = tensor_data(r.x);
  for (size_t i = 0; i < n; ++i) xd[i] = x_value(i);
  r.xd = xd;
  Q8_OK_OR_FAIL(q8_session_create(m, shape[0], &r.s));
  const q8_tensor *in[1] = {r.x};
  Q8_OK_OR_FAIL(q8_session_run(r.s, in, 1));
  return r;
}

/* Output `index` as floats; checks its shape. */
static const float *output(const run_t *r, size_t index, const int64_t *shape, size_t rank) {
  const q8_tensor *y = NULL;
  Q8_OK_OR_FAIL(q8_session_output(r->s, index, &y));
  q8_dtype dt;
  Q8_OK_OR_FAIL(q8_tensor_dtype(y, &dt));
  cr_assert_eq(dt, Q8_DTYPE_F32);
  size_t yr = 0;
  int64_t ys[Q8_MAX_RANK];
  Q8_OK_OR_FAIL(q8_tensor_rank(y, &yr));
  cr_assert_eq(yr, rank);
  Q8_OK_OR_FAIL(q8_tensor_shape(y, ys, Q8_MAX_RANK));
  for (size_t i = 0; i < rank; ++i) cr_assert_eq(ys[i], shape[i], "output dim %zu", i);
  return tensor_data(y);
}

static void run_free(run_t *r) {
  q8_session_destroy(r->s);
  q8_tensor_destroy(r->x);
}

static void expect_close(const float *got, const double *want, size_t n, double tol, const char *what) {
  for (size_t i = 0; i < n; ++i)
    cr_assert(fabs(got[i] - want[i]) <= tol * (1.0 + fabs(want[i])), "%s[%zu]: got %.7g, want %.7g", what, i,
              got[i], want[i]);
}

/* 2-D convolution, NCHW/OIHW, stride 1, symmetric padding `pad`, in double. */
static void conv_ref(const double *x, const double *w, const double *b, int n, int c, int h, int wd, int m,
                     int k, int pad, double *out) {
  for (int b0 = 0; b0 < n; ++b0)
    for (int o = 0; o < m; ++o)
      for (int y = 0; y < h; ++y)
        for (int xx = 0; xx < wd; ++xx) {
          double acc = b ? b[o] : 0.0;
          for (int ci = 0; ci < c; ++ci)
            for (int ky = 0; ky < k; ++ky)
              for (int kx = 0; kx < k; ++kx) {
                int iy = y + ky - pad, ix = xx + kx - pad;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += x[((b0 * c + ci) * h + iy) * wd + ix] * w[((o * c + ci) * k + ky) * k + kx];
              }
          out[((b0 * m + o) * h + y) * wd + xx] = acc;
        }
}

/* ---- FP32 models ------------------------------------------------------------------------------ */

Test(onnx_fp32, gemm_relu_loads_and_runs) {
  q8_model *m = load("gemm_relu.onnx");
  cr_assert_eq(node_count(m), 2);
  size_t count = 0;
  Q8_OK_OR_FAIL(q8_model_input_count(m, &count));
  cr_assert_eq(count, 1);
  q8_dtype dt;
  int64_t shape[4];
  size_t rank = 0;
  Q8_OK_OR_FAIL(q8_model_input_info(m, 0, &dt, shape, 4, &rank));
  cr_assert_eq(dt, Q8_DTYPE_F32);
  cr_assert_eq(rank, 2);
  cr_assert_eq(shape[0], -1, "the dim_param batch reads as -1");
  cr_assert_eq(shape[1], 4);
  const char *name = NULL;
  Q8_OK_OR_FAIL(q8_model_output_name(m, 0, &name));
  cr_assert_str_eq(name, "y");

  const int64_t xs[2] = {3, 4}, ys[2] = {3, 3};
  run_t r = run_model(m, xs, 2);
  const float *y = output(&r, 0, ys, 2);
  double want[9];
  for (int n = 0; n < 3; ++n)
    for (int o = 0; o < 3; ++o) {
      double acc = w_value((size_t)o, 2);
      for (int k = 0; k < 4; ++k) acc += (double)r.xd[n * 4 + k] * w_value((size_t)(o * 4 + k), 1);
      want[n * 3 + o] = acc > 0 ? acc : 0;
    }
  expect_close(y, want, 9, 1e-6, "y");
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_fp32, bytes_and_file_agree) {
  size_t size = 0;
  unsigned char *bytes = read_fixture("gemm_relu.onnx", &size);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx_bytes(bytes, size, &m));
  free(bytes);  /* the model must not borrow the buffer */
  cr_assert_eq(node_count(m), 2);
  cr_assert(model_describe_has(m, "Gemm"));
  const int64_t xs[2] = {1, 4}, ys[2] = {1, 3};
  run_t r = run_model(m, xs, 2);
  (void)output(&r, 0, ys, 2);
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_fp32, reshape_shape_initializer_and_constant_node) {
  q8_model *m = load("reshape.onnx");
  cr_assert_eq(node_count(m), 2);
  const int64_t xs[3] = {2, 2, 3}, ys[3] = {2, 3, 2};
  run_t r = run_model(m, xs, 3);
  const float *y = output(&r, 0, ys, 3);
  for (int i = 0; i < 12; ++i) cr_assert_eq(y[i], r.xd[i], "element %d", i);
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_fp32, clip_min_max_inputs) {
  q8_model *m = load("clip.onnx");
  cr_assert_eq(node_count(m), 2);
  /* The min/max inputs became attributes: no constants remain. */
  size_t bytes = 1;
  Q8_OK_OR_FAIL(q8_model_weight_bytes(m, &bytes));
  cr_assert_eq(bytes, 0);
  const int64_t xs[2] = {4, 5};
  run_t r = run_model(m, xs, 2);
  const float *y = output(&r, 0, xs, 2);
  for (int i = 0; i < 20; ++i) {
    float v = r.xd[i] < -0.5f ? -0.5f : r.xd[i] > 1.0f ? 1.0f : r.xd[i];
    if (v > 0.75f) v = 0.75f;
    cr_assert_eq(y[i], v, "element %d: %g", i, (double)r.xd[i]);
  }
  run_free(&r);
  q8_model_destroy(m);
}

/* ---- passes ------------------------------------------------------------------------------------ */

Test(onnx_passes, identity_and_dropout_removed) {
  q8_model *m = load("identity_dropout.onnx");
  cr_assert_eq(node_count(m), 1, "Identity, Dropout, Identity are gone");
  cr_assert(!model_describe_has(m, "Identity") && !model_describe_has(m, "Dropout"));
  cr_assert(model_describe_has(m, "Gemm_1: Gemm"), "unnamed nodes are named <op>_<index>");
  const char *name = NULL;
  Q8_OK_OR_FAIL(q8_model_output_name(m, 0, &name));
  cr_assert_str_eq(name, "y", "the graph output keeps its name");
  Q8_OK_OR_FAIL(q8_model_input_name(m, 0, &name));
  cr_assert_str_eq(name, "x");
  const int64_t xs[2] = {2, 4}, ys[2] = {2, 3};
  run_t r = run_model(m, xs, 2);
  const float *y = output(&r, 0, ys, 2);
  double want[6];
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 3; ++o) {
      double acc = w_value((size_t)o, 2);
      for (int k = 0; k < 4; ++k) acc += (double)r.xd[n * 4 + k] * w_value((size_t)(o * 4 + k), 1);
      want[n * 3 + o] = acc;
    }
  expect_close(y, want, 6, 1e-6, "y");
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_passes, identity_from_input_to_output_stays) {
  q8_model *m = load("identity_passthrough.onnx");
  cr_assert_eq(node_count(m), 1);
  const int64_t xs[2] = {2, 3};
  run_t r = run_model(m, xs, 2);
  const float *y = output(&r, 0, xs, 2);
  for (int i = 0; i < 6; ++i) cr_assert_eq(y[i], r.xd[i]);
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_passes, batchnorm_folds_into_conv) {
  q8_model *m = load("conv_bn.onnx");
  cr_assert_eq(node_count(m), 2, "Conv, BN, Relu -> Conv, Relu");
  cr_assert(!model_describe_has(m, "BatchNormalization"));
  const int64_t xs[4] = {2, 2, 5, 5}, ys[4] = {2, 3, 5, 5};
  run_t r = run_model(m, xs, 4);
  const float *y = output(&r, 0, ys, 4);
  double x[100], w[54], b[3], c[150], want[150];
  for (int i = 0; i < 100; ++i) x[i] = r.xd[i];
  for (int i = 0; i < 54; ++i) w[i] = w_value((size_t)i, 3);
  for (int i = 0; i < 3; ++i) b[i] = w_value((size_t)i, 4);
  conv_ref(x, w, b, 2, 2, 5, 5, 3, 3, 1, c);
  for (int i = 0; i < 150; ++i) {
    double v = bn(c[i], (i / 25) % 3, 1e-3);
    want[i] = v > 0 ? v : 0;
  }
  expect_close(y, want, 150, 1e-5, "y");
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_passes, batchnorm_folds_into_gemm_both_layouts) {
  q8_model *m = load("gemm_bn.onnx");
  cr_assert_eq(node_count(m), 2, "Gemm, BN, Gemm, BN -> Gemm, Gemm");
  cr_assert(!model_describe_has(m, "BatchNormalization"));
  const int64_t xs[2] = {3, 4}, ys[2] = {3, 3};
  run_t r = run_model(m, xs, 2);
  const float *y = output(&r, 0, ys, 2);
  double want[9];
  for (int n = 0; n < 3; ++n) {
    double n1[3];
    for (int j = 0; j < 3; ++j) { /* alpha 0.5, beta 2, W1 [4,3] (transB 0) */
      double acc = 0;
      for (int k = 0; k < 4; ++k) acc += (double)r.xd[n * 4 + k] * w_value((size_t)(k * 3 + j), 5);
      n1[j] = bn(0.5 * acc + 2.0 * w_value((size_t)j, 6), j, 1e-5);
    }
    for (int o = 0; o < 3; ++o) { /* W2 [3,3] transB 1 */
      double acc = 0;
      for (int j = 0; j < 3; ++j) acc += n1[j] * w_value((size_t)(o * 3 + j), 7);
      want[n * 3 + o] = bn(acc, o, 1e-2);
    }
  }
  expect_close(y, want, 9, 1e-5, "y");
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_passes, batchnorm_with_shared_input_is_kept) {
  q8_model *m = load("conv_bn_shared.onnx");
  cr_assert_eq(node_count(m), 3);
  cr_assert(model_describe_has(m, "BatchNormalization"));
  const int64_t xs[4] = {1, 2, 3, 3}, ys[4] = {1, 3, 3, 3};
  run_t r = run_model(m, xs, 4);
  const float *y = output(&r, 0, ys, 4);
  double x[18], w[6], c[27], want[27];
  for (int i = 0; i < 18; ++i) x[i] = r.xd[i];
  for (int i = 0; i < 6; ++i) w[i] = w_value((size_t)i, 8);
  conv_ref(x, w, NULL, 1, 2, 3, 3, 3, 1, 0, c);
  for (int i = 0; i < 27; ++i) want[i] = bn(c[i], i / 9, 1e-5) + c[i];
  expect_close(y, want, 27, 1e-5, "y");
  run_free(&r);
  q8_model_destroy(m);
}

/* ---- QDQ fusion -------------------------------------------------------------------------------- */

static double sat(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The QDQ conv fixture computed the way its Q/DQ nodes specify (f32 between them), in double. */
static void qdq_conv_ref(const float *xin, int batch, double *want) {
  const float xs = 0.02f, ys = 0.05f;
  const float ws[3] = {0.01f, 0.02f, 0.015f};
  const int32_t bq[3] = {100, -200, 50};
  double x[2 * 50], w[54], b[3];
  for (int i = 0; i < batch * 50; ++i)
    x[i] = (sat(nearbyintf(xin[i] / xs) + 128, 0, 255) - 128) * (double)xs;
  for (int i = 0; i < 54; ++i) w[i] = (double)(((i * 29) % 41) - 20) * ws[i / 18];
  for (int o = 0; o < 3; ++o) b[o] = (double)bq[o] * (double)(xs * ws[o]);
  double c[2 * 75];
  conv_ref(x, w, b, batch, 2, 5, 5, 3, 3, 1, c);
  for (int i = 0; i < batch * 75; ++i) want[i] = (sat(nearbyint(c[i] / ys) + 100, 0, 255) - 100) * ys;
}

Test(onnx_qdq, conv_fuses_to_qlinearconv) {
  q8_model *m = load("qdq_conv.onnx");
  cr_assert(model_describe_has(m, "QLinearConv"));
  cr_assert(!model_describe_has(m, ": Conv "));
  cr_assert_eq(node_count(m), 3, "Q, QLinearConv, DQ");
  const int64_t xs[4] = {2, 2, 5, 5}, ys[4] = {2, 3, 5, 5};
  run_t r = run_model(m, xs, 4);
  const float *y = output(&r, 0, ys, 4);
  double want[150];
  qdq_conv_ref(r.xd, 2, want);
  /* Integer accumulation may round a value that sits on a rounding edge the other way: one step. */
  for (int i = 0; i < 150; ++i)
    cr_assert(fabs(y[i] - want[i]) <= 0.05 * 1.001, "y[%d]: got %g, want %g", i, (double)y[i], want[i]);
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_qdq, shared_dequantize_is_not_fused) {
  q8_model *m = load("qdq_conv_shared.onnx");
  cr_assert(!model_describe_has(m, "QLinearConv"));
  cr_assert_eq(node_count(m), 8);
  const int64_t xs[4] = {1, 2, 5, 5}, ys[4] = {1, 3, 5, 5};
  run_t r = run_model(m, xs, 4);
  const float *y = output(&r, 0, ys, 4);
  double want[75];
  qdq_conv_ref(r.xd, 1, want);
  for (int i = 0; i < 75; ++i)
    cr_assert(fabs(y[i] - want[i]) <= 0.05 * 1.001, "y[%d]: got %g, want %g", i, (double)y[i], want[i]);
  run_free(&r);
  q8_model_destroy(m);
}

/* MatMul and Gemm fixtures: x [N,4] (scale 0.03, zp 120) times int8 W [4,3] (scale 0.02), y scale
 * 0.04 zp 128; the Gemm adds an f32 bias the pass quantizes to int32. */
static void qdq_mm_check(const char *file, const char *fused, int with_bias) {
  q8_model *m = load(file);
  cr_assert(model_describe_has(m, fused), "%s did not fuse to %s", file, fused);
  cr_assert_eq(node_count(m), 3);
  const int64_t xs[2] = {3, 4}, ys[2] = {3, 3};
  run_t r = run_model(m, xs, 2);
  const float *y = output(&r, 0, ys, 2);
  const double gb[3] = {0.1f, -0.2f, 0.3f};
  for (int n = 0; n < 3; ++n)
    for (int j = 0; j < 3; ++j) {
      double acc = with_bias ? gb[j] : 0;
      for (int k = 0; k < 4; ++k) {
        double xq = (sat(nearbyintf(r.xd[n * 4 + k] / 0.03f) + 120, 0, 255) - 120) * (double)0.03f;
        acc += xq * (double)(((k * 3 + j) * 23) % 31 - 15) * (double)0.02f;
      }
      double want = (sat(nearbyint(acc / 0.04f) + 128, 0, 255) - 128) * (double)0.04f;
      cr_assert(fabs(y[n * 3 + j] - want) <= 0.04 * 1.001, "%s y[%d,%d]: got %g, want %g", file, n, j,
                (double)y[n * 3 + j], want);
    }
  run_free(&r);
  q8_model_destroy(m);
}

Test(onnx_qdq, matmul_fuses_to_qlinearmatmul) { qdq_mm_check("qdq_matmul.onnx", "QLinearMatMul", 0); }
Test(onnx_qdq, gemm_fuses_to_qgemm) { qdq_mm_check("qdq_gemm.onnx", "com.microsoft.QGemm", 1); }

/* ---- rejected models --------------------------------------------------------------------------- */

Test(onnx_reject, unsupported_operator_names_node_and_op) {
  expect_load_error("unsupported_op.onnx", Q8_ERR_UNSUPPORTED, "'my_erf'", "'Erf'");
}

Test(onnx_reject, opset_10) { expect_load_error("opset10.onnx", Q8_ERR_UNSUPPORTED, "opset 10", NULL); }

Test(onnx_reject, int64_constant_on_a_data_input) {
  expect_load_error("int64_input.onnx", Q8_ERR_UNSUPPORTED, "'add_i64'", "INT64");
}

Test(onnx_reject, initializer_size_mismatch) {
  expect_load_error("bad_initializer.onnx", Q8_ERR_FORMAT, "'W'", "40 bytes");
}

Test(onnx_reject, external_data) {
  /* External data is read (tests/test_onnx_external.c); this fixture's file does not exist. */
  expect_load_error("external_data.onnx", Q8_ERR_IO, "initializer 'W'", "weights.bin");
}

Test(onnx_reject, nodes_out_of_order) {
  expect_load_error("unsorted.onnx", Q8_ERR_FORMAT, "topologically", NULL);
}

Test(onnx_reject, missing_file) {
  expect_load_error("no_such_model.onnx", Q8_ERR_IO, "no_such_model.onnx", NULL);
}

Test(onnx_reject, every_truncation) {
  size_t size = 0;
  unsigned char *bytes = read_fixture("conv_bn.onnx", &size);
  for (size_t n = 0; n < size; ++n) {
    q8_model *m = NULL;
    q8_status st = q8_model_load_onnx_bytes(bytes, n, &m);
    cr_assert_eq(st, Q8_ERR_FORMAT, "prefix of %zu bytes: %s (%s)", n, q8_status_string(st), q8_last_error());
    cr_assert_null(m);
  }
  free(bytes);
}

Test(onnx_reject, garbage_and_empty) {
  static const char text[] = "this is not an ONNX model";
  q8_model *m = NULL;
  Q8_EXPECT_STATUS(q8_model_load_onnx_bytes(text, sizeof text - 1, &m), Q8_ERR_FORMAT);
  unsigned char noise[256];
  test_rng rng;
  rng_seed(&rng, 5);
  for (int i = 0; i < 256; ++i) noise[i] = (unsigned char)rng_next(&rng);
  Q8_EXPECT_STATUS(q8_model_load_onnx_bytes(noise, sizeof noise, &m), Q8_ERR_FORMAT);
  Q8_EXPECT_STATUS(q8_model_load_onnx_bytes(text, 0, &m), Q8_ERR_FORMAT);
  Q8_EXPECT_STATUS(q8_model_load_onnx_bytes(NULL, 0, &m), Q8_ERR_FORMAT);
  cr_assert_null(m);
}

Test(onnx_reject, null_arguments) {
  q8_model *m = NULL;
  Q8_EXPECT_STATUS(q8_model_load_onnx_bytes(NULL, 10, &m), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_load_onnx_bytes("x", 1, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_load_onnx(NULL, &m), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_load_onnx("x.onnx", NULL), Q8_ERR_INVALID_ARGUMENT);
  cr_assert_null(m);
}
