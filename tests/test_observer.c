/* Calibration observers through the public API: every kind on every scheme, per-tensor and
 * per-channel, batch-by-batch feeding, NaN/Inf, reset, errors, and the quality check: on
 * heavy-tailed data the histogram observers must beat min-max in SQNR. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static const q8_observer_kind kKinds[] = {Q8_OBSERVER_MINMAX, Q8_OBSERVER_MOVING_AVERAGE_MINMAX,
                                          Q8_OBSERVER_PERCENTILE, Q8_OBSERVER_ENTROPY, Q8_OBSERVER_MSE};
static const q8_scheme kSchemes[] = {Q8_SCHEME_SYMMETRIC_NARROW, Q8_SCHEME_SYMMETRIC,
                                     Q8_SCHEME_ASYMMETRIC_U8, Q8_SCHEME_ASYMMETRIC_S8};
#define N_KINDS 5
#define N_SCHEMES 4

static const char *kind_name(q8_observer_kind k) {
  static const char *names[] = {"minmax", "moving_average_minmax", "percentile", "entropy", "mse"};
  return names[k];
}

static void restore_runtime(void) { q8_runtime_set_threads(0); }
TestSuite(observer, .fini = restore_runtime);

/* ---- helpers ---------------------------------------------------------------------------- */

static q8_observer *new_observer(q8_observer_kind kind, q8_scheme scheme, int32_t axis) {
  q8_observer_options o;
  Q8_OK_OR_FAIL(q8_observer_options_init(&o));
  o.kind = kind;
  o.scheme = scheme;
  o.axis = axis;
  q8_observer *obs = NULL;
  Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
  return obs;
}

static q8_tensor *wrap_f32(float *x, const int64_t *shape, size_t rank) {
  size_t n = 1;
  for (size_t i = 0; i < rank; ++i) n *= (size_t)shape[i];
  q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, rank, n ? x : NULL, n * sizeof(float), &t));
  return t;
}

static void feed(q8_observer *obs, float *x, const int64_t *shape, size_t rank) {
  q8_tensor *t = wrap_f32(x, shape, rank);
  Q8_OK_OR_FAIL(q8_observer_update(obs, t));
  q8_tensor_destroy(t);
}

static void feed1(q8_observer *obs, float *x, size_t n) {
  const int64_t shape[1] = {(int64_t)n};
  feed(obs, x, shape, 1);
}

static void range1(const q8_observer *obs, float *lo, float *hi) {
  size_t c = 0;
  Q8_OK_OR_FAIL(q8_observer_channels(obs, &c));
  cr_assert_eq(c, 1);
  Q8_OK_OR_FAIL(q8_observer_range(obs, lo, hi, 1));
}

static float *normal_data(size_t n, uint64_t seed, double scale, double shift) {
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  test_rng r;
  rng_seed(&r, seed);
  for (size_t i = 0; i < n; ++i) x[i] = (float)(rng_normal(&r) * scale + shift);
  return x;
}

static void data_minmax(const float *x, size_t n, float *lo, float *hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (size_t i = 0; i < n; ++i)
    if (isfinite(x[i])) {
      if (x[i] < *lo) *lo = x[i];
      if (x[i] > *hi) *hi = x[i];
    }
}

/* A chosen range must be finite, ordered and inside the data's range. */
static void check_range_sane(float lo, float hi, float dmin, float dmax, const char *what) {
  cr_assert(isfinite(lo) && isfinite(hi) && lo <= hi, "%s: range [%g, %g]", what, lo, hi);
  cr_assert(lo >= dmin && hi <= dmax, "%s: [%g, %g] outside the data [%g, %g]", what, lo, hi, dmin, dmax);
}

/* ---- options, creation, errors ----------------------------------------------------------- */

Test(observer, options_init_sets_documented_defaults) {
  q8_observer_options o;
  memset(&o, 0xAB, sizeof o);
  Q8_OK_OR_FAIL(q8_observer_options_init(&o));
  cr_assert_eq(o.struct_size, sizeof o);
  cr_assert_eq(o.kind, Q8_OBSERVER_MINMAX);
  cr_assert_eq(o.scheme, Q8_SCHEME_ASYMMETRIC_U8);
  cr_assert_eq(o.axis, -1);
  cr_assert_float_eq(o.averaging_constant, 0.01f, 1e-9f);
  cr_assert_float_eq(o.percentile, 99.99, 1e-12);
  cr_assert_eq(o.bins, 2048);
  Q8_EXPECT_STATUS(q8_observer_options_init(NULL), Q8_ERR_INVALID_ARGUMENT);
}

Test(observer, struct_size_older_newer_and_bogus) {
  q8_observer_options o;
  q8_observer *obs = NULL;
  Q8_OK_OR_FAIL(q8_observer_options_init(&o));
  /* A caller that knows every field up to and including `bins` (no tail padding) is accepted. */
  o.struct_size = offsetof(q8_observer_options, bins) + sizeof o.bins;
  Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
  q8_observer_destroy(obs);
  /* A newer caller's larger struct: the fields this library knows are taken, the rest ignored. */
  struct {
    q8_observer_options o;
    char future[24];
  } big;
  memset(&big, 0, sizeof big);
  Q8_OK_OR_FAIL(q8_observer_options_init(&big.o));
  big.o.kind = Q8_OBSERVER_ENTROPY;
  big.o.struct_size = sizeof big;
  obs = NULL;
  Q8_OK_OR_FAIL(q8_observer_create(&big.o, &obs));
  q8_observer_destroy(obs);
  /* Sizes that cannot be real. */
  const size_t bogus[] = {0, 8, offsetof(q8_observer_options, bins), 4097, (size_t)-1};
  for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; ++i) {
    o.struct_size = bogus[i];
    obs = NULL;
    Q8_EXPECT_STATUS(q8_observer_create(&o, &obs), Q8_ERR_INVALID_ARGUMENT);
    cr_assert_null(obs);
    cr_assert(strstr(q8_last_error(), "struct_size") != NULL, "%s", q8_last_error());
  }
}

static void expect_bad_option(q8_observer_options o, const char *field) {
  q8_observer *obs = NULL;
  Q8_EXPECT_STATUS(q8_observer_create(&o, &obs), Q8_ERR_INVALID_ARGUMENT);
  cr_assert_null(obs);
  cr_assert(strstr(q8_last_error(), field) != NULL, "message should name %s: %s", field, q8_last_error());
}

Test(observer, invalid_options_name_the_field) {
  q8_observer_options base;
  Q8_OK_OR_FAIL(q8_observer_options_init(&base));
  q8_observer_options o = base;
  o.kind = (q8_observer_kind)99;
  expect_bad_option(o, "kind");
  o = base;
  o.scheme = (q8_scheme)99;
  expect_bad_option(o, "scheme");
  o = base;
  o.axis = -2;
  expect_bad_option(o, "axis");
  o = base;
  o.kind = Q8_OBSERVER_MOVING_AVERAGE_MINMAX;
  o.averaging_constant = 0.0f;
  expect_bad_option(o, "averaging_constant");
  const q8_observer_kind hist[3] = {Q8_OBSERVER_PERCENTILE, Q8_OBSERVER_ENTROPY, Q8_OBSERVER_MSE};
  const uint32_t bad_bins[] = {0, 127, 65537, 1u << 31};
  for (int k = 0; k < 3; ++k)
    for (size_t i = 0; i < sizeof bad_bins / sizeof bad_bins[0]; ++i) {
      o = base;
      o.kind = hist[k];
      o.bins = bad_bins[i];
      expect_bad_option(o, "bins");
    }
  const double bad_pct[] = {50.0, 0.0, -1.0, 100.0001, NAN, INFINITY};
  for (size_t i = 0; i < sizeof bad_pct / sizeof bad_pct[0]; ++i) {
    o = base;
    o.kind = Q8_OBSERVER_PERCENTILE;
    o.percentile = bad_pct[i];
    expect_bad_option(o, "percentile");
  }
  /* The edges that are allowed. */
  const uint32_t good_bins[] = {128, 129, 65536};
  const double good_pct[] = {50.0001, 100.0};
  q8_observer *obs = NULL;
  for (int k = 0; k < 3; ++k)
    for (size_t i = 0; i < 3; ++i) {
      o = base;
      o.kind = hist[k];
      o.bins = good_bins[i];
      o.percentile = good_pct[i % 2];
      Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
      q8_observer_destroy(obs);
    }
}

Test(observer, null_arguments_and_wrong_batch_dtype) {
  q8_observer *obs = NULL;
  q8_observer_options o;
  Q8_OK_OR_FAIL(q8_observer_options_init(&o));
  Q8_EXPECT_STATUS(q8_observer_create(NULL, &obs), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_observer_create(&o, NULL), Q8_ERR_INVALID_ARGUMENT);
  q8_observer_destroy(NULL);
  float lo, hi, s;
  int32_t z;
  size_t c;
  Q8_EXPECT_STATUS(q8_observer_update(NULL, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_observer_channels(NULL, &c), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_observer_range(NULL, &lo, &hi, 1), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_observer_qparams(NULL, &s, &z, 1), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_observer_apply(NULL, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_observer_reset(NULL), Q8_ERR_INVALID_ARGUMENT);
  for (int k = 0; k < N_KINDS; ++k) {
    obs = new_observer(kKinds[k], Q8_SCHEME_ASYMMETRIC_U8, -1);
    Q8_EXPECT_STATUS(q8_observer_update(obs, NULL), Q8_ERR_INVALID_ARGUMENT);
    const int64_t shape[1] = {4};
    q8_tensor *s8 = make_tensor(Q8_DTYPE_S8, shape, 1);
    Q8_EXPECT_STATUS(q8_observer_update(obs, s8), Q8_ERR_DTYPE);
    float x[4] = {1, 2, 3, 4};
    feed1(obs, x, 4);
    Q8_EXPECT_STATUS(q8_observer_channels(obs, NULL), Q8_ERR_INVALID_ARGUMENT);
    Q8_EXPECT_STATUS(q8_observer_range(obs, NULL, &hi, 1), Q8_ERR_INVALID_ARGUMENT);
    Q8_EXPECT_STATUS(q8_observer_range(obs, &lo, NULL, 1), Q8_ERR_INVALID_ARGUMENT);
    Q8_EXPECT_STATUS(q8_observer_range(obs, &lo, &hi, 2), Q8_ERR_SHAPE);
    Q8_EXPECT_STATUS(q8_observer_qparams(obs, NULL, &z, 1), Q8_ERR_INVALID_ARGUMENT);
    Q8_EXPECT_STATUS(q8_observer_qparams(obs, &s, &z, 0), Q8_ERR_SHAPE);
    q8_tensor_destroy(s8);
    q8_observer_destroy(obs);
  }
}

Test(observer, state_error_before_any_data) {
  for (int k = 0; k < N_KINDS; ++k) {
    q8_observer *obs = new_observer(kKinds[k], Q8_SCHEME_SYMMETRIC, 0);
    size_t c = 99;
    float lo, hi, s;
    int32_t z;
    Q8_EXPECT_STATUS(q8_observer_channels(obs, &c), Q8_ERR_STATE);
    cr_assert_eq(c, 99, "out-pointer written on failure");
    Q8_EXPECT_STATUS(q8_observer_range(obs, &lo, &hi, 1), Q8_ERR_STATE);
    Q8_EXPECT_STATUS(q8_observer_qparams(obs, &s, &z, 1), Q8_ERR_STATE);
    const int64_t shape[1] = {3};
    q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, 1);
    Q8_EXPECT_STATUS(q8_observer_apply(obs, t), Q8_ERR_STATE);
    q8_tensor_destroy(t);
    q8_observer_destroy(obs);
  }
}

/* ---- every kind x every scheme ----------------------------------------------------------- */

Test(observer, per_tensor_every_kind_and_scheme) {
  const size_t n = 20000;
  float *x = normal_data(n, 11, 1.5, 0.25);
  float dmin, dmax;
  data_minmax(x, n, &dmin, &dmax);
  for (int k = 0; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      char what[96];
      snprintf(what, sizeof what, "%s/%s", kind_name(kKinds[k]), q8_scheme_name(kSchemes[s]));
      q8_observer *obs = new_observer(kKinds[k], kSchemes[s], -1);
      feed1(obs, x, n);
      float lo, hi;
      range1(obs, &lo, &hi);
      check_range_sane(lo, hi, dmin, dmax, what);
      if (kKinds[k] <= Q8_OBSERVER_MOVING_AVERAGE_MINMAX) {
        cr_assert(lo == dmin && hi == dmax, "%s: one batch gives the data's min and max", what);
      } else {
        /* Clipping a normal sample is fine, but not into its bulk. */
        cr_assert(lo <= -2.5f && hi >= 2.9f, "%s: [%g, %g] clips the bulk", what, lo, hi);
      }
      /* The parameters are the range through q8_qparams_from_range. */
      float scale, want_scale;
      int32_t zp, want_zp;
      Q8_OK_OR_FAIL(q8_observer_qparams(obs, &scale, &zp, 1));
      Q8_OK_OR_FAIL(q8_qparams_from_range(kSchemes[s], &lo, &hi, 1, &want_scale, &want_zp));
      cr_assert(scale == want_scale && zp == want_zp, "%s", what);
      /* apply sets them per-tensor on a tensor of the scheme's dtype, and quantize accepts it. */
      q8_dtype dt;
      Q8_OK_OR_FAIL(q8_scheme_dtype(kSchemes[s], &dt));
      const int64_t shape[1] = {(int64_t)n};
      q8_tensor *q = make_tensor(dt, shape, 1);
      Q8_OK_OR_FAIL(q8_observer_apply(obs, q));
      int32_t axis = 7;
      size_t count = 0;
      Q8_OK_OR_FAIL(q8_tensor_qparams_layout(q, &axis, &count));
      cr_assert(axis == -1 && count == 1, "%s", what);
      float got_scale;
      int32_t got_zp;
      Q8_OK_OR_FAIL(q8_tensor_get_qparams(q, &got_scale, &got_zp, 1));
      cr_assert(got_scale == scale && got_zp == zp, "%s", what);
      q8_tensor *xt = wrap_f32(x, shape, 1);
      Q8_OK_OR_FAIL(q8_quantize(xt, q));
      /* The wrong dtype is refused and leaves the tensor without parameters. */
      q8_tensor *wrong = make_tensor(dt == Q8_DTYPE_U8 ? Q8_DTYPE_S8 : Q8_DTYPE_U8, shape, 1);
      Q8_EXPECT_STATUS(q8_observer_apply(obs, wrong), Q8_ERR_DTYPE);
      q8_tensor *f32 = make_tensor(Q8_DTYPE_F32, shape, 1);
      Q8_EXPECT_STATUS(q8_observer_apply(obs, f32), Q8_ERR_DTYPE);
      Q8_OK_OR_FAIL(q8_tensor_qparams_layout(wrong, NULL, &count));
      cr_assert_eq(count, 0, "%s", what);
      q8_tensor_destroy(f32);
      q8_tensor_destroy(wrong);
      q8_tensor_destroy(xt);
      q8_tensor_destroy(q);
      q8_observer_destroy(obs);
    }
  free(x);
}

/* Per-channel: each channel's range must equal a per-tensor observer fed only that channel. */
static void check_per_channel(const int64_t *shape, size_t rank, int32_t axis) {
  size_t n = 1, inner = 1;
  for (size_t i = 0; i < rank; ++i) n *= (size_t)shape[i];
  for (size_t i = (size_t)axis + 1; i < rank; ++i) inner *= (size_t)shape[i];
  const size_t channels = (size_t)shape[axis], per = n / channels;
  float *x = normal_data(n, 21 + (uint64_t)axis, 1.0, 0.0);
  for (size_t i = 0; i < n; ++i) {  /* distinct scale and offset per channel */
    const size_t c = (i / inner) % channels;
    x[i] = x[i] * (float)(c + 1) + 0.5f * (float)c;
  }
  float *split = malloc(n * sizeof *split);
  size_t *fill = calloc(channels, sizeof *fill);
  cr_assert(split && fill);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = (i / inner) % channels;
    split[c * per + fill[c]++] = x[i];
  }
  for (int k = 0; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      char what[128];
      snprintf(what, sizeof what, "%s/%s rank %zu axis %d", kind_name(kKinds[k]),
               q8_scheme_name(kSchemes[s]), rank, axis);
      q8_observer *obs = new_observer(kKinds[k], kSchemes[s], axis);
      feed(obs, x, shape, rank);
      size_t got = 0;
      Q8_OK_OR_FAIL(q8_observer_channels(obs, &got));
      cr_assert_eq(got, channels, "%s", what);
      float lo[16], hi[16], scales[16];
      int32_t zps[16];
      Q8_OK_OR_FAIL(q8_observer_range(obs, lo, hi, channels));
      Q8_OK_OR_FAIL(q8_observer_qparams(obs, scales, zps, channels));
      for (size_t c = 0; c < channels; ++c) {
        q8_observer *one = new_observer(kKinds[k], kSchemes[s], -1);
        feed1(one, split + c * per, per);
        float wlo, whi;
        range1(one, &wlo, &whi);
        cr_assert(lo[c] == wlo && hi[c] == whi, "%s channel %zu: [%g, %g] vs alone [%g, %g]", what, c,
                  lo[c], hi[c], wlo, whi);
        q8_observer_destroy(one);
      }
      q8_dtype dt;
      Q8_OK_OR_FAIL(q8_scheme_dtype(kSchemes[s], &dt));
      q8_tensor *q = make_tensor(dt, shape, rank);
      Q8_OK_OR_FAIL(q8_observer_apply(obs, q));
      int32_t got_axis;
      size_t count;
      Q8_OK_OR_FAIL(q8_tensor_qparams_layout(q, &got_axis, &count));
      cr_assert(got_axis == axis && count == channels, "%s", what);
      float ts[16];
      int32_t tz[16];
      Q8_OK_OR_FAIL(q8_tensor_get_qparams(q, ts, tz, channels));
      for (size_t c = 0; c < channels; ++c) cr_assert(ts[c] == scales[c] && tz[c] == zps[c], "%s", what);
      q8_tensor *xt = wrap_f32(x, shape, rank);
      Q8_OK_OR_FAIL(q8_quantize(xt, q));
      q8_tensor_destroy(xt);
      q8_tensor_destroy(q);
      q8_observer_destroy(obs);
    }
  free(fill);
  free(split);
  free(x);
}

Test(observer, per_channel_axis_0) {
  const int64_t shape[2] = {3, 3000};
  check_per_channel(shape, 2, 0);
}

Test(observer, per_channel_last_axis) {
  const int64_t shape[2] = {2500, 4};
  check_per_channel(shape, 2, 1);
}

Test(observer, per_channel_middle_axis_of_rank_3) {
  const int64_t shape[3] = {6, 3, 500};
  check_per_channel(shape, 3, 1);
}

Test(observer, channel_count_mismatch_and_missing_axis) {
  for (int k = 0; k < N_KINDS; ++k) {
    q8_observer *obs = new_observer(kKinds[k], Q8_SCHEME_SYMMETRIC_NARROW, 0);
    float x[40];
    for (int i = 0; i < 40; ++i) x[i] = (float)i - 20.0f;
    const int64_t a[2] = {4, 10}, b[2] = {5, 8}, flat[1] = {40};
    feed(obs, x, a, 2);
    q8_tensor *t = wrap_f32(x, b, 2);
    Q8_EXPECT_STATUS(q8_observer_update(obs, t), Q8_ERR_SHAPE);
    q8_tensor_destroy(t);
    /* Still usable afterwards, with the old channel count. */
    size_t c;
    Q8_OK_OR_FAIL(q8_observer_channels(obs, &c));
    cr_assert_eq(c, 4);
    q8_observer_destroy(obs);

    obs = new_observer(kKinds[k], Q8_SCHEME_ASYMMETRIC_U8, 1);
    t = wrap_f32(x, flat, 1);
    Q8_EXPECT_STATUS(q8_observer_update(obs, t), Q8_ERR_SHAPE);
    q8_tensor_destroy(t);
    q8_observer_destroy(obs);
  }
}

/* ---- batch-by-batch behaviour ------------------------------------------------------------- */

Test(observer, minmax_over_batches_is_minmax_of_the_union) {
  const size_t n = 5000;
  float *x = normal_data(2 * n, 5, 3.0, -1.0);
  float dmin, dmax;
  data_minmax(x, 2 * n, &dmin, &dmax);
  for (int s = 0; s < N_SCHEMES; ++s) {
    q8_observer *two = new_observer(Q8_OBSERVER_MINMAX, kSchemes[s], -1);
    q8_observer *one = new_observer(Q8_OBSERVER_MINMAX, kSchemes[s], -1);
    feed1(two, x, n);
    feed1(two, x + n, n);
    feed1(one, x, 2 * n);
    float lo, hi, lo1, hi1;
    range1(two, &lo, &hi);
    range1(one, &lo1, &hi1);
    cr_assert(lo == dmin && hi == dmax && lo1 == dmin && hi1 == dmax);
    q8_observer_destroy(two);
    q8_observer_destroy(one);
  }
  free(x);
}

Test(observer, moving_average_follows_its_formula) {
  q8_observer_options o;
  Q8_OK_OR_FAIL(q8_observer_options_init(&o));
  o.kind = Q8_OBSERVER_MOVING_AVERAGE_MINMAX;
  o.averaging_constant = 0.25f;
  q8_observer *obs = NULL;
  Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
  float batches[4][3] = {{-1, 2, 0}, {-3, 5, 1}, {0.5f, 1, 0.75f}, {-8, -2, NAN}};
  float want_lo = 0, want_hi = 0;
  for (int b = 0; b < 4; ++b) {
    float bmin, bmax;
    data_minmax(batches[b], 3, &bmin, &bmax);
    if (b == 0) {
      want_lo = bmin;
      want_hi = bmax;
    } else {
      want_lo += 0.25f * (bmin - want_lo);
      want_hi += 0.25f * (bmax - want_hi);
    }
    feed1(obs, batches[b], 3);
    float lo, hi;
    range1(obs, &lo, &hi);
    cr_assert_float_eq(lo, want_lo, 1e-6f, "batch %d: %g vs %g", b, lo, want_lo);
    cr_assert_float_eq(hi, want_hi, 1e-6f, "batch %d: %g vs %g", b, hi, want_hi);
  }
  q8_observer_destroy(obs);
}

Test(observer, reset_forgets_everything_but_the_options) {
  float *big = normal_data(4000, 7, 100.0, 0.0), *small = normal_data(3000, 8, 1.0, 0.5);
  for (int k = 0; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      q8_observer *obs = new_observer(kKinds[k], kSchemes[s], 0);
      const int64_t a[2] = {4, 1000}, b[2] = {3, 1000};
      feed(obs, big, a, 2);
      Q8_OK_OR_FAIL(q8_observer_reset(obs));
      size_t c;
      Q8_EXPECT_STATUS(q8_observer_channels(obs, &c), Q8_ERR_STATE);
      feed(obs, small, b, 2); /* a different channel count is fine after a reset */
      q8_observer *fresh = new_observer(kKinds[k], kSchemes[s], 0);
      feed(fresh, small, b, 2);
      float lo[3], hi[3], flo[3], fhi[3];
      Q8_OK_OR_FAIL(q8_observer_range(obs, lo, hi, 3));
      Q8_OK_OR_FAIL(q8_observer_range(fresh, flo, fhi, 3));
      for (int i = 0; i < 3; ++i)
        cr_assert(lo[i] == flo[i] && hi[i] == fhi[i], "%s/%s channel %d", kind_name(kKinds[k]),
                  q8_scheme_name(kSchemes[s]), i);
      q8_observer_destroy(fresh);
      q8_observer_destroy(obs);
    }
  free(small);
  free(big);
}

Test(observer, nan_and_infinities_are_ignored) {
  const size_t n = 3000;
  float *clean = normal_data(n, 9, 2.0, 0.0);
  float *dirty = malloc(2 * n * sizeof *dirty);
  cr_assert_not_null(dirty);
  const float junk[4] = {NAN, INFINITY, -INFINITY, -NAN};
  for (size_t i = 0; i < n; ++i) {
    dirty[2 * i] = junk[i % 4];
    dirty[2 * i + 1] = clean[i];
  }
  for (int k = 0; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      q8_observer *a = new_observer(kKinds[k], kSchemes[s], -1);
      q8_observer *b = new_observer(kKinds[k], kSchemes[s], -1);
      feed1(a, clean, n);
      feed1(b, dirty, 2 * n);
      float alo, ahi, blo, bhi;
      range1(a, &alo, &ahi);
      range1(b, &blo, &bhi);
      cr_assert(alo == blo && ahi == bhi, "%s/%s", kind_name(kKinds[k]), q8_scheme_name(kSchemes[s]));
      q8_observer_destroy(a);
      q8_observer_destroy(b);
    }
  free(dirty);
  free(clean);
}

Test(observer, a_batch_of_only_nan_and_inf_gives_a_zero_range) {
  float junk[6] = {NAN, INFINITY, -INFINITY, NAN, NAN, INFINITY};
  for (int k = 0; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      q8_observer *obs = new_observer(kKinds[k], kSchemes[s], -1);
      feed1(obs, junk, 6);
      float lo = 1, hi = 1, scale;
      int32_t zp;
      range1(obs, &lo, &hi);
      cr_assert(lo == 0.0f && hi == 0.0f, "%s/%s", kind_name(kKinds[k]), q8_scheme_name(kSchemes[s]));
      Q8_OK_OR_FAIL(q8_observer_qparams(obs, &scale, &zp, 1));
      cr_assert_eq(scale, 1.0f);
      q8_observer_destroy(obs);
    }
}

Test(observer, empty_batches_change_nothing) {
  float *x = normal_data(1000, 3, 1.0, 0.0);
  const int64_t empty[2] = {0, 4}, shape[2] = {250, 4};
  for (int k = 0; k < N_KINDS; ++k) {
    q8_observer *obs = new_observer(kKinds[k], Q8_SCHEME_ASYMMETRIC_S8, 1);
    feed(obs, NULL, empty, 2);
    size_t c;
    Q8_EXPECT_STATUS(q8_observer_channels(obs, &c), Q8_ERR_STATE);
    feed(obs, x, shape, 2);
    float lo[4], hi[4], lo2[4], hi2[4];
    Q8_OK_OR_FAIL(q8_observer_range(obs, lo, hi, 4));
    feed(obs, NULL, empty, 2);
    const int64_t other_empty[1] = {0}; /* no channels to mismatch: still a no-op */
    feed(obs, NULL, other_empty, 1);
    Q8_OK_OR_FAIL(q8_observer_range(obs, lo2, hi2, 4));
    for (int i = 0; i < 4; ++i) cr_assert(lo[i] == lo2[i] && hi[i] == hi2[i], "%s", kind_name(kKinds[k]));
    q8_observer_destroy(obs);
  }
  free(x);
}

/* ---- histogram observers in particular ---------------------------------------------------- */

static q8_observer *new_percentile(q8_scheme scheme, double p) {
  q8_observer_options o;
  Q8_OK_OR_FAIL(q8_observer_options_init(&o));
  o.kind = Q8_OBSERVER_PERCENTILE;
  o.scheme = scheme;
  o.percentile = p;
  q8_observer *obs = NULL;
  Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
  return obs;
}

/* The histogram grows (re-binning) as batches widen the range; percentile 100 keeps the exact
 * data range through all of it. */
Test(observer, histogram_grows_with_the_batches) {
  float *b1 = normal_data(4000, 31, 0.3, 0.0), *b2 = normal_data(4000, 32, 2.0, -1.0);
  float *b3 = normal_data(4000, 33, 10.0, 20.0), *b4 = normal_data(4000, 34, 1.0, -300.0);
  float *all[4] = {b1, b2, b3, b4};
  for (int s = 0; s < N_SCHEMES; ++s) {
    q8_observer *pct = new_percentile(kSchemes[s], 100.0);
    q8_observer *mm = new_observer(Q8_OBSERVER_MINMAX, kSchemes[s], -1);
    for (int b = 0; b < 4; ++b) {
      feed1(pct, all[b], 4000);
      feed1(mm, all[b], 4000);
      float lo, hi, mlo, mhi;
      range1(pct, &lo, &hi);
      range1(mm, &mlo, &mhi);
      cr_assert(lo == mlo && hi == mhi, "%s after batch %d: [%g, %g] vs [%g, %g]", q8_scheme_name(kSchemes[s]), b,
                lo, hi, mlo, mhi);
    }
    q8_observer_destroy(pct);
    q8_observer_destroy(mm);
  }
  for (int b = 0; b < 4; ++b) free(all[b]);
}

Test(observer, percentile_symmetric_folds_abs_and_asymmetric_takes_both_tails) {
  const size_t n = 100000;
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  /* |x| uniform on [0, 10], signs alternating: P99 of |x| is 9.9. */
  for (size_t i = 0; i < n; ++i) x[i] = (float)((double)(i + 0.5) / (double)n * 10.0) * (i % 2 ? -1.0f : 1.0f);
  for (int s = 0; s < 2; ++s) {
    q8_observer *obs = new_percentile(kSchemes[s], 99.0);
    feed1(obs, x, n / 2);
    feed1(obs, x + n / 2, n / 2);
    float lo, hi;
    range1(obs, &lo, &hi);
    cr_assert_float_eq(hi, 9.9f, 0.01f, "%s: %g", q8_scheme_name(kSchemes[s]), hi);
    cr_assert_float_eq(lo, -9.9f, 0.01f, "%s: %g", q8_scheme_name(kSchemes[s]), lo);
    q8_observer_destroy(obs);
  }
  /* x uniform on [-2, 8]: [P1, P99] = [-1.9, 7.9]. */
  for (size_t i = 0; i < n; ++i) x[i] = (float)((double)(i + 0.5) / (double)n * 10.0 - 2.0);
  for (int s = 2; s < 4; ++s) {
    q8_observer *obs = new_percentile(kSchemes[s], 99.0);
    feed1(obs, x + n / 2, n / 2); /* upper half first: the second batch widens the range */
    feed1(obs, x, n / 2);
    float lo, hi;
    range1(obs, &lo, &hi);
    cr_assert_float_eq(lo, -1.9f, 0.01f, "%s: %g", q8_scheme_name(kSchemes[s]), lo);
    cr_assert_float_eq(hi, 7.9f, 0.01f, "%s: %g", q8_scheme_name(kSchemes[s]), hi);
    q8_observer_destroy(obs);
  }
  free(x);
}

Test(observer, degenerate_data_gives_sane_ranges) {
  float zeros[100] = {0}, consts[100], one[1] = {-2.5f};
  float huge[6] = {3e38f, -3e38f, 1.0f, -1.0f, FLT_MAX, -FLT_MAX};
  float tiny[4] = {1e-44f, -3e-45f, 0.0f, 2e-45f};
  for (int i = 0; i < 100; ++i) consts[i] = 4.0f;
  for (int k = 0; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      const char *what = kind_name(kKinds[k]);
      float lo, hi;
      q8_observer *obs = new_observer(kKinds[k], kSchemes[s], -1);
      feed1(obs, zeros, 100);
      range1(obs, &lo, &hi);
      cr_assert(lo == 0.0f && hi == 0.0f, "%s zeros", what);
      feed1(obs, consts, 100); /* the zeros seen before still count */
      range1(obs, &lo, &hi);
      check_range_sane(lo, hi, 0.0f, 4.0f, what);
      cr_assert(hi >= 3.99f || kKinds[k] == Q8_OBSERVER_MOVING_AVERAGE_MINMAX, "%s: %g", what, hi);
      Q8_OK_OR_FAIL(q8_observer_reset(obs));
      feed1(obs, one, 1);
      range1(obs, &lo, &hi);
      check_range_sane(lo, hi, -2.5f, -2.5f, what);
      Q8_OK_OR_FAIL(q8_observer_reset(obs));
      feed1(obs, huge, 6);
      range1(obs, &lo, &hi);
      check_range_sane(lo, hi, -FLT_MAX, FLT_MAX, what);
      Q8_OK_OR_FAIL(q8_observer_reset(obs));
      feed1(obs, tiny, 4);
      range1(obs, &lo, &hi);
      check_range_sane(lo, hi, -3e-45f, 1e-44f, what);
      q8_observer_destroy(obs);
    }
}

Test(observer, per_channel_ranges_do_not_depend_on_the_thread_count) {
  const int64_t shape[2] = {8, 20000};
  float *x = normal_data(8 * 20000, 41, 1.0, 0.0);
  for (int i = 0; i < 8 * 20000; ++i) x[i] *= (float)(1 + i / 20000);
  const q8_observer_kind kinds[3] = {Q8_OBSERVER_PERCENTILE, Q8_OBSERVER_ENTROPY, Q8_OBSERVER_MSE};
  for (int k = 0; k < 3; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      float lo[2][8], hi[2][8];
      for (int run = 0; run < 2; ++run) {
        Q8_OK_OR_FAIL(q8_runtime_set_threads(run == 0 ? 1 : 0));
        q8_observer *obs = new_observer(kinds[k], kSchemes[s], 0);
        feed(obs, x, shape, 2);
        Q8_OK_OR_FAIL(q8_observer_range(obs, lo[run], hi[run], 8));
        q8_observer_destroy(obs);
      }
      for (int c = 0; c < 8; ++c) cr_assert(lo[0][c] == lo[1][c] && hi[0][c] == hi[1][c]);
    }
  free(x);
}

/* ---- quality: SQNR against min-max -------------------------------------------------------- */

static double sqnr_db(const float *x, const float *y, size_t n) {
  double sig = 0, err = 0;
  for (size_t i = 0; i < n; ++i) {
    sig += (double)x[i] * x[i];
    err += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
  }
  return 10.0 * log10(sig / err);
}

/* Calibrate on x in batches, then quantize and dequantize all of x; SQNR in dB. */
static double calibrated_sqnr(float *x, size_t n, size_t batch, q8_observer_kind kind, q8_scheme scheme) {
  q8_observer *obs = new_observer(kind, scheme, -1);
  for (size_t off = 0; off < n; off += batch) feed1(obs, x + off, n - off < batch ? n - off : batch);
  const int64_t shape[1] = {(int64_t)n};
  q8_dtype dt;
  Q8_OK_OR_FAIL(q8_scheme_dtype(scheme, &dt));
  q8_tensor *xt = wrap_f32(x, shape, 1), *q = make_tensor(dt, shape, 1), *y = make_tensor(Q8_DTYPE_F32, shape, 1);
  Q8_OK_OR_FAIL(q8_observer_apply(obs, q));
  Q8_OK_OR_FAIL(q8_quantize(xt, q));
  Q8_OK_OR_FAIL(q8_dequantize(q, y));
  const double db = sqnr_db(x, tensor_data(y), n);
  q8_tensor_destroy(y);
  q8_tensor_destroy(q);
  q8_tensor_destroy(xt);
  q8_observer_destroy(obs);
  return db;
}

/* SQNR of every kind on every scheme, printed as a table; db[kind][scheme]. */
static void sqnr_table(const char *title, float *x, size_t n, size_t batch, double db[N_KINDS][N_SCHEMES]) {
  printf("\nSQNR (dB), %s: %zu samples in batches of %zu\n", title, n, batch);
  printf("| %-22s |", "observer");
  for (int s = 0; s < N_SCHEMES; ++s) printf(" %16s |", q8_scheme_name(kSchemes[s]));
  printf("\n");
  for (int k = 0; k < N_KINDS; ++k) {
    printf("| %-22s |", kind_name(kKinds[k]));
    for (int s = 0; s < N_SCHEMES; ++s) {
      db[k][s] = calibrated_sqnr(x, n, batch, kKinds[k], kSchemes[s]);
      printf(" %16.2f |", db[k][s]);
    }
    printf("\n");
  }
  fflush(stdout);
}

static double laplace(test_rng *r) {
  double u = rng_uniform(r) - 0.5;
  const double m = 1.0 - 2.0 * fabs(u);
  return (u < 0 ? 1.0 : -1.0) * log(m > 1e-300 ? m : 1e-300);
}

/* Why 2^21 samples and not ~200k: with 8 bits, min-max's noise is about N * max^2 / (12 * 127^2),
 * roughly max^2 at N = 200k, while clipping one sample at the max costs up to max^2 too. So at
 * N = 200k no range can beat min-max by more than ~3 dB on any data; the margin grows with N. */
#define QUALITY_N ((size_t)1 << 21)
#define QUALITY_BATCH ((size_t)1 << 17)

/* THE KEY TEST: Laplace(1) with four rare, large outliers. Clipping them pays. */
Test(observer, histogram_observers_beat_minmax_on_laplace_with_outliers, .timeout = 240) {
  const size_t n = QUALITY_N;
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  test_rng r;
  rng_seed(&r, 2024);
  for (size_t i = 0; i < n; ++i) x[i] = (float)laplace(&r);
  const float outliers[4] = {60.0f, -45.0f, 80.0f, -100.0f};
  for (int i = 0; i < 4; ++i) x[rng_next(&r) % n] = outliers[i];
  double db[N_KINDS][N_SCHEMES];
  sqnr_table("Laplace(1) + outliers {60, -45, 80, -100}", x, n, QUALITY_BATCH, db);
  for (int k = 2; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s)
      cr_expect(db[k][s] >= db[0][s] + 3.0, "%s on %s: %.2f dB vs min-max %.2f dB", kind_name(kKinds[k]),
                q8_scheme_name(kSchemes[s]), db[k][s], db[0][s]);
  free(x);
}

/* Student-t, 3 degrees of freedom: a heavy tail rather than a few outliers. MSE, which minimises
 * exactly this error, must gain clearly; percentile and entropy clip harder and gain less. */
Test(observer, histogram_observers_beat_minmax_on_student_t3, .timeout = 240) {
  const size_t n = QUALITY_N;
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  test_rng r;
  rng_seed(&r, 42);
  for (size_t i = 0; i < n; ++i) x[i] = (float)rng_student_t(&r, 3);
  double db[N_KINDS][N_SCHEMES];
  sqnr_table("Student-t, 3 dof", x, n, QUALITY_BATCH, db);
  for (int s = 0; s < N_SCHEMES; ++s) {
    cr_expect(db[Q8_OBSERVER_MSE][s] >= db[0][s] + 3.0, "mse on %s", q8_scheme_name(kSchemes[s]));
    cr_expect(db[Q8_OBSERVER_PERCENTILE][s] >= db[0][s] + 1.0, "percentile on %s", q8_scheme_name(kSchemes[s]));
    cr_expect(db[Q8_OBSERVER_ENTROPY][s] >= db[0][s] + 1.0, "entropy on %s", q8_scheme_name(kSchemes[s]));
  }
  free(x);
}

/* On uniform data min-max is already right: nobody may be much worse. */
Test(observer, no_observer_is_much_worse_than_minmax_on_uniform_data) {
  const size_t n = 200000;
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  test_rng r;
  rng_seed(&r, 99);
  for (size_t i = 0; i < n; ++i) x[i] = (float)(rng_uniform(&r) * 6.0 - 2.0);
  double db[N_KINDS][N_SCHEMES];
  sqnr_table("uniform on [-2, 4)", x, n, n / 8, db);
  for (int k = 1; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s)
      cr_expect(db[k][s] >= db[0][s] - (kKinds[k] == Q8_OBSERVER_MSE ? 0.5 : 1.0), "%s on %s: %.2f vs %.2f",
                kind_name(kKinds[k]), q8_scheme_name(kSchemes[s]), db[k][s], db[0][s]);
  free(x);
}

/* Feeding in batches (with re-binning as the range grows) must land close to feeding at once.
 * Asymmetric entropy gets more room: KL on the sparse tails of a 2-D window search is a noisy
 * criterion, and the growth headroom changes the histogram's resolution. */
Test(observer, batch_feeding_matches_one_shot_quality) {
  const size_t n = 200000;
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  test_rng r;
  rng_seed(&r, 5);
  for (size_t i = 0; i < n; ++i) x[i] = (float)rng_student_t(&r, 4);
  for (int k = 2; k < N_KINDS; ++k)
    for (int s = 0; s < N_SCHEMES; ++s) {
      const double once = calibrated_sqnr(x, n, n, kKinds[k], kSchemes[s]);
      const double batched = calibrated_sqnr(x, n, 5000, kKinds[k], kSchemes[s]);
      const double tol = kKinds[k] == Q8_OBSERVER_ENTROPY && s >= 2 ? 2.0 : 0.25;
      cr_expect(fabs(once - batched) <= tol, "%s on %s: %.2f dB at once, %.2f dB in batches",
                kind_name(kKinds[k]), q8_scheme_name(kSchemes[s]), once, batched);
    }
  free(x);
}
