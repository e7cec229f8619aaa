/* Quantization-aware training helpers (include/q8/qat.h) through the public API: fake quantization
 * bit for bit against q8_quantize + q8_dequantize on every ISA path, the mask at the clipping
 * edges, every gradient against central finite differences (docs/QAT.md has the method), the
 * BatchNorm fold against a double reference and its gradients against finite differences,
 * q8_qat_range / q8_qat_qparams against q8_qparams_from_range, thread-count independence,
 * observer freezing, and bad input for every function. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(qat);

/* ---- helpers ------------------------------------------------------------------------------ */

static float *falloc(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  cr_assert_not_null(p);
  return p;
}

static uint32_t fbits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* Log-uniform in [lo, hi]. */
static float log_uniform(test_rng *r, double lo, double hi) {
  return (float)exp(log(lo) + rng_uniform(r) * (log(hi) - log(lo)));
}

/* An integer uniform in [lo, hi]. */
static int32_t uniform_int(test_rng *r, int32_t lo, int32_t hi) {
  return lo + (int32_t)(rng_uniform(r) * (double)(hi - lo + 1));
}

static int32_t clamp_i(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The forward written from qat.h's definition: one f32 division, round half to even (nearbyintf
 * in the default rounding mode), the zero point added in f32, clamp, one f32 multiply; NaN gives
 * the zero point (y = 0) and mask 0. zi is already the integer zero point. */
static float ref_fake_quant(float x, float s, int32_t zi, int32_t qmin, int32_t qmax, uint8_t *mask) {
  if (isnan(x)) {
    *mask = 0;
    return 0.0f * s;
  }
  const float r = nearbyintf(x / s) + (float)zi;
  *mask = r >= (float)qmin && r <= (float)qmax;
  const float q = r < (float)qmin ? (float)qmin : r > (float)qmax ? (float)qmax : r;
  return (float)((int32_t)q - zi) * s;
}

/* The integer zero point the forward uses for a real z. */
static int32_t ref_zi(float z, int32_t qmin, int32_t qmax) {
  const float r = nearbyintf(z);
  return r < (float)qmin ? qmin : r > (float)qmax ? qmax : (int32_t)r;
}

static double rel_err(double got, double want) { return fabs(got - want) / fmax(fabs(want), 1e-6); }

/* ---- q8_qat_range ------------------------------------------------------------------------- */

Test(qat, range_table_for_every_bit_width) {
  /* bits, symmetric narrow, symmetric full, asymmetric */
  static const int32_t table[7][7] = {
      {2, -1, 1, -2, 1, 0, 3},         {3, -3, 3, -4, 3, 0, 7},        {4, -7, 7, -8, 7, 0, 15},
      {5, -15, 15, -16, 15, 0, 31},    {6, -31, 31, -32, 31, 0, 63},   {7, -63, 63, -64, 63, 0, 127},
      {8, -127, 127, -128, 127, 0, 255}};
  for (int t = 0; t < 7; ++t) {
    const int bits = table[t][0];
    int32_t lo = 99, hi = 99;
    Q8_OK_OR_FAIL(q8_qat_range(bits, 1, 1, &lo, &hi));
    cr_assert(lo == table[t][1] && hi == table[t][2], "bits %d narrow: [%d, %d]", bits, lo, hi);
    Q8_OK_OR_FAIL(q8_qat_range(bits, 1, 0, &lo, &hi));
    cr_assert(lo == table[t][3] && hi == table[t][4], "bits %d symmetric: [%d, %d]", bits, lo, hi);
    Q8_OK_OR_FAIL(q8_qat_range(bits, 0, 0, &lo, &hi));
    cr_assert(lo == table[t][5] && hi == table[t][6], "bits %d asymmetric: [%d, %d]", bits, lo, hi);
    /* narrow only means something for signed ranges; any non-zero int is true */
    Q8_OK_OR_FAIL(q8_qat_range(bits, 0, 1, &lo, &hi));
    cr_assert(lo == table[t][5] && hi == table[t][6], "bits %d asymmetric narrow: [%d, %d]", bits, lo, hi);
    Q8_OK_OR_FAIL(q8_qat_range(bits, -3, 7, &lo, &hi));
    cr_assert(lo == table[t][1] && hi == table[t][2], "bits %d, flags -3 and 7", bits);
  }
}

/* ---- q8_qat_qparams ----------------------------------------------------------------------- */

/* A random range of a random kind: mixed signs, one-sided, tiny (FLT_EPSILON floor), huge, a
 * single point, all zero. */
static void random_range(test_rng *r, float *lo, float *hi) {
  const int kind = (int)(rng_uniform(r) * 8);
  const float a = log_uniform(r, 1e-12, 1e12), b = log_uniform(r, 1e-12, 1e12);
  switch (kind) {
    case 0: *lo = -a; *hi = b; break;
    case 1: *lo = a < b ? a : b; *hi = a < b ? b : a; break;
    case 2: *lo = -(a < b ? b : a); *hi = -(a < b ? a : b); break;
    case 3: *lo = -a * 1e-30f; *hi = b * 1e-30f; break;
    case 4: *lo = *hi = (rng_uniform(r) < 0.5 ? -a : a); break;
    case 5: *lo = *hi = 0.0f; break;
    case 6: *lo = -(float)uniform_int(r, 0, 300) / 8; *hi = (float)uniform_int(r, 0, 300) / 8; break;
    default: *lo = (float)rng_normal(r); *hi = *lo + (float)fabs(rng_normal(r)); break;
  }
}

Test(qat, qparams_at_8_bits_equal_qparams_from_range) {
  enum { N = 4000 };
  float *mins = falloc(N), *maxs = falloc(N), *s_qat = falloc(N), *z_qat = falloc(N), *s_ptq = falloc(N);
  int32_t *z_ptq = malloc(N * sizeof *z_ptq);
  test_rng r;
  rng_seed(&r, 81);
  for (int i = 0; i < N; ++i) random_range(&r, &mins[i], &maxs[i]);
  const struct {
    int32_t qmin, qmax;
    q8_scheme scheme;
  } cases[] = {{-127, 127, Q8_SCHEME_SYMMETRIC_NARROW}, {0, 255, Q8_SCHEME_ASYMMETRIC_U8},
               {-128, 127, Q8_SCHEME_ASYMMETRIC_S8}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
    Q8_OK_OR_FAIL(q8_qat_qparams(mins, maxs, N, cases[k].qmin, cases[k].qmax, s_qat, z_qat));
    Q8_OK_OR_FAIL(q8_qparams_from_range(cases[k].scheme, mins, maxs, N, s_ptq, z_ptq));
    for (int i = 0; i < N; ++i)
      cr_assert(fbits(s_qat[i]) == fbits(s_ptq[i]) && z_qat[i] == (float)z_ptq[i],
                "%s [%g, %g]: qat (%a, %g), ptq (%a, %d)", q8_scheme_name(cases[k].scheme), (double)mins[i],
                (double)maxs[i], (double)s_qat[i], (double)z_qat[i], (double)s_ptq[i], z_ptq[i]);
  }
  free(mins), free(maxs), free(s_qat), free(z_qat), free(s_ptq), free(z_ptq);
}

/* The formulas of qat.h written out in f32 for the low bit widths (as quant/params.cpp states them
 * for 8 bits: widen to 0, FLT_EPSILON floor, all-zero range -> scale 1, zero point half to even). */
static void ref_qparams(float mn, float mx, int32_t qmin, int32_t qmax, float *scale, float *zp) {
  const float lo = mn < 0.0f ? mn : 0.0f, hi = mx > 0.0f ? mx : 0.0f;
  if (qmin == -qmax) {
    const float amax = -lo > hi ? -lo : hi;
    *scale = amax == 0.0f ? 1.0f : fmaxf(amax / (float)qmax, FLT_EPSILON);
    *zp = 0.0f;
    return;
  }
  if (hi == lo) {
    *scale = 1.0f;
    *zp = (float)qmin;
    return;
  }
  *scale = fmaxf((hi - lo) / (float)(qmax - qmin), FLT_EPSILON);
  const float z = (float)qmin - nearbyintf(lo / *scale);
  *zp = z < (float)qmin ? (float)qmin : z > (float)qmax ? (float)qmax : z;
}

Test(qat, qparams_follow_the_same_rules_at_every_bit_width) {
  enum { N = 2000 };
  float *mins = falloc(N), *maxs = falloc(N), *sc = falloc(N), *zp = falloc(N);
  test_rng r;
  rng_seed(&r, 82);
  for (int i = 0; i < N; ++i) random_range(&r, &mins[i], &maxs[i]);
  size_t floored = 0, unit = 0;
  for (int bits = 2; bits <= 8; ++bits)
    for (int kind = 0; kind < 3; ++kind) {
      int32_t qmin, qmax;
      Q8_OK_OR_FAIL(q8_qat_range(bits, kind < 2, kind == 0, &qmin, &qmax));
      Q8_OK_OR_FAIL(q8_qat_qparams(mins, maxs, N, qmin, qmax, sc, zp));
      for (int i = 0; i < N; ++i) {
        float ws, wz;
        ref_qparams(mins[i], maxs[i], qmin, qmax, &ws, &wz);
        cr_assert(fbits(sc[i]) == fbits(ws) && zp[i] == wz, "bits %d [%d, %d], range [%g, %g]: (%a, %g) want (%a, %g)",
                  bits, qmin, qmax, (double)mins[i], (double)maxs[i], (double)sc[i], (double)zp[i], (double)ws,
                  (double)wz);
        floored += sc[i] == FLT_EPSILON;
        unit += sc[i] == 1.0f && mins[i] == 0.0f && maxs[i] == 0.0f;
      }
    }
  cr_assert(floored > 0 && unit > 0, "the ranges reached the FLT_EPSILON floor %zu times, scale 1 %zu times",
            floored, unit);

  /* Explicit 4-bit cases. */
  const float m4[] = {0.0f, -1e-9f, -1.5f, 0.5f, -3.0f}, x4[] = {0.0f, 1e-9f, 1.5f, 2.0f, -1.0f};
  float s4[5], z4[5];
  Q8_OK_OR_FAIL(q8_qat_qparams(m4, x4, 5, 0, 15, s4, z4));
  cr_assert(s4[0] == 1.0f && z4[0] == 0.0f);
  cr_assert(s4[1] == FLT_EPSILON);
  cr_assert(s4[2] == 3.0f / 15.0f && z4[2] == 8.0f, "(%g, %g)", (double)s4[2], (double)z4[2]); /* 7.5 -> 8 */
  cr_assert(s4[3] == 2.0f / 15.0f && z4[3] == 0.0f);
  cr_assert(s4[4] == 3.0f / 15.0f && z4[4] == 15.0f);
  Q8_OK_OR_FAIL(q8_qat_qparams(m4, x4, 5, -7, 7, s4, z4));
  cr_assert(s4[0] == 1.0f && z4[0] == 0.0f && s4[2] == 1.5f / 7.0f && z4[2] == 0.0f && s4[4] == 3.0f / 7.0f);
  free(mins), free(maxs), free(sc), free(zp);
}

/* ---- fake quantization: the forward ---------------------------------------------------------- */

/* Data meant to break a fake quantizer: normal values spread over and past the range, exact ties
 * (x / s == k + 0.5 in f32), NaN, infinities, huge values, denormals, signed zeros. x / s spans
 * [-w, w] for w = qmax - qmin, so q = x / s + zi crosses both ends for any zero point in range. */
static void nasty_data(test_rng *r, float *x, size_t n, float s, int32_t qmin, int32_t qmax) {
  static const float specials[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, 1e30f, -1e30f, 1e-40f, -1e-40f,
                                   FLT_MIN, 1.4e-45f};
  const int32_t w = qmax - qmin;
  for (size_t i = 0; i < n; ++i) {
    const int kind = (int)(rng_uniform(r) * 10);
    const float k = (float)uniform_int(r, -w - 2, w + 2);
    switch (kind) {
      case 0: x[i] = NAN; break;
      case 1: x[i] = rng_uniform(r) < 0.5 ? INFINITY : -INFINITY; break;
      case 2: x[i] = specials[uniform_int(r, 0, 9)]; break;
      case 3:
      case 4: x[i] = (k + 0.5f) * s; break; /* a tie when the product and quotient are exact */
      default: x[i] = (float)(rng_normal(r) * 0.6 * (w + 1)) * s; break;
    }
  }
}

/* Whether x / s is an exact tie in f32. */
static int is_tie(float x, float s) {
  const float v = x / s;
  return isfinite(v) && v - floorf(v) == 0.5f;
}

/* y = q8_dequantize(q8_quantize(x)) through tensors of shape [outer, channels, inner] (per axis 1,
 * or per tensor when channels == 1). */
static void quantize_dequantize(const float *x, size_t outer, size_t channels, size_t inner, const float *scales,
                                const int32_t *zps, q8_dtype dt, float *y) {
  const int64_t shape[3] = {(int64_t)outer, (int64_t)channels, (int64_t)inner};
  const size_t n = outer * channels * inner;
  q8_tensor *xt = make_tensor(Q8_DTYPE_F32, shape, 3), *qt = make_tensor(dt, shape, 3);
  q8_tensor *yt = make_tensor(Q8_DTYPE_F32, shape, 3);
  memcpy(tensor_data(xt), x, n * sizeof *x);
  if (channels == 1)
    Q8_OK_OR_FAIL(q8_tensor_set_qparams(qt, scales[0], zps[0]));
  else
    Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(qt, 1, scales, zps, channels));
  Q8_OK_OR_FAIL(q8_quantize(xt, qt));
  Q8_OK_OR_FAIL(q8_dequantize(qt, yt));
  memcpy(y, tensor_data(yt), n * sizeof *y);
  q8_tensor_destroy(xt), q8_tensor_destroy(qt), q8_tensor_destroy(yt);
}

Test(qat, fake_quantize_is_quantize_then_dequantize_bit_for_bit) {
  const size_t layouts[][3] = {{1, 1, 3000}, {3, 4, 50}, {1, 7, 333}, {500, 3, 1}, {2, 1, 1001}};
  const struct {
    int32_t qmin, qmax;
    q8_dtype dt;
  } ranges[] = {{0, 255, Q8_DTYPE_U8}, {-128, 127, Q8_DTYPE_S8}};
  q8_isa isas[8];
  const size_t n_isas = supported_isas(isas);
  test_rng r;
  rng_seed(&r, 7);
  size_t ties = 0, nans = 0, clipped = 0;
  for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; ++li)
    for (size_t ri = 0; ri < 2; ++ri) {
      const size_t outer = layouts[li][0], channels = layouts[li][1], inner = layouts[li][2];
      const size_t n = outer * channels * inner;
      const int32_t qmin = ranges[ri].qmin, qmax = ranges[ri].qmax;
      float *x = falloc(n), *y = falloc(n), *want = falloc(n), *sc = falloc(channels), *zf = falloc(channels);
      int32_t *zi = malloc(channels * sizeof *zi);
      uint8_t *mask = malloc(n);
      for (size_t c = 0; c < channels; ++c) {
        /* Powers of two make exact ties; also a tiny and a denormal scale, whose quotients overflow. */
        const int kind = (int)((c + li) % 4);
        sc[c] = kind == 0 ? ldexpf(1.0f, uniform_int(&r, -12, 4))
                : kind == 1 ? log_uniform(&r, 1e-4, 10.0)
                : kind == 2 ? (c % 8 == 2 ? 1e-39f : 1e-30f)
                            : log_uniform(&r, 1e-2, 1.0);
        /* A real zero point: the forward rounds it half to even and clamps it; q8_quantize gets
         * that integer. */
        const int32_t z = uniform_int(&r, qmin, qmax);
        switch (c % 5) {
          case 0: zf[c] = (float)z + 0.4f; break;
          case 1: zf[c] = (float)z - 0.3f; break;
          case 2: zf[c] = (float)z + 0.5f; break; /* a tie */
          case 3: zf[c] = (float)(c % 2 ? qmax + 300 : qmin - 300); break; /* clamped */
          default: zf[c] = (float)z; break;
        }
        zi[c] = ref_zi(zf[c], qmin, qmax);
      }
      for (size_t o = 0; o < outer; ++o)
        for (size_t c = 0; c < channels; ++c)
          nasty_data(&r, x + (o * channels + c) * inner, inner, sc[c], qmin, qmax);
      for (size_t k = 0; k < n; ++k) {
        const size_t c = (k / inner) % channels;
        ties += is_tie(x[k], sc[c]);
        nans += isnan(x[k]) != 0;
      }
      for (size_t ii = 0; ii < n_isas; ++ii) {
        Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[ii]));
        quantize_dequantize(x, outer, channels, inner, sc, zi, ranges[ri].dt, want);
        Q8_OK_OR_FAIL(q8_qat_fake_quantize(x, outer, channels, inner, sc, zf, qmin, qmax, y, mask));
        for (size_t k = 0; k < n; ++k) {
          const size_t c = (k / inner) % channels;
          cr_assert(fbits(y[k]) == fbits(want[k]), "%s, layout %zu, [%d, %d], x[%zu] = %a, s = %a, z = %g: %a, want %a",
                    q8_isa_name(isas[ii]), li, qmin, qmax, k, (double)x[k], (double)sc[c], (double)zf[c],
                    (double)y[k], (double)want[k]);
          uint8_t m;
          (void)ref_fake_quant(x[k], sc[c], zi[c], qmin, qmax, &m);
          cr_assert_eq(mask[k], m, "mask[%zu] for x = %a", k, (double)x[k]);
          clipped += ii == 0 && !m && !isnan(x[k]);
        }
      }
      Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_AUTO));
      free(x), free(y), free(want), free(sc), free(zf), free(zi), free(mask);
    }
  cr_assert(ties > 100 && nans > 100 && clipped > 100, "ties %zu, NaN %zu, clipped %zu", ties, nans, clipped);
}

Test(qat, fake_quantize_low_bits_matches_the_definition) {
  const size_t outer = 3, channels = 5, inner = 40, n = outer * channels * inner;
  float *x = falloc(n), *y = falloc(n), *y2 = falloc(n);
  uint8_t *mask = malloc(n), *mask2 = malloc(n);
  float sc[5], zf[5];
  int32_t zi[5];
  test_rng r;
  rng_seed(&r, 11);
  for (int bits = 2; bits <= 8; ++bits)
    for (int kind = 0; kind < 3; ++kind) {
      int32_t qmin, qmax;
      Q8_OK_OR_FAIL(q8_qat_range(bits, kind < 2, kind == 0, &qmin, &qmax));
      for (size_t c = 0; c < channels; ++c) {
        sc[c] = log_uniform(&r, 1e-3, 3.0);
        zf[c] = kind < 2 ? 0.0f : (float)uniform_int(&r, qmin, qmax) + (float)(rng_uniform(&r) - 0.5) * 0.8f;
        zi[c] = ref_zi(zf[c], qmin, qmax);
      }
      for (size_t o = 0; o < outer; ++o)
        for (size_t c = 0; c < channels; ++c)
          nasty_data(&r, x + (o * channels + c) * inner, inner, sc[c], qmin, qmax);
      Q8_OK_OR_FAIL(q8_qat_fake_quantize(x, outer, channels, inner, sc, zf, qmin, qmax, y, mask));
      for (size_t k = 0; k < n; ++k) {
        const size_t c = (k / inner) % channels;
        uint8_t m;
        const float want = ref_fake_quant(x[k], sc[c], zi[c], qmin, qmax, &m);
        cr_assert(fbits(y[k]) == fbits(want) && mask[k] == m, "bits %d [%d, %d]: x = %a -> %a (mask %d), want %a (%d)",
                  bits, qmin, qmax, (double)x[k], (double)y[k], mask[k], (double)want, m);
      }
      /* In place, and without a mask: the same values. */
      memcpy(y2, x, n * sizeof *x);
      Q8_OK_OR_FAIL(q8_qat_fake_quantize(y2, outer, channels, inner, sc, zf, qmin, qmax, y2, NULL));
      cr_assert(memcmp(y, y2, n * sizeof *y) == 0, "bits %d: y aliasing x", bits);
      /* Symmetric: NULL zero points are zeros. */
      if (kind < 2) {
        Q8_OK_OR_FAIL(q8_qat_fake_quantize(x, outer, channels, inner, sc, NULL, qmin, qmax, y2, mask2));
        cr_assert(memcmp(y, y2, n * sizeof *y) == 0 && memcmp(mask, mask2, n) == 0, "bits %d: NULL zero points", bits);
      }
    }
  free(x), free(y), free(y2), free(mask), free(mask2);
}

Test(qat, mask_at_the_clipping_edges) {
  /* s = 1, so x is x / s; ties round half to even before the clamp. */
  const struct {
    int32_t qmin, qmax;
    float z, x, y;
    uint8_t mask;
  } cases[] = {
      {-128, 127, 0, 127.0f, 127.0f, 1},   {-128, 127, 0, 127.4f, 127.0f, 1},  {-128, 127, 0, 127.5f, 127.0f, 0},
      {-128, 127, 0, 126.5f, 126.0f, 1},   {-128, 127, 0, 128.0f, 127.0f, 0},  {-128, 127, 0, -128.0f, -128.0f, 1},
      {-128, 127, 0, -128.5f, -128.0f, 1}, {-128, 127, 0, -129.5f, -128.0f, 0}, {-128, 127, 0, -128.6f, -128.0f, 0},
      {-127, 127, 0, -127.0f, -127.0f, 1}, {-127, 127, 0, -127.5f, -127.0f, 0}, {-127, 127, 0, -128.0f, -127.0f, 0},
      {0, 255, 10, 245.0f, 245.0f, 1},     {0, 255, 10, 245.5f, 245.0f, 0},     {0, 255, 10, 244.5f, 244.0f, 1},
      {0, 255, 10, -10.0f, -10.0f, 1},     {0, 255, 10, -10.5f, -10.0f, 1},     {0, 255, 10, -11.5f, -10.0f, 0},
      {0, 15, 3, 12.0f, 12.0f, 1},         {0, 15, 3, 12.5f, 12.0f, 1},         {0, 15, 3, 13.0f, 12.0f, 0},
      {0, 15, 3, -3.5f, -3.0f, 0},         {0, 15, 3, -2.5f, -2.0f, 1},         {-1, 1, 0, 1.5f, 1.0f, 0},
      {-1, 1, 0, -1.5f, -1.0f, 0},         {-1, 1, 0, 0.5f, 0.0f, 1},           {-1, 1, 0, -0.5f, 0.0f, 1},
      {0, 255, 0, NAN, 0.0f, 0},           {0, 255, 7, INFINITY, 248.0f, 0},    {0, 255, 7, -INFINITY, -7.0f, 0},
      {-128, 127, 0, FLT_MAX, 127.0f, 0},  {-128, 127, 0, -1e-40f, 0.0f, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const float s = 1.0f;
    float y = -99.0f;
    uint8_t m = 9;
    Q8_OK_OR_FAIL(q8_qat_fake_quantize(&cases[i].x, 1, 1, 1, &s, &cases[i].z, cases[i].qmin, cases[i].qmax, &y, &m));
    cr_assert(fbits(y) == fbits(cases[i].y) && m == cases[i].mask, "case %zu: x = %g on [%d, %d] z %g -> %g (mask %d)",
              i, (double)cases[i].x, cases[i].qmin, cases[i].qmax, (double)cases[i].z, (double)y, m);
  }
}

/* ---- the straight-through estimator ---------------------------------------------------------- */

Test(qat, ste_passes_gradients_where_the_mask_is_set) {
  const float dy[6] = {1.5f, -2.0f, NAN, INFINITY, 3.0f, -0.0f};
  const uint8_t mask[6] = {1, 0, 0, 0, 2, 1};
  const float want[6] = {1.5f, 0.0f, 0.0f, 0.0f, 3.0f, -0.0f};
  float dx[6];
  Q8_OK_OR_FAIL(q8_qat_ste_backward(dy, mask, 6, dx));
  for (int i = 0; i < 6; ++i) cr_assert(fbits(dx[i]) == fbits(want[i]), "dx[%d] = %g", i, (double)dx[i]);
  float in_place[6];
  memcpy(in_place, dy, sizeof dy);
  Q8_OK_OR_FAIL(q8_qat_ste_backward(in_place, mask, 6, in_place));
  cr_assert(memcmp(in_place, dx, sizeof dx) == 0);
  Q8_OK_OR_FAIL(q8_qat_ste_backward(NULL, NULL, 0, NULL));
}

/* ---- LSQ / LSQ+ against finite differences ------------------------------------------------- */

/* The surrogate (qat.h): each rounding is the identity plus a constant frozen at the evaluation
 * point, the clamp is real. Per element e of channel c, with v = x / s,
 *   u = x / s + cst[e] + z + cz[c],  cst[e] = round(v0) - v0,  cz[c] = zi - z0,
 *   y = (clamp(u, qmin, qmax) - (z + cz[c])) * s,
 * all in double. At the evaluation point u = round(v0) + zi, the forward's q. */
typedef struct {
  size_t outer, channels, inner;
  int32_t qmin, qmax;
  const double *cst, *cz;
  const float *dy;
} surrogate;

static double sur_y(const surrogate *S, size_t e, size_t c, double x, double s, double z) {
  const double u = x / s + S->cst[e] + z + S->cz[c];
  const double q = u < S->qmin ? S->qmin : u > S->qmax ? S->qmax : u;
  return (q - (z + S->cz[c])) * s;
}

/* sum over channel c of dy * y */
static double sur_loss(const surrogate *S, size_t c, const float *x, double s, double z) {
  double L = 0.0;
  for (size_t o = 0; o < S->outer; ++o)
    for (size_t i = 0; i < S->inner; ++i) {
      const size_t e = (o * S->channels + c) * S->inner + i;
      L += (double)S->dy[e] * sur_y(S, e, c, x[e], s, z);
    }
  return L;
}

typedef struct {
  double dx, ds, dz;
  size_t checks, inside, clipped;
} fd_stats;

/* One configuration: random parameters, x placed at integer k + u (|u| <= 0.4, so away from the
 * rounding boundaries) with k + zi never qmin or qmax (away from the clamp's kinks), so the
 * central differences below are of a function that is linear near the point. */
static void lsq_fd_case(test_rng *r, size_t outer, size_t channels, size_t inner, int bits, int kind, float g,
                        int null_zero_points, fd_stats *st) {
  int32_t qmin, qmax;
  Q8_OK_OR_FAIL(q8_qat_range(bits, kind < 2, kind == 0, &qmin, &qmax));
  const size_t n = outer * channels * inner;
  float *x = falloc(n), *dy = falloc(n), *dx = falloc(n), *y = falloc(n);
  float *sc = falloc(channels), *zf = falloc(channels), *ds = falloc(channels), *dz = falloc(channels);
  double *cst = malloc(n * sizeof *cst), *cz = malloc(channels * sizeof *cz);
  uint8_t *mask = malloc(n);
  int32_t *zi = malloc(channels * sizeof *zi);
  for (size_t c = 0; c < channels; ++c) {
    sc[c] = log_uniform(r, 1e-2, 2.0);
    zf[c] = kind < 2 ? 0.0f : (float)uniform_int(r, qmin, qmax) + (float)(rng_uniform(r) - 0.5) * 0.8f;
    zi[c] = clamp_i((int32_t)nearbyint(zf[c]), qmin, qmax);
    cz[c] = (double)zi[c] - (double)zf[c];
  }
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < channels; ++c)
      for (size_t i = 0; i < inner; ++i) {
        const size_t e = (o * channels + c) * inner + i;
        int32_t k;
        do k = uniform_int(r, qmin - zi[c] - 2, qmax - zi[c] + 2);
        while (k + zi[c] == qmin || k + zi[c] == qmax);
        x[e] = (float)(((double)k + (rng_uniform(r) - 0.5) * 0.8) * sc[c]);
        dy[e] = (float)rng_normal(r);
        const double v = (double)x[e] / sc[c];
        cst[e] = nearbyint(v) - v;
      }
  const float *zp = null_zero_points ? NULL : zf;
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, outer, channels, inner, sc, zp, qmin, qmax, g, dx, ds, dz));
  Q8_OK_OR_FAIL(q8_qat_fake_quantize(x, outer, channels, inner, sc, zp, qmin, qmax, y, mask));

  const surrogate S = {outer, channels, inner, qmin, qmax, cst, cz, dy};
  float *xp = falloc(n);
  memcpy(xp, x, n * sizeof *x);
  for (size_t c = 0; c < channels; ++c) {
    const double s = sc[c], z = zf[c], hs = 1e-4 * s, hz = 1e-3;
    const double fd_s = g * (sur_loss(&S, c, x, s + hs, z) - sur_loss(&S, c, x, s - hs, z)) / (2 * hs);
    const double fd_z = g * (sur_loss(&S, c, x, s, z + hz) - sur_loss(&S, c, x, s, z - hz)) / (2 * hz);
    const double es = rel_err(ds[c], fd_s), ez = rel_err(dz[c], fd_z);
    cr_assert(es < 1e-3, "bits %d kind %d [%zu,%zu,%zu] g %g: ds[%zu] = %.9g, fd %.9g", bits, kind, outer, channels,
              inner, (double)g, c, (double)ds[c], fd_s);
    cr_assert(ez < 1e-3, "bits %d kind %d [%zu,%zu,%zu] g %g: dz[%zu] = %.9g, fd %.9g", bits, kind, outer, channels,
              inner, (double)g, c, (double)dz[c], fd_z);
    st->ds = fmax(st->ds, es);
    st->dz = fmax(st->dz, ez);
    for (size_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < inner; ++i) {
        const size_t e = (o * channels + c) * inner + i;
        /* The surrogate's classification is the library's mask. */
        const double q0 = nearbyint((double)x[e] / s) + zi[c];
        cr_assert_eq(mask[e], q0 >= qmin && q0 <= qmax, "mask[%zu]", e);
        st->inside += mask[e];
        st->clipped += !mask[e];
        const double hx = 1e-3 * s;
        const double fd_x = (double)dy[e] * (sur_y(&S, e, c, (double)x[e] + hx, s, z) -
                                             sur_y(&S, e, c, (double)x[e] - hx, s, z)) / (2 * hx);
        const double ex = rel_err(dx[e], fd_x);
        cr_assert(ex < 1e-3, "dx[%zu] = %g, fd %g", e, (double)dx[e], fd_x);
        st->dx = fmax(st->dx, ex);
        st->checks++;
      }
  }
  free(x), free(dy), free(dx), free(y), free(xp), free(sc), free(zf), free(ds), free(dz), free(cst), free(cz);
  free(mask), free(zi);
}

Test(qat, lsq_gradients_match_finite_differences) {
  const size_t layouts[][3] = {{1, 1, 96}, {1, 6, 24}, {3, 4, 5}, {20, 3, 1}};
  test_rng r;
  rng_seed(&r, 2020);
  fd_stats st = {0};
  const int bit_widths[] = {2, 4, 8};
  for (size_t b = 0; b < 3; ++b)
    for (int kind = 0; kind < 3; ++kind)
      for (size_t li = 0; li < 4; ++li) {
        const size_t outer = layouts[li][0], channels = layouts[li][1], inner = layouts[li][2];
        int32_t qmin, qmax;
        Q8_OK_OR_FAIL(q8_qat_range(bit_widths[b], kind < 2, kind == 0, &qmin, &qmax));
        /* LSQ's own gradient scale, and 1. */
        const float lsq_g = (float)(1.0 / sqrt((double)(outer * inner) * qmax));
        lsq_fd_case(&r, outer, channels, inner, bit_widths[b], kind, lsq_g, kind == 1 && li % 2, &st);
        lsq_fd_case(&r, outer, channels, inner, bit_widths[b], kind, 1.0f, 0, &st);
      }
  cr_assert(st.inside > 1000 && st.clipped > 1000, "inside %zu, clipped %zu", st.inside, st.clipped);
  fprintf(stderr, "lsq: %zu elements, max relative error dx %.3g, dscale %.3g, dzero_point %.3g\n", st.checks,
          st.dx, st.ds, st.dz);
}

Test(qat, lsq_dx_is_the_ste_of_the_forward_mask) {
  const size_t outer = 2, channels = 3, inner = 500, n = outer * channels * inner;
  float *x = falloc(n), *dy = falloc(n), *y = falloc(n), *dx_lsq = falloc(n), *dx_ste = falloc(n);
  uint8_t *mask = malloc(n);
  const float sc[3] = {0.03f, 0.5f, 1e-30f}, zf[3] = {3.0f, 100.4f, 255.0f};
  test_rng r;
  rng_seed(&r, 5);
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < channels; ++c) nasty_data(&r, x + (o * channels + c) * inner, inner, sc[c], 0, 255);
  for (size_t k = 0; k < n; ++k) dy[k] = (float)rng_normal(&r);
  Q8_OK_OR_FAIL(q8_qat_fake_quantize(x, outer, channels, inner, sc, zf, 0, 255, y, mask));
  Q8_OK_OR_FAIL(q8_qat_ste_backward(dy, mask, n, dx_ste));
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, outer, channels, inner, sc, zf, 0, 255, 1.0f, dx_lsq, NULL, NULL));
  cr_assert(memcmp(dx_lsq, dx_ste, n * sizeof *dx_lsq) == 0);
  /* dx may alias dy or x. */
  float *alias = falloc(n);
  memcpy(alias, dy, n * sizeof *dy);
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, alias, outer, channels, inner, sc, zf, 0, 255, 1.0f, alias, NULL, NULL));
  cr_assert(memcmp(alias, dx_ste, n * sizeof *alias) == 0, "dx aliasing dy");
  float ds_ref[3], dz_ref[3], ds[3], dz[3];
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, outer, channels, inner, sc, zf, 0, 255, 0.5f, NULL, ds_ref, dz_ref));
  memcpy(alias, x, n * sizeof *x);
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(alias, dy, outer, channels, inner, sc, zf, 0, 255, 0.5f, alias, ds, dz));
  cr_assert(memcmp(alias, dx_ste, n * sizeof *alias) == 0, "dx aliasing x");
  cr_assert(memcmp(ds, ds_ref, sizeof ds) == 0 && memcmp(dz, dz_ref, sizeof dz) == 0);
  free(x), free(dy), free(y), free(dx_lsq), free(dx_ste), free(mask), free(alias);
}

Test(qat, lsq_nan_inputs_pass_no_gradient_and_infinities_clip) {
  /* Channel sums with NaN elements equal the sums without them (NaN gives y = 0: nothing depends
   * on x, s or z there); +-Inf contribute exactly as the largest finite values (clipped). */
  const float sc[2] = {0.25f, 0.1f}, zf[2] = {10.0f, 0.0f};
  const float x_nan[8] = {1.0f, NAN, -3.3f, 100.0f, 0.7f, NAN, -30.0f, 2.0f};
  const float x_without[8] = {1.0f, 0.0f, -3.3f, 100.0f, 0.7f, 0.0f, -30.0f, 2.0f};
  const float dy[8] = {0.5f, 2.0f, -1.0f, 0.25f, 3.0f, -2.0f, 1.5f, -0.75f};
  const float dy_zeroed[8] = {0.5f, 0.0f, -1.0f, 0.25f, 3.0f, 0.0f, 1.5f, -0.75f};
  float dx[8], ds[2], dz[2], dx2[8], ds2[2], dz2[2];
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x_nan, dy, 1, 2, 4, sc, zf, 0, 255, 1.0f, dx, ds, dz));
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x_without, dy_zeroed, 1, 2, 4, sc, zf, 0, 255, 1.0f, dx2, ds2, dz2));
  cr_assert(dx[1] == 0.0f && dx[5] == 0.0f && isfinite(ds[0]) && isfinite(ds[1]));
  cr_assert(ds[0] == ds2[0] && ds[1] == ds2[1] && dz[0] == dz2[0] && dz[1] == dz2[1]);
  cr_assert(ds[0] != 0.0f && dz[0] != 0.0f, "channel 0 has clipped elements (-3.3 and 100 at s 0.25, z 10)");

  const float x_inf[4] = {INFINITY, 1.0f, -INFINITY, 2.0f}, x_big[4] = {FLT_MAX, 1.0f, -FLT_MAX, 2.0f};
  const float dy4[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float dx_a[4], dx_b[4], ds_a, ds_b, dz_a, dz_b;
  const float s1 = 0.5f, z1 = 3.0f;
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x_inf, dy4, 1, 1, 4, &s1, &z1, 0, 15, 1.0f, dx_a, &ds_a, &dz_a));
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x_big, dy4, 1, 1, 4, &s1, &z1, 0, 15, 1.0f, dx_b, &ds_b, &dz_b));
  cr_assert(memcmp(dx_a, dx_b, sizeof dx_a) == 0 && ds_a == ds_b && dz_a == dz_b);
  /* By hand: clipped terms (15 - 3) * 1 + (0 - 3) * 3 = 3; inside (2 - 2) * 2 + (4 - 4) * 4 = 0;
   * dz = -s * (1 + 3) = -2. */
  cr_assert(ds_a == 3.0f && dz_a == -2.0f && dx_a[0] == 0.0f && dx_a[1] == 2.0f, "ds %g dz %g", (double)ds_a,
            (double)dz_a);
}

Test(qat, lsq_outputs_may_be_skipped) {
  const size_t n = 60;
  float x[60], dy[60], dx[60], dx2[60], ds[4], ds2[4] = {-7, -7, -7, -7}, dz[4], dz2[4] = {-7, -7, -7, -7};
  const float sc[4] = {0.1f, 0.2f, 0.3f, 0.4f}, zf[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  test_rng r;
  rng_seed(&r, 3);
  for (size_t i = 0; i < n; ++i) x[i] = (float)rng_normal(&r) * 2.0f, dy[i] = (float)rng_normal(&r);
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, 3, 4, 5, sc, zf, 0, 7, 0.3f, dx, ds, dz));
  memset(dx2, 0x7f, sizeof dx2);
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, 3, 4, 5, sc, zf, 0, 7, 0.3f, NULL, ds2, NULL));
  cr_assert(memcmp(ds, ds2, sizeof ds) == 0 && dz2[0] == -7.0f);
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, 3, 4, 5, sc, zf, 0, 7, 0.3f, NULL, NULL, dz2));
  cr_assert(memcmp(dz, dz2, sizeof dz) == 0);
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, 3, 4, 5, sc, zf, 0, 7, 0.3f, dx2, NULL, NULL));
  cr_assert(memcmp(dx, dx2, sizeof dx) == 0);
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, 3, 4, 5, sc, zf, 0, 7, 0.3f, NULL, NULL, NULL));
  /* No elements: the channel sums are empty, so 0. */
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(NULL, NULL, 0, 4, 5, sc, zf, 0, 7, 0.3f, NULL, ds2, dz2));
  for (int c = 0; c < 4; ++c) cr_assert(ds2[c] == 0.0f && dz2[c] == 0.0f);
}

/* ---- results do not depend on the thread count ------------------------------------------------ */

Test(qat, results_do_not_depend_on_the_thread_count) {
  /* Large enough to run on several threads and to split each channel's sums into many pieces. */
  const size_t layouts[][3] = {{1, 1, 1 << 20}, {4, 3, 70001}, {300000, 3, 1}};
  test_rng r;
  rng_seed(&r, 99);
  for (size_t li = 0; li < 3; ++li) {
    const size_t outer = layouts[li][0], channels = layouts[li][1], inner = layouts[li][2];
    const size_t n = outer * channels * inner;
    float *x = falloc(n), *dy = falloc(n), *y[3], *dx[3], ds[3][3], dz[3][3], sc[3], zf[3];
    uint8_t *mask[3];
    for (size_t c = 0; c < channels; ++c) sc[c] = 0.02f * (float)(c + 1), zf[c] = 100.0f + (float)c;
    for (size_t k = 0; k < n; ++k) x[k] = (float)rng_normal(&r) * 2.0f, dy[k] = (float)rng_normal(&r);
    const int threads[3] = {0, 1, 2};
    for (int t = 0; t < 3; ++t) {
      Q8_OK_OR_FAIL(q8_runtime_set_threads(threads[t]));
      y[t] = falloc(n), dx[t] = falloc(n), mask[t] = malloc(n);
      Q8_OK_OR_FAIL(q8_qat_fake_quantize(x, outer, channels, inner, sc, zf, 0, 255, y[t], mask[t]));
      Q8_OK_OR_FAIL(q8_qat_lsq_backward(x, dy, outer, channels, inner, sc, zf, 0, 255, 0.01f, dx[t], ds[t], dz[t]));
    }
    Q8_OK_OR_FAIL(q8_runtime_set_threads(0));
    for (int t = 1; t < 3; ++t) {
      cr_assert(memcmp(y[0], y[t], n * sizeof(float)) == 0 && memcmp(mask[0], mask[t], n) == 0);
      cr_assert(memcmp(dx[0], dx[t], n * sizeof(float)) == 0);
      cr_assert(memcmp(ds[0], ds[t], channels * sizeof(float)) == 0, "layout %zu: ds %a vs %a", li,
                (double)ds[0][0], (double)ds[t][0]);
      cr_assert(memcmp(dz[0], dz[t], channels * sizeof(float)) == 0, "layout %zu", li);
    }
    /* The double sums: within a few f32 roundings of a sum in long double. */
    for (size_t c = 0; c < channels; ++c) {
      long double sum_s = 0;
      for (size_t o = 0; o < outer; ++o)
        for (size_t i = 0; i < inner; ++i) {
          const size_t e = (o * channels + c) * inner + i;
          const float v = x[e] / sc[c], rv = nearbyintf(v), q = rv + (float)(int32_t)zf[c];
          const long double term = q >= 0 && q <= 255 ? (long double)rv - v : (q < 0 ? 0 : 255) - (long double)zf[c];
          sum_s += (long double)dy[e] * term;
        }
      cr_assert(rel_err(ds[0][c], (double)(0.01L * sum_s)) < 1e-6, "channel %zu: %.9g vs %.9Lg", c, (double)ds[0][c],
                0.01L * sum_s);
    }
    for (int t = 0; t < 3; ++t) free(y[t]), free(dx[t]), free(mask[t]);
    free(x), free(dy);
  }
}

/* ---- BatchNorm folding ---------------------------------------------------------------------- */

typedef struct {
  size_t channels, per_channel;
  float *w, *b, *gamma, *beta, *mean, *var;
  float eps;
} bn_case;

static bn_case bn_random(test_rng *r, size_t channels, size_t per_channel, float eps) {
  bn_case k = {channels, per_channel, falloc(channels * per_channel), falloc(channels), falloc(channels),
               falloc(channels), falloc(channels), falloc(channels), eps};
  for (size_t i = 0; i < channels * per_channel; ++i) k.w[i] = (float)rng_normal(r) * 0.3f;
  for (size_t c = 0; c < channels; ++c) {
    k.b[c] = (float)rng_normal(r);
    k.gamma[c] = (float)(rng_normal(r) * 0.5 + 1.0);
    k.beta[c] = (float)rng_normal(r) * 0.2f;
    k.mean[c] = (float)rng_normal(r);
    k.var[c] = (float)(rng_uniform(r) * 2.0 + (eps == 0.0f ? 0.01 : 0.0)); /* var may be 0 when eps > 0 */
  }
  return k;
}

static void bn_free(bn_case *k) { free(k->w), free(k->b), free(k->gamma), free(k->beta), free(k->mean), free(k->var); }

/* The fold in double (qat.h), evaluated as q8's ONNX import does: f = gamma / sqrt(var + eps),
 * b' = b * f + (beta - mean * f). Parameters are passed as doubles so finite differences can move
 * them. */
static void bn_ref(size_t per_channel, const double *w, double b, double gamma, double beta, double mean, double var,
                   double eps, double *wf, double *bf) {
  const double f = gamma / sqrt(var + eps);
  for (size_t j = 0; j < per_channel; ++j) wf[j] = w[j] * f;
  *bf = b * f + (beta - mean * f);
}

Test(qat, fold_batchnorm_matches_a_double_reference) {
  test_rng r;
  rng_seed(&r, 31);
  const float epss[2] = {1e-5f, 0.0f};
  for (int ei = 0; ei < 2; ++ei)
    for (int with_bias = 0; with_bias < 2; ++with_bias) {
      const size_t C = 6, P = 27;
      bn_case k = bn_random(&r, C, P, epss[ei]);
      if (ei == 0) k.var[2] = 0.0f;
      float *wf = falloc(C * P), bf[6];
      Q8_OK_OR_FAIL(q8_qat_fold_batchnorm(k.w, with_bias ? k.b : NULL, C, P, k.gamma, k.beta, k.mean, k.var, k.eps,
                                          wf, bf));
      double w64[27], wf64[27], bf64;
      for (size_t c = 0; c < C; ++c) {
        for (size_t j = 0; j < P; ++j) w64[j] = k.w[c * P + j];
        bn_ref(P, w64, with_bias ? k.b[c] : 0.0, k.gamma[c], k.beta[c], k.mean[c], k.var[c], k.eps, wf64, &bf64);
        for (size_t j = 0; j < P; ++j)
          cr_assert(fbits(wf[c * P + j]) == fbits((float)wf64[j]), "w'[%zu][%zu] = %a, want %a", c, j,
                    (double)wf[c * P + j], (double)(float)wf64[j]);
        cr_assert(fbits(bf[c]) == fbits((float)bf64), "b'[%zu] = %a, want %a", c, (double)bf[c], (double)(float)bf64);
        /* The header's form, (b - mean) * f + beta, is the same number to double rounding. */
        const double f = (double)k.gamma[c] / sqrt((double)k.var[c] + k.eps);
        const double spec = ((with_bias ? k.b[c] : 0.0) - k.mean[c]) * f + k.beta[c];
        cr_assert(fabs(bf[c] - spec) <= 1e-6 * fmax(fabs(spec), 1.0), "b'[%zu] vs the header's formula", c);
      }
      /* In place: folded_weights == weights, folded_bias == bias. */
      if (with_bias) {
        Q8_OK_OR_FAIL(q8_qat_fold_batchnorm(k.w, k.b, C, P, k.gamma, k.beta, k.mean, k.var, k.eps, k.w, k.b));
        cr_assert(memcmp(k.w, wf, C * P * sizeof *wf) == 0 && memcmp(k.b, bf, sizeof bf) == 0, "aliasing");
      }
      free(wf);
      bn_free(&k);
    }
  Q8_OK_OR_FAIL(q8_qat_fold_batchnorm(NULL, NULL, 0, 5, NULL, NULL, NULL, NULL, 1e-5f, NULL, NULL));
  /* Bias-only layers (per_channel 0). */
  const float g[2] = {2.0f, 1.0f}, be[2] = {1.0f, 0.0f}, mu[2] = {0.5f, 0.0f}, va[2] = {4.0f, 1.0f};
  const float bias[2] = {1.5f, 3.0f};
  float out[2];
  Q8_OK_OR_FAIL(q8_qat_fold_batchnorm(NULL, bias, 2, 0, g, be, mu, va, 0.0f, NULL, out));
  cr_assert(out[0] == 2.0f && out[1] == 3.0f, "%g %g", (double)out[0], (double)out[1]);
}

Test(qat, fold_batchnorm_backward_matches_finite_differences) {
  test_rng r;
  rng_seed(&r, 32);
  double max_w = 0, max_b = 0, max_g = 0, max_be = 0;
  const size_t shapes[][2] = {{1, 1}, {4, 9}, {7, 3}, {3, 150}};
  for (size_t si = 0; si < 4; ++si)
    for (int with_bias = 0; with_bias < 2; ++with_bias) {
      const size_t C = shapes[si][0], P = shapes[si][1];
      bn_case k = bn_random(&r, C, P, with_bias ? 1e-3f : 0.0f);
      float *gw = falloc(C * P), *gb = falloc(C), *dw = falloc(C * P);
      float *db = falloc(C), *dg = falloc(C), *dbe = falloc(C);
      for (size_t i = 0; i < C * P; ++i) gw[i] = (float)rng_normal(&r);
      for (size_t c = 0; c < C; ++c) gb[c] = (float)rng_normal(&r);
      const float *bias = with_bias ? k.b : NULL;
      Q8_OK_OR_FAIL(q8_qat_fold_batchnorm_backward(k.w, bias, C, P, k.gamma, k.mean, k.var, k.eps, gw, gb, dw, db, dg,
                                                   dbe));
      double *w64 = malloc(P * sizeof *w64), *wf64 = malloc(P * sizeof *wf64);
      for (size_t c = 0; c < C; ++c) {
        /* L = sum_j gw * w' + gb * b' over channel c, in double. */
        double th[3] = {with_bias ? k.b[c] : 0.0, k.gamma[c], k.beta[c]}; /* b, gamma, beta */
        for (size_t j = 0; j < P; ++j) w64[j] = k.w[c * P + j];
#define BN_LOSS(out)                                                                               \
  do {                                                                                             \
    double bf_;                                                                                    \
    bn_ref(P, w64, th[0], th[1], th[2], k.mean[c], k.var[c], k.eps, wf64, &bf_);                  \
    (out) = (double)gb[c] * bf_;                                                                   \
    for (size_t j_ = 0; j_ < P; ++j_) (out) += (double)gw[c * P + j_] * wf64[j_];                  \
  } while (0)
        double fd[3];
        for (int p = 0; p < 3; ++p) {
          const double h = 1e-4 * fmax(fabs(th[p]), 1.0), keep = th[p];
          double lp, lm;
          th[p] = keep + h;
          BN_LOSS(lp);
          th[p] = keep - h;
          BN_LOSS(lm);
          th[p] = keep;
          fd[p] = (lp - lm) / (2 * h);
        }
        const double eb = rel_err(db[c], fd[0]), eg = rel_err(dg[c], fd[1]), ebe = rel_err(dbe[c], fd[2]);
        cr_assert(eb < 1e-3 && eg < 1e-3 && ebe < 1e-3, "channel %zu: db %g/%g dgamma %g/%g dbeta %g/%g", c,
                  (double)db[c], fd[0], (double)dg[c], fd[1], (double)dbe[c], fd[2]);
        max_b = fmax(max_b, eb), max_g = fmax(max_g, eg), max_be = fmax(max_be, ebe);
        for (size_t j = 0; j < P; ++j) {
          const double keep = w64[j], h = 1e-4 * fmax(fabs(keep), 1.0);
          double lp, lm;
          w64[j] = keep + h;
          BN_LOSS(lp);
          w64[j] = keep - h;
          BN_LOSS(lm);
          w64[j] = keep;
          const double e = rel_err(dw[c * P + j], (lp - lm) / (2 * h));
          cr_assert(e < 1e-3, "dw[%zu][%zu] = %g, fd %g", c, j, (double)dw[c * P + j], (lp - lm) / (2 * h));
          max_w = fmax(max_w, e);
        }
#undef BN_LOSS
      }
      /* Skipped outputs leave the others unchanged; outputs may alias the gradients they come from. */
      float *dw2 = falloc(C * P), *dg2 = falloc(C), *db2 = falloc(C);
      Q8_OK_OR_FAIL(q8_qat_fold_batchnorm_backward(k.w, bias, C, P, k.gamma, k.mean, k.var, k.eps, gw, gb, dw2, db2,
                                                   dg2, NULL));
      cr_assert(memcmp(dw2, dw, C * P * sizeof *dw) == 0 && memcmp(db2, db, C * sizeof *db) == 0 &&
                memcmp(dg2, dg, C * sizeof *dg) == 0);
      memcpy(dw2, gw, C * P * sizeof *gw);
      memcpy(db2, gb, C * sizeof *gb);
      Q8_OK_OR_FAIL(q8_qat_fold_batchnorm_backward(k.w, bias, C, P, k.gamma, k.mean, k.var, k.eps, dw2, db2, dw2, db2,
                                                   dg2, NULL));
      cr_assert(memcmp(dw2, dw, C * P * sizeof *dw) == 0 && memcmp(db2, db, C * sizeof *db) == 0 &&
                memcmp(dg2, dg, C * sizeof *dg) == 0, "aliasing");
      free(dw2), free(dg2), free(db2), free(w64), free(wf64);
      free(gw), free(gb), free(dw), free(db), free(dg), free(dbe);
      bn_free(&k);
    }
  fprintf(stderr, "fold backward: max relative error dweights %.3g, dbias %.3g, dgamma %.3g, dbeta %.3g\n", max_w,
          max_b, max_g, max_be);
}

/* Whether the n bytes at p occur in blob b. */
static int contains(const uint8_t *b, size_t size, const void *p, size_t n) {
  for (size_t i = 0; i + n <= size; ++i)
    if (memcmp(b + i, p, n) == 0) return 1;
  return 0;
}

Test(qat, fold_batchnorm_agrees_with_the_onnx_import_bit_for_bit) {
  /* tests/data/onnx/conv_bn.onnx (scripts/make_onnx_fixtures.py): Conv W [3, 2, 3, 3] and b [3]
   * from w_value with salts 3 and 4, BatchNormalization with epsilon 1e-3 and bn_params(3, 0).
   * The import folds it; the folded constants saved in the .q8 bytes must be exactly ours. */
  const char *dir = getenv("Q8_TEST_DATA");
  cr_assert_not_null(dir, "Q8_TEST_DATA is not set");
  char path[1024];
  snprintf(path, sizeof path, "%s/onnx/conv_bn.onnx", dir);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &m));
  void *bytes = NULL;
  size_t size = 0;
  Q8_OK_OR_FAIL(q8_model_save_bytes(m, &bytes, &size));
  float w[54], b[3], g[3], be[3], mu[3], va[3], wf[54], bf[3];
  for (size_t i = 0; i < 54; ++i) w[i] = (float)(((double)((i * 37 + 3 * 11) % 17) - 8.0) / 16.0);
  for (size_t i = 0; i < 3; ++i) {
    b[i] = (float)(((double)((i * 37 + 4 * 11) % 17) - 8.0) / 16.0);
    g[i] = (float)(0.5 + 0.25 * (double)i), be[i] = (float)(0.1 - 0.05 * (double)i);
    mu[i] = (float)(0.2 * (double)i - 0.1), va[i] = (float)(0.5 + 0.5 * (double)i);
  }
  Q8_OK_OR_FAIL(q8_qat_fold_batchnorm(w, b, 3, 18, g, be, mu, va, 1e-3f, wf, bf));
  cr_assert(contains(bytes, size, wf, sizeof wf), "the import's folded weights differ");
  cr_assert(contains(bytes, size, bf, sizeof bf), "the import's folded bias differs");
  /* and the unfolded weights are gone (the check above is not matching them) */
  cr_assert(!contains(bytes, size, w, sizeof w));
  q8_free(bytes);
  q8_model_destroy(m);
}

/* ---- observer freezing ---------------------------------------------------------------------- */

static q8_tensor *batch_of(const float *x, int64_t rows, int64_t cols) {
  const int64_t shape[2] = {rows, cols};
  q8_tensor *t = make_tensor(Q8_DTYPE_F32, shape, 2);
  memcpy(tensor_data(t), x, (size_t)(rows * cols) * sizeof *x);
  return t;
}

Test(qat, frozen_observers_ignore_updates_until_unfrozen) {
  float a[64], b[64];
  test_rng r;
  rng_seed(&r, 41);
  for (int i = 0; i < 64; ++i) a[i] = (float)rng_normal(&r), b[i] = (float)rng_normal(&r) * 40.0f + 7.0f;
  for (int kind = Q8_OBSERVER_MINMAX; kind <= Q8_OBSERVER_MSE; ++kind)
    for (int axis = -1; axis <= 1; axis += 2) {
      q8_observer_options o;
      Q8_OK_OR_FAIL(q8_observer_options_init(&o));
      o.kind = (q8_observer_kind)kind;
      o.axis = axis;
      o.averaging_constant = 0.5f;
      q8_observer *obs = NULL;
      Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
      int frozen = 7;
      Q8_OK_OR_FAIL(q8_observer_frozen(obs, &frozen));
      cr_assert_eq(frozen, 0, "observers start live");
      q8_tensor *ta = batch_of(a, 16, 4), *tb = batch_of(b, 16, 4);
      Q8_OK_OR_FAIL(q8_observer_update(obs, ta));
      size_t ch = 0;
      Q8_OK_OR_FAIL(q8_observer_channels(obs, &ch));
      float mn0[4], mx0[4], sc0[4], mn1[4], mx1[4], sc1[4];
      int32_t zp0[4], zp1[4];
      Q8_OK_OR_FAIL(q8_observer_range(obs, mn0, mx0, ch));
      Q8_OK_OR_FAIL(q8_observer_qparams(obs, sc0, zp0, ch));

      Q8_OK_OR_FAIL(q8_observer_set_frozen(obs, 42));
      Q8_OK_OR_FAIL(q8_observer_frozen(obs, &frozen));
      cr_assert_eq(frozen, 1);
      Q8_OK_OR_FAIL(q8_observer_update(obs, tb));
      Q8_OK_OR_FAIL(q8_observer_update(obs, tb));
      Q8_OK_OR_FAIL(q8_observer_range(obs, mn1, mx1, ch));
      Q8_OK_OR_FAIL(q8_observer_qparams(obs, sc1, zp1, ch));
      cr_assert(memcmp(mn0, mn1, ch * sizeof(float)) == 0 && memcmp(mx0, mx1, ch * sizeof(float)) == 0 &&
                memcmp(sc0, sc1, ch * sizeof(float)) == 0 && memcmp(zp0, zp1, ch * sizeof(int32_t)) == 0,
                "kind %d axis %d: a frozen observer moved", kind, axis);
      /* Frozen still checks the batch. */
      q8_tensor *u8 = make_tensor(Q8_DTYPE_U8, (const int64_t[]){16, 4}, 2);
      Q8_EXPECT_ERROR(q8_observer_update(obs, u8), Q8_ERR_DTYPE, "batch");
      if (axis == 1) {
        q8_tensor *wide = make_tensor(Q8_DTYPE_F32, (const int64_t[]){2, 5}, 2);
        Q8_EXPECT_ERROR(q8_observer_update(obs, wide), Q8_ERR_SHAPE, "channels");
        q8_tensor_destroy(wide);
      }
      q8_tensor_destroy(u8);

      /* Unfrozen, the same batch moves the range. */
      Q8_OK_OR_FAIL(q8_observer_set_frozen(obs, 0));
      Q8_OK_OR_FAIL(q8_observer_frozen(obs, &frozen));
      cr_assert_eq(frozen, 0);
      Q8_OK_OR_FAIL(q8_observer_update(obs, tb));
      Q8_OK_OR_FAIL(q8_observer_range(obs, mn1, mx1, ch));
      cr_assert(memcmp(mx0, mx1, ch * sizeof(float)) != 0, "kind %d axis %d: unfrozen, the wider batch changed nothing",
                kind, axis);

      /* Reset keeps the flag: frozen and empty stays empty. */
      Q8_OK_OR_FAIL(q8_observer_set_frozen(obs, 1));
      Q8_OK_OR_FAIL(q8_observer_reset(obs));
      Q8_OK_OR_FAIL(q8_observer_frozen(obs, &frozen));
      cr_assert_eq(frozen, 1, "reset unfroze the observer");
      Q8_OK_OR_FAIL(q8_observer_update(obs, tb));
      Q8_EXPECT_ERROR(q8_observer_channels(obs, &ch), Q8_ERR_STATE, "not seen any data");
      Q8_OK_OR_FAIL(q8_observer_set_frozen(obs, 0));
      Q8_OK_OR_FAIL(q8_observer_update(obs, ta));
      Q8_OK_OR_FAIL(q8_observer_range(obs, mn1, mx1, ch));
      cr_assert(memcmp(mn0, mn1, ch * sizeof(float)) == 0 && memcmp(mx0, mx1, ch * sizeof(float)) == 0,
                "kind %d axis %d: after reset the first batch gives the first range again", kind, axis);
      q8_tensor_destroy(ta), q8_tensor_destroy(tb);
      q8_observer_destroy(obs);
    }
}

/* ---- bad input ---------------------------------------------------------------------------- */

Test(qat, range_rejects_bad_arguments) {
  int32_t lo = 99, hi = 99;
  Q8_EXPECT_ERROR(q8_qat_range(8, 1, 1, NULL, &hi), Q8_ERR_INVALID_ARGUMENT, "qmin is NULL");
  Q8_EXPECT_ERROR(q8_qat_range(8, 1, 1, &lo, NULL), Q8_ERR_INVALID_ARGUMENT, "qmax is NULL");
  const int bad[] = {1, 9, 0, -1, 32, INT_MIN, INT_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i)
    Q8_EXPECT_ERROR(q8_qat_range(bad[i], 0, 0, &lo, &hi), Q8_ERR_INVALID_ARGUMENT, "bits");
  Q8_EXPECT_ERROR(q8_qat_range(9, 1, 0, &lo, &hi), Q8_ERR_INVALID_ARGUMENT, "bits = 9");
  Q8_EXPECT_ERROR(q8_qat_range(1, 1, 0, &lo, &hi), Q8_ERR_INVALID_ARGUMENT, "bits = 1");
  cr_assert(lo == 99 && hi == 99, "outputs written on failure");
}

Test(qat, qparams_rejects_bad_arguments) {
  const float mn[2] = {-1.0f, 0.0f}, mx[2] = {1.0f, 2.0f};
  float sc[2] = {-1, -1}, zp[2] = {-1, -1};
  Q8_EXPECT_ERROR(q8_qat_qparams(NULL, mx, 2, 0, 255, sc, zp), Q8_ERR_INVALID_ARGUMENT, "mins is NULL");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, NULL, 2, 0, 255, sc, zp), Q8_ERR_INVALID_ARGUMENT, "maxs is NULL");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, mx, 2, 0, 255, NULL, zp), Q8_ERR_INVALID_ARGUMENT, "scales is NULL");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, mx, 2, 0, 255, sc, NULL), Q8_ERR_INVALID_ARGUMENT, "zero_points is NULL");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, mx, 2, 10, 5, sc, zp), Q8_ERR_INVALID_ARGUMENT, "qmin = 10");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, mx, 2, 5, 5, sc, zp), Q8_ERR_INVALID_ARGUMENT, "qmin = 5");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, mx, 2, 0, 0, sc, zp), Q8_ERR_INVALID_ARGUMENT, "qmax = 0");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, mx, 2, -129, 127, sc, zp), Q8_ERR_INVALID_ARGUMENT, "qmin = -129");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, mx, 2, 0, 256, sc, zp), Q8_ERR_INVALID_ARGUMENT, "qmax = 256");
  const float nan_mn[2] = {-1.0f, NAN}, inf_mx[2] = {INFINITY, 1.0f};
  const float big_mn[2] = {-3e38f, 0.0f}, big_mx[2] = {3e38f, 0.0f};
  Q8_EXPECT_ERROR(q8_qat_qparams(nan_mn, mx, 2, 0, 255, sc, zp), Q8_ERR_INVALID_ARGUMENT, "mins[1]");
  Q8_EXPECT_ERROR(q8_qat_qparams(mn, inf_mx, 2, 0, 255, sc, zp), Q8_ERR_INVALID_ARGUMENT, "maxs[0]");
  Q8_EXPECT_ERROR(q8_qat_qparams(mx, mn, 2, 0, 255, sc, zp), Q8_ERR_INVALID_ARGUMENT, "mins[0]");
  Q8_EXPECT_ERROR(q8_qat_qparams(big_mn, big_mx, 2, 0, 255, sc, zp), Q8_ERR_INVALID_ARGUMENT, "too wide");
  cr_assert(sc[0] == -1 && sc[1] == -1 && zp[0] == -1 && zp[1] == -1, "outputs written on failure");
  /* Symmetric handles the same huge range: max(|min|, |max|) / qmax is finite. */
  Q8_OK_OR_FAIL(q8_qat_qparams(big_mn, big_mx, 2, -127, 127, sc, zp));
  Q8_OK_OR_FAIL(q8_qat_qparams(NULL, NULL, 0, 0, 255, NULL, NULL));
}

/* Every scale and zero point that must be refused, for the functions taking them. */
static const float kBadScales[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
static const float kBadZeroPoints[] = {NAN, INFINITY, -INFINITY};

Test(qat, fake_quantize_rejects_bad_arguments) {
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {-9, -9, -9, -9, -9, -9};
  uint8_t mask[6] = {9, 9, 9, 9, 9, 9};
  float sc[2] = {0.1f, 0.2f}, zp[2] = {1.0f, 2.0f};
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(NULL, 1, 2, 3, sc, zp, 0, 255, y, mask), Q8_ERR_INVALID_ARGUMENT, "x is NULL");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, NULL, zp, 0, 255, y, mask), Q8_ERR_INVALID_ARGUMENT,
                  "scales is NULL");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, sc, zp, 0, 255, NULL, mask), Q8_ERR_INVALID_ARGUMENT, "y is NULL");
  for (size_t i = 0; i < sizeof kBadScales / sizeof kBadScales[0]; ++i) {
    sc[1] = kBadScales[i];
    Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, sc, zp, 0, 255, y, mask), Q8_ERR_INVALID_ARGUMENT, "scales[1]");
    /* checked even when there are no elements */
    Q8_EXPECT_ERROR(q8_qat_fake_quantize(NULL, 0, 2, 3, sc, zp, 0, 255, NULL, NULL), Q8_ERR_INVALID_ARGUMENT,
                    "scales[1]");
  }
  sc[1] = 0.2f;
  for (size_t i = 0; i < sizeof kBadZeroPoints / sizeof kBadZeroPoints[0]; ++i) {
    zp[0] = kBadZeroPoints[i];
    Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, sc, zp, 0, 255, y, mask), Q8_ERR_INVALID_ARGUMENT,
                    "zero_points[0]");
  }
  zp[0] = 1.0f;
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, sc, zp, 3, 2, y, mask), Q8_ERR_INVALID_ARGUMENT, "qmin = 3");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, sc, zp, -129, 2, y, mask), Q8_ERR_INVALID_ARGUMENT, "qmin = -129");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, sc, zp, 0, 256, y, mask), Q8_ERR_INVALID_ARGUMENT, "qmax = 256");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 1, 2, 3, sc, zp, 0, INT32_MAX, y, mask), Q8_ERR_INVALID_ARGUMENT, "qmax");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, SIZE_MAX, 2, 3, sc, zp, 0, 255, y, mask), Q8_ERR_SHAPE,
                  "outer * channels * inner");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, 3, 2, SIZE_MAX / 4, sc, zp, 0, 255, y, mask), Q8_ERR_SHAPE, "overflows");
  Q8_EXPECT_ERROR(q8_qat_fake_quantize(x, (size_t)1 << 61, 2, 1, sc, zp, 0, 255, y, mask), Q8_ERR_SHAPE,
                  "too many f32 elements");
  for (int i = 0; i < 6; ++i) cr_assert(y[i] == -9.0f && mask[i] == 9, "outputs written on failure");
  /* Size 0 in any position is valid, with or without arrays. */
  Q8_OK_OR_FAIL(q8_qat_fake_quantize(NULL, 0, 0, 0, NULL, NULL, 0, 255, NULL, NULL));
  Q8_OK_OR_FAIL(q8_qat_fake_quantize(NULL, SIZE_MAX, 0, SIZE_MAX, NULL, NULL, 0, 255, NULL, NULL));
  Q8_OK_OR_FAIL(q8_qat_fake_quantize(NULL, 4, 2, 0, sc, zp, 0, 255, NULL, NULL));
  /* qmin == qmax is one level, and the zero point (NULL: 0) is clamped into it: every y is 0 and
   * only q == 4, i.e. x == 0, is not clipped. */
  const float xs[6] = {0.0f, 1.0f, -1.0f, 0.01f, 100.0f, -0.0f};
  Q8_OK_OR_FAIL(q8_qat_fake_quantize(xs, 1, 2, 3, sc, NULL, 4, 4, y, mask));
  for (int i = 0; i < 6; ++i)
    cr_assert(y[i] == 0.0f && mask[i] == (i == 0 || i == 5 || i == 3), "y[%d] = %g, mask %d", i, (double)y[i], mask[i]);
}

Test(qat, ste_rejects_bad_arguments) {
  float dy[2] = {1, 2}, dx[2] = {-9, -9};
  uint8_t mask[2] = {1, 1};
  Q8_EXPECT_ERROR(q8_qat_ste_backward(NULL, mask, 2, dx), Q8_ERR_INVALID_ARGUMENT, "dy is NULL");
  Q8_EXPECT_ERROR(q8_qat_ste_backward(dy, NULL, 2, dx), Q8_ERR_INVALID_ARGUMENT, "mask is NULL");
  Q8_EXPECT_ERROR(q8_qat_ste_backward(dy, mask, 2, NULL), Q8_ERR_INVALID_ARGUMENT, "dx is NULL");
  Q8_EXPECT_ERROR(q8_qat_ste_backward(dy, mask, SIZE_MAX, dx), Q8_ERR_SHAPE, "n = ");
  cr_assert(dx[0] == -9.0f && dx[1] == -9.0f);
}

Test(qat, lsq_rejects_bad_arguments) {
  float x[6] = {1, 2, 3, 4, 5, 6}, dy[6] = {1, 1, 1, 1, 1, 1}, dx[6] = {-9, -9, -9, -9, -9, -9};
  float sc[2] = {0.1f, 0.2f}, zp[2] = {1.0f, 2.0f}, ds[2] = {-9, -9}, dz[2] = {-9, -9};
#define LSQ(x_, dy_, o_, sc_, zp_, lo_, hi_) \
  q8_qat_lsq_backward(x_, dy_, o_, 2, 3, sc_, zp_, lo_, hi_, 1.0f, dx, ds, dz)
  Q8_EXPECT_ERROR(LSQ(NULL, dy, 1, sc, zp, 0, 255), Q8_ERR_INVALID_ARGUMENT, "x is NULL");
  Q8_EXPECT_ERROR(LSQ(x, NULL, 1, sc, zp, 0, 255), Q8_ERR_INVALID_ARGUMENT, "dy is NULL");
  Q8_EXPECT_ERROR(LSQ(x, dy, 1, NULL, zp, 0, 255), Q8_ERR_INVALID_ARGUMENT, "scales is NULL");
  for (size_t i = 0; i < sizeof kBadScales / sizeof kBadScales[0]; ++i) {
    sc[0] = kBadScales[i];
    Q8_EXPECT_ERROR(LSQ(x, dy, 1, sc, zp, 0, 255), Q8_ERR_INVALID_ARGUMENT, "scales[0]");
  }
  sc[0] = 0.1f;
  for (size_t i = 0; i < sizeof kBadZeroPoints / sizeof kBadZeroPoints[0]; ++i) {
    zp[1] = kBadZeroPoints[i];
    Q8_EXPECT_ERROR(LSQ(x, dy, 1, sc, zp, 0, 255), Q8_ERR_INVALID_ARGUMENT, "zero_points[1]");
  }
  zp[1] = 2.0f;
  Q8_EXPECT_ERROR(LSQ(x, dy, 1, sc, zp, 1, 0), Q8_ERR_INVALID_ARGUMENT, "qmin = 1");
  Q8_EXPECT_ERROR(LSQ(x, dy, 1, sc, zp, -200, 0), Q8_ERR_INVALID_ARGUMENT, "qmin = -200");
  Q8_EXPECT_ERROR(LSQ(x, dy, 1, sc, zp, 0, 300), Q8_ERR_INVALID_ARGUMENT, "qmax = 300");
  Q8_EXPECT_ERROR(LSQ(x, dy, SIZE_MAX / 3, sc, zp, 0, 255), Q8_ERR_SHAPE, "outer * channels * inner");
#undef LSQ
  for (int i = 0; i < 6; ++i) cr_assert(dx[i] == -9.0f);
  cr_assert(ds[0] == -9.0f && ds[1] == -9.0f && dz[0] == -9.0f && dz[1] == -9.0f, "outputs written on failure");
  Q8_OK_OR_FAIL(q8_qat_lsq_backward(NULL, NULL, 0, 0, 0, NULL, NULL, 0, 255, 1.0f, NULL, NULL, NULL));
}

Test(qat, fold_batchnorm_rejects_bad_arguments) {
  float w[4] = {1, 2, 3, 4}, b[2] = {1, 2}, g[2] = {1, 1}, be[2] = {0, 0}, mu[2] = {0, 0}, va[2] = {1, 1};
  float wf[4] = {-9, -9, -9, -9}, bf[2] = {-9, -9};
#define FOLD(w_, g_, be_, mu_, va_, eps_, wf_, bf_) \
  q8_qat_fold_batchnorm(w_, b, 2, 2, g_, be_, mu_, va_, eps_, wf_, bf_)
  Q8_EXPECT_ERROR(FOLD(NULL, g, be, mu, va, 1e-5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "weights is NULL");
  Q8_EXPECT_ERROR(FOLD(w, NULL, be, mu, va, 1e-5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "gamma is NULL");
  Q8_EXPECT_ERROR(FOLD(w, g, NULL, mu, va, 1e-5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "beta is NULL");
  Q8_EXPECT_ERROR(FOLD(w, g, be, NULL, va, 1e-5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "mean is NULL");
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, NULL, 1e-5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "var is NULL");
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, 1e-5f, NULL, bf), Q8_ERR_INVALID_ARGUMENT, "folded_weights is NULL");
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, 1e-5f, wf, NULL), Q8_ERR_INVALID_ARGUMENT, "folded_bias is NULL");
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, -1e-5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "eps");
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, NAN, wf, bf), Q8_ERR_INVALID_ARGUMENT, "eps");
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, INFINITY, wf, bf), Q8_ERR_INVALID_ARGUMENT, "eps");
  va[1] = 0.0f;
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, 0.0f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "var[1] + eps");
  va[1] = -1.0f;
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, 0.5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "var[1] + eps");
  va[1] = NAN;
  Q8_EXPECT_ERROR(FOLD(w, g, be, mu, va, 0.5f, wf, bf), Q8_ERR_INVALID_ARGUMENT, "var[1] + eps");
  va[1] = 1.0f;
#undef FOLD
  Q8_EXPECT_ERROR(q8_qat_fold_batchnorm(w, b, SIZE_MAX, 2, g, be, mu, va, 0.0f, wf, bf), Q8_ERR_SHAPE,
                  "channels * per_channel");
  Q8_EXPECT_ERROR(q8_qat_fold_batchnorm(w, b, 2, SIZE_MAX / 4, g, be, mu, va, 0.0f, wf, bf), Q8_ERR_SHAPE,
                  "channels * per_channel");
  for (int i = 0; i < 4; ++i) cr_assert(wf[i] == -9.0f);
  cr_assert(bf[0] == -9.0f && bf[1] == -9.0f, "outputs written on failure");
}

Test(qat, fold_batchnorm_backward_rejects_bad_arguments) {
  float w[4] = {1, 2, 3, 4}, b[2] = {1, 2}, g[2] = {1, 1}, mu[2] = {0, 0}, va[2] = {1, 1};
  float gw[4] = {1, 1, 1, 1}, gb[2] = {1, 1}, dw[4] = {-9, -9, -9, -9}, db[2] = {-9, -9}, dg[2] = {-9, -9},
        dbe[2] = {-9, -9};
#define BWD(w_, g_, mu_, va_, eps_, gw_, gb_)                                                      \
  q8_qat_fold_batchnorm_backward(w_, b, 2, 2, g_, mu_, va_, eps_, gw_, gb_, dw, db, dg, dbe)
  Q8_EXPECT_ERROR(BWD(NULL, g, mu, va, 0.0f, gw, gb), Q8_ERR_INVALID_ARGUMENT, "weights is NULL");
  Q8_EXPECT_ERROR(BWD(w, NULL, mu, va, 0.0f, gw, gb), Q8_ERR_INVALID_ARGUMENT, "gamma is NULL");
  Q8_EXPECT_ERROR(BWD(w, g, NULL, va, 0.0f, gw, gb), Q8_ERR_INVALID_ARGUMENT, "mean is NULL");
  Q8_EXPECT_ERROR(BWD(w, g, mu, NULL, 0.0f, gw, gb), Q8_ERR_INVALID_ARGUMENT, "var is NULL");
  Q8_EXPECT_ERROR(BWD(w, g, mu, va, 0.0f, NULL, gb), Q8_ERR_INVALID_ARGUMENT, "dfolded_weights is NULL");
  Q8_EXPECT_ERROR(BWD(w, g, mu, va, 0.0f, gw, NULL), Q8_ERR_INVALID_ARGUMENT, "dfolded_bias is NULL");
  Q8_EXPECT_ERROR(BWD(w, g, mu, va, -1.0f, gw, gb), Q8_ERR_INVALID_ARGUMENT, "eps");
  va[0] = -2.0f;
  Q8_EXPECT_ERROR(BWD(w, g, mu, va, 1.0f, gw, gb), Q8_ERR_INVALID_ARGUMENT, "var[0] + eps");
  va[0] = 1.0f;
#undef BWD
  Q8_EXPECT_ERROR(q8_qat_fold_batchnorm_backward(w, b, SIZE_MAX / 2, 3, g, mu, va, 0.0f, gw, gb, dw, db, dg, dbe),
                  Q8_ERR_SHAPE, "channels * per_channel");
  for (int i = 0; i < 4; ++i) cr_assert(dw[i] == -9.0f);
  cr_assert(db[0] == -9.0f && dg[0] == -9.0f && dbe[0] == -9.0f, "outputs written on failure");
  Q8_OK_OR_FAIL(q8_qat_fold_batchnorm_backward(NULL, NULL, 0, 0, NULL, NULL, NULL, 0.0f, NULL, NULL, NULL, NULL,
                                               NULL, NULL));
}
