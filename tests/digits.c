#include "digits.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { BATCH = 64, MAX_BATCHES = 64 }; /* rows per batch; calibration batches at most */

static char g_err[1024];

static const char *failed(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_err, sizeof g_err, fmt, ap);
  va_end(ap);
  return g_err;
}

/* Sets err to what failed and leaves for `done`, where the function cleans up. */
#define TRY(call)                                                                              \
  do {                                                                                         \
    const q8_status st_ = (call);                                                              \
    if (st_ != Q8_OK) {                                                                        \
      err = failed("%s -> %s: %s", #call, q8_status_string(st_), q8_last_error());             \
      goto done;                                                                               \
    }                                                                                          \
  } while (0)

const char *digits_load(const char *csv_gz, digits_rows *train, digits_rows *held_out) {
  gzFile f = gzopen(csv_gz, "rb");
  if (!f) return failed("cannot open %s", csv_gz);
  if (train) train->n = 0;
  if (held_out) held_out->n = 0;
  const char *err = NULL;
  char line[4096];
  for (size_t i = 0; !err && gzgets(f, line, sizeof line); ++i) {
    digits_rows *to = i % 4 == 0 ? held_out : train;
    if (!to) continue;
    if (to->n == DIGITS_MAX_ROWS) {
      err = failed("%s: more than %d rows in a split", csv_gz, DIGITS_MAX_ROWS);
      break;
    }
    float *row = to->x + to->n * DIGITS_PIXELS;
    char *p = line;
    for (int j = 0; j < DIGITS_PIXELS && !err; ++j) {
      row[j] = (float)(strtod(p, &p) / 16.0); /* the bundled models take pixel / 16 */
      if (*p++ != ',') err = failed("%s: line %zu is not 64 pixels and a label", csv_gz, i + 1);
    }
    if (!err) to->y[to->n++] = (int)strtol(p, NULL, 10);
  }
  gzclose(f);
  return err;
}

const char *digits_wrap(const q8_model *m, float *x, size_t n, q8_tensor **out) {
  const char *err = NULL;
  q8_dtype dt;
  int64_t shape[8];
  size_t rank = 0;
  TRY(q8_model_input_info(m, 0, &dt, shape, 8, &rank));
  const int64_t s2[2] = {(int64_t)n, DIGITS_PIXELS}, s4[4] = {(int64_t)n, 1, 8, 8};
  TRY(q8_tensor_wrap(Q8_DTYPE_F32, rank == 4 ? s4 : s2, rank == 4 ? 4 : 2, x, n * DIGITS_PIXELS * sizeof(float),
                     out));
done:
  return err;
}

const char *digits_batches(const q8_model *m, digits_rows *rows, size_t max, q8_tensor **batches,
                           size_t *count) {
  *count = 0;
  for (size_t first = 0; first < rows->n && *count < max; first += BATCH) {
    const size_t b = rows->n - first < BATCH ? rows->n - first : BATCH;
    const char *err = digits_wrap(m, rows->x + first * DIGITS_PIXELS, b, &batches[*count]);
    if (err) {
      while (*count) q8_tensor_destroy(batches[--*count]);
      return err;
    }
    ++*count;
  }
  return NULL;
}

const char *digits_quantize(const q8_model *m, const q8_ptq_options *o, digits_rows *calibration,
                            size_t max_batches, q8_model **out) {
  q8_tensor *batches[MAX_BATCHES] = {NULL};
  size_t nb = 0;
  const char *err = NULL;
  if (max_batches > MAX_BATCHES) return failed("at most %d calibration batches, not %zu", MAX_BATCHES, max_batches);
  if (calibration && (err = digits_batches(m, calibration, max_batches, batches, &nb)) != NULL) return err;
  TRY(q8_model_quantize(m, o, (const q8_tensor *const *)batches, nb, out));
done:
  for (size_t i = 0; i < nb; ++i) q8_tensor_destroy(batches[i]);
  return err;
}

const char *digits_logits(const q8_model *m, float *x, size_t n, float *out) {
  const char *err = NULL;
  q8_session *s = NULL;
  q8_tensor *in = NULL;
  for (size_t first = 0; first < n; first += BATCH) {
    const size_t b = n - first < BATCH ? n - first : BATCH;
    TRY(q8_session_create(m, (int64_t)b, &s));
    if ((err = digits_wrap(m, x + first * DIGITS_PIXELS, b, &in)) != NULL) goto done;
    const q8_tensor *ins[1] = {in}, *y = NULL;
    TRY(q8_session_run(s, ins, 1));
    TRY(q8_session_output(s, 0, &y));
    q8_dtype dt;
    void *data = NULL;
    TRY(q8_tensor_dtype(y, &dt));
    if (dt != Q8_DTYPE_F32) {
      err = failed("output 0 is %s, not f32 logits", q8_dtype_name(dt));
      goto done;
    }
    TRY(q8_tensor_data(y, &data));
    memcpy(out + first * DIGITS_CLASSES, data, b * DIGITS_CLASSES * sizeof(float));
    q8_tensor_destroy(in);
    q8_session_destroy(s);
    in = NULL;
    s = NULL;
  }
done:
  q8_tensor_destroy(in);
  if (s) q8_session_destroy(s);
  return err;
}

size_t digits_correct(const float *logits, const int *labels, size_t n) {
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i) {
    const float *row = logits + i * DIGITS_CLASSES;
    int best = 0;
    for (int c = 1; c < DIGITS_CLASSES; ++c)
      if (row[c] > row[best]) best = c;
    ok += best == labels[i];
  }
  return ok;
}
