/* Pruning through the public API: every pattern checked against a brute-force reference written
 * from prune.h (sort (score, position), prune the first round(sparsity * count)), ties, edge sizes,
 * global pruning, apply on f32 and quantized weights, mask algebra, sparsity, the cubic schedule,
 * and every kind of bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(prune);

/* ---- helpers ------------------------------------------------------------------------------ */

static size_t numel_of(const int64_t *shape, size_t rank) {
  size_t n = 1;
  for (size_t i = 0; i < rank; ++i) n *= (size_t)shape[i];
  return n;
}

static q8_tensor *f32_from(const float *x, const int64_t *shape, size_t rank) {
  q8_tensor *t = make_tensor(Q8_DTYPE_F32, shape, rank);
  const size_t n = numel_of(shape, rank);
  if (n) memcpy(tensor_data(t), x, n * sizeof *x);
  return t;
}

static q8_tensor *u8_from(const uint8_t *x, const int64_t *shape, size_t rank) {
  q8_tensor *t = make_tensor(Q8_DTYPE_U8, shape, rank);
  const size_t n = numel_of(shape, rank);
  if (n) memcpy(tensor_data(t), x, n);
  return t;
}

/* N(0, 1) weights; `coarse` rounds them to multiples of 0.5, so there are many ties (and -0.0). */
static float *random_weights(size_t n, uint64_t seed, int coarse) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  cr_assert_not_null(x);
  test_rng r;
  rng_seed(&r, seed);
  for (size_t i = 0; i < n; ++i) {
    const float v = (float)rng_normal(&r);
    x[i] = coarse ? roundf(v * 2.0f) / 2.0f : v;
  }
  return x;
}

static q8_prune_options options(q8_prune_pattern pattern, double sparsity) {
  q8_prune_options o;
  Q8_OK_OR_FAIL(q8_prune_options_init(&o));
  o.pattern = pattern;
  o.sparsity = sparsity;
  return o;
}

/* A mask must be u8 of the weights' shape, without quantization parameters, holding 0s and 1s. */
static void check_mask_form(const q8_tensor *mask, const q8_tensor *like) {
  q8_dtype dt;
  size_t rank, like_rank, count = 99;
  int64_t shape[8], like_shape[8];
  Q8_OK_OR_FAIL(q8_tensor_dtype(mask, &dt));
  cr_assert_eq(dt, Q8_DTYPE_U8);
  Q8_OK_OR_FAIL(q8_tensor_rank(mask, &rank));
  Q8_OK_OR_FAIL(q8_tensor_rank(like, &like_rank));
  cr_assert_eq(rank, like_rank);
  Q8_OK_OR_FAIL(q8_tensor_shape(mask, shape, 8));
  Q8_OK_OR_FAIL(q8_tensor_shape(like, like_shape, 8));
  for (size_t i = 0; i < rank; ++i) cr_assert_eq(shape[i], like_shape[i]);
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(mask, NULL, &count));
  cr_assert_eq(count, 0);
  const size_t n = numel_of(shape, rank);
  const uint8_t *m = n ? tensor_data(mask) : NULL;
  for (size_t i = 0; i < n; ++i) cr_assert(m[i] <= 1, "mask[%zu] = %u", i, m[i]);
}

static q8_tensor *mask_of(const q8_tensor *w, const q8_prune_options *o) {
  q8_tensor *m = NULL;
  Q8_OK_OR_FAIL(q8_prune_mask(w, o, &m));
  cr_assert_not_null(m);
  check_mask_form(m, w);
  return m;
}

static size_t count_zeros(const uint8_t *m, size_t n) {
  size_t z = 0;
  for (size_t i = 0; i < n; ++i) z += m[i] == 0;
  return z;
}

/* ---- the reference: sort (score, position), the first k are pruned ------------------------- */

typedef struct {
  double score;
  size_t pos;
} scored;

static int cmp_scored(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* keep[i] = 0 for the k lowest (score, i), else 1. */
static void ref_select(const double *score, size_t count, size_t k, uint8_t *keep) {
  scored *s = malloc((count ? count : 1) * sizeof *s);
  cr_assert_not_null(s);
  for (size_t i = 0; i < count; ++i) s[i] = (scored){score[i], i};
  qsort(s, count, sizeof *s, cmp_scored);
  for (size_t i = 0; i < count; ++i) keep[s[i].pos] = i >= k;
  free(s);
}

static size_t ref_count(double sparsity, size_t n) { return (size_t)round(sparsity * (double)n); }

/* Block (br x bc of the rows x cols view) norms, summed row-major inside each block. */
static double *block_scores(const float *w, size_t rows, size_t cols, size_t br, size_t bc, int l1) {
  const size_t gc = cols / bc, count = rows / br * gc;
  double *s = malloc((count ? count : 1) * sizeof *s);
  cr_assert_not_null(s);
  for (size_t b = 0; b < count; ++b) {
    const size_t r0 = b / gc * br, c0 = b % gc * bc;
    double acc = 0;
    for (size_t r = r0; r < r0 + br; ++r)
      for (size_t c = c0; c < c0 + bc; ++c) {
        const double x = w[r * cols + c];
        acc += l1 ? fabs(x) : x * x;
      }
    s[b] = l1 ? acc : sqrt(acc);
  }
  return s;
}

/* Checks `mask` against the reference for blocks of br x bc pruned round(sparsity * blocks) by
 * norm (unstructured: 1 x 1 with L1; channel: 1 x cols): the exact count, every block uniform, the
 * same blocks as the reference, and every kept block scoring >= every pruned one. */
static void check_blocks(const float *w, const uint8_t *mask, size_t rows, size_t cols, size_t br,
                         size_t bc, int l1, double sparsity, const char *what) {
  const size_t gc = cols / bc, blocks = rows / br * gc;
  double *score = block_scores(w, rows, cols, br, bc, l1);
  uint8_t *keep = malloc(blocks ? blocks : 1);
  cr_assert_not_null(keep);
  const size_t k = ref_count(sparsity, blocks);
  ref_select(score, blocks, k, keep);
  double min_kept = INFINITY, max_pruned = -INFINITY;
  size_t pruned = 0;
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      const size_t b = r / br * gc + c / bc;
      cr_assert_eq(mask[r * cols + c], keep[b], "%s: element (%zu, %zu) of block %zu: %u, want %u", what, r,
                   c, b, mask[r * cols + c], keep[b]);
    }
  for (size_t b = 0; b < blocks; ++b) {
    if (keep[b]) min_kept = fmin(min_kept, score[b]);
    else max_pruned = fmax(max_pruned, score[b]), ++pruned;
  }
  cr_assert_eq(pruned, k, "%s: %zu blocks pruned, want %zu", what, pruned, k);
  cr_assert_eq(count_zeros(mask, rows * cols), k * br * bc, "%s: pruned element count", what);
  cr_assert(max_pruned <= min_kept, "%s: a pruned block scores %g > a kept one %g", what, max_pruned, min_kept);
  free(score);
  free(keep);
}

/* N:M reference: in each run of m, the m - n lowest (|w|, position) are pruned. */
static void check_nm(const float *w, const uint8_t *mask, size_t numel, int n, int m, const char *what) {
  double score[64];
  uint8_t keep[64];
  for (size_t g = 0; g < numel; g += (size_t)m) {
    for (int j = 0; j < m; ++j) score[j] = fabs((double)w[g + (size_t)j]);
    ref_select(score, (size_t)m, (size_t)(m - n), keep);
    size_t kept = 0;
    for (int j = 0; j < m; ++j) {
      cr_assert_eq(mask[g + (size_t)j], keep[j], "%s: element %zu", what, g + (size_t)j);
      kept += keep[j];
    }
    cr_assert_eq(kept, (size_t)n, "%s: group at %zu keeps %zu", what, g, kept);
  }
}

/* ---- options ------------------------------------------------------------------------------ */

Test(prune, options_init_sets_documented_defaults) {
  q8_prune_options o;
  memset(&o, 0xAB, sizeof o);
  Q8_OK_OR_FAIL(q8_prune_options_init(&o));
  cr_assert_eq(o.struct_size, sizeof o);
  cr_assert_eq(o.pattern, Q8_PRUNE_UNSTRUCTURED);
  cr_assert_eq(o.sparsity, 0.5);
  cr_assert_eq(o.n, 2);
  cr_assert_eq(o.m, 4);
  cr_assert_eq(o.block_rows, 4);
  cr_assert_eq(o.block_cols, 4);
  cr_assert_eq(o.norm, Q8_PRUNE_NORM_L2);
  Q8_EXPECT_STATUS(q8_prune_options_init(NULL), Q8_ERR_INVALID_ARGUMENT);
}

Test(prune, struct_size_exact_newer_and_bogus) {
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const int64_t shape[1] = {8};
  q8_tensor *w = f32_from(x, shape, 1);
  q8_tensor *m = NULL;
  /* A newer caller's larger struct: the fields this library knows are taken. */
  struct {
    q8_prune_options o;
    char future[32];
  } big;
  memset(&big, 0x5A, sizeof big);
  Q8_OK_OR_FAIL(q8_prune_options_init(&big.o));
  big.o.struct_size = sizeof big;
  big.o.sparsity = 0.25;
  Q8_OK_OR_FAIL(q8_prune_mask(w, &big.o, &m));
  cr_assert_eq(count_zeros(tensor_data(m), 8), 2);
  q8_tensor_destroy(m);
  /* Exactly the fields of this version (no tail padding) is enough. */
  q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  o.struct_size = offsetof(q8_prune_options, norm) + sizeof o.norm;
  m = NULL;
  Q8_OK_OR_FAIL(q8_prune_mask(w, &o, &m));
  q8_tensor_destroy(m);
  const size_t bogus[] = {0, 8, offsetof(q8_prune_options, norm), 4097, (size_t)-1};
  for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; ++i) {
    o.struct_size = bogus[i];
    m = NULL;
    Q8_EXPECT_ERROR(q8_prune_mask(w, &o, &m), Q8_ERR_INVALID_ARGUMENT, "struct_size");
    cr_assert_null(m);
    q8_tensor *ms[1] = {NULL};
    const q8_tensor *ws[1] = {w};
    Q8_EXPECT_ERROR(q8_prune_global_masks(ws, 1, &o, ms), Q8_ERR_INVALID_ARGUMENT, "struct_size");
    cr_assert_null(ms[0]);
  }
  q8_tensor_destroy(w);
}

/* ---- unstructured ------------------------------------------------------------------------- */

Test(prune, unstructured_exact_on_every_size_and_rank) {
  const int64_t shapes[][4] = {{1}, {7}, {63}, {64}, {65}, {1, 1}, {7, 9}, {3, 5, 7}, {64, 65}, {2, 3, 4, 5}, {4099}};
  const size_t ranks[] = {1, 1, 1, 1, 1, 2, 2, 3, 2, 4, 1};
  const double sparsities[] = {0.0, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.75, 0.9, 0.999, 1.0};
  for (size_t s = 0; s < sizeof ranks / sizeof ranks[0]; ++s)
    for (int coarse = 0; coarse < 2; ++coarse) {
      const size_t n = numel_of(shapes[s], ranks[s]);
      float *x = random_weights(n, 100 + s, coarse);
      q8_tensor *w = f32_from(x, shapes[s], ranks[s]);
      for (size_t p = 0; p < sizeof sparsities / sizeof sparsities[0]; ++p) {
        const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, sparsities[p]);
        q8_tensor *m = mask_of(w, &o);
        char what[64];
        snprintf(what, sizeof what, "shape %zu, coarse %d, sparsity %g", s, coarse, sparsities[p]);
        check_blocks(x, tensor_data(m), 1, n, 1, 1, 1, sparsities[p], what);
        q8_tensor_destroy(m);
      }
      q8_tensor_destroy(w);
      free(x);
    }
}

Test(prune, unstructured_count_rounds_half_away_from_zero) {
  /* 7 * 0.5 = 3.5 -> 4; 5 * 0.1 = 0.5 -> 1; 3 * 0.5 = 1.5 -> 2; 10 * 0.25 = 2.5 -> 3. */
  const size_t sizes[] = {7, 5, 3, 10};
  const double sparsities[] = {0.5, 0.1, 0.5, 0.25};
  const size_t want[] = {4, 1, 2, 3};
  for (size_t i = 0; i < 4; ++i) {
    float *x = random_weights(sizes[i], 7 + i, 0);
    const int64_t shape[1] = {(int64_t)sizes[i]};
    q8_tensor *w = f32_from(x, shape, 1);
    const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, sparsities[i]);
    q8_tensor *m = mask_of(w, &o);
    cr_assert_eq(count_zeros(tensor_data(m), sizes[i]), want[i], "size %zu sparsity %g", sizes[i], sparsities[i]);
    q8_tensor_destroy(m);
    q8_tensor_destroy(w);
    free(x);
  }
}

Test(prune, unstructured_magnitude_sign_and_infinity) {
  /* |w| ranks: -0.0 ties with 0.0 (first pruned first), -5 outranks 4, +-inf are the largest. */
  float x[8] = {-5.0f, 0.0f, 4.0f, -0.0f, INFINITY, -1.0f, -INFINITY, 1.0f};
  const int64_t shape[1] = {8};
  q8_tensor *w = f32_from(x, shape, 1);
  q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  q8_tensor *m = mask_of(w, &o);
  const uint8_t want[8] = {1, 0, 1, 0, 1, 0, 1, 0};
  cr_assert_arr_eq(tensor_data(m), want, 8);
  q8_tensor_destroy(m);
  o.sparsity = 0.875;
  m = mask_of(w, &o);
  const uint8_t want7[8] = {0, 0, 0, 0, 0, 0, 1, 0}; /* +inf and -inf tie: the later one is kept */
  cr_assert_arr_eq(tensor_data(m), want7, 8);
  q8_tensor_destroy(m);
  q8_tensor_destroy(w);
}

Test(prune, same_mask_for_wrapped_and_owned_weights_and_on_repeat) {
  const size_t n = 3000;
  float *x = random_weights(n, 5, 1);
  const int64_t shape[2] = {30, 100};
  q8_tensor *owned = f32_from(x, shape, 2), *wrapped = NULL;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, x, n * sizeof *x, &wrapped));
  const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.6);
  q8_tensor *a = mask_of(owned, &o), *b = mask_of(wrapped, &o), *c = mask_of(wrapped, &o);
  cr_assert_arr_eq(tensor_data(a), tensor_data(b), n);
  cr_assert_arr_eq(tensor_data(a), tensor_data(c), n);
  q8_tensor_destroy(a);
  q8_tensor_destroy(b);
  q8_tensor_destroy(c);
  q8_tensor_destroy(owned);
  q8_tensor_destroy(wrapped);
  free(x);
}

/* ---- ties: all-equal weights are pruned in storage order ---------------------------------- */

Test(prune, ties_go_in_storage_order_for_every_pattern) {
  enum { R = 8, C = 16 };
  float x[R * C];
  for (size_t i = 0; i < R * C; ++i) x[i] = i % 3 ? 0.75f : -0.75f; /* equal magnitudes, both signs */
  const int64_t shape[2] = {R, C};
  q8_tensor *w = f32_from(x, shape, 2);
  const uint8_t *m;

  q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.3); /* round(38.4) = 38 */
  q8_tensor *mask = mask_of(w, &o);
  m = tensor_data(mask);
  for (size_t i = 0; i < R * C; ++i) cr_assert_eq(m[i], i >= 38, "unstructured element %zu", i);
  q8_tensor_destroy(mask);

  o = options(Q8_PRUNE_N_M, 0.5);
  o.n = 3;
  o.m = 8;
  mask = mask_of(w, &o);
  m = tensor_data(mask);
  for (size_t i = 0; i < R * C; ++i) cr_assert_eq(m[i], i % 8 >= 5, "3:8 element %zu", i);
  q8_tensor_destroy(mask);

  o = options(Q8_PRUNE_BLOCK, 0.25); /* 2 x 4 blocks of 4 x 4: the first 2 in row-major block order */
  mask = mask_of(w, &o);
  m = tensor_data(mask);
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) cr_assert_eq(m[r * C + c], !(r < 4 && c < 8), "block element (%zu, %zu)", r, c);
  q8_tensor_destroy(mask);

  for (int l1 = 0; l1 < 2; ++l1) {
    o = options(Q8_PRUNE_CHANNEL, 0.375); /* 3 of 8 rows */
    o.norm = l1 ? Q8_PRUNE_NORM_L1 : Q8_PRUNE_NORM_L2;
    mask = mask_of(w, &o);
    m = tensor_data(mask);
    for (size_t i = 0; i < R * C; ++i) cr_assert_eq(m[i], i / C >= 3, "channel element %zu", i);
    q8_tensor_destroy(mask);
  }
  q8_tensor_destroy(w);
}

/* ---- N:M ---------------------------------------------------------------------------------- */

Test(prune, n_of_m_exact_per_group) {
  const int nm[][2] = {{2, 4}, {4, 8}, {1, 3}, {1, 1}, {3, 3}, {1, 2}, {5, 7}, {1, 64}, {63, 64}, {64, 64}, {16, 32}};
  for (size_t t = 0; t < sizeof nm / sizeof nm[0]; ++t)
    for (int coarse = 0; coarse < 2; ++coarse) {
      const int n = nm[t][0], mm = nm[t][1];
      const int64_t shape[2] = {9, 2 * mm};
      const size_t numel = 18 * (size_t)mm;
      float *x = random_weights(numel, 40 + t, coarse);
      q8_tensor *w = f32_from(x, shape, 2);
      q8_prune_options o = options(Q8_PRUNE_N_M, 0.9); /* sparsity is ignored */
      o.n = n;
      o.m = mm;
      q8_tensor *m = mask_of(w, &o);
      char what[48];
      snprintf(what, sizeof what, "%d:%d coarse %d", n, mm, coarse);
      check_nm(x, tensor_data(m), numel, n, mm, what);
      double s = -1;
      Q8_OK_OR_FAIL(q8_prune_sparsity(m, &s));
      cr_assert_float_eq(s, 1.0 - (double)n / mm, 1e-12, "%s: sparsity %g", what, s);
      q8_tensor_destroy(m);
      q8_tensor_destroy(w);
      free(x);
    }
}

Test(prune, n_of_m_on_rank_1_rank_3_and_edge_sizes) {
  /* Rank 1 is one row; rank 3 [a, b, c] has rows a and cols b * c. */
  const int64_t shapes[][3] = {{8}, {1}, {7}, {63}, {3, 2, 6}, {65, 4, 1}, {2, 1, 64}};
  const size_t ranks[] = {1, 1, 1, 1, 3, 3, 3};
  const int nm[][2] = {{2, 4}, {1, 1}, {3, 7}, {20, 63}, {1, 3}, {2, 4}, {4, 8}};
  for (size_t t = 0; t < sizeof ranks / sizeof ranks[0]; ++t) {
    const size_t numel = numel_of(shapes[t], ranks[t]);
    float *x = random_weights(numel, 60 + t, 1);
    q8_tensor *w = f32_from(x, shapes[t], ranks[t]);
    q8_prune_options o = options(Q8_PRUNE_N_M, 0.5);
    o.n = nm[t][0];
    o.m = nm[t][1];
    q8_tensor *m = mask_of(w, &o);
    check_nm(x, tensor_data(m), numel, o.n, o.m, "edge shape");
    q8_tensor_destroy(m);
    q8_tensor_destroy(w);
    free(x);
  }
}

/* ---- blocks and channels ------------------------------------------------------------------ */

Test(prune, blocks_exact_for_every_shape_and_norm) {
  const int64_t blocks[][2] = {{1, 4}, {4, 4}, {8, 1}, {2, 8}, {1, 1}, {16, 32}};
  const double sparsities[] = {0.0, 0.3, 0.5, 0.77, 1.0};
  const int64_t shape[2] = {16, 32};
  for (int coarse = 0; coarse < 2; ++coarse) {
    float *x = random_weights(16 * 32, 80 + coarse, coarse);
    q8_tensor *w = f32_from(x, shape, 2);
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; ++b)
      for (int l1 = 0; l1 < 2; ++l1)
        for (size_t p = 0; p < sizeof sparsities / sizeof sparsities[0]; ++p) {
          q8_prune_options o = options(Q8_PRUNE_BLOCK, sparsities[p]);
          o.block_rows = blocks[b][0];
          o.block_cols = blocks[b][1];
          o.norm = l1 ? Q8_PRUNE_NORM_L1 : Q8_PRUNE_NORM_L2;
          q8_tensor *m = mask_of(w, &o);
          char what[80];
          snprintf(what, sizeof what, "block %lldx%lld %s sparsity %g coarse %d", (long long)blocks[b][0],
                   (long long)blocks[b][1], l1 ? "L1" : "L2", sparsities[p], coarse);
          check_blocks(x, tensor_data(m), 16, 32, (size_t)blocks[b][0], (size_t)blocks[b][1], l1, sparsities[p], what);
          q8_tensor_destroy(m);
        }
    q8_tensor_destroy(w);
    free(x);
  }
}

Test(prune, l1_and_l2_rank_blocks_differently) {
  /* Block 0 = {3, 0}: L1 3, L2 3. Block 1 = {2, 2}: L1 4, L2 2.83. Pruning one of two blocks. */
  float x[4] = {3, 0, 2, 2};
  const int64_t shape[2] = {1, 4};
  q8_tensor *w = f32_from(x, shape, 2);
  q8_prune_options o = options(Q8_PRUNE_BLOCK, 0.5);
  o.block_rows = 1;
  o.block_cols = 2;
  o.norm = Q8_PRUNE_NORM_L1;
  q8_tensor *m = mask_of(w, &o);
  const uint8_t want_l1[4] = {0, 0, 1, 1}, want_l2[4] = {1, 1, 0, 0};
  cr_assert_arr_eq(tensor_data(m), want_l1, 4);
  q8_tensor_destroy(m);
  o.norm = Q8_PRUNE_NORM_L2;
  m = mask_of(w, &o);
  cr_assert_arr_eq(tensor_data(m), want_l2, 4);
  q8_tensor_destroy(m);
  q8_tensor_destroy(w);
}

Test(prune, blocks_on_rank_1_and_rank_3) {
  /* Rank 1 [12]: one row, so block_rows must be 1. Rank 3 [4, 2, 6]: a 4 x 12 view. */
  float *x = random_weights(48, 90, 0);
  const int64_t s1[1] = {12}, s3[3] = {4, 2, 6};
  q8_tensor *w1 = f32_from(x, s1, 1), *w3 = f32_from(x, s3, 3);
  q8_prune_options o = options(Q8_PRUNE_BLOCK, 0.5);
  o.block_rows = 1;
  o.block_cols = 3;
  q8_tensor *m = mask_of(w1, &o);
  check_blocks(x, tensor_data(m), 1, 12, 1, 3, 0, 0.5, "rank 1");
  q8_tensor_destroy(m);
  o.block_rows = 2;
  o.block_cols = 4;
  m = mask_of(w3, &o);
  check_blocks(x, tensor_data(m), 4, 12, 2, 4, 0, 0.5, "rank 3");
  q8_tensor_destroy(m);
  q8_tensor_destroy(w1);
  q8_tensor_destroy(w3);
  free(x);
}

Test(prune, channels_of_an_oihw_convolution) {
  const int64_t shape[4] = {16, 3, 3, 3}; /* 16 filters of 27 */
  for (int coarse = 0; coarse < 2; ++coarse) {
    float *x = random_weights(16 * 27, 110 + coarse, coarse);
    for (size_t f = 0; f < 16; ++f) /* filters of different strengths */
      for (size_t i = 0; i < 27; ++i) x[f * 27 + i] *= (float)(1 + (f * 7) % 5);
    q8_tensor *w = f32_from(x, shape, 4);
    const double sparsities[] = {0.0, 0.25, 0.5, 0.6, 1.0};
    for (int l1 = 0; l1 < 2; ++l1)
      for (size_t p = 0; p < 5; ++p) {
        q8_prune_options o = options(Q8_PRUNE_CHANNEL, sparsities[p]);
        o.norm = l1 ? Q8_PRUNE_NORM_L1 : Q8_PRUNE_NORM_L2;
        q8_tensor *m = mask_of(w, &o);
        check_blocks(x, tensor_data(m), 16, 27, 1, 27, l1, sparsities[p], "OIHW channels");
        q8_tensor_destroy(m);
      }
    q8_tensor_destroy(w);
    free(x);
  }
}

Test(prune, channels_on_rank_1_and_rank_3) {
  float *x = random_weights(30, 120, 0);
  const int64_t s1[1] = {30}, s3[3] = {5, 3, 2};
  q8_tensor *w1 = f32_from(x, s1, 1), *w3 = f32_from(x, s3, 3);
  q8_prune_options o = options(Q8_PRUNE_CHANNEL, 0.5);
  q8_tensor *m = mask_of(w1, &o); /* one row: round(0.5) = 1, the whole tensor goes */
  cr_assert_eq(count_zeros(tensor_data(m), 30), 30);
  q8_tensor_destroy(m);
  o.sparsity = 0.49;
  m = mask_of(w1, &o);
  cr_assert_eq(count_zeros(tensor_data(m), 30), 0);
  q8_tensor_destroy(m);
  o.sparsity = 0.5; /* 5 rows: round(2.5) = 3 */
  m = mask_of(w3, &o);
  check_blocks(x, tensor_data(m), 5, 6, 1, 6, 0, 0.5, "rank 3 channels");
  cr_assert_eq(count_zeros(tensor_data(m), 30), 18);
  q8_tensor_destroy(m);
  q8_tensor_destroy(w1);
  q8_tensor_destroy(w3);
  free(x);
}

/* ---- sparsity 0 and 1, empty tensors ------------------------------------------------------ */

Test(prune, sparsity_0_keeps_all_and_1_prunes_all) {
  const q8_prune_pattern patterns[] = {Q8_PRUNE_UNSTRUCTURED, Q8_PRUNE_BLOCK, Q8_PRUNE_CHANNEL};
  float *x = random_weights(8 * 12, 130, 1);
  const int64_t shape[2] = {8, 12};
  q8_tensor *w = f32_from(x, shape, 2);
  for (size_t p = 0; p < 3; ++p)
    for (int one = 0; one < 2; ++one) {
      const q8_prune_options o = options(patterns[p], one ? 1.0 : 0.0);
      q8_tensor *m = mask_of(w, &o);
      cr_assert_eq(count_zeros(tensor_data(m), 96), one ? 96u : 0u, "pattern %zu sparsity %d", p, one);
      q8_tensor_destroy(m);
    }
  q8_tensor_destroy(w);
  free(x);
}

Test(prune, empty_tensors_give_empty_masks) {
  const int64_t shapes[][3] = {{0}, {0, 4}, {4, 0}, {2, 0, 8}, {0, 8, 2}};
  const size_t ranks[] = {1, 2, 2, 3, 3};
  const q8_prune_pattern patterns[] = {Q8_PRUNE_UNSTRUCTURED, Q8_PRUNE_N_M, Q8_PRUNE_BLOCK, Q8_PRUNE_CHANNEL};
  for (size_t s = 0; s < 5; ++s)
    for (size_t p = 0; p < 4; ++p) {
      q8_tensor *w = make_tensor(Q8_DTYPE_F32, shapes[s], ranks[s]);
      q8_prune_options o = options(patterns[p], 0.5);
      o.block_rows = 1; /* rank 1 is one row */
      q8_tensor *m = mask_of(w, &o);
      size_t n = 99;
      Q8_OK_OR_FAIL(q8_tensor_numel(m, &n));
      cr_assert_eq(n, 0);
      double sp = -1;
      Q8_OK_OR_FAIL(q8_prune_sparsity(m, &sp));
      cr_assert_eq(sp, 0.0);
      q8_tensor_destroy(m);
      q8_tensor_destroy(w);
    }
  /* The shape must still fit the pattern: cols 5 is not a multiple of m = 4 even with no rows. */
  const int64_t bad[2] = {0, 5};
  q8_tensor *w = make_tensor(Q8_DTYPE_F32, bad, 2), *m = NULL;
  const q8_prune_options o = options(Q8_PRUNE_N_M, 0.5);
  Q8_EXPECT_ERROR(q8_prune_mask(w, &o, &m), Q8_ERR_SHAPE, "cols");
  cr_assert_null(m);
  q8_tensor_destroy(w);
}

Test(prune, one_element) {
  const float x[1] = {-2.5f};
  const int64_t shape[1] = {1};
  q8_tensor *w = f32_from(x, shape, 1);
  const q8_prune_pattern patterns[] = {Q8_PRUNE_UNSTRUCTURED, Q8_PRUNE_BLOCK, Q8_PRUNE_CHANNEL};
  for (size_t p = 0; p < 3; ++p) {
    q8_prune_options o = options(patterns[p], 0.5); /* round(0.5) = 1 */
    o.block_rows = o.block_cols = 1;
    q8_tensor *m = mask_of(w, &o);
    cr_assert_eq(((uint8_t *)tensor_data(m))[0], 0);
    q8_tensor_destroy(m);
    o.sparsity = 0.4999;
    m = mask_of(w, &o);
    cr_assert_eq(((uint8_t *)tensor_data(m))[0], 1);
    q8_tensor_destroy(m);
  }
  q8_tensor_destroy(w);
}

/* ---- global ------------------------------------------------------------------------------- */

Test(prune, global_ranks_across_tensors) {
  /* Three layers of different sizes and scales: the small-scale layer loses most. */
  const int64_t s0[2] = {20, 30}, s1[1] = {65}, s2[3] = {3, 7, 5};
  const size_t n[3] = {600, 65, 105}, total = 770;
  const float scale[3] = {0.1f, 1.0f, 3.0f};
  float *all = malloc(total * sizeof *all);
  cr_assert_not_null(all);
  q8_tensor *ws[3];
  size_t off = 0;
  for (int t = 0; t < 3; ++t) {
    float *x = random_weights(n[t], 140 + (uint64_t)t, t == 1);
    for (size_t i = 0; i < n[t]; ++i) all[off + i] = x[i] * scale[t];
    ws[t] = f32_from(all + off, t == 0 ? s0 : t == 1 ? s1 : s2, t == 0 ? 2 : t == 1 ? 1 : 3);
    off += n[t];
    free(x);
  }
  const double sparsities[] = {0.0, 0.3, 0.5, 0.8, 1.0};
  for (size_t p = 0; p < 5; ++p) {
    const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, sparsities[p]);
    q8_tensor *ms[3] = {NULL, NULL, NULL};
    Q8_OK_OR_FAIL(q8_prune_global_masks((const q8_tensor *const *)ws, 3, &o, ms));
    uint8_t *joined = malloc(total);
    cr_assert_not_null(joined);
    double per[3];
    off = 0;
    for (int t = 0; t < 3; ++t) {
      check_mask_form(ms[t], ws[t]);
      memcpy(joined + off, tensor_data(ms[t]), n[t]);
      Q8_OK_OR_FAIL(q8_prune_sparsity(ms[t], &per[t]));
      off += n[t];
    }
    check_blocks(all, joined, 1, total, 1, 1, 1, sparsities[p], "global");
    if (sparsities[p] > 0.0 && sparsities[p] < 1.0) {
      cr_assert(per[0] > per[1] && per[1] > per[2], "per-layer sparsities %g %g %g", per[0], per[1], per[2]);
      /* The largest weight overall (in the 3.0-scale layer) is kept. */
      size_t big = 0;
      for (size_t i = 1; i < total; ++i)
        if (fabsf(all[i]) > fabsf(all[big])) big = i;
      cr_assert(big >= 665 && joined[big] == 1);
    }
    for (int t = 0; t < 3; ++t) q8_tensor_destroy(ms[t]);
    free(joined);
  }
  for (int t = 0; t < 3; ++t) q8_tensor_destroy(ws[t]);
  free(all);
}

Test(prune, global_ties_go_by_tensor_then_position) {
  float a[3] = {1, 1, 1}, b[4] = {-1, 1, -1, 1};
  const int64_t sa[1] = {3}, sb[2] = {2, 2};
  const q8_tensor *ws[2] = {f32_from(a, sa, 1), f32_from(b, sb, 2)};
  const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 5.0 / 7.0);
  q8_tensor *ms[2] = {NULL, NULL};
  Q8_OK_OR_FAIL(q8_prune_global_masks(ws, 2, &o, ms));
  const uint8_t want_a[3] = {0, 0, 0}, want_b[4] = {0, 0, 1, 1};
  cr_assert_arr_eq(tensor_data(ms[0]), want_a, 3);
  cr_assert_arr_eq(tensor_data(ms[1]), want_b, 4);
  for (int t = 0; t < 2; ++t) {
    q8_tensor_destroy(ms[t]);
    q8_tensor_destroy((q8_tensor *)ws[t]);
  }
}

Test(prune, global_with_empty_and_single_tensors) {
  float x[7] = {3, -1, 4, -1, 5, -9, 2};
  const int64_t s0[2] = {0, 3}, s1[1] = {7};
  const q8_tensor *ws[2] = {make_tensor(Q8_DTYPE_F32, s0, 2), f32_from(x, s1, 1)};
  const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  q8_tensor *ms[2] = {NULL, NULL};
  Q8_OK_OR_FAIL(q8_prune_global_masks(ws, 2, &o, ms));
  size_t n0 = 99;
  Q8_OK_OR_FAIL(q8_tensor_numel(ms[0], &n0));
  cr_assert_eq(n0, 0);
  const uint8_t want[7] = {0, 0, 1, 0, 1, 1, 0}; /* round(3.5) = 4 pruned: -1, -1, 2, 3 */
  cr_assert_arr_eq(tensor_data(ms[1]), want, 7);
  for (int t = 0; t < 2; ++t) {
    q8_tensor_destroy(ms[t]);
    q8_tensor_destroy((q8_tensor *)ws[t]);
  }
  /* No tensors at all: nothing to do, and the arrays are not read. */
  Q8_OK_OR_FAIL(q8_prune_global_masks(NULL, 0, &o, NULL));
}

Test(prune, global_bad_input_writes_no_mask) {
  float x[4] = {1, 2, 3, 4}, nan_x[4] = {1, NAN, 3, 4};
  const int64_t shape[1] = {4};
  q8_tensor *good = f32_from(x, shape, 1), *bad = f32_from(nan_x, shape, 1);
  q8_tensor *u8 = make_tensor(Q8_DTYPE_U8, shape, 1), *scalar = make_tensor(Q8_DTYPE_F32, NULL, 0);
  q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  q8_tensor *ms[3] = {NULL, NULL, NULL};
  const q8_tensor *with_null[3] = {good, good, NULL};
  const q8_tensor *with_u8[3] = {good, u8, good};
  const q8_tensor *with_nan[3] = {good, good, bad};
  const q8_tensor *with_scalar[3] = {good, scalar, good};
  const q8_tensor *fine[3] = {good, good, good};
  Q8_EXPECT_ERROR(q8_prune_global_masks(NULL, 3, &o, ms), Q8_ERR_INVALID_ARGUMENT, "weights");
  Q8_EXPECT_ERROR(q8_prune_global_masks(fine, 3, NULL, ms), Q8_ERR_INVALID_ARGUMENT, "options");
  Q8_EXPECT_ERROR(q8_prune_global_masks(fine, 3, &o, NULL), Q8_ERR_INVALID_ARGUMENT, "masks");
  Q8_EXPECT_ERROR(q8_prune_global_masks(with_null, 3, &o, ms), Q8_ERR_INVALID_ARGUMENT, "weights[2]");
  Q8_EXPECT_ERROR(q8_prune_global_masks(with_u8, 3, &o, ms), Q8_ERR_DTYPE, "weights[1]");
  Q8_EXPECT_ERROR(q8_prune_global_masks(with_nan, 3, &o, ms), Q8_ERR_INVALID_ARGUMENT, "weights[2]");
  cr_assert(strstr(q8_last_error(), "NaN") != NULL, "%s", q8_last_error());
  Q8_EXPECT_ERROR(q8_prune_global_masks(with_scalar, 3, &o, ms), Q8_ERR_SHAPE, "weights[1]");
  const q8_prune_pattern structured[] = {Q8_PRUNE_N_M, Q8_PRUNE_BLOCK, Q8_PRUNE_CHANNEL};
  for (int p = 0; p < 3; ++p) {
    o = options(structured[p], 0.5);
    o.block_rows = o.block_cols = 1;
    Q8_EXPECT_ERROR(q8_prune_global_masks(fine, 3, &o, ms), Q8_ERR_UNSUPPORTED, "UNSTRUCTURED");
  }
  o = options(Q8_PRUNE_UNSTRUCTURED, 1.5);
  Q8_EXPECT_ERROR(q8_prune_global_masks(fine, 3, &o, ms), Q8_ERR_INVALID_ARGUMENT, "sparsity");
  o = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  o.pattern = (q8_prune_pattern)99;
  Q8_EXPECT_ERROR(q8_prune_global_masks(fine, 3, &o, ms), Q8_ERR_INVALID_ARGUMENT, "pattern");
  for (int t = 0; t < 3; ++t) cr_assert_null(ms[t], "masks[%d] written on failure", t);
  q8_tensor_destroy(good);
  q8_tensor_destroy(bad);
  q8_tensor_destroy(u8);
  q8_tensor_destroy(scalar);
}

/* ---- apply -------------------------------------------------------------------------------- */

static const uint8_t kMask12[12] = {1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1};

Test(prune, apply_f32_zeroes_pruned_elements) {
  float x[12];
  for (int i = 0; i < 12; ++i) x[i] = (float)(i + 1) * (i % 2 ? -1.0f : 1.0f);
  const int64_t shape[2] = {3, 4};
  q8_tensor *w = f32_from(x, shape, 2), *m = u8_from(kMask12, shape, 2);
  Q8_OK_OR_FAIL(q8_prune_apply(w, m));
  const float *y = tensor_data(w);
  for (int i = 0; i < 12; ++i) {
    if (kMask12[i]) cr_assert_eq(y[i], x[i]);
    else cr_assert(y[i] == 0.0f && !signbit(y[i]), "element %d = %g", i, y[i]);
  }
  double s;
  Q8_OK_OR_FAIL(q8_prune_sparsity(w, &s));
  cr_assert_float_eq(s, 5.0 / 12.0, 1e-12);
  q8_tensor_destroy(w);
  q8_tensor_destroy(m);
}

Test(prune, apply_mask_from_q8_prune_mask_gives_its_sparsity) {
  float *x = random_weights(64 * 65, 150, 0);
  const int64_t shape[2] = {64, 65};
  q8_tensor *w = f32_from(x, shape, 2);
  const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.7);
  q8_tensor *m = mask_of(w, &o);
  Q8_OK_OR_FAIL(q8_prune_apply(w, m));
  double sw, sm;
  Q8_OK_OR_FAIL(q8_prune_sparsity(w, &sw));
  Q8_OK_OR_FAIL(q8_prune_sparsity(m, &sm));
  cr_assert_float_eq(sm, round(0.7 * 64 * 65) / (64 * 65), 1e-12);
  cr_assert_eq(sw, sm);
  q8_tensor_destroy(m);
  q8_tensor_destroy(w);
  free(x);
}

Test(prune, apply_s8_per_tensor_sets_the_zero_point) {
  const int64_t shape[2] = {3, 4};
  q8_tensor *w = make_tensor(Q8_DTYPE_S8, shape, 2), *m = u8_from(kMask12, shape, 2);
  int8_t *q = tensor_data(w);
  for (int i = 0; i < 12; ++i) q[i] = (int8_t)(10 * i - 60);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(w, 0.5f, -3));
  Q8_OK_OR_FAIL(q8_prune_apply(w, m));
  for (int i = 0; i < 12; ++i) cr_assert_eq(q[i], kMask12[i] ? 10 * i - 60 : -3, "element %d", i);
  double s;
  Q8_OK_OR_FAIL(q8_prune_sparsity(w, &s));
  cr_assert_float_eq(s, 5.0 / 12.0, 1e-12);
  /* Without quantization parameters, real zero is 0. */
  Q8_OK_OR_FAIL(q8_tensor_clear_qparams(w));
  for (int i = 0; i < 12; ++i) q[i] = 7;
  Q8_OK_OR_FAIL(q8_prune_apply(w, m));
  for (int i = 0; i < 12; ++i) cr_assert_eq(q[i], kMask12[i] ? 7 : 0, "element %d", i);
  q8_tensor_destroy(w);
  q8_tensor_destroy(m);
}

Test(prune, apply_u8_per_axis_sets_each_zero_point) {
  /* Axis 1 of [3, 4]: the zero point follows the column; axis 0: the row. */
  const int64_t shape[2] = {3, 4};
  q8_tensor *w = make_tensor(Q8_DTYPE_U8, shape, 2), *m = u8_from(kMask12, shape, 2);
  uint8_t *q = tensor_data(w);
  const float sc[4] = {1, 1, 1, 1};
  const int32_t zp_cols[4] = {10, 20, 30, 255}, zp_rows[3] = {0, 128, 77};
  memset(q, 200, 12);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(w, 1, sc, zp_cols, 4));
  Q8_OK_OR_FAIL(q8_prune_apply(w, m));
  for (int i = 0; i < 12; ++i) cr_assert_eq(q[i], kMask12[i] ? 200 : zp_cols[i % 4], "axis 1 element %d", i);
  double s;
  Q8_OK_OR_FAIL(q8_prune_sparsity(w, &s));
  cr_assert_float_eq(s, 5.0 / 12.0, 1e-12);
  memset(q, 200, 12);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(w, 0, sc, zp_rows, 3));
  Q8_OK_OR_FAIL(q8_prune_apply(w, m));
  for (int i = 0; i < 12; ++i) cr_assert_eq(q[i], kMask12[i] ? 200 : zp_rows[i / 4], "axis 0 element %d", i);
  q8_tensor_destroy(w);
  q8_tensor_destroy(m);
  /* A middle axis of a rank-3 tensor: [2, 3, 2], axis 1. */
  const int64_t s3[3] = {2, 3, 2};
  w = make_tensor(Q8_DTYPE_U8, s3, 3);
  m = u8_from(kMask12, s3, 3);
  q = tensor_data(w);
  memset(q, 9, 12);
  const int32_t zp3[3] = {1, 2, 3};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(w, 1, sc, zp3, 3));
  Q8_OK_OR_FAIL(q8_prune_apply(w, m));
  for (int i = 0; i < 12; ++i) cr_assert_eq(q[i], kMask12[i] ? 9 : zp3[(i / 2) % 3], "rank 3 element %d", i);
  q8_tensor_destroy(w);
  q8_tensor_destroy(m);
}

Test(prune, apply_bad_input_changes_nothing) {
  const int64_t shape[2] = {3, 4}, other[2] = {4, 3}, flat[1] = {12};
  float x[12];
  for (int i = 0; i < 12; ++i) x[i] = (float)i + 1.0f;
  q8_tensor *w = f32_from(x, shape, 2), *m = u8_from(kMask12, shape, 2);
  q8_tensor *m_other = u8_from(kMask12, other, 2), *m_flat = u8_from(kMask12, flat, 1);
  q8_tensor *m_f32 = make_tensor(Q8_DTYPE_F32, shape, 2), *s32 = make_tensor(Q8_DTYPE_S32, shape, 2);
  uint8_t bad_bits[12];
  memcpy(bad_bits, kMask12, 12);
  bad_bits[11] = 2;
  q8_tensor *m_bad = u8_from(bad_bits, shape, 2);
  Q8_EXPECT_ERROR(q8_prune_apply(NULL, m), Q8_ERR_INVALID_ARGUMENT, "weights");
  Q8_EXPECT_ERROR(q8_prune_apply(w, NULL), Q8_ERR_INVALID_ARGUMENT, "mask");
  Q8_EXPECT_ERROR(q8_prune_apply(s32, m), Q8_ERR_DTYPE, "s32");
  Q8_EXPECT_ERROR(q8_prune_apply(w, m_f32), Q8_ERR_DTYPE, "mask");
  Q8_EXPECT_ERROR(q8_prune_apply(w, m_other), Q8_ERR_SHAPE, "shape");
  Q8_EXPECT_ERROR(q8_prune_apply(w, m_flat), Q8_ERR_SHAPE, "shape");
  Q8_EXPECT_ERROR(q8_prune_apply(w, m_bad), Q8_ERR_INVALID_ARGUMENT, "element 11");
  cr_assert_arr_eq(tensor_data(w), x, sizeof x, "weights changed by a failing call");
  q8_tensor_destroy(w);
  q8_tensor_destroy(m);
  q8_tensor_destroy(m_other);
  q8_tensor_destroy(m_flat);
  q8_tensor_destroy(m_f32);
  q8_tensor_destroy(s32);
  q8_tensor_destroy(m_bad);
}

/* ---- and / or ----------------------------------------------------------------------------- */

Test(prune, and_or_truth_tables) {
  const uint8_t a[4] = {0, 0, 1, 1}, b[4] = {0, 1, 0, 1};
  const uint8_t want_and[4] = {0, 0, 0, 1}, want_or[4] = {0, 1, 1, 1};
  const int64_t shape[2] = {2, 2};
  q8_tensor *d = u8_from(a, shape, 2), *s = u8_from(b, shape, 2);
  Q8_OK_OR_FAIL(q8_prune_mask_and(d, s));
  cr_assert_arr_eq(tensor_data(d), want_and, 4);
  cr_assert_arr_eq(tensor_data(s), b, 4, "src changed");
  memcpy(tensor_data(d), a, 4);
  Q8_OK_OR_FAIL(q8_prune_mask_or(d, s));
  cr_assert_arr_eq(tensor_data(d), want_or, 4);
  /* With itself: unchanged. */
  Q8_OK_OR_FAIL(q8_prune_mask_and(d, d));
  Q8_OK_OR_FAIL(q8_prune_mask_or(d, d));
  cr_assert_arr_eq(tensor_data(d), want_or, 4);
  q8_tensor_destroy(d);
  q8_tensor_destroy(s);
  /* Empty masks. */
  const int64_t empty[2] = {0, 3};
  d = make_tensor(Q8_DTYPE_U8, empty, 2);
  s = make_tensor(Q8_DTYPE_U8, empty, 2);
  Q8_OK_OR_FAIL(q8_prune_mask_and(d, s));
  Q8_OK_OR_FAIL(q8_prune_mask_or(d, s));
  q8_tensor_destroy(d);
  q8_tensor_destroy(s);
}

Test(prune, and_of_two_patterns_keeps_what_both_keep) {
  float *x = random_weights(8 * 16, 160, 0);
  const int64_t shape[2] = {8, 16};
  q8_tensor *w = f32_from(x, shape, 2);
  q8_prune_options o = options(Q8_PRUNE_N_M, 0.5);
  q8_tensor *nm = mask_of(w, &o);
  o = options(Q8_PRUNE_CHANNEL, 0.25);
  q8_tensor *ch = mask_of(w, &o), *both = NULL;
  Q8_OK_OR_FAIL(q8_tensor_clone(nm, &both));
  Q8_OK_OR_FAIL(q8_prune_mask_and(both, ch));
  const uint8_t *a = tensor_data(nm), *b = tensor_data(ch), *c = tensor_data(both);
  for (size_t i = 0; i < 128; ++i) cr_assert_eq(c[i], a[i] && b[i]);
  Q8_OK_OR_FAIL(q8_prune_mask_or(both, ch));
  for (size_t i = 0; i < 128; ++i) cr_assert_eq(c[i], b[i]);
  q8_tensor_destroy(both);
  q8_tensor_destroy(nm);
  q8_tensor_destroy(ch);
  q8_tensor_destroy(w);
  free(x);
}

Test(prune, and_or_bad_input_changes_nothing) {
  const uint8_t a[4] = {0, 1, 0, 1}, bad_bits[4] = {0, 1, 255, 1};
  const int64_t shape[2] = {2, 2}, other[1] = {4};
  q8_tensor *d = u8_from(a, shape, 2), *s = u8_from(a, shape, 2), *s_other = u8_from(a, other, 1);
  q8_tensor *s_bad = u8_from(bad_bits, shape, 2), *d_bad = u8_from(bad_bits, shape, 2);
  q8_tensor *s_s8 = make_tensor(Q8_DTYPE_S8, shape, 2), *s_f32 = make_tensor(Q8_DTYPE_F32, shape, 2);
  q8_status (*const ops[2])(q8_tensor *, const q8_tensor *) = {q8_prune_mask_and, q8_prune_mask_or};
  for (int k = 0; k < 2; ++k) {
    Q8_EXPECT_ERROR(ops[k](NULL, s), Q8_ERR_INVALID_ARGUMENT, "dst");
    Q8_EXPECT_ERROR(ops[k](d, NULL), Q8_ERR_INVALID_ARGUMENT, "src");
    Q8_EXPECT_ERROR(ops[k](d, s_other), Q8_ERR_SHAPE, "shape");
    Q8_EXPECT_ERROR(ops[k](d, s_bad), Q8_ERR_INVALID_ARGUMENT, "src");
    Q8_EXPECT_ERROR(ops[k](d_bad, s), Q8_ERR_INVALID_ARGUMENT, "dst");
    Q8_EXPECT_ERROR(ops[k](d, s_s8), Q8_ERR_DTYPE, "s8");
    Q8_EXPECT_ERROR(ops[k](s_f32, s), Q8_ERR_DTYPE, "f32");
    cr_assert_arr_eq(tensor_data(d), a, 4, "dst changed by a failing call");
  }
  q8_tensor_destroy(d);
  q8_tensor_destroy(s);
  q8_tensor_destroy(s_other);
  q8_tensor_destroy(s_bad);
  q8_tensor_destroy(d_bad);
  q8_tensor_destroy(s_s8);
  q8_tensor_destroy(s_f32);
}

/* ---- q8_prune_sparsity -------------------------------------------------------------------- */

Test(prune, sparsity_on_every_kind_of_tensor) {
  double s;
  const int64_t s5[1] = {5}, s4[2] = {2, 2};
  const float f[5] = {0.0f, -0.0f, 1.0f, NAN, 0.0f}; /* NaN is not zero */
  q8_tensor *t = f32_from(f, s5, 1);
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_float_eq(s, 3.0 / 5.0, 1e-12);
  q8_tensor_destroy(t);

  t = make_tensor(Q8_DTYPE_S8, s4, 2); /* s8 without parameters: == 0 */
  int8_t *q = tensor_data(t);
  q[0] = 0, q[1] = 1, q[2] = 0, q[3] = -1;
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_float_eq(s, 0.5, 1e-12);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(t, 1.0f, -1)); /* per tensor: == -1 */
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_float_eq(s, 0.25, 1e-12);
  q8_tensor_destroy(t);

  t = make_tensor(Q8_DTYPE_U8, s4, 2); /* u8 per axis 1, zero points {5, 6}: data {5, 5, 6, 6} */
  uint8_t *u = tensor_data(t);
  u[0] = 5, u[1] = 5, u[2] = 6, u[3] = 6;
  const float sc[2] = {1, 1};
  const int32_t zp[2] = {5, 6};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 1, sc, zp, 2));
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_float_eq(s, 0.5, 1e-12);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 0, sc, zp, 2));
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_float_eq(s, 1.0, 1e-12);
  Q8_OK_OR_FAIL(q8_tensor_clear_qparams(t)); /* a plain u8 tensor (a mask): == 0 */
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_eq(s, 0.0);
  q8_tensor_destroy(t);

  t = make_tensor(Q8_DTYPE_S32, s5, 1);
  int32_t *i32 = tensor_data(t);
  i32[1] = 7, i32[3] = -7;
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_float_eq(s, 3.0 / 5.0, 1e-12);
  q8_tensor_destroy(t);

  t = make_tensor(Q8_DTYPE_F32, NULL, 0); /* rank 0: one element, 0 */
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_eq(s, 1.0);
  q8_tensor_destroy(t);

  const int64_t empty[2] = {3, 0};
  t = make_tensor(Q8_DTYPE_S8, empty, 2);
  s = -1;
  Q8_OK_OR_FAIL(q8_prune_sparsity(t, &s));
  cr_assert_eq(s, 0.0);
  s = -1;
  Q8_EXPECT_ERROR(q8_prune_sparsity(NULL, &s), Q8_ERR_INVALID_ARGUMENT, "tensor");
  Q8_EXPECT_ERROR(q8_prune_sparsity(t, NULL), Q8_ERR_INVALID_ARGUMENT, "sparsity");
  cr_assert_eq(s, -1.0, "output written on failure");
  q8_tensor_destroy(t);
}

/* ---- the cubic schedule ------------------------------------------------------------------- */

/* prune.h's formula, with the step rounded down to begin + a multiple of frequency. */
static double ref_cubic(double si, double sf, int64_t begin, int64_t end, int64_t freq, int64_t t) {
  if (t >= end) return sf;
  if (t <= begin) return si;
  const int64_t rounded = begin + (t - begin) / freq * freq;
  const double p = (double)(rounded - begin) / (double)(end - begin);
  return sf + (si - sf) * pow(1.0 - p, 3.0);
}

static double cubic(double si, double sf, int64_t begin, int64_t end, int64_t freq, int64_t t) {
  double s = -1;
  Q8_OK_OR_FAIL(q8_prune_schedule_cubic(si, sf, begin, end, freq, t, &s));
  return s;
}

Test(prune, schedule_cubic_values) {
  /* 0 -> 0.8 over steps 100..1100: the middle is 0.8 - 0.8 / 8 = 0.7. */
  cr_assert_eq(cubic(0.0, 0.8, 100, 1100, 1, 100), 0.0, "at begin");
  cr_assert_eq(cubic(0.0, 0.8, 100, 1100, 1, 1100), 0.8, "at end");
  cr_assert_float_eq(cubic(0.0, 0.8, 100, 1100, 1, 600), 0.7, 1e-12, "middle");
  cr_assert_eq(cubic(0.1, 0.8, 100, 1100, 1, 99), 0.1, "before");
  cr_assert_eq(cubic(0.1, 0.8, 100, 1100, 1, -5), 0.1, "negative step");
  cr_assert_eq(cubic(0.1, 0.8, 100, 1100, 1, 5000), 0.8, "after");
  cr_assert_eq(cubic(0.1, 0.8, 100, 1100, 1, INT64_MAX), 0.8, "far after");
  cr_assert_float_eq(cubic(0.2, 0.9, 0, 10, 1, 3), 0.9 - 0.7 * 0.343, 1e-12, "3 of 10");
  /* Frequency 100: step 650 uses 600, 1099 uses 1000; end is always reached. */
  cr_assert_float_eq(cubic(0.0, 0.8, 100, 1100, 100, 650), 0.7, 1e-12);
  cr_assert_float_eq(cubic(0.0, 0.8, 100, 1100, 100, 1099), 0.8 - 0.8 * 0.001, 1e-12);
  cr_assert_eq(cubic(0.0, 0.8, 100, 1100, 100, 199), 0.0);
  cr_assert_eq(cubic(0.0, 0.8, 100, 1050, 100, 1050), 0.8, "end off the frequency grid");
  cr_assert_eq(cubic(0.5, 0.5, 0, 10, 3, 4), 0.5, "initial == final");
  /* Against the formula over a whole run, for several frequencies; never decreasing. */
  const int64_t freqs[] = {1, 2, 7, 100, 1000, 5000};
  for (size_t f = 0; f < sizeof freqs / sizeof freqs[0]; ++f) {
    double prev = 0.05;
    for (int64_t t = -10; t <= 1200; ++t) {
      const double s = cubic(0.05, 0.95, 37, 1037, freqs[f], t);
      cr_assert_float_eq(s, ref_cubic(0.05, 0.95, 37, 1037, freqs[f], t), 1e-12, "freq %lld step %lld",
                         (long long)freqs[f], (long long)t);
      cr_assert(s >= prev && s >= 0.05 && s <= 0.95, "step %lld: %g after %g", (long long)t, s, prev);
      prev = s;
    }
  }
}

Test(prune, schedule_cubic_bad_input) {
  double s = -1;
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0, 0.5, 0, 10, 1, 5, NULL), Q8_ERR_INVALID_ARGUMENT, "sparsity");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(-0.1, 0.5, 0, 10, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "initial");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(NAN, 0.5, 0, 10, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "initial");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.0, 1.5, 0, 10, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "final");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.0, NAN, 0, 10, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "final");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.6, 0.5, 0, 10, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "final");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.0, 0.5, -1, 10, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "begin");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.0, 0.5, 10, 10, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "end");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.0, 0.5, 10, 3, 1, 5, &s), Q8_ERR_INVALID_ARGUMENT, "end");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.0, 0.5, 0, 10, 0, 5, &s), Q8_ERR_INVALID_ARGUMENT, "frequency");
  Q8_EXPECT_ERROR(q8_prune_schedule_cubic(0.0, 0.5, 0, 10, -3, 5, &s), Q8_ERR_INVALID_ARGUMENT, "frequency");
  cr_assert_eq(s, -1.0, "output written on failure");
}

/* ---- q8_prune_mask bad input -------------------------------------------------------------- */

static void expect_mask_error(const q8_tensor *w, q8_prune_options o, q8_status want, const char *needle) {
  q8_tensor *m = NULL;
  Q8_EXPECT_ERROR(q8_prune_mask(w, &o, &m), want, needle);
  cr_assert_null(m, "mask written on failure");
}

Test(prune, mask_bad_arguments_and_tensors) {
  float x[16];
  for (int i = 0; i < 16; ++i) x[i] = (float)i;
  const int64_t shape[2] = {4, 4};
  q8_tensor *w = f32_from(x, shape, 2), *m = NULL;
  const q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  Q8_EXPECT_ERROR(q8_prune_mask(NULL, &o, &m), Q8_ERR_INVALID_ARGUMENT, "weights");
  Q8_EXPECT_ERROR(q8_prune_mask(w, NULL, &m), Q8_ERR_INVALID_ARGUMENT, "options");
  Q8_EXPECT_ERROR(q8_prune_mask(w, &o, NULL), Q8_ERR_INVALID_ARGUMENT, "mask");
  cr_assert_null(m);
  const q8_dtype others[3] = {Q8_DTYPE_S8, Q8_DTYPE_U8, Q8_DTYPE_S32};
  for (int d = 0; d < 3; ++d) {
    q8_tensor *t = make_tensor(others[d], shape, 2);
    expect_mask_error(t, o, Q8_ERR_DTYPE, q8_dtype_name(others[d]));
    q8_tensor_destroy(t);
  }
  q8_tensor *scalar = make_tensor(Q8_DTYPE_F32, NULL, 0);
  expect_mask_error(scalar, o, Q8_ERR_SHAPE, "rank");
  q8_tensor_destroy(scalar);
  const q8_prune_pattern patterns[] = {Q8_PRUNE_UNSTRUCTURED, Q8_PRUNE_N_M, Q8_PRUNE_BLOCK, Q8_PRUNE_CHANNEL};
  for (int p = 0; p < 4; ++p) {
    x[13] = NAN;
    q8_tensor *nan_w = f32_from(x, shape, 2);
    expect_mask_error(nan_w, options(patterns[p], 0.5), Q8_ERR_INVALID_ARGUMENT, "NaN");
    cr_assert(strstr(q8_last_error(), "13") != NULL, "%s", q8_last_error());
    q8_tensor_destroy(nan_w);
  }
  q8_tensor_destroy(w);
}

Test(prune, mask_bad_options_name_the_field) {
  float *x = random_weights(8 * 12, 170, 0);
  const int64_t shape[2] = {8, 12};
  q8_tensor *w = f32_from(x, shape, 2);
  const q8_prune_options base = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  q8_prune_options o = base;
  const double bad_sparsity[] = {-0.01, 1.01, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < 5; ++i) {
    o = base;
    o.sparsity = bad_sparsity[i];
    expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "sparsity");
  }
  o = base;
  o.pattern = (q8_prune_pattern)99;
  expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "pattern");
  o.pattern = (q8_prune_pattern)-1;
  expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "pattern");
  o = base;
  o.norm = (q8_prune_norm)99;
  expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "norm");
  /* N:M: n > m, n < 1, m > 64, m < 1; each named. */
  const int32_t bad_nm[][2] = {{5, 4}, {0, 4}, {-1, 4}, {2, 65}, {1, 0}, {1, -4}};
  const char *field[] = {"n = ", "n = ", "n = ", "m = ", "m = ", "m = "};
  for (size_t i = 0; i < 6; ++i) {
    o = options(Q8_PRUNE_N_M, 0.5);
    o.n = bad_nm[i][0];
    o.m = bad_nm[i][1];
    expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, field[i]);
  }
  o = options(Q8_PRUNE_N_M, 0.5);
  o.m = 8; /* cols 12 is not a multiple of 8 */
  expect_mask_error(w, o, Q8_ERR_SHAPE, "cols");
  /* Blocks: not dividing rows or cols (Q8_ERR_SHAPE), or not >= 1. */
  o = options(Q8_PRUNE_BLOCK, 0.5);
  o.block_rows = 3;
  expect_mask_error(w, o, Q8_ERR_SHAPE, "rows");
  o.block_rows = 16;
  expect_mask_error(w, o, Q8_ERR_SHAPE, "rows");
  o.block_rows = 4;
  o.block_cols = 5;
  expect_mask_error(w, o, Q8_ERR_SHAPE, "cols");
  o.block_cols = 0;
  expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "block_cols");
  o.block_cols = 4;
  o.block_rows = -2;
  expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "block_rows");
  /* Every field is checked whatever the pattern, so a bad value never hides until a pattern change. */
  o = options(Q8_PRUNE_N_M, NAN);
  expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "sparsity");
  o = options(Q8_PRUNE_UNSTRUCTURED, 0.5);
  o.m = 100;
  expect_mask_error(w, o, Q8_ERR_INVALID_ARGUMENT, "m = 100");
  q8_tensor_destroy(w);
  free(x);
}

/* ---- size ----------------------------------------------------------------------------------- */

Test(prune, a_large_layer_is_exact) {
  /* 512 x 1024 with coarse values (massive ties): every pattern against the reference. */
  const size_t rows = 512, cols = 1024, n = rows * cols;
  float *x = random_weights(n, 180, 1);
  const int64_t shape[2] = {(int64_t)rows, (int64_t)cols};
  q8_tensor *w = f32_from(x, shape, 2);
  q8_prune_options o = options(Q8_PRUNE_UNSTRUCTURED, 0.63);
  q8_tensor *m = mask_of(w, &o);
  check_blocks(x, tensor_data(m), 1, n, 1, 1, 1, 0.63, "large unstructured");
  q8_tensor_destroy(m);
  o = options(Q8_PRUNE_N_M, 0.5);
  m = mask_of(w, &o);
  check_nm(x, tensor_data(m), n, 2, 4, "large 2:4");
  q8_tensor_destroy(m);
  o = options(Q8_PRUNE_BLOCK, 0.4);
  o.block_rows = 8;
  o.block_cols = 1;
  m = mask_of(w, &o);
  check_blocks(x, tensor_data(m), rows, cols, 8, 1, 0, 0.4, "large 8x1 blocks");
  q8_tensor_destroy(m);
  q8_tensor_destroy(w);
  free(x);
}
