/* The checkpoint quantizer's memory cap, measured from outside: a ~300 MB FP32 safetensors file is
 * written here, `q8 quantize --max-memory 32M` (argv[1]) runs on it as a child process, and the
 * child's peak resident memory (wait4's ru_maxrss: heap, stacks, libraries and the mapped input
 * pages it touched) must stay under the budget + 64 MiB for the program itself. The output's codes
 * and scales are then checked against the INT8 reference computed here from the same numbers.
 * A plain program (not Criterion): one child, one measurement, exit status 0 on success. */
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

enum { kLayers = 8, kRows = 2048, kCols = 4608, kNorm = 4608 };
static const uint64_t kBudget = 32u << 20, kSlack = 64u << 20;

static char g_dir[64], g_in[128], g_out[128];

static void cleanup(void) {
  unlink(g_in);
  unlink(g_out);
  rmdir(g_dir);
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "test_checkpoint_rss: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  cleanup();
  exit(1);
}

/* Element c of row r of tensor t: a deterministic hash in [-1, 1) times a per-row scale, so rows
 * get different scales and codes cover the whole range. */
static float value(int t, int64_t r, int64_t c) {
  uint64_t x = ((uint64_t)t << 48) ^ ((uint64_t)r << 24) ^ (uint64_t)c;
  x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 29)) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return ((float)(x >> 40) / 8388608.0f - 1.0f) * (0.01f + 0.001f * (float)(r % 97));
}

static void write_checkpoint(void) {
  char header[8192];
  size_t len = (size_t)snprintf(header, sizeof header, "{");
  uint64_t at = 0;
  for (int t = 0; t < kLayers; ++t) {
    const uint64_t w = (uint64_t)kRows * kCols * 4, n = kNorm * 4;
    len += (size_t)snprintf(header + len, sizeof header - len,
                            "%s\"layers.%d.norm\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%llu,%llu]},"
                            "\"layers.%d.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%llu,%llu]}",
                            t ? "," : "", t, kNorm, (unsigned long long)at, (unsigned long long)(at + n), t, kRows,
                            kCols, (unsigned long long)(at + n), (unsigned long long)(at + n + w));
    at += n + w;
  }
  header[len++] = '}';
  while ((8 + len) % 8) header[len++] = ' ';
  FILE *f = fopen(g_in, "wb");
  if (!f) die("cannot create %s", g_in);
  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = (uint8_t)((uint64_t)len >> (8 * i));
  fwrite(prefix, 1, 8, f);
  fwrite(header, 1, len, f);
  static float row[kCols];
  for (int t = 0; t < kLayers; ++t) {
    for (int c = 0; c < kNorm; ++c) row[c] = 1.0f + value(t, -1, c);
    fwrite(row, 4, kNorm, f);
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t c = 0; c < kCols; ++c) row[c] = value(t, r, c);
      fwrite(row, 4, kCols, f);
    }
  }
  if (fclose(f) != 0) die("cannot write %s", g_in);
}

/* Runs the CLI on the checkpoint; returns its peak RSS in bytes. */
static uint64_t run_cli(const char *q8) {
  char *const argv[] = {(char *)q8, (char *)"quantize", g_in, (char *)"-o", g_out, (char *)"--max-memory", (char *)"32M", (char *)"--report", (char *)"--quiet", NULL};
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

/* Codes and scales of every weight, and the kept norms, against the reference. */
static void check_output(void) {
  q8_model *m = NULL;
  q8_session *s = NULL;
  if (q8_model_load(g_out, &m) != Q8_OK || q8_session_create(m, 1, &s) != Q8_OK || q8_session_run(s, NULL, 0) != Q8_OK)
    die("cannot open the output: %s", q8_last_error());
  char name[64];
  static float row[kCols];
  for (int t = 0; t < kLayers; ++t) {
    snprintf(name, sizeof name, "layers.%d.norm", t);
    const float *norm = session_tensor(s, name, kNorm * 4);
    for (int c = 0; c < kNorm; ++c)
      if (norm[c] != 1.0f + value(t, -1, c)) die("%s[%d] differs", name, c);
    snprintf(name, sizeof name, "layers.%d.weight_quantized", t);
    const int8_t *q = session_tensor(s, name, (size_t)kRows * kCols);
    snprintf(name, sizeof name, "layers.%d.weight_scale", t);
    const float *scales = session_tensor(s, name, kRows * 4);
    for (int64_t r = 0; r < kRows; ++r) {
      float amax = 0;
      for (int64_t c = 0; c < kCols; ++c) {
        row[c] = value(t, r, c);
        amax = fmaxf(amax, fabsf(row[c]));
      }
      const float scale = amax == 0 ? 1.0f : fmaxf(amax / 127.0f, FLT_EPSILON);
      if (memcmp(&scales[r], &scale, 4) != 0) die("layers.%d.weight row %lld: scale %a, reference %a", t, (long long)r, scales[r], scale);
      for (int64_t c = 0; c < kCols; ++c) {
        const float v = nearbyintf(row[c] / scale);
        const int want = (int)(v < -127 ? -127 : v > 127 ? 127 : v);
        if (q[r * kCols + c] != want)
          die("layers.%d.weight [%lld,%lld]: code %d, reference %d", t, (long long)r, (long long)c, q[r * kCols + c], want);
      }
    }
  }
  q8_session_destroy(s);
  q8_model_destroy(m);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_checkpoint_rss PATH/TO/q8\n");
    return 2;
  }
  snprintf(g_dir, sizeof g_dir, "/tmp/q8ckpt-rss-XXXXXX");
  if (!mkdtemp(g_dir)) die("mkdtemp failed");
  snprintf(g_in, sizeof g_in, "%s/in.safetensors", g_dir);
  snprintf(g_out, sizeof g_out, "%s/out.q8", g_dir);
  write_checkpoint();
  const uint64_t rss = run_cli(argv[1]);
  printf("peak RSS of q8 quantize --max-memory 32M on a %.0f MB checkpoint: %.1f MiB (limit %.0f MiB)\n",
         (double)kLayers * (kRows * kCols + kNorm) * 4 / 1e6, (double)rss / 1048576.0,
         (double)(kBudget + kSlack) / 1048576.0);
  if (rss > kBudget + kSlack) die("peak RSS %llu bytes is over the budget + 64 MiB", (unsigned long long)rss);
  check_output();
  cleanup();
  printf("output matches the reference\n");
  return 0;
}
