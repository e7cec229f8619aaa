/* quantize / dequantize / requantize against plain reference formulas, bit for bit, on every
 * ISA path this CPU supports and on 1 and 2 threads, including ties, NaN, ±Inf and edge sizes. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* The contract, written independently of the library: one f32 division, round half to even (the
 * default rounding mode of nearbyint), add the zero point, saturate; NaN -> zero point. */
static int32_t ref_quantize(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  if (isnan(x)) return zp;
  const float v = x / scale;
  double r = nearbyint((double)v) + zp;
  if (r < qmin) r = qmin;
  if (r > qmax) r = qmax;
  return (int32_t)r;
}

static float ref_dequantize(int32_t q, float scale, int32_t zp) { return (float)(q - zp) * scale; }

static const size_t kSizes[] = {0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 300007};

/* Values that exercise every branch: ties, out-of-range, NaN, infinities, -0, denormals. */
static float tricky_value(test_rng *r, float scale, size_t i) {
  switch (i % 11) {
    case 0: return ((float)(int)(rng_next(r) % 512) - 256.0f + 0.5f) * scale; /* ties in x / scale */
    case 1: return NAN;
    case 2: return (i & 16) ? INFINITY : -INFINITY;
    case 3: return -0.0f;
    case 4: return 1e-40f; /* denormal */
    case 5: return (float)((rng_uniform(r) - 0.5) * 1e30);
    default: return (float)((rng_uniform(r) - 0.5) * 600.0 * scale);
  }
}

typedef struct {
  q8_isa isa[8];
  size_t n_isa;
} paths;

static paths all_paths(void) {
  paths p;
  p.n_isa = supported_isas(p.isa);
  return p;
}

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(quantize, .fini = restore_runtime);

Test(quantize, per_tensor_matches_reference_on_every_path) {
  const paths p = all_paths();
  cr_assert(p.n_isa >= 1);
  test_rng rng;
  rng_seed(&rng, 1);
  const q8_dtype dts[2] = {Q8_DTYPE_S8, Q8_DTYPE_U8};
  for (size_t si = 0; si < sizeof kSizes / sizeof kSizes[0]; ++si) {
    const size_t n = kSizes[si];
    const int64_t shape[1] = {(int64_t)n};
    float *x = malloc(n * sizeof(float) + 1);
    const float scale = (si % 3 == 0) ? 0.5f : (float)(0.001 + rng_uniform(&rng));
    for (size_t i = 0; i < n; ++i) x[i] = tricky_value(&rng, scale, i);
    q8_tensor *xt = NULL;
    Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 1, x, n * sizeof(float), &xt));
    for (int d = 0; d < 2; ++d) {
      const int32_t qmin = dts[d] == Q8_DTYPE_S8 ? -128 : 0, qmax = qmin + 255;
      const int32_t zp = dts[d] == Q8_DTYPE_S8 ? (int32_t)(si % 7) - 3 : 128 + (int32_t)(si % 5);
      q8_tensor *yt = make_tensor(dts[d], shape, 1);
      Q8_OK_OR_FAIL(q8_tensor_set_qparams(yt, scale, zp));
      for (size_t k = 0; k < p.n_isa; ++k) {
        for (int threads = 1; threads <= 2; ++threads) {
          Q8_OK_OR_FAIL(q8_runtime_set_isa(p.isa[k]));
          Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
          if (n) memset(tensor_data(yt), 0x5A, n); /* empty tensors have no storage */
          Q8_OK_OR_FAIL(q8_quantize(xt, yt));
          const void *y = tensor_data(yt);
          for (size_t i = 0; i < n; ++i) {
            const int32_t got = dts[d] == Q8_DTYPE_S8 ? ((const int8_t *)y)[i] : ((const uint8_t *)y)[i];
            const int32_t want = ref_quantize(x[i], scale, zp, qmin, qmax);
            if (got != want)
              cr_assert_fail("%s n=%zu i=%zu x=%a scale=%a zp=%d isa=%s threads=%d: got %d want %d",
                       q8_dtype_name(dts[d]), n, i, (double)x[i], (double)scale, zp,
                       q8_isa_name(p.isa[k]), threads, got, want);
          }
        }
      }
      q8_tensor_destroy(yt);
    }
    q8_tensor_destroy(xt);
    free(x);
  }
}

Test(quantize, exact_ties_round_half_to_even) {
  /* x / scale = k + 0.5 exactly: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2, -2.5 -> -2. */
  const float x[6] = {0.125f, 0.375f, 0.625f, -0.125f, -0.375f, -0.625f};
  const int8_t want[6] = {0, 2, 2, 0, -2, -2};
  const int64_t shape[1] = {6};
  const paths p = all_paths();
  q8_tensor *xt, *yt = make_tensor(Q8_DTYPE_S8, shape, 1);
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 1, (void *)x, sizeof x, &xt));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(yt, 0.25f, 0));
  for (size_t k = 0; k < p.n_isa; ++k) {
    Q8_OK_OR_FAIL(q8_runtime_set_isa(p.isa[k]));
    Q8_OK_OR_FAIL(q8_quantize(xt, yt));
    cr_assert_arr_eq(tensor_data(yt), want, sizeof want, "isa %s", q8_isa_name(p.isa[k]));
  }
  q8_tensor_destroy(xt);
  q8_tensor_destroy(yt);
}

Test(quantize, nan_and_infinities_have_documented_results) {
  const uint32_t snan_bits = 0x7f800001u; /* a signaling NaN: every NaN class maps to zero_point */
  float snan;
  memcpy(&snan, &snan_bits, sizeof snan);
  const float x[5] = {NAN, INFINITY, -INFINITY, -NAN, snan};
  const int64_t shape[1] = {5};
  const paths p = all_paths();
  q8_tensor *xt, *s8 = make_tensor(Q8_DTYPE_S8, shape, 1), *u8 = make_tensor(Q8_DTYPE_U8, shape, 1);
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 1, (void *)x, sizeof x, &xt));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(s8, 0.1f, 5));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(u8, 0.1f, 100));
  for (size_t k = 0; k < p.n_isa; ++k) {
    Q8_OK_OR_FAIL(q8_runtime_set_isa(p.isa[k]));
    Q8_OK_OR_FAIL(q8_quantize(xt, s8));
    Q8_OK_OR_FAIL(q8_quantize(xt, u8));
    const int8_t ws[5] = {5, 127, -128, 5, 5};
    const uint8_t wu[5] = {100, 255, 0, 100, 100};
    cr_assert_arr_eq(tensor_data(s8), ws, 5, "s8 on %s", q8_isa_name(p.isa[k]));
    cr_assert_arr_eq(tensor_data(u8), wu, 5, "u8 on %s", q8_isa_name(p.isa[k]));
  }
  q8_tensor_destroy(xt);
  q8_tensor_destroy(s8);
  q8_tensor_destroy(u8);
}

/* Per-axis on every axis of a few shapes (the innermost axis takes the per-element kernel). */
Test(quantize, per_axis_matches_reference_on_every_path) {
  const int64_t shapes[][3] = {{3, 5, 7}, {1, 1, 1}, {2, 33, 17}, {4, 1, 65}, {300, 2, 129}};
  const paths p = all_paths();
  test_rng rng;
  rng_seed(&rng, 2);
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    const int64_t *shape = shapes[s];
    const size_t n = (size_t)(shape[0] * shape[1] * shape[2]);
    q8_tensor *xt = make_tensor(Q8_DTYPE_F32, shape, 3);
    float *x = tensor_data(xt);
    for (size_t i = 0; i < n; ++i) x[i] = tricky_value(&rng, 0.05f, i);
    for (int32_t axis = -1; axis < 3; ++axis) {
      for (int u = 0; u < 2; ++u) {
        const q8_dtype dt = u ? Q8_DTYPE_U8 : Q8_DTYPE_S8;
        const size_t c = axis < 0 ? 0 : (size_t)shape[axis];
        float scales[512];
        int32_t zps[512];
        for (size_t j = 0; j < c; ++j) {
          scales[j] = (float)(0.001 + 0.2 * rng_uniform(&rng));
          zps[j] = (u ? 0 : -128) + (int32_t)(rng_next(&rng) % 256);
        }
        q8_tensor *yt = make_tensor(dt, shape, 3);
        if (axis < 0)
          Q8_OK_OR_FAIL(q8_tensor_set_qparams(yt, 0.03f, u ? 7 : -7));
        else
          Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(yt, axis, scales, zps, c));
        size_t inner = 1;
        for (int d = axis + 1; d < 3; ++d) inner *= (size_t)shape[d];
        for (size_t k = 0; k < p.n_isa; ++k) {
          for (int threads = 1; threads <= 2; ++threads) {
            Q8_OK_OR_FAIL(q8_runtime_set_isa(p.isa[k]));
            Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
            Q8_OK_OR_FAIL(q8_quantize(xt, yt));
            const void *y = tensor_data(yt);
            for (size_t i = 0; i < n; ++i) {
              const size_t ch = axis < 0 ? 0 : (i / inner) % c;
              const float sc = axis < 0 ? 0.03f : scales[ch];
              const int32_t zp = axis < 0 ? (u ? 7 : -7) : zps[ch];
              const int32_t got = u ? ((const uint8_t *)y)[i] : ((const int8_t *)y)[i];
              const int32_t want = ref_quantize(x[i], sc, zp, u ? 0 : -128, u ? 255 : 127);
              if (got != want)
                cr_assert_fail("shape %zu axis %d %s i=%zu isa=%s threads=%d: got %d want %d", s, axis,
                         q8_dtype_name(dt), i, q8_isa_name(p.isa[k]), threads, got, want);
            }
          }
        }
        q8_tensor_destroy(yt);
      }
    }
    q8_tensor_destroy(xt);
  }
}

/* Every s8 and u8 value, per tensor and per axis, on every path. */
Test(quantize, dequantize_matches_reference_on_every_path) {
  const paths p = all_paths();
  const int64_t shape[2] = {256, 3};
  const float scales[3] = {0.1f, 3.0f, 1e-5f};
  for (int u = 0; u < 2; ++u) {
    const q8_dtype dt = u ? Q8_DTYPE_U8 : Q8_DTYPE_S8;
    const int32_t zps[3] = {u ? 0 : -128, u ? 255 : 127, u ? 128 : 0};
    q8_tensor *qt = make_tensor(dt, shape, 2), *yt = make_tensor(Q8_DTYPE_F32, shape, 2);
    uint8_t *q = tensor_data(qt);
    for (size_t i = 0; i < 768; ++i) q[i] = (uint8_t)(i / 3);
    for (int per_axis = 0; per_axis < 2; ++per_axis) {
      if (per_axis)
        Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(qt, 1, scales, zps, 3));
      else
        Q8_OK_OR_FAIL(q8_tensor_set_qparams(qt, scales[0], zps[0]));
      for (size_t k = 0; k < p.n_isa; ++k) {
        Q8_OK_OR_FAIL(q8_runtime_set_isa(p.isa[k]));
        Q8_OK_OR_FAIL(q8_dequantize(qt, yt));
        const float *y = tensor_data(yt);
        for (size_t i = 0; i < 768; ++i) {
          const size_t ch = per_axis ? i % 3 : 0;
          const int32_t v = u ? q[i] : (int8_t)q[i];
          const float want = ref_dequantize(v, scales[ch], zps[ch]);
          cr_assert(memcmp(&y[i], &want, sizeof want) == 0, "%s i=%zu isa=%s: got %a want %a",
                    q8_dtype_name(dt), i, q8_isa_name(p.isa[k]), (double)y[i], (double)want);
        }
      }
    }
    q8_tensor_destroy(qt);
    q8_tensor_destroy(yt);
  }
}

Test(quantize, requantize_is_the_composition) {
  const paths p = all_paths();
  const int64_t shape[2] = {256, 5};
  const float s_in[5] = {0.02f, 0.5f, 0.003f, 1.0f, 0.25f};
  const int32_t z_in[5] = {-3, 0, 100, -128, 17};
  q8_tensor *qt = make_tensor(Q8_DTYPE_S8, shape, 2);
  int8_t *q = tensor_data(qt);
  for (size_t i = 0; i < 1280; ++i) q[i] = (int8_t)(i / 5);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(qt, 1, s_in, z_in, 5));
  for (int u = 0; u < 2; ++u) {
    q8_tensor *yt = make_tensor(u ? Q8_DTYPE_U8 : Q8_DTYPE_S8, shape, 2);
    const float s_out = 0.037f;
    const int32_t z_out = u ? 131 : -9;
    Q8_OK_OR_FAIL(q8_tensor_set_qparams(yt, s_out, z_out));
    for (size_t k = 0; k < p.n_isa; ++k) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(p.isa[k]));
      Q8_OK_OR_FAIL(q8_requantize(qt, yt));
      const void *y = tensor_data(yt);
      for (size_t i = 0; i < 1280; ++i) {
        const float x = ref_dequantize(q[i], s_in[i % 5], z_in[i % 5]);
        const int32_t want = ref_quantize(x, s_out, z_out, u ? 0 : -128, u ? 255 : 127);
        const int32_t got = u ? ((const uint8_t *)y)[i] : ((const int8_t *)y)[i];
        cr_assert_eq(got, want, "u=%d i=%zu isa=%s", u, i, q8_isa_name(p.isa[k]));
      }
    }
    q8_tensor_destroy(yt);
  }
  q8_tensor_destroy(qt);
}

Test(quantize, s32_bias_quantization_saturates_and_rounds_half_even) {
  const float x[6] = {2.5f, 3.5f, -2.5f, 1e30f, -1e30f, NAN};
  const int32_t want[6] = {2, 4, -2, INT32_MAX, INT32_MIN, 0};
  const int64_t shape[1] = {6};
  q8_tensor *xt, *yt = make_tensor(Q8_DTYPE_S32, shape, 1);
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 1, (void *)x, sizeof x, &xt));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(yt, 1.0f, 0));
  Q8_OK_OR_FAIL(q8_quantize(xt, yt));
  cr_assert_arr_eq(tensor_data(yt), want, sizeof want);
  q8_tensor *back = make_tensor(Q8_DTYPE_F32, shape, 1);
  Q8_OK_OR_FAIL(q8_dequantize(yt, back));
  cr_assert_float_eq(((float *)tensor_data(back))[1], 4.0f, 0.0f);
  q8_tensor_destroy(back);
  q8_tensor_destroy(xt);
  q8_tensor_destroy(yt);
}

Test(quantize, roundtrip_error_is_at_most_half_a_step_inside_the_range) {
  test_rng rng;
  rng_seed(&rng, 3);
  const int64_t shape[1] = {4096};
  q8_tensor *xt = make_tensor(Q8_DTYPE_F32, shape, 1), *qt = make_tensor(Q8_DTYPE_U8, shape, 1);
  q8_tensor *back = make_tensor(Q8_DTYPE_F32, shape, 1);
  float *x = tensor_data(xt);
  for (size_t i = 0; i < 4096; ++i) x[i] = (float)(rng_uniform(&rng) * 7.0 - 2.0);
  float mn = -2.0f, mx = 5.0f, scale;
  int32_t zp;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, &mn, &mx, 1, &scale, &zp));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(qt, scale, zp));
  Q8_OK_OR_FAIL(q8_quantize(xt, qt));
  Q8_OK_OR_FAIL(q8_dequantize(qt, back));
  const float *y = tensor_data(back);
  for (size_t i = 0; i < 4096; ++i)
    cr_assert(fabsf(y[i] - x[i]) <= scale * 0.5f * 1.0001f, "i=%zu x=%g y=%g", i, (double)x[i], (double)y[i]);
  q8_tensor_destroy(xt);
  q8_tensor_destroy(qt);
  q8_tensor_destroy(back);
}

/* Scale and zero point per scheme, as PyTorch's observers compute them (f32 arithmetic). */
Test(quantize, qparams_from_range_per_scheme) {
  float mn = -1.0f, mx = 2.0f, s;
  int32_t z;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC_NARROW, &mn, &mx, 1, &s, &z));
  cr_assert(s == 2.0f / 127.0f && z == 0);
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC, &mn, &mx, 1, &s, &z));
  cr_assert(s == 2.0f / 127.5f && z == 0);
  mn = -1.0f;
  mx = 3.0f;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, &mn, &mx, 1, &s, &z));
  cr_assert(s == 4.0f / 255.0f && z == 64, "s=%a z=%d", (double)s, z); /* round(63.75) */
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_S8, &mn, &mx, 1, &s, &z));
  cr_assert(s == 4.0f / 255.0f && z == -64);
  /* the range is widened to hold 0 */
  mn = 2.0f;
  mx = 5.0f;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, &mn, &mx, 1, &s, &z));
  cr_assert(s == 5.0f / 255.0f && z == 0);
  mn = -5.0f;
  mx = -2.0f;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, &mn, &mx, 1, &s, &z));
  cr_assert(s == 5.0f / 255.0f && z == 255);
  /* a zero-point tie: -lo / scale = 2.5 rounds to 2 */
  mn = -2.5f;
  mx = 252.5f;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, &mn, &mx, 1, &s, &z));
  cr_assert(s == 1.0f && z == 2, "s=%a z=%d", (double)s, z);
  /* all-zero ranges */
  mn = mx = 0.0f;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_S8, &mn, &mx, 1, &s, &z));
  cr_assert(s == 1.0f && z == -128);
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC, &mn, &mx, 1, &s, &z));
  cr_assert(s == 1.0f && z == 0);
  /* tiny ranges get at least FLT_EPSILON */
  mn = 0.0f;
  mx = 1e-30f;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC_NARROW, &mn, &mx, 1, &s, &z));
  cr_assert(s == FLT_EPSILON);
  /* several channels at once */
  const float mins[3] = {-1, 0, -4}, maxs[3] = {1, 2, 4};
  float ss[3];
  int32_t zz[3];
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC_NARROW, mins, maxs, 3, ss, zz));
  cr_assert(ss[0] == 1.0f / 127.0f && ss[1] == 2.0f / 127.0f && ss[2] == 4.0f / 127.0f);
  /* zero points that 0.0 lands on exactly */
  mn = -0.7f;
  mx = 9.3f;
  Q8_OK_OR_FAIL(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, &mn, &mx, 1, &s, &z));
  const int64_t shape[1] = {1};
  float zero = 0.0f;
  q8_tensor *xt, *qt = make_tensor(Q8_DTYPE_U8, shape, 1), *back = make_tensor(Q8_DTYPE_F32, shape, 1);
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 1, &zero, sizeof zero, &xt));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(qt, s, z));
  Q8_OK_OR_FAIL(q8_quantize(xt, qt));
  Q8_OK_OR_FAIL(q8_dequantize(qt, back));
  cr_assert(((float *)tensor_data(back))[0] == 0.0f);
  q8_tensor_destroy(xt);
  q8_tensor_destroy(qt);
  q8_tensor_destroy(back);
}

Test(quantize, q8_isa_environment_and_setter) {
  cr_assert_eq(q8_runtime_isa_supported(Q8_ISA_SCALAR), 1);
  cr_assert_eq(q8_runtime_isa_supported(Q8_ISA_AUTO), 0);
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_SCALAR));
  cr_assert_eq(q8_runtime_isa(), Q8_ISA_SCALAR);
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_AUTO));
  cr_assert_neq(q8_runtime_isa(), Q8_ISA_AUTO);
  cr_assert_str_eq(q8_isa_name(Q8_ISA_AVX512_VNNI), "avx512_vnni");
}

/* Values within an ulp of a rounding tie, for scales across the whole exponent range: where a
 * kernel that multiplied by 1/scale, or rounded twice, would part from the IEEE quotient. */
Test(quantize, near_ties_over_many_scales_match_reference) {
  const paths p = all_paths();
  test_rng rng;
  rng_seed(&rng, 4);
  enum { N = 515 };
  const int64_t shape[1] = {N};
  float x[N];
  q8_tensor *xt, *yt = make_tensor(Q8_DTYPE_S8, shape, 1);
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 1, x, sizeof x, &xt));
  for (int trial = 0; trial < 300; ++trial) {
    const float scale = (float)ldexp(1.0 + rng_uniform(&rng), (int)(rng_next(&rng) % 200) - 100);
    for (int i = 0; i < N; ++i) {
      float t = ((float)(int)(rng_next(&rng) % 300) - 150.0f + 0.5f) * scale;
      const int nudge = (int)(rng_next(&rng) % 3) - 1; /* one ulp down, none, one ulp up */
      if (nudge) t = nextafterf(t, nudge > 0 ? INFINITY : -INFINITY);
      x[i] = t;
    }
    const int32_t zp = (int32_t)(rng_next(&rng) % 256) - 128;
    Q8_OK_OR_FAIL(q8_tensor_set_qparams(yt, scale, zp));
    for (size_t k = 0; k < p.n_isa; ++k) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(p.isa[k]));
      Q8_OK_OR_FAIL(q8_quantize(xt, yt));
      const int8_t *y = tensor_data(yt);
      for (int i = 0; i < N; ++i)
        if (y[i] != ref_quantize(x[i], scale, zp, -128, 127))
          cr_assert_fail("scale=%a x=%a isa=%s: got %d want %d", (double)scale, (double)x[i],
                         q8_isa_name(p.isa[k]), y[i], ref_quantize(x[i], scale, zp, -128, 127));
    }
  }
  q8_tensor_destroy(xt);
  q8_tensor_destroy(yt);
}
