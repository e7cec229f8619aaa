/* Q7/Q15/Q31 conversions and arithmetic (q8/fixed.h, first half) against plain reference
 * formulas written here with 64- and 128-bit integers and long double: every Q7 pair or value
 * exhaustively, every Q15 value for the one-source operations, Q15/Q31 edge values crossed with
 * each other plus millions of random values, real -> fixed on ties and specials in all three
 * rounding modes; each on every ISA path the CPU supports and on 1 and 2 threads, bit for bit.
 * Also: in place, n = 0, odd sizes, bad input. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

__extension__ typedef __int128 i128;

/* ---- the contract, written independently of the library --------------------------------------- */

static int64_t lo_of(int bits) { return -((int64_t)1 << (bits - 1)); }
static int64_t hi_of(int bits) { return ((int64_t)1 << (bits - 1)) - 1; }
static int64_t sat(int64_t v, int bits) { return v < lo_of(bits) ? lo_of(bits) : v > hi_of(bits) ? hi_of(bits) : v; }
static int64_t sat128(i128 v, int bits) {
  return v < (i128)lo_of(bits) ? lo_of(bits) : v > (i128)hi_of(bits) ? hi_of(bits) : (int64_t)v;
}
/* floor(v / 2^s), 0 <= s <= 62, by C division (which truncates) and a correction. */
static int64_t floor_div(int64_t v, int s) {
  const int64_t d = (int64_t)1 << s;
  int64_t q = v / d;
  if (v % d != 0 && v < 0) q -= 1;
  return q;
}
static int min_int(int a, int b) { return a < b ? a : b; }

static int64_t r_add(int64_t a, int64_t b, int bits) { return sat(a + b, bits); }
static int64_t r_sub(int64_t a, int64_t b, int bits) { return sat(a - b, bits); }
static int64_t r_neg(int64_t x, int bits) { return sat(-x, bits); }
static int64_t r_abs(int64_t x, int bits) { return sat(x < 0 ? -x : x, bits); }
/* CMSIS arm_mult_q*: (a * b) >> (bits - 1), saturated. */
static int64_t r_mult(int64_t a, int64_t b, int bits) { return sat(floor_div(a * b, bits - 1), bits); }
/* arm_shift_q*: left saturates, right is arithmetic. */
static int64_t r_shift(int64_t x, int s, int bits) {
  if (s >= 0) return sat128((i128)x * ((i128)1 << min_int(s, 64)), bits);
  return floor_div(x, min_int(-s, 62));
}
/* arm_scale_q7/q15: (x * f) >> (frac - shift) saturated; arm_scale_q31: ((x * f) >> 32) shifted by
 * shift + 1 (left saturating, right arithmetic). */
static int64_t r_scale(int64_t x, int64_t f, int shift, int bits) {
  const int64_t p = x * f;
  if (bits < 32) {
    const int e = shift - (bits - 1);
    if (e >= 0) return sat128((i128)p * ((i128)1 << min_int(e, 64)), bits);
    return sat(floor_div(p, min_int(-e, 62)), bits);
  }
  const int64_t hi = floor_div(p, 32);
  const int k = shift + 1;
  if (k >= 0) return sat128((i128)hi * ((i128)1 << min_int(k, 64)), bits);
  return floor_div(hi, min_int(-k, 62));
}
/* real -> fixed: the product x * 2^f in long double (exact, never overflows), rounded by the C
 * library, saturated; NaN -> 0. */
static int64_t r_from_real(long double x, int frac_bits, int rounding, int bits) {
  if (isnan(x)) return 0;
  const long double v = ldexpl(x, frac_bits);
  const long double r = rounding == Q8_ROUND_TOWARD_ZERO ? truncl(v)
                        : rounding == Q8_ROUND_NEAREST_AWAY ? roundl(v)
                                                            : nearbyintl(v); /* default mode: ties to even */
  if (r >= ldexpl(1.0L, bits - 1)) return hi_of(bits);
  if (r <= -ldexpl(1.0L, bits - 1)) return lo_of(bits);
  return (int64_t)r;
}
/* fixed -> real: the exact value in double (every int32 / 2^f is exact), rounded once to float. */
static float r_to_f32(int64_t x, int frac_bits) { return (float)ldexp((double)x, -frac_bits); }
static double r_to_f64(int64_t x, int frac_bits) { return ldexp((double)x, -frac_bits); }

/* ---- paths, comparisons ------------------------------------------------------------------------ */

typedef struct {
  q8_isa isa[8];
  size_t n;
} paths;

static paths all_paths(void) {
  paths p;
  p.n = supported_isas(p.isa);
  cr_assert(p.n >= 1);
  return p;
}

/* Runs the body once per (ISA path, thread count), with that path and count selected. */
static int select_path(q8_isa isa, int threads) {
  Q8_OK_OR_FAIL(q8_runtime_set_isa(isa));
  Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
  return 1;
}
#define EACH_PATH(P, k, t) \
  for (size_t k = 0; k < (P).n; ++k) \
    for (int t = 1; t <= 2; ++t) \
      if (select_path((P).isa[k], t))

static char g_ctx[256];
/* A label for failure messages: the operation, the path and thread count (checked to be the ones
 * in effect, so a label can never name a path the call did not run on). */
static const char *use(q8_isa isa, int threads, const char *what) {
  cr_assert_eq(q8_runtime_isa(), isa, "%s: path not selected", what);
  cr_assert_eq(q8_runtime_threads(), threads, "%s: thread count not selected", what);
  snprintf(g_ctx, sizeof g_ctx, "%s [isa %s, %d thread%s]", what, q8_isa_name(isa), threads, threads > 1 ? "s" : "");
  return g_ctx;
}

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

#define DEFINE_CHECK(T, F, CAST)                                                                  \
  static void check_##T(const T *got, const int64_t *want, size_t n, const char *what) {          \
    for (size_t i = 0; i < n; ++i)                                                                \
      if ((int64_t)got[i] != want[i])                                                             \
        cr_assert_fail("%s: n=%zu i=%zu got " F " want " F, what, n, i, (CAST)got[i], (CAST)want[i]); \
  }
DEFINE_CHECK(int8_t, "%lld", long long)
DEFINE_CHECK(int16_t, "%lld", long long)
DEFINE_CHECK(int32_t, "%lld", long long)

static void check_f32(const float *got, const float *want, size_t n, const char *what) {
  for (size_t i = 0; i < n; ++i)
    if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
      cr_assert_fail("%s: n=%zu i=%zu got %a want %a", what, n, i, (double)got[i], (double)want[i]);
}
static void check_f64(const double *got, const double *want, size_t n, const char *what) {
  for (size_t i = 0; i < n; ++i)
    if (memcmp(&got[i], &want[i], sizeof(double)) != 0)
      cr_assert_fail("%s: n=%zu i=%zu got %a want %a", what, n, i, got[i], want[i]);
}

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  cr_assert(p != NULL, "out of memory");
  return p;
}

/* Values that stress an integer format: the extremes and their neighbours, small values, powers
 * of two around the half point. */
static size_t edge_values(int bits, int64_t *out) {
  const int64_t lo = lo_of(bits), hi = hi_of(bits), half = (int64_t)1 << (bits - 2);
  const int64_t v[] = {lo, lo + 1, lo + 2, -half - 1, -half, -half + 1, -3, -2, -1, 0, 1, 2, 3,
                       half - 1, half, half + 1, hi - 2, hi - 1, hi, 5, -5, 127, -128, 128, -129, 255, 256};
  size_t n = 0;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i)
    if (v[i] >= lo && v[i] <= hi) out[n++] = v[i];
  return n;
}

/* Mostly uniform bits, a quarter edge values: the mixture reaches saturation and the ordinary case. */
static int64_t random_value(test_rng *r, int bits) {
  int64_t e[64];
  const size_t ne = edge_values(bits, e);
  const uint64_t u = rng_next(r);
  if ((u & 3) == 0) return e[(u >> 2) % ne];
  const int64_t v = (int64_t)(rng_next(r) >> (64 - bits)); /* [0, 2^bits) */
  return v > hi_of(bits) ? v - ((int64_t)1 << bits) : v;
}

TestSuite(fixed, .fini = restore_runtime, .timeout = 280);

/* ---- Q7: every pair and every value ------------------------------------------------------------ */

typedef q8_status (*bin8_fn)(const int8_t *, const int8_t *, int8_t *, size_t);
typedef int8_t (*bin8_scalar)(int8_t, int8_t);
typedef int64_t (*bin_ref)(int64_t, int64_t, int);

Test(fixed, q7_binary_every_pair) {
  const struct {
    const char *name;
    bin8_fn f;
    bin8_scalar scalar;
    bin_ref ref;
  } ops[] = {{"add_q7", q8_fixed_add_q7, q8_fixed_add_q7_scalar, r_add},
             {"sub_q7", q8_fixed_sub_q7, q8_fixed_sub_q7_scalar, r_sub},
             {"mult_q7", q8_fixed_mult_q7, q8_fixed_mult_q7_scalar, r_mult}};
  enum { N = 65536 };
  static int8_t a[N], b[N], d[N];
  static int64_t want[N];
  for (int i = 0; i < N; ++i) {
    a[i] = (int8_t)(i >> 8);
    b[i] = (int8_t)(i & 0xFF);
  }
  const paths p = all_paths();
  for (size_t o = 0; o < 3; ++o) {
    for (int i = 0; i < N; ++i) {
      want[i] = ops[o].ref(a[i], b[i], 8);
      if (ops[o].scalar(a[i], b[i]) != want[i])
        cr_assert_fail("%s_scalar(%d, %d) = %d, want %lld", ops[o].name, a[i], b[i], ops[o].scalar(a[i], b[i]),
                       (long long)want[i]);
    }
    EACH_PATH(p, k, t) {
      const char *what = use(p.isa[k], t, ops[o].name);
      memset(d, 0x5A, sizeof d);
      Q8_OK_OR_FAIL(ops[o].f(a, b, d, N));
      check_int8_t(d, want, N, what);
    }
  }
}

Test(fixed, q7_mac_every_pair) {
  const int32_t accs[] = {0, 1, -1, INT32_MAX, INT32_MIN, INT32_MAX - 16383, INT32_MIN + 16383, 123456789};
  for (size_t k = 0; k < sizeof accs / sizeof accs[0]; ++k)
    for (int i = 0; i < 65536; ++i) {
      const int8_t a = (int8_t)(i >> 8), b = (int8_t)(i & 0xFF);
      const int32_t want = (int32_t)(uint32_t)((int64_t)accs[k] + a * b); /* modulo 2^32 */
      const int32_t got = q8_fixed_mac_q7_scalar(accs[k], a, b);
      if (got != want) cr_assert_fail("mac_q7(%d, %d, %d) = %d, want %d", accs[k], a, b, got, want);
    }
}

/* 256 values, repeated with an offset so that every SIMD lane position sees every value. */
enum { Q7_REPS = 3, Q7_N = 256 * Q7_REPS + 5 };
static void q7_all_values(int8_t *x) {
  for (int i = 0; i < Q7_N; ++i) x[i] = (int8_t)(i * 7 + i / 256);
}

Test(fixed, q7_negate_abs_every_value) {
  int8_t x[Q7_N], d[Q7_N];
  int64_t wn[Q7_N], wa[Q7_N];
  q7_all_values(x);
  for (int i = 0; i < Q7_N; ++i) {
    wn[i] = r_neg(x[i], 8);
    wa[i] = r_abs(x[i], 8);
    cr_assert_eq(q8_fixed_negate_q7_scalar(x[i]), wn[i], "negate_q7_scalar(%d)", x[i]);
    cr_assert_eq(q8_fixed_abs_q7_scalar(x[i]), wa[i], "abs_q7_scalar(%d)", x[i]);
  }
  cr_assert_eq(q8_fixed_negate_q7_scalar(INT8_MIN), INT8_MAX);
  cr_assert_eq(q8_fixed_abs_q7_scalar(INT8_MIN), INT8_MAX);
  const paths p = all_paths();
  EACH_PATH(p, k, t) {
    Q8_OK_OR_FAIL(q8_fixed_negate_q7(x, d, Q7_N));
    check_int8_t(d, wn, Q7_N, use(p.isa[k], t, "negate_q7"));
    Q8_OK_OR_FAIL(q8_fixed_abs_q7(x, d, Q7_N));
    check_int8_t(d, wa, Q7_N, use(p.isa[k], t, "abs_q7"));
  }
}

/* Shift amounts: -10..10 as the issue asks, and the extremes of int8 and around every width. */
static const int kShifts[] = {-10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                              -128, -127, -64, -33, -32, -31, -30, -17, -16, -15, -14, 14, 15, 16, 17,
                              30, 31, 32, 33, 64, 126, 127};
#define N_SHIFTS (sizeof kShifts / sizeof kShifts[0])

Test(fixed, q7_shift_every_value_every_shift) {
  int8_t x[Q7_N], d[Q7_N];
  int64_t w[Q7_N];
  q7_all_values(x);
  const paths p = all_paths();
  for (size_t s = 0; s < N_SHIFTS; ++s) {
    const int8_t sh = (int8_t)kShifts[s];
    for (int i = 0; i < Q7_N; ++i) {
      w[i] = r_shift(x[i], sh, 8);
      if (q8_fixed_shift_q7_scalar(x[i], sh) != w[i])
        cr_assert_fail("shift_q7_scalar(%d, %d) = %d want %lld", x[i], sh, q8_fixed_shift_q7_scalar(x[i], sh),
                       (long long)w[i]);
    }
    EACH_PATH(p, k, t) {
      char what[64];
      snprintf(what, sizeof what, "shift_q7 by %d", sh);
      Q8_OK_OR_FAIL(q8_fixed_shift_q7(x, sh, d, Q7_N));
      check_int8_t(d, w, Q7_N, use(p.isa[k], t, what));
    }
  }
}

Test(fixed, q7_scale_every_value_every_scale) {
  int8_t x[Q7_N], d[Q7_N];
  int64_t w[Q7_N];
  q7_all_values(x);
  const int shifts[] = {-128, -20, -9, -8, -7, -6, -3, -1, 0, 1, 2, 3, 6, 7, 8, 9, 15, 127};
  const paths p = all_paths();
  for (int f = -128; f <= 127; ++f)
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; ++s) {
      for (int i = 0; i < Q7_N; ++i) w[i] = r_scale(x[i], f, shifts[s], 8);
      EACH_PATH(p, k, t) {
        char what[64];
        snprintf(what, sizeof what, "scale_q7 by %d, shift %d", f, shifts[s]);
        Q8_OK_OR_FAIL(q8_fixed_scale_q7(x, (int8_t)f, (int8_t)shifts[s], d, Q7_N));
        check_int8_t(d, w, Q7_N, use(p.isa[k], t, what));
      }
    }
}

Test(fixed, q7_conversions_every_value) {
  int8_t x[Q7_N];
  int16_t d16[Q7_N];
  int32_t d32[Q7_N];
  float f32[Q7_N], w32[Q7_N];
  double f64[Q7_N], w64[Q7_N];
  int64_t w[Q7_N];
  q7_all_values(x);
  const paths p = all_paths();
  EACH_PATH(p, k, t) {
    for (int i = 0; i < Q7_N; ++i) w[i] = (int64_t)x[i] * 256;
    Q8_OK_OR_FAIL(q8_fixed_q7_to_q15(x, d16, Q7_N));
    check_int16_t(d16, w, Q7_N, use(p.isa[k], t, "q7_to_q15"));
    for (int i = 0; i < Q7_N; ++i) w[i] = (int64_t)x[i] * 16777216;
    Q8_OK_OR_FAIL(q8_fixed_q7_to_q31(x, d32, Q7_N));
    check_int32_t(d32, w, Q7_N, use(p.isa[k], t, "q7_to_q31"));
    for (int fb = 0; fb <= 7; ++fb) {
      for (int i = 0; i < Q7_N; ++i) {
        w32[i] = r_to_f32(x[i], fb);
        w64[i] = r_to_f64(x[i], fb);
      }
      char what[64];
      snprintf(what, sizeof what, "to_f32_s8 frac_bits %d", fb);
      Q8_OK_OR_FAIL(q8_fixed_to_f32_s8(x, f32, Q7_N, fb));
      check_f32(f32, w32, Q7_N, use(p.isa[k], t, what));
      snprintf(what, sizeof what, "to_f64_s8 frac_bits %d", fb);
      Q8_OK_OR_FAIL(q8_fixed_to_f64_s8(x, f64, Q7_N, fb));
      check_f64(f64, w64, Q7_N, use(p.isa[k], t, what));
    }
  }
  /* Round trip: every Q7 value survives Q7 -> real -> Q7 in every rounding mode. */
  for (int r = 0; r < 3; ++r) {
    int8_t back[Q7_N];
    Q8_OK_OR_FAIL(q8_fixed_to_f32_s8(x, f32, Q7_N, 7));
    Q8_OK_OR_FAIL(q8_fixed_from_f32_s8(f32, back, Q7_N, 7, (q8_rounding)r));
    cr_assert_arr_eq(back, x, sizeof x, "round trip in rounding mode %d", r);
  }
}

/* ---- Q15: every value for one-source operations, edges crossed and random pairs for two --------- */

enum { Q15_N = 65536 + 3 };
static void q15_all_values(int16_t *x) {
  for (int i = 0; i < Q15_N; ++i) x[i] = (int16_t)(i * 3);
}

Test(fixed, q15_one_source_every_value) {
  int16_t *x = xmalloc(Q15_N * sizeof *x), *d = xmalloc(Q15_N * sizeof *d);
  int8_t *d8 = xmalloc(Q15_N);
  int32_t *d32 = xmalloc(Q15_N * sizeof *d32);
  float *f32 = xmalloc(Q15_N * sizeof *f32), *w32 = xmalloc(Q15_N * sizeof *w32);
  double *f64 = xmalloc(Q15_N * sizeof *f64), *w64 = xmalloc(Q15_N * sizeof *w64);
  int64_t *w = xmalloc(Q15_N * sizeof *w);
  q15_all_values(x);
  const paths p = all_paths();
  for (int i = 0; i < Q15_N; ++i) {
    cr_assert_eq(q8_fixed_negate_q15_scalar(x[i]), r_neg(x[i], 16));
    cr_assert_eq(q8_fixed_abs_q15_scalar(x[i]), r_abs(x[i], 16));
  }
  EACH_PATH(p, k, t) {
    for (int i = 0; i < Q15_N; ++i) w[i] = r_neg(x[i], 16);
    Q8_OK_OR_FAIL(q8_fixed_negate_q15(x, d, Q15_N));
    check_int16_t(d, w, Q15_N, use(p.isa[k], t, "negate_q15"));
    for (int i = 0; i < Q15_N; ++i) w[i] = r_abs(x[i], 16);
    Q8_OK_OR_FAIL(q8_fixed_abs_q15(x, d, Q15_N));
    check_int16_t(d, w, Q15_N, use(p.isa[k], t, "abs_q15"));
    for (int i = 0; i < Q15_N; ++i) w[i] = floor_div(x[i], 8);
    Q8_OK_OR_FAIL(q8_fixed_q15_to_q7(x, d8, Q15_N));
    check_int8_t(d8, w, Q15_N, use(p.isa[k], t, "q15_to_q7"));
    for (int i = 0; i < Q15_N; ++i) w[i] = (int64_t)x[i] * 65536;
    Q8_OK_OR_FAIL(q8_fixed_q15_to_q31(x, d32, Q15_N));
    check_int32_t(d32, w, Q15_N, use(p.isa[k], t, "q15_to_q31"));
    for (size_t s = 0; s < N_SHIFTS; ++s) {
      char what[64];
      snprintf(what, sizeof what, "shift_q15 by %d", kShifts[s]);
      for (int i = 0; i < Q15_N; ++i) w[i] = r_shift(x[i], kShifts[s], 16);
      Q8_OK_OR_FAIL(q8_fixed_shift_q15(x, (int8_t)kShifts[s], d, Q15_N));
      check_int16_t(d, w, Q15_N, use(p.isa[k], t, what));
      if (k == 0 && t == 1)
        for (int i = 0; i < Q15_N; ++i)
          if (q8_fixed_shift_q15_scalar(x[i], (int8_t)kShifts[s]) != w[i])
            cr_assert_fail("shift_q15_scalar(%d, %d) want %lld", x[i], kShifts[s], (long long)w[i]);
    }
    for (int fb = 0; fb <= 15; fb += 3) {
      char what[64];
      for (int i = 0; i < Q15_N; ++i) {
        w32[i] = r_to_f32(x[i], fb);
        w64[i] = r_to_f64(x[i], fb);
      }
      snprintf(what, sizeof what, "to_f32_s16 frac_bits %d", fb);
      Q8_OK_OR_FAIL(q8_fixed_to_f32_s16(x, f32, Q15_N, fb));
      check_f32(f32, w32, Q15_N, use(p.isa[k], t, what));
      snprintf(what, sizeof what, "to_f64_s16 frac_bits %d", fb);
      Q8_OK_OR_FAIL(q8_fixed_to_f64_s16(x, f64, Q15_N, fb));
      check_f64(f64, w64, Q15_N, use(p.isa[k], t, what));
    }
  }
  free(x), free(d), free(d8), free(d32), free(f32), free(w32), free(f64), free(w64), free(w);
}

Test(fixed, q15_scale_every_value) {
  int16_t *x = xmalloc(Q15_N * sizeof *x), *d = xmalloc(Q15_N * sizeof *d);
  int64_t *w = xmalloc(Q15_N * sizeof *w);
  q15_all_values(x);
  const int16_t fracts[] = {INT16_MIN, INT16_MIN + 1, -16384, -3, -1, 0, 1, 2, 3, 12345, 16384, INT16_MAX - 1, INT16_MAX};
  const int shifts[] = {-128, -40, -17, -16, -15, -14, -8, -1, 0, 1, 2, 8, 14, 15, 16, 17, 31, 127};
  const paths p = all_paths();
  for (size_t f = 0; f < sizeof fracts / sizeof fracts[0]; ++f)
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; ++s) {
      for (int i = 0; i < Q15_N; ++i) w[i] = r_scale(x[i], fracts[f], shifts[s], 16);
      EACH_PATH(p, k, t) {
        char what[64];
        snprintf(what, sizeof what, "scale_q15 by %d, shift %d", fracts[f], shifts[s]);
        Q8_OK_OR_FAIL(q8_fixed_scale_q15(x, fracts[f], (int8_t)shifts[s], d, Q15_N));
        check_int16_t(d, w, Q15_N, use(p.isa[k], t, what));
      }
    }
  free(x), free(d), free(w);
}

/* Two-source operations on Q15 and Q31: edge values crossed, then 2^21 random pairs. */
typedef q8_status (*bin16_fn)(const int16_t *, const int16_t *, int16_t *, size_t);
typedef q8_status (*bin32_fn)(const int32_t *, const int32_t *, int32_t *, size_t);

static size_t edge_pairs_then_random(int bits, int64_t *a, int64_t *b, size_t n_random, test_rng *r) {
  int64_t e[64];
  const size_t ne = edge_values(bits, e);
  size_t n = 0;
  for (size_t i = 0; i < ne; ++i)
    for (size_t j = 0; j < ne; ++j) a[n] = e[i], b[n++] = e[j];
  for (size_t i = 0; i < n_random; ++i) a[n] = random_value(r, bits), b[n++] = random_value(r, bits);
  return n;
}

enum { N_RANDOM = 1 << 21 };

Test(fixed, q15_q31_binary_edges_and_random) {
  const struct {
    const char *name;
    bin16_fn f16;
    int16_t (*s16)(int16_t, int16_t);
    bin32_fn f32;
    int32_t (*s32)(int32_t, int32_t);
    bin_ref ref;
  } ops[] = {{"add", q8_fixed_add_q15, q8_fixed_add_q15_scalar, q8_fixed_add_q31, q8_fixed_add_q31_scalar, r_add},
             {"sub", q8_fixed_sub_q15, q8_fixed_sub_q15_scalar, q8_fixed_sub_q31, q8_fixed_sub_q31_scalar, r_sub},
             {"mult", q8_fixed_mult_q15, q8_fixed_mult_q15_scalar, q8_fixed_mult_q31, q8_fixed_mult_q31_scalar,
              r_mult}};
  const size_t cap = 64 * 64 + N_RANDOM;
  int64_t *a = xmalloc(cap * sizeof *a), *b = xmalloc(cap * sizeof *b), *w = xmalloc(cap * sizeof *w);
  int16_t *a16 = xmalloc(cap * 2), *b16 = xmalloc(cap * 2), *d16 = xmalloc(cap * 2);
  int32_t *a32 = xmalloc(cap * 4), *b32 = xmalloc(cap * 4), *d32 = xmalloc(cap * 4);
  const paths p = all_paths();
  test_rng rng;
  rng_seed(&rng, 15);
  for (int bits = 16; bits <= 32; bits += 16) {
    const size_t n = edge_pairs_then_random(bits, a, b, N_RANDOM, &rng);
    for (size_t i = 0; i < n; ++i) {
      if (bits == 16) a16[i] = (int16_t)a[i], b16[i] = (int16_t)b[i];
      else a32[i] = (int32_t)a[i], b32[i] = (int32_t)b[i];
    }
    for (size_t o = 0; o < 3; ++o) {
      for (size_t i = 0; i < n; ++i) {
        w[i] = ops[o].ref(a[i], b[i], bits);
        const int64_t s = bits == 16 ? ops[o].s16(a16[i], b16[i]) : ops[o].s32(a32[i], b32[i]);
        if (s != w[i])
          cr_assert_fail("%s_q%d_scalar(%lld, %lld) = %lld want %lld", ops[o].name, bits - 1, (long long)a[i],
                         (long long)b[i], (long long)s, (long long)w[i]);
      }
      EACH_PATH(p, k, t) {
        char what[64];
        snprintf(what, sizeof what, "%s_q%d", ops[o].name, bits - 1);
        if (bits == 16) {
          Q8_OK_OR_FAIL(ops[o].f16(a16, b16, d16, n));
          check_int16_t(d16, w, n, use(p.isa[k], t, what));
        } else {
          Q8_OK_OR_FAIL(ops[o].f32(a32, b32, d32, n));
          check_int32_t(d32, w, n, use(p.isa[k], t, what));
        }
      }
    }
  }
  free(a), free(b), free(w), free(a16), free(b16), free(d16), free(a32), free(b32), free(d32);
}

Test(fixed, q15_q31_mac_edges_and_random) {
  int64_t e16[64], e32[64];
  const size_t n16 = edge_values(16, e16), n32 = edge_values(32, e32);
  const int64_t accs[] = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MAX - 5, INT64_MIN + 5, 0x123456789abcdefll};
  for (size_t k = 0; k < sizeof accs / sizeof accs[0]; ++k) {
    for (size_t i = 0; i < n16; ++i)
      for (size_t j = 0; j < n16; ++j) {
        const int64_t want = (int64_t)((uint64_t)accs[k] + (uint64_t)(e16[i] * e16[j]));
        cr_assert_eq(q8_fixed_mac_q15_scalar(accs[k], (int16_t)e16[i], (int16_t)e16[j]), want);
      }
    for (size_t i = 0; i < n32; ++i)
      for (size_t j = 0; j < n32; ++j) {
        const int64_t want = (int64_t)((uint64_t)accs[k] + (uint64_t)floor_div(e32[i] * e32[j], 14));
        cr_assert_eq(q8_fixed_mac_q31_scalar(accs[k], (int32_t)e32[i], (int32_t)e32[j]), want,
                     "mac_q31(%lld, %lld, %lld)", (long long)accs[k], (long long)e32[i], (long long)e32[j]);
      }
  }
  test_rng rng;
  rng_seed(&rng, 31);
  for (int i = 0; i < 1000000; ++i) {
    const int64_t acc = (int64_t)rng_next(&rng);
    const int16_t a = (int16_t)random_value(&rng, 16), b = (int16_t)random_value(&rng, 16);
    const int32_t c = (int32_t)random_value(&rng, 32), d = (int32_t)random_value(&rng, 32);
    cr_assert_eq(q8_fixed_mac_q15_scalar(acc, a, b), (int64_t)((uint64_t)acc + (uint64_t)((int64_t)a * b)));
    cr_assert_eq(q8_fixed_mac_q31_scalar(acc, c, d), (int64_t)((uint64_t)acc + (uint64_t)floor_div((int64_t)c * d, 14)));
  }
}

/* ---- Q31 one-source operations: edges and random values ------------------------------------------ */

Test(fixed, q31_one_source_edges_and_random) {
  enum { N = 64 + (1 << 20) };
  int32_t *x = xmalloc(N * 4), *d = xmalloc(N * 4);
  int16_t *d16 = xmalloc(N * 2);
  int8_t *d8 = xmalloc(N);
  float *f32 = xmalloc(N * 4), *w32 = xmalloc(N * 4);
  double *f64 = xmalloc(N * 8), *w64 = xmalloc(N * 8);
  int64_t *w = xmalloc(N * 8);
  int64_t e[64];
  size_t n = edge_values(32, e);
  for (size_t i = 0; i < n; ++i) x[i] = (int32_t)e[i];
  test_rng rng;
  rng_seed(&rng, 3131);
  /* plus values whose conversion to f32 is an exact tie (2^24 + odd, scaled by powers of two) */
  for (int s = 0; s <= 6; ++s)
    for (int64_t odd = 1; odd <= 3; odd += 2) {
      x[n++] = (int32_t)((((int64_t)1 << 24) + odd) << s);
      x[n++] = (int32_t)-((((int64_t)1 << 24) + odd) << s);
    }
  while (n < N) x[n++] = (int32_t)random_value(&rng, 32);
  const paths p = all_paths();
  for (size_t i = 0; i < 64; ++i) {
    cr_assert_eq(q8_fixed_negate_q31_scalar(x[i]), r_neg(x[i], 32));
    cr_assert_eq(q8_fixed_abs_q31_scalar(x[i]), r_abs(x[i], 32));
    for (size_t s = 0; s < N_SHIFTS; ++s)
      cr_assert_eq(q8_fixed_shift_q31_scalar(x[i], (int8_t)kShifts[s]), r_shift(x[i], kShifts[s], 32),
                   "shift_q31_scalar(%d, %d)", x[i], kShifts[s]);
  }
  EACH_PATH(p, k, t) {
    for (size_t i = 0; i < n; ++i) w[i] = r_neg(x[i], 32);
    Q8_OK_OR_FAIL(q8_fixed_negate_q31(x, d, n));
    check_int32_t(d, w, n, use(p.isa[k], t, "negate_q31"));
    for (size_t i = 0; i < n; ++i) w[i] = r_abs(x[i], 32);
    Q8_OK_OR_FAIL(q8_fixed_abs_q31(x, d, n));
    check_int32_t(d, w, n, use(p.isa[k], t, "abs_q31"));
    for (size_t i = 0; i < n; ++i) w[i] = floor_div(x[i], 16);
    Q8_OK_OR_FAIL(q8_fixed_q31_to_q15(x, d16, n));
    check_int16_t(d16, w, n, use(p.isa[k], t, "q31_to_q15"));
    for (size_t i = 0; i < n; ++i) w[i] = floor_div(x[i], 24);
    Q8_OK_OR_FAIL(q8_fixed_q31_to_q7(x, d8, n));
    check_int8_t(d8, w, n, use(p.isa[k], t, "q31_to_q7"));
    for (size_t s = 0; s < N_SHIFTS; ++s) {
      char what[64];
      snprintf(what, sizeof what, "shift_q31 by %d", kShifts[s]);
      for (size_t i = 0; i < n; ++i) w[i] = r_shift(x[i], kShifts[s], 32);
      Q8_OK_OR_FAIL(q8_fixed_shift_q31(x, (int8_t)kShifts[s], d, n));
      check_int32_t(d, w, n, use(p.isa[k], t, what));
    }
    for (int fb = 0; fb <= 31; fb += 5) {
      char what[64];
      for (size_t i = 0; i < n; ++i) {
        w32[i] = r_to_f32(x[i], fb);
        w64[i] = r_to_f64(x[i], fb);
      }
      snprintf(what, sizeof what, "to_f32_s32 frac_bits %d", fb);
      Q8_OK_OR_FAIL(q8_fixed_to_f32_s32(x, f32, n, fb));
      check_f32(f32, w32, n, use(p.isa[k], t, what));
      snprintf(what, sizeof what, "to_f64_s32 frac_bits %d", fb);
      Q8_OK_OR_FAIL(q8_fixed_to_f64_s32(x, f64, n, fb));
      check_f64(f64, w64, n, use(p.isa[k], t, what));
    }
  }
  free(x), free(d), free(d16), free(d8), free(f32), free(w32), free(f64), free(w64), free(w);
}

Test(fixed, q31_scale_edges_and_random) {
  enum { N = 64 + 20000 };
  int32_t *x = xmalloc(N * 4), *d = xmalloc(N * 4);
  int64_t *w = xmalloc(N * 8);
  int64_t e[64];
  const size_t ne = edge_values(32, e);
  size_t n = 0;
  for (size_t i = 0; i < ne; ++i) x[n++] = (int32_t)e[i];
  test_rng rng;
  rng_seed(&rng, 77);
  while (n < N) x[n++] = (int32_t)random_value(&rng, 32);
  int32_t fracts[64 + 8];
  size_t nf = 0;
  for (size_t i = 0; i < ne; ++i) fracts[nf++] = (int32_t)e[i];
  for (int i = 0; i < 8; ++i) fracts[nf++] = (int32_t)random_value(&rng, 32);
  const int shifts[] = {-128, -64, -40, -33, -32, -31, -30, -2, -1, 0, 1, 2, 15, 30, 31, 32, 33, 127};
  const paths p = all_paths();
  for (size_t f = 0; f < nf; ++f)
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; ++s) {
      for (size_t i = 0; i < n; ++i) w[i] = r_scale(x[i], fracts[f], shifts[s], 32);
      EACH_PATH(p, k, t) {
        char what[64];
        snprintf(what, sizeof what, "scale_q31 by %d, shift %d", fracts[f], shifts[s]);
        Q8_OK_OR_FAIL(q8_fixed_scale_q31(x, fracts[f], (int8_t)shifts[s], d, n));
        check_int32_t(d, w, n, use(p.isa[k], t, what));
      }
    }
  /* The documented CMSIS detail: for shift >= 0 the low shift + 1 bits are 0. */
  const int32_t one = 0x40000001; /* 0.5 + 2^-31 */
  int32_t r;
  Q8_OK_OR_FAIL(q8_fixed_scale_q31(&one, INT32_MAX, 0, &r, 1));
  cr_assert_eq(r & 1, 0);
  free(x), free(d), free(w);
}

/* ---- real -> fixed: ties, neighbours, specials, random; every frac_bits and rounding mode ------- */

/* Values of x * 2^f that test rounding: exact ties k + 1/2, their neighbours 1 ulp away, integers,
 * values next to the saturation bounds, specials, and random reals spanning well past the range. */
static size_t real_cases_f64(int bits, int frac_bits, double *out, size_t cap, test_rng *r) {
  size_t n = 0;
  const double unit = ldexp(1.0, -frac_bits);
  const double lim = ldexp(1.0, bits - 1);
  const double ks[] = {0, 1, 2, 3, 4, 5, 10, 11, 100, 101, 126, 127, 128, 129, 255, 32766, 32767, 32768,
                       65535, 1e6, 2147483646.0, 2147483647.0, 2147483648.0, 4294967295.0};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; ++i)
    for (int sgn = -1; sgn <= 1; sgn += 2) {
      const double tie = sgn * (ks[i] + 0.5) * unit, whole = sgn * ks[i] * unit;
      const double v[] = {tie, nextafter(tie, INFINITY), nextafter(tie, -INFINITY), whole,
                          nextafter(whole, INFINITY), nextafter(whole, -INFINITY)};
      for (size_t j = 0; j < 6; ++j) out[n++] = v[j];
    }
  const double bounds[] = {lim * unit, -lim * unit, (lim - 1) * unit, (lim - 0.5) * unit, -(lim + 0.5) * unit,
                           (lim + 0.5) * unit, -(lim - 0.5) * unit};
  for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; ++i) {
    out[n++] = bounds[i];
    out[n++] = nextafter(bounds[i], INFINITY);
    out[n++] = nextafter(bounds[i], -INFINITY);
  }
  uint64_t snan_bits = 0x7ff0000000000001ull, nnan_bits = 0xfff8000000000000ull;
  double snan, nnan;
  memcpy(&snan, &snan_bits, 8);
  memcpy(&nnan, &nnan_bits, 8);
  const double specials[] = {NAN, snan, nnan, INFINITY, -INFINITY, 0.0, -0.0, DBL_MAX, -DBL_MAX, 1e300, -1e300,
                             1e30, -1e30, DBL_TRUE_MIN, -DBL_TRUE_MIN, DBL_MIN, 0.49999999999999994,
                             -0.49999999999999994, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5};
  for (size_t i = 0; i < sizeof specials / sizeof specials[0]; ++i) out[n++] = specials[i];
  while (n < cap) {
    const uint64_t u = rng_next(r);
    if (u & 1) { /* any double at all */
      uint64_t bitsv = rng_next(r);
      memcpy(&out[n++], &bitsv, 8);
    } else { /* reals up to twice the range, with fractional parts */
      out[n++] = (rng_uniform(r) * 4.0 - 2.0) * lim * unit;
    }
  }
  return n;
}

Test(fixed, real_to_fixed_every_format_rounding_and_path) {
  enum { CAP = 6000 };
  double *x64 = xmalloc(CAP * 8);
  float *x32 = xmalloc(CAP * 4);
  int64_t *w = xmalloc(CAP * 8);
  void *d = xmalloc(CAP * 4);
  const paths p = all_paths();
  test_rng rng;
  rng_seed(&rng, 4242);
  for (int bits = 8; bits <= 32; bits *= 2)
    for (int fb = 0; fb < bits; ++fb) {
      const size_t n = real_cases_f64(bits, fb, x64, CAP, &rng);
      for (size_t i = 0; i < n; ++i) x32[i] = (float)x64[i]; /* ties of f32 come from the same list */
      for (int rd = 0; rd < 3; ++rd)
        for (int prec = 32; prec <= 64; prec += 32) {
          for (size_t i = 0; i < n; ++i)
            w[i] = r_from_real(prec == 32 ? (long double)x32[i] : (long double)x64[i], fb, rd, bits);
          EACH_PATH(p, k, t) {
            char what[96];
            snprintf(what, sizeof what, "from_f%d_s%d frac_bits %d rounding %d", prec, bits, fb, rd);
            use(p.isa[k], t, what);
            q8_status st;
            if (prec == 32)
              st = bits == 8    ? q8_fixed_from_f32_s8(x32, d, n, fb, (q8_rounding)rd)
                   : bits == 16 ? q8_fixed_from_f32_s16(x32, d, n, fb, (q8_rounding)rd)
                                : q8_fixed_from_f32_s32(x32, d, n, fb, (q8_rounding)rd);
            else
              st = bits == 8    ? q8_fixed_from_f64_s8(x64, d, n, fb, (q8_rounding)rd)
                   : bits == 16 ? q8_fixed_from_f64_s16(x64, d, n, fb, (q8_rounding)rd)
                                : q8_fixed_from_f64_s32(x64, d, n, fb, (q8_rounding)rd);
            cr_assert_eq(st, Q8_OK, "%s: %s", g_ctx, q8_last_error());
            if (bits == 8) check_int8_t(d, w, n, g_ctx);
            else if (bits == 16) check_int16_t(d, w, n, g_ctx);
            else check_int32_t(d, w, n, g_ctx);
          }
        }
    }
  free(x64), free(x32), free(w), free(d);
}

Test(fixed, rounding_modes_on_exact_ties) {
  /* x * 2^0: 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, -128.5, 0.49999997 (the float just below 0.5) */
  const float x[9] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 127.5f, -128.5f, 0.49999997f};
  const int8_t want[3][9] = {{0, 1, 2, 0, -1, -2, 127, -128, 0},      /* toward zero */
                             {1, 2, 3, -1, -2, -3, 127, -128, 0},     /* nearest, ties away */
                             {0, 2, 2, 0, -2, -2, 127, -128, 0}};     /* nearest, ties to even */
  const double xd[4] = {0.25, 0.75, -0.25, -0.75}; /* ties with frac_bits = 1 */
  const int16_t wantd[3][4] = {{0, 1, 0, -1}, {1, 2, -1, -2}, {0, 2, 0, -2}};
  const paths p = all_paths();
  EACH_PATH(p, k, t) {
    use(p.isa[k], t, "ties");
    for (int r = 0; r < 3; ++r) {
      int8_t d[9];
      int16_t dd[4];
      Q8_OK_OR_FAIL(q8_fixed_from_f32_s8(x, d, 9, 0, (q8_rounding)r));
      cr_assert_arr_eq(d, want[r], sizeof d, "%s rounding %d", g_ctx, r);
      Q8_OK_OR_FAIL(q8_fixed_from_f64_s16(xd, dd, 4, 1, (q8_rounding)r));
      cr_assert_arr_eq(dd, wantd[r], sizeof dd, "%s rounding %d (f64, frac_bits 1)", g_ctx, r);
    }
  }
}

Test(fixed, nan_infinity_huge_and_negative_zero) {
  uint32_t snan_bits = 0x7f800001u;
  float snan;
  memcpy(&snan, &snan_bits, 4);
  const float x[8] = {NAN, -NAN, snan, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, -0.0f};
  const int32_t want[8] = {0, 0, 0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 0};
  const int16_t want16[8] = {0, 0, 0, INT16_MAX, INT16_MIN, INT16_MAX, INT16_MIN, 0};
  const paths p = all_paths();
  EACH_PATH(p, k, t) {
    use(p.isa[k], t, "specials");
    for (int r = 0; r < 3; ++r)
      for (int fb = 0; fb < 32; fb += 31) {
        int32_t d[8];
        int16_t d16[8];
        Q8_OK_OR_FAIL(q8_fixed_from_f32_s32(x, d, 8, fb, (q8_rounding)r));
        cr_assert_arr_eq(d, want, sizeof d, "%s s32 rounding %d frac_bits %d", g_ctx, r, fb);
        Q8_OK_OR_FAIL(q8_fixed_from_f32_s16(x, d16, 8, fb / 2, (q8_rounding)r));
        cr_assert_arr_eq(d16, want16, sizeof d16, "%s s16 rounding %d", g_ctx, r);
      }
  }
  /* 1.0 in Q31 saturates (as arm_float_to_q31); -1.0 is exact. */
  const float one[2] = {1.0f, -1.0f};
  int32_t q[2];
  Q8_OK_OR_FAIL(q8_fixed_from_f32_s32(one, q, 2, 31, Q8_ROUND_TOWARD_ZERO));
  cr_assert(q[0] == INT32_MAX && q[1] == INT32_MIN);
}

/* ---- dot products ------------------------------------------------------------------------------- */

static int32_t r_dot_q7(const int8_t *a, const int8_t *b, size_t n) {
  int64_t s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return (int32_t)(uint32_t)(uint64_t)s;
}
static int64_t r_dot_q15(const int16_t *a, const int16_t *b, size_t n) {
  i128 s = 0;
  for (size_t i = 0; i < n; ++i) s += (int64_t)a[i] * b[i];
  return (int64_t)(uint64_t)s;
}
static int64_t r_dot_q31(const int32_t *a, const int32_t *b, size_t n) {
  i128 s = 0;
  for (size_t i = 0; i < n; ++i) s += floor_div((int64_t)a[i] * b[i], 14);
  return (int64_t)(uint64_t)s;
}

static const size_t kSizes[] = {0, 1, 7, 15, 16, 17, 31, 33, 63, 65, 1000003};
#define N_SIZES (sizeof kSizes / sizeof kSizes[0])

Test(fixed, dot_products_random_extreme_and_wrapping) {
  const size_t cap = 1000003;
  int8_t *a8 = xmalloc(cap), *b8 = xmalloc(cap);
  int16_t *a16 = xmalloc(cap * 2), *b16 = xmalloc(cap * 2);
  int32_t *a32 = xmalloc(cap * 4), *b32 = xmalloc(cap * 4);
  const paths p = all_paths();
  test_rng rng;
  rng_seed(&rng, 99);
  /* fill 0: random; 1: all MIN (every pair overflows a 2-product int32 sum for q15, and the q7 and
   * q31 sums wrap for large n); 2: MIN against MAX; 3: alternating signs */
  for (int fill = 0; fill < 4; ++fill) {
    for (size_t i = 0; i < cap; ++i) {
      switch (fill) {
        case 0:
          a8[i] = (int8_t)random_value(&rng, 8), b8[i] = (int8_t)random_value(&rng, 8);
          a16[i] = (int16_t)random_value(&rng, 16), b16[i] = (int16_t)random_value(&rng, 16);
          a32[i] = (int32_t)random_value(&rng, 32), b32[i] = (int32_t)random_value(&rng, 32);
          break;
        case 1: a8[i] = b8[i] = INT8_MIN, a16[i] = b16[i] = INT16_MIN, a32[i] = b32[i] = INT32_MIN; break;
        case 2:
          a8[i] = INT8_MIN, b8[i] = INT8_MAX, a16[i] = INT16_MIN, b16[i] = INT16_MAX;
          a32[i] = INT32_MIN, b32[i] = INT32_MAX;
          break;
        default:
          a8[i] = (i & 1) ? INT8_MIN : INT8_MAX, b8[i] = INT8_MAX;
          a16[i] = (i & 1) ? INT16_MIN : INT16_MAX, b16[i] = INT16_MIN;
          a32[i] = (i & 1) ? INT32_MIN : 1, b32[i] = -1;
      }
    }
    for (size_t s = 0; s < N_SIZES; ++s) {
      const size_t n = kSizes[s];
      const int32_t w7 = r_dot_q7(a8, b8, n);
      const int64_t w15 = r_dot_q15(a16, b16, n), w31 = r_dot_q31(a32, b32, n);
      int32_t acc7 = 0;
      int64_t acc15 = 0, acc31 = 0;
      for (size_t i = 0; i < n && n < 100; ++i) { /* the scalar mac chain gives the same sums */
        acc7 = q8_fixed_mac_q7_scalar(acc7, a8[i], b8[i]);
        acc15 = q8_fixed_mac_q15_scalar(acc15, a16[i], b16[i]);
        acc31 = q8_fixed_mac_q31_scalar(acc31, a32[i], b32[i]);
      }
      if (n < 100) cr_assert(acc7 == w7 && acc15 == w15 && acc31 == w31, "mac chain, fill %d n %zu", fill, n);
      EACH_PATH(p, k, t) {
        char what[64];
        snprintf(what, sizeof what, "dot products fill %d n %zu", fill, n);
        use(p.isa[k], t, what);
        int32_t r7 = 12345;
        int64_t r15 = 12345, r31 = 12345;
        Q8_OK_OR_FAIL(q8_fixed_dot_prod_q7(a8, b8, n, &r7));
        Q8_OK_OR_FAIL(q8_fixed_dot_prod_q15(a16, b16, n, &r15));
        Q8_OK_OR_FAIL(q8_fixed_dot_prod_q31(a32, b32, n, &r31));
        cr_assert_eq(r7, w7, "%s: q7 got %d want %d", g_ctx, r7, w7);
        cr_assert_eq(r15, w15, "%s: q15 got %lld want %lld", g_ctx, (long long)r15, (long long)w15);
        cr_assert_eq(r31, w31, "%s: q31 got %lld want %lld", g_ctx, (long long)r31, (long long)w31);
      }
    }
  }
  free(a8), free(b8), free(a16), free(b16), free(a32), free(b32);
}

/* ---- odd sizes, every operation -------------------------------------------------------------------- */

Test(fixed, odd_sizes_every_operation) {
  const size_t cap = 1000003;
  int8_t *a8 = xmalloc(cap), *b8 = xmalloc(cap), *d8 = xmalloc(cap);
  int16_t *a16 = xmalloc(cap * 2), *b16 = xmalloc(cap * 2), *d16 = xmalloc(cap * 2);
  int32_t *a32 = xmalloc(cap * 4), *b32 = xmalloc(cap * 4), *d32 = xmalloc(cap * 4);
  float *f32 = xmalloc(cap * 4), *g32 = xmalloc(cap * 4), *w32 = xmalloc(cap * 4);
  double *f64 = xmalloc(cap * 8), *g64 = xmalloc(cap * 8), *w64 = xmalloc(cap * 8);
  int64_t *w = xmalloc(cap * 8);
  test_rng rng;
  rng_seed(&rng, 7);
  for (size_t i = 0; i < cap; ++i) {
    a8[i] = (int8_t)random_value(&rng, 8), b8[i] = (int8_t)random_value(&rng, 8);
    a16[i] = (int16_t)random_value(&rng, 16), b16[i] = (int16_t)random_value(&rng, 16);
    a32[i] = (int32_t)random_value(&rng, 32), b32[i] = (int32_t)random_value(&rng, 32);
    f64[i] = (rng_uniform(&rng) - 0.5) * 4.0 + (i % 5 == 0 ? 0.5 / 128 : 0); /* [-2, 2), some ties */
    f32[i] = (float)f64[i];
  }
  const paths p = all_paths();
  for (size_t s = 0; s < N_SIZES; ++s) {
    const size_t n = kSizes[s];
    EACH_PATH(p, k, t) {
      char what[64];
#define RUN(call, dst, check, ref_expr, name)                               \
  do {                                                                      \
    for (size_t i = 0; i < n; ++i) w[i] = (ref_expr);                       \
    snprintf(what, sizeof what, "%s n=%zu", name, n);                       \
    Q8_OK_OR_FAIL(call);                                                    \
    check(dst, w, n, use(p.isa[k], t, what));                               \
  } while (0)
      RUN(q8_fixed_add_q7(a8, b8, d8, n), d8, check_int8_t, r_add(a8[i], b8[i], 8), "add_q7");
      RUN(q8_fixed_add_q15(a16, b16, d16, n), d16, check_int16_t, r_add(a16[i], b16[i], 16), "add_q15");
      RUN(q8_fixed_add_q31(a32, b32, d32, n), d32, check_int32_t, r_add(a32[i], b32[i], 32), "add_q31");
      RUN(q8_fixed_sub_q7(a8, b8, d8, n), d8, check_int8_t, r_sub(a8[i], b8[i], 8), "sub_q7");
      RUN(q8_fixed_sub_q15(a16, b16, d16, n), d16, check_int16_t, r_sub(a16[i], b16[i], 16), "sub_q15");
      RUN(q8_fixed_sub_q31(a32, b32, d32, n), d32, check_int32_t, r_sub(a32[i], b32[i], 32), "sub_q31");
      RUN(q8_fixed_mult_q7(a8, b8, d8, n), d8, check_int8_t, r_mult(a8[i], b8[i], 8), "mult_q7");
      RUN(q8_fixed_mult_q15(a16, b16, d16, n), d16, check_int16_t, r_mult(a16[i], b16[i], 16), "mult_q15");
      RUN(q8_fixed_mult_q31(a32, b32, d32, n), d32, check_int32_t, r_mult(a32[i], b32[i], 32), "mult_q31");
      RUN(q8_fixed_negate_q7(a8, d8, n), d8, check_int8_t, r_neg(a8[i], 8), "negate_q7");
      RUN(q8_fixed_negate_q15(a16, d16, n), d16, check_int16_t, r_neg(a16[i], 16), "negate_q15");
      RUN(q8_fixed_negate_q31(a32, d32, n), d32, check_int32_t, r_neg(a32[i], 32), "negate_q31");
      RUN(q8_fixed_abs_q7(a8, d8, n), d8, check_int8_t, r_abs(a8[i], 8), "abs_q7");
      RUN(q8_fixed_abs_q15(a16, d16, n), d16, check_int16_t, r_abs(a16[i], 16), "abs_q15");
      RUN(q8_fixed_abs_q31(a32, d32, n), d32, check_int32_t, r_abs(a32[i], 32), "abs_q31");
      RUN(q8_fixed_shift_q7(a8, 3, d8, n), d8, check_int8_t, r_shift(a8[i], 3, 8), "shift_q7 3");
      RUN(q8_fixed_shift_q15(a16, -5, d16, n), d16, check_int16_t, r_shift(a16[i], -5, 16), "shift_q15 -5");
      RUN(q8_fixed_shift_q31(a32, 9, d32, n), d32, check_int32_t, r_shift(a32[i], 9, 32), "shift_q31 9");
      RUN(q8_fixed_scale_q7(a8, 100, 1, d8, n), d8, check_int8_t, r_scale(a8[i], 100, 1, 8), "scale_q7");
      RUN(q8_fixed_scale_q15(a16, -20000, 2, d16, n), d16, check_int16_t, r_scale(a16[i], -20000, 2, 16),
          "scale_q15");
      RUN(q8_fixed_scale_q31(a32, 0x50000000, -3, d32, n), d32, check_int32_t,
          r_scale(a32[i], 0x50000000, -3, 32), "scale_q31");
      RUN(q8_fixed_q7_to_q15(a8, d16, n), d16, check_int16_t, (int64_t)a8[i] * 256, "q7_to_q15");
      RUN(q8_fixed_q7_to_q31(a8, d32, n), d32, check_int32_t, (int64_t)a8[i] * 16777216, "q7_to_q31");
      RUN(q8_fixed_q15_to_q7(a16, d8, n), d8, check_int8_t, floor_div(a16[i], 8), "q15_to_q7");
      RUN(q8_fixed_q15_to_q31(a16, d32, n), d32, check_int32_t, (int64_t)a16[i] * 65536, "q15_to_q31");
      RUN(q8_fixed_q31_to_q7(a32, d8, n), d8, check_int8_t, floor_div(a32[i], 24), "q31_to_q7");
      RUN(q8_fixed_q31_to_q15(a32, d16, n), d16, check_int16_t, floor_div(a32[i], 16), "q31_to_q15");
      RUN(q8_fixed_from_f32_s8(f32, d8, n, 6, Q8_ROUND_NEAREST_EVEN), d8, check_int8_t,
          r_from_real(f32[i], 6, 2, 8), "from_f32_s8");
      RUN(q8_fixed_from_f32_s16(f32, d16, n, 15, Q8_ROUND_TOWARD_ZERO), d16, check_int16_t,
          r_from_real(f32[i], 15, 0, 16), "from_f32_s16");
      RUN(q8_fixed_from_f32_s32(f32, d32, n, 30, Q8_ROUND_NEAREST_AWAY), d32, check_int32_t,
          r_from_real(f32[i], 30, 1, 32), "from_f32_s32");
      RUN(q8_fixed_from_f64_s8(f64, d8, n, 7, Q8_ROUND_NEAREST_AWAY), d8, check_int8_t,
          r_from_real(f64[i], 7, 1, 8), "from_f64_s8");
      RUN(q8_fixed_from_f64_s16(f64, d16, n, 14, Q8_ROUND_NEAREST_EVEN), d16, check_int16_t,
          r_from_real(f64[i], 14, 2, 16), "from_f64_s16");
      RUN(q8_fixed_from_f64_s32(f64, d32, n, 31, Q8_ROUND_TOWARD_ZERO), d32, check_int32_t,
          r_from_real(f64[i], 31, 0, 32), "from_f64_s32");
#undef RUN
#define RUN_REAL(call, out, want, check, ref_expr, name)                    \
  do {                                                                      \
    for (size_t i = 0; i < n; ++i) want[i] = (ref_expr);                    \
    snprintf(what, sizeof what, "%s n=%zu", name, n);                       \
    Q8_OK_OR_FAIL(call);                                                    \
    check(out, want, n, use(p.isa[k], t, what));                            \
  } while (0)
      RUN_REAL(q8_fixed_to_f32_s8(a8, g32, n, 7), g32, w32, check_f32, r_to_f32(a8[i], 7), "to_f32_s8");
      RUN_REAL(q8_fixed_to_f32_s16(a16, g32, n, 15), g32, w32, check_f32, r_to_f32(a16[i], 15), "to_f32_s16");
      RUN_REAL(q8_fixed_to_f32_s32(a32, g32, n, 31), g32, w32, check_f32, r_to_f32(a32[i], 31), "to_f32_s32");
      RUN_REAL(q8_fixed_to_f64_s8(a8, g64, n, 3), g64, w64, check_f64, r_to_f64(a8[i], 3), "to_f64_s8");
      RUN_REAL(q8_fixed_to_f64_s16(a16, g64, n, 0), g64, w64, check_f64, r_to_f64(a16[i], 0), "to_f64_s16");
      RUN_REAL(q8_fixed_to_f64_s32(a32, g64, n, 20), g64, w64, check_f64, r_to_f64(a32[i], 20), "to_f64_s32");
#undef RUN_REAL
    }
  }
  free(a8), free(b8), free(d8), free(a16), free(b16), free(d16), free(a32), free(b32), free(d32);
  free(f32), free(g32), free(w32), free(f64), free(g64), free(w64), free(w);
}

/* ---- in place ---------------------------------------------------------------------------------- */

Test(fixed, in_place_equals_out_of_place) {
  enum { N = 1000 + 37 };
  static int8_t x8[N], y8[N], o8[N];
  static int16_t x16[N], y16[N], o16[N];
  static int32_t x32[N], y32[N], o32[N];
  test_rng rng;
  rng_seed(&rng, 5);
  const paths p = all_paths();
  EACH_PATH(p, k, t) {
    use(p.isa[k], t, "in place");
    for (int rep = 0; rep < 3; ++rep) { /* 0: dst == a, 1: dst == b, 2: dst == a == b */
      for (int i = 0; i < N; ++i) {
        x8[i] = (int8_t)random_value(&rng, 8), y8[i] = rep == 2 ? x8[i] : (int8_t)random_value(&rng, 8);
        x16[i] = (int16_t)random_value(&rng, 16), y16[i] = rep == 2 ? x16[i] : (int16_t)random_value(&rng, 16);
        x32[i] = (int32_t)random_value(&rng, 32), y32[i] = rep == 2 ? x32[i] : (int32_t)random_value(&rng, 32);
      }
#define BIN_IN_PLACE(fn, X, Y, O, T)                                                 \
  do {                                                                             \
    T keep_x[N], keep_y[N];                                                        \
    memcpy(keep_x, X, sizeof keep_x);                                              \
    memcpy(keep_y, Y, sizeof keep_y);                                              \
    const T *b_ = rep == 2 ? X : Y;                                                \
    Q8_OK_OR_FAIL(fn(X, b_, O, N));                                                \
    T *dst = rep == 1 ? Y : X;                                                     \
    Q8_OK_OR_FAIL(fn(X, b_, dst, N));                                              \
    cr_assert_arr_eq(dst, O, sizeof O, "%s: %s in place (case %d)", g_ctx, #fn, rep); \
    memcpy(X, keep_x, sizeof keep_x);                                              \
    memcpy(Y, keep_y, sizeof keep_y);                                              \
  } while (0)
      BIN_IN_PLACE(q8_fixed_add_q7, x8, y8, o8, int8_t);
      BIN_IN_PLACE(q8_fixed_sub_q7, x8, y8, o8, int8_t);
      BIN_IN_PLACE(q8_fixed_mult_q7, x8, y8, o8, int8_t);
      BIN_IN_PLACE(q8_fixed_add_q15, x16, y16, o16, int16_t);
      BIN_IN_PLACE(q8_fixed_sub_q15, x16, y16, o16, int16_t);
      BIN_IN_PLACE(q8_fixed_mult_q15, x16, y16, o16, int16_t);
      BIN_IN_PLACE(q8_fixed_add_q31, x32, y32, o32, int32_t);
      BIN_IN_PLACE(q8_fixed_sub_q31, x32, y32, o32, int32_t);
      BIN_IN_PLACE(q8_fixed_mult_q31, x32, y32, o32, int32_t);
#undef BIN_IN_PLACE
    }
#define UN_IN_PLACE(call_out, call_in, X, O, T)                                      \
  do {                                                                             \
    T keep[N];                                                                     \
    memcpy(keep, X, sizeof keep);                                                  \
    Q8_OK_OR_FAIL(call_out);                                                       \
    Q8_OK_OR_FAIL(call_in);                                                        \
    cr_assert_arr_eq(X, O, sizeof O, "%s: %s in place", g_ctx, #call_in);          \
    memcpy(X, keep, sizeof keep);                                                  \
  } while (0)
    UN_IN_PLACE(q8_fixed_negate_q7(x8, o8, N), q8_fixed_negate_q7(x8, x8, N), x8, o8, int8_t);
    UN_IN_PLACE(q8_fixed_abs_q7(x8, o8, N), q8_fixed_abs_q7(x8, x8, N), x8, o8, int8_t);
    UN_IN_PLACE(q8_fixed_shift_q7(x8, 2, o8, N), q8_fixed_shift_q7(x8, 2, x8, N), x8, o8, int8_t);
    UN_IN_PLACE(q8_fixed_scale_q7(x8, 77, 1, o8, N), q8_fixed_scale_q7(x8, 77, 1, x8, N), x8, o8, int8_t);
    UN_IN_PLACE(q8_fixed_negate_q15(x16, o16, N), q8_fixed_negate_q15(x16, x16, N), x16, o16, int16_t);
    UN_IN_PLACE(q8_fixed_abs_q15(x16, o16, N), q8_fixed_abs_q15(x16, x16, N), x16, o16, int16_t);
    UN_IN_PLACE(q8_fixed_shift_q15(x16, -3, o16, N), q8_fixed_shift_q15(x16, -3, x16, N), x16, o16, int16_t);
    UN_IN_PLACE(q8_fixed_scale_q15(x16, 3000, 3, o16, N), q8_fixed_scale_q15(x16, 3000, 3, x16, N), x16, o16,
                int16_t);
    UN_IN_PLACE(q8_fixed_negate_q31(x32, o32, N), q8_fixed_negate_q31(x32, x32, N), x32, o32, int32_t);
    UN_IN_PLACE(q8_fixed_abs_q31(x32, o32, N), q8_fixed_abs_q31(x32, x32, N), x32, o32, int32_t);
    UN_IN_PLACE(q8_fixed_shift_q31(x32, 4, o32, N), q8_fixed_shift_q31(x32, 4, x32, N), x32, o32, int32_t);
    UN_IN_PLACE(q8_fixed_scale_q31(x32, -5, 7, o32, N), q8_fixed_scale_q31(x32, -5, 7, x32, N), x32, o32, int32_t);
#undef UN_IN_PLACE
  }
}

/* ---- bad input and n = 0 ------------------------------------------------------------------------ */

#define EXPECT_BAD(call, needle) Q8_EXPECT_ERROR(call, Q8_ERR_INVALID_ARGUMENT, needle)

Test(fixed, bad_input_is_reported) {
  int8_t a8[8] = {0}, d8[8];
  int16_t a16[8] = {0}, d16[16];
  int32_t a32[8] = {0}, d32[8], r7;
  int64_t r64;
  float f[8] = {0};
  double g[8] = {0};
  /* NULL with n > 0, each argument in turn */
  EXPECT_BAD(q8_fixed_add_q7(NULL, a8, d8, 8), "a is NULL");
  EXPECT_BAD(q8_fixed_add_q15(a16, NULL, d16, 8), "b is NULL");
  EXPECT_BAD(q8_fixed_mult_q31(a32, a32, NULL, 8), "dst is NULL");
  EXPECT_BAD(q8_fixed_negate_q7(NULL, d8, 1), "src is NULL");
  EXPECT_BAD(q8_fixed_abs_q31(a32, NULL, 1), "dst is NULL");
  EXPECT_BAD(q8_fixed_shift_q15(NULL, 1, d16, 3), "src is NULL");
  EXPECT_BAD(q8_fixed_scale_q7(a8, 3, 1, NULL, 3), "dst is NULL");
  EXPECT_BAD(q8_fixed_q7_to_q31(NULL, d32, 2), "src is NULL");
  EXPECT_BAD(q8_fixed_from_f32_s8(NULL, d8, 2, 7, Q8_ROUND_TOWARD_ZERO), "src is NULL");
  EXPECT_BAD(q8_fixed_to_f64_s32(a32, NULL, 2, 31), "dst is NULL");
  EXPECT_BAD(q8_fixed_dot_prod_q7(NULL, a8, 4, &r7), "a is NULL");
  EXPECT_BAD(q8_fixed_dot_prod_q15(a16, NULL, 4, &r64), "b is NULL");
  EXPECT_BAD(q8_fixed_dot_prod_q31(a32, a32, 4, NULL), "result is NULL");
  EXPECT_BAD(q8_fixed_dot_prod_q31(a32, a32, 0, NULL), "result is NULL");
  /* frac_bits outside [0, storage bits - 1] */
  EXPECT_BAD(q8_fixed_from_f32_s8(f, d8, 8, 8, Q8_ROUND_TOWARD_ZERO), "frac_bits = 8");
  EXPECT_BAD(q8_fixed_from_f64_s16(g, d16, 8, -1, Q8_ROUND_NEAREST_EVEN), "frac_bits = -1");
  EXPECT_BAD(q8_fixed_from_f32_s32(f, d32, 8, 32, Q8_ROUND_NEAREST_AWAY), "frac_bits = 32");
  EXPECT_BAD(q8_fixed_to_f32_s16(a16, f, 8, 16), "frac_bits = 16");
  EXPECT_BAD(q8_fixed_to_f64_s8(a8, g, 0, 99), "frac_bits = 99"); /* even with n = 0 */
  /* a rounding that is not a q8_rounding (C lets any int through) */
  q8_rounding bad;
  int bad_bits = 3;
  memcpy(&bad, &bad_bits, sizeof bad);
  EXPECT_BAD(q8_fixed_from_f32_s16(f, d16, 8, 15, bad), "rounding = 3");
  bad_bits = -1;
  memcpy(&bad, &bad_bits, sizeof bad);
  EXPECT_BAD(q8_fixed_from_f64_s32(g, d32, 8, 31, bad), "rounding = -1");
  /* partial overlap of dst with a source */
  int8_t buf[32] = {0};
  EXPECT_BAD(q8_fixed_add_q7(buf, buf + 16, buf + 1, 8), "overlaps a");
  EXPECT_BAD(q8_fixed_negate_q7(buf + 2, buf, 8), "overlaps src");
  int16_t wide[16] = {0};
  EXPECT_BAD(q8_fixed_q7_to_q15((const int8_t *)wide, wide, 8), "overlaps src"); /* same start, wider */
  EXPECT_BAD(q8_fixed_q15_to_q7(wide, (int8_t *)wide, 8), "overlaps src");
  /* huge n */
  EXPECT_BAD(q8_fixed_add_q31(a32, a32, d32, SIZE_MAX / 2), "too large");
  /* outputs untouched on failure */
  r7 = 77;
  EXPECT_BAD(q8_fixed_dot_prod_q7(NULL, a8, 4, &r7), "a is NULL");
  cr_assert_eq(r7, 77);
}

Test(fixed, empty_arrays_accept_any_pointers) {
  int32_t r7 = 5;
  int64_t r15 = 5, r31 = 5;
  Q8_OK_OR_FAIL(q8_fixed_add_q7(NULL, NULL, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_sub_q15(NULL, NULL, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_mult_q31(NULL, NULL, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_negate_q31(NULL, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_abs_q15(NULL, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_shift_q7(NULL, 3, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_scale_q31(NULL, 1, 0, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_q31_to_q7(NULL, NULL, 0));
  Q8_OK_OR_FAIL(q8_fixed_from_f64_s8(NULL, NULL, 0, 7, Q8_ROUND_NEAREST_AWAY));
  Q8_OK_OR_FAIL(q8_fixed_to_f32_s32(NULL, NULL, 0, 31));
  Q8_OK_OR_FAIL(q8_fixed_dot_prod_q7(NULL, NULL, 0, &r7));
  Q8_OK_OR_FAIL(q8_fixed_dot_prod_q15(NULL, NULL, 0, &r15));
  Q8_OK_OR_FAIL(q8_fixed_dot_prod_q31(NULL, NULL, 0, &r31));
  cr_assert(r7 == 0 && r15 == 0 && r31 == 0);
}

/* ---- CMSIS-DSP worked examples ---------------------------------------------------------------- */

Test(fixed, documented_examples) {
  /* mult: 0.5 * 0.5 = 0.25; -1 * -1 saturates; truncation toward minus infinity */
  cr_assert_eq(q8_fixed_mult_q15_scalar(16384, 16384), 8192);
  cr_assert_eq(q8_fixed_mult_q15_scalar(INT16_MIN, INT16_MIN), INT16_MAX);
  cr_assert_eq(q8_fixed_mult_q7_scalar(-1, 1), -1); /* -1/16384 rounds down to -1/128 */
  cr_assert_eq(q8_fixed_mult_q31_scalar(INT32_MIN, INT32_MIN), INT32_MAX);
  /* add/sub saturate */
  cr_assert_eq(q8_fixed_add_q31_scalar(INT32_MAX, 1), INT32_MAX);
  cr_assert_eq(q8_fixed_sub_q31_scalar(INT32_MIN, 1), INT32_MIN);
  /* shift: left saturates, right is arithmetic, beyond the width */
  cr_assert_eq(q8_fixed_shift_q15_scalar(1, 14), 16384);
  cr_assert_eq(q8_fixed_shift_q15_scalar(1, 15), INT16_MAX);
  cr_assert_eq(q8_fixed_shift_q31_scalar(-1, 31), INT32_MIN);
  cr_assert_eq(q8_fixed_shift_q31_scalar(-1, -100), -1);
  cr_assert_eq(q8_fixed_shift_q7_scalar(1, 127), INT8_MAX);
  /* scale: 0.5 * 0.5 * 2^1 = 0.5 */
  int16_t x = 16384, y;
  Q8_OK_OR_FAIL(q8_fixed_scale_q15(&x, 16384, 1, &y, 1));
  cr_assert_eq(y, 16384);
  /* mac q31 keeps 2.48: 0.5 * 0.5 = 2^60 >> 14 = 2^46 */
  cr_assert_eq(q8_fixed_mac_q31_scalar(0, 1 << 30, 1 << 30), (int64_t)1 << 46);
}
