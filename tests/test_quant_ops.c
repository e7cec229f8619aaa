/* The quantized operator kernels of the runtime, one ONNX model per operator (tests/data/qops/,
 * written by scripts/make_quant_op_models.py), loaded with q8_model_load_onnx and run with
 * q8_session_*, against plain C references of the ONNX / ONNX Runtime definitions
 * (docs/QUANTIZED_OPS.md), bit for bit. Weights in the models follow the script's formula
 * w[i] = ((i * 37 + 11) % 256) - 128 (+ 128 for u8), repeated here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static q8_model *g_model;

static q8_session *open_model(const char *name) {
  const char *dir = getenv("Q8_TEST_DATA");
  cr_assert(dir != NULL, "Q8_TEST_DATA is not set");
  char path[1024];
  snprintf(path, sizeof path, "%s/qops/%s.onnx", dir, name);
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &g_model));
  q8_session *s = NULL;
  Q8_OK_OR_FAIL(q8_session_create(g_model, 1, &s));
  return s;
}

static void close_model(q8_session *s) {
  q8_session_destroy(s);
  q8_model_destroy(g_model);
  g_model = NULL;
}

static const q8_tensor *run_model(q8_session *s, q8_tensor **in, size_t n, size_t out) {
  Q8_OK_OR_FAIL(q8_session_run(s, (const q8_tensor *const *)in, n));
  const q8_tensor *y = NULL;
  Q8_OK_OR_FAIL(q8_session_output(s, out, &y));
  return y;
}

static int32_t pattern(size_t i, int u8) { return (int32_t)((i * 37 + 11) % 256) - 128 + (u8 ? 128 : 0); }

static int32_t qval(const void *p, q8_dtype dt, size_t i) {
  return dt == Q8_DTYPE_U8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

static int32_t ref_quantize(float x, float scale, int32_t zp, q8_dtype dt) {
  const double lo = dt == Q8_DTYPE_U8 ? 0 : -128, hi = lo + 255;
  if (isnan(x)) return zp;
  double r = nearbyintf(x / scale) + (double)zp;
  return (int32_t)(r < lo ? lo : r > hi ? hi : r);
}
static float deq(int32_t q, float s, int32_t z) { return (float)(q - z) * s; }

/* The requantizing epilogue: clamp(round_half_even((float)acc * m) + zy). */
static int32_t ref_requant(int64_t acc, float m, int32_t zy, q8_dtype dt) {
  const int32_t t = (int32_t)(uint32_t)(uint64_t)acc;
  const double lo = dt == Q8_DTYPE_U8 ? 0 : -128, hi = lo + 255;
  double v = nearbyintf((float)t * m) + zy;
  return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

static q8_tensor *random_bytes(q8_dtype dt, const int64_t *shape, size_t rank, uint64_t seed) {
  q8_tensor *t = make_tensor(dt, shape, rank);
  size_t n;
  Q8_OK_OR_FAIL(q8_tensor_numel(t, &n));
  test_rng r;
  rng_seed(&r, seed);
  uint8_t *p = tensor_data(t);
  for (size_t i = 0; i < n; ++i) p[i] = (uint8_t)(rng_next(&r) >> 56);
  return t;
}

static q8_tensor *random_floats(const int64_t *shape, size_t rank, double sigma, uint64_t seed) {
  q8_tensor *t = make_tensor(Q8_DTYPE_F32, shape, rank);
  size_t n;
  Q8_OK_OR_FAIL(q8_tensor_numel(t, &n));
  test_rng r;
  rng_seed(&r, seed);
  float *p = tensor_data(t);
  for (size_t i = 0; i < n; ++i) p[i] = (float)(rng_normal(&r) * sigma);
  return t;
}

static void expect_qparams(const q8_tensor *y, float scale, int32_t zp) {
  size_t count = 0;
  int32_t axis = 0;
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(y, &axis, &count));
  cr_assert_eq(count, 1, "output qparams: count %zu", count);
  float s;
  int32_t z;
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(y, &s, &z, 1));
  cr_assert(s == scale && z == zp, "output qparams (%g, %d), want (%g, %d)", s, z, scale, zp);
}

/* ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear ------------------------------ */

Test(quant_ops, quantize_per_axis_s8) {
  q8_session *s = open_model("quantize_per_axis");
  const int64_t shape[3] = {2, 3, 4};
  q8_tensor *x = random_floats(shape, 3, 4.0, 1);
  float *xp = tensor_data(x);
  xp[0] = NAN;
  xp[1] = 1e9f;
  xp[5] = 0.025f; /* a tie on channel 0 (scale 0.05): 0.5 -> 0 */
  const q8_tensor *y = run_model(s, &x, 1, 0);
  const float sc[3] = {0.05f, 0.1f, 0.025f};
  const int32_t zp[3] = {-3, 0, 7};
  const int8_t *yp = tensor_data(y);
  for (size_t i = 0; i < 24; ++i) {
    const size_t c = (i / 4) % 3;
    cr_assert_eq(yp[i], ref_quantize(xp[i], sc[c], zp[c], Q8_DTYPE_S8), "element %zu", i);
  }
  int32_t axis;
  size_t count;
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(y, &axis, &count));
  cr_assert(axis == 1 && count == 3, "per-axis qparams on the output: axis %d count %zu", axis, count);
  q8_tensor_destroy(x);
  close_model(s);
}

Test(quant_ops, quantize_default_zero_point_u8) {
  q8_session *s = open_model("quantize_default_zp");
  const int64_t shape[2] = {5, 7};
  q8_tensor *x = random_floats(shape, 2, 3.0, 2);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  q8_dtype dt;
  Q8_OK_OR_FAIL(q8_tensor_dtype(y, &dt));
  cr_assert_eq(dt, Q8_DTYPE_U8);
  const float *xp = tensor_data(x);
  const uint8_t *yp = tensor_data(y);
  for (size_t i = 0; i < 35; ++i) cr_assert_eq(yp[i], ref_quantize(xp[i], 0.02f, 0, Q8_DTYPE_U8), "element %zu", i);
  expect_qparams(y, 0.02f, 0);
  q8_tensor_destroy(x);
  close_model(s);
}

Test(quant_ops, dequantize_per_axis_and_s32) {
  q8_session *s = open_model("dequantize_per_axis");
  const int64_t shape[2] = {3, 4};
  q8_tensor *x = random_bytes(Q8_DTYPE_S8, shape, 2, 3);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  const float sc[4] = {0.5f, 0.25f, 0.125f, 2.0f};
  const int32_t zp[4] = {1, -2, 0, 5};
  const int8_t *xp = tensor_data(x);
  const float *yp = tensor_data(y);
  for (size_t i = 0; i < 12; ++i) cr_assert_eq(yp[i], deq(xp[i], sc[i % 4], zp[i % 4]), "element %zu", i);
  q8_tensor_destroy(x);
  close_model(s);

  s = open_model("dequantize_s32");
  const int64_t s6[1] = {6};
  q8_tensor *xi = make_tensor(Q8_DTYPE_S32, s6, 1);
  int32_t *ip = tensor_data(xi);
  const int32_t vals[6] = {0, 1, -1, 123456789, INT32_MIN, INT32_MAX};
  memcpy(ip, vals, sizeof vals);
  y = run_model(s, &xi, 1, 0);
  yp = tensor_data(y);
  for (size_t i = 0; i < 6; ++i) cr_assert_eq(yp[i], (float)vals[i] * 0.001f, "element %zu", i);
  q8_tensor_destroy(xi);
  close_model(s);
}

Test(quant_ops, dynamic_quantize_linear) {
  q8_session *s = open_model("dynamic_quantize");
  const int64_t shape[2] = {4, 9};
  for (int pass = 0; pass < 3; ++pass) {
    q8_tensor *x = random_floats(shape, 2, 2.0, 4 + (uint64_t)pass);
    float *xp = tensor_data(x);
    if (pass == 1)
      for (size_t i = 0; i < 36; ++i) xp[i] = fabsf(xp[i]) + 0.5f; /* all positive: min widened to 0 */
    if (pass == 2)
      for (size_t i = 0; i < 36; ++i) xp[i] = 0.0f; /* all zero: scale 1 */
    Q8_OK_OR_FAIL(q8_session_run(s, (const q8_tensor *const *)&x, 1));
    const q8_tensor *y, *ys, *yz;
    Q8_OK_OR_FAIL(q8_session_output(s, 0, &y));
    Q8_OK_OR_FAIL(q8_session_output(s, 1, &ys));
    Q8_OK_OR_FAIL(q8_session_output(s, 2, &yz));
    float lo = 0, hi = 0;
    for (size_t i = 0; i < 36; ++i) {
      lo = xp[i] < lo ? xp[i] : lo;
      hi = xp[i] > hi ? xp[i] : hi;
    }
    const float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    float z = 0.0f - lo / scale;
    z = z < 0 ? 0 : z > 255 ? 255 : z;
    const int32_t zp = (int32_t)nearbyintf(z);
    cr_assert_eq(*(const float *)tensor_data(ys), scale, "scale %a, want %a", *(const float *)tensor_data(ys), scale);
    cr_assert_eq(*(const uint8_t *)tensor_data(yz), zp);
    const uint8_t *yp = tensor_data(y);
    for (size_t i = 0; i < 36; ++i) cr_assert_eq(yp[i], ref_quantize(xp[i], scale, zp, Q8_DTYPE_U8), "element %zu", i);
    q8_tensor_destroy(x);
  }
  close_model(s);
}

/* ---- convolutions ------------------------------------------------------------------------ */

typedef struct {
  int64_t n, c, h, w, m, kh, kw, groups, sh, sw, pt, pl, dh, dw, oh, ow;
} geo;

/* NCHW accumulator of output (n, o, y, x); weights OIHW as ints with zero points zw[o]. */
static int64_t conv_acc(const geo *g, const void *x, q8_dtype dx, int32_t zx, const int32_t *w, const int32_t *zw,
                        int64_t n, int64_t o, int64_t y, int64_t xx) {
  const int64_t cg = g->c / g->groups, og = g->m / g->groups, grp = o / og;
  int64_t acc = 0;
  for (int64_t ci = 0; ci < cg; ++ci)
    for (int64_t ky = 0; ky < g->kh; ++ky)
      for (int64_t kx = 0; kx < g->kw; ++kx) {
        const int64_t iy = y * g->sh - g->pt + ky * g->dh, ix = xx * g->sw - g->pl + kx * g->dw;
        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue; /* padding: x = zx */
        const int32_t xv = qval(x, dx, (size_t)(((n * g->c + grp * cg + ci) * g->h + iy) * g->w + ix));
        acc += (int64_t)(xv - zx) * (w[((o * cg + ci) * g->kh + ky) * g->kw + kx] - zw[o]);
      }
  return acc;
}

static int32_t *pattern_weights(size_t n, int u8) {
  int32_t *w = malloc(n * sizeof(int32_t));
  for (size_t i = 0; i < n; ++i) w[i] = pattern(i, u8);
  return w;
}

Test(quant_ops, qlinearconv_groups_pads_stride_per_channel) {
  q8_session *s = open_model("qlinearconv_groups");
  const geo g = {1, 4, 7, 7, 6, 3, 3, 2, 2, 2, 1, 0, 1, 1, 4, 3}; /* pads [1, 0, 2, 1] */
  const int64_t shape[4] = {1, 4, 7, 7};
  q8_tensor *x = random_bytes(Q8_DTYPE_U8, shape, 4, 5);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  int32_t *w = pattern_weights(6 * 2 * 9, 0);
  const int32_t zw[6] = {0, 0, 0, 0, 0, 0}, bias[6] = {100, -200, 0, 50, -7, 300};
  const float ws[6] = {0.01f, 0.02f, 0.015f, 0.005f, 0.03f, 0.01f};
  const uint8_t *yp = tensor_data(y);
  for (int64_t o = 0; o < 6; ++o)
    for (int64_t yy = 0; yy < 4; ++yy)
      for (int64_t xx = 0; xx < 3; ++xx) {
        const int64_t acc = conv_acc(&g, tensor_data(x), Q8_DTYPE_U8, 120, w, zw, 0, o, yy, xx) + bias[o];
        const float m = (0.05f * ws[o]) / 0.4f;
        const size_t at = (size_t)((o * 4 + yy) * 3 + xx);
        cr_assert_eq(yp[at], ref_requant(acc, m, 128, Q8_DTYPE_U8), "o %ld y %ld x %ld", (long)o, (long)yy, (long)xx);
      }
  expect_qparams(y, 0.4f, 128);
  free(w);
  q8_tensor_destroy(x);
  close_model(s);
}

Test(quant_ops, qlinearconv_depthwise_s8_same_upper_dilation) {
  q8_session *s = open_model("qlinearconv_depthwise_s8");
  /* SAME_UPPER, kernel 3 dilated 2 (span 5), stride 1: 2 pixels of padding on each side */
  const geo g = {2, 4, 6, 5, 4, 3, 3, 4, 1, 1, 2, 2, 2, 2, 6, 5};
  const int64_t shape[4] = {2, 4, 6, 5};
  q8_tensor *x = random_bytes(Q8_DTYPE_S8, shape, 4, 6);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  int32_t *w = pattern_weights(4 * 9, 0);
  const int32_t zw[4] = {3, 3, 3, 3};
  const int8_t *yp = tensor_data(y);
  const float m = (0.03f * 0.02f) / 0.5f;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t o = 0; o < 4; ++o)
      for (int64_t yy = 0; yy < 6; ++yy)
        for (int64_t xx = 0; xx < 5; ++xx) {
          const int64_t acc = conv_acc(&g, tensor_data(x), Q8_DTYPE_S8, -5, w, zw, n, o, yy, xx);
          const size_t at = (size_t)(((n * 4 + o) * 6 + yy) * 5 + xx);
          cr_assert_eq(yp[at], ref_requant(acc, m, 2, Q8_DTYPE_S8), "element %zu", at);
        }
  free(w);
  q8_tensor_destroy(x);
  close_model(s);
}

Test(quant_ops, convinteger_u8_weights) {
  q8_session *s = open_model("convinteger");
  const geo g = {1, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 5, 5};
  const int64_t shape[4] = {1, 3, 5, 5};
  q8_tensor *x = random_bytes(Q8_DTYPE_U8, shape, 4, 7);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  int32_t *w = pattern_weights(2 * 3 * 9, 1);
  const int32_t zw[2] = {0, 0};
  const int32_t *yp = tensor_data(y);
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t yy = 0; yy < 5; ++yy)
      for (int64_t xx = 0; xx < 5; ++xx)
        cr_assert_eq(yp[(o * 5 + yy) * 5 + xx], (int32_t)conv_acc(&g, tensor_data(x), Q8_DTYPE_U8, 9, w, zw, 0, o, yy, xx));
  free(w);
  q8_tensor_destroy(x);
  close_model(s);
}

Test(quant_ops, dynamicconv) {
  q8_session *s = open_model("dynamicconv");
  const geo g = {1, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 4, 4};
  const int64_t shape[4] = {1, 2, 4, 4};
  q8_tensor *x = random_floats(shape, 4, 1.5, 8);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  const float *xp = tensor_data(x);
  float lo = 0, hi = 0;
  for (size_t i = 0; i < 32; ++i) {
    lo = xp[i] < lo ? xp[i] : lo;
    hi = xp[i] > hi ? xp[i] : hi;
  }
  const float xs = (hi - lo) / 255.0f;
  float zf = 0.0f - lo / xs;
  const int32_t xz = (int32_t)nearbyintf(zf < 0 ? 0 : zf > 255 ? 255 : zf);
  uint8_t xq[32];
  for (size_t i = 0; i < 32; ++i) xq[i] = (uint8_t)ref_quantize(xp[i], xs, xz, Q8_DTYPE_U8);
  int32_t *w = pattern_weights(3 * 2 * 9, 0);
  const int32_t zw[3] = {0, 0, 0};
  const float b[3] = {0.1f, 0.2f, -0.3f};
  const float *yp = tensor_data(y);
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t yy = 0; yy < 4; ++yy)
      for (int64_t xx = 0; xx < 4; ++xx) {
        const int64_t acc = conv_acc(&g, xq, Q8_DTYPE_U8, xz, w, zw, 0, o, yy, xx);
        const float want = (float)acc * (xs * 0.02f) + b[o];
        cr_assert_eq(yp[(o * 4 + yy) * 4 + xx], want, "o %ld y %ld x %ld", (long)o, (long)yy, (long)xx);
      }
  free(w);
  q8_tensor_destroy(x);
  close_model(s);
}

/* ---- matrix products --------------------------------------------------------------------- */

Test(quant_ops, qlinearmatmul_nd_per_column) {
  q8_session *s = open_model("qlinearmatmul_nd");
  const int64_t shape[4] = {2, 3, 4, 5};
  q8_tensor *a = random_bytes(Q8_DTYPE_U8, shape, 4, 9);
  const q8_tensor *y = run_model(s, &a, 1, 0);
  const float bs[6] = {0.01f, 0.02f, 0.03f, 0.01f, 0.02f, 0.03f};
  const int32_t bz[6] = {0, 1, -1, 2, 0, 0};
  const uint8_t *ap = tensor_data(a), *yp = tensor_data(y);
  for (size_t row = 0; row < 24; ++row)
    for (size_t j = 0; j < 6; ++j) {
      int64_t acc = 0;
      for (size_t k = 0; k < 5; ++k) acc += (int64_t)(ap[row * 5 + k] - 128) * (pattern(k * 6 + j, 0) - bz[j]);
      cr_assert_eq(yp[row * 6 + j], ref_requant(acc, (0.1f * bs[j]) / 2.0f, 100, Q8_DTYPE_U8), "row %zu col %zu", row, j);
    }
  expect_qparams(y, 2.0f, 100);
  q8_tensor_destroy(a);
  close_model(s);
}

Test(quant_ops, qlinearmatmul_batched_broadcast_s8) {
  q8_session *s = open_model("qlinearmatmul_batched_s8");
  const int64_t shape[3] = {3, 4, 5};
  q8_tensor *a = random_bytes(Q8_DTYPE_S8, shape, 3, 10);
  const q8_tensor *y = run_model(s, &a, 1, 0);
  const int8_t *ap = tensor_data(a), *yp = tensor_data(y);
  for (size_t p = 0; p < 2; ++p)
    for (size_t q = 0; q < 3; ++q)
      for (size_t i = 0; i < 4; ++i)
        for (size_t j = 0; j < 6; ++j) {
          int64_t acc = 0;
          for (size_t k = 0; k < 5; ++k) acc += (int64_t)(ap[(q * 4 + i) * 5 + k] + 1) * pattern(p * 30 + k * 6 + j, 0);
          const size_t at = ((p * 3 + q) * 4 + i) * 6 + j;
          cr_assert_eq(yp[at], ref_requant(acc, (0.05f * 0.02f) / 1.5f, -3, Q8_DTYPE_S8), "element %zu", at);
        }
  q8_tensor_destroy(a);
  close_model(s);
}

Test(quant_ops, matmulinteger_u8_weights_per_column_zero_points) {
  q8_session *s = open_model("matmulinteger");
  const int64_t shape[2] = {3, 4};
  q8_tensor *a = random_bytes(Q8_DTYPE_S8, shape, 2, 11);
  const q8_tensor *y = run_model(s, &a, 1, 0);
  const int32_t bz[5] = {128, 127, 0, 255, 100};
  const int8_t *ap = tensor_data(a);
  const int32_t *yp = tensor_data(y);
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 5; ++j) {
      int64_t acc = 0;
      for (size_t k = 0; k < 4; ++k) acc += (int64_t)(ap[i * 4 + k] - 2) * (pattern(k * 5 + j, 1) - bz[j]);
      cr_assert_eq(yp[i * 5 + j], (int32_t)acc, "element %zu,%zu", i, j);
    }
  q8_tensor_destroy(a);
  close_model(s);
}

static void check_qgemm(const char *model, int quantized) {
  q8_session *s = open_model(model);
  const int64_t shape[2] = {4, 6};
  q8_tensor *a = random_bytes(Q8_DTYPE_U8, shape, 2, 12);
  const q8_tensor *y = run_model(s, &a, 1, 0);
  const float bs[5] = {0.01f, 0.02f, 0.03f, 0.04f, 0.05f};
  const int32_t c[5] = {10, -20, 30, -40, 50};
  const uint8_t *ap = tensor_data(a);
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 5; ++j) {
      int64_t acc = c[j];
      for (size_t k = 0; k < 6; ++k) acc += (int64_t)(ap[i * 6 + k] - 130) * pattern(j * 6 + k, 0); /* B is [N, K] */
      if (quantized) {
        const float m = ((0.5f * 0.1f) * bs[j]) / 0.3f;
        cr_assert_eq(((const uint8_t *)tensor_data(y))[i * 5 + j], ref_requant(acc, m, 120, Q8_DTYPE_U8));
      } else {
        const float want = (float)(int32_t)acc * ((1.0f * 0.1f) * bs[j]);
        cr_assert_eq(((const float *)tensor_data(y))[i * 5 + j], want);
      }
    }
  q8_tensor_destroy(a);
  close_model(s);
}

Test(quant_ops, qgemm_transb_alpha_bias) {
  check_qgemm("qgemm_u8", 1);
  check_qgemm("qgemm_f32", 0);
}

Test(quant_ops, dynamicgemm) {
  q8_session *s = open_model("dynamicgemm");
  const int64_t shape[2] = {3, 8};
  q8_tensor *x = random_floats(shape, 2, 2.0, 13);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  const float *xp = tensor_data(x), *yp = tensor_data(y);
  float lo = 0, hi = 0;
  for (size_t i = 0; i < 24; ++i) {
    lo = xp[i] < lo ? xp[i] : lo;
    hi = xp[i] > hi ? xp[i] : hi;
  }
  const float xs = (hi - lo) / 255.0f;
  const float zf = 0.0f - lo / xs;
  const int32_t xz = (int32_t)nearbyintf(zf < 0 ? 0 : zf > 255 ? 255 : zf);
  const float ws[4] = {0.01f, 0.02f, 0.03f, 0.04f}, b[4] = {0.5f, -0.25f, 1.0f, 0.0f};
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 4; ++j) {
      int64_t acc = 0;
      for (size_t k = 0; k < 8; ++k) acc += (int64_t)(ref_quantize(xp[i * 8 + k], xs, xz, Q8_DTYPE_U8) - xz) * pattern(j * 8 + k, 0);
      cr_assert_eq(yp[i * 4 + j], (float)acc * (xs * ws[j]) + b[j], "element %zu,%zu", i, j);
    }
  q8_tensor_destroy(x);
  close_model(s);
}

/* ---- element-wise, concat, pools --------------------------------------------------------- */

Test(quant_ops, qlinearadd_broadcast_and_mul_s8) {
  q8_session *s = open_model("qlinearadd_broadcast");
  const int64_t sa[3] = {2, 3, 4}, sb[2] = {3, 1};
  q8_tensor *in[2] = {random_bytes(Q8_DTYPE_U8, sa, 3, 14), random_bytes(Q8_DTYPE_U8, sb, 2, 15)};
  const q8_tensor *y = run_model(s, in, 2, 0);
  const uint8_t *ap = tensor_data(in[0]), *bp = tensor_data(in[1]), *yp = tensor_data(y);
  for (size_t i = 0; i < 24; ++i) {
    const float v = deq(ap[i], 0.05f, 100) + deq(bp[(i / 4) % 3], 0.08f, 140);
    cr_assert_eq(yp[i], ref_quantize(v, 0.1f, 120, Q8_DTYPE_U8), "element %zu", i);
  }
  expect_qparams(y, 0.1f, 120);
  q8_tensor_destroy(in[0]);
  q8_tensor_destroy(in[1]);
  close_model(s);

  s = open_model("qlinearmul_s8");
  const int64_t sm[2] = {5, 6};
  q8_tensor *m[2] = {random_bytes(Q8_DTYPE_S8, sm, 2, 16), random_bytes(Q8_DTYPE_S8, sm, 2, 17)};
  y = run_model(s, m, 2, 0);
  const int8_t *ma = tensor_data(m[0]), *mb = tensor_data(m[1]), *my = tensor_data(y);
  for (size_t i = 0; i < 30; ++i)
    cr_assert_eq(my[i], ref_quantize(deq(ma[i], 0.05f, -2) * deq(mb[i], 0.04f, 3), 0.02f, 1, Q8_DTYPE_S8), "element %zu", i);
  q8_tensor_destroy(m[0]);
  q8_tensor_destroy(m[1]);
  close_model(s);
}

Test(quant_ops, qlinearsigmoid_and_tanh_every_byte) {
  const int64_t shape[2] = {16, 16};
  q8_session *s = open_model("qlinearsigmoid");
  q8_tensor *x = make_tensor(Q8_DTYPE_U8, shape, 2);
  uint8_t *xp = tensor_data(x);
  for (int i = 0; i < 256; ++i) xp[i] = (uint8_t)i;
  const q8_tensor *y = run_model(s, &x, 1, 0);
  const uint8_t *yp = tensor_data(y);
  for (int i = 0; i < 256; ++i) {
    const float f = (float)(1.0 / (1.0 + exp(-(double)deq(i, 0.06f, 128))));
    cr_assert_eq(yp[i], ref_quantize(f, 1.0f / 256, 0, Q8_DTYPE_U8), "byte %d", i);
  }
  q8_tensor_destroy(x);
  close_model(s);

  s = open_model("qlineartanh");
  x = make_tensor(Q8_DTYPE_S8, shape, 2);
  int8_t *sp = tensor_data(x);
  for (int i = 0; i < 256; ++i) sp[i] = (int8_t)(i - 128);
  y = run_model(s, &x, 1, 0);
  const int8_t *ty = tensor_data(y);
  for (int i = 0; i < 256; ++i) {
    const float f = (float)tanh((double)deq(i - 128, 0.03f, 0));
    cr_assert_eq(ty[i], ref_quantize(f, 1.0f / 128, 0, Q8_DTYPE_S8), "value %d", i - 128);
  }
  q8_tensor_destroy(x);
  close_model(s);
}

Test(quant_ops, qlinearconcat_requantizes) {
  q8_session *s = open_model("qlinearconcat");
  const int64_t sa[3] = {2, 3, 4}, sb[3] = {2, 2, 4};
  q8_tensor *in[2] = {random_bytes(Q8_DTYPE_U8, sa, 3, 18), random_bytes(Q8_DTYPE_U8, sb, 3, 19)};
  const q8_tensor *y = run_model(s, in, 2, 0);
  const uint8_t *ap = tensor_data(in[0]), *bp = tensor_data(in[1]), *yp = tensor_data(y);
  for (size_t n = 0; n < 2; ++n)
    for (size_t c = 0; c < 5; ++c)
      for (size_t k = 0; k < 4; ++k) {
        const int32_t want = c < 3 ? ap[(n * 3 + c) * 4 + k]
                                   : ref_quantize(deq(bp[(n * 2 + c - 3) * 4 + k], 0.07f, 90), 0.1f, 128, Q8_DTYPE_U8);
        cr_assert_eq(yp[(n * 5 + c) * 4 + k], want, "n %zu c %zu k %zu", n, c, k);
      }
  q8_tensor_destroy(in[0]);
  q8_tensor_destroy(in[1]);
  close_model(s);
}

Test(quant_ops, qlinearglobalaveragepool) {
  q8_session *s = open_model("qlinearglobalavgpool");
  const int64_t shape[4] = {2, 3, 5, 7};
  q8_tensor *x = random_bytes(Q8_DTYPE_U8, shape, 4, 20);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  const uint8_t *xp = tensor_data(x), *yp = tensor_data(y);
  const float m = 0.05f / (0.03f * 35.0f);
  for (size_t p = 0; p < 6; ++p) {
    int64_t acc = 0;
    for (size_t i = 0; i < 35; ++i) acc += xp[p * 35 + i];
    cr_assert_eq(yp[p], ref_requant(acc - 100 * 35, m, 110, Q8_DTYPE_U8), "plane %zu", p);
  }
  q8_tensor_destroy(x);
  close_model(s);
}

Test(quant_ops, qlinearaveragepool_pads_stride) {
  q8_session *s = open_model("qlinearavgpool");
  const int64_t shape[4] = {1, 3, 7, 6};
  q8_tensor *x = random_bytes(Q8_DTYPE_S8, shape, 4, 21);
  const q8_tensor *y = run_model(s, &x, 1, 0);
  const int8_t *xp = tensor_data(x), *yp = tensor_data(y);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t oy = 0; oy < 4; ++oy)
      for (int64_t ox = 0; ox < 3; ++ox) {
        const int64_t h0 = oy * 2 - 1 < 0 ? 0 : oy * 2 - 1, h1 = oy * 2 + 2 > 7 ? 7 : oy * 2 + 2;
        const int64_t w0 = ox * 2 - 1 < 0 ? 0 : ox * 2 - 1, w1 = ox * 2 + 2 > 6 ? 6 : ox * 2 + 2;
        float sum = 0.0f;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) sum += 0.05f * (float)(xp[(c * 7 + h) * 6 + w] + 4);
        sum /= (float)((h1 - h0) * (w1 - w0));
        float q = nearbyintf(sum / 0.04f + 6.0f);
        q = q < -128 ? -128 : q > 127 ? 127 : q;
        cr_assert_eq(yp[(c * 4 + oy) * 3 + ox], (int8_t)q, "c %ld y %ld x %ld", (long)c, (long)oy, (long)ox);
      }
  q8_tensor_destroy(x);
  close_model(s);
}
