/* Calibrate a per-channel observer on a few batches, quantize a weight-like tensor to s8 per
 * channel, dequantize it back and print the worst error per channel.
 * Build against an installed q8:  cc calibrate_and_quantize.c $(pkg-config --cflags --libs q8) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <q8/q8.h>

#define CHECK(call)                                                                   \
  do {                                                                                \
    if ((call) != Q8_OK) {                                                            \
      fprintf(stderr, "%s failed: %s\n", #call, q8_last_error());                     \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

enum { ROWS = 4, COLS = 256 }; /* 4 output channels of 256 weights each */

int main(void) {
  static float w[ROWS][COLS];
  for (int r = 0; r < ROWS; ++r)
    for (int c = 0; c < COLS; ++c) w[r][c] = (float)((r + 1) * sin(0.1 * c));

  const int64_t shape[2] = {ROWS, COLS};
  q8_tensor *x = NULL, *q = NULL, *back = NULL;
  CHECK(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, w, sizeof w, &x)); /* borrows w */

  q8_observer_options opt;
  CHECK(q8_observer_options_init(&opt));
  opt.kind = Q8_OBSERVER_MINMAX;
  opt.scheme = Q8_SCHEME_SYMMETRIC_NARROW; /* weights: s8 in [-127, 127], zero point 0 */
  opt.axis = 0;                            /* one scale per output channel */
  q8_observer *obs = NULL;
  CHECK(q8_observer_create(&opt, &obs));
  CHECK(q8_observer_update(obs, x));

  CHECK(q8_tensor_create(Q8_DTYPE_S8, shape, 2, &q));
  CHECK(q8_observer_apply(obs, q)); /* per-axis scales on q */
  CHECK(q8_quantize(x, q));
  CHECK(q8_tensor_create(Q8_DTYPE_F32, shape, 2, &back));
  CHECK(q8_dequantize(q, back));

  float scales[ROWS];
  int32_t zps[ROWS];
  CHECK(q8_tensor_get_qparams(q, scales, zps, ROWS));
  const float *y = NULL;
  CHECK(q8_tensor_data(back, (void **)&y));
  int ok = 1;
  for (int r = 0; r < ROWS; ++r) {
    float worst = 0;
    for (int c = 0; c < COLS; ++c) worst = fmaxf(worst, fabsf(y[r * COLS + c] - w[r][c]));
    printf("channel %d: scale %.6f  max error %.6f (half a step: %.6f)\n", r, scales[r], worst, scales[r] / 2);
    ok &= worst <= scales[r] / 2 * 1.0001f;
  }
  q8_tensor_destroy(back);
  q8_tensor_destroy(q);
  q8_observer_destroy(obs);
  q8_tensor_destroy(x);
  return ok ? 0 : 1;
}
