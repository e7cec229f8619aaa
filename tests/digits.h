/* The bundled digits data (tests/data/digits.csv.gz) and the models trained on it
 * (tests/data/models/digits_{mlp,cnn}.onnx), for the suites that run them and tests/ort/make_case.
 * Plain C over the public API, without Criterion (make_case is no test): each call returns NULL,
 * or what failed (in a static buffer) for the caller to report. */
#ifndef Q8_TEST_DIGITS_H
#define Q8_TEST_DIGITS_H

#include <stddef.h>

#include "q8/q8.h"

#define DIGITS_PIXELS 64
#define DIGITS_CLASSES 10
#define DIGITS_MAX_ROWS 2000

/* Rows of one split: pixels / 16 (what the bundled models take) and labels. */
typedef struct {
  size_t n;
  float x[DIGITS_MAX_ROWS * DIGITS_PIXELS];
  int y[DIGITS_MAX_ROWS];
} digits_rows;

/* Reads the CSV (64 pixels, then the label, a line): line i into held_out when i % 4 == 0, else
 * into train; either may be NULL to skip its rows. */
const char *digits_load(const char *csv_gz, digits_rows *train, digits_rows *held_out);

/* n rows at x, wrapped (not copied) as m's input: [n, 64] (MLP) or [n, 1, 8, 8] (CNN). */
const char *digits_wrap(const q8_model *m, float *x, size_t n, q8_tensor **out);

/* Calibration batches of 64 rows (the last one smaller), at most max; *count of them, for the
 * caller to destroy. */
const char *digits_batches(const q8_model *m, digits_rows *rows, size_t max, q8_tensor **batches,
                           size_t *count);

/* m quantized with o, calibrated on up to max_batches batches of `calibration` (NULL: none). */
const char *digits_quantize(const q8_model *m, const q8_ptq_options *o, digits_rows *calibration,
                            size_t max_batches, q8_model **out);

/* m's f32 output 0 (the logits) for n rows at x, run in batches of 64, into out[n * 10]. */
const char *digits_logits(const q8_model *m, float *x, size_t n, float *out);

/* How many of n rows' logits are highest (the first of equals) at the label. */
size_t digits_correct(const float *logits, const int *labels, size_t n);

/* In a Criterion test (digits_fixture.c): loads tests/data/digits.csv.gz from data_dir() into
 * train and/or held_out (either may be NULL) unless they already hold rows, and checks the split
 * (1347 training rows, 450 held out). */
void digits_load_bundled(digits_rows *train, digits_rows *held_out);

/* In a Criterion test: fails it with the message unless the digits_* call returns NULL. */
#define DIGITS_OR_FAIL(call)                                                                   \
  do {                                                                                         \
    const char *err_ = (call);                                                                 \
    cr_assert(err_ == NULL, "%s", err_);                                                       \
  } while (0)

#endif
