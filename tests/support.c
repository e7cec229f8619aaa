#define _DEFAULT_SOURCE /* mkdtemp */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rng_seed(test_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

uint64_t rng_next(test_rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545F4914F6CDD1Dull;
}

double rng_uniform(test_rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double rng_normal(test_rng *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double rng_student_t(test_rng *r, int dof) {
  double chi2 = 0;
  for (int i = 0; i < dof; ++i) {
    double z = rng_normal(r);
    chi2 += z * z;
  }
  return rng_normal(r) / sqrt(chi2 / dof);
}

size_t supported_isas(q8_isa out[8]) {
  const q8_isa all[] = {Q8_ISA_SCALAR, Q8_ISA_AVX2, Q8_ISA_AVX512, Q8_ISA_AVX512_VNNI, Q8_ISA_NEON};
  size_t n = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    if (q8_runtime_isa_supported(all[i])) out[n++] = all[i];
  return n;
}

q8_tensor *make_tensor(q8_dtype dt, const int64_t *shape, size_t rank) {
  q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_tensor_create(dt, shape, rank, &t));
  return t;
}

void *tensor_data(const q8_tensor *t) {
  void *p = NULL;
  Q8_OK_OR_FAIL(q8_tensor_data(t, &p));
  return p;
}

/* ---- integer requantization, written plainly from gemmlowp's and TFLite's definitions ------ */

/* round(a * b / 2^31) with ties toward +infinity: floor((ab + 2^30) / 2^31); MIN * MIN -> MAX. */
int32_t ref_high_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * b;
  const int64_t num = ab + ((int64_t)1 << 30);
  return (int32_t)(num >= 0 ? num / ((int64_t)1 << 31) : -((-num + ((int64_t)1 << 31) - 1) / ((int64_t)1 << 31)));
}

/* x / 2^e rounded to nearest, ties away from zero. */
int32_t ref_div_pot(int32_t x, int e) {
  if (e == 0) return x;
  const int64_t half = (int64_t)1 << (e - 1);
  const int64_t ax = x < 0 ? -(int64_t)x : (int64_t)x;
  const int64_t q = (ax + half) >> e;
  return (int32_t)(x < 0 ? -q : q);
}

int32_t ref_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  int64_t v = (int64_t)x * ((int64_t)1 << left);
  if (v > INT32_MAX) v = INT32_MAX;
  if (v < INT32_MIN) v = INT32_MIN;
  return ref_div_pot(ref_high_mul((int32_t)v, mult), right);
}

/* Same dtype, shape, bytes and quantization parameters (the values of per-tensor ones). */
void expect_same_tensor(const q8_tensor *a, const q8_tensor *b, const char *what) {
  q8_dtype da, db;
  size_t ra, rb, na, nb, qa, qb;
  int64_t sa[8], sb[8];
  int32_t axa, axb;
  Q8_OK_OR_FAIL(q8_tensor_dtype(a, &da));
  Q8_OK_OR_FAIL(q8_tensor_dtype(b, &db));
  cr_assert_eq(da, db, "%s: %s vs %s", what, q8_dtype_name(da), q8_dtype_name(db));
  Q8_OK_OR_FAIL(q8_tensor_rank(a, &ra));
  Q8_OK_OR_FAIL(q8_tensor_rank(b, &rb));
  cr_assert_eq(ra, rb, "%s: rank", what);
  Q8_OK_OR_FAIL(q8_tensor_shape(a, sa, 8));
  Q8_OK_OR_FAIL(q8_tensor_shape(b, sb, 8));
  cr_assert(memcmp(sa, sb, ra * sizeof(int64_t)) == 0, "%s: shapes differ", what);
  Q8_OK_OR_FAIL(q8_tensor_nbytes(a, &na));
  Q8_OK_OR_FAIL(q8_tensor_nbytes(b, &nb));
  cr_assert_eq(na, nb);
  cr_assert(na > 0 && memcmp(tensor_data(a), tensor_data(b), na) == 0, "%s: values differ", what);
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(a, &axa, &qa));
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(b, &axb, &qb));
  cr_assert(qa == qb && (qa == 0 || axa == axb), "%s: qparams layouts differ", what);
  if (qa == 1) {
    float s1, s2;
    int32_t z1, z2;
    Q8_OK_OR_FAIL(q8_tensor_get_qparams(a, &s1, &z1, 1));
    Q8_OK_OR_FAIL(q8_tensor_get_qparams(b, &s2, &z2, 1));
    cr_assert(s1 == s2 && z1 == z2, "%s: qparams (%g, %d) vs (%g, %d)", what, s1, z1, s2, z2);
  }
}

int model_describe_has(const q8_model *m, const char *needle) {
  char *text = NULL;
  Q8_OK_OR_FAIL(q8_model_describe(m, 0, &text));
  int found = strstr(text, needle) != NULL;
  q8_free(text);
  return found;
}

/* Epilogue variant v (0..7) for n columns and depth k, with scales that spread C over the output
 * range (some elements clamp). */
const q8_gemm_epilogue *epilogue_variant(epilogue_buf *e, int v, int64_t n, int64_t k, test_rng *r) {
  cr_assert(n <= 512);
  Q8_OK_OR_FAIL(q8_gemm_epilogue_init(&e->ep));
  for (int64_t j = 0; j < n; ++j) {
    e->bias[j] = (int32_t)(rng_next(r) % 200001) - 100000;
    /* |t| is about 128 * 128 * sqrt(k) / 2; map that to about +-100 */
    const double real = 100.0 / (8192.0 * sqrt((double)(k > 0 ? k : 1))) * (0.5 + rng_uniform(r));
    int e2;
    const double f = frexp(real, &e2); /* real = f * 2^e2, f in [0.5, 1) */
    int64_t mq = (int64_t)llround(f * 2147483648.0);
    if (mq == ((int64_t)1 << 31)) { mq /= 2; ++e2; }
    e->mult[j] = (int32_t)mq;
    e->shift[j] = e2;
    e->scale[j] = (float)real;
  }
  switch (v) {
    case 0: return NULL;
    case 1: e->ep.bias = e->bias; return &e->ep; /* int32 + bias */
    case 2: /* fixed, per tensor, u8 */
      e->ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED; e->ep.output_dtype = Q8_DTYPE_U8;
      e->ep.multiplier = e->mult; e->ep.shift = e->shift; e->ep.zero_point = 128; e->ep.bias = e->bias;
      return &e->ep;
    case 3: /* fixed, per channel, s8, ReLU */
      e->ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED; e->ep.output_dtype = Q8_DTYPE_S8;
      e->ep.multiplier = e->mult; e->ep.shift = e->shift; e->ep.channels = (size_t)n;
      e->ep.zero_point = -5; e->ep.qmin = -5;
      return &e->ep;
    case 4: /* float, per tensor, s8 */
      e->ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT; e->ep.output_dtype = Q8_DTYPE_S8;
      e->ep.scale = e->scale; e->ep.zero_point = 3; e->ep.bias = e->bias;
      return &e->ep;
    case 5: /* float, per channel, u8, ReLU6-like clamp */
      e->ep.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT; e->ep.output_dtype = Q8_DTYPE_U8;
      e->ep.scale = e->scale; e->ep.channels = (size_t)n; e->ep.zero_point = 10;
      e->ep.qmin = 10; e->ep.qmax = 70;
      return &e->ep;
    case 6: /* dequantize, per channel */
      e->ep.kind = Q8_GEMM_EPILOGUE_DEQUANTIZE; e->ep.output_dtype = Q8_DTYPE_F32;
      e->ep.scale = e->scale; e->ep.channels = (size_t)n; e->ep.bias = e->bias;
      return &e->ep;
    default: /* dequantize, per tensor */
      e->ep.kind = Q8_GEMM_EPILOGUE_DEQUANTIZE; e->ep.output_dtype = Q8_DTYPE_F32;
      e->ep.scale = e->scale;
      return &e->ep;
  }
}

/* ---- the test data and scratch files ---------------------------------------------------------- */

const char *data_dir(void) {
  const char *d = getenv("Q8_TEST_DATA");
  cr_assert(d != NULL, "Q8_TEST_DATA is not set");
  return d;
}

q8_model *load_fixture(const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", data_dir(), rel);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &m));
  return m;
}

/* The prefix keeps each suite's leftovers recognisable. */
void make_tmpdir(char dir[64], const char *prefix) {
  cr_assert((size_t)snprintf(dir, 64, "/tmp/%s-XXXXXX", prefix) < 64, "prefix %s is too long", prefix);
  cr_assert(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

size_t dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert(d != NULL);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
  closedir(d);
  return n;
}

void remove_tree(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

blob read_whole(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert(f != NULL, "cannot open %s: %s", path, strerror(errno));
  blob b = {NULL, 0};
  size_t cap = 0;
  for (;;) {
    if (b.n == cap) {
      cap = cap ? cap * 2 : 65536;
      b.p = realloc(b.p, cap);
      cr_assert(b.p != NULL);
    }
    const size_t got = fread(b.p + b.n, 1, cap - b.n, f);
    if (got == 0) break;
    b.n += got;
  }
  fclose(f);
  return b;
}

void write_whole(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert(f != NULL, "cannot create %s: %s", path, strerror(errno));
  cr_assert_eq(fwrite(p, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}
