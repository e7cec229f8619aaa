/* Streaming weight-only quantization of ONNX models (q8_checkpoint_quantize on an .onnx input):
 * the fixtures of scripts/make_onnx_external_fixtures.py (tests/data/onnx_external), every
 * initializer in an external file. Codes, scales and zero points are checked bit for bit against
 * a reference written here from the definitions, per output channel whichever way the weight is
 * stored (MatMul's and Gemm's B [K, N]: columns; Gemm with transB = 1: rows); the output model runs
 * and matches the same network computed here in double from its dequantized weights, and the
 * FP32 model within the quantization error; the bytes do not depend on threads, budget or where
 * the initializers are stored; edge shapes (one channel, depth 1, odd sizes); bad inputs fail
 * cleanly and leave no output. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static char g_dir[64], g_out[128];

static void setup(void) {
  make_tmpdir(g_dir, "q8-ckpt-onnx");
  snprintf(g_out, sizeof g_out, "%s/out.q8", g_dir);
}

static void teardown(void) { remove_tree(g_dir); }

TestSuite(checkpoint_onnx, .init = setup, .fini = teardown);

static void fixture(const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/onnx_external/%s", data_dir(), name);
}

static q8_checkpoint_options options(q8_weight_format format, uint32_t group, uint64_t min_elements) {
  q8_checkpoint_options o;
  Q8_OK_OR_FAIL(q8_checkpoint_options_init(&o));
  o.format = format;
  o.group_size = group;
  o.min_elements = min_elements;
  return o;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }
static int same_bits(float a, float b) { return memcmp(&a, &b, 4) == 0; }

/* ---- sessions -------------------------------------------------------------------------------- */

enum { kBatch = 5, kIn = 64, kOut = 40 };

typedef struct {
  q8_model *m;
  q8_session *s;
  q8_tensor *x;
} run_t;

static run_t run(q8_model *m) {
  run_t r = {m, NULL, NULL};
  const int64_t shape[2] = {kBatch, kIn};
  r.x = make_tensor(Q8_DTYPE_F32, shape, 2);
  float *x = tensor_data(r.x);
  for (int i = 0; i < kBatch * kIn; ++i) x[i] = (float)((i * 29) % 31 - 15) / 8.0f;
  Q8_OK_OR_FAIL(q8_session_create(m, kBatch, &r.s));
  const q8_tensor *in[1] = {r.x};
  Q8_OK_OR_FAIL(q8_session_run(r.s, in, 1));
  return r;
}

static void run_free(run_t *r) {
  q8_session_destroy(r->s);
  q8_tensor_destroy(r->x);
  q8_model_destroy(r->m);
}

/* Tensor `name` of the session, of the given dtype and shape (d1 < 0: rank 1). */
static const void *tensor(const run_t *r, const char *name, q8_dtype dt, int64_t d0, int64_t d1) {
  const q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_session_tensor(r->s, name, &t));
  q8_dtype got;
  size_t rank;
  int64_t shape[8];
  Q8_OK_OR_FAIL(q8_tensor_dtype(t, &got));
  Q8_OK_OR_FAIL(q8_tensor_rank(t, &rank));
  Q8_OK_OR_FAIL(q8_tensor_shape(t, shape, 8));
  cr_assert_eq(got, dt, "%s: dtype %d, wanted %d", name, (int)got, (int)dt);
  cr_assert_eq(rank, d1 < 0 ? 1u : 2u, "%s: rank %zu", name, rank);
  cr_assert_eq(shape[0], d0, "%s: dim 0 is %lld, wanted %lld", name, (long long)shape[0], (long long)d0);
  if (d1 >= 0) cr_assert_eq(shape[1], d1, "%s: dim 1 is %lld, wanted %lld", name, (long long)shape[1], (long long)d1);
  void *p = NULL;
  Q8_OK_OR_FAIL(q8_tensor_data(t, &p));
  return p;
}

static const char *suffixed(const char *name, const char *suffix) {
  static char buf[4][128];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s%s", name, suffix);
  return buf[k];
}

/* ---- the reference --------------------------------------------------------------------------- */

/* A weight W [rows, cols] as stored; its output channels are its columns or its rows. Element k
 * of channel ch is w[k * cols + ch] or w[ch * cols + k]. */
typedef struct {
  const char *name;
  int64_t rows, cols;
  int columns;
} weight_t;

static int64_t channels(const weight_t *w) { return w->columns ? w->cols : w->rows; }
static int64_t depth(const weight_t *w) { return w->columns ? w->rows : w->cols; }
static size_t at(const weight_t *w, int64_t ch, int64_t k) {
  return (size_t)(w->columns ? k * w->cols + ch : ch * w->cols + k);
}

/* INT8 per channel: scale max|channel| / 127 (1 when all zero, at least FLT_EPSILON), codes rounded
 * half to even, clamped to [-127, 127], zero points 0, stored as W is. */
static void check_int8(const run_t *q, const float *x, const weight_t *w) {
  const int64_t nch = channels(w);
  const int8_t *codes = tensor(q, suffixed(w->name, "_quantized"), Q8_DTYPE_S8, w->rows, w->cols);
  const float *scales = tensor(q, suffixed(w->name, "_scale"), Q8_DTYPE_F32, nch, -1);
  const int8_t *zps = tensor(q, suffixed(w->name, "_zero_point"), Q8_DTYPE_S8, nch, -1);
  const float *y = tensor(q, w->name, Q8_DTYPE_F32, w->rows, w->cols);
  for (int64_t ch = 0; ch < nch; ++ch) {
    float m = 0;
    for (int64_t k = 0; k < depth(w); ++k) m = fmaxf(m, fabsf(x[at(w, ch, k)]));
    const float scale = m == 0 ? 1.0f : fmaxf(m / 127.0f, FLT_EPSILON);
    cr_assert(same_bits(scales[ch], scale), "%s channel %lld: scale %a, reference %a", w->name, (long long)ch,
              scales[ch], scale);
    cr_assert_eq(zps[ch], 0);
    for (int64_t k = 0; k < depth(w); ++k) {
      const size_t i = at(w, ch, k);
      const int want = (int)clampf(nearbyintf(x[i] / scale), -127, 127);
      cr_assert_eq(codes[i], want, "%s channel %lld, k %lld: code %d, reference %d", w->name, (long long)ch,
                   (long long)k, codes[i], want);
      cr_assert(same_bits(y[i], (float)want * scale), "%s [%zu]: dequantized %a", w->name, i, y[i]);
    }
  }
}

/* INT4, groups of `group` along each channel (the last may be shorter): range widened to 0,
 * scale (max - min) / 15, zero point round(-min / scale) in [0, 15]; codes stored per channel
 * ([channels, ceil(depth / 2)], low nibble first), so W^T when the channels are columns. */
static void check_int4(const run_t *q, const float *x, const weight_t *w, int64_t group) {
  const int64_t nch = channels(w), d = depth(w), groups = (d + group - 1) / group, packed = (d + 1) / 2;
  const uint8_t *codes = tensor(q, suffixed(w->name, "_quantized"), Q8_DTYPE_U8, nch, packed);
  const float *scales = tensor(q, suffixed(w->name, "_scale"), Q8_DTYPE_F32, nch, groups);
  const uint8_t *zps = tensor(q, suffixed(w->name, "_zero_point"), Q8_DTYPE_U8, nch, groups);
  const float *y = tensor(q, w->name, Q8_DTYPE_F32, w->rows, w->cols);
  for (int64_t ch = 0; ch < nch; ++ch) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t k0 = g * group, k1 = k0 + group < d ? k0 + group : d;
      float lo = 0, hi = 0;
      for (int64_t k = k0; k < k1; ++k) {
        lo = fminf(lo, x[at(w, ch, k)]);
        hi = fmaxf(hi, x[at(w, ch, k)]);
      }
      const float scale = lo == hi ? 1.0f : fmaxf((hi - lo) / 15.0f, FLT_EPSILON);
      const int zp = lo == hi ? 0 : (int)clampf(-nearbyintf(lo / scale), 0, 15);
      const size_t gi = (size_t)(ch * groups + g);
      cr_assert(same_bits(scales[gi], scale), "%s channel %lld group %lld: scale %a, reference %a", w->name,
                (long long)ch, (long long)g, scales[gi], scale);
      cr_assert_eq(zps[gi], zp, "%s channel %lld group %lld: zero point", w->name, (long long)ch, (long long)g);
      for (int64_t k = k0; k < k1; ++k) {
        const size_t i = at(w, ch, k);
        const int want = (int)clampf(nearbyintf(x[i] / scale) + (float)zp, 0, 15);
        const uint8_t byte = codes[ch * packed + k / 2];
        cr_assert_eq(k % 2 ? byte >> 4 : byte & 15, want, "%s channel %lld, k %lld: code", w->name, (long long)ch,
                     (long long)k);
        cr_assert(same_bits(y[i], (float)(want - zp) * scale), "%s [%zu]: dequantized %a", w->name, i, y[i]);
      }
    }
    if (d % 2) cr_assert_eq(codes[ch * packed + packed - 1] >> 4, 0, "%s: the pad nibble", w->name);
  }
}

/* linear_ext.onnx: Y = relu(relu(X W1 + b1) W2^T + b2) W3 + b3, in double, from the session's
 * tensors (the dequantized weights in a quantized model). */
static void forward(const run_t *r, double *y) {
  const float *x = tensor_data(r->x);
  const float *w1 = tensor(r, "W1", Q8_DTYPE_F32, 64, 96), *b1 = tensor(r, "b1", Q8_DTYPE_F32, 96, -1);
  const float *w2 = tensor(r, "W2", Q8_DTYPE_F32, 47, 96), *b2 = tensor(r, "b2", Q8_DTYPE_F32, 47, -1);
  const float *w3 = tensor(r, "W3", Q8_DTYPE_F32, 47, 40), *b3 = tensor(r, "b3", Q8_DTYPE_F32, 40, -1);
  for (int n = 0; n < kBatch; ++n) {
    double h1[96], h2[47];
    for (int j = 0; j < 96; ++j) {
      double s = b1[j];
      for (int k = 0; k < 64; ++k) s += (double)x[n * 64 + k] * w1[k * 96 + j];
      h1[j] = s > 0 ? s : 0;
    }
    for (int j = 0; j < 47; ++j) {
      double s = b2[j];
      for (int k = 0; k < 96; ++k) s += h1[k] * w2[j * 96 + k];
      h2[j] = s > 0 ? s : 0;
    }
    for (int j = 0; j < 40; ++j) {
      double s = b3[j];
      for (int k = 0; k < 47; ++k) s += h2[k] * w3[k * 40 + j];
      y[n * 40 + j] = s;
    }
  }
}

static double max_abs_diff(const float *a, const double *b, size_t n, double *scale) {
  double d = 0, m = 0;
  for (size_t i = 0; i < n; ++i) {
    d = fmax(d, fabs(a[i] - b[i]));
    m = fmax(m, fabs(b[i]));
  }
  *scale = m;
  return d;
}

static const weight_t kWeights[] = {{"W1", 64, 96, 1}, {"W2", 47, 96, 0}, {"W3", 47, 40, 1}};

/* Quantizes linear_ext.onnx; checks every weight against the reference and the outputs. */
static void quantize_and_check(q8_weight_format format, uint32_t group, double tolerance) {
  char in[1024];
  fixture("linear_ext.onnx", in, sizeof in);
  q8_checkpoint_options o = options(format, group, 1000);
  q8_checkpoint_report rep;
  rep.struct_size = sizeof rep;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(in, g_out, &o, &rep));
  cr_assert_eq(rep.tensors, 6);
  cr_assert_eq(rep.quantized_tensors, 3);

  q8_model *fm = NULL, *qm = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(in, &fm));
  Q8_OK_OR_FAIL(q8_model_load(g_out, &qm));
  run_t f = run(fm), q = run(qm);
  for (size_t i = 0; i < 3; ++i) {
    const weight_t *w = &kWeights[i];
    const float *x = tensor(&f, w->name, Q8_DTYPE_F32, w->rows, w->cols);
    if (format == Q8_WEIGHTS_INT8_PER_CHANNEL) check_int8(&q, x, w);
    else check_int4(&q, x, w, group);
  }
  /* Biases are kept bit for bit. */
  for (int i = 0; i < 3; ++i) {
    static const char *const b[] = {"b1", "b2", "b3"};
    static const int64_t n[] = {96, 47, 40};
    cr_assert(memcmp(tensor(&f, b[i], Q8_DTYPE_F32, n[i], -1), tensor(&q, b[i], Q8_DTYPE_F32, n[i], -1), (size_t)n[i] * 4) == 0);
  }
  const q8_tensor *yq = NULL, *yf = NULL;
  Q8_OK_OR_FAIL(q8_session_output(q.s, 0, &yq));
  Q8_OK_OR_FAIL(q8_session_output(f.s, 0, &yf));
  double ref[kBatch * kOut], scale;
  /* The quantized model computes the network with its dequantized weights ... */
  forward(&q, ref);
  double d = max_abs_diff(tensor_data(yq), ref, kBatch * kOut, &scale);
  cr_assert(d <= 1e-5 * (1 + scale), "quantized model vs its own weights in double: %g (scale %g)", d, scale);
  /* ... which are the FP32 model's within the quantization error. */
  forward(&f, ref);
  d = max_abs_diff(tensor_data(yf), ref, kBatch * kOut, &scale);
  cr_assert(d <= 1e-5 * (1 + scale), "FP32 model vs double: %g", d);
  d = max_abs_diff(tensor_data(yq), ref, kBatch * kOut, &scale);
  cr_assert(d <= tolerance * scale, "quantized vs FP32: max error %g of %g (tolerance %g)", d, scale, tolerance);
  cr_assert(d > 0, "no quantization error at all: were the weights quantized?");
  run_free(&f);
  run_free(&q);
}

Test(checkpoint_onnx, int8_per_output_channel) { quantize_and_check(Q8_WEIGHTS_INT8_PER_CHANNEL, 64, 0.02); }
Test(checkpoint_onnx, int4_group_32) { quantize_and_check(Q8_WEIGHTS_INT4_GROUPED, 32, 0.25); }
Test(checkpoint_onnx, int4_group_64) { quantize_and_check(Q8_WEIGHTS_INT4_GROUPED, 64, 0.25); }

/* Only the weights with at least min_elements values are quantized; the rest stays as it was. */
Test(checkpoint_onnx, small_weights_and_keep_stay_f32) {
  char in[1024];
  fixture("linear_ext.onnx", in, sizeof in);
  for (int keep = 0; keep < 2; ++keep) {
    q8_checkpoint_options o = options(Q8_WEIGHTS_INT8_PER_CHANNEL, 64, 4096);  /* W3 has 1880 */
    const char *names[] = {"W2"};
    o.keep_fp32 = keep ? names : NULL;
    o.keep_fp32_count = keep ? 1 : 0;
    q8_checkpoint_report rep;
    rep.struct_size = sizeof rep;
    Q8_OK_OR_FAIL(q8_checkpoint_quantize(in, g_out, &o, &rep));
    cr_assert_eq(rep.quantized_tensors, keep ? 1u : 2u);
    q8_model *fm = NULL, *qm = NULL;
    Q8_OK_OR_FAIL(q8_model_load_onnx(in, &fm));
    Q8_OK_OR_FAIL(q8_model_load(g_out, &qm));
    run_t f = run(fm), q = run(qm);
    const q8_tensor *t = NULL;
    Q8_OK_OR_FAIL(q8_session_tensor(q.s, "W1_quantized", &t));
    Q8_EXPECT_STATUS(q8_session_tensor(q.s, "W3_quantized", &t), Q8_ERR_INVALID_ARGUMENT);
    cr_assert(memcmp(tensor(&f, "W3", Q8_DTYPE_F32, 47, 40), tensor(&q, "W3", Q8_DTYPE_F32, 47, 40), 47 * 40 * 4) == 0);
    if (keep) cr_assert(memcmp(tensor(&f, "W2", Q8_DTYPE_F32, 47, 96), tensor(&q, "W2", Q8_DTYPE_F32, 47, 96), 47 * 96 * 4) == 0);
    run_free(&f);
    run_free(&q);
  }
}

/* ---- stream.onnx: weights written here ---------------------------------------------------------- */

static const struct {
  const char *name;
  int64_t rows, cols;  /* cols 0: 1-D */
} kStream[] = {{"W1", 1000, 1030}, {"b1", 1030, 0}, {"W2", 517, 1030}, {"b2", 517, 0}, {"W3", 517, 999}, {"b3", 999, 0}};

/* Element i of tensor t: a hash in [-1, 1) times a scale that varies along both axes. */
static float value(int t, size_t i) {
  uint64_t x = ((uint64_t)t << 40) ^ (uint64_t)i;
  x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 29)) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return ((float)(x >> 40) / 8388608.0f - 1.0f) * (0.01f + 0.001f * (float)(i % 89));
}

/* Copies stream.onnx into the scratch directory and writes its stream.bin (a NaN at element
 * `nan_at` of W3 when >= 0); returns the model's path. */
static const char *write_stream(long nan_at) {
  static char path[128];
  char src[1024], bin[128];
  fixture("stream.onnx", src, sizeof src);
  blob b = read_whole(src);
  snprintf(path, sizeof path, "%s/stream.onnx", g_dir);
  write_whole(path, b.p, b.n);
  free(b.p);
  snprintf(bin, sizeof bin, "%s/stream.bin", g_dir);
  FILE *f = fopen(bin, "wb");
  cr_assert(f != NULL);
  for (int t = 0; t < 6; ++t) {
    const size_t n = (size_t)(kStream[t].rows * (kStream[t].cols ? kStream[t].cols : 1));
    float *v = malloc(n * 4);
    for (size_t i = 0; i < n; ++i) v[i] = value(t, i);
    if (t == 4 && nan_at >= 0) v[nan_at] = NAN;
    const size_t padded = (n * 4 + 63) / 64 * 64;
    cr_assert_eq(fwrite(v, 4, n, f), n);
    for (size_t k = n * 4; k < padded; ++k) fputc(0, f);
    free(v);
  }
  cr_assert_eq(fclose(f), 0);
  return path;
}

/* Tensors cut into several blocks (a 16 MiB budget): the same bytes whatever the threads and the
 * budget, and the model runs like the FP32 one within the quantization error. */
Test(checkpoint_onnx, same_bytes_whatever_threads_and_memory) {
  const char *in = write_stream(-1);
  for (int format = 0; format < 2; ++format) {
    blob first = {NULL, 0};
    static const size_t threads[] = {1, 2, 1, 2, 3};
    static const uint64_t memory[] = {16u << 20, 16u << 20, 512u << 20, 512u << 20, 17u << 20};
    for (int k = 0; k < 5; ++k) {
      q8_checkpoint_options o = options((q8_weight_format)format, 32, 4096);
      o.threads = threads[k];
      o.max_memory = memory[k];
      q8_checkpoint_report rep;
      rep.struct_size = sizeof rep;
      Q8_OK_OR_FAIL(q8_checkpoint_quantize(in, g_out, &o, &rep));
      cr_assert_eq(rep.quantized_tensors, 3);
      cr_assert(rep.peak_in_flight_bytes > 0 && rep.peak_in_flight_bytes <= memory[k]);
      blob b = read_whole(g_out);
      cr_assert_eq(b.n, rep.output_bytes);
      if (!first.p) {
        first = b;
        continue;
      }
      cr_assert(b.n == first.n && memcmp(b.p, first.p, b.n) == 0, "format %d: threads %zu, max_memory %llu gave other bytes",
                format, threads[k], (unsigned long long)memory[k]);
      free(b.p);
    }
    free(first.p);

    /* Every code against the reference, and the outputs against FP32. */
    q8_model *fm = NULL, *qm = NULL;
    Q8_OK_OR_FAIL(q8_model_load_onnx(in, &fm));
    Q8_OK_OR_FAIL(q8_model_load(g_out, &qm));
    q8_session *fs = NULL, *qs = NULL;
    Q8_OK_OR_FAIL(q8_session_create(fm, 2, &fs));
    Q8_OK_OR_FAIL(q8_session_create(qm, 2, &qs));
    const int64_t shape[2] = {2, 1000};
    q8_tensor *xt = make_tensor(Q8_DTYPE_F32, shape, 2);
    float *xd = tensor_data(xt);
    for (int i = 0; i < 2000; ++i) xd[i] = value(9, (size_t)i) * 50.0f;
    const q8_tensor *inputs[1] = {xt}, *yf = NULL, *yq = NULL;
    Q8_OK_OR_FAIL(q8_session_run(fs, inputs, 1));
    Q8_OK_OR_FAIL(q8_session_run(qs, inputs, 1));
    run_t q = {qm, qs, NULL};
    static const weight_t w[] = {{"W1", 1000, 1030, 1}, {"W2", 517, 1030, 0}, {"W3", 517, 999, 1}};
    for (int i = 0; i < 3; ++i) {
      const run_t f = {fm, fs, NULL};
      const float *x = tensor(&f, w[i].name, Q8_DTYPE_F32, w[i].rows, w[i].cols);
      if (format == 0) check_int8(&q, x, &w[i]);
      else check_int4(&q, x, &w[i], 32);
    }
    Q8_OK_OR_FAIL(q8_session_output(fs, 0, &yf));
    Q8_OK_OR_FAIL(q8_session_output(qs, 0, &yq));
    const float *a = tensor_data(yf), *b = tensor_data(yq);
    double d = 0, m = 0;
    for (int i = 0; i < 2 * 999; ++i) {
      d = fmax(d, fabs((double)a[i] - b[i]));
      m = fmax(m, fabs((double)a[i]));
    }
    cr_assert(m > 0 && d <= (format == 0 ? 0.03 : 0.3) * m, "format %d: max error %g of %g", format, d, m);
    q8_tensor_destroy(xt);
    q8_session_destroy(fs);
    q8_session_destroy(qs);
    q8_model_destroy(fm);
    q8_model_destroy(qm);
  }
}

/* A kept tensor larger than one block is cut into element ranges, each from its own place. */
Test(checkpoint_onnx, kept_tensor_in_several_blocks) {
  const char *in = write_stream(-1);
  q8_checkpoint_options o = options(Q8_WEIGHTS_INT8_PER_CHANNEL, 64, 4096);
  const char *keep[] = {"W1"};
  o.keep_fp32 = keep;
  o.keep_fp32_count = 1;
  o.threads = 1;
  o.max_memory = 16u << 20; /* blocks of at most 4 MiB; W1 is 4.12 MB */
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(in, g_out, &o, NULL));
  q8_model *qm = NULL;
  Q8_OK_OR_FAIL(q8_model_load(g_out, &qm));
  q8_session *qs = NULL;
  Q8_OK_OR_FAIL(q8_session_create(qm, 1, &qs));
  const int64_t shape[2] = {1, 1000};
  q8_tensor *xt = make_tensor(Q8_DTYPE_F32, shape, 2);
  const q8_tensor *inputs[1] = {xt};
  Q8_OK_OR_FAIL(q8_session_run(qs, inputs, 1));
  q8_tensor_destroy(xt);
  run_t q = {qm, qs, NULL};
  const float *w1 = tensor(&q, "W1", Q8_DTYPE_F32, 1000, 1030);
  for (size_t i = 0; i < 1000 * 1030; ++i) cr_assert(same_bits(w1[i], value(0, i)), "W1[%zu] = %a, wanted %a", i, w1[i], value(0, i));
  q8_session_destroy(qs);
  q8_model_destroy(qm);
}

Test(checkpoint_onnx, nan_is_an_error_naming_the_column) {
  const char *in = write_stream(5 * 999 + 7); /* W3 [5, 7]: column 7 */
  for (int format = 0; format < 2; ++format) {
    q8_checkpoint_options o = options((q8_weight_format)format, 32, 4096);
    Q8_EXPECT_ERROR(q8_checkpoint_quantize(in, g_out, &o, NULL), Q8_ERR_INVALID_ARGUMENT, "tensor 'W3': column 7");
    cr_assert(access(g_out, F_OK) != 0, "an output was left behind");
  }
}

Test(checkpoint_onnx, bad_inputs) {
  char in[1024], path[128];
  fixture("linear_ext.onnx", in, sizeof in);
  q8_checkpoint_options o = options(Q8_WEIGHTS_INT8_PER_CHANNEL, 64, 1000);
  const char *keep[] = {"h1"};
  o.keep_fp32 = keep;
  o.keep_fp32_count = 1;
  Q8_EXPECT_ERROR(q8_checkpoint_quantize(in, g_out, &o, NULL), Q8_ERR_INVALID_ARGUMENT, "'h1', which is not an initializer");

  /* The model without its external file. */
  blob b = read_whole(in);
  snprintf(path, sizeof path, "%s/linear_ext.onnx", g_dir);
  write_whole(path, b.p, b.n);
  free(b.p);
  o = options(Q8_WEIGHTS_INT8_PER_CHANNEL, 64, 1000);
  Q8_EXPECT_ERROR(q8_checkpoint_quantize(path, g_out, &o, NULL), Q8_ERR_IO, "initializer 'W1'");

  /* Not a model. */
  snprintf(path, sizeof path, "%s/junk.onnx", g_dir);
  write_whole(path, "\x08\x07junk", 6);
  Q8_EXPECT_STATUS(q8_checkpoint_quantize(path, g_out, &o, NULL), Q8_ERR_FORMAT);
  /* An unsupported model: a checker-valid ONNX model that q8 cannot import. */
  char bad[1024];
  fixture("mlp_bad_absolute.onnx", bad, sizeof bad);
  Q8_EXPECT_ERROR(q8_checkpoint_quantize(bad, g_out, &o, NULL), Q8_ERR_FORMAT, "absolute path");
  cr_assert(access(g_out, F_OK) != 0, "an output was left behind");
}

/* Edge shapes: a single output channel (E1 [7, 1], E4 [63, 1]), depth 1 (E2 [1, 65]: one short
 * INT4 group, an odd packed row), odd sizes around 64 (E3 [63, 65] with transB = 1). */
Test(checkpoint_onnx, edge_shapes) {
  char in[1024];
  fixture("edges_ext.onnx", in, sizeof in);
  static const weight_t w[] = {{"E1", 7, 1, 1}, {"E2", 1, 65, 1}, {"E3", 63, 65, 0}, {"E4", 63, 1, 1}};
  for (int format = 0; format < 2; ++format) {
    q8_checkpoint_options o = options((q8_weight_format)format, 32, 0);
    q8_checkpoint_report rep;
    rep.struct_size = sizeof rep;
    Q8_OK_OR_FAIL(q8_checkpoint_quantize(in, g_out, &o, &rep));
    cr_assert_eq(rep.quantized_tensors, 4);
    q8_model *fm = NULL, *qm = NULL;
    Q8_OK_OR_FAIL(q8_model_load_onnx(in, &fm));
    Q8_OK_OR_FAIL(q8_model_load(g_out, &qm));
    q8_session *fs = NULL, *qs = NULL;
    Q8_OK_OR_FAIL(q8_session_create(fm, 3, &fs));
    Q8_OK_OR_FAIL(q8_session_create(qm, 3, &qs));
    const int64_t shape[2] = {3, 7};
    q8_tensor *xt = make_tensor(Q8_DTYPE_F32, shape, 2);
    float *xd = tensor_data(xt);
    for (int i = 0; i < 21; ++i) xd[i] = (float)(i % 5) - 2.0f;
    const q8_tensor *inputs[1] = {xt};
    Q8_OK_OR_FAIL(q8_session_run(fs, inputs, 1));
    Q8_OK_OR_FAIL(q8_session_run(qs, inputs, 1));
    const run_t f = {fm, fs, NULL}, q = {qm, qs, NULL};
    for (int i = 0; i < 4; ++i) {
      const float *x = tensor(&f, w[i].name, Q8_DTYPE_F32, w[i].rows, w[i].cols);
      if (format == 0) check_int8(&q, x, &w[i]);
      else check_int4(&q, x, &w[i], 32);
    }
    q8_tensor_destroy(xt);
    q8_session_destroy(fs);
    q8_session_destroy(qs);
    q8_model_destroy(fm);
    q8_model_destroy(qm);
  }
}

/* Where the initializers live (inline in the proto, an external file, odd offsets in it) does
 * not change the output. */
Test(checkpoint_onnx, inline_and_external_give_the_same_bytes) {
  static const char *const models[] = {"mlp.onnx", "mlp_ext.onnx", "mlp_odd.onnx"};
  for (int format = 0; format < 2; ++format) {
    blob first = {NULL, 0};
    for (int k = 0; k < 3; ++k) {
      char in[1024];
      fixture(models[k], in, sizeof in);
      q8_checkpoint_options o = options((q8_weight_format)format, 32, 0);
      q8_checkpoint_report rep;
      rep.struct_size = sizeof rep;
      Q8_OK_OR_FAIL(q8_checkpoint_quantize(in, g_out, &o, &rep));
      cr_assert_eq(rep.quantized_tensors, 3, "%s: %zu quantized", models[k], rep.quantized_tensors);
      blob b = read_whole(g_out);
      if (!first.p) {
        first = b;
        continue;
      }
      cr_assert(b.n == first.n && memcmp(b.p, first.p, b.n) == 0, "%s: other bytes than mlp.onnx", models[k]);
      free(b.p);
    }
    free(first.p);
  }
}
