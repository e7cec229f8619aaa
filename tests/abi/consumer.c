/* A program built the way a user builds one: `cc consumer.c $(pkg-config --cflags --libs q8)`
 * against an installed q8. It quantizes a few values and checks every one. Written in the common
 * subset of C11 and C++17 so the same file also checks that the headers work from C++. */
#include <q8/q8.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "consumer: FAIL: %s (last error: %s)\n", what, q8_last_error());
    ++failures;
  }
}

int main(void) {
  check(q8_version() == Q8_VERSION_NUMBER, "q8_version() matches the installed header");
  check(q8_version() / 10000 == Q8_VERSION_MAJOR, "major version");

  float x[8] = {-1.0f, 0.0f, 0.25f, 0.5f, 0.75f, 2.5f, 300.0f, -300.0f};
  const int64_t shape[2] = {2, 4};
  /* scale 0.5, zero point 10: x / 0.5 rounds half to even, then saturates to [0, 255] */
  const unsigned char want[8] = {8, 10, 10, 11, 12, 15, 255, 0};
  q8_tensor *xt = NULL, *yt = NULL, *back = NULL;
  check(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, x, sizeof x, &xt) == Q8_OK, "wrap");
  check(q8_tensor_create(Q8_DTYPE_U8, shape, 2, &yt) == Q8_OK, "create u8");
  check(q8_tensor_create(Q8_DTYPE_F32, shape, 2, &back) == Q8_OK, "create f32");
  if (failures) return 1;
  check(q8_tensor_set_qparams(yt, 0.5f, 10) == Q8_OK, "set_qparams");
  check(q8_quantize(xt, yt) == Q8_OK, "quantize");
  void *p = NULL;
  check(q8_tensor_data(yt, &p) == Q8_OK && p != NULL, "data");
  if (p) {
    const unsigned char *y = (const unsigned char *)p;
    for (int i = 0; i < 8; ++i) {
      if (y[i] != want[i]) {
        fprintf(stderr, "consumer: element %d: got %d, want %d\n", i, y[i], want[i]);
        ++failures;
      }
    }
  }
  check(q8_dequantize(yt, back) == Q8_OK, "dequantize");
  double v = 0;
  const int64_t idx[2] = {1, 1};
  check(q8_tensor_get(back, idx, 2, &v) == Q8_OK && v == 2.5, "dequantized x[1][1] is 2.5");

  /* An error travels through the installed library too. */
  check(q8_quantize(NULL, yt) == Q8_ERR_INVALID_ARGUMENT, "quantize(NULL) is refused");
  check(strstr(q8_last_error(), "x is NULL") != NULL, "the message names x");
  check(strcmp(q8_status_string(Q8_ERR_SHAPE), "Q8_ERR_SHAPE") == 0, "status string");

  q8_tensor_destroy(back);
  q8_tensor_destroy(yt);
  q8_tensor_destroy(xt);
  printf("consumer: q8 %s, %s\n", q8_version_string(), failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
