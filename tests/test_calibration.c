/* Calibration as a value (q8/calibration.h), through the public API on the bundled digits models:
 * for every observer kind, calibrating all batches in one call, or any split of them in pieces
 * merged in any order (directly, or through the flat arrays an MPI all-reduce would combine),
 * gives the same calibration bytes and the same quantized model bytes as q8_model_quantize on
 * all batches. Plus the byte format (round trip, malformed input) and mismatched merges. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "support.h"

#define MAX_PIECES 8
#define MAX_TEST_BATCHES 40

static digits_rows g_train;

static void load_digits(void) { digits_load_bundled(&g_train, NULL); }

static q8_model *load_bundled(const char *name) {
  char rel[64];
  snprintf(rel, sizeof rel, "models/digits_%s.onnx", name);
  return load_fixture(rel);
}

/* The batches: edge sizes first (1, 7, 63, 65 rows), one batch of zeros (every activation that
 * sees only zeros keeps its count apart until a spread range arrives), then batches of 64. */
static float g_zeros[5 * DIGITS_PIXELS];
typedef struct {
  q8_tensor *t[MAX_TEST_BATCHES];
  size_t n;
} batch_set;

static void make_batches(const q8_model *m, size_t total, batch_set *out) {
  load_digits();
  static const size_t sizes[] = {1, 7, 63, 65};
  size_t row = 0;
  out->n = 0;
  for (size_t i = 0; i < 4 && out->n < total; ++i) {
    DIGITS_OR_FAIL(digits_wrap(m, g_train.x + row * DIGITS_PIXELS, sizes[i], &out->t[out->n++]));
    row += sizes[i];
  }
  if (out->n < total) DIGITS_OR_FAIL(digits_wrap(m, g_zeros, 5, &out->t[out->n++]));
  for (; out->n < total && row + 64 <= g_train.n; row += 64)
    DIGITS_OR_FAIL(digits_wrap(m, g_train.x + row * DIGITS_PIXELS, 64, &out->t[out->n++]));
  cr_assert_eq(out->n, total);
}

static void free_batches(batch_set *b) {
  for (size_t i = 0; i < b->n; ++i) q8_tensor_destroy(b->t[i]);
  b->n = 0;
}

static q8_ptq_options options(q8_observer_kind kind, q8_scheme scheme) {
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.observer = kind;
  o.activation_scheme = scheme;
  return o;
}

/* Saved bytes (free with q8_free). */
static blob calibration_bytes(const q8_calibration *c) {
  void *p = NULL;
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_calibration_save_bytes(c, &p, &n));
  return (blob){p, n};
}

static blob model_bytes(const q8_model *m) {
  void *p = NULL;
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_model_save_bytes(m, &p, &n));
  return (blob){p, n};
}

static void expect_same(blob a, blob b, const char *what) {
  cr_assert(a.n == b.n && memcmp(a.p, b.p, a.n) == 0, "%s: %zu bytes vs %zu bytes, contents differ", what, a.n, b.n);
}

/* Calibrates the batches of each piece (piece_of[b] names batch b's piece) on its own and merges
 * the pieces in `order`. */
static q8_calibration *calibrate_split(const q8_model *m, const q8_ptq_options *o, const batch_set *bs,
                                       const int *piece_of, size_t pieces, const int *order) {
  q8_calibration *part[MAX_PIECES] = {NULL};
  for (size_t p = 0; p < pieces; ++p) {
    const q8_tensor *mine[MAX_TEST_BATCHES];
    size_t n = 0;
    for (size_t b = 0; b < bs->n; ++b)
      if (piece_of[b] == (int)p) mine[n++] = bs->t[b];
    cr_assert(n > 0, "piece %zu is empty", p);
    Q8_OK_OR_FAIL(q8_model_calibrate(m, o, mine, n, &part[p]));
  }
  q8_calibration *into = part[order[0]];
  for (size_t i = 1; i < pieces; ++i) {
    Q8_OK_OR_FAIL(q8_calibration_merge(into, part[order[i]]));
    q8_calibration_destroy(part[order[i]]);
  }
  return into;
}

/* The splits: 1 + rest, half and half, odd pieces (1, 3, 1, 6, rest; the third is the batch of
 * zeros alone) merged starting from that piece, the zeros alone merged into the rest, and
 * interleaved thirds (batch b in piece b % 3, as MPI ranks take them) merged 2, 0, 1. */
#define SPLITS 5
static size_t make_split(int which, size_t n, int *piece_of, int *order) {
  static const size_t odd[] = {1, 4, 5, 11};
  switch (which) {
    case 0:
      for (size_t b = 0; b < n; ++b) piece_of[b] = b == 0 ? 0 : 1;
      order[0] = 1, order[1] = 0;
      return 2;
    case 1:
      for (size_t b = 0; b < n; ++b) piece_of[b] = b < n / 2 ? 0 : 1;
      order[0] = 0, order[1] = 1;
      return 2;
    case 2:
      for (size_t b = 0; b < n; ++b) {
        int p = 0;
        while (p < 4 && b >= odd[p]) ++p;
        piece_of[b] = p;
      }
      order[0] = 2, order[1] = 4, order[2] = 3, order[3] = 1, order[4] = 0;
      return 5;
    case 3:
      for (size_t b = 0; b < n; ++b) piece_of[b] = b == 4 ? 1 : 0;
      order[0] = 0, order[1] = 1;
      return 2;
    default:
      for (size_t b = 0; b < n; ++b) piece_of[b] = (int)(b % 3);
      order[0] = 2, order[1] = 0, order[2] = 1;
      return 3;
  }
}

static const char *const kKindNames[] = {"minmax", "moving_average", "percentile", "entropy", "mse"};

static void check_exact(const char *model, q8_observer_kind kind, q8_scheme scheme) {
  q8_model *m = load_bundled(model);
  batch_set bs;
  make_batches(m, 17, &bs);
  const q8_ptq_options o = options(kind, scheme);

  q8_model *ref = NULL;
  Q8_OK_OR_FAIL(q8_model_quantize(m, &o, (const q8_tensor *const *)bs.t, bs.n, &ref));
  const blob want_model = model_bytes(ref);
  q8_calibration *whole = NULL;
  Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)bs.t, bs.n, &whole));
  const blob want_calib = calibration_bytes(whole);
  q8_model *q = NULL;
  Q8_OK_OR_FAIL(q8_model_quantize_calibrated(m, &o, whole, &q));
  blob got = model_bytes(q);
  expect_same(want_model, got, "one call vs q8_model_quantize");
  q8_free(got.p);
  q8_model_destroy(q);

  for (int split = 0; split < SPLITS; ++split) {
    int piece_of[MAX_TEST_BATCHES], order[MAX_PIECES];
    const size_t pieces = make_split(split, bs.n, piece_of, order);
    q8_calibration *merged = calibrate_split(m, &o, &bs, piece_of, pieces, order);
    char what[128];
    snprintf(what, sizeof what, "%s %s %s split %d: calibration", model, kKindNames[kind], q8_scheme_name(scheme), split);
    got = calibration_bytes(merged);
    expect_same(want_calib, got, what);
    q8_free(got.p);
    Q8_OK_OR_FAIL(q8_model_quantize_calibrated(m, &o, merged, &q));
    got = model_bytes(q);
    snprintf(what, sizeof what, "%s %s %s split %d: model", model, kKindNames[kind], q8_scheme_name(scheme), split);
    expect_same(want_model, got, what);
    q8_free(got.p);
    q8_model_destroy(q);
    q8_calibration_destroy(merged);
  }
  q8_free(want_model.p);
  q8_free(want_calib.p);
  q8_calibration_destroy(whole);
  q8_model_destroy(ref);
  free_batches(&bs);
  q8_model_destroy(m);
}

Test(calibration, mlp_minmax_is_exact) { check_exact("mlp", Q8_OBSERVER_MINMAX, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, mlp_percentile_is_exact) { check_exact("mlp", Q8_OBSERVER_PERCENTILE, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, mlp_entropy_is_exact) { check_exact("mlp", Q8_OBSERVER_ENTROPY, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, mlp_mse_is_exact) { check_exact("mlp", Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, mlp_symmetric_kinds_are_exact) {
  for (int k = Q8_OBSERVER_PERCENTILE; k <= Q8_OBSERVER_MSE; ++k)
    check_exact("mlp", (q8_observer_kind)k, Q8_SCHEME_SYMMETRIC);
  check_exact("mlp", Q8_OBSERVER_MINMAX, Q8_SCHEME_SYMMETRIC_NARROW);
}
Test(calibration, cnn_minmax_is_exact) { check_exact("cnn", Q8_OBSERVER_MINMAX, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, cnn_percentile_is_exact) { check_exact("cnn", Q8_OBSERVER_PERCENTILE, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, cnn_entropy_is_exact, .timeout = 120) { check_exact("cnn", Q8_OBSERVER_ENTROPY, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, cnn_mse_is_exact) { check_exact("cnn", Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_U8); }
Test(calibration, cnn_symmetric_kinds_are_exact, .timeout = 120) {
  for (int k = Q8_OBSERVER_PERCENTILE; k <= Q8_OBSERVER_MSE; ++k)
    check_exact("cnn", (q8_observer_kind)k, Q8_SCHEME_SYMMETRIC_NARROW);
}

/* What q8-mpi does with MPI_Allreduce, done here by hand over pieces: MIN/MAX of the ranges,
 * widen, SUM of the histograms, set them; every piece then equals the direct merge. */
static void check_flat_reduction(const char *model, q8_observer_kind kind, q8_scheme scheme) {
  q8_model *m = load_bundled(model);
  batch_set bs;
  make_batches(m, 12, &bs);
  const q8_ptq_options o = options(kind, scheme);
  q8_calibration *whole = NULL;
  Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)bs.t, bs.n, &whole));
  const blob want = calibration_bytes(whole);

  enum { RANKS = 3 };
  q8_calibration *rank[RANKS];
  for (int r = 0; r < RANKS; ++r) {
    const q8_tensor *mine[MAX_TEST_BATCHES];
    size_t n = 0;
    for (size_t b = (size_t)r; b < bs.n; b += RANKS) mine[n++] = bs.t[b];
    Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, mine, n, &rank[r]));
  }
  size_t acts = 0, size = 0;
  Q8_OK_OR_FAIL(q8_calibration_activation_count(rank[0], &acts));
  Q8_OK_OR_FAIL(q8_calibration_histogram_size(rank[0], &size));
  cr_assert(acts > 0);
  cr_assert_eq(size == 0, kind == Q8_OBSERVER_MINMAX);
  float *mins = malloc(acts * sizeof *mins), *maxs = malloc(acts * sizeof *maxs);
  float *lo = malloc(acts * sizeof *lo), *hi = malloc(acts * sizeof *hi);
  uint64_t *sum = calloc(size + 1, sizeof *sum), *mine = malloc((size + 1) * sizeof *mine);
  cr_assert(mins && maxs && lo && hi && sum && mine);
  for (size_t i = 0; i < acts; ++i) mins[i] = INFINITY, maxs[i] = -INFINITY;
  for (int r = 0; r < RANKS; ++r) {
    Q8_OK_OR_FAIL(q8_calibration_ranges(rank[r], lo, hi, acts));
    for (size_t i = 0; i < acts; ++i) {
      mins[i] = fminf(mins[i], lo[i]);
      maxs[i] = fmaxf(maxs[i], hi[i]);
    }
  }
  for (int r = 0; r < RANKS; ++r) {
    Q8_OK_OR_FAIL(q8_calibration_widen(rank[r], mins, maxs, acts));
    Q8_OK_OR_FAIL(q8_calibration_histograms(rank[r], mine, size));
    for (size_t i = 0; i < size; ++i) sum[i] += mine[i];
  }
  for (int r = 0; r < RANKS; ++r) {
    Q8_OK_OR_FAIL(q8_calibration_set_histograms(rank[r], sum, size));
    blob got = calibration_bytes(rank[r]);
    expect_same(want, got, "flat reduction vs one call");
    q8_free(got.p);
    q8_calibration_destroy(rank[r]);
  }
  free(mins), free(maxs), free(lo), free(hi), free(sum), free(mine);
  q8_free(want.p);
  q8_calibration_destroy(whole);
  free_batches(&bs);
  q8_model_destroy(m);
}

Test(calibration, flat_reduction_equals_merge) {
  check_flat_reduction("mlp", Q8_OBSERVER_MINMAX, Q8_SCHEME_ASYMMETRIC_U8);
  check_flat_reduction("mlp", Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_U8);
  check_flat_reduction("cnn", Q8_OBSERVER_PERCENTILE, Q8_SCHEME_SYMMETRIC);
  check_flat_reduction("cnn", Q8_OBSERVER_ENTROPY, Q8_SCHEME_ASYMMETRIC_S8);
}

/* Moving average depends on the order: it calibrates and quantizes, but does not merge. */
Test(calibration, moving_average_quantizes_but_does_not_merge) {
  q8_model *m = load_bundled("mlp");
  batch_set bs;
  make_batches(m, 8, &bs);
  const q8_ptq_options o = options(Q8_OBSERVER_MOVING_AVERAGE_MINMAX, Q8_SCHEME_ASYMMETRIC_U8);
  q8_model *ref = NULL, *q = NULL;
  Q8_OK_OR_FAIL(q8_model_quantize(m, &o, (const q8_tensor *const *)bs.t, bs.n, &ref));
  q8_calibration *c = NULL, *d = NULL;
  Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)bs.t, bs.n, &c));
  Q8_OK_OR_FAIL(q8_model_quantize_calibrated(m, &o, c, &q));
  blob a = model_bytes(ref), b = model_bytes(q);
  expect_same(a, b, "moving average: one call vs q8_model_quantize");
  q8_free(a.p), q8_free(b.p);
  Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)bs.t, 1, &d));
  Q8_EXPECT_ERROR(q8_calibration_merge(c, d), Q8_ERR_UNSUPPORTED, "order of the batches");
  size_t acts = 0, size = 1;
  Q8_OK_OR_FAIL(q8_calibration_activation_count(c, &acts));
  Q8_OK_OR_FAIL(q8_calibration_histogram_size(c, &size));
  cr_assert_eq(size, 0);
  float lo[64], hi[64];
  cr_assert(acts <= 64);
  Q8_OK_OR_FAIL(q8_calibration_ranges(c, lo, hi, acts));
  Q8_EXPECT_ERROR(q8_calibration_widen(c, lo, hi, acts), Q8_ERR_UNSUPPORTED, "moving-average");
  /* Its bytes still round-trip. */
  blob saved = calibration_bytes(c);
  q8_calibration *back = NULL;
  Q8_OK_OR_FAIL(q8_calibration_load_bytes(saved.p, saved.n, &back));
  blob again = calibration_bytes(back);
  expect_same(saved, again, "moving average round trip");
  q8_free(saved.p), q8_free(again.p);
  q8_calibration_destroy(back);
  q8_calibration_destroy(c);
  q8_calibration_destroy(d);
  q8_model_destroy(q);
  q8_model_destroy(ref);
  free_batches(&bs);
  q8_model_destroy(m);
}

Test(calibration, save_load_round_trip) {
  q8_model *m = load_bundled("cnn");
  batch_set bs;
  make_batches(m, 9, &bs);
  for (int k = Q8_OBSERVER_MINMAX; k <= Q8_OBSERVER_MSE; ++k) {
    const q8_ptq_options o = options((q8_observer_kind)k, k % 2 ? Q8_SCHEME_SYMMETRIC : Q8_SCHEME_ASYMMETRIC_U8);
    q8_calibration *c = NULL, *back = NULL;
    Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)bs.t, bs.n, &c));
    blob saved = calibration_bytes(c);
    Q8_OK_OR_FAIL(q8_calibration_load_bytes(saved.p, saved.n, &back));
    blob again = calibration_bytes(back);
    expect_same(saved, again, kKindNames[k]);
    q8_model *a = NULL, *b = NULL;
    Q8_OK_OR_FAIL(q8_model_quantize_calibrated(m, &o, c, &a));
    Q8_OK_OR_FAIL(q8_model_quantize_calibrated(m, &o, back, &b));
    blob ab = model_bytes(a), bb = model_bytes(b);
    expect_same(ab, bb, kKindNames[k]);
    size_t n = 0;
    const char *name = NULL;
    Q8_OK_OR_FAIL(q8_calibration_activation_count(back, &n));
    cr_assert(n > 0);
    Q8_OK_OR_FAIL(q8_calibration_activation_name(back, n - 1, &name));
    cr_assert_str_eq(name, "input", "the graph input comes last");
    q8_free(saved.p), q8_free(again.p), q8_free(ab.p), q8_free(bb.p);
    q8_model_destroy(a);
    q8_model_destroy(b);
    q8_calibration_destroy(c);
    q8_calibration_destroy(back);
  }
  free_batches(&bs);
  q8_model_destroy(m);
}

/* Little-endian helpers for patching saved bytes. */
static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_f32(uint8_t *p, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(p, v);
}

static void expect_format_error(const void *p, size_t n, const char *needle) {
  q8_calibration *c = (q8_calibration *)0x1;
  Q8_EXPECT_ERROR(q8_calibration_load_bytes(p, n, &c), Q8_ERR_FORMAT, needle);
  cr_assert(c == (q8_calibration *)0x1, "out written on failure");
}

Test(calibration, malformed_bytes_are_format_errors) {
  q8_model *m = load_bundled("mlp");
  batch_set bs;
  make_batches(m, 6, &bs);
  const q8_ptq_options o = options(Q8_OBSERVER_PERCENTILE, Q8_SCHEME_ASYMMETRIC_U8);
  q8_calibration *c = NULL;
  Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)bs.t, bs.n, &c));
  blob good = calibration_bytes(c);
  uint8_t *b = malloc(good.n + 1);
  cr_assert_not_null(b);

  /* Every truncation, and one byte too many. */
  for (size_t n = 0; n < good.n; ++n) {
    q8_calibration *out = NULL;
    Q8_EXPECT_STATUS(q8_calibration_load_bytes(good.p, n, &out), Q8_ERR_FORMAT);
  }
  memcpy(b, good.p, good.n);
  b[good.n] = 0;
  expect_format_error(b, good.n + 1, "bytes after the last activation");
  expect_format_error(NULL, 0, "end inside the magic");
  /* Header fields: magic, version, kind, scheme, percentile, bins, averaging, count. */
  const struct {
    size_t at;
    uint32_t value;
    const char *needle;
  } patches[] = {{0, 0x5858, "magic"},           {8, 2, "version 2"},          {12, 9, "observer kind 9"},
                 {16, 7, "scheme 7"},            {28, 64, "bins = 64"},        {28, 70000, "bins = 70000"},
                 {32, 0, "averaging"},           {44, 0xffffff, "activations cannot fit"}};
  for (size_t i = 0; i < sizeof patches / sizeof patches[0]; ++i) {
    memcpy(b, good.p, good.n);
    put_u32(b + patches[i].at, patches[i].value);
    expect_format_error(b, good.n, patches[i].needle);
  }
  memcpy(b, good.p, good.n);
  memset(b + 20, 0, 8); /* percentile 0 */
  expect_format_error(b, good.n, "percentile");
  /* The first activation: name length 0 and huge, seen flag 2, min > max, NaN, counts. */
  const size_t act = 48;
  uint32_t len;
  memcpy(&len, (const uint8_t *)good.p + act, 4); /* little-endian host assumed by the test */
  const size_t seen_at = act + 4 + len, min_at = seen_at + 1, max_at = min_at + 4, first_at = max_at + 4;
  memcpy(b, good.p, good.n);
  put_u32(b + act, 0);
  expect_format_error(b, good.n, "name length 0");
  memcpy(b, good.p, good.n);
  put_u32(b + act, 1u << 20);
  expect_format_error(b, good.n, "name length");
  memcpy(b, good.p, good.n);
  b[seen_at] = 2;
  expect_format_error(b, good.n, "seen flag is 2");
  memcpy(b, good.p, good.n);
  put_f32(b + min_at, 1e9f);
  expect_format_error(b, good.n, "> max");
  memcpy(b, good.p, good.n);
  put_f32(b + max_at, NAN);
  expect_format_error(b, good.n, "not finite");
  memcpy(b, good.p, good.n);
  put_u32(b + first_at, 5000);
  expect_format_error(b, good.n, "outside the 2048 slots");
  memcpy(b, good.p, good.n);
  put_f32(b + min_at, 0.0f);
  put_f32(b + max_at, 0.0f); /* only zeros: counts may sit in slot 0 alone */
  expect_format_error(b, good.n, "counts lie outside");
  /* Counts are LEB128: 2^56 - 1 in 8 bytes is too large, 9 bytes too long. */
  memcpy(b, good.p, good.n);
  memset(b + first_at + 8, 0xff, 7);
  b[first_at + 15] = 0x7f;
  expect_format_error(b, good.n, "exceeds 2^53");
  memset(b + first_at + 8, 0xff, 9);
  expect_format_error(b, good.n, "longer than 8 bytes");
  free(b);
  q8_free(good.p);
  q8_calibration_destroy(c);
  free_batches(&bs);
  q8_model_destroy(m);
}

Test(calibration, mismatched_merges_and_quantizations_name_the_difference) {
  q8_model *mlp = load_bundled("mlp"), *cnn = load_bundled("cnn");
  batch_set bm, bc;
  make_batches(mlp, 5, &bm);
  make_batches(cnn, 5, &bc);
  const q8_ptq_options o = options(Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_U8);
  q8_calibration *a = NULL, *c = NULL, *other = NULL;
  Q8_OK_OR_FAIL(q8_model_calibrate(mlp, &o, (const q8_tensor *const *)bm.t, bm.n, &a));
  Q8_OK_OR_FAIL(q8_model_calibrate(cnn, &o, (const q8_tensor *const *)bc.t, bc.n, &c));
  blob before = calibration_bytes(a);

  Q8_EXPECT_ERROR(q8_calibration_merge(a, c), Q8_ERR_INVALID_ARGUMENT, "different models");
  q8_ptq_options p = options(Q8_OBSERVER_ENTROPY, Q8_SCHEME_ASYMMETRIC_U8);
  Q8_OK_OR_FAIL(q8_model_calibrate(mlp, &p, (const q8_tensor *const *)bm.t, 2, &other));
  Q8_EXPECT_ERROR(q8_calibration_merge(a, other), Q8_ERR_INVALID_ARGUMENT, "observer MSE vs ENTROPY");
  q8_calibration_destroy(other);
  p = options(Q8_OBSERVER_MSE, Q8_SCHEME_SYMMETRIC);
  Q8_OK_OR_FAIL(q8_model_calibrate(mlp, &p, (const q8_tensor *const *)bm.t, 2, &other));
  Q8_EXPECT_ERROR(q8_calibration_merge(a, other), Q8_ERR_INVALID_ARGUMENT, "activation scheme");
  q8_calibration_destroy(other);
  /* Pruned first: another model. */
  q8_prune_options po;
  Q8_OK_OR_FAIL(q8_prune_options_init(&po));
  po.sparsity = 0.5;
  p = options(Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_U8);
  p.prune = &po;
  Q8_OK_OR_FAIL(q8_model_calibrate(mlp, &p, (const q8_tensor *const *)bm.t, 2, &other));
  Q8_EXPECT_ERROR(q8_calibration_merge(a, other), Q8_ERR_INVALID_ARGUMENT, "different models");
  /* ... which quantizes with the same prune options, and only with them. */
  q8_model *q = NULL;
  Q8_OK_OR_FAIL(q8_model_quantize_calibrated(mlp, &p, other, &q));
  q8_model_destroy(q);
  q = NULL;
  Q8_EXPECT_ERROR(q8_model_quantize_calibrated(mlp, &o, other, &q), Q8_ERR_INVALID_ARGUMENT, "another model");
  q8_calibration_destroy(other);
  /* `a` is unchanged by the failed merges. */
  blob after = calibration_bytes(a);
  expect_same(before, after, "after failed merges");

  Q8_EXPECT_ERROR(q8_model_quantize_calibrated(cnn, &o, a, &q), Q8_ERR_INVALID_ARGUMENT, "another model");
  p = options(Q8_OBSERVER_PERCENTILE, Q8_SCHEME_ASYMMETRIC_U8);
  Q8_EXPECT_ERROR(q8_model_quantize_calibrated(mlp, &p, a, &q), Q8_ERR_INVALID_ARGUMENT, "observer PERCENTILE vs MSE");
  p = options(Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_U8);
  p.mode = Q8_PTQ_DYNAMIC;
  Q8_EXPECT_ERROR(q8_model_quantize_calibrated(mlp, &p, a, &q), Q8_ERR_INVALID_ARGUMENT, "Q8_PTQ_STATIC");
  cr_assert(q == NULL, "no model on failure");
  /* Weight options are free: per-tensor weights quantize from the same calibration. */
  p = options(Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_U8);
  p.per_channel = 0;
  Q8_OK_OR_FAIL(q8_model_quantize_calibrated(mlp, &p, a, &q));
  q8_model_destroy(q);

  q8_free(before.p), q8_free(after.p);
  q8_calibration_destroy(a);
  q8_calibration_destroy(c);
  free_batches(&bm);
  free_batches(&bc);
  q8_model_destroy(mlp);
  q8_model_destroy(cnn);
}

Test(calibration, bad_arguments) {
  q8_model *m = load_bundled("mlp");
  batch_set bs;
  make_batches(m, 3, &bs);
  const q8_ptq_options o = options(Q8_OBSERVER_PERCENTILE, Q8_SCHEME_ASYMMETRIC_U8);
  const q8_tensor *const *b = (const q8_tensor *const *)bs.t;
  q8_calibration *c = NULL, *none = NULL;
  Q8_EXPECT_ERROR(q8_model_calibrate(m, &o, b, 0, &none), Q8_ERR_INVALID_ARGUMENT, "batch_count is 0");
  Q8_EXPECT_ERROR(q8_model_calibrate(m, &o, NULL, 2, &none), Q8_ERR_INVALID_ARGUMENT, "batches is NULL");
  Q8_EXPECT_STATUS(q8_model_calibrate(NULL, &o, b, 1, &none), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_calibrate(m, &o, b, 1, NULL), Q8_ERR_INVALID_ARGUMENT);
  q8_ptq_options bad = o;
  int bad_kind = 9;
  memcpy(&bad.observer, &bad_kind, sizeof bad_kind);
  Q8_EXPECT_ERROR(q8_model_calibrate(m, &bad, b, 1, &none), Q8_ERR_INVALID_ARGUMENT, "observer");
  cr_assert(none == NULL);
  Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, b, bs.n, &c));
  blob before = calibration_bytes(c);

  size_t acts = 0, size = 0;
  Q8_OK_OR_FAIL(q8_calibration_activation_count(c, &acts));
  Q8_OK_OR_FAIL(q8_calibration_histogram_size(c, &size));
  cr_assert_eq(size, acts * 2048);
  const char *name = NULL;
  Q8_EXPECT_ERROR(q8_calibration_activation_name(c, acts, &name), Q8_ERR_INVALID_ARGUMENT, "out of range");
  Q8_EXPECT_STATUS(q8_calibration_activation_count(NULL, &acts), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_calibration_merge(c, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_calibration_merge(NULL, c), Q8_ERR_INVALID_ARGUMENT);
  float *lo = malloc(acts * sizeof *lo), *hi = malloc(acts * sizeof *hi);
  uint64_t *counts = malloc(size * sizeof *counts);
  cr_assert(lo && hi && counts);
  Q8_EXPECT_ERROR(q8_calibration_ranges(c, lo, hi, acts + 1), Q8_ERR_INVALID_ARGUMENT, "activations");
  Q8_EXPECT_STATUS(q8_calibration_ranges(c, NULL, hi, acts), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_calibration_ranges(c, lo, hi, acts));
  /* widen: NaN, min > max, a lone infinity; all leave c as it was. */
  const float keep = lo[0];
  lo[0] = NAN;
  Q8_EXPECT_ERROR(q8_calibration_widen(c, lo, hi, acts), Q8_ERR_INVALID_ARGUMENT, "activation 0");
  lo[0] = hi[0] + 1.0f;
  Q8_EXPECT_ERROR(q8_calibration_widen(c, lo, hi, acts), Q8_ERR_INVALID_ARGUMENT, "min <= max");
  lo[0] = -INFINITY;
  Q8_EXPECT_STATUS(q8_calibration_widen(c, lo, hi, acts), Q8_ERR_INVALID_ARGUMENT);
  lo[0] = keep;
  /* histograms: wrong size, a count outside the range, a count past 2^53. */
  Q8_EXPECT_ERROR(q8_calibration_histograms(c, counts, size - 1), Q8_ERR_INVALID_ARGUMENT, "q8_calibration_histogram_size");
  Q8_EXPECT_STATUS(q8_calibration_histograms(c, NULL, size), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_calibration_histograms(c, counts, size));
  uint64_t total = 0;
  for (size_t i = 0; i < size; ++i) total += counts[i];
  cr_assert(total > 0);
  size_t empty = 0; /* a slot of activation 0 its range does not reach: the last (headroom) */
  while (empty < 2048 && counts[2047 - empty] == 0) ++empty;
  cr_assert(empty > 0, "activation 0 fills all 2048 bins");
  counts[2047] = 1;
  Q8_EXPECT_ERROR(q8_calibration_set_histograms(c, counts, size), Q8_ERR_INVALID_ARGUMENT, "does not reach");
  counts[2047] = 0;
  const uint64_t old = counts[0];
  counts[0] = (UINT64_C(1) << 53) + 1;
  Q8_EXPECT_ERROR(q8_calibration_set_histograms(c, counts, size), Q8_ERR_INVALID_ARGUMENT, "exceeds 2^53");
  counts[0] = old;
  Q8_EXPECT_STATUS(q8_calibration_set_histograms(c, counts, size + 1), Q8_ERR_INVALID_ARGUMENT);
  blob after = calibration_bytes(c);
  expect_same(before, after, "after failed widen / set_histograms");
  /* Setting the same counts back is a no-op; widening with its own ranges too. */
  Q8_OK_OR_FAIL(q8_calibration_set_histograms(c, counts, size));
  Q8_OK_OR_FAIL(q8_calibration_widen(c, lo, hi, acts));
  blob same = calibration_bytes(c);
  expect_same(before, same, "after no-op widen / set_histograms");
  Q8_EXPECT_STATUS(q8_calibration_save_bytes(c, NULL, &size), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_calibration_load_bytes(before.p, before.n, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_calibration_load_bytes(NULL, 5, &none), Q8_ERR_INVALID_ARGUMENT);
  q8_model *q = NULL;
  Q8_EXPECT_STATUS(q8_model_quantize_calibrated(m, &o, NULL, &q), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_quantize_calibrated(m, &o, c, NULL), Q8_ERR_INVALID_ARGUMENT);
  q8_calibration_destroy(NULL);
  free(lo), free(hi), free(counts), q8_free(before.p), q8_free(after.p), q8_free(same.p);
  q8_calibration_destroy(c);
  free_batches(&bs);
  q8_model_destroy(m);
}

/* A calibration merged with itself counts its data twice, which for min-max changes nothing. */
Test(calibration, merging_with_itself) {
  q8_model *m = load_bundled("mlp");
  batch_set bs;
  make_batches(m, 4, &bs);
  const q8_tensor *twice[8];
  for (size_t i = 0; i < 8; ++i) twice[i] = bs.t[i % 4];
  for (int k = 0; k < 2; ++k) {
    const q8_ptq_options o = options(k ? Q8_OBSERVER_ENTROPY : Q8_OBSERVER_MINMAX, Q8_SCHEME_ASYMMETRIC_U8);
    q8_calibration *c = NULL, *d = NULL;
    Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)bs.t, 4, &c));
    Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, twice, 8, &d));
    Q8_OK_OR_FAIL(q8_calibration_merge(c, c));
    blob a = calibration_bytes(c), b = calibration_bytes(d);
    expect_same(a, b, "merged with itself vs every batch twice");
    q8_free(a.p), q8_free(b.p);
    q8_calibration_destroy(c);
    q8_calibration_destroy(d);
  }
  free_batches(&bs);
  q8_model_destroy(m);
}

/* The fuzzer's seeds (fuzz/corpus/calibration) are calibrations of digits_tiny_cnn on its first
 * two batches of 64 train rows, one per kind: the library must still make exactly those bytes
 * (the format and the numbers are stable), and load and quantize from them. When the numbers
 * change on purpose (the FP32 runtime's summation order did once), run this suite with
 * Q8_CALIBRATION_REGENERATE=1 to rewrite the seeds, and say why in the commit. */
static const struct {
  const char *file;
  q8_observer_kind kind;
  q8_scheme scheme;
} kSeeds[] = {{"minmax", Q8_OBSERVER_MINMAX, Q8_SCHEME_ASYMMETRIC_U8},
              {"moving_average", Q8_OBSERVER_MOVING_AVERAGE_MINMAX, Q8_SCHEME_ASYMMETRIC_U8},
              {"percentile", Q8_OBSERVER_PERCENTILE, Q8_SCHEME_ASYMMETRIC_U8},
              {"entropy_symmetric", Q8_OBSERVER_ENTROPY, Q8_SCHEME_SYMMETRIC},
              {"mse_s8", Q8_OBSERVER_MSE, Q8_SCHEME_ASYMMETRIC_S8}};

Test(calibration, fuzz_seeds_are_what_the_library_makes) {
  const char *corpus = getenv("Q8_CALIBRATION_CORPUS");
  cr_assert(corpus != NULL, "Q8_CALIBRATION_CORPUS is not set");
  load_digits();
  q8_model *m = load_bundled("tiny_cnn");
  q8_tensor *t[2];
  size_t n = 0;
  DIGITS_OR_FAIL(digits_batches(m, &g_train, 2, t, &n));
  cr_assert_eq(n, 2);
  for (size_t i = 0; i < sizeof kSeeds / sizeof kSeeds[0]; ++i) {
    const q8_ptq_options o = options(kSeeds[i].kind, kSeeds[i].scheme);
    q8_calibration *c = NULL, *back = NULL;
    Q8_OK_OR_FAIL(q8_model_calibrate(m, &o, (const q8_tensor *const *)t, n, &c));
    blob made = calibration_bytes(c);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", corpus, kSeeds[i].file);
    if (getenv("Q8_CALIBRATION_REGENERATE")) {
      FILE *f = fopen(path, "wb");
      cr_assert(f != NULL && fwrite(made.p, 1, made.n, f) == made.n && fclose(f) == 0, "cannot write %s", path);
    }
    blob seed = read_whole(path);
    expect_same(seed, made, kSeeds[i].file);
    Q8_OK_OR_FAIL(q8_calibration_load_bytes(seed.p, seed.n, &back));
    q8_model *q = NULL;
    Q8_OK_OR_FAIL(q8_model_quantize_calibrated(m, &o, back, &q));
    q8_model_destroy(q);
    q8_calibration_destroy(back);
    q8_calibration_destroy(c);
    free(seed.p);
    q8_free(made.p);
  }
  for (size_t i = 0; i < n; ++i) q8_tensor_destroy(t[i]);
  q8_model_destroy(m);
}
