/* Loads the built libq8.so.0 with dlopen (path in argv[1]), resolves the C API with dlsym, runs a
 * quantize through it, and checks that q8's C++ internals are not reachable by name. The program
 * does not link against q8; it only borrows the header's types and constants. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "q8/q8.h"

static int failures = 0;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "dlopen: FAIL: %s\n", what);
    ++failures;
  }
}

/* Resolves `name` into the function pointer `fn` (through void ** so -Wpedantic stays quiet). */
#define RESOLVE(handle, fn, name)                                                             \
  do {                                                                                        \
    *(void **)(&fn) = dlsym(handle, name);                                                    \
    if (!fn) {                                                                                \
      fprintf(stderr, "dlopen: FAIL: dlsym(%s): %s\n", name, dlerror());                       \
      return 1;                                                                               \
    }                                                                                         \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s path/to/libq8.so.0\n", argv[0]);
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: FAIL: %s\n", dlerror());
    return 1;
  }

  unsigned (*version)(void);
  const char *(*version_string)(void);
  const char *(*last_error)(void);
  q8_status (*tensor_create)(q8_dtype, const int64_t *, size_t, q8_tensor **);
  q8_status (*tensor_wrap)(q8_dtype, const int64_t *, size_t, void *, size_t, q8_tensor **);
  q8_status (*tensor_set_qparams)(q8_tensor *, float, int32_t);
  q8_status (*tensor_data)(const q8_tensor *, void **);
  void (*tensor_destroy)(q8_tensor *);
  q8_status (*quantize)(const q8_tensor *, q8_tensor *);
  RESOLVE(h, version, "q8_version");
  RESOLVE(h, version_string, "q8_version_string");
  RESOLVE(h, last_error, "q8_last_error");
  RESOLVE(h, tensor_create, "q8_tensor_create");
  RESOLVE(h, tensor_wrap, "q8_tensor_wrap");
  RESOLVE(h, tensor_set_qparams, "q8_tensor_set_qparams");
  RESOLVE(h, tensor_data, "q8_tensor_data");
  RESOLVE(h, tensor_destroy, "q8_tensor_destroy");
  RESOLVE(h, quantize, "q8_quantize");

  check(version() == Q8_VERSION_NUMBER, "q8_version() matches the header");
  check(dlvsym(h, "q8_quantize", "Q8_0") != NULL, "q8_quantize carries the version node Q8_0");

  /* s8 with scale 0.25, zero point -3: round half to even, then saturate to [-128, 127]. */
  float x[6] = {0.0f, 0.125f, 0.375f, -1.0f, 100.0f, -100.0f};
  const signed char want[6] = {-3, -3, -1, -7, 127, -128};
  const int64_t shape[1] = {6};
  q8_tensor *xt = NULL, *yt = NULL;
  check(tensor_wrap(Q8_DTYPE_F32, shape, 1, x, sizeof x, &xt) == Q8_OK, "wrap");
  check(tensor_create(Q8_DTYPE_S8, shape, 1, &yt) == Q8_OK, "create");
  check(tensor_set_qparams(yt, 0.25f, -3) == Q8_OK, "set_qparams");
  check(quantize(xt, yt) == Q8_OK, "quantize");
  void *p = NULL;
  check(tensor_data(yt, &p) == Q8_OK && p != NULL, "data");
  if (p)
    for (int i = 0; i < 6; ++i)
      if (((const signed char *)p)[i] != want[i]) {
        fprintf(stderr, "dlopen: element %d: got %d, want %d\n", i, ((const signed char *)p)[i], want[i]);
        ++failures;
      }
  check(quantize(xt, NULL) == Q8_ERR_INVALID_ARGUMENT, "quantize(x, NULL) is refused");
  check(strstr(last_error(), "y is NULL") != NULL, "the message names y");
  tensor_destroy(yt);
  tensor_destroy(xt);

  /* Internal C++ functions exist in the library but must not resolve. */
  const char *hidden[] = {"_ZN2q813checked_numelEPKlmmPKc", "_ZN2q814set_last_errorEPKcS1_",
                          "_ZN2q810last_errorEv"};
  for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; ++i) {
    dlerror();
    if (dlsym(h, hidden[i]) != NULL) {
      fprintf(stderr, "dlopen: FAIL: hidden symbol %s resolves\n", hidden[i]);
      ++failures;
    }
  }

  printf("dlopen: q8 %s via %s: %s\n", version_string(), argv[1], failures ? "FAILED" : "all checks passed");
  dlclose(h);
  return failures ? 1 : 0;
}
