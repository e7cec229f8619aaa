/* q8_conv2d_*: every ISA path and 1-2 threads against a plain direct convolution written here from
 * conv.h's definition, bit for bit (int32, requantize by fixed point and by float, dequantize);
 * strides, asymmetric padding, dilation, groups and depthwise, kernel sizes 1/3/5, odd sizes,
 * batches, zero points; im2col/col2im; NCHW <-> NHWC; bad input. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- the epilogue, as test_gemm.c states it (reference requantization in support.c) -------- */

/* Writes element `at` of the output from the int32 t of channel o. */
static void t_epilogue(const q8_gemm_epilogue *ep, int32_t t, int64_t o, void *out, size_t at) {
  if (ep->bias) t = (int32_t)((uint32_t)t + (uint32_t)ep->bias[o]);
  const size_t ch = ep->channels != 1 ? (size_t)o : 0;
  if (ep->kind == Q8_GEMM_EPILOGUE_S32) {
    ((int32_t *)out)[at] = t;
  } else if (ep->kind == Q8_GEMM_EPILOGUE_DEQUANTIZE) {
    ((float *)out)[at] = (float)t * ep->scale[ch];
  } else {
    const int32_t lo = ep->output_dtype == Q8_DTYPE_U8 ? 0 : -128, hi = lo + 255;
    const int32_t qmin = ep->qmin > lo ? ep->qmin : lo, qmax = ep->qmax < hi ? ep->qmax : hi;
    double v;
    if (ep->kind == Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED) {
      v = (double)ref_multiply_by_quantized_multiplier(t, ep->multiplier[ch], ep->shift[ch]) + ep->zero_point;
    } else {
      const float f = (float)t * ep->scale[ch];
      v = isinf(f) ? (double)f : nearbyint((double)f) + ep->zero_point;
    }
    if (v < qmin) v = qmin;
    if (v > qmax) v = qmax;
    if (ep->output_dtype == Q8_DTYPE_U8)
      ((uint8_t *)out)[at] = (uint8_t)(int32_t)v;
    else
      ((int8_t *)out)[at] = (int8_t)(int32_t)v;
  }
}

/* ---- the direct convolution ---------------------------------------------------------------- */

typedef struct {
  q8_conv2d_options o;
  int64_t batch, in_h, in_w, in_ch, out_ch, kh, kw;
  int in_signed;
  int32_t zx;
  const int32_t *zw;
  size_t zw_count;
  const q8_gemm_epilogue *ep;
} conv_case;

static int64_t out_dim(int64_t in, int64_t k, int64_t p0, int64_t p1, int64_t s, int64_t d) {
  const int64_t span = d * (k - 1) + 1;
  return in + p0 + p1 < span ? 0 : (in + p0 + p1 - span) / s + 1;
}

static void reference(const conv_case *c, const void *x, const int8_t *w, void *out) {
  const q8_conv2d_options *o = &c->o;
  const int64_t oh = out_dim(c->in_h, c->kh, o->pad_top, o->pad_bottom, o->stride_h, o->dilation_h);
  const int64_t ow = out_dim(c->in_w, c->kw, o->pad_left, o->pad_right, o->stride_w, o->dilation_w);
  const int64_t cg = c->in_ch / o->groups, og = c->out_ch / o->groups;
  for (int64_t n = 0; n < c->batch; ++n)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xx = 0; xx < ow; ++xx)
        for (int64_t oc = 0; oc < c->out_ch; ++oc) {
          const int64_t g = oc / og;
          const int32_t zw = c->zw_count == 0 ? 0 : c->zw[c->zw_count == 1 ? 0 : oc];
          uint32_t s = 0;
          for (int64_t ky = 0; ky < c->kh; ++ky)
            for (int64_t kx = 0; kx < c->kw; ++kx)
              for (int64_t ci = 0; ci < cg; ++ci) {
                const int64_t iy = y * o->stride_h - o->pad_top + ky * o->dilation_h;
                const int64_t ix = xx * o->stride_w - o->pad_left + kx * o->dilation_w;
                int32_t xv = c->zx; /* padding reads as the zero point */
                if (iy >= 0 && iy < c->in_h && ix >= 0 && ix < c->in_w) {
                  const size_t at = (size_t)(((n * c->in_h + iy) * c->in_w + ix) * c->in_ch + g * cg + ci);
                  xv = c->in_signed ? ((const int8_t *)x)[at] : ((const uint8_t *)x)[at];
                }
                const int32_t wv = w[((oc * c->kh + ky) * c->kw + kx) * cg + ci];
                s += (uint32_t)((xv - c->zx) * (wv - zw));
              }
          t_epilogue(c->ep, (int32_t)s, oc, out, (size_t)(((n * oh + y) * ow + xx) * c->out_ch + oc));
        }
}

static q8_status run(const conv_case *c, const void *x, const int8_t *w, void *out) {
  return c->in_signed ? q8_conv2d_s8s8(&c->o, c->batch, c->in_h, c->in_w, c->in_ch, x, c->zx, c->out_ch, c->kh,
                                       c->kw, w, c->zw, c->zw_count, c->ep, out)
                      : q8_conv2d_u8s8(&c->o, c->batch, c->in_h, c->in_w, c->in_ch, x, c->zx, c->out_ch, c->kh,
                                       c->kw, w, c->zw, c->zw_count, c->ep, out);
}

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(conv, .fini = restore_runtime);

static int checked_cases = 0;

/* Random data for c, the reference, then every ISA x 1-2 threads, whole buffer compared (16
 * guard bytes past the output must keep their fill). */
static void check_case(const conv_case *c, test_rng *r, const char *what) {
  int64_t oh = 0, ow = 0;
  Q8_OK_OR_FAIL(q8_conv2d_output_shape(&c->o, c->in_h, c->in_w, c->kh, c->kw, &oh, &ow));
  const int64_t cg = c->in_ch / c->o.groups;
  const size_t nx = (size_t)(c->batch * c->in_h * c->in_w * c->in_ch);
  const size_t nw = (size_t)(c->out_ch * c->kh * c->kw * cg);
  const size_t es = q8_dtype_size(c->ep->output_dtype);
  const size_t bytes = (size_t)(c->batch * oh * ow * c->out_ch) * es + 16;
  unsigned char *x = malloc(nx + 1);
  int8_t *w = malloc(nw);
  for (size_t i = 0; i < nx; ++i) x[i] = (unsigned char)rng_next(r);
  for (size_t i = 0; i < nw; ++i) w[i] = (int8_t)rng_next(r);
  unsigned char *want = malloc(bytes), *got = malloc(bytes);
  memset(want, 0x5A, bytes);
  reference(c, x, w, want);
  q8_isa isas[8];
  const size_t n_isa = supported_isas(isas);
  for (size_t s = 0; s < n_isa; ++s)
    for (int threads = 1; threads <= 2; ++threads) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[s]));
      Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
      memset(got, 0x5A, bytes);
      Q8_OK_OR_FAIL(run(c, x, w, got));
      if (memcmp(got, want, bytes) != 0) {
        size_t at = 0;
        while (got[at] == want[at]) ++at;
        cr_assert_fail("%s: %s, %d threads: byte %zu of %zu differs (got 0x%02x, want 0x%02x): batch %lld "
                       "in %lldx%lldx%lld out_ch %lld k %lldx%lld stride %lld,%lld pad %lld,%lld,%lld,%lld "
                       "dil %lld,%lld groups %lld signed %d zx %d zw_count %zu kind %d",
                       what, q8_isa_name(isas[s]), threads, at, bytes, got[at], want[at], (long long)c->batch,
                       (long long)c->in_h, (long long)c->in_w, (long long)c->in_ch, (long long)c->out_ch,
                       (long long)c->kh, (long long)c->kw, (long long)c->o.stride_h, (long long)c->o.stride_w,
                       (long long)c->o.pad_top, (long long)c->o.pad_left, (long long)c->o.pad_bottom,
                       (long long)c->o.pad_right, (long long)c->o.dilation_h, (long long)c->o.dilation_w,
                       (long long)c->o.groups, c->in_signed, c->zx, c->zw_count, (int)c->ep->kind);
      }
    }
  ++checked_cases;
  free(x);
  free(w);
  free(want);
  free(got);
}

static int64_t pick(test_rng *r, const int64_t *v, size_t n) { return v[rng_next(r) % n]; }

/* Fills the epilogue arrays (channels entries, sized by the patch length K) for `kind`. */
typedef struct {
  q8_gemm_epilogue ep;
  int32_t bias[128], mult[128], shift[128];
  float scale[128];
} epi;

static void make_epilogue(epi *e, test_rng *r, int kind, int64_t out_ch, int64_t K, int per_channel,
                          int with_bias) {
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&e->ep));
  e->ep.kind = (q8_gemm_epilogue_kind)kind;
  cr_assert(out_ch <= 128);
  for (int64_t j = 0; j < out_ch; ++j) {
    e->bias[j] = (int32_t)(rng_next(r) % 20001) - 10000;
    /* scale ~ 1 / (40 sqrt(K) * 128): outputs spread over the type with some clamping */
    const double s = (0.5 + rng_uniform(r)) / (40.0 * sqrt((double)K) * 8.0);
    e->scale[j] = (float)s;
    int ex;
    const double fr = frexp(s, &ex); /* s = fr * 2^ex, fr in [0.5, 1) */
    e->mult[j] = (int32_t)llround(fr * 2147483648.0);
    if (e->mult[j] == INT32_MAX) e->mult[j] = INT32_MAX;
    e->shift[j] = ex;
  }
  e->ep.bias = with_bias ? e->bias : NULL;
  e->ep.channels = per_channel ? (size_t)out_ch : 1;
  switch (kind) {
    case Q8_GEMM_EPILOGUE_S32: e->ep.output_dtype = Q8_DTYPE_S32; break;
    case Q8_GEMM_EPILOGUE_DEQUANTIZE:
      e->ep.output_dtype = Q8_DTYPE_F32;
      e->ep.scale = e->scale;
      break;
    default: {
      const int u8 = (int)(rng_next(r) % 2);
      e->ep.output_dtype = u8 ? Q8_DTYPE_U8 : Q8_DTYPE_S8;
      e->ep.zero_point = u8 ? (int32_t)(rng_next(r) % 256) : (int32_t)(rng_next(r) % 256) - 128;
      if (rng_next(r) % 3 == 0) e->ep.qmin = e->ep.zero_point; /* ReLU */
      if (kind == Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED) {
        e->ep.multiplier = e->mult;
        e->ep.shift = e->shift;
      } else {
        e->ep.scale = e->scale;
      }
    }
  }
}

/* One random case over the parameter space; returns 0 when the kernel does not fit. */
static int random_case(test_rng *r, conv_case *c, epi *e, int32_t *zw, int group_kind, int kind) {
  static const int64_t ks[] = {1, 3, 5}, sizes[] = {1, 3, 5, 7, 9, 11, 13}, cgs[] = {1, 3, 4, 8, 17},
                       ogs[] = {1, 5, 16, 33};
  memset(c, 0, sizeof *c);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&c->o));
  c->o.stride_h = 1 + (int64_t)(rng_next(r) % 2);
  c->o.stride_w = 1 + (int64_t)(rng_next(r) % 2);
  c->o.pad_top = (int64_t)(rng_next(r) % 3);
  c->o.pad_left = (int64_t)(rng_next(r) % 3);
  c->o.pad_bottom = (int64_t)(rng_next(r) % 3);
  c->o.pad_right = (int64_t)(rng_next(r) % 3);
  c->o.dilation_h = 1 + (int64_t)(rng_next(r) % 2);
  c->o.dilation_w = 1 + (int64_t)(rng_next(r) % 2);
  c->kh = pick(r, ks, 3);
  c->kw = rng_next(r) % 2 ? c->kh : pick(r, ks, 3);
  c->in_h = pick(r, sizes, 7);
  c->in_w = pick(r, sizes, 7);
  c->batch = 1 + (int64_t)(rng_next(r) % 3);
  int64_t cg, og;
  if (group_kind == 2) { /* depthwise: groups == in_ch, multiplier 1 or 2 */
    c->o.groups = 1 + (int64_t)(rng_next(r) % 16);
    if (c->o.groups == 1) c->o.groups = 3;
    cg = 1;
    og = 1 + (int64_t)(rng_next(r) % 2);
  } else {
    c->o.groups = group_kind == 1 ? 2 : 1;
    cg = pick(r, cgs, 5);
    og = pick(r, ogs, 4);
    if (c->o.groups == 2 && og > 16) og = 16;
  }
  c->in_ch = cg * c->o.groups;
  c->out_ch = og * c->o.groups;
  if (out_dim(c->in_h, c->kh, c->o.pad_top, c->o.pad_bottom, c->o.stride_h, c->o.dilation_h) < 1 ||
      out_dim(c->in_w, c->kw, c->o.pad_left, c->o.pad_right, c->o.stride_w, c->o.dilation_w) < 1)
    return 0;
  c->in_signed = (int)(rng_next(r) % 2);
  static const int32_t zxs_u[] = {0, 1, 128, 255}, zxs_s[] = {0, -128, 127, -1};
  const unsigned zi = (unsigned)(rng_next(r) % 5);
  c->zx = zi < 4 ? (c->in_signed ? zxs_s[zi] : zxs_u[zi])
                 : (c->in_signed ? (int32_t)(rng_next(r) % 256) - 128 : (int32_t)(rng_next(r) % 256));
  const unsigned zk = (unsigned)(rng_next(r) % 3);
  c->zw_count = zk == 0 ? 0 : zk == 1 ? 1 : (size_t)c->out_ch;
  for (int64_t j = 0; j < c->out_ch; ++j) zw[j] = (int32_t)(rng_next(r) % 256) - 128;
  c->zw = c->zw_count ? zw : NULL;
  make_epilogue(e, r, kind, c->out_ch, c->kh * c->kw * cg, (int)(rng_next(r) % 2), (int)(rng_next(r) % 2));
  c->ep = &e->ep;
  return 1;
}

static void sweep(int group_kind, int kind, int count, uint64_t seed) {
  test_rng r;
  rng_seed(&r, seed);
  int done = 0;
  while (done < count) {
    conv_case c;
    epi e;
    int32_t zw[128];
    if (!random_case(&r, &c, &e, zw, group_kind, kind)) continue;
    check_case(&c, &r, "sweep");
    ++done;
  }
}

Test(conv, groups1_int32) { sweep(0, Q8_GEMM_EPILOGUE_S32, 60, 11); }
Test(conv, groups1_requantize_fixed) { sweep(0, Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED, 40, 12); }
Test(conv, groups1_requantize_float) { sweep(0, Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT, 40, 13); }
Test(conv, groups1_dequantize) { sweep(0, Q8_GEMM_EPILOGUE_DEQUANTIZE, 20, 14); }
Test(conv, groups2_int32) { sweep(1, Q8_GEMM_EPILOGUE_S32, 40, 21); }
Test(conv, groups2_requantize) {
  sweep(1, Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED, 25, 22);
  sweep(1, Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT, 25, 23);
}
Test(conv, depthwise_int32) { sweep(2, Q8_GEMM_EPILOGUE_S32, 60, 31); }
Test(conv, depthwise_requantize) {
  sweep(2, Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED, 30, 32);
  sweep(2, Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT, 30, 33);
  sweep(2, Q8_GEMM_EPILOGUE_DEQUANTIZE, 10, 34);
}

/* Every listed value of each parameter at least once, deterministically, on a 3x3 / 5x5 grid. */
Test(conv, structured) {
  test_rng r;
  rng_seed(&r, 41);
  static const int64_t ks[] = {1, 3, 5};
  for (int gk = 0; gk < 3; ++gk)
    for (int ki = 0; ki < 3; ++ki)
      for (int64_t s = 1; s <= 2; ++s)
        for (int64_t d = 1; d <= 2; ++d)
          for (int64_t p = 0; p <= 2; ++p) {
            conv_case c;
            epi e;
            int32_t zw[64];
            memset(&c, 0, sizeof c);
            Q8_OK_OR_FAIL(q8_conv2d_options_init(&c.o));
            c.o.stride_h = s;
            c.o.stride_w = 3 - s;
            c.o.dilation_h = d;
            c.o.dilation_w = 3 - d;
            c.o.pad_top = p;
            c.o.pad_left = 2 - p;
            c.o.pad_bottom = (p + 1) % 3;
            c.o.pad_right = p;
            c.kh = c.kw = ks[ki];
            c.in_h = 11;
            c.in_w = 9;
            c.batch = 1 + (s + d + p) % 3;
            c.o.groups = gk == 0 ? 1 : gk == 1 ? 2 : 6;
            c.in_ch = gk == 2 ? 6 : 2 * 5;
            c.out_ch = gk == 2 ? 12 : 2 * 7;
            c.in_signed = (int)((s + p) % 2);
            c.zx = c.in_signed ? -3 : 131;
            for (int j = 0; j < 64; ++j) zw[j] = (int32_t)(rng_next(&r) % 256) - 128;
            c.zw = zw;
            c.zw_count = (size_t)c.out_ch;
            make_epilogue(&e, &r, (int)((ki + s + d + p) % 2 ? Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED
                                                                : Q8_GEMM_EPILOGUE_S32),
                          c.out_ch, c.kh * c.kw * (c.in_ch / c.o.groups), 1, 1);
            c.ep = &e.ep;
            check_case(&c, &r, "structured");
          }
}

/* 1x1 stride 1 no padding (the in-place path), and a patch longer than the GEMM's K block. */
Test(conv, pointwise_and_long_patch) {
  test_rng r;
  rng_seed(&r, 51);
  for (int groups = 1; groups <= 2; ++groups) {
    conv_case c;
    epi e;
    memset(&c, 0, sizeof c);
    Q8_OK_OR_FAIL(q8_conv2d_options_init(&c.o));
    c.o.groups = groups;
    c.batch = 3;
    c.in_h = 7;
    c.in_w = 5;
    c.in_ch = 24 * groups;
    c.out_ch = 40 * groups;
    c.kh = c.kw = 1;
    c.zx = 77;
    make_epilogue(&e, &r, Q8_GEMM_EPILOGUE_S32, c.out_ch, c.in_ch, 0, 1);
    c.ep = &e.ep;
    check_case(&c, &r, "pointwise");
  }
  conv_case c;
  epi e;
  int32_t zw[48];
  memset(&c, 0, sizeof c);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&c.o));
  c.o.pad_top = c.o.pad_left = c.o.pad_bottom = c.o.pad_right = 1;
  c.batch = 2;
  c.in_h = 15;
  c.in_w = 13;
  c.in_ch = 67; /* K = 603: two K blocks, a K tail */
  c.out_ch = 48;
  c.kh = c.kw = 3;
  c.zx = 200;
  for (int j = 0; j < 48; ++j) zw[j] = (int32_t)(rng_next(&r) % 256) - 128;
  c.zw = zw;
  c.zw_count = 48;
  make_epilogue(&e, &r, Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT, c.out_ch, 9 * 67, 1, 1);
  c.ep = &e.ep;
  check_case(&c, &r, "long patch");
  cr_log_info("conv cases checked in this process: %d", checked_cases);
}

/* batch 0 writes nothing; NULL options and NULL epilogue are the defaults. */
Test(conv, defaults_and_empty) {
  uint8_t x[2 * 3 * 3 * 2];
  int8_t w[4 * 2];
  int32_t out[2 * 9 * 4], want[2 * 9 * 4];
  for (int i = 0; i < 36; ++i) x[i] = (uint8_t)(i * 7);
  for (int i = 0; i < 8; ++i) w[i] = (int8_t)(i * 13 - 50);
  Q8_OK_OR_FAIL(q8_conv2d_u8s8(NULL, 0, 3, 3, 2, NULL, 0, 4, 1, 1, w, NULL, 0, NULL, NULL));
  Q8_OK_OR_FAIL(q8_conv2d_u8s8(NULL, 2, 3, 3, 2, x, 5, 4, 1, 1, w, NULL, 0, NULL, out));
  for (int p = 0; p < 18; ++p)
    for (int o = 0; o < 4; ++o) want[p * 4 + o] = (x[p * 2] - 5) * w[o * 2] + (x[p * 2 + 1] - 5) * w[o * 2 + 1];
  cr_assert(memcmp(out, want, sizeof out) == 0);
  int64_t oh = 0, ow = 0;
  q8_conv2d_options o;
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  o.stride_h = 2;
  o.pad_top = 1;
  o.pad_bottom = 2;
  o.dilation_w = 2;
  Q8_OK_OR_FAIL(q8_conv2d_output_shape(&o, 7, 8, 3, 3, &oh, &ow));
  cr_assert_eq(oh, 4); /* (7 + 3 - 3) / 2 + 1 */
  cr_assert_eq(ow, 4); /* 8 - 5 + 1 */
}

/* ---- im2col / col2im ---------------------------------------------------------------------- */

Test(conv, im2col_col2im) {
  test_rng r;
  rng_seed(&r, 61);
  q8_conv2d_options o;
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  o.stride_h = 2;
  o.pad_top = 2;
  o.pad_left = 1;
  o.pad_right = 2;
  o.dilation_w = 2;
  o.groups = 2;
  const int64_t H = 7, W = 6, C = 6, kh = 3, kw = 2, cg = 3;
  int64_t oh, ow;
  Q8_OK_OR_FAIL(q8_conv2d_output_shape(&o, H, W, kh, kw, &oh, &ow));
  int8_t img[7 * 6 * 6];
  for (size_t i = 0; i < sizeof img; ++i) img[i] = (int8_t)rng_next(&r);
  const int64_t K = kh * kw * cg, ld = K + 3;
  int8_t *col = malloc((size_t)(oh * ow * ld));
  int32_t *col32 = malloc((size_t)(oh * ow * ld) * 4);
  int32_t image[7 * 6 * 6], count[7 * 6 * 6];
  for (int64_t g = 0; g < 2; ++g) {
    memset(col, 0x11, (size_t)(oh * ow * ld));
    Q8_OK_OR_FAIL(q8_conv2d_im2col(&o, Q8_DTYPE_S8, H, W, C, img, -7, kh, kw, g, col, ld));
    memset(count, 0, sizeof count);
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x)
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx)
            for (int64_t c = 0; c < cg; ++c) {
              const int64_t iy = y * 2 - 2 + ky, ix = x - 1 + kx * 2;
              const int in = iy >= 0 && iy < H && ix >= 0 && ix < W;
              const int8_t want = in ? img[(iy * W + ix) * C + g * cg + c] : -7;
              cr_assert_eq(col[(y * ow + x) * ld + (ky * kw + kx) * cg + c], want);
              if (in) ++count[(iy * W + ix) * C + g * cg + c];
            }
    for (int64_t rr = 0; rr < oh * ow; ++rr) /* the gap past K keeps its fill */
      for (int64_t q = K; q < ld; ++q) cr_assert_eq(col[rr * ld + q], 0x11);
    /* col2im of ones counts how often each pixel is read; it accumulates into image */
    for (int64_t i = 0; i < oh * ow * ld; ++i) col32[i] = 1;
    for (size_t i = 0; i < 7 * 6 * 6; ++i) image[i] = 1000;
    Q8_OK_OR_FAIL(q8_conv2d_col2im_s32(&o, H, W, C, kh, kw, g, col32, ld, image));
    for (size_t i = 0; i < 7 * 6 * 6; ++i) cr_assert_eq(image[i], 1000 + count[i], "pixel %zu", i);
  }
  free(col);
  free(col32);
}

/* ---- layouts ------------------------------------------------------------------------------ */

Test(conv, nchw_nhwc_round_trip) {
  test_rng r;
  rng_seed(&r, 71);
  const int64_t N = 2, C = 5, H = 3, W = 7;
  const size_t count = (size_t)(N * C * H * W);
  float *a = malloc(count * 4), *b = malloc(count * 4), *c = malloc(count * 4);
  uint8_t *u = malloc(count), *v = malloc(count), *t = malloc(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = (float)rng_normal(&r);
    u[i] = (uint8_t)rng_next(&r);
  }
  Q8_OK_OR_FAIL(q8_conv2d_nchw_to_nhwc(Q8_DTYPE_F32, N, C, H, W, a, b));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          cr_assert_eq(b[((n * H + y) * W + x) * C + ch], a[((n * C + ch) * H + y) * W + x]);
  Q8_OK_OR_FAIL(q8_conv2d_nhwc_to_nchw(Q8_DTYPE_F32, N, C, H, W, b, c));
  cr_assert(memcmp(a, c, count * 4) == 0);
  Q8_OK_OR_FAIL(q8_conv2d_nhwc_to_nchw(Q8_DTYPE_U8, N, C, H, W, u, v));
  Q8_OK_OR_FAIL(q8_conv2d_nchw_to_nhwc(Q8_DTYPE_U8, N, C, H, W, v, t));
  cr_assert(memcmp(u, t, count) == 0);
  Q8_OK_OR_FAIL(q8_conv2d_nchw_to_nhwc(Q8_DTYPE_U8, 0, C, H, W, NULL, NULL));
  free(a);
  free(b);
  free(c);
  free(u);
  free(v);
  free(t);
}

/* A convolution given NCHW input and OIHW weights, converted, equals the NHWC one. */
Test(conv, nchw_through_conversion) {
  test_rng r;
  rng_seed(&r, 72);
  const int64_t N = 2, C = 3, H = 6, W = 5, O = 4, K = 3;
  uint8_t xn[2 * 3 * 6 * 5], xh[2 * 3 * 6 * 5];
  int8_t wn[4 * 3 * 3 * 3], wh[4 * 3 * 3 * 3];
  for (size_t i = 0; i < sizeof xn; ++i) xn[i] = (uint8_t)rng_next(&r);
  for (size_t i = 0; i < sizeof wn; ++i) wn[i] = (int8_t)rng_next(&r);
  Q8_OK_OR_FAIL(q8_conv2d_nchw_to_nhwc(Q8_DTYPE_U8, N, C, H, W, xn, xh));
  Q8_OK_OR_FAIL(q8_conv2d_nchw_to_nhwc(Q8_DTYPE_S8, O, C, K, K, wn, wh)); /* OIHW -> OHWI */
  int32_t out[2 * 4 * 4 * 3];
  Q8_OK_OR_FAIL(q8_conv2d_u8s8(NULL, N, H, W, C, xh, 9, O, K, K, wh, NULL, 0, NULL, out));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 3; ++x) {
          int32_t s = 0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ky = 0; ky < K; ++ky)
              for (int64_t kx = 0; kx < K; ++kx)
                s += (xn[((n * C + c) * H + y + ky) * W + x + kx] - 9) * wn[((o * C + c) * K + ky) * K + kx];
          cr_assert_eq(out[((n * 4 + y) * 3 + x) * O + o], s);
        }
}

/* ---- bad input ---------------------------------------------------------------------------- */

Test(conv, bad_input) {
  uint8_t x[64] = {0};
  int8_t w[64] = {0};
  int32_t out[256];
  q8_conv2d_options o;
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
#define CONV(opt, zx, zw, zwc, ep) q8_conv2d_u8s8(opt, 1, 4, 4, 2, x, zx, 2, 3, 3, w, zw, zwc, ep, out)
  Q8_OK_OR_FAIL(CONV(&o, 0, NULL, 0, NULL));
  Q8_EXPECT_STATUS(q8_conv2d_options_init(NULL), Q8_ERR_INVALID_ARGUMENT);
  o.struct_size = 3;
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  o.stride_w = 0;
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  o.dilation_h = -1;
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  o.pad_right = -1;
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  o.groups = 0;
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  o.groups = 3; /* divides neither */
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_SHAPE);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  o.dilation_h = 2; /* 5 > 4 */
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_SHAPE);
  o.pad_top = 1; /* 5 <= 5 */
  Q8_OK_OR_FAIL(CONV(&o, 0, NULL, 0, NULL));
  o.dilation_h = INT64_MAX;
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, NULL), Q8_ERR_SHAPE);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&o));
  Q8_EXPECT_STATUS(CONV(&o, 256, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(CONV(&o, -1, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_s8s8(&o, 1, 4, 4, 2, (const int8_t *)x, 128, 2, 3, 3, w, NULL, 0, NULL, out),
                   Q8_ERR_INVALID_ARGUMENT);
  const int32_t zw_bad[2] = {0, 128}, zw_ok[3] = {1, 2, 3};
  Q8_EXPECT_STATUS(CONV(&o, 0, zw_bad, 2, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(CONV(&o, 0, zw_ok, 3, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 1, NULL), Q8_ERR_INVALID_ARGUMENT);
  q8_gemm_epilogue ep;
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&ep));
  ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT;
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, &ep), Q8_ERR_DTYPE);
  ep.output_dtype = Q8_DTYPE_U8;
  const float sc[3] = {1, 1, 1};
  ep.scale = sc;
  ep.channels = 3; /* out_ch = 2 */
  Q8_EXPECT_STATUS(CONV(&o, 0, NULL, 0, &ep), Q8_ERR_INVALID_ARGUMENT);
  ep.channels = 2;
  Q8_OK_OR_FAIL(CONV(&o, 0, NULL, 0, &ep));
  Q8_EXPECT_STATUS(q8_conv2d_u8s8(&o, 1, 4, 4, 2, NULL, 0, 2, 3, 3, w, NULL, 0, NULL, out), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_u8s8(&o, 1, 4, 4, 2, x, 0, 2, 3, 3, NULL, NULL, 0, NULL, out), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_u8s8(&o, 1, 4, 4, 2, x, 0, 2, 3, 3, w, NULL, 0, NULL, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_u8s8(&o, -1, 4, 4, 2, x, 0, 2, 3, 3, w, NULL, 0, NULL, out), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_conv2d_u8s8(&o, 1, 0, 4, 2, x, 0, 2, 3, 3, w, NULL, 0, NULL, out), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_conv2d_u8s8(&o, 1, 4, 4, 2, x, 0, 2, 0, 3, w, NULL, 0, NULL, out), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_conv2d_u8s8(&o, INT64_MAX, 4, 4, 2, x, 0, 2, 3, 3, w, NULL, 0, NULL, out), Q8_ERR_SHAPE);
#undef CONV
  int64_t oh, ow;
  Q8_EXPECT_STATUS(q8_conv2d_output_shape(&o, 2, 2, 3, 3, &oh, &ow), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_conv2d_output_shape(&o, 4, 4, 3, 3, NULL, &ow), Q8_ERR_INVALID_ARGUMENT);
  uint8_t col[256];
  Q8_EXPECT_STATUS(q8_conv2d_im2col(&o, Q8_DTYPE_S32, 4, 4, 2, x, 0, 3, 3, 0, col, 18), Q8_ERR_DTYPE);
  Q8_EXPECT_STATUS(q8_conv2d_im2col(&o, Q8_DTYPE_U8, 4, 4, 2, x, 0, 3, 3, 1, col, 18), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_im2col(&o, Q8_DTYPE_U8, 4, 4, 2, x, 0, 3, 3, 0, col, 17), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_im2col(&o, Q8_DTYPE_U8, 4, 4, 2, x, 256, 3, 3, 0, col, 18), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_conv2d_im2col(&o, Q8_DTYPE_U8, 4, 4, 2, x, 255, 3, 3, 0, col, 18));
  Q8_EXPECT_STATUS(q8_conv2d_col2im_s32(&o, 4, 4, 2, 3, 3, 0, NULL, 18, out), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_nchw_to_nhwc((q8_dtype)99, 1, 1, 1, 1, x, col), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_conv2d_nchw_to_nhwc(Q8_DTYPE_U8, 1, -1, 1, 1, x, col), Q8_ERR_SHAPE);
  Q8_EXPECT_STATUS(q8_conv2d_nhwc_to_nchw(Q8_DTYPE_U8, 1, 1, 1, 1, NULL, col), Q8_ERR_INVALID_ARGUMENT);
}

/* More patches than one im2col chunk holds (~8 MiB): batch 3 of 56x56 pixels x 1152 bytes runs as
 * two chunks; s8 input with padding and per-channel weight zero points. */
Test(conv, im2col_in_chunks) {
  test_rng r;
  rng_seed(&r, 81);
  conv_case c;
  epi e;
  int32_t zw[4] = {-128, 0, 5, 127};
  memset(&c, 0, sizeof c);
  Q8_OK_OR_FAIL(q8_conv2d_options_init(&c.o));
  c.o.pad_top = c.o.pad_left = c.o.pad_bottom = c.o.pad_right = 1;
  c.batch = 3;
  c.in_h = c.in_w = 56;
  c.in_ch = 128;
  c.out_ch = 4;
  c.kh = c.kw = 3;
  c.in_signed = 1;
  c.zx = -100;
  c.zw = zw;
  c.zw_count = 4;
  make_epilogue(&e, &r, Q8_GEMM_EPILOGUE_S32, c.out_ch, 9 * 128, 0, 1);
  c.ep = &e.ep;
  check_case(&c, &r, "chunks");
}
