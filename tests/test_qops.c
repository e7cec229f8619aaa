/* q8_qadd/qmul/qscale/qrelu/qsigmoid/qtanh/qmatmul/qconv2d against plain C references written
 * from qops.h's definitions, bit for bit: edge sizes 0, 1, 7, 63, 65, broadcasting, u8/s8 mixes,
 * per-column / per-channel weights, bias, u8/s8/f32 outputs, every ISA path; and bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- the definitions --------------------------------------------------------------------- */

static int32_t ref_quantize(float x, float scale, int32_t zp, q8_dtype dt) {
  const double lo = dt == Q8_DTYPE_U8 ? 0 : -128, hi = lo + 255;
  if (isnan(x)) return zp;
  double r = nearbyintf(x / scale) + (double)zp; /* x / scale: one f32 division; ties to even */
  if (r < lo) r = lo;
  if (r > hi) r = hi;
  return (int32_t)r;
}
static float ref_dequantize(int32_t q, float scale, int32_t zp) { return (float)(q - zp) * scale; }

static int32_t get_q(const q8_tensor *t, q8_dtype dt, size_t i) {
  const void *p = tensor_data(t);
  return dt == Q8_DTYPE_U8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

static void fill_random(q8_tensor *t, q8_dtype dt, size_t n, test_rng *r) {
  uint8_t *p = tensor_data(t);
  for (size_t i = 0; i < n; ++i) p[i] = (uint8_t)(rng_next(r) >> 56);
  (void)dt;
}

static q8_tensor *qtensor(q8_dtype dt, const int64_t *shape, size_t rank, float scale, int32_t zp) {
  q8_tensor *t = make_tensor(dt, shape, rank);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(t, scale, zp));
  return t;
}

static size_t numel_of(const int64_t *shape, size_t rank) {
  size_t n = 1;
  for (size_t i = 0; i < rank; ++i) n *= (size_t)shape[i];
  return n;
}

/* ---- element-wise ------------------------------------------------------------------------ */

/* op 0: add, 1: mul. a and b are given in y's rank (leading 1s where they have fewer dims). */
static void check_binary(int op, q8_dtype da, q8_dtype db, q8_dtype dy, const int64_t *sa, size_t ra,
                         const int64_t *sb, size_t rb, const int64_t *sy, size_t ry, uint64_t seed) {
  test_rng r;
  rng_seed(&r, seed);
  const float fa = 0.05f, fb = 0.031f, fy = op ? 0.07f : 0.09f;
  const int32_t za = da == Q8_DTYPE_U8 ? 120 : -3, zb = db == Q8_DTYPE_U8 ? 131 : 5, zy = dy == Q8_DTYPE_U8 ? 128 : 1;
  q8_tensor *a = qtensor(da, sa, ra, fa, za), *b = qtensor(db, sb, rb, fb, zb), *y = qtensor(dy, sy, ry, fy, zy);
  fill_random(a, da, numel_of(sa, ra), &r);
  fill_random(b, db, numel_of(sb, rb), &r);
  Q8_OK_OR_FAIL(op ? q8_qmul(a, b, y) : q8_qadd(a, b, y));
  const size_t n = numel_of(sy, ry);
  for (size_t i = 0; i < n; ++i) {
    /* multi-index of i in y, then the broadcast offsets in a and b */
    size_t rem = i, ia = 0, ib = 0, st_a = 1, st_b = 1;
    for (size_t d = ry; d-- > 0;) {
      const size_t idx = rem % (size_t)sy[d];
      rem /= (size_t)sy[d];
      const size_t pa = d + ra >= ry ? d + ra - ry : (size_t)-1, pb = d + rb >= ry ? d + rb - ry : (size_t)-1;
      if (pa != (size_t)-1) {
        if (sa[pa] != 1) ia += idx * st_a;
        st_a *= (size_t)sa[pa];
      }
      if (pb != (size_t)-1) {
        if (sb[pb] != 1) ib += idx * st_b;
        st_b *= (size_t)sb[pb];
      }
    }
    const float xa = ref_dequantize(get_q(a, da, ia), fa, za), xb = ref_dequantize(get_q(b, db, ib), fb, zb);
    const int32_t want = ref_quantize(op ? xa * xb : xa + xb, fy, zy, dy);
    cr_assert_eq(get_q(y, dy, i), want, "op %d element %zu: %d, want %d", op, i, get_q(y, dy, i), want);
  }
  q8_tensor_destroy(a);
  q8_tensor_destroy(b);
  q8_tensor_destroy(y);
}

Test(qops, add_mul_same_shape_edge_sizes) {
  const int64_t sizes[] = {0, 1, 7, 63, 65, 1000};
  const q8_dtype dts[] = {Q8_DTYPE_U8, Q8_DTYPE_S8};
  for (int op = 0; op < 2; ++op)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s)
      for (int ia = 0; ia < 2; ++ia)
        for (int ib = 0; ib < 2; ++ib)
          for (int iy = 0; iy < 2; ++iy) {
            const int64_t shape[2] = {3, sizes[s]};
            check_binary(op, dts[ia], dts[ib], dts[iy], shape, 2, shape, 2, shape, 2, 17 + (uint64_t)s);
          }
}

Test(qops, add_mul_broadcast) {
  const int64_t a1[] = {3, 1, 5}, b1[] = {4, 1}, y1[] = {3, 4, 5};
  const int64_t a2[] = {7}, b2[] = {65, 2, 7}, y2[] = {65, 2, 7};
  const int64_t a3[] = {1}, y3[] = {63};
  const int64_t a4[] = {2, 1, 1, 3}, b4[] = {1, 5, 1}, y4[] = {2, 1, 5, 3};
  for (int op = 0; op < 2; ++op) {
    check_binary(op, Q8_DTYPE_U8, Q8_DTYPE_S8, Q8_DTYPE_U8, a1, 3, b1, 2, y1, 3, 1);
    check_binary(op, Q8_DTYPE_S8, Q8_DTYPE_S8, Q8_DTYPE_S8, a2, 1, b2, 3, y2, 3, 2);
    check_binary(op, Q8_DTYPE_U8, Q8_DTYPE_U8, Q8_DTYPE_S8, y3, 1, a3, 1, y3, 1, 3);
    check_binary(op, Q8_DTYPE_U8, Q8_DTYPE_U8, Q8_DTYPE_U8, a4, 4, b4, 3, y4, 4, 4);
    check_binary(op, Q8_DTYPE_U8, Q8_DTYPE_U8, Q8_DTYPE_U8, NULL, 0, y3, 1, y3, 1, 5); /* rank-0 a */
  }
}

/* f: 0 relu, 1 sigmoid, 2 tanh, 3 scale by c */
static float ref_unary(int f, float x, float c) {
  switch (f) {
    case 0: return x > 0.0f ? x : 0.0f;
    case 1: return (float)(1.0 / (1.0 + exp(-(double)x)));
    case 2: return (float)tanh((double)x);
    default: return x * c;
  }
}

static void check_unary(int f, float c, q8_dtype dx, q8_dtype dy, float sx, int32_t zx, float sy, int32_t zy) {
  const int64_t shape[1] = {256 + 65};
  q8_tensor *x = qtensor(dx, shape, 1, sx, zx), *y = qtensor(dy, shape, 1, sy, zy);
  uint8_t *p = tensor_data(x);
  for (int i = 0; i < shape[0]; ++i) p[i] = (uint8_t)(i * 7); /* every byte, then some again */
  q8_status st;
  switch (f) {
    case 0: st = q8_qrelu(x, y); break;
    case 1: st = q8_qsigmoid(x, y); break;
    case 2: st = q8_qtanh(x, y); break;
    default: st = q8_qscale(x, c, y); break;
  }
  Q8_OK_OR_FAIL(st);
  for (int i = 0; i < shape[0]; ++i) {
    const int32_t want = ref_quantize(ref_unary(f, ref_dequantize(get_q(x, dx, (size_t)i), sx, zx), c), sy, zy, dy);
    cr_assert_eq(get_q(y, dy, (size_t)i), want, "f %d byte %d: %d, want %d", f, i, get_q(y, dy, (size_t)i), want);
  }
  q8_tensor_destroy(x);
  q8_tensor_destroy(y);
}

Test(qops, unary_tables_every_byte) {
  const q8_dtype dts[] = {Q8_DTYPE_U8, Q8_DTYPE_S8};
  for (int f = 0; f < 4; ++f)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        const int32_t zx = dts[i] == Q8_DTYPE_U8 ? 100 : -20, zy = dts[j] == Q8_DTYPE_U8 ? (f == 1 ? 0 : 128) : 0;
        check_unary(f, -1.75f, dts[i], dts[j], 0.043f, zx, f == 1 ? 1.0f / 256 : (f == 2 ? 1.0f / 128 : 0.05f), zy);
      }
  check_unary(3, 0.0f, Q8_DTYPE_U8, Q8_DTYPE_U8, 0.1f, 3, 0.2f, 9);  /* c = 0: all zero point */
  check_unary(3, 1e30f, Q8_DTYPE_S8, Q8_DTYPE_S8, 0.1f, 0, 0.2f, 0); /* saturation */
}

Test(qops, unary_empty) {
  const int64_t shape[2] = {0, 4};
  q8_tensor *x = qtensor(Q8_DTYPE_U8, shape, 2, 1.0f, 0), *y = qtensor(Q8_DTYPE_S8, shape, 2, 1.0f, 0);
  Q8_OK_OR_FAIL(q8_qsigmoid(x, y));
  q8_tensor_destroy(x);
  q8_tensor_destroy(y);
}

/* ---- matmul and conv: the accumulator then the epilogue -------------------------------------- */

static void ref_epilogue(int64_t acc, int32_t bias, float sa, float sw, const q8_tensor *y, q8_dtype dy,
                         float sy, int32_t zy, size_t at) {
  const int32_t t = (int32_t)(uint32_t)((uint64_t)acc + (uint32_t)bias);
  void *p = tensor_data(y);
  const float prod = sa * sw;
  if (dy == Q8_DTYPE_F32) {
    cr_assert_eq(((float *)p)[at], (float)t * prod, "element %zu: %a, want %a", at, ((float *)p)[at], (float)t * prod);
    return;
  }
  const float m = prod / sy;
  const double lo = dy == Q8_DTYPE_U8 ? 0 : -128, hi = lo + 255;
  double v = nearbyintf((float)t * m) + zy;
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  cr_assert_eq(get_q(y, dy, at), (int32_t)v, "element %zu: %d, want %d", at, get_q(y, dy, at), (int32_t)v);
}

static void check_matmul(int64_t m, int64_t k, int64_t n, q8_dtype da, q8_dtype dy, int per_col, int with_bias,
                         uint64_t seed) {
  test_rng r;
  rng_seed(&r, seed);
  const int64_t sa[2] = {m, k}, sb[2] = {k, n}, sy[2] = {m, n}, sbias[1] = {n};
  const float fa = 0.02f, fy = 0.5f;
  const int32_t za = da == Q8_DTYPE_U8 ? 131 : -7, zy = dy == Q8_DTYPE_U8 ? 127 : (dy == Q8_DTYPE_S8 ? -2 : 0);
  q8_tensor *a = qtensor(da, sa, 2, fa, za), *b = make_tensor(Q8_DTYPE_S8, sb, 2);
  q8_tensor *y = make_tensor(dy, sy, 2), *bias = with_bias ? make_tensor(Q8_DTYPE_S32, sbias, 1) : NULL;
  if (dy != Q8_DTYPE_F32) Q8_OK_OR_FAIL(q8_tensor_set_qparams(y, fy, zy));
  fill_random(a, da, (size_t)(m * k), &r);
  fill_random(b, Q8_DTYPE_S8, (size_t)(k * n), &r);
  float *fw = malloc(sizeof(float) * (size_t)(n + 1));
  int32_t *zw = malloc(sizeof(int32_t) * (size_t)(n + 1));
  for (int64_t j = 0; j < n; ++j) {
    fw[j] = 0.001f * (float)(1 + j % 13);
    zw[j] = (int32_t)(j % 5) - 2;
  }
  if (per_col && n > 0) {
    Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(b, 1, fw, zw, (size_t)n));
  } else {
    fw[0] = 0.003f;
    zw[0] = 3;
    Q8_OK_OR_FAIL(q8_tensor_set_qparams(b, fw[0], zw[0]));
  }
  if (bias) {
    int32_t *bp = tensor_data(bias);
    for (int64_t j = 0; j < n; ++j) bp[j] = (int32_t)(rng_next(&r) % 20001) - 10000;
  }
  q8_isa isas[8];
  const size_t nisa = supported_isas(isas);
  for (size_t is = 0; is < nisa; ++is) {
    Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[is]));
    Q8_OK_OR_FAIL(q8_qmatmul(a, b, bias, y));
    const int8_t *bw = tensor_data(b);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const int32_t zb = per_col ? zw[j] : zw[0];
        int64_t acc = 0;
        for (int64_t q = 0; q < k; ++q) acc += (int64_t)(get_q(a, da, (size_t)(i * k + q)) - za) * (bw[q * n + j] - zb);
        ref_epilogue(acc, bias ? ((int32_t *)tensor_data(bias))[j] : 0, fa, per_col ? fw[j] : fw[0], y, dy, fy, zy,
                     (size_t)(i * n + j));
      }
  }
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_AUTO));
  free(fw);
  free(zw);
  q8_tensor_destroy(a);
  q8_tensor_destroy(b);
  q8_tensor_destroy(y);
  q8_tensor_destroy(bias);
}

Test(qops, matmul_sizes_types_per_column) {
  const int64_t sizes[] = {1, 7, 63, 65};
  const q8_dtype outs[] = {Q8_DTYPE_U8, Q8_DTYPE_S8, Q8_DTYPE_F32};
  uint64_t seed = 1;
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 4; ++j) {
      const int64_t m = sizes[i], k = sizes[j], n = sizes[(i + j) % 4];
      for (int o = 0; o < 3; ++o) {
        check_matmul(m, k, n, Q8_DTYPE_U8, outs[o], (int)((i + o) & 1), (int)(j & 1), seed++);
        check_matmul(m, k, n, Q8_DTYPE_S8, outs[o], (int)((i + o + 1) & 1), (int)((j + 1) & 1), seed++);
      }
    }
}

Test(qops, matmul_empty) {
  check_matmul(0, 7, 5, Q8_DTYPE_U8, Q8_DTYPE_U8, 0, 1, 9);
  check_matmul(3, 0, 5, Q8_DTYPE_S8, Q8_DTYPE_F32, 1, 1, 10); /* K = 0: the bias alone */
  check_matmul(3, 7, 0, Q8_DTYPE_U8, Q8_DTYPE_S8, 0, 0, 11);
}

typedef struct {
  int64_t n, h, w, c, o, kh, kw, stride, pad_t, pad_l, pad_b, pad_r, dil, groups;
} conv_geo;

static void check_conv(const conv_geo *g, q8_dtype dx, q8_dtype dy, int per_ch, int with_bias, uint64_t seed) {
  test_rng r;
  rng_seed(&r, seed);
  q8_conv2d_options o;
  q8_conv2d_options_init(&o);
  o.stride_h = o.stride_w = g->stride;
  o.pad_top = g->pad_t;
  o.pad_left = g->pad_l;
  o.pad_bottom = g->pad_b;
  o.pad_right = g->pad_r;
  o.dilation_h = o.dilation_w = g->dil;
  o.groups = g->groups;
  const int64_t cg = g->c / g->groups, og = g->o / g->groups;
  const int64_t oh = (g->h + g->pad_t + g->pad_b - g->dil * (g->kh - 1) - 1) / g->stride + 1;
  const int64_t ow = (g->w + g->pad_l + g->pad_r - g->dil * (g->kw - 1) - 1) / g->stride + 1;
  const int64_t sx[4] = {g->n, g->h, g->w, g->c}, sw[4] = {g->o, g->kh, g->kw, cg}, sy[4] = {g->n, oh, ow, g->o};
  const int64_t sbias[1] = {g->o};
  const float fx = 0.03f, fy = 0.25f;
  const int32_t zx = dx == Q8_DTYPE_U8 ? 140 : 9, zy = dy == Q8_DTYPE_U8 ? 100 : (dy == Q8_DTYPE_S8 ? 3 : 0);
  q8_tensor *x = qtensor(dx, sx, 4, fx, zx), *w = make_tensor(Q8_DTYPE_S8, sw, 4), *y = make_tensor(dy, sy, 4);
  q8_tensor *bias = with_bias ? make_tensor(Q8_DTYPE_S32, sbias, 1) : NULL;
  if (dy != Q8_DTYPE_F32) Q8_OK_OR_FAIL(q8_tensor_set_qparams(y, fy, zy));
  fill_random(x, dx, numel_of(sx, 4), &r);
  fill_random(w, Q8_DTYPE_S8, numel_of(sw, 4), &r);
  float fw[64];
  int32_t zw[64];
  for (int64_t j = 0; j < g->o; ++j) {
    fw[j] = 0.002f * (float)(1 + j % 7);
    zw[j] = (int32_t)(j % 3) - 1;
  }
  if (per_ch)
    Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(w, 0, fw, zw, (size_t)g->o));
  else
    Q8_OK_OR_FAIL(q8_tensor_set_qparams(w, fw[0], zw[0]));
  if (bias) {
    int32_t *bp = tensor_data(bias);
    for (int64_t j = 0; j < g->o; ++j) bp[j] = (int32_t)(rng_next(&r) % 2001) - 1000;
  }
  q8_isa isas[8];
  const size_t nisa = supported_isas(isas);
  const int8_t *wp = tensor_data(w);
  for (size_t is = 0; is < nisa; ++is) {
    Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[is]));
    Q8_OK_OR_FAIL(q8_qconv2d(&o, x, w, bias, y));
    for (int64_t n = 0; n < g->n; ++n)
      for (int64_t yy = 0; yy < oh; ++yy)
        for (int64_t xx = 0; xx < ow; ++xx)
          for (int64_t oc = 0; oc < g->o; ++oc) {
            const int64_t grp = oc / og;
            const int32_t zwo = per_ch ? zw[oc] : zw[0];
            int64_t acc = 0;
            for (int64_t ky = 0; ky < g->kh; ++ky)
              for (int64_t kx = 0; kx < g->kw; ++kx) {
                const int64_t iy = yy * g->stride - g->pad_t + ky * g->dil, ix = xx * g->stride - g->pad_l + kx * g->dil;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue; /* padding is x = zx */
                for (int64_t ci = 0; ci < cg; ++ci) {
                  const int32_t xv = get_q(x, dx, (size_t)(((n * g->h + iy) * g->w + ix) * g->c + grp * cg + ci));
                  acc += (int64_t)(xv - zx) * (wp[((oc * g->kh + ky) * g->kw + kx) * cg + ci] - zwo);
                }
              }
            ref_epilogue(acc, bias ? ((int32_t *)tensor_data(bias))[oc] : 0, fx, per_ch ? fw[oc] : fw[0], y, dy, fy, zy,
                         (size_t)(((n * oh + yy) * ow + xx) * g->o + oc));
          }
  }
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_AUTO));
  q8_tensor_destroy(x);
  q8_tensor_destroy(w);
  q8_tensor_destroy(y);
  q8_tensor_destroy(bias);
}

Test(qops, conv2d_geometries) {
  const conv_geo geos[] = {
      {2, 7, 7, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* padded 3x3 */
      {1, 9, 8, 4, 6, 3, 2, 2, 0, 1, 2, 0, 1, 2},     /* stride 2, asymmetric pads, groups */
      {1, 6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 2, 8},     /* depthwise, dilation 2 */
      {2, 5, 5, 65, 7, 1, 1, 1, 0, 0, 0, 0, 1, 1},    /* pointwise, C = 65 */
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},     /* everything 1 */
      {0, 4, 4, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* empty batch */
  };
  const q8_dtype outs[] = {Q8_DTYPE_U8, Q8_DTYPE_S8, Q8_DTYPE_F32};
  uint64_t seed = 100;
  for (size_t i = 0; i < sizeof geos / sizeof geos[0]; ++i)
    for (int o = 0; o < 3; ++o) {
      check_conv(&geos[i], Q8_DTYPE_U8, outs[o], (int)((i + o) & 1), (int)(o != 1), seed++);
      check_conv(&geos[i], Q8_DTYPE_S8, outs[o], (int)((i + o + 1) & 1), (int)(o == 1), seed++);
    }
}

/* ---- bad input --------------------------------------------------------------------------- */

Test(qops, bad_input) {
  const int64_t s4[1] = {4}, s5[1] = {5}, s22[2] = {2, 2}, s23[2] = {2, 3};
  q8_tensor *a = qtensor(Q8_DTYPE_U8, s4, 1, 0.1f, 0), *b = qtensor(Q8_DTYPE_U8, s4, 1, 0.1f, 0);
  q8_tensor *y = qtensor(Q8_DTYPE_U8, s4, 1, 0.1f, 0), *y5 = qtensor(Q8_DTYPE_U8, s5, 1, 0.1f, 0);
  q8_tensor *bare = make_tensor(Q8_DTYPE_U8, s4, 1), *f = make_tensor(Q8_DTYPE_F32, s4, 1);
  q8_tensor *s32 = make_tensor(Q8_DTYPE_S32, s4, 1);
  /* NULL */
  Q8_EXPECT_STATUS(q8_qadd(NULL, b, y), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_qmul(a, NULL, y), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_qrelu(a, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_qmatmul(NULL, b, NULL, y), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_qconv2d(NULL, a, NULL, NULL, y), Q8_ERR_INVALID_ARGUMENT);
  /* missing qparams */
  Q8_EXPECT_STATUS(q8_qadd(bare, b, y), Q8_ERR_STATE);
  Q8_EXPECT_STATUS(q8_qsigmoid(a, bare), Q8_ERR_STATE);
  /* dtype */
  Q8_EXPECT_STATUS(q8_qadd(a, f, y), Q8_ERR_DTYPE);
  Q8_EXPECT_STATUS(q8_qtanh(s32, y), Q8_ERR_DTYPE);
  Q8_EXPECT_STATUS(q8_qscale(a, 2.0f, f), Q8_ERR_DTYPE);
  /* shape */
  Q8_EXPECT_STATUS(q8_qadd(a, b, y5), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_qmul(a, y5, y), Q8_ERR_SHAPE); /* 4 and 5 do not broadcast */
  Q8_EXPECT_STATUS(q8_qrelu(a, y5), Q8_ERR_SHAPE);
  /* c not finite, in place */
  Q8_EXPECT_STATUS(q8_qscale(a, NAN, y), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_qrelu(a, a), Q8_ERR_INVALID_ARGUMENT);
  /* per-axis parameters on an element-wise operand */
  const float sc[4] = {1, 1, 1, 1};
  const int32_t zp[4] = {0, 0, 0, 0};
  q8_tensor *pa = make_tensor(Q8_DTYPE_U8, s4, 1);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(pa, 0, sc, zp, 4));
  Q8_EXPECT_STATUS(q8_qadd(pa, b, y), Q8_ERR_INVALID_ARGUMENT);
  /* matmul: b must be s8, shapes must multiply, bias s32 [N] */
  q8_tensor *ma = qtensor(Q8_DTYPE_U8, s22, 2, 0.1f, 0), *mb = qtensor(Q8_DTYPE_S8, s23, 2, 0.1f, 0);
  q8_tensor *mbu = qtensor(Q8_DTYPE_U8, s23, 2, 0.1f, 0), *my = qtensor(Q8_DTYPE_U8, s23, 2, 0.1f, 0);
  q8_tensor *my_bad = qtensor(Q8_DTYPE_U8, s22, 2, 0.1f, 0);
  Q8_OK_OR_FAIL(q8_qmatmul(ma, mb, NULL, my));
  Q8_EXPECT_STATUS(q8_qmatmul(ma, mbu, NULL, my), Q8_ERR_DTYPE);
  Q8_EXPECT_STATUS(q8_qmatmul(ma, mb, NULL, my_bad), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_qmatmul(mb, mb, NULL, my), Q8_ERR_SHAPE); /* K = 3, b has 2 rows */
  Q8_EXPECT_STATUS(q8_qmatmul(ma, mb, s32, my), Q8_ERR_SHAPE); /* 4 entries, N = 3 */
  Q8_EXPECT_STATUS(q8_qmatmul(ma, mb, f, my), Q8_ERR_DTYPE);
  q8_tensor *mb_bare = make_tensor(Q8_DTYPE_S8, s23, 2);
  Q8_EXPECT_STATUS(q8_qmatmul(ma, mb_bare, NULL, my), Q8_ERR_STATE);
  /* conv: rank, w channel count */
  const int64_t sx[4] = {1, 3, 3, 4}, sw[4] = {2, 1, 1, 3}, sy[4] = {1, 3, 3, 2};
  q8_tensor *cx = qtensor(Q8_DTYPE_U8, sx, 4, 0.1f, 0), *cw = qtensor(Q8_DTYPE_S8, sw, 4, 0.1f, 0);
  q8_tensor *cy = qtensor(Q8_DTYPE_U8, sy, 4, 0.1f, 0);
  Q8_EXPECT_STATUS(q8_qconv2d(NULL, cx, cw, NULL, cy), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_qconv2d(NULL, a, cw, NULL, cy), Q8_ERR_SHAPE);
  q8_tensor *objs[] = {a, b, y, y5, bare, f, s32, pa, ma, mb, mbu, my, my_bad, mb_bare, cx, cw, cy};
  for (size_t i = 0; i < sizeof objs / sizeof objs[0]; ++i) q8_tensor_destroy(objs[i]);
}
