/* Whole-model post-training quantization on the bundled digits models, through the public API:
 * every mode quantizes both models, keeps accuracy on the held-out split within bounds, shrinks
 * the weights, and survives a .q8 round trip bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "support.h"

/* Train rows (i % 4 != 0) calibrate, held-out rows (i % 4 == 0) measure. */
static digits_rows g_train, g_test;

static void load_digits(void) { digits_load_bundled(&g_train, &g_test); }

static q8_model *load_bundled(const char *name) {
  char rel[64];
  snprintf(rel, sizeof rel, "models/digits_%s.onnx", name);
  return load_fixture(rel);
}

/* Logits of the held-out rows into out[g_test.n * 10]. */
static void run_all(const q8_model *m, float *out) { DIGITS_OR_FAIL(digits_logits(m, g_test.x, g_test.n, out)); }

static double accuracy(const q8_model *m) {
  static float logits[DIGITS_MAX_ROWS * DIGITS_CLASSES];
  run_all(m, logits);
  return 100.0 * (double)digits_correct(logits, g_test.y, g_test.n) / (double)g_test.n;
}

static q8_model *quantize(const q8_model *m, q8_ptq_mode mode, int per_channel) {
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.mode = mode;
  o.per_channel = per_channel;
  q8_model *q = NULL;
  DIGITS_OR_FAIL(digits_quantize(m, &o, &g_train, 32, &q));
  return q;
}

static size_t weight_bytes(const q8_model *m) {
  size_t b = 0;
  Q8_OK_OR_FAIL(q8_model_weight_bytes(m, &b));
  return b;
}

/* Bounds: static per-channel within 0.5 points of FP32 (the target), the other modes
 * within 1.5 points; static weights at most 0.27x the FP32 bytes, dynamic/weight-only too. */
static void check_mode(const char *name, q8_ptq_mode mode, int per_channel, double max_drop) {
  load_digits();
  q8_model *m = load_bundled(name);
  q8_model *q = quantize(m, mode, per_channel);
  const double a32 = accuracy(m), a8 = accuracy(q);
  const double ratio = (double)weight_bytes(q) / (double)weight_bytes(m);
  cr_log_info("%s mode %d per_channel %d: fp32 %.2f%% int8 %.2f%% weights %.3fx", name, mode, per_channel, a32, a8, ratio);
  cr_expect(a32 - a8 <= max_drop, "%s mode %d: accuracy %.2f%% -> %.2f%%", name, mode, a32, a8);
  cr_expect(ratio <= 0.27, "%s mode %d: weights %.3fx of FP32", name, mode, ratio);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

Test(ptq, mlp_static_per_channel) { check_mode("mlp", Q8_PTQ_STATIC, 1, 0.5); }
Test(ptq, cnn_static_per_channel) { check_mode("cnn", Q8_PTQ_STATIC, 1, 0.5); }
Test(ptq, mlp_static_per_tensor) { check_mode("mlp", Q8_PTQ_STATIC, 0, 1.5); }
Test(ptq, cnn_static_per_tensor) { check_mode("cnn", Q8_PTQ_STATIC, 0, 1.5); }
Test(ptq, mlp_dynamic) { check_mode("mlp", Q8_PTQ_DYNAMIC, 1, 1.0); }
Test(ptq, cnn_dynamic) { check_mode("cnn", Q8_PTQ_DYNAMIC, 1, 1.0); }
Test(ptq, mlp_weight_only) { check_mode("mlp", Q8_PTQ_WEIGHT_ONLY, 1, 1.0); }
Test(ptq, cnn_weight_only) { check_mode("cnn", Q8_PTQ_WEIGHT_ONLY, 1, 1.0); }

/* Saving and loading a quantized model changes nothing: same bytes, same outputs bit for bit. */
Test(ptq, q8_round_trip_is_exact) {
  load_digits();
  q8_model *m = load_bundled("cnn");
  q8_model *q = quantize(m, Q8_PTQ_STATIC, 1);
  void *bytes = NULL;
  size_t size = 0;
  Q8_OK_OR_FAIL(q8_model_save_bytes(q, &bytes, &size));
  q8_model *back = NULL;
  Q8_OK_OR_FAIL(q8_model_load_bytes(bytes, size, &back));
  void *bytes2 = NULL;
  size_t size2 = 0;
  Q8_OK_OR_FAIL(q8_model_save_bytes(back, &bytes2, &size2));
  cr_assert_eq(size, size2);
  cr_assert(memcmp(bytes, bytes2, size) == 0, "re-saved bytes differ");
  static float a[DIGITS_MAX_ROWS * DIGITS_CLASSES], b[DIGITS_MAX_ROWS * DIGITS_CLASSES];
  run_all(q, a);
  run_all(back, b);
  cr_assert(memcmp(a, b, g_test.n * DIGITS_CLASSES * sizeof(float)) == 0, "outputs differ after the round trip");
  q8_free(bytes);
  q8_free(bytes2);
  q8_model_destroy(back);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

/* Static mode turns the CNN's convolutions and linears into QLinearConv / QGemm, and keeps a
 * node named in keep_fp32 as it was. */
Test(ptq, static_graph_and_keep_fp32) {
  load_digits();
  q8_model *m = load_bundled("mlp");
  size_t nodes = 0;
  Q8_OK_OR_FAIL(q8_model_node_count(m, &nodes));
  const char *last = NULL, *op = NULL;
  for (size_t k = 0; k < nodes; ++k) {
    const char *name = NULL;
    Q8_OK_OR_FAIL(q8_model_node_info(m, k, &name, NULL, &op, NULL, NULL));
    if (strcmp(op, "Gemm") == 0) last = name;
  }
  cr_assert(last != NULL);
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  const char *keep[1] = {last};
  o.keep_fp32 = keep;
  o.keep_fp32_count = 1;
  q8_model *q = NULL;
  DIGITS_OR_FAIL(digits_quantize(m, &o, &g_train, 4, &q));
  cr_assert(model_describe_has(q, "QGemm"));
  size_t qn = 0;
  Q8_OK_OR_FAIL(q8_model_node_count(q, &qn));
  int kept = 0;
  for (size_t k = 0; k < qn; ++k) {
    const char *name = NULL;
    Q8_OK_OR_FAIL(q8_model_node_info(q, k, &name, NULL, &op, NULL, NULL));
    if (strcmp(name, last) == 0) kept = strcmp(op, "Gemm") == 0;
  }
  cr_assert(kept, "node %s should have stayed an FP32 Gemm", last);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

/* Sensitivity ranks every quantizable node, worst first, with finite non-negative errors. */
Test(ptq, sensitivity_ranks_nodes) {
  load_digits();
  q8_model *m = load_bundled("cnn");
  q8_tensor *batches[4];
  size_t nb = 0;
  DIGITS_OR_FAIL(digits_batches(m, &g_train, 4, batches, &nb));
  q8_sensitivity *s = NULL;
  Q8_OK_OR_FAIL(q8_model_sensitivity(m, NULL, (const q8_tensor *const *)batches, nb, &s));
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_sensitivity_count(s, &n));
  cr_assert_eq(n, 5, "3 convolutions and 2 linears, got %zu", n);
  double prev = INFINITY;
  for (size_t i = 0; i < n; ++i) {
    const char *node = NULL;
    double e = -1;
    Q8_OK_OR_FAIL(q8_sensitivity_get(s, i, &node, &e));
    cr_assert(node && *node);
    cr_assert(isfinite(e) && e >= 0 && e <= prev, "row %zu: %g after %g", i, e, prev);
    prev = e;
  }
  Q8_EXPECT_STATUS(q8_sensitivity_get(s, n, NULL, NULL), Q8_ERR_INVALID_ARGUMENT);
  q8_sensitivity_destroy(s);
  for (size_t i = 0; i < nb; ++i) q8_tensor_destroy(batches[i]);
  q8_model_destroy(m);
}

Test(ptq, bad_input) {
  load_digits();
  q8_model *m = load_bundled("mlp");
  q8_model *q = NULL;
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  /* Static mode without calibration data. */
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, NULL, 0, &q), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_quantize(NULL, &o, NULL, 0, &q), Q8_ERR_INVALID_ARGUMENT);
  o.mode = Q8_PTQ_DYNAMIC;
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  int bad_mode = 7;
  memcpy(&o.mode, &bad_mode, sizeof bad_mode);
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, NULL, 0, &q), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.mode = Q8_PTQ_DYNAMIC;
  o.weight_scheme = Q8_SCHEME_ASYMMETRIC_U8;
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, NULL, 0, &q), Q8_ERR_UNSUPPORTED);
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.struct_size = 3;
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, NULL, 0, &q), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.keep_fp32_count = 2;
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, NULL, 0, &q), Q8_ERR_INVALID_ARGUMENT);
  /* A calibration batch of the wrong shape names the problem. */
  float junk[3 * 5] = {0};
  int64_t shape[2] = {3, 5};
  q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, junk, sizeof junk, &t));
  const q8_tensor *b[1] = {t};
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, b, 1, &q), Q8_ERR_SHAPE);
  cr_assert(q == NULL, "no model on failure");
  q8_tensor_destroy(t);
  q8_model_destroy(m);
}

/* ---- pruning whole models (suite prune_models) ------------------------------------------------ */

static q8_model *prune_model(const q8_model *m, q8_prune_pattern pattern, double sparsity, int global,
                             const char *keep_dense) {
  q8_prune_options po;
  Q8_OK_OR_FAIL(q8_prune_options_init(&po));
  po.pattern = pattern;
  po.sparsity = sparsity;
  q8_model *p = NULL;
  const char *keep[1] = {keep_dense};
  Q8_OK_OR_FAIL(q8_model_prune(m, &po, global, keep, keep_dense ? 1 : 0, &p));
  return p;
}

static double sparsity_of(const q8_model *m) {
  double s = -1;
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_model_weight_sparsity(m, &s, &n));
  cr_assert(n > 0);
  return s;
}

/* The MLP's weights are 256x64, 256x256 and 10x256 (84480 elements, each count even): per-layer
 * and global unstructured pruning and 2:4 hit the target exactly; 4x4 blocks skip the 10-row
 * classifier, which stays dense. */
Test(prune_models, mlp_sparsity_is_exact) {
  q8_model *m = load_bundled("mlp");
  cr_assert_eq(sparsity_of(m), 0.0);
  q8_model *p = prune_model(m, Q8_PRUNE_UNSTRUCTURED, 0.5, 0, NULL);
  cr_expect_eq(sparsity_of(p), 0.5);
  q8_model_destroy(p);
  p = prune_model(m, Q8_PRUNE_UNSTRUCTURED, 0.7, 1, NULL);
  cr_expect_eq(sparsity_of(p), 59136.0 / 84480.0);
  cr_assert(model_describe_has(p, "weight sparsity"));
  q8_model_destroy(p);
  p = prune_model(m, Q8_PRUNE_N_M, 0.0, 0, NULL);
  cr_expect_eq(sparsity_of(p), 0.5);
  q8_model_destroy(p);
  p = prune_model(m, Q8_PRUNE_BLOCK, 0.5, 0, NULL);
  cr_expect_eq(sparsity_of(p), (8192.0 + 32768.0) / 84480.0);
  q8_model_destroy(p);
  q8_model_destroy(m);
}

/* The CNN's first convolution has 9 weights per filter: 2:4 cannot take it, the rest is pruned. */
Test(prune_models, cnn_two_four_skips_what_does_not_fit) {
  q8_model *m = load_bundled("cnn");
  q8_model *p = prune_model(m, Q8_PRUNE_N_M, 0.0, 0, NULL);
  const double total = 32 * 9 + 64 * 288 + 64 * 576 + 128 * 1024 + 10 * 128;
  cr_expect_eq(sparsity_of(p), (total - 32 * 9) / 2.0 / total);
  q8_model_destroy(p);
  /* Unstructured fits every layer; keep_dense leaves the first convolution alone. */
  p = prune_model(m, Q8_PRUNE_UNSTRUCTURED, 0.5, 0, "/0/Conv");
  cr_expect_eq(sparsity_of(p), (total - 32 * 9) / 2.0 / total);
  q8_model_destroy(p);
  q8_model_destroy(m);
}

/* A pruned INT8 model gives the same bits whether its layers run dense or sparse. */
static void same_bits_dense_and_sparse(const char *name, q8_prune_pattern pattern, double sparsity) {
  load_digits();
  q8_model *m = load_bundled(name);
  q8_prune_options po;
  Q8_OK_OR_FAIL(q8_prune_options_init(&po));
  po.pattern = pattern;
  po.sparsity = sparsity;
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.prune = &po;
  q8_model *q = NULL;
  DIGITS_OR_FAIL(digits_quantize(m, &o, &g_train, 8, &q));
  cr_assert(sparsity_of(q) >= (pattern == Q8_PRUNE_N_M ? 0.4 : sparsity * 0.8), "%s: %.3f", name, sparsity_of(q));
  static float dense[DIGITS_MAX_ROWS * DIGITS_CLASSES], sparse[DIGITS_MAX_ROWS * DIGITS_CLASSES],
      autop[DIGITS_MAX_ROWS * DIGITS_CLASSES];
  const size_t bytes = g_test.n * DIGITS_CLASSES * sizeof(float);
  Q8_OK_OR_FAIL(q8_sparse_set_policy(Q8_SPARSE_POLICY_DENSE));
  run_all(q, dense);
  Q8_OK_OR_FAIL(q8_sparse_set_policy(Q8_SPARSE_POLICY_SPARSE));
  run_all(q, sparse);
  Q8_OK_OR_FAIL(q8_sparse_set_policy(Q8_SPARSE_POLICY_AUTO));
  run_all(q, autop);
  cr_expect(memcmp(dense, sparse, bytes) == 0, "%s: sparse run differs from dense", name);
  cr_expect(memcmp(dense, autop, bytes) == 0, "%s: auto run differs from dense", name);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

Test(prune_models, mlp_two_four_same_bits) { same_bits_dense_and_sparse("mlp", Q8_PRUNE_N_M, 0.5); }
Test(prune_models, mlp_unstructured_same_bits) { same_bits_dense_and_sparse("mlp", Q8_PRUNE_UNSTRUCTURED, 0.9); }
Test(prune_models, mlp_block_same_bits) { same_bits_dense_and_sparse("mlp", Q8_PRUNE_BLOCK, 0.8); }
Test(prune_models, cnn_unstructured_same_bits) { same_bits_dense_and_sparse("cnn", Q8_PRUNE_UNSTRUCTURED, 0.7); }

/* What pruning costs without retraining (prune -> calibrate -> static INT8): the report of
 * docs/SPARSITY.md, with bounds a regression would break. */
static void accuracy_after_pruning(const char *name, q8_prune_pattern pattern, double sparsity, double max_drop) {
  load_digits();
  q8_model *m = load_bundled(name);
  /* The CNN's first convolution (9 weights per filter) has nothing to spare: it stays dense. */
  const char *keep[1] = {"/0/Conv"};
  const size_t nkeep = strcmp(name, "cnn") == 0 ? 1 : 0;
  q8_model *p = prune_model(m, pattern, sparsity, 0, nkeep ? keep[0] : NULL);
  q8_prune_options po;
  Q8_OK_OR_FAIL(q8_prune_options_init(&po));
  po.pattern = pattern;
  po.sparsity = sparsity;
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.prune = &po;
  o.prune_keep_dense = keep;
  o.prune_keep_dense_count = nkeep;
  q8_model *q = NULL;
  DIGITS_OR_FAIL(digits_quantize(m, &o, &g_train, 32, &q));
  const double a32 = accuracy(m), ap = accuracy(p), a8 = accuracy(q);
  printf("prune report: %s pattern %d sparsity %.2f: fp32 %.2f%%, pruned fp32 %.2f%%, pruned int8 %.2f%% "
         "(weight sparsity %.3f)\n", name, pattern, sparsity, a32, ap, a8, sparsity_of(q));
  cr_expect(a32 - a8 <= max_drop, "%s: %.2f%% -> %.2f%%", name, a32, a8);
  q8_model_destroy(q);
  q8_model_destroy(p);
  q8_model_destroy(m);
}

Test(prune_models, accuracy_mlp_unstructured_50) { accuracy_after_pruning("mlp", Q8_PRUNE_UNSTRUCTURED, 0.5, 1.0); }
Test(prune_models, accuracy_mlp_two_four) { accuracy_after_pruning("mlp", Q8_PRUNE_N_M, 0.5, 2.0); }
Test(prune_models, accuracy_mlp_block_50) { accuracy_after_pruning("mlp", Q8_PRUNE_BLOCK, 0.5, 3.0); }
/* 80 % without retraining costs points (measured 5.6 MLP, 14.7 CNN): the bounds only catch regressions;
 * recovering them is the fine-tune's job. */
Test(prune_models, accuracy_mlp_unstructured_80) { accuracy_after_pruning("mlp", Q8_PRUNE_UNSTRUCTURED, 0.8, 7.0); }
Test(prune_models, accuracy_cnn_unstructured_50) { accuracy_after_pruning("cnn", Q8_PRUNE_UNSTRUCTURED, 0.5, 1.0); }
Test(prune_models, accuracy_cnn_two_four) { accuracy_after_pruning("cnn", Q8_PRUNE_N_M, 0.5, 2.0); }
Test(prune_models, accuracy_cnn_block_50) { accuracy_after_pruning("cnn", Q8_PRUNE_BLOCK, 0.5, 3.0); }
Test(prune_models, accuracy_cnn_unstructured_80) { accuracy_after_pruning("cnn", Q8_PRUNE_UNSTRUCTURED, 0.8, 17.0); }

Test(prune_models, bad_input) {
  q8_model *m = load_bundled("mlp");
  q8_prune_options po;
  Q8_OK_OR_FAIL(q8_prune_options_init(&po));
  q8_model *p = NULL;
  Q8_EXPECT_STATUS(q8_model_prune(NULL, &po, 0, NULL, 0, &p), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_prune(m, NULL, 0, NULL, 0, &p), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_prune(m, &po, 0, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_prune(m, &po, 0, NULL, 2, &p), Q8_ERR_INVALID_ARGUMENT);
  po.pattern = Q8_PRUNE_N_M;
  Q8_EXPECT_STATUS(q8_model_prune(m, &po, 1, NULL, 0, &p), Q8_ERR_UNSUPPORTED);
  Q8_OK_OR_FAIL(q8_prune_options_init(&po));
  po.sparsity = 1.5;
  Q8_EXPECT_STATUS(q8_model_prune(m, &po, 0, NULL, 0, &p), Q8_ERR_INVALID_ARGUMENT);
  cr_assert(p == NULL, "no model on failure");
  /* Through q8_model_quantize: bad prune options fail the call. */
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.mode = Q8_PTQ_DYNAMIC;
  o.prune = &po;
  q8_model *q = NULL;
  Q8_EXPECT_STATUS(q8_model_quantize(m, &o, NULL, 0, &q), Q8_ERR_INVALID_ARGUMENT);
  double s = 0;
  Q8_EXPECT_STATUS(q8_model_weight_sparsity(m, NULL, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_weight_sparsity(NULL, &s, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_sparse_set_policy((q8_sparse_policy)7), Q8_ERR_INVALID_ARGUMENT);
  cr_assert_eq(q8_sparse_get_policy(), Q8_SPARSE_POLICY_AUTO);
  q8_model_destroy(m);
}
