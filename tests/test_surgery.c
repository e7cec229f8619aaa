/* Model surgery (q8_model_extract, q8_model_append) on the bundled digits models, through the
 * public API: a model cut at hidden activations computes exactly what q8_session_tensor shows
 * there on the full model (FP32 and static INT8, as integers or dequantized); cut at its features
 * and given its own last layer back as a separate model, it computes the full model's logits bit
 * for bit; a new head computes its layer on the features; weights are shared, not copied; every
 * error names what is wrong. The heads are ONNX models written here (a minimal protobuf writer)
 * from the digits models' own constants, read back through q8_session_tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "support.h"

static digits_rows g_train, g_test;

static void load_digits(void) { digits_load_bundled(&g_train, &g_test); }

static q8_model *mlp(void) { return load_fixture("models/digits_mlp.onnx"); }
static q8_model *cnn(void) { return load_fixture("models/digits_cnn.onnx"); }

/* Static INT8 (per-channel s8 weights, u8 activations), calibrated on 8 batches of train rows. */
static q8_model *int8_of(const q8_model *m) {
  load_digits();
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  q8_model *q = NULL;
  DIGITS_OR_FAIL(digits_quantize(m, &o, &g_train, 8, &q));
  return q;
}

/* A session of m, run once on all held-out rows; the caller destroys it. */
static q8_session *run_held_out(const q8_model *m) {
  load_digits();
  q8_session *s = NULL;
  q8_tensor *in = NULL;
  Q8_OK_OR_FAIL(q8_session_create(m, (int64_t)g_test.n, &s));
  DIGITS_OR_FAIL(digits_wrap(m, g_test.x, g_test.n, &in));
  const q8_tensor *ins[1] = {in};
  Q8_OK_OR_FAIL(q8_session_run(s, ins, 1));
  q8_tensor_destroy(in);
  return s;
}

static const q8_tensor *tensor_of(const q8_session *s, const char *name) {
  const q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_session_tensor(s, name, &t));
  return t;
}

static const q8_tensor *output_of(const q8_session *s, size_t i) {
  const q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_session_output(s, i, &t));
  return t;
}

/* q8_dequantize of q into a new f32 tensor (the caller destroys it). */
static q8_tensor *dequantized(const q8_tensor *q) {
  size_t rank;
  int64_t shape[8];
  Q8_OK_OR_FAIL(q8_tensor_rank(q, &rank));
  Q8_OK_OR_FAIL(q8_tensor_shape(q, shape, 8));
  q8_tensor *y = make_tensor(Q8_DTYPE_F32, shape, rank);
  Q8_OK_OR_FAIL(q8_dequantize(q, y));
  return y;
}

static q8_model *extract(const q8_model *m, const char *const *names, size_t count, int dequantize) {
  q8_model *e = NULL;
  Q8_OK_OR_FAIL(q8_model_extract(m, names, count, dequantize, &e));
  return e;
}

static q8_model *extract1(const q8_model *m, const char *name, int dequantize) {
  return extract(m, &name, 1, dequantize);
}

static q8_model *append1(const q8_model *base, const q8_model *head, const char *connect) {
  q8_model *r = NULL;
  Q8_OK_OR_FAIL(q8_model_append(base, head, &connect, 1, &r));
  return r;
}

static void expect_output_name(const q8_model *m, size_t i, const char *want) {
  const char *name = NULL;
  Q8_OK_OR_FAIL(q8_model_output_name(m, i, &name));
  cr_assert_str_eq(name, want);
}

static size_t nodes_of(const q8_model *m) {
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_model_node_count(m, &n));
  return n;
}

static void expect_node(const q8_model *m, size_t index, const char *name, const char *op, const char *input0) {
  const char *got = NULL, *got_op = NULL, *in0 = NULL;
  Q8_OK_OR_FAIL(q8_model_node_info(m, index, &got, NULL, &got_op, NULL, NULL));
  Q8_OK_OR_FAIL(q8_model_node_input(m, index, 0, &in0));
  cr_assert_str_eq(got, name, "node %zu", index);
  cr_assert_str_eq(got_op, op, "node %zu", index);
  cr_assert_str_eq(in0, input0, "node %zu input 0", index);
}

/* ---- a minimal ONNX (protobuf) writer for the heads ------------------------------------------- */

typedef struct {
  uint8_t *p;
  size_t n, cap;
} pb;

static void pb_raw(pb *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    cr_assert(b->p != NULL);
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void pb_varint(pb *b, uint64_t v) {
  uint8_t c[10];
  size_t k = 0;
  do {
    c[k] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) c[k] |= 0x80;
    ++k;
  } while (v);
  pb_raw(b, c, k);
}

static void pb_int(pb *b, unsigned field, int64_t v) {
  pb_varint(b, (uint64_t)field << 3);
  pb_varint(b, (uint64_t)v);
}

static void pb_bytes(pb *b, unsigned field, const void *p, size_t n) {
  pb_varint(b, (uint64_t)field << 3 | 2);
  pb_varint(b, n);
  pb_raw(b, p, n);
}

static void pb_str(pb *b, unsigned field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Message m as field `field` of b; frees m. */
static void pb_msg(pb *b, unsigned field, pb *m) {
  pb_bytes(b, field, m->p, m->n);
  free(m->p);
  memset(m, 0, sizeof *m);
}

static int onnx_type(q8_dtype dt) {
  switch (dt) {
    case Q8_DTYPE_F32: return 1;
    case Q8_DTYPE_U8: return 2;
    case Q8_DTYPE_S8: return 3;
    default: return 6; /* INT32 */
  }
}

/* GraphProto.initializer `name` with t's dtype, shape and bytes. */
static void onnx_initializer(pb *graph, const char *name, const q8_tensor *t) {
  pb tp = {0};
  q8_dtype dt;
  size_t rank, nbytes;
  int64_t shape[8];
  Q8_OK_OR_FAIL(q8_tensor_dtype(t, &dt));
  Q8_OK_OR_FAIL(q8_tensor_rank(t, &rank));
  Q8_OK_OR_FAIL(q8_tensor_shape(t, shape, 8));
  Q8_OK_OR_FAIL(q8_tensor_nbytes(t, &nbytes));
  for (size_t i = 0; i < rank; ++i) pb_int(&tp, 1, shape[i]);
  pb_int(&tp, 2, onnx_type(dt));
  pb_str(&tp, 8, name);
  pb_bytes(&tp, 9, tensor_data(t), nbytes);
  pb_msg(graph, 5, &tp);
}

/* GraphProto.input (field 11) or output (12): `name` of dtype dt, shape [N, dim]. */
static void onnx_value(pb *graph, unsigned field, const char *name, q8_dtype dt, int64_t dim) {
  pb shape = {0}, tensor = {0}, type = {0}, vi = {0};
  pb d = {0};
  pb_int(&tensor, 1, onnx_type(dt));
  pb_str(&d, 2, "N");
  pb_msg(&shape, 1, &d);
  pb_int(&d, 1, dim);
  pb_msg(&shape, 1, &d);
  pb_msg(&tensor, 2, &shape);
  pb_msg(&type, 1, &tensor);
  pb_str(&vi, 1, name);
  pb_msg(&vi, 2, &type);
  pb_msg(graph, field, &vi);
}

/* GraphProto.node: op of `domain` with inputs in[] ("" = omitted) and one output; transB = 1 when
 * trans_b. */
static void onnx_node(pb *graph, const char *name, const char *domain, const char *op, const char *const *in,
                      size_t nin, const char *out, int trans_b) {
  pb node = {0};
  for (size_t i = 0; i < nin; ++i) pb_str(&node, 1, in[i]);
  pb_str(&node, 2, out);
  pb_str(&node, 3, name);
  pb_str(&node, 4, op);
  if (trans_b) {
    pb a = {0};
    pb_str(&a, 1, "transB");
    pb_int(&a, 3, 1);
    pb_int(&a, 20, 2); /* AttributeProto.INT */
    pb_msg(&node, 5, &a);
  }
  if (*domain) pb_str(&node, 7, domain);
  pb_msg(graph, 1, &node);
}

/* A ModelProto (IR 8, opsets "" 13 and com.microsoft 1) around graph, loaded by q8. */
static q8_model *onnx_load(pb *graph) {
  pb model = {0}, opset = {0};
  pb_str(graph, 2, "head");
  pb_int(&model, 1, 8);
  pb_str(&model, 2, "test_surgery");
  pb_msg(&model, 7, graph);
  pb_int(&opset, 2, 13);
  pb_msg(&model, 8, &opset);
  pb_str(&opset, 1, "com.microsoft");
  pb_int(&opset, 2, 1);
  pb_msg(&model, 8, &opset);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx_bytes(model.p, model.n, &m));
  free(model.p);
  return m;
}

/* Gemm(features [N, in] f32, W, B) -> out [N, outs], node "/0/Gemm", constants "0.weight" and
 * "0.bias": the names the digits models use too, so that appending renames them. */
static q8_model *fp32_gemm_head(const q8_tensor *w, const q8_tensor *b, int64_t in, int64_t outs, const char *out) {
  pb g = {0};
  const char *ins[3] = {"features", "0.weight", "0.bias"};
  onnx_node(&g, "/0/Gemm", "", "Gemm", ins, 3, out, 1);
  onnx_initializer(&g, "0.weight", w);
  onnx_initializer(&g, "0.bias", b);
  onnx_value(&g, 11, "features", Q8_DTYPE_F32, in);
  onnx_value(&g, 12, out, Q8_DTYPE_F32, outs);
  return onnx_load(&g);
}

/* The FP32 MLP's last layer (4.weight, 4.bias) as a model of its own. */
static q8_model *mlp_fp32_head(const q8_model *m) {
  q8_session *s = run_held_out(m);
  q8_model *h = fp32_gemm_head(tensor_of(s, "4.weight"), tensor_of(s, "4.bias"), 256, 10, "logits");
  q8_session_destroy(s);
  return h;
}

/* The static INT8 MLP's last layer as a model of its own: QGemm on u8 features with the
 * parameters and INT8 weights of the model, then DequantizeLinear, as q8_model_quantize wrote it. */
static q8_model *mlp_int8_head(const q8_model *q) {
  static const char *consts[] = {"/3/Relu_output_0_scale", "/3/Relu_output_0_zero_point", "4.weight_quantized",
                                 "4.weight_scale", "4.weight_zero_point", "4.bias_quantized", "logits_scale",
                                 "logits_zero_point"};
  q8_session *s = run_held_out(q);
  pb g = {0};
  const char *qgemm[9] = {"features", consts[0], consts[1], consts[2], consts[3], consts[4], consts[5], consts[6], consts[7]};
  onnx_node(&g, "/4/Gemm", "com.microsoft", "QGemm", qgemm, 9, "logits_quantized", 1);
  const char *dq[3] = {"logits_quantized", consts[6], consts[7]};
  onnx_node(&g, "logits_dequantize", "", "DequantizeLinear", dq, 3, "logits", 0);
  for (size_t i = 0; i < sizeof consts / sizeof *consts; ++i) onnx_initializer(&g, consts[i], tensor_of(s, consts[i]));
  onnx_value(&g, 11, "features", Q8_DTYPE_U8, 256);
  onnx_value(&g, 12, "logits", Q8_DTYPE_F32, 10);
  q8_session_destroy(s);
  return onnx_load(&g);
}

/* A new head: Gemm in -> outs with seeded weights, output "scores". */
static q8_model *tiny_head(int64_t in, int64_t outs, uint64_t seed) {
  test_rng r;
  rng_seed(&r, seed);
  const int64_t ws[2] = {outs, in}, bs[1] = {outs};
  q8_tensor *w = make_tensor(Q8_DTYPE_F32, ws, 2), *b = make_tensor(Q8_DTYPE_F32, bs, 1);
  float *wp = tensor_data(w), *bp = tensor_data(b);
  for (int64_t i = 0; i < outs * in; ++i) wp[i] = (float)(rng_normal(&r) * 0.1);
  for (int64_t i = 0; i < outs; ++i) bp[i] = (float)(rng_normal(&r) * 0.1);
  q8_model *h = fp32_gemm_head(w, b, in, outs, "scores");
  q8_tensor_destroy(w);
  q8_tensor_destroy(b);
  return h;
}

/* The tiny head's scores on `features` [n, in], in double from its weights. */
static void expect_scores(const q8_tensor *scores, const q8_tensor *features, const q8_model *head) {
  q8_session *hs = NULL;
  size_t n = 0, in_n = 0;
  int64_t fshape[8];
  Q8_OK_OR_FAIL(q8_tensor_shape(features, fshape, 8));
  Q8_OK_OR_FAIL(q8_tensor_numel(features, &in_n));
  const int64_t rows = fshape[0], in = (int64_t)in_n / rows;
  /* The head's own constants, through a session of the head on the same features. */
  Q8_OK_OR_FAIL(q8_session_create(head, rows, &hs));
  Q8_OK_OR_FAIL(q8_session_run(hs, &features, 1));
  const float *w = tensor_data(tensor_of(hs, "0.weight")), *b = tensor_data(tensor_of(hs, "0.bias"));
  const float *x = tensor_data(features), *y = tensor_data(scores);
  Q8_OK_OR_FAIL(q8_tensor_numel(scores, &n));
  const int64_t outs = (int64_t)n / rows;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < outs; ++o) {
      double ref = b[o];
      for (int64_t k = 0; k < in; ++k) ref += (double)x[r * in + k] * w[o * in + k];
      cr_assert(fabs(y[r * outs + o] - ref) <= 1e-4 * (1 + fabs(ref)), "row %ld out %ld: %g vs %g", (long)r,
                (long)o, y[r * outs + o], ref);
    }
  q8_session_destroy(hs);
}

/* ---- extraction ------------------------------------------------------------------------------ */

/* The FP32 MLP cut at both hidden activations (outputs in the order asked, not graph order):
 * those two tensors bit for bit; only the first two layers' weights remain. */
Test(surgery, fp32_extract_is_bit_exact) {
  q8_model *m = mlp();
  const char *names[2] = {"/3/Relu_output_0", "/1/Relu_output_0"};
  q8_model *e = extract(m, names, 2, 1);
  expect_output_name(e, 0, names[0]);
  expect_output_name(e, 1, names[1]);
  cr_assert_eq(nodes_of(e), 4, "Gemm Relu Gemm Relu, got %zu nodes", nodes_of(e));
  size_t bytes = 0;
  Q8_OK_OR_FAIL(q8_model_weight_bytes(e, &bytes));
  cr_assert_eq(bytes, 4 * (256 * 64 + 256 + 256 * 256 + 256));
  q8_session *full = run_held_out(m), *cut = run_held_out(e);
  expect_same_tensor(output_of(cut, 0), tensor_of(full, names[0]), names[0]);
  expect_same_tensor(output_of(cut, 1), tensor_of(full, names[1]), names[1]);
  q8_session_destroy(cut);
  q8_session_destroy(full);
  q8_model_destroy(e);
  /* A graph input is a computed tensor too: the model that returns its input. */
  e = extract1(m, "input", 0);
  cr_assert_eq(nodes_of(e), 0);
  q8_model_destroy(e);
  q8_model_destroy(m);
}

/* The static INT8 MLP cut by the FP32 name of a hidden activation: without dequantize, the u8
 * tensor the full model computes there (values and qparams); with it, exactly q8_dequantize of
 * that, under the FP32 name. */
Test(surgery, int8_extract_is_bit_exact) {
  q8_model *m = mlp(), *q = int8_of(m);
  q8_session *full = run_held_out(q);
  const q8_tensor *ref = tensor_of(full, "/1/Relu_output_0_quantized");

  q8_model *e = extract1(q, "/1/Relu_output_0", 0);
  expect_output_name(e, 0, "/1/Relu_output_0_quantized");
  cr_assert_eq(nodes_of(e), 2, "QuantizeLinear QGemm, got %zu nodes", nodes_of(e));
  q8_session *cut = run_held_out(e);
  expect_same_tensor(output_of(cut, 0), ref, "u8 features");
  q8_session_destroy(cut);
  q8_model_destroy(e);

  e = extract1(q, "/1/Relu_output_0", 1);
  expect_output_name(e, 0, "/1/Relu_output_0");
  expect_node(e, 2, "/1/Relu_output_0_dequantize", "DequantizeLinear", "/1/Relu_output_0_quantized");
  cut = run_held_out(e);
  q8_tensor *deq = dequantized(ref);
  expect_same_tensor(output_of(cut, 0), deq, "dequantized features");
  q8_tensor_destroy(deq);
  q8_session_destroy(cut);
  q8_model_destroy(e);

  /* The INT8 name works as well, and an f32 tensor of the INT8 model stays as it is. */
  const char *names[2] = {"/1/Relu_output_0_quantized", "logits"};
  e = extract(q, names, 2, 0);
  cut = run_held_out(e);
  expect_same_tensor(output_of(cut, 0), ref, "u8 features by INT8 name");
  expect_same_tensor(output_of(cut, 1), output_of(full, 0), "logits");
  q8_session_destroy(cut);
  q8_model_destroy(e);
  q8_session_destroy(full);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

/* The INT8 CNN: parameters found through Flatten and MaxPool (which keep them), and outputs in
 * the order asked. */
Test(surgery, int8_cnn_extract_through_layout_ops) {
  q8_model *m = cnn(), *q = int8_of(m);
  q8_session *full = run_held_out(q);
  const char *names[2] = {"/9/Flatten_output_0", "/6/MaxPool_output_0"};
  q8_model *e = extract(q, names, 2, 1);
  expect_output_name(e, 0, names[0]);
  expect_output_name(e, 1, names[1]);
  q8_session *cut = run_held_out(e);
  for (int i = 0; i < 2; ++i) {
    char qname[64];
    snprintf(qname, sizeof qname, "%s_quantized", names[i]);
    q8_tensor *deq = dequantized(tensor_of(full, qname));
    expect_same_tensor(output_of(cut, (size_t)i), deq, names[i]);
    q8_tensor_destroy(deq);
  }
  q8_session_destroy(cut);
  q8_session_destroy(full);
  q8_model_destroy(e);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

/* ---- heads ----------------------------------------------------------------------------------- */

/* FP32: cut at the features, the last layer appended back as a separate model: the full model's
 * logits bit for bit; clashing names get "_head"; a second head on top gets "_head2". */
Test(surgery, fp32_extract_append_is_the_full_model) {
  q8_model *m = mlp(), *head = mlp_fp32_head(m);
  q8_model *body = extract1(m, "/3/Relu_output_0", 1);
  q8_model *back = append1(body, head, "/3/Relu_output_0");
  cr_assert_eq(nodes_of(back), 5);
  expect_node(back, 4, "/0/Gemm_head", "Gemm", "/3/Relu_output_0");
  const char *w = NULL;
  Q8_OK_OR_FAIL(q8_model_node_input(back, 4, 1, &w));
  cr_assert_str_eq(w, "0.weight_head");
  expect_output_name(back, 0, "logits");
  q8_session *full = run_held_out(m), *s = run_held_out(back);
  expect_same_tensor(output_of(s, 0), output_of(full, 0), "logits");

  /* A second head on the logits: the names "_head" are taken now. */
  q8_model *h2 = tiny_head(10, 3, 7), *two = append1(back, h2, "logits");
  cr_assert_eq(nodes_of(two), 6);
  expect_node(two, 5, "/0/Gemm_head2", "Gemm", "logits");
  Q8_OK_OR_FAIL(q8_model_node_input(two, 5, 1, &w));
  cr_assert_str_eq(w, "0.weight_head2");
  q8_session *s2 = run_held_out(two);
  expect_scores(output_of(s2, 0), output_of(s, 0), h2);
  q8_session_destroy(s2);
  q8_session_destroy(s);
  q8_session_destroy(full);
  q8_model_destroy(two);
  q8_model_destroy(h2);
  q8_model_destroy(back);
  q8_model_destroy(body);
  q8_model_destroy(head);
  q8_model_destroy(m);
}

/* INT8: the u8 features (extracted by their FP32 name, not dequantized) feed the INT8 last layer
 * as a separate QGemm model: the full INT8 model's logits bit for bit, also after a .q8 round
 * trip of the appended model. */
Test(surgery, int8_extract_append_is_the_full_model) {
  q8_model *m = mlp(), *q = int8_of(m), *head = mlp_int8_head(q);
  q8_model *body = extract1(q, "/3/Relu_output_0", 0);
  q8_model *back = append1(body, head, "/3/Relu_output_0");
  expect_node(back, 3, "/4/Gemm", "QGemm", "/3/Relu_output_0_quantized");
  q8_session *full = run_held_out(q), *s = run_held_out(back);
  expect_same_tensor(output_of(s, 0), output_of(full, 0), "logits");
  void *bytes = NULL;
  size_t size = 0;
  Q8_OK_OR_FAIL(q8_model_save_bytes(back, &bytes, &size));
  q8_model *loaded = NULL;
  Q8_OK_OR_FAIL(q8_model_load_bytes(bytes, size, &loaded));
  q8_session *ls = run_held_out(loaded);
  expect_same_tensor(output_of(ls, 0), output_of(full, 0), "logits after a .q8 round trip");
  q8_session_destroy(ls);
  q8_model_destroy(loaded);
  q8_free(bytes);
  q8_session_destroy(s);
  q8_session_destroy(full);
  q8_model_destroy(back);
  q8_model_destroy(body);
  q8_model_destroy(head);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

/* A new FP32 head straight on the full models (no extract first): the old last layer is dropped;
 * on the INT8 model the FP32 name gives the head dequantized features. */
Test(surgery, new_head_on_fp32_and_int8) {
  q8_model *m = mlp(), *q = int8_of(m), *head = tiny_head(256, 3, 1);
  q8_model *a = append1(m, head, "/3/Relu_output_0");
  cr_assert_eq(nodes_of(a), 5, "4 layers of the base and the head, got %zu", nodes_of(a));
  expect_output_name(a, 0, "scores");
  q8_session *full = run_held_out(m), *s = run_held_out(a);
  expect_scores(output_of(s, 0), tensor_of(full, "/3/Relu_output_0"), head);
  q8_session_destroy(s);
  q8_session_destroy(full);
  q8_model_destroy(a);

  a = append1(q, head, "/3/Relu_output_0");
  cr_assert_eq(nodes_of(a), 5, "QuantizeLinear, 2 QGemm, DequantizeLinear, Gemm; got %zu", nodes_of(a));
  expect_node(a, 3, "/3/Relu_output_0_dequantize", "DequantizeLinear", "/3/Relu_output_0_quantized");
  expect_node(a, 4, "/0/Gemm_head", "Gemm", "/3/Relu_output_0");
  full = run_held_out(q);
  s = run_held_out(a);
  q8_tensor *deq = dequantized(tensor_of(full, "/3/Relu_output_0_quantized"));
  expect_same_tensor(tensor_of(s, "/3/Relu_output_0"), deq, "dequantized features");
  expect_scores(output_of(s, 0), deq, head);
  q8_tensor_destroy(deq);
  q8_session_destroy(s);
  q8_session_destroy(full);
  q8_model_destroy(a);
  q8_model_destroy(head);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

/* Extracted and appended models use the source models' weight bytes in place and keep them
 * alive: the same addresses, and the sources may go first. */
Test(surgery, weights_are_shared_not_copied) {
  q8_model *m = mlp(), *head = tiny_head(256, 3, 2);
  q8_model *e = extract1(m, "/1/Relu_output_0", 1);
  q8_model *a = append1(m, head, "/3/Relu_output_0");
  q8_session *sm = run_held_out(m), *se = run_held_out(e), *sa = run_held_out(a);
  cr_assert_eq(tensor_data(tensor_of(se, "0.weight")), tensor_data(tensor_of(sm, "0.weight")));
  cr_assert_eq(tensor_data(tensor_of(sa, "2.weight")), tensor_data(tensor_of(sm, "2.weight")));
  q8_session *sh = NULL;
  const q8_tensor *features = tensor_of(sm, "/3/Relu_output_0");
  Q8_OK_OR_FAIL(q8_session_create(head, (int64_t)g_test.n, &sh));
  Q8_OK_OR_FAIL(q8_session_run(sh, &features, 1));
  cr_assert_eq(tensor_data(tensor_of(sa, "0.weight_head")), tensor_data(tensor_of(sh, "0.weight")));
  static float before[DIGITS_MAX_ROWS * 256];
  size_t nbytes = 0;
  Q8_OK_OR_FAIL(q8_tensor_nbytes(output_of(se, 0), &nbytes));
  memcpy(before, tensor_data(output_of(se, 0)), nbytes);
  q8_session_destroy(sh);
  q8_session_destroy(sa);
  q8_session_destroy(se);
  q8_session_destroy(sm);
  q8_model_destroy(m);
  q8_model_destroy(head);
  se = run_held_out(e);
  cr_assert(memcmp(before, tensor_data(output_of(se, 0)), nbytes) == 0, "outputs changed after the source went");
  sa = run_held_out(a);
  q8_session_destroy(sa);
  q8_session_destroy(se);
  q8_model_destroy(a);
  q8_model_destroy(e);
}

/* ---- errors ---------------------------------------------------------------------------------- */

Test(surgery, extract_errors_name_the_problem) {
  q8_model *m = mlp(), *q = int8_of(m), *e = NULL;
  const char *one[1] = {"/1/Relu_output_0"};
  Q8_EXPECT_ERROR(q8_model_extract(NULL, one, 1, 1, &e), Q8_ERR_INVALID_ARGUMENT, "model is NULL");
  Q8_EXPECT_ERROR(q8_model_extract(m, one, 1, 1, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  Q8_EXPECT_ERROR(q8_model_extract(m, NULL, 1, 1, &e), Q8_ERR_INVALID_ARGUMENT, "outputs is NULL");
  Q8_EXPECT_ERROR(q8_model_extract(m, one, 0, 1, &e), Q8_ERR_INVALID_ARGUMENT, "count is 0");
  const char *with_null[2] = {"/1/Relu_output_0", NULL};
  Q8_EXPECT_ERROR(q8_model_extract(m, with_null, 2, 1, &e), Q8_ERR_INVALID_ARGUMENT, "outputs[1] is NULL");
  const char *unknown[1] = {"nope"};
  Q8_EXPECT_ERROR(q8_model_extract(m, unknown, 1, 1, &e), Q8_ERR_INVALID_ARGUMENT, "'nope'");
  cr_assert(strstr(q8_last_error(), "/3/Relu_output_0") != NULL, "candidates listed: %s", q8_last_error());
  const char *weight[1] = {"0.weight"};
  Q8_EXPECT_ERROR(q8_model_extract(m, weight, 1, 1, &e), Q8_ERR_INVALID_ARGUMENT, "'0.weight' is a constant");
  const char *twice[2] = {"/1/Relu_output_0", "/1/Relu_output_0"};
  Q8_EXPECT_ERROR(q8_model_extract(m, twice, 2, 1, &e), Q8_ERR_INVALID_ARGUMENT, "named twice");
  /* INT8: one tensor under its two names; the Gemm output that the quantized Gemm merged with the
   * Relu's has no INT8 form, and the message lists what there is. */
  const char *both[2] = {"/1/Relu_output_0", "/1/Relu_output_0_quantized"};
  Q8_EXPECT_ERROR(q8_model_extract(q, both, 2, 0, &e), Q8_ERR_INVALID_ARGUMENT, "same tensor");
  const char *merged[1] = {"/0/Gemm_output_0"};
  Q8_EXPECT_ERROR(q8_model_extract(q, merged, 1, 1, &e), Q8_ERR_INVALID_ARGUMENT, "/1/Relu_output_0_quantized");
  /* A u8 graph input has no parameters in the graph to dequantize with. */
  q8_model *head = mlp_int8_head(q);
  const char *features[1] = {"features"};
  Q8_EXPECT_ERROR(q8_model_extract(head, features, 1, 1, &e), Q8_ERR_UNSUPPORTED, "'features' is u8");
  cr_assert(e == NULL, "no model on failure");
  q8_model *ok = extract(head, features, 1, 0); /* as integers it is fine */
  q8_model_destroy(ok);
  q8_model_destroy(head);
  q8_model_destroy(q);
  q8_model_destroy(m);
}

Test(surgery, append_errors_name_both_tensors) {
  q8_model *m = mlp(), *q = int8_of(m), *head = tiny_head(256, 3, 3), *qhead = mlp_int8_head(q), *r = NULL;
  const char *c[2] = {"/3/Relu_output_0", "/1/Relu_output_0"};
  Q8_EXPECT_ERROR(q8_model_append(NULL, head, c, 1, &r), Q8_ERR_INVALID_ARGUMENT, "base is NULL");
  Q8_EXPECT_ERROR(q8_model_append(m, NULL, c, 1, &r), Q8_ERR_INVALID_ARGUMENT, "head is NULL");
  Q8_EXPECT_ERROR(q8_model_append(m, head, c, 1, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  Q8_EXPECT_ERROR(q8_model_append(m, head, NULL, 1, &r), Q8_ERR_INVALID_ARGUMENT, "connect is NULL");
  Q8_EXPECT_ERROR(q8_model_append(m, head, c, 0, &r), Q8_ERR_INVALID_ARGUMENT, "connect_count is 0");
  Q8_EXPECT_ERROR(q8_model_append(m, head, c, 2, &r), Q8_ERR_INVALID_ARGUMENT, "the head has 1 input, connect names 2");
  const char *with_null[1] = {NULL};
  Q8_EXPECT_ERROR(q8_model_append(m, head, with_null, 1, &r), Q8_ERR_INVALID_ARGUMENT, "connect[0] is NULL");
  const char *unknown[1] = {"nope"};
  Q8_EXPECT_ERROR(q8_model_append(m, head, unknown, 1, &r), Q8_ERR_INVALID_ARGUMENT, "connect[0] 'nope'");
  /* The INT8 name means the u8 tensor: an f32 head cannot take it; a u8 head cannot take f32. */
  const char *int8_name[1] = {"/3/Relu_output_0_quantized"};
  Q8_EXPECT_ERROR(q8_model_append(q, head, int8_name, 1, &r), Q8_ERR_DTYPE,
                  "head input 'features' and base tensor '/3/Relu_output_0_quantized': the head takes f32, the tensor is u8");
  Q8_EXPECT_ERROR(q8_model_append(m, qhead, c, 1, &r), Q8_ERR_DTYPE,
                  "head input 'features' and base tensor '/3/Relu_output_0': the head takes u8, the tensor is f32");
  /* Stated shapes must agree: the graph input is [N,64]. */
  const char *input[1] = {"input"};
  Q8_EXPECT_ERROR(q8_model_append(m, head, input, 1, &r), Q8_ERR_SHAPE,
                  "head input 'features' and base tensor 'input': the head takes [N,256], the tensor is [N,64]");
  cr_assert(r == NULL, "no model on failure");
  /* An intermediate's shape is not stated: a mismatch (the CNN's 128 features into 256) passes
   * append and fails the session, which names the head's node (no CNN node is called /0/Gemm, so
   * it keeps its name). */
  q8_model *c8 = cnn();
  r = append1(c8, head, "/11/Relu_output_0");
  q8_session *s = NULL;
  const q8_status st = q8_session_create(r, 4, &s);
  cr_assert_neq(st, Q8_OK);
  cr_assert(strstr(q8_last_error(), "node '/0/Gemm'") != NULL, "%s", q8_last_error());
  q8_model_destroy(r);
  q8_model_destroy(c8);
  q8_model_destroy(qhead);
  q8_model_destroy(head);
  q8_model_destroy(q);
  q8_model_destroy(m);
}
