/* Helpers shared by the Criterion suites: a deterministic RNG, status checks, small tensor makers,
 * the test data and scratch files. */
#ifndef Q8_TEST_SUPPORT_H
#define Q8_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "q8/q8.h"

/* Fails the test with q8_last_error() unless `call` returns Q8_OK. */
#define Q8_OK_OR_FAIL(call)                                                                    \
  do {                                                                                         \
    q8_status st_ = (call);                                                                    \
    cr_assert_eq(st_, Q8_OK, "%s -> %s: %s", #call, q8_status_string(st_), q8_last_error());   \
  } while (0)

/* Asserts `call` fails with `want` and leaves a non-empty message. */
#define Q8_EXPECT_STATUS(call, want)                                                           \
  do {                                                                                         \
    q8_status st_ = (call);                                                                    \
    cr_assert_eq(st_, (want), "%s -> %s, wanted %s (%s)", #call, q8_status_string(st_),         \
                 q8_status_string(want), q8_last_error());                                     \
    if ((want) != Q8_OK) cr_assert(q8_last_error()[0] != '\0', "%s: empty message", #call);   \
  } while (0)

/* Asserts `call` fails with `want` and q8_last_error() mentions `needle`. */
#define Q8_EXPECT_ERROR(call, want, needle)                                                    \
  do {                                                                                         \
    Q8_EXPECT_STATUS(call, want);                                                              \
    cr_assert(strstr(q8_last_error(), (needle)) != NULL, "%s: message \"%s\" lacks \"%s\"",     \
              #call, q8_last_error(), (needle));                                               \
  } while (0)

/* xorshift64*: the same numbers on every machine. */
typedef struct { uint64_t s; } test_rng;
void rng_seed(test_rng *r, uint64_t seed);
uint64_t rng_next(test_rng *r);
double rng_uniform(test_rng *r);            /* [0, 1) */
double rng_normal(test_rng *r);             /* N(0, 1) */
double rng_student_t(test_rng *r, int dof); /* heavy-tailed */

/* The ISA paths this CPU can run (scalar first); returns the count. */
size_t supported_isas(q8_isa out[8]);

/* A new tensor; aborts the test on failure. */
q8_tensor *make_tensor(q8_dtype dt, const int64_t *shape, size_t rank);
void *tensor_data(const q8_tensor *t);

/* The reference epilogue arithmetic for the GEMM and conv suites, written from the definitions
 * (not from q8's code): round(a * b / 2^31) with ties toward +infinity and MIN * MIN -> MAX;
 * x / 2^e to nearest, ties away from zero; TFLite's MultiplyByQuantizedMultiplier with a
 * saturating left shift. */
int32_t ref_high_mul(int32_t a, int32_t b);
int32_t ref_div_pot(int32_t x, int e);
int32_t ref_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift);

/* Epilogue variant v (0..7) for n <= 512 output columns and depth k, for the GEMM-shaped suites:
 * 0 S32, 1 S32 + bias, 2 fixed per tensor u8 + bias, 3 fixed per channel s8 ReLU, 4 float per
 * tensor s8 + bias, 5 float per channel u8 clamped, 6 dequantize per channel + bias, 7 dequantize
 * per tensor; random bias and scales that spread C over the output range (some elements clamp).
 * Returns NULL for variant 0 (the defaults), else &e->ep; e must outlive its use. */
typedef struct {
  q8_gemm_epilogue ep;
  int32_t bias[512], mult[512], shift[512];
  float scale[512];
} epilogue_buf;
const q8_gemm_epilogue *epilogue_variant(epilogue_buf *e, int v, int64_t n, int64_t k, test_rng *r);

/* Fails the test unless a and b have the same dtype, shape, bytes, quantization parameter layout
 * and (per tensor) parameters; `what` names the comparison. */
void expect_same_tensor(const q8_tensor *a, const q8_tensor *b, const char *what);

/* Whether q8_model_describe's text for m contains needle (fails the test if describe fails). */
int model_describe_has(const q8_model *m, const char *needle);

/* ---- the test data and scratch files (each helper fails the test on error) ------------------- */

/* Bytes and their count; whoever made them says whether p goes to free() or q8_free(). */
typedef struct {
  uint8_t *p;
  size_t n;
} blob;

const char *data_dir(void);                                  /* $Q8_TEST_DATA (tests/data) */
q8_model *load_fixture(const char *rel);                     /* the ONNX model data_dir()/rel */
void make_tmpdir(char dir[64], const char *prefix);          /* a new /tmp/<prefix>-XXXXXX */
size_t dir_entries(const char *dir);                         /* entries other than . and .. */
void remove_tree(const char *dir);                           /* rm -rf dir */
blob read_whole(const char *path);                           /* the whole file; free(p) */
void write_whole(const char *path, const void *p, size_t n); /* creates or replaces path */

#endif
