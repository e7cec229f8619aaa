/* ONNX export in QDQ form (q8_model_export_onnx, _bytes) through the public API. The export of a
 * model is loaded back with q8_model_load_onnx, whose QDQ fusion must rebuild the same quantized
 * operators, so the reloaded model computes the same bits as the one exported: static (several
 * schemes), dynamic, weight-only and FP32 versions of both digits models on the held-out rows, and
 * every quantized-operator fixture of tests/data/qops. Then the file itself (atomic, equal to the
 * bytes, standard operators only) and bad input. ONNX Runtime's view of the same files is checked
 * by the 'ort_qdq' test (tests/ort). */
#define _DEFAULT_SOURCE /* mkdir, setrlimit under -std=c11 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "digits.h"
#include "support.h"

/* ---- the digits data: train rows (i % 4 != 0) calibrate, held-out rows (i % 4 == 0) run ------ */

static digits_rows g_train, g_test;

static void load_digits(void) { digits_load_bundled(&g_train, &g_test); }

/* The logits of every held-out row, batches of 64 (the last one smaller). */
static float *logits(const q8_model *m) {
  load_digits();
  float *out = malloc(g_test.n * DIGITS_CLASSES * sizeof(float));
  cr_assert(out != NULL);
  DIGITS_OR_FAIL(digits_logits(m, g_test.x, g_test.n, out));
  return out;
}

static q8_model *quantize(const q8_model *m, q8_ptq_mode mode, int per_channel, q8_scheme activations) {
  load_digits();
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.mode = mode;
  o.per_channel = per_channel;
  o.activation_scheme = activations;
  q8_model *q = NULL;
  DIGITS_OR_FAIL(digits_quantize(m, &o, &g_train, 32, &q));
  return q;
}

/* ---- export and load back ------------------------------------------------------------------ */

static blob export_bytes(const q8_model *m) {
  blob b = {NULL, 0};
  void *p = NULL;
  Q8_OK_OR_FAIL(q8_model_export_onnx_bytes(m, &p, &b.n));
  cr_assert(p != NULL && b.n > 0);
  b.p = p;
  return b;
}

static q8_model *reload(const q8_model *m) {
  blob b = export_bytes(m);
  q8_model *r = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx_bytes(b.p, b.n, &r));
  q8_free(b.p);
  return r;
}

/* "domain.op" of every node in order: what the model computes with. */
static void op_list(const q8_model *m, char *out, size_t cap) {
  size_t n = 0, at = 0;
  Q8_OK_OR_FAIL(q8_model_node_count(m, &n));
  out[0] = '\0';
  for (size_t k = 0; k < n; ++k) {
    const char *domain = NULL, *op = NULL;
    Q8_OK_OR_FAIL(q8_model_node_info(m, k, NULL, &domain, &op, NULL, NULL));
    at += (size_t)snprintf(out + at, cap - at, "%s%s%s ", domain, domain[0] ? "." : "", op);
    cr_assert(at < cap);
  }
}

static void expect_same_ops(const q8_model *a, const q8_model *b, const char *what) {
  char x[4096], y[4096];
  op_list(a, x, sizeof x);
  op_list(b, y, sizeof y);
  cr_assert_str_eq(y, x, "%s: the reloaded export computes with other operators:\n  %s\nnot\n  %s", what, y, x);
}

static void expect_same_logits(const q8_model *a, const q8_model *b, const char *what) {
  float *x = logits(a), *y = logits(b);
  for (size_t i = 0; i < g_test.n * DIGITS_CLASSES; ++i)
    cr_assert(memcmp(&x[i], &y[i], sizeof(float)) == 0, "%s: row %zu class %zu: %.9g before export, %.9g after",
              what, i / 10, i % 10, (double)x[i], (double)y[i]);
  free(x);
  free(y);
}

/* Exports q, loads the export and expects the same operators and the same bits. */
static void round_trip(const q8_model *q, const char *what) {
  q8_model *r = reload(q);
  expect_same_ops(q, r, what);
  expect_same_logits(q, r, what);
  q8_model_destroy(r);
}

static void round_trip_modes(q8_ptq_mode mode, const char *mode_name) {
  static const char *const names[] = {"mlp", "cnn"};
  for (int k = 0; k < 2; ++k) {
    char path[64], what[64];
    snprintf(path, sizeof path, "models/digits_%s.onnx", names[k]);
    snprintf(what, sizeof what, "%s %s", names[k], mode_name);
    q8_model *m = load_fixture(path), *q = quantize(m, mode, 1, Q8_SCHEME_ASYMMETRIC_U8);
    round_trip(q, what);
    q8_model_destroy(q);
    q8_model_destroy(m);
  }
}

Test(onnx_export, static_models_reload_bit_exact) { round_trip_modes(Q8_PTQ_STATIC, "static"); }
Test(onnx_export, dynamic_models_reload_bit_exact) { round_trip_modes(Q8_PTQ_DYNAMIC, "dynamic"); }
Test(onnx_export, weight_only_models_reload_bit_exact) { round_trip_modes(Q8_PTQ_WEIGHT_ONLY, "weight-only"); }

/* Per-tensor weights (scalar scales) and s8 activations (s8 zero points on every Q). */
Test(onnx_export, static_per_tensor_s8_reload_bit_exact) {
  static const char *const names[] = {"models/digits_mlp.onnx", "models/digits_cnn.onnx"};
  for (int k = 0; k < 2; ++k) {
    q8_model *m = load_fixture(names[k]);
    q8_model *a = quantize(m, Q8_PTQ_STATIC, 0, Q8_SCHEME_ASYMMETRIC_U8);
    q8_model *b = quantize(m, Q8_PTQ_STATIC, 1, Q8_SCHEME_ASYMMETRIC_S8);
    round_trip(a, "per-tensor weights");
    round_trip(b, "s8 activations");
    q8_model_destroy(a);
    q8_model_destroy(b);
    q8_model_destroy(m);
  }
}

Test(onnx_export, fp32_models_reload_identical) {
  static const char *const names[] = {"models/digits_mlp.onnx", "models/digits_cnn.onnx"};
  for (int k = 0; k < 2; ++k) {
    q8_model *m = load_fixture(names[k]);
    round_trip(m, names[k]);
    q8_model_destroy(m);
  }
}

/* ---- every quantized operator: the QOperator fixtures of test_quant_ops ----------------------- */

static q8_tensor *fill_input(const q8_model *m, size_t i, uint64_t seed) {
  q8_dtype dt;
  int64_t shape[8];
  size_t rank = 0, n = 0;
  Q8_OK_OR_FAIL(q8_model_input_info(m, i, &dt, shape, 8, &rank));
  for (size_t d = 0; d < rank; ++d)
    if (shape[d] < 0) shape[d] = 2;  /* the session's batch */
  q8_tensor *t = make_tensor(dt, shape, rank);
  Q8_OK_OR_FAIL(q8_tensor_numel(t, &n));
  test_rng r;
  rng_seed(&r, seed);
  if (dt == Q8_DTYPE_F32) {
    float *p = tensor_data(t);
    for (size_t j = 0; j < n; ++j) p[j] = (float)(rng_normal(&r) * 2.0);
  } else {
    uint8_t *p = tensor_data(t);
    for (size_t j = 0; j < n * q8_dtype_size(dt); ++j) p[j] = (uint8_t)(rng_next(&r) >> 56);
  }
  return t;
}

/* Runs m on fixed inputs; returns output 0's bytes (malloc'd) and their count. */
static uint8_t *run_fixture(const q8_model *m, size_t *bytes) {
  size_t n_in = 0;
  Q8_OK_OR_FAIL(q8_model_input_count(m, &n_in));
  cr_assert(n_in <= 4);
  q8_tensor *in[4];
  for (size_t i = 0; i < n_in; ++i) in[i] = fill_input(m, i, 77 + i);
  q8_session *s = NULL;
  Q8_OK_OR_FAIL(q8_session_create(m, 2, &s));
  Q8_OK_OR_FAIL(q8_session_run(s, (const q8_tensor *const *)in, n_in));
  const q8_tensor *y = NULL;
  Q8_OK_OR_FAIL(q8_session_output(s, 0, &y));
  Q8_OK_OR_FAIL(q8_tensor_nbytes(y, bytes));
  uint8_t *out = malloc(*bytes ? *bytes : 1);
  cr_assert(out != NULL);
  memcpy(out, tensor_data(y), *bytes);
  q8_session_destroy(s);
  for (size_t i = 0; i < n_in; ++i) q8_tensor_destroy(in[i]);
  return out;
}

/* Exports m, loads the export and expects the same operators and the same bytes out. */
static void fixture_round_trip(const q8_model *m, const char *what) {
  q8_model *r = reload(m);
  expect_same_ops(m, r, what);
  size_t na = 0, nb = 0;
  uint8_t *a = run_fixture(m, &na), *b = run_fixture(r, &nb);
  cr_assert(na == nb && memcmp(a, b, na) == 0, "%s: the reloaded export computes other bits", what);
  free(a);
  free(b);
  q8_model_destroy(r);
}

Test(onnx_export, quantized_operators_round_trip) {
  static const char *const fixtures[] = {
      "qlinearconv_groups", "qlinearconv_depthwise_s8", "qlinearmatmul_nd", "qlinearmatmul_batched_s8",
      "qgemm_u8", "qgemm_f32", "qlinearadd_broadcast", "qlinearmul_s8", "qlinearsigmoid", "qlineartanh",
      "qlinearconcat", "qlinearglobalavgpool", "qlinearavgpool", "dynamicgemm", "dynamicconv",
      "dynamic_quantize", "quantize_per_axis", "quantize_default_zp", "dequantize_per_axis",
      "dequantize_s32", "matmulinteger", "convinteger"};
  for (size_t k = 0; k < sizeof fixtures / sizeof *fixtures; ++k) {
    char rel[128];
    snprintf(rel, sizeof rel, "qops/%s.onnx", fixtures[k]);
    q8_model *m = load_fixture(rel);
    fixture_round_trip(m, fixtures[k]);
    q8_model_destroy(m);
  }
}

/* Static quantization of the f32 operator fixtures brings in what the digits models lack:
 * QLinearAdd/Mul (broadcast), QLinearConcat, the quantized pools, QLinearSigmoid/Tanh, Relu and
 * Clip on quantized tensors, Reshape/Transpose/Flatten/MaxPool between quantized operators. */
Test(onnx_export, static_operator_models_reload_bit_exact) {
  static const char *const fixtures[] = {"add_bcast", "add_scalar", "mul_same", "mul_bcast", "concat", "gap",
                                         "avgpool_incl", "avgpool_excl_ceil", "unary", "maxpool_basic",
                                         "maxpool_same", "transpose", "flatten", "reshape", "conv_const",
                                         "gemm_const", "fold", "softmax", "identity"};
  for (size_t k = 0; k < sizeof fixtures / sizeof *fixtures; ++k) {
    char rel[128];
    snprintf(rel, sizeof rel, "ops/%s.onnx", fixtures[k]);
    q8_model *m = load_fixture(rel);
    size_t n_in = 0;
    Q8_OK_OR_FAIL(q8_model_input_count(m, &n_in));
    cr_assert(n_in <= 4);
    q8_tensor *batches[3 * 4];
    for (size_t b = 0; b < 3; ++b)
      for (size_t i = 0; i < n_in; ++i) batches[b * n_in + i] = fill_input(m, i, 1000 + 10 * b + i);
    q8_ptq_options o;
    Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
    q8_model *q = NULL;
    Q8_OK_OR_FAIL(q8_model_quantize(m, &o, (const q8_tensor *const *)batches, 3, &q));
    fixture_round_trip(q, fixtures[k]);
    for (size_t i = 0; i < 3 * n_in; ++i) q8_tensor_destroy(batches[i]);
    q8_model_destroy(q);
    q8_model_destroy(m);
  }
}

/* ---- the file -------------------------------------------------------------------------------- */

static int contains(blob b, const char *s) {
  const size_t k = strlen(s);
  for (size_t i = 0; i + k <= b.n; ++i)
    if (memcmp(b.p + i, s, k) == 0) return 1;
  return 0;
}

static void expect_old_file(const char *path) {
  blob b = read_whole(path);
  cr_assert(b.n == 3 && memcmp(b.p, "old", 3) == 0, "%s changed although the export failed", path);
  free(b.p);
}

Test(onnx_export, file_is_the_bytes_in_plain_onnx) {
  char dir[64], path[128];
  make_tmpdir(dir, "q8export");
  snprintf(path, sizeof path, "%s/cnn.onnx", dir);
  write_whole(path, "old", 3);
  q8_model *m = load_fixture("models/digits_cnn.onnx"), *q = quantize(m, Q8_PTQ_STATIC, 1, Q8_SCHEME_ASYMMETRIC_U8);
  Q8_OK_OR_FAIL(q8_model_export_onnx(q, path));
  blob file = read_whole(path), bytes = export_bytes(q);
  cr_assert(file.n == bytes.n && memcmp(file.p, bytes.p, file.n) == 0, "the file and the bytes differ");
  cr_assert_eq(dir_entries(dir), 1, "a temporary file was left behind");
  /* QDQ in the default domain: no com.microsoft or ai.q8 operator, the batch as a symbol. */
  cr_assert(contains(file, "QuantizeLinear") && contains(file, "DequantizeLinear") && contains(file, "Conv"));
  cr_assert(!contains(file, "com.microsoft") && !contains(file, "ai.q8") && !contains(file, "QLinear"));
  cr_assert(contains(file, "batch"));
  q8_model *r = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &r));
  expect_same_ops(q, r, "cnn from the file");
  /* Dynamic models use DynamicQuantizeLinear, still in the default domain. */
  q8_model *d = quantize(m, Q8_PTQ_DYNAMIC, 1, Q8_SCHEME_ASYMMETRIC_U8);
  blob db = export_bytes(d);
  cr_assert(contains(db, "DynamicQuantizeLinear") && !contains(db, "ai.q8") && !contains(db, "DynamicConv"));
  free(file.p);
  q8_free(bytes.p);
  q8_free(db.p);
  q8_model_destroy(d);
  q8_model_destroy(r);
  q8_model_destroy(q);
  q8_model_destroy(m);
  remove_tree(dir);
}

/* ---- bad input ------------------------------------------------------------------------------- */

Test(onnx_export, bad_arguments) {
  q8_model *m = load_fixture("models/digits_mlp.onnx");
  void *p = NULL;
  size_t n = 0;
  Q8_EXPECT_ERROR(q8_model_export_onnx(NULL, "/tmp/x.onnx"), Q8_ERR_INVALID_ARGUMENT, "model is NULL");
  Q8_EXPECT_ERROR(q8_model_export_onnx(m, NULL), Q8_ERR_INVALID_ARGUMENT, "path is NULL");
  Q8_EXPECT_ERROR(q8_model_export_onnx(m, ""), Q8_ERR_INVALID_ARGUMENT, "path is empty");
  Q8_EXPECT_ERROR(q8_model_export_onnx_bytes(NULL, &p, &n), Q8_ERR_INVALID_ARGUMENT, "model is NULL");
  Q8_EXPECT_ERROR(q8_model_export_onnx_bytes(m, NULL, &n), Q8_ERR_INVALID_ARGUMENT, "data is NULL");
  Q8_EXPECT_ERROR(q8_model_export_onnx_bytes(m, &p, NULL), Q8_ERR_INVALID_ARGUMENT, "size is NULL");
  cr_assert_null(p);
  q8_model_destroy(m);
}

Test(onnx_export, io_errors_keep_the_old_file) {
  char dir[64], path[160], target[128];
  make_tmpdir(dir, "q8export");
  q8_model *m = load_fixture("models/digits_mlp.onnx");
  snprintf(target, sizeof target, "%s/model.onnx", dir);
  write_whole(target, "old", 3);
  /* A directory that does not exist. */
  snprintf(path, sizeof path, "%s/no-such-dir/model.onnx", dir);
  Q8_EXPECT_ERROR(q8_model_export_onnx(m, path), Q8_ERR_IO, "No such file or directory");
  /* A directory nobody may create files in (/proc refuses even root). */
  Q8_EXPECT_ERROR(q8_model_export_onnx(m, "/proc/q8-export.onnx"), Q8_ERR_IO, "cannot create a temporary file in '/proc'");
  /* Renaming over a non-empty directory fails after the temporary was written. */
  snprintf(path, sizeof path, "%s/dir.onnx", dir);
  cr_assert_eq(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/dir.onnx/keep", dir);
  write_whole(path, "x", 1);
  snprintf(path, sizeof path, "%s/dir.onnx", dir);
  q8_model *tiny = load_fixture("ops/add_scalar.onnx");
  Q8_EXPECT_ERROR(q8_model_export_onnx(tiny, path), Q8_ERR_IO, "rename");
  cr_assert_eq(dir_entries(dir), 2, "the temporary was left behind");
  /* A write that fails half way (the file size limit): the old file stays, no temporary remains. */
  signal(SIGXFSZ, SIG_IGN);  /* write() then fails with EFBIG instead of killing the process */
  struct rlimit lim = {4096, 4096};
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  Q8_EXPECT_ERROR(q8_model_export_onnx(m, target), Q8_ERR_IO, "File too large");
  expect_old_file(target);
  cr_assert_eq(dir_entries(dir), 2, "the temporary was left behind");
  q8_model_destroy(tiny);
  q8_model_destroy(m);
  remove_tree(dir);
}

/* What has no opset-13 QDQ form is refused by name, before anything is written. */
Test(onnx_export, refuses_what_onnx_cannot_say) {
  char dir[64], target[128];
  make_tmpdir(dir, "q8export");
  snprintf(target, sizeof target, "%s/model.onnx", dir);
  write_whole(target, "old", 3);
  void *p = NULL;
  size_t n = 0;
  /* Relu on a u8 graph input: q8 clamps at the tensor's run-time zero point, which the model
   * does not state, and ONNX's Relu takes no u8. */
  q8_model *relu = load_fixture("ops/quant_u8.onnx");
  Q8_EXPECT_ERROR(q8_model_export_onnx(relu, target), Q8_ERR_UNSUPPORTED, "node 'relu' (Relu)");
  Q8_EXPECT_ERROR(q8_model_export_onnx_bytes(relu, &p, &n), Q8_ERR_UNSUPPORTED, "zero point");
  cr_assert(p == NULL && n == 0, "outputs are written only on success");
  /* Reshape with allowzero = 1 and a 0 in its shape arrived with opset 14. */
  q8_model *reshape = load_fixture("ops/reshape_allowzero.onnx");
  Q8_EXPECT_ERROR(q8_model_export_onnx(reshape, target), Q8_ERR_UNSUPPORTED, "allowzero");
  expect_old_file(target);
  cr_assert_eq(dir_entries(dir), 1);
  q8_model_destroy(reshape);
  q8_model_destroy(relu);
  remove_tree(dir);
}
