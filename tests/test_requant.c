/* Requantization primitives, the requantize epilogue, fixed-point exp/logistic/tanh and INT8
 * activation tables, through the public API only.
 *
 * The primitives are checked bit for bit against references written here independently of the
 * library: 64-bit / __int128 arithmetic following the formulas as gemmlowp and TFLite state them
 * (truncating division with a sign-dependent nudge, round half away from zero, frexp + round).
 * The transcendentals are measured against double-precision libm. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- reference formulas ------------------------------------------------------------------------ */

/* gemmlowp SaturatingRoundingDoublingHighMul as gemmlowp writes it: nudge 2^30 for a product >= 0,
 * 1 - 2^30 below, then a division that truncates toward zero; INT32_MIN^2 saturates. */
static int32_t ref_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : 1 - (INT64_C(1) << 30);
  return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

/* x / 2^e rounded to nearest, ties away from zero, on magnitudes. */
static int32_t ref_rdbpot(int32_t x, int e) {
  if (e < 0) e = 0;
  if (e > 31) e = 31;
  if (e == 0) return x;
  const int64_t half = INT64_C(1) << (e - 1);
  const int64_t mag = x < 0 ? -(int64_t)x : (int64_t)x;
  const int64_t q = (mag + half) >> e;
  return (int32_t)(x < 0 ? -q : q);
}

static int32_t clamp_shift(int32_t s) { return s < -31 ? -31 : s > 30 ? 30 : s; }

static int32_t sat32(int64_t v) { return v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v; }

/* TFLite double rounding with x * 2^left computed exactly in 64 bits, then saturated. */
static int32_t ref_mbqm(int32_t x, int32_t m, int32_t shift) {
  const int32_t s = clamp_shift(shift);
  const int left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
  return ref_rdbpot(ref_srdhm(sat32((int64_t)x * (INT64_C(1) << left)), m), right);
}

__extension__ typedef __int128 i128; /* a GCC/Clang extension: -Wpedantic knows */

/* floor((x * m + 2^(t - 1)) / 2^t), t = 31 - shift, in 128 bits; saturated. */
static int32_t ref_single(int32_t x, int32_t m, int32_t shift) {
  const int t = 31 - clamp_shift(shift);
  const i128 p = (i128)x * m + ((i128)1 << (t - 1));
  i128 q = p / ((i128)1 << t);
  if (p % ((i128)1 << t) != 0 && p < 0) q -= 1; /* floor, not truncation */
  return q < INT32_MIN ? INT32_MIN : q > INT32_MAX ? INT32_MAX : (int32_t)q;
}

/* TFLite QuantizeMultiplier, restated: frexp, round half away, renormalise 2^31, flush below
 * 2^-31 shifts, saturate above 30. */
static void ref_quantize_multiplier(double real, int32_t *m, int32_t *s) {
  if (real == 0) {
    *m = 0, *s = 0;
    return;
  }
  int e;
  const double q = frexp(real, &e);
  int64_t qf = (int64_t)round(ldexp(q, 31));
  if (qf == (INT64_C(1) << 31)) qf /= 2, ++e;
  if (e < -31) qf = 0, e = 0;
  if (e > 30) qf = INT32_MAX, e = 30;
  *m = (int32_t)qf, *s = e;
}

static int32_t ref_requantize_one(int32_t acc, int32_t bias, int32_t m, int32_t s, int32_t zp, int32_t qmin,
                                  int32_t qmax) {
  const int32_t v = (int32_t)((uint32_t)acc + (uint32_t)bias);
  const int64_t r = (int64_t)ref_mbqm(v, m, s) + zp;
  return r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
}

/* ---- inputs ------------------------------------------------------------------------------------ */

static size_t edge_values(int32_t *out) {
  size_t n = 0;
  const int32_t fixed[] = {INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, -1, 0, 1, 2, 3, INT32_MAX - 1, INT32_MAX,
                           -(1 << 30), (1 << 30), (1 << 30) + 1, -(1 << 30) - 1, 46341, -46341, 65535, -65536};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; ++i) out[n++] = fixed[i];
  for (int k = 2; k < 31; k += 3) {
    out[n++] = (int32_t)1 << k;
    out[n++] = -((int32_t)1 << k);
    out[n++] = ((int32_t)1 << k) + 1;
    out[n++] = -((int32_t)1 << k) - 1;
    out[n++] = ((int32_t)1 << k) + ((int32_t)1 << (k - 1)); /* ties for shifts by k */
    out[n++] = -((int32_t)1 << k) - ((int32_t)1 << (k - 1));
  }
  return n;
}

static int32_t random_int32(test_rng *r) {
  const uint64_t v = rng_next(r);
  switch (v & 7) {
    case 0: return (int32_t)(rng_next(r) >> 32);                              /* any */
    case 1: return (int32_t)((int64_t)(rng_next(r) % 2001) - 1000);           /* small */
    case 2: return (int32_t)((int64_t)(rng_next(r) % (1u << 24)) - (1 << 23)); /* accumulator-like */
    case 3: {                                                                  /* near a power of two */
      const int k = (int)(rng_next(r) % 31);
      const int32_t base = (int32_t)1 << k;
      const int32_t d = (int32_t)(rng_next(r) % 5) - 2;
      return (rng_next(r) & 1) ? base + d : -base - d;
    }
    case 4: /* next to the ends */
      return (rng_next(r) & 1) ? INT32_MAX - (int32_t)(rng_next(r) % 16) : INT32_MIN + (int32_t)(rng_next(r) % 16);
    default: return (int32_t)(rng_next(r) >> 32) >> (rng_next(r) % 31);     /* any magnitude */
  }
}

/* ---- primitives -------------------------------------------------------------------------------- */

TestSuite(primitives);

Test(primitives, srdhm_edges_crossed) {
  int32_t e[128];
  const size_t n = edge_values(e);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const int32_t got = q8_fixed_sat_rounding_doubling_high_mul(e[i], e[j]), want = ref_srdhm(e[i], e[j]);
      cr_assert_eq(got, want, "srdhm(%d, %d) = %d, want %d", e[i], e[j], got, want);
    }
  cr_assert_eq(q8_fixed_sat_rounding_doubling_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);
  cr_assert_eq(q8_fixed_sat_rounding_doubling_high_mul(INT32_MIN, INT32_MAX), INT32_MIN + 1);
  cr_assert_eq(q8_fixed_sat_rounding_doubling_high_mul(INT32_MAX, INT32_MAX), INT32_MAX - 1);
}

Test(primitives, srdhm_ties_round_toward_plus_infinity) {
  /* (2k + 1) * 2^30 = (k + 1/2) * 2^31: exact ties. gemmlowp (as ARM VQRDMULH) rounds them up:
   * 0.5 -> 1, -0.5 -> 0, 1.5 -> 2, -1.5 -> -1. */
  for (int32_t k = -1000; k <= 1000; ++k) {
    const int32_t a = 2 * k + 1;
    const int32_t got = q8_fixed_sat_rounding_doubling_high_mul(a, 1 << 30);
    cr_assert_eq(got, k + 1, "srdhm(%d, 2^30) = %d, want %d", a, got, k + 1);
    cr_assert_eq(got, ref_srdhm(a, 1 << 30));
  }
  cr_assert_eq(q8_fixed_sat_rounding_doubling_high_mul(-1, 1 << 30), 0);
  cr_assert_eq(q8_fixed_sat_rounding_doubling_high_mul(1, 1 << 30), 1);
}

Test(primitives, rdbpot_every_exponent_ties_and_edges) {
  int32_t e[128];
  const size_t n = edge_values(e);
  for (int exp = 0; exp <= 31; ++exp) {
    for (size_t i = 0; i < n; ++i) {
      const int32_t got = q8_fixed_rounding_divide_by_pot(e[i], exp), want = ref_rdbpot(e[i], exp);
      cr_assert_eq(got, want, "rdbpot(%d, %d) = %d, want %d", e[i], exp, got, want);
    }
    if (exp == 0) continue;
    /* Ties at exactly .5 for this exponent go away from zero. */
    const int64_t unit = INT64_C(1) << exp, half = unit / 2;
    for (int64_t k = -3; k <= 3; ++k) {
      const int64_t x = k * unit + (k >= 0 ? half : -half);
      if (x < INT32_MIN || x > INT32_MAX) continue;
      const int32_t want = (int32_t)(k >= 0 ? k + 1 : k - 1);
      cr_assert_eq(q8_fixed_rounding_divide_by_pot((int32_t)x, exp), want, "tie %lld / 2^%d", (long long)x, exp);
      /* One below / above a tie rounds toward the nearer integer. */
      if (x - 1 >= INT32_MIN)
        cr_assert_eq(q8_fixed_rounding_divide_by_pot((int32_t)(x - 1), exp), ref_rdbpot((int32_t)(x - 1), exp));
      if (x + 1 <= INT32_MAX)
        cr_assert_eq(q8_fixed_rounding_divide_by_pot((int32_t)(x + 1), exp), ref_rdbpot((int32_t)(x + 1), exp));
    }
  }
  /* Exponents outside [0, 31] are clamped. */
  for (size_t i = 0; i < n; ++i) {
    cr_assert_eq(q8_fixed_rounding_divide_by_pot(e[i], -7), e[i]);
    cr_assert_eq(q8_fixed_rounding_divide_by_pot(e[i], INT32_MIN), e[i]);
    cr_assert_eq(q8_fixed_rounding_divide_by_pot(e[i], 32), q8_fixed_rounding_divide_by_pot(e[i], 31));
    cr_assert_eq(q8_fixed_rounding_divide_by_pot(e[i], INT32_MAX), q8_fixed_rounding_divide_by_pot(e[i], 31));
  }
  cr_assert_eq(q8_fixed_rounding_divide_by_pot(INT32_MIN, 31), -1);
  cr_assert_eq(q8_fixed_rounding_divide_by_pot(-(1 << 30), 31), -1); /* -0.5 -> -1 */
  cr_assert_eq(q8_fixed_rounding_divide_by_pot(1 << 30, 31), 1);     /* 0.5 -> 1 */
  cr_assert_eq(q8_fixed_rounding_divide_by_pot(INT32_MAX, 31), 1);
}

Test(primitives, multiply_by_quantized_multiplier_edges_crossed) {
  int32_t e[128];
  const size_t n = edge_values(e);
  const int32_t mults[] = {1 << 30, INT32_MAX, (1 << 30) + 1, 1518500250 /* sqrt(2)/2 */, 0, 1, -1,
                           INT32_MIN, INT32_MIN + 1, -(1 << 30)};
  for (size_t mi = 0; mi < sizeof mults / sizeof mults[0]; ++mi)
    for (int32_t s = -33; s <= 32; ++s)
      for (size_t i = 0; i < n; ++i) {
        const int32_t x = e[i], m = mults[mi];
        const int32_t got = q8_fixed_multiply_by_quantized_multiplier(x, m, s), want = ref_mbqm(x, m, s);
        cr_assert_eq(got, want, "mbqm(%d, %d, %d) = %d, want %d", x, m, s, got, want);
        const int32_t got1 = q8_fixed_multiply_by_quantized_multiplier_single_round(x, m, s);
        const int32_t want1 = ref_single(x, m, s);
        cr_assert_eq(got1, want1, "single(%d, %d, %d) = %d, want %d", x, m, s, got1, want1);
      }
  /* Shifts are clamped to [-31, 30]. */
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier(12345, 1 << 30, 100),
               q8_fixed_multiply_by_quantized_multiplier(12345, 1 << 30, 30));
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier(INT32_MAX, INT32_MAX, INT32_MIN),
               q8_fixed_multiply_by_quantized_multiplier(INT32_MAX, INT32_MAX, -31));
  /* The saturating left shift (TFLite's x * (1 << shift) would overflow). */
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier(1 << 20, INT32_MAX, 12), INT32_MAX - 1);
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier(-(1 << 20), INT32_MAX, 12), INT32_MIN + 1);
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier(INT32_MIN, INT32_MIN, 1), INT32_MAX);
  /* Double vs single rounding: 1 * 0.5 * 2^-1 = 0.25. Double: srdhm(1, 2^30) = 0.5 -> 1, then
   * 1 / 2 = 0.5 -> 1. Single: 0.25 -> 0. */
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier(1, 1 << 30, -1), 1);
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier_single_round(1, 1 << 30, -1), 0);
  /* Single rounding: ties toward +infinity, saturating. */
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier_single_round(-1, 1 << 30, 0), 0);  /* -0.5 */
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier_single_round(1, 1 << 30, 0), 1);   /* 0.5 */
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier_single_round(INT32_MIN, INT32_MIN, 30), INT32_MAX);
  cr_assert_eq(q8_fixed_multiply_by_quantized_multiplier_single_round(INT32_MIN, INT32_MAX, 30), INT32_MIN);
}

Test(primitives, millions_of_random_values) {
  test_rng rng;
  rng_seed(&rng, 42);
  for (long i = 0; i < 4000000; ++i) {
    const int32_t a = random_int32(&rng), b = random_int32(&rng);
    const int e = (int)(rng_next(&rng) % 40) - 4;
    const int32_t s = (int32_t)(rng_next(&rng) % 66) - 33;
    int32_t got = q8_fixed_sat_rounding_doubling_high_mul(a, b), want = ref_srdhm(a, b);
    if (got != want) cr_assert_fail("srdhm(%d, %d) = %d, want %d", a, b, got, want);
    got = q8_fixed_rounding_divide_by_pot(a, e), want = ref_rdbpot(a, e);
    if (got != want) cr_assert_fail("rdbpot(%d, %d) = %d, want %d", a, e, got, want);
    got = q8_fixed_multiply_by_quantized_multiplier(a, b, s), want = ref_mbqm(a, b, s);
    if (got != want) cr_assert_fail("mbqm(%d, %d, %d) = %d, want %d", a, b, s, got, want);
    got = q8_fixed_multiply_by_quantized_multiplier_single_round(a, b, s), want = ref_single(a, b, s);
    if (got != want) cr_assert_fail("single(%d, %d, %d) = %d, want %d", a, b, s, got, want);
  }
}

/* ---- quantize_multiplier ----------------------------------------------------------------------- */

static void expect_qm(double real, int32_t want_m, int32_t want_s) {
  int32_t m = 12345, s = 678;
  Q8_OK_OR_FAIL(q8_fixed_quantize_multiplier(real, &m, &s));
  cr_assert(m == want_m && s == want_s, "quantize_multiplier(%a) = (%d, %d), want (%d, %d)", real, m, s, want_m,
            want_s);
  int32_t rm, rs;
  ref_quantize_multiplier(real, &rm, &rs);
  cr_assert(m == rm && s == rs, "quantize_multiplier(%a) = (%d, %d), frexp reference (%d, %d)", real, m, s, rm, rs);
}

Test(primitives, quantize_multiplier_special_values) {
  expect_qm(0.0, 0, 0);
  expect_qm(-0.0, 0, 0);
  expect_qm(1.0, 1 << 30, 1);
  expect_qm(0.5, 1 << 30, 0);
  expect_qm(0.75, 1610612736, 0);
  expect_qm(0.25, 1 << 30, -1);
  expect_qm(2.0, 1 << 30, 2);
  /* Just below a power of two: q rounds up to 2^31 and renormalises to 2^30 with shift + 1. */
  expect_qm(nextafter(1.0, 0.0), 1 << 30, 1);
  expect_qm(nextafter(0.5, 0.0), 1 << 30, 0);
  /* 0.5 - 2^-33 = (1 - 2^-32) * 2^-1: q * 2^31 = 2^31 - 0.5, a tie, away from zero: up to 0.5. */
  expect_qm(0.5 - 0x1p-33, 1 << 30, 0);
  expect_qm(0.5 - 0x1p-32, INT32_MAX, -1); /* q * 2^31 = 2^31 - 1 exactly */
  expect_qm(nextafter(0x1p-20, 0.0), 1 << 30, -19);
  /* Ties of q * 2^31 at .5 round away from zero (std::round), not to even. */
  expect_qm(0.5 + 0x1p-32, (1 << 30) + 1, 0);     /* 2^30 + 0.5 */
  expect_qm(0.5 + 5 * 0x1p-32, (1 << 30) + 3, 0); /* 2^30 + 2.5 */
  expect_qm(0.5 + 0x1p-33, 1 << 30, 0);           /* 2^30 + 0.25 */
  /* Tiny: 2^-32 keeps shift -31; below it (after rounding) flushes to 0. */
  expect_qm(0x1p-31, 1 << 30, -30);
  expect_qm(0x1p-32, 1 << 30, -31);
  expect_qm(0x1.8p-32, 1610612736, -31);
  expect_qm(nextafter(0x1p-32, 0.0), 1 << 30, -31); /* rounds up into shift -31 */
  expect_qm(0x1.fffffffp-33, 0, 0);               /* q * 2^31 = 2^31 - 4: stays at shift -32 */
  expect_qm(0x1p-33, 0, 0);
  expect_qm(1e-30, 0, 0);
  expect_qm(4.9406564584124654e-324, 0, 0); /* the smallest subnormal */
  /* Huge: shift > 30 saturates to (INT32_MAX, 30). */
  expect_qm(0x1p29, 1 << 30, 30);
  expect_qm(0x1.fffffffcp29, INT32_MAX, 30); /* (2^31 - 1) * 2^-1: exactly representable */
  expect_qm(nextafter(0x1p30, 0.0), INT32_MAX, 30); /* rounds to 2^30: shift 31 -> saturated */
  expect_qm(0x1p30, INT32_MAX, 30);
  expect_qm(1e300, INT32_MAX, 30);
  expect_qm(DBL_MAX, INT32_MAX, 30);
}

Test(primitives, quantize_multiplier_random_against_frexp) {
  test_rng rng;
  rng_seed(&rng, 7);
  for (int i = 0; i < 1000000; ++i) {
    const double real = ldexp(0.5 + 0.5 * rng_uniform(&rng), (int)(rng_next(&rng) % 80) - 45);
    int32_t m, s, rm, rs;
    Q8_OK_OR_FAIL(q8_fixed_quantize_multiplier(real, &m, &s));
    ref_quantize_multiplier(real, &rm, &rs);
    if (m != rm || s != rs) cr_assert_fail("quantize_multiplier(%a) = (%d, %d), want (%d, %d)", real, m, s, rm, rs);
    /* In range, the pair represents real to within half a unit of the multiplier. */
    if (m != 0 && m != INT32_MAX) {
      cr_assert(m >= (1 << 30) && s >= -31 && s <= 30);
      const double err = fabs(ldexp((double)m, s - 31) - real);
      if (!(err <= ldexp(0.5, s - 31))) cr_assert_fail("quantize_multiplier(%a): error %g", real, err);
    }
  }
}

Test(primitives, quantize_multiplier_bad_input) {
  int32_t m = 11, s = 22;
  Q8_EXPECT_STATUS(q8_fixed_quantize_multiplier(NAN, &m, &s), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_quantize_multiplier(INFINITY, &m, &s), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_quantize_multiplier(-INFINITY, &m, &s), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_quantize_multiplier(-1.0, &m, &s), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "real") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_quantize_multiplier(-1e-300, &m, &s), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_quantize_multiplier(1.0, NULL, &s), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "multiplier") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_quantize_multiplier(1.0, &m, NULL), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "shift") != NULL, "%s", q8_last_error());
  cr_assert(m == 11 && s == 22, "outputs written on failure");
}

/* ---- requantize arrays ------------------------------------------------------------------------- */

typedef struct {
  q8_isa isa[8];
  size_t n_isa;
} paths;

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(requantize, .fini = restore_runtime);

typedef struct {
  int32_t zp, qmin, qmax;
} out_params;

/* Channel parameters: typical (m in [2^30, 2^31), shift in [-12, -1]) or, with `wild`, anything. */
static void make_channel_params(test_rng *r, size_t channels, int wild, int32_t *bias, int32_t *mult, int32_t *shift) {
  for (size_t c = 0; c < channels; ++c) {
    bias[c] = (int32_t)(rng_next(r) % 20001) - 10000;
    mult[c] = (1 << 30) + (int32_t)(rng_next(r) % (1u << 30));
    shift[c] = -(int32_t)(rng_next(r) % 12) - 1;
    if (wild) {
      switch (rng_next(r) % 8) {
        case 0: mult[c] = INT32_MIN; break;
        case 1: mult[c] = (int32_t)(rng_next(r) >> 32); break;
        case 2: shift[c] = (int32_t)(rng_next(r) % 31); break; /* left shifts */
        case 3: shift[c] = (int32_t)(rng_next(r) % 80) - 40; break; /* clamped */
        case 4: mult[c] = INT32_MAX, shift[c] = 30; break;
        case 5: bias[c] = (int32_t)(rng_next(r) >> 32); break;  /* wrapping additions */
        default: break;
      }
    }
  }
}

static void fill_acc(test_rng *r, int32_t *acc, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] = (i % 5 == 0) ? random_int32(r) : (int32_t)(rng_next(r) % 400001) - 200000;
}

/* Runs one configuration on every path and thread count and compares with the reference. */
static void check_requantize(const int32_t *acc, size_t n, const int32_t *bias, const int32_t *mult,
                             const int32_t *shift, size_t channels, out_params o, int is_u8, const char *what) {
  q8_isa isa[8];
  const size_t n_isa = supported_isas(isa);
  uint8_t *want = malloc(n + 1), *got = malloc(n + 64);
  cr_assert(want && got);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = i % channels;
    want[i] = (uint8_t)ref_requantize_one(acc[i], bias ? bias[c] : 0, mult[c], shift[c], o.zp, o.qmin, o.qmax);
  }
  for (size_t k = 0; k < n_isa; ++k)
    for (int threads = 1; threads <= 2; ++threads) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(isa[k]));
      Q8_OK_OR_FAIL(q8_runtime_set_threads(threads));
      memset(got, 0xA5, n + 64);
      if (is_u8)
        Q8_OK_OR_FAIL(q8_fixed_requantize_u8(acc, n, bias, mult, shift, channels, o.zp, o.qmin, o.qmax, got));
      else
        Q8_OK_OR_FAIL(q8_fixed_requantize_s8(acc, n, bias, mult, shift, channels, o.zp, o.qmin, o.qmax,
                                             (int8_t *)got));
      for (size_t i = 0; i < n; ++i)
        if (got[i] != want[i]) {
          const size_t c = i % channels;
          cr_assert_fail("%s %s n=%zu channels=%zu i=%zu acc=%d bias=%d m=%d s=%d zp=%d [%d, %d] isa=%s threads=%d: "
                         "got %d want %d",
                         what, is_u8 ? "u8" : "s8", n, channels, i, acc[i], bias ? bias[c] : 0, mult[c], shift[c], o.zp,
                         o.qmin, o.qmax, q8_isa_name(isa[k]), threads, is_u8 ? got[i] : (int8_t)got[i],
                         is_u8 ? want[i] : (int8_t)want[i]);
        }
      for (size_t i = n; i < n + 64; ++i) cr_assert_eq(got[i], 0xA5, "%s: wrote past n at %zu", what, i);
    }
  free(want);
  free(got);
}

static out_params out_for(int is_u8, int which) {
  /* full range, ReLU (qmin = zero point), ReLU6-like, a single value */
  const out_params s8[4] = {{3, -128, 127}, {-128, -128, 127}, {-100, -100, -40}, {5, 7, 7}};
  const out_params u8[4] = {{128, 0, 255}, {0, 0, 255}, {10, 10, 70}, {200, 255, 255}};
  return is_u8 ? u8[which % 4] : s8[which % 4];
}

Test(requantize, per_tensor_every_path_and_size) {
  static const size_t sizes[] = {0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 1000003};
  test_rng rng;
  rng_seed(&rng, 3);
  int32_t *acc = malloc(1000003 * sizeof(int32_t));
  cr_assert(acc);
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; ++si) {
    const size_t n = sizes[si];
    fill_acc(&rng, acc, n);
    /* parameter sets: typical, a left shift, INT32_MIN multiplier, shifts at and beyond the ends */
    const int32_t ms[] = {1518500250, 1 << 30, INT32_MIN, INT32_MAX, 1073741824, -1518500250, 0};
    const int32_t ss[] = {-9, 3, 0, -31, 30, 40, -40};
    const size_t n_sets = n > 100000 ? 3 : sizeof ms / sizeof ms[0];
    for (size_t p = 0; p < n_sets; ++p)
      for (int is_u8 = 0; is_u8 <= 1; ++is_u8) {
        const int32_t bias = (int32_t)(p * 7919) - 20000;
        const out_params o = out_for(is_u8, (int)(p + si));
        check_requantize(acc, n, (p & 1) ? &bias : NULL, &ms[p], &ss[p], 1, o, is_u8, "per-tensor");
      }
  }
  free(acc);
}

Test(requantize, per_channel_every_path_and_shape) {
  /* (rows, channels): channels below, at and above the vector widths, odd sizes, one huge row. */
  static const size_t shapes[][2] = {{0, 3},  {1, 2},   {1, 7},  {1, 15},   {1, 16},   {1, 17},  {3, 5},
                                     {7, 9},  {1, 63},  {5, 13}, {13, 65},  {9, 8},    {4, 33},  {100, 3},
                                     {2, 31}, {31, 32}, {1, 1000003}, {31251, 32}, {7, 142857}};
  test_rng rng;
  rng_seed(&rng, 4);
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; ++si) {
    const size_t rows = shapes[si][0], channels = shapes[si][1], n = rows * channels;
    int32_t *acc = malloc((n + 1) * sizeof(int32_t));
    int32_t *bias = malloc(channels * sizeof(int32_t)), *mult = malloc(channels * sizeof(int32_t)),
            *shift = malloc(channels * sizeof(int32_t));
    cr_assert(acc && bias && mult && shift);
    fill_acc(&rng, acc, n);
    for (int wild = 0; wild <= 1; ++wild) {
      make_channel_params(&rng, channels, wild, bias, mult, shift);
      for (int is_u8 = 0; is_u8 <= 1; ++is_u8)
        for (int with_bias = 0; with_bias <= 1; ++with_bias) {
          const out_params o = out_for(is_u8, (int)si + wild + with_bias);
          check_requantize(acc, n, with_bias ? bias : NULL, mult, shift, channels, o, is_u8,
                           wild ? "per-channel wild" : "per-channel");
        }
    }
    free(acc);
    free(bias);
    free(mult);
    free(shift);
  }
}

/* The SIMD paths pick a loop by the parameters (bias or none, whether the saturating narrowing is
 * the clamp, a left shift or INT32_MIN multiplier anywhere): every combination, per tensor and per
 * channel, with accumulators that reach the extremes. */
Test(requantize, every_parameter_variant) {
  enum { N = 1021 };
  static const size_t channel_counts[] = {1, 5, 16, 40};
  test_rng rng;
  rng_seed(&rng, 12);
  int32_t acc[N];
  for (size_t i = 0; i < N; ++i) acc[i] = random_int32(&rng);
  for (size_t ci = 0; ci < sizeof channel_counts / sizeof channel_counts[0]; ++ci) {
    const size_t channels = channel_counts[ci], n = N / channels * channels;
    for (size_t c = 0; c < channels; ++c) acc[c] = INT32_MAX, acc[channels + c] = INT32_MIN; /* every lane */
    int32_t bias[40], zero_bias[40] = {0}, mult[40], shift[40];
    for (int bias_kind = 0; bias_kind < 3; ++bias_kind)      /* NULL, all zero, some non-zero */
      for (int shift_kind = 0; shift_kind < 4; ++shift_kind) /* all right shifts, one 0, one left, one MIN */
        for (int full = 0; full <= 1; ++full)
          for (int is_u8 = 0; is_u8 <= 1; ++is_u8) {
            for (size_t c = 0; c < channels; ++c) {
              bias[c] = (int32_t)(rng_next(&rng) % 2001) - 1000;
              mult[c] = (1 << 30) + (int32_t)(rng_next(&rng) % (1u << 30));
              shift[c] = -(int32_t)(rng_next(&rng) % 31) - 1;
            }
            const size_t special = channels - 1;
            if (shift_kind == 1) shift[special] = 0, mult[special] = INT32_MAX; /* |r| near 2^31: r + zp overflows */
            if (shift_kind == 2) shift[special] = 2;
            if (shift_kind == 3) mult[special] = INT32_MIN;
            out_params o;
            if (is_u8)
              o = full ? (out_params){77, 0, 255} : (out_params){0, 0, 200};
            else
              o = full ? (out_params){-7, -128, 127} : (out_params){-128, -128, 100};
            const int32_t *b = bias_kind == 0 ? NULL : bias_kind == 1 ? zero_bias : bias;
            check_requantize(acc, n, b, mult, shift, channels, o, is_u8, "variant");
          }
  }
}

Test(requantize, documented_values) {
  /* 1000 * 0.5 * 2^-3 = 62.5 -> double rounding: srdhm(1000, 2^30) = 500, then 500 / 8 = 62.5 -> 63
   * (away from zero); -62.5 -> -63. Then + zero point and clamps. */
  const int32_t acc[4] = {1000, -1000, 1000000, -1000000};
  const int32_t m = 1 << 30, s = -3;
  int8_t out[4];
  Q8_OK_OR_FAIL(q8_fixed_requantize_s8(acc, 4, NULL, &m, &s, 1, 0, -128, 127, out));
  cr_assert(out[0] == 63 && out[1] == -63 && out[2] == 127 && out[3] == -128, "%d %d %d %d", out[0], out[1], out[2],
            out[3]);
  uint8_t u[4];
  Q8_OK_OR_FAIL(q8_fixed_requantize_u8(acc, 4, NULL, &m, &s, 1, 128, 128, 255, u)); /* ReLU */
  cr_assert(u[0] == 191 && u[1] == 128 && u[2] == 255 && u[3] == 128, "%d %d %d %d", u[0], u[1], u[2], u[3]);
  /* bias wraps: INT32_MAX + 1 = INT32_MIN. */
  const int32_t big[1] = {INT32_MAX}, one = 1, m1 = INT32_MAX, s0 = 0;
  Q8_OK_OR_FAIL(q8_fixed_requantize_s8(big, 1, &one, &m1, &s0, 1, 0, -128, 127, out));
  cr_assert_eq(out[0], -128);
}

Test(requantize, bad_input) {
  int32_t acc[6] = {1, 2, 3, 4, 5, 6};
  const int32_t m[3] = {1 << 30, 1 << 30, 1 << 30}, s[3] = {0, 0, 0};
  int8_t d[6] = {9, 9, 9, 9, 9, 9};
  uint8_t u[6] = {9, 9, 9, 9, 9, 9};
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(NULL, 6, NULL, m, s, 1, 0, -128, 127, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "acc") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, NULL, s, 1, 0, -128, 127, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "multiplier") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, NULL, 1, 0, -128, 127, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "shift") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_u8(acc, 6, NULL, m, s, 1, 0, 0, 255, NULL), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "dst") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 0, 0, -128, 127, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "channels") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 4, 0, -128, 127, d), Q8_ERR_SHAPE);
  cr_assert(strstr(q8_last_error(), "channels") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 1, 0, 10, 9, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "qmin") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 1, 0, -129, 127, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "qmin") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 1, 0, -128, 128, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "qmax") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_u8(acc, 6, NULL, m, s, 1, 0, -1, 255, u), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_requantize_u8(acc, 6, NULL, m, s, 1, 0, 0, 256, u), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 1, 128, -128, 127, d), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "zero_point") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_requantize_u8(acc, 6, NULL, m, s, 1, -1, 0, 255, u), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_requantize_u8(acc, 6, NULL, m, s, 1, 256, 0, 255, u), Q8_ERR_INVALID_ARGUMENT);
  /* dst inside acc's bytes */
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 1, 0, -128, 127, (int8_t *)acc + 3),
                   Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "overlap") != NULL, "%s", q8_last_error());
  for (int i = 0; i < 6; ++i) cr_assert(d[i] == 9 && u[i] == 9, "dst written on failure");
  cr_assert(acc[0] == 1 && acc[5] == 6);
  /* n = 0 accepts NULL pointers, but still checks the scalars. */
  Q8_OK_OR_FAIL(q8_fixed_requantize_s8(NULL, 0, NULL, NULL, NULL, 1, 0, -128, 127, NULL));
  Q8_OK_OR_FAIL(q8_fixed_requantize_u8(NULL, 0, NULL, NULL, NULL, 5, 0, 0, 255, NULL));
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(NULL, 0, NULL, NULL, NULL, 0, 0, -128, 127, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_requantize_s8(NULL, 0, NULL, NULL, NULL, 1, 0, 5, 4, NULL), Q8_ERR_INVALID_ARGUMENT);
  /* bias is optional; per channel with 3 channels */
  Q8_OK_OR_FAIL(q8_fixed_requantize_s8(acc, 6, NULL, m, s, 3, 0, -128, 127, d));
}

/* ---- transcendental functions ------------------------------------------------------------------ */

TestSuite(transcendental);

typedef enum { F_EXP, F_LOGISTIC, F_TANH } fn;
static const char *const kFnName[3] = {"exp", "logistic", "tanh"};

static int32_t call_fn(fn f, int32_t x, int ib) {
  return f == F_EXP ? q8_fixed_exp_on_negative_values(x, ib) : f == F_LOGISTIC ? q8_fixed_logistic(x, ib)
                                                                                : q8_fixed_tanh(x, ib);
}

static double real_fn(fn f, double x) {
  return f == F_EXP ? exp(x) : f == F_LOGISTIC ? 1.0 / (1.0 + exp(-x)) : tanh(x);
}

/* Error bounds, derived in docs/FIXED_POINT.md and checked against the measurement below:
 * exp: the degree-4 Taylor remainder on |y| <= 1/8 around -1/8, exp(-1/8) (1/8)^5 / 5! (1 + 1/48)
 * = 2.29e-7, plus 10 roundings of 2^-32 each (4 multiplies and 3 shifts in the polynomial, 7 in the
 * barrel), < 2.4e-7 in all; logistic = g(exp) with |g'| = 1 / (1 + e)^2 <= 1, plus Newton's residual
 * ((1/17)^8 = 1.4e-10) and its roundings: < 2.5e-7; tanh: |g'| = 2 / (1 + e)^2 <= 2: < 5e-7. */
static const double kBound[3] = {2.4e-7, 2.5e-7, 5.0e-7};

/* Inputs of a sweep: the whole Q(ib) range in 2^20 even steps, plus every raw value within
 * +-2^14 of 0 and of each multiple of 1/4 (the barrel's boundaries) up to |x| = 4. */
static double max_abs_error(fn f, int ib, int32_t *worst_x, long *non_monotone, double *worst_drop) {
  const double scale = ldexp(1.0, -(31 - ib));
  double worst = 0;
  *non_monotone = 0;
  *worst_drop = 0;
  int32_t prev_y = 0;
  int have_prev = 0;
  const int64_t step = INT64_C(1) << 12;
  for (int64_t x = INT32_MIN; x <= INT32_MAX; x += step) {
    if (f == F_EXP && x > 0) break;
    const int32_t y = call_fn(f, (int32_t)x, ib);
    const double err = fabs(ldexp((double)y, -31) - real_fn(f, (double)x * scale));
    if (err > worst) worst = err, *worst_x = (int32_t)x;
    if (have_prev && y < prev_y) {
      ++*non_monotone;
      const double drop = ldexp((double)(prev_y - y), -31);
      if (drop > *worst_drop) *worst_drop = drop;
    }
    prev_y = y, have_prev = 1;
  }
  /* dense windows */
  for (int w = -16; w <= 16; ++w) {
    const double centre = w * 0.25;
    if (fabs(centre) * ldexp(1.0, 31 - ib) >= 2147483648.0) continue;
    if (f == F_EXP && centre > 0) continue;
    const int64_t c = (int64_t)llround(centre / scale);
    int have = 0;
    int32_t py = 0;
    for (int64_t x = c - 16384; x <= c + 16384; ++x) {
      if (x < INT32_MIN || x > INT32_MAX || (f == F_EXP && x > 0)) continue;
      const int32_t y = call_fn(f, (int32_t)x, ib);
      const double err = fabs(ldexp((double)y, -31) - real_fn(f, (double)x * scale));
      if (err > worst) worst = err, *worst_x = (int32_t)x;
      if (have && y < py) {
        ++*non_monotone;
        const double drop = ldexp((double)(py - y), -31);
        if (drop > *worst_drop) *worst_drop = drop;
      }
      py = y, have = 1;
    }
  }
  return worst;
}

Test(transcendental, accuracy_against_double_for_integer_bits_0_to_8, .timeout = 240) {
  for (int f = F_EXP; f <= F_TANH; ++f) {
    double overall = 0, overall_drop = 0;
    for (int ib = 0; ib <= 8; ++ib) {
      int32_t wx = 0;
      long nm = 0;
      double drop = 0;
      const double err = max_abs_error((fn)f, ib, &wx, &nm, &drop);
      cr_log_info("%-8s integer_bits %d: max |error| %.3e (%.1f LSB of Q0.31) at raw %d; %ld decreasing steps, "
                  "largest drop %.2e",
                  kFnName[f], ib, err, err * 2147483648.0, wx, nm, drop);
      printf("accuracy %-8s ib=%d max_abs_err=%.3e lsb=%.1f at_raw=%d decreasing_steps=%ld max_drop=%.2e\n",
             kFnName[f], ib, err, err * 2147483648.0, wx, nm, drop);
      cr_assert(err <= kBound[f], "%s ib=%d: max error %.3e above the bound %.1e (at raw %d)", kFnName[f], ib, err,
                kBound[f], wx);
      /* exp is monotone; logistic and tanh are not at the LSB level (the Newton steps round in
       * Q2.29 / Q4.27 and the result is shifted left by 1 or 2): a step down stays below 32 LSB. */
      if (f == F_EXP) cr_assert_eq(nm, 0, "exp ib=%d: %ld decreasing steps", ib, nm);
      cr_assert(drop <= 0x1p-26, "%s ib=%d: drops by %.3e", kFnName[f], ib, drop);
      if (err > overall) overall = err;
      if (drop > overall_drop) overall_drop = drop;
    }
    printf("accuracy %-8s all ib 0..8: max_abs_err=%.3e max_drop=%.2e\n", kFnName[f], overall, overall_drop);
  }
  fflush(stdout);
}

Test(transcendental, exp_core_has_no_wraparound_exhaustive, .timeout = 120) {
  /* Every input of the [-1/4, 0) kernel (Q0.31, 2^29 values): positive (no wrap-around), monotone,
   * and within the bound of exp. */
  double worst = 0;
  int32_t prev = 0;
  for (int32_t x = -(1 << 29); x < 0; ++x) {
    const int32_t y = q8_fixed_exp_on_negative_values(x, 0);
    if (y < 1600000000) cr_assert_fail("exp(%d) = %d wrapped", x, y);
    if (y < prev) cr_assert_fail("exp not monotone at %d: %d after %d", x, y, prev);
    prev = y;
    if ((x & 4095) == 0) {
      const double err = fabs(ldexp((double)y, -31) - exp(ldexp((double)x, -31)));
      if (err > worst) worst = err;
    }
  }
  cr_assert(worst <= kBound[F_EXP], "%g", worst);
}

Test(transcendental, documented_special_values) {
  for (int ib = 0; ib <= 30; ++ib) {
    cr_assert_eq(q8_fixed_exp_on_negative_values(0, ib), INT32_MAX);
    cr_assert_eq(q8_fixed_exp_on_negative_values(1, ib), INT32_MAX);
    cr_assert_eq(q8_fixed_exp_on_negative_values(INT32_MAX, ib), INT32_MAX);
    cr_assert_eq(q8_fixed_logistic(0, ib), 1 << 30);
    cr_assert_eq(q8_fixed_tanh(0, ib), 0);
    /* Ranges: logistic in [0, 1), tanh in (-1, 1), exp in [0, 1]. */
    const int32_t xs[] = {INT32_MIN, INT32_MIN + 1, -1, 1, INT32_MAX};
    for (size_t i = 0; i < 5; ++i) {
      cr_assert(q8_fixed_logistic(xs[i], ib) >= 0);
      cr_assert(q8_fixed_tanh(xs[i], ib) > INT32_MIN);
      cr_assert(q8_fixed_exp_on_negative_values(xs[i], ib) >= 0);
    }
  }
  /* exp(-1) with 0 integer bits: INT32_MIN is exactly -1. */
  cr_assert(fabs(ldexp(q8_fixed_exp_on_negative_values(INT32_MIN, 0), -31) - exp(-1.0)) < 2.4e-7);
  /* exp(-32) and below are 0 from 6 integer bits on; at 5 bits INT32_MIN is -32 (exp = 1.3e-14 -> 0). */
  cr_assert_eq(q8_fixed_exp_on_negative_values(INT32_MIN, 5), 0);
  cr_assert_eq(q8_fixed_exp_on_negative_values(INT32_MIN, 8), 0);
  cr_assert_eq(q8_fixed_exp_on_negative_values(INT32_MIN, 30), 0);
  /* integer_bits outside [0, 30] are clamped. */
  const int32_t probe[] = {INT32_MIN, -123456789, -5, 77777, INT32_MAX};
  for (size_t i = 0; i < 5; ++i) {
    cr_assert_eq(q8_fixed_exp_on_negative_values(probe[i], -3), q8_fixed_exp_on_negative_values(probe[i], 0));
    cr_assert_eq(q8_fixed_exp_on_negative_values(probe[i], 99), q8_fixed_exp_on_negative_values(probe[i], 30));
    cr_assert_eq(q8_fixed_logistic(probe[i], -1), q8_fixed_logistic(probe[i], 0));
    cr_assert_eq(q8_fixed_logistic(probe[i], 31), q8_fixed_logistic(probe[i], 30));
    cr_assert_eq(q8_fixed_tanh(probe[i], INT32_MIN), q8_fixed_tanh(probe[i], 0));
    cr_assert_eq(q8_fixed_tanh(probe[i], 31), q8_fixed_tanh(probe[i], 30));
  }
  /* High integer bits stay meaningful: with 30 integer bits raw 3 is 1.5. */
  cr_assert(fabs(ldexp(q8_fixed_tanh(3, 30), -31) - tanh(1.5)) < 5e-7);
  cr_assert(fabs(ldexp(q8_fixed_logistic(-3, 30), -31) - 1 / (1 + exp(1.5))) < 2.5e-7);
  cr_assert(fabs(ldexp(q8_fixed_exp_on_negative_values(-3, 30), -31) - exp(-1.5)) < 2.4e-7);
}

Test(transcendental, symmetry) {
  test_rng rng;
  rng_seed(&rng, 9);
  for (int ib = 0; ib <= 8; ++ib)
    for (int i = 0; i < 200000; ++i) {
      int32_t x = random_int32(&rng);
      if (x == INT32_MIN) x = INT32_MIN + 1; /* -x must exist */
      const int32_t t = q8_fixed_tanh(x, ib), tn = q8_fixed_tanh(-x, ib);
      if (llabs((long long)t + tn) > 1) cr_assert_fail("tanh(%d) = %d, tanh(-x) = %d (ib %d)", x, t, tn, ib);
      const int64_t sum = (int64_t)q8_fixed_logistic(x, ib) + q8_fixed_logistic(-x, ib);
      if (llabs((long long)(sum - (INT64_C(1) << 31))) > 2)
        cr_assert_fail("logistic(%d) + logistic(-x) = %lld, want 2^31 within 2 (ib %d)", x, (long long)sum, ib);
    }
}

/* ---- activation tables ------------------------------------------------------------------------- */

TestSuite(lut);

static int32_t ref_lut_entry(int sigmoid, int32_t q, float in_scale, int32_t in_zp, float out_scale, int32_t out_zp,
                             int32_t qmin, int32_t qmax) {
  const double x = (double)(q - in_zp) * (double)in_scale;
  const double y = sigmoid ? 1.0 / (1.0 + exp(-x)) : tanh(x);
  double v = nearbyint(y / (double)out_scale) + out_zp;
  if (v < qmin) v = qmin;
  if (v > qmax) v = qmax;
  return (int32_t)v;
}

Test(lut, tables_within_one_of_double_reference) {
  typedef struct {
    float in_scale;
    int32_t in_zp;
    float out_scale;
    int32_t out_zp;
  } cfg;
  /* TFLite-style output parameters (sigmoid 1/256, tanh 1/128) and a few odd ones. */
  const cfg s8_sig[] = {{0.1f, 0, 1.0f / 256, -128}, {0.0625f, -10, 1.0f / 256, -128}, {0.02f, 5, 1.0f / 256, -128},
                        {0.5f, 0, 1.0f / 256, -128}, {0.03f, -128, 1.0f / 255, -128}, {0.07f, 3, 0.003f, -100},
                        {1e-4f, 0, 1.0f / 256, -128}, {3.0f, 127, 1.0f / 256, -128}};
  const cfg s8_tanh[] = {{0.1f, 0, 1.0f / 128, 0}, {0.03f, 10, 1.0f / 128, 0}, {0.25f, -5, 1.0f / 128, 0},
                         {0.01f, 0, 0.005f, 3}, {0.0039f, 0, 1.0f / 128, 0}, {2.0f, 0, 1.0f / 128, 0}};
  const cfg u8_sig[] = {{0.1f, 128, 1.0f / 256, 0}, {0.05f, 100, 1.0f / 256, 0}, {0.2f, 0, 1.0f / 255, 0},
                        {0.01f, 255, 1.0f / 256, 0}};
  const cfg u8_tanh[] = {{0.1f, 128, 1.0f / 128, 128}, {0.02f, 120, 1.0f / 128, 128}, {0.3f, 0, 0.01f, 100}};
  long differ = 0, entries = 0;
  for (int kind = 0; kind < 4; ++kind) {
    const cfg *cs = kind == 0 ? s8_sig : kind == 1 ? s8_tanh : kind == 2 ? u8_sig : u8_tanh;
    const size_t nc = kind == 0 ? 8 : kind == 1 ? 6 : kind == 2 ? 4 : 3;
    const int sigmoid = kind % 2 == 0, is_u8 = kind >= 2;
    const q8_fixed_function f = sigmoid ? Q8_FIXED_SIGMOID : Q8_FIXED_TANH;
    long kind_differ = 0;
    for (size_t k = 0; k < nc; ++k) {
      const cfg c = cs[k];
      int8_t ts[256];
      uint8_t tu[256];
      if (is_u8)
        Q8_OK_OR_FAIL(q8_fixed_lut_u8(f, c.in_scale, c.in_zp, c.out_scale, c.out_zp, tu));
      else
        Q8_OK_OR_FAIL(q8_fixed_lut_s8(f, c.in_scale, c.in_zp, c.out_scale, c.out_zp, ts));
      for (int i = 0; i < 256; ++i) {
        const int32_t q = is_u8 ? i : i - 128;
        const int32_t got = is_u8 ? tu[i] : ts[i];
        const int32_t want = ref_lut_entry(sigmoid, q, c.in_scale, c.in_zp, c.out_scale, c.out_zp, is_u8 ? 0 : -128,
                                           is_u8 ? 255 : 127);
        cr_assert(abs(got - want) <= 1, "%s %s cfg %zu q=%d: got %d want %d", is_u8 ? "u8" : "s8",
                  sigmoid ? "sigmoid" : "tanh", k, q, got, want);
        kind_differ += got != want;
        ++entries;
      }
    }
    printf("lut %s %-7s: %ld of %zu entries differ by 1 from the double reference\n", is_u8 ? "u8" : "s8",
           sigmoid ? "sigmoid" : "tanh", kind_differ, nc * 256);
    differ += kind_differ;
  }
  printf("lut total: %ld of %ld entries differ (all within 1)\n", differ, entries);
  fflush(stdout);
}

Test(lut, monotone_and_saturating) {
  int8_t t[256];
  Q8_OK_OR_FAIL(q8_fixed_lut_s8(Q8_FIXED_SIGMOID, 0.1f, 0, 1.0f / 256, -128, t));
  for (int i = 1; i < 256; ++i) cr_assert(t[i] >= t[i - 1]);
  cr_assert_eq(t[128], 0); /* sigmoid(0) = 0.5 -> 128 - 128 */
  Q8_OK_OR_FAIL(q8_fixed_lut_s8(Q8_FIXED_TANH, 1.0f, 0, 1.0f / 128, 0, t));
  cr_assert_eq(t[0], -128);
  cr_assert_eq(t[255], 127); /* tanh(127) = 1 -> 128, saturated */
  cr_assert_eq(t[128], 0);
  uint8_t u[256];
  Q8_OK_OR_FAIL(q8_fixed_lut_u8(Q8_FIXED_TANH, 1e30f, 128, 1.0f / 128, 128, u)); /* inputs beyond Q5.26 */
  cr_assert(u[0] == 0 && u[128] == 128 && u[255] == 255);
  Q8_OK_OR_FAIL(q8_fixed_lut_u8(Q8_FIXED_SIGMOID, 0.1f, 0, 1e-30f, 0, u)); /* tiny output scale saturates */
  cr_assert(u[0] == 255 && u[255] == 255);
}

Test(lut, bad_input) {
  int8_t t[256];
  uint8_t u[256];
  memset(t, 7, sizeof t);
  Q8_EXPECT_STATUS(q8_fixed_lut_s8((q8_fixed_function)2, 0.1f, 0, 0.1f, 0, t), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "f = 2") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_lut_u8((q8_fixed_function)-1, 0.1f, 0, 0.1f, 0, u), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_lut_s8(Q8_FIXED_SIGMOID, 0.1f, 0, 0.1f, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "table") != NULL, "%s", q8_last_error());
  const float bad_scales[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof bad_scales / sizeof bad_scales[0]; ++i) {
    Q8_EXPECT_STATUS(q8_fixed_lut_s8(Q8_FIXED_TANH, bad_scales[i], 0, 0.1f, 0, t), Q8_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(q8_last_error(), "in_scale") != NULL, "%s", q8_last_error());
    Q8_EXPECT_STATUS(q8_fixed_lut_u8(Q8_FIXED_TANH, 0.1f, 0, bad_scales[i], 0, u), Q8_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(q8_last_error(), "out_scale") != NULL, "%s", q8_last_error());
  }
  Q8_EXPECT_STATUS(q8_fixed_lut_s8(Q8_FIXED_TANH, 0.1f, 128, 0.1f, 0, t), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "in_zero_point") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_lut_s8(Q8_FIXED_TANH, 0.1f, 0, 0.1f, -129, t), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(q8_last_error(), "out_zero_point") != NULL, "%s", q8_last_error());
  Q8_EXPECT_STATUS(q8_fixed_lut_u8(Q8_FIXED_SIGMOID, 0.1f, -1, 0.1f, 0, u), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_fixed_lut_u8(Q8_FIXED_SIGMOID, 0.1f, 0, 0.1f, 256, u), Q8_ERR_INVALID_ARGUMENT);
  for (int i = 0; i < 256; ++i) cr_assert_eq(t[i], 7, "table written on failure");
}
