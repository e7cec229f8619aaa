/* The memory cap on an ONNX model, measured from outside: rss.onnx (tests/data/onnx_external,
 * argv[2]) is copied into a scratch directory and its external data rss.bin (three 4096 x 4096
 * FP32 weights and their biases, 201 MB) is written next to it; `q8 quantize rss.onnx --max-memory
 * 32M` (argv[1]) runs as a child process, INT8 then INT4, and each child's peak resident memory
 * (wait4's ru_maxrss) must stay under the budget + 64 MiB for the program itself. W1 is MatMul's
 * B [K, N], quantized per column (two passes over it), so the first pass's pages must be handed
 * back too. The INT8 output's W1 codes and scales are then checked against the reference computed
 * here. A plain program (not Criterion): exit status 0 on success. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child_rss.h"
#include "q8/q8.h"

enum { kD = 4096 };
static const uint64_t kBudget = 32u << 20, kSlack = 64u << 20;

static char g_dir[64], g_model[128], g_bin[128], g_out[128];

static void cleanup(void) {
  unlink(g_model);
  unlink(g_bin);
  unlink(g_out);
  rmdir(g_dir);
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "test_checkpoint_onnx_rss: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  cleanup();
  exit(1);
}

/* Element i of tensor t: a hash in [-1, 1) times a scale that varies along both axes. */
static float value(int t, uint64_t i) {
  uint64_t x = ((uint64_t)t << 48) ^ i;
  x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 29)) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return ((float)(x >> 40) / 8388608.0f - 1.0f) * (0.01f + 0.001f * (float)(i % 97));
}

/* W1, b1, W2, b2, W3, b3 in initializer order, each at the next multiple of 64 bytes (4096-float
 * tensors are multiples already), as scripts/make_onnx_external_fixtures.py wrote the offsets. */
static void write_model(const char *fixture) {
  FILE *in = fopen(fixture, "rb"), *out = fopen(g_model, "wb");
  if (!in || !out) die("cannot copy %s", fixture);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
  fclose(in);
  if (fclose(out) != 0) die("cannot write %s", g_model);
  FILE *f = fopen(g_bin, "wb");
  if (!f) die("cannot create %s", g_bin);
  static float row[kD];
  for (int t = 0; t < 6; ++t) {
    const int rows = t % 2 ? 1 : kD;
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < kD; ++c) row[c] = value(t, (uint64_t)r * kD + (uint64_t)c);
      fwrite(row, 4, kD, f);
    }
  }
  if (fclose(f) != 0) die("cannot write %s", g_bin);
}

/* Runs the CLI on the model; returns its peak RSS in bytes. */
static uint64_t run_cli(const char *q8, const char *weights) {
  char *const argv[] = {(char *)q8, (char *)"quantize", g_model, (char *)"-o", g_out, (char *)"--weights", (char *)weights, (char *)"--group", (char *)"128", (char *)"--max-memory", (char *)"32M", (char *)"--report", (char *)"--quiet", NULL};
  int status = 0;
  const uint64_t rss = child_peak_rss(argv, &status);
  if (!rss) die("%s quantize exited with status %d", q8, status);
  return rss;
}

static const void *session_tensor(q8_session *s, const char *name, size_t want_bytes) {
  const void *p = session_bytes(s, name, want_bytes);
  if (!p) die("tensor %s: missing or not %zu bytes (%s)", name, want_bytes, q8_last_error());
  return p;
}

/* W1 [K, N]: one scale per column j = max over k |W1[k, j]| / 127, codes rounded half to even. */
static void check_w1(void) {
  q8_model *m = NULL;
  q8_session *s = NULL;
  q8_tensor *x = NULL;
  const int64_t shape[2] = {1, kD};
  if (q8_model_load(g_out, &m) != Q8_OK || q8_session_create(m, 1, &s) != Q8_OK ||
      q8_tensor_create(Q8_DTYPE_F32, shape, 2, &x) != Q8_OK)
    die("cannot open the output: %s", q8_last_error());
  const q8_tensor *in[1] = {x};
  if (q8_session_run(s, in, 1) != Q8_OK) die("cannot run the output: %s", q8_last_error());
  const int8_t *q = session_tensor(s, "W1_quantized", (size_t)kD * kD);
  const float *scales = session_tensor(s, "W1_scale", kD * 4);
  static float amax[kD];
  for (uint64_t i = 0; i < (uint64_t)kD * kD; ++i) amax[i % kD] = fmaxf(amax[i % kD], fabsf(value(0, i)));
  for (int j = 0; j < kD; ++j) {
    const float scale = amax[j] == 0 ? 1.0f : fmaxf(amax[j] / 127.0f, FLT_EPSILON);
    if (memcmp(&scales[j], &scale, 4) != 0) die("W1 column %d: scale %a, reference %a", j, scales[j], scale);
  }
  for (uint64_t i = 0; i < (uint64_t)kD * kD; ++i) {
    const float v = nearbyintf(value(0, i) / scales[i % kD]);
    const int want = (int)(v < -127 ? -127 : v > 127 ? 127 : v);
    if (q[i] != want) die("W1 element %llu: code %d, reference %d", (unsigned long long)i, q[i], want);
  }
  q8_tensor_destroy(x);
  q8_session_destroy(s);
  q8_model_destroy(m);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_checkpoint_onnx_rss PATH/TO/q8 PATH/TO/rss.onnx\n");
    return 2;
  }
  snprintf(g_dir, sizeof g_dir, "/tmp/q8onnx-rss-XXXXXX");
  if (!mkdtemp(g_dir)) die("mkdtemp failed");
  snprintf(g_model, sizeof g_model, "%s/rss.onnx", g_dir);
  snprintf(g_bin, sizeof g_bin, "%s/rss.bin", g_dir);
  snprintf(g_out, sizeof g_out, "%s/out.q8", g_dir);
  write_model(argv[2]);
  static const char *const formats[] = {"int4", "int8"}; /* int8 last: its output is checked */
  for (int k = 0; k < 2; ++k) {
    const uint64_t rss = run_cli(argv[1], formats[k]);
    printf("peak RSS of q8 quantize --weights %s --max-memory 32M on a %.0f MB ONNX model: %.1f MiB (limit %.0f MiB)\n",
           formats[k], (3.0 * kD * kD + 3.0 * kD) * 4 / 1e6, (double)rss / 1048576.0, (double)(kBudget + kSlack) / 1048576.0);
    if (rss > kBudget + kSlack) die("peak RSS %llu bytes is over the budget + 64 MiB", (unsigned long long)rss);
  }
  check_w1();
  cleanup();
  printf("W1 matches the reference\n");
  return 0;
}
