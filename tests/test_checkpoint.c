/* q8_checkpoint_quantize (include/q8/checkpoint.h): safetensors files written here, quantized,
 * and checked through a session on the output against a scalar reference written from the
 * formulas (codes, scales, zero points and dequantized values, bit for bit, on every ISA path);
 * byte-identical output whatever the threads and memory budget; malformed headers; options;
 * atomicity (nothing left behind on failure or cancellation). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "support.h"

/* ---- writing safetensors files --------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *dtype; /* "F32", "F16", "BF16", "I8", "U8", "I32" */
  int64_t shape[2];
  size_t rank;
  const void *data; /* numel * element size bytes */
} st_tensor;

static size_t st_esize(const char *dtype) {
  if (!strcmp(dtype, "F32") || !strcmp(dtype, "I32")) return 4;
  if (!strcmp(dtype, "F16") || !strcmp(dtype, "BF16")) return 2;
  return 1;
}

static size_t st_numel(const st_tensor *t) {
  size_t n = 1;
  for (size_t d = 0; d < t->rank; ++d) n *= (size_t)t->shape[d];
  return n;
}

/* An 8-byte length, `header`, then `data`. */
static void write_raw(const char *path, const char *header, const void *data, size_t bytes) {
  const size_t n = strlen(header);
  uint8_t *buf = malloc(8 + n + bytes + 1);
  cr_assert(buf != NULL);
  for (int i = 0; i < 8; ++i) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
  memcpy(buf + 8, header, n);
  if (bytes) memcpy(buf + 8 + n, data, bytes);
  write_whole(path, buf, 8 + n + bytes);
  free(buf);
}

/* The tensors in order, data contiguous. The JSON is padded with spaces so that the data starts
 * 8-byte aligned, as safetensors writers do, then by `misalign` more bytes. */
static void write_st_misaligned(const char *path, const st_tensor *t, size_t count, size_t misalign) {
  size_t cap = 256 + misalign, data_bytes = 0;
  for (size_t i = 0; i < count; ++i) {
    cap += strlen(t[i].name) + 160;
    data_bytes += st_numel(&t[i]) * st_esize(t[i].dtype);
  }
  char *h = malloc(cap);
  uint8_t *data = malloc(data_bytes + 1);
  cr_assert(h && data);
  size_t len = (size_t)snprintf(h, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
  size_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t bytes = st_numel(&t[i]) * st_esize(t[i].dtype);
    len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name, t[i].dtype);
    for (size_t d = 0; d < t[i].rank; ++d)
      len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
    len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", at, at + bytes);
    if (bytes) memcpy(data + at, t[i].data, bytes);
    at += bytes;
  }
  h[len++] = '}';
  while ((8 + len) % 8) h[len++] = ' ';
  for (size_t i = 0; i < misalign; ++i) h[len++] = ' ';
  h[len] = '\0';
  write_raw(path, h, data, data_bytes);
  free(h);
  free(data);
}

static void write_st(const char *path, const st_tensor *t, size_t count) { write_st_misaligned(path, t, count, 0); }

/* ---- the reference, from the definitions ----------------------------------------------------- */

static float f16_value(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const float mag = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(1024 + m), e - 25);
  return (h & 0x8000) ? -mag : mag;
}

static float bf16_value(uint16_t h) {
  const uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* The i-th element of a float tensor as f32. */
static float elem(const st_tensor *t, size_t i) {
  if (!strcmp(t->dtype, "F32")) return ((const float *)t->data)[i];
  const uint16_t h = ((const uint16_t *)t->data)[i];
  return !strcmp(t->dtype, "F16") ? f16_value(h) : bf16_value(h);
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* INT8: scale max|row| / 127 (1 for an all-zero row, at least FLT_EPSILON), codes rounded half
 * to even and clamped to [-127, 127]. */
static float ref_int8_scale(const st_tensor *t, int64_t r) {
  float m = 0;
  for (int64_t c = 0; c < t->shape[1]; ++c) m = fmaxf(m, fabsf(elem(t, (size_t)(r * t->shape[1] + c))));
  return m == 0 ? 1.0f : fmaxf(m / 127.0f, FLT_EPSILON);
}

/* INT4, one group [c0, c1) of row r: range widened to 0, scale (max - min) / 15, zero point
 * round(-min / scale) in [0, 15]. */
static void ref_int4_params(const st_tensor *t, int64_t r, int64_t c0, int64_t c1, float *scale, int *zp) {
  float lo = 0, hi = 0;
  for (int64_t c = c0; c < c1; ++c) {
    const float v = elem(t, (size_t)(r * t->shape[1] + c));
    lo = fminf(lo, v);
    hi = fmaxf(hi, v);
  }
  if (lo == hi) {
    *scale = 1.0f;
    *zp = 0;
    return;
  }
  *scale = fmaxf((hi - lo) / 15.0f, FLT_EPSILON);
  *zp = (int)clampf(-nearbyintf(lo / *scale), 0, 15);
}

/* ---- reading the output ---------------------------------------------------------------------- */

typedef struct {
  q8_model *m;
  q8_session *s;
} opened;

static opened open_q8(const char *path) {
  opened o = {NULL, NULL};
  Q8_OK_OR_FAIL(q8_model_load(path, &o.m));
  Q8_OK_OR_FAIL(q8_session_create(o.m, 1, &o.s));
  Q8_OK_OR_FAIL(q8_session_run(o.s, NULL, 0));
  return o;
}

static void close_q8(opened *o) {
  q8_session_destroy(o->s);
  q8_model_destroy(o->m);
}

/* The session's tensor `name` + `suffix`, of the expected dtype and shape. */
static const void *tensor_of(const opened *o, const char *name, const char *suffix, q8_dtype dt, int64_t d0,
                             int64_t d1, size_t rank) {
  char full[512];
  snprintf(full, sizeof full, "%s%s", name, suffix);
  const q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_session_tensor(o->s, full, &t));
  q8_dtype got;
  size_t r;
  int64_t shape[8];
  Q8_OK_OR_FAIL(q8_tensor_dtype(t, &got));
  Q8_OK_OR_FAIL(q8_tensor_rank(t, &r));
  Q8_OK_OR_FAIL(q8_tensor_shape(t, shape, 8));
  cr_assert_eq(got, dt, "%s: dtype %d, wanted %d", full, (int)got, (int)dt);
  cr_assert_eq(r, rank, "%s: rank %zu, wanted %zu", full, r, rank);
  if (rank > 0) cr_assert_eq(shape[0], d0, "%s: dim 0 is %lld, wanted %lld", full, (long long)shape[0], (long long)d0);
  if (rank > 1) cr_assert_eq(shape[1], d1, "%s: dim 1 is %lld, wanted %lld", full, (long long)shape[1], (long long)d1);
  void *p = NULL;
  Q8_OK_OR_FAIL(q8_tensor_data(t, &p));
  return p;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, 4) == 0; }

static void check_int8(const opened *o, const st_tensor *t) {
  const int64_t rows = t->shape[0], cols = t->shape[1];
  const int8_t *q = tensor_of(o, t->name, "_quantized", Q8_DTYPE_S8, rows, cols, 2);
  const float *s = tensor_of(o, t->name, "_scale", Q8_DTYPE_F32, rows, 0, 1);
  const int8_t *z = tensor_of(o, t->name, "_zero_point", Q8_DTYPE_S8, rows, 0, 1);
  const float *y = tensor_of(o, t->name, "", Q8_DTYPE_F32, rows, cols, 2);
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = ref_int8_scale(t, r);
    cr_assert(same_bits(s[r], scale), "%s row %lld: scale %a, reference %a", t->name, (long long)r, s[r], scale);
    cr_assert_eq(z[r], 0);
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = (size_t)(r * cols + c);
      const int want = (int)clampf(nearbyintf(elem(t, i) / scale), -127, 127);
      cr_assert_eq(q[i], want, "%s [%lld,%lld] = %a: code %d, reference %d", t->name, (long long)r, (long long)c,
                   elem(t, i), q[i], want);
      cr_assert(same_bits(y[i], (float)want * scale), "%s [%lld,%lld]: dequantized %a", t->name, (long long)r,
                (long long)c, y[i]);
    }
  }
}

static void check_int4(const opened *o, const st_tensor *t, int64_t group) {
  const int64_t rows = t->shape[0], cols = t->shape[1], groups = (cols + group - 1) / group, packed = (cols + 1) / 2;
  const uint8_t *q = tensor_of(o, t->name, "_quantized", Q8_DTYPE_U8, rows, packed, 2);
  const float *s = tensor_of(o, t->name, "_scale", Q8_DTYPE_F32, rows, groups, 2);
  const uint8_t *z = tensor_of(o, t->name, "_zero_point", Q8_DTYPE_U8, rows, groups, 2);
  const float *y = tensor_of(o, t->name, "", Q8_DTYPE_F32, rows, cols, 2);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t c0 = g * group, c1 = c0 + group < cols ? c0 + group : cols;
      float scale;
      int zp;
      ref_int4_params(t, r, c0, c1, &scale, &zp);
      const size_t gi = (size_t)(r * groups + g);
      cr_assert(same_bits(s[gi], scale), "%s row %lld group %lld: scale %a, reference %a", t->name, (long long)r,
                (long long)g, s[gi], scale);
      cr_assert_eq(z[gi], zp, "%s row %lld group %lld: zero point %d, reference %d", t->name, (long long)r,
                   (long long)g, z[gi], zp);
      for (int64_t c = c0; c < c1; ++c) {
        const size_t i = (size_t)(r * cols + c);
        const int want = (int)clampf(nearbyintf(elem(t, i) / scale) + (float)zp, 0, 15);
        const uint8_t byte = q[r * packed + c / 2];
        const int code = c % 2 ? byte >> 4 : byte & 15;
        cr_assert_eq(code, want, "%s [%lld,%lld] = %a: code %d, reference %d", t->name, (long long)r, (long long)c,
                     elem(t, i), code, want);
        cr_assert(same_bits(y[i], (float)(want - zp) * scale), "%s [%lld,%lld]: dequantized %a", t->name,
                  (long long)r, (long long)c, y[i]);
      }
    }
  if (cols % 2)
    for (int64_t r = 0; r < rows; ++r) cr_assert_eq(q[r * packed + packed - 1] >> 4, 0, "%s: odd row's pad nibble", t->name);
}

/* A kept tensor: f32 (floats widened) or its own integer type, same shape, same values. */
static void check_kept(const opened *o, const st_tensor *t) {
  const int is_float = !strcmp(t->dtype, "F32") || !strcmp(t->dtype, "F16") || !strcmp(t->dtype, "BF16");
  const q8_dtype dt = is_float ? Q8_DTYPE_F32 : !strcmp(t->dtype, "I8") ? Q8_DTYPE_S8 : !strcmp(t->dtype, "U8") ? Q8_DTYPE_U8 : Q8_DTYPE_S32;
  const void *p = tensor_of(o, t->name, "", dt, t->shape[0], t->shape[1], t->rank);
  const size_t n = st_numel(t);
  if (!is_float) {
    if (n) cr_assert(memcmp(p, t->data, n * st_esize(t->dtype)) == 0, "%s: kept bytes differ", t->name);
    return;
  }
  for (size_t i = 0; i < n; ++i)
    cr_assert(same_bits(((const float *)p)[i], elem(t, i)), "%s [%zu]: %a, wanted %a", t->name, i,
              ((const float *)p)[i], elem(t, i));
}

/* ---- data ------------------------------------------------------------------------------------ */

static float *normal_f32(size_t n, uint64_t seed, float scale) {
  test_rng r;
  rng_seed(&r, seed);
  float *p = malloc(n * 4 + 4);
  cr_assert(p);
  for (size_t i = 0; i < n; ++i) p[i] = (float)rng_normal(&r) * scale;
  return p;
}

/* Random 16-bit patterns of finite F16 (or BF16) values, subnormals and zeros included. */
static uint16_t *finite_16(size_t n, uint64_t seed, int bf16) {
  test_rng r;
  rng_seed(&r, seed);
  uint16_t *p = malloc(n * 2 + 2);
  cr_assert(p);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    do {
      h = (uint16_t)rng_next(&r);
      if (bf16) h = (uint16_t)((h & 0x807f) | (uint16_t)(((rng_next(&r) % 40) + 100) << 7)); /* |x| ~ 2^-27..2^12 */
    } while (bf16 ? ((h >> 7) & 0xff) == 0xff : ((h >> 10) & 31) == 31);
    p[i] = h;
  }
  return p;
}

static char g_dir[64];
static char g_in[128], g_out[128];

static void setup(void) {
  make_tmpdir(g_dir, "q8ckpt");
  snprintf(g_in, sizeof g_in, "%s/in.safetensors", g_dir);
  snprintf(g_out, sizeof g_out, "%s/out.q8", g_dir);
}
static void teardown(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  remove_tree(g_dir);
}

static q8_checkpoint_options defaults(void) {
  q8_checkpoint_options o;
  Q8_OK_OR_FAIL(q8_checkpoint_options_init(&o));
  return o;
}

TestSuite(checkpoint, .init = setup, .fini = teardown);

/* ---- numerics ---------------------------------------------------------------------------------- */

/* Odd shapes in every float dtype, quantized to INT8 and INT4 (each group size) on every ISA. */
Test(checkpoint, every_dtype_shape_format_and_isa) {
  static const int64_t shapes[][2] = {{1, 1}, {7, 63}, {65, 65}, {3, 1}, {2, 129}, {4, 200}};
  enum { kShapes = sizeof shapes / sizeof shapes[0] };
  static const char *const dtypes[] = {"F32", "F16", "BF16"};
  st_tensor t[3 * kShapes];
  void *bufs[3 * kShapes];
  char names[3 * kShapes][32];
  for (size_t d = 0; d < 3; ++d)
    for (size_t s = 0; s < kShapes; ++s) {
      const size_t i = d * kShapes + s, n = (size_t)(shapes[s][0] * shapes[s][1]);
      snprintf(names[i], sizeof names[i], "w.%s.%lldx%lld", dtypes[d], (long long)shapes[s][0], (long long)shapes[s][1]);
      bufs[i] = d == 0 ? (void *)normal_f32(n, 100 + i, (float)(s + 1)) : (void *)finite_16(n, 100 + i, d == 2);
      t[i] = (st_tensor){names[i], dtypes[d], {shapes[s][0], shapes[s][1]}, 2, bufs[i]};
    }
  write_st(g_in, t, 3 * kShapes);

  q8_isa isas[8];
  const size_t nisa = supported_isas(isas);
  for (size_t k = 0; k < nisa; ++k) {
    Q8_OK_OR_FAIL(q8_runtime_set_isa(isas[k]));
    q8_checkpoint_options o = defaults();
    o.min_elements = 0;
    Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
    opened q = open_q8(g_out);
    for (size_t i = 0; i < 3 * kShapes; ++i) check_int8(&q, &t[i]);
    close_q8(&q);
    static const uint32_t groups[] = {32, 64, 128};
    for (size_t g = 0; g < 3; ++g) {
      o.format = Q8_WEIGHTS_INT4_GROUPED;
      o.group_size = groups[g];
      Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
      q = open_q8(g_out);
      for (size_t i = 0; i < 3 * kShapes; ++i) check_int4(&q, &t[i], groups[g]);
      close_q8(&q);
    }
  }
  for (size_t i = 0; i < 3 * kShapes; ++i) free(bufs[i]);
}

/* All-zero rows (scale 1), huge and tiny magnitudes, subnormals, a constant row, a lone spike. */
Test(checkpoint, zero_huge_and_tiny_rows) {
  enum { R = 6, C = 67 };
  static float w[R * C];
  for (int c = 0; c < C; ++c) {
    w[0 * C + c] = 0.0f;                                /* all zero */
    w[1 * C + c] = (c % 3 - 1) * 1e30f;                 /* huge */
    w[2 * C + c] = (c % 5 - 2) * 1e-30f;                /* tiny: scale floored at FLT_EPSILON */
    w[3 * C + c] = (c % 2 ? 1 : -1) * 1e-42f;           /* subnormal */
    w[4 * C + c] = 3.25f;                               /* constant, positive */
    w[5 * C + c] = c == 33 ? -1000.0f : 0.001f * c;     /* one spike */
  }
  st_tensor t = {"spiky", "F32", {R, C}, 2, w};
  write_st(g_in, &t, 1);
  q8_checkpoint_options o = defaults();
  o.min_elements = 1;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
  opened q = open_q8(g_out);
  check_int8(&q, &t);
  const float *s = tensor_of(&q, "spiky", "_scale", Q8_DTYPE_F32, R, 0, 1);
  cr_assert_eq(s[0], 1.0f, "an all-zero row gets scale 1");
  close_q8(&q);
  o.format = Q8_WEIGHTS_INT4_GROUPED;
  o.group_size = 32;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
  q = open_q8(g_out);
  check_int4(&q, &t, 32);
  close_q8(&q);
}

/* What stays unquantized: not 2-D, not floating point, below min_elements, named in keep_fp32,
 * empty; F16/BF16 widened exactly, integer types unchanged. */
Test(checkpoint, kept_tensors) {
  float *norm = normal_f32(33, 1, 1.0f), *small = normal_f32(6, 2, 1.0f), *named = normal_f32(64 * 70, 3, 1.0f);
  float *big = normal_f32(64 * 70, 4, 1.0f);
  uint16_t *h = finite_16(17, 5, 0), *b = finite_16(19, 6, 1);
  int8_t i8[2 * 3] = {-128, -1, 0, 1, 2, 127};
  uint8_t u8[5] = {0, 1, 128, 254, 255};
  int32_t i32[2 * 2] = {INT32_MIN, -1, 7, INT32_MAX};
  int32_t big_int[64 * 70] = {0};
  const st_tensor t[] = {
      {"norm", "F32", {33, 0}, 1, norm},           {"small", "F32", {2, 3}, 2, small},
      {"lm_head", "F32", {64, 70}, 2, named},      {"half", "F16", {17, 0}, 1, h},
      {"brain", "BF16", {19, 0}, 1, b},            {"i8", "I8", {2, 3}, 2, i8},
      {"u8", "U8", {5, 0}, 1, u8},                 {"i32", "I32", {2, 2}, 2, i32},
      {"ints", "I32", {64, 70}, 2, big_int},       {"empty_rows", "F32", {0, 9}, 2, NULL},
      {"empty_cols", "F32", {9, 0}, 2, NULL},      {"scalar", "F32", {0, 0}, 0, norm},
      {"quantized", "F32", {64, 70}, 2, big},
  };
  const size_t n = sizeof t / sizeof t[0];
  write_st(g_in, t, n);
  q8_checkpoint_options o = defaults();
  const char *keep[] = {"lm_head"};
  o.keep_fp32 = keep;
  o.keep_fp32_count = 1;
  q8_checkpoint_report r;
  r.struct_size = sizeof r;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, &r));
  cr_assert_eq(r.tensors, n);
  cr_assert_eq(r.quantized_tensors, 1, "only 'quantized' is: %zu", r.quantized_tensors);
  opened q = open_q8(g_out);
  for (size_t i = 0; i + 1 < n; ++i)
    if (t[i].rank != 0) check_kept(&q, &t[i]);
  const float *sc = tensor_of(&q, "scalar", "", Q8_DTYPE_F32, 0, 0, 0);
  cr_assert(same_bits(sc[0], norm[0]));
  check_int8(&q, &t[n - 1]);
  close_q8(&q);
  free(norm); free(small); free(named); free(big); free(h); free(b);
}

/* ---- determinism, layout, report --------------------------------------------------------------- */

/* A checkpoint big enough that a 16 MiB budget splits tensors into several blocks. */
static void write_mid_checkpoint(const char *path, float **bufs) {
  static const int64_t shapes[][2] = {{1024, 1536}, {700, 2001}, {3, 4096}, {1500, 1001}};
  static const char *const names[] = {"a.weight", "b.weight", "c.weight", "d.weight"};
  static const char *const types[] = {"F32", "BF16", "F32", "F16"};
  st_tensor t[5];
  for (int i = 0; i < 4; ++i) {
    const size_t n = (size_t)(shapes[i][0] * shapes[i][1]);
    bufs[i] = !strcmp(types[i], "F32") ? normal_f32(n, 50 + i, 0.05f) : (float *)finite_16(n, 50 + i, types[i][0] == 'B');
    t[i] = (st_tensor){names[i], types[i], {shapes[i][0], shapes[i][1]}, 2, bufs[i]};
  }
  bufs[4] = normal_f32(4096, 60, 1.0f);
  t[4] = (st_tensor){"norm", "F32", {4096, 0}, 1, bufs[4]};
  write_st(path, t, 5);
}

Test(checkpoint, same_bytes_whatever_threads_and_memory) {
  float *bufs[5];
  write_mid_checkpoint(g_in, bufs);
  for (int format = 0; format < 2; ++format) {
    blob first = {NULL, 0};
    static const size_t threads[] = {1, 2, 1, 2, 3};
    static const uint64_t memory[] = {16u << 20, 16u << 20, 512u << 20, 512u << 20, 17u << 20};
    for (int k = 0; k < 5; ++k) {
      q8_checkpoint_options o = defaults();
      o.format = (q8_weight_format)format;
      o.threads = threads[k];
      o.max_memory = memory[k];
      q8_checkpoint_report r;
      r.struct_size = sizeof r;
      Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, &r));
      cr_assert(r.peak_in_flight_bytes > 0 && r.peak_in_flight_bytes <= memory[k], "peak %llu over %llu",
                (unsigned long long)r.peak_in_flight_bytes, (unsigned long long)memory[k]);
      blob b = read_whole(g_out);
      cr_assert_eq(b.n, r.output_bytes);
      if (!first.p) {
        first = b;
        /* The streamed file is what q8's in-memory writer makes of the same graph. */
        q8_model *m = NULL;
        Q8_OK_OR_FAIL(q8_model_load(g_out, &m));
        void *again = NULL;
        size_t n = 0;
        Q8_OK_OR_FAIL(q8_model_save_bytes(m, &again, &n));
        cr_assert(n == b.n && memcmp(again, b.p, n) == 0, "q8_model_save_bytes differs from the streamed file");
        q8_free(again);
        q8_model_destroy(m);
      } else {
        cr_assert(b.n == first.n && memcmp(b.p, first.p, b.n) == 0,
                  "format %d: threads %zu, max_memory %llu gave other bytes", format, threads[k],
                  (unsigned long long)memory[k]);
        free(b.p);
      }
    }
    free(first.p);
  }
  for (int i = 0; i < 5; ++i) free(bufs[i]);
}

/* Tensor data that is not 4-byte aligned in the file is read as well as aligned data. */
Test(checkpoint, misaligned_data) {
  float *w = normal_f32(40 * 120, 9, 1.0f);
  const st_tensor t[] = {{"w", "F32", {40, 120}, 2, w}, {"v", "F32", {7, 0}, 1, w}};
  for (size_t pad = 1; pad < 4; ++pad) {
    write_st_misaligned(g_in, t, 2, pad);
    Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, NULL, NULL));
    opened q = open_q8(g_out);
    check_int8(&q, &t[0]);
    check_kept(&q, &t[1]);
    close_q8(&q);
  }
  free(w);
}

Test(checkpoint, report_fields_and_short_struct) {
  float *bufs[5];
  write_mid_checkpoint(g_in, bufs);
  q8_checkpoint_report r;
  memset(&r, 0xAB, sizeof r);
  r.struct_size = sizeof r;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, NULL, &r));
  blob b = read_whole(g_out);
  cr_assert_eq(r.output_bytes, b.n);
  cr_assert_eq(r.tensors, 5);
  cr_assert_eq(r.quantized_tensors, 4);
  const uint64_t in = (1024 * 1536 + 3 * 4096 + 4096) * 4ull + (700 * 2001 + 1500 * 1001) * 2ull;
  cr_assert_eq(r.input_bytes, in, "input bytes %llu, wanted %llu", (unsigned long long)r.input_bytes, (unsigned long long)in);
  cr_assert(r.seconds >= 0 && r.seconds < 600);
  free(b.p);
  /* An older, shorter struct: nothing past its size is written. */
  memset(&r, 0xAB, sizeof r);
  r.struct_size = offsetof(q8_checkpoint_report, tensors);
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, NULL, &r));
  cr_assert_eq(r.output_bytes, (uint64_t)b.n);
  const uint8_t *tail = (const uint8_t *)&r + offsetof(q8_checkpoint_report, tensors);
  for (size_t i = 0; i < sizeof r - offsetof(q8_checkpoint_report, tensors); ++i) cr_assert_eq(tail[i], 0xAB);
  for (int i = 0; i < 5; ++i) free(bufs[i]);
}

/* The INT8 output exports to ONNX (QDQ); the INT4 one has no standard form and says so. */
Test(checkpoint, onnx_export) {
  float *w = normal_f32(64 * 80, 11, 1.0f);
  const st_tensor t = {"w", "F32", {64, 80}, 2, w};
  write_st(g_in, &t, 1);
  q8_checkpoint_options o = defaults();
  for (int format = 0; format < 2; ++format) {
    o.format = (q8_weight_format)format;
    Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
    q8_model *m = NULL;
    Q8_OK_OR_FAIL(q8_model_load(g_out, &m));
    void *onnx = NULL;
    size_t n = 0;
    if (format == 0) {
      Q8_OK_OR_FAIL(q8_model_export_onnx_bytes(m, &onnx, &n));
      q8_free(onnx);
    } else {
      Q8_EXPECT_ERROR(q8_model_export_onnx_bytes(m, &onnx, &n), Q8_ERR_UNSUPPORTED, "DequantizeBlockwise");
      cr_assert(model_describe_has(m, "ai.q8.DequantizeBlockwise"));
    }
    q8_model_destroy(m);
  }
  free(w);
}

/* ---- failures leave nothing behind -------------------------------------------------------------- */

/* `call` fails with `want` naming `needle`; the directory then holds the input and the old
 * output only, and the old output is unchanged. */
#define EXPECT_CLEAN_FAILURE(call, want, needle)                                             \
  do {                                                                                       \
    write_whole(g_out, "old", 3);                                                            \
    Q8_EXPECT_ERROR(call, want, needle);                                                     \
    cr_assert_eq(dir_entries(g_dir), 2, "a temporary file was left behind");                 \
    blob old_ = read_whole(g_out);                                                           \
    cr_assert(old_.n == 3 && memcmp(old_.p, "old", 3) == 0, "the old output was touched");   \
    free(old_.p);                                                                            \
  } while (0)

Test(checkpoint, nan_and_infinity_are_errors) {
  const float bad[] = {NAN, INFINITY, -INFINITY};
  for (int k = 0; k < 3; ++k)
    for (int format = 0; format < 2; ++format) {
      float *ok = normal_f32(16 * 300, 12, 1.0f), *w = normal_f32(16 * 300, 13, 1.0f);
      w[9 * 300 + 250] = bad[k];
      const st_tensor t[] = {{"fine", "F32", {16, 300}, 2, ok}, {"broken.weight", "F32", {16, 300}, 2, w}};
      write_st(g_in, t, 2);
      q8_checkpoint_options o = defaults();
      o.format = (q8_weight_format)format;
      EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &o, NULL), Q8_ERR_INVALID_ARGUMENT,
                           "tensor 'broken.weight': row 9 holds NaN or an infinity");
      /* kept unquantized, the values pass through */
      const char *keep[] = {"broken.weight"};
      o.keep_fp32 = keep;
      o.keep_fp32_count = 1;
      Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
      free(w);
      free(ok);
    }
  /* A group too wide for a finite INT4 scale. */
  float w[2 * 64] = {0};
  w[64 + 3] = -3e38f;
  w[64 + 4] = 3e38f;
  const st_tensor t = {"wide", "F32", {2, 64}, 2, w};
  write_st(g_in, &t, 1);
  q8_checkpoint_options o = defaults();
  o.min_elements = 0;
  o.format = Q8_WEIGHTS_INT4_GROUPED;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &o, NULL), Q8_ERR_INVALID_ARGUMENT, "tensor 'wide': row 1");
  o.format = Q8_WEIGHTS_INT8_PER_CHANNEL;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL)); /* max|x| is finite */
}

typedef struct {
  size_t calls, cancel_at;
  size_t last_done, total;
  int monotonic;
} progress_log;

static int on_progress(void *user, const char *stage, size_t done, size_t total) {
  progress_log *p = user;
  cr_assert_str_eq(stage, "quantize");
  if (done < p->last_done || done > total) p->monotonic = 0;
  p->last_done = done;
  p->total = total;
  return ++p->calls == p->cancel_at;
}

Test(checkpoint, progress_and_cancel) {
  float *bufs[5];
  write_mid_checkpoint(g_in, bufs);
  q8_checkpoint_options o = defaults();
  o.max_memory = 16u << 20;
  progress_log log = {0, 0, 0, 0, 1};
  o.progress = on_progress;
  o.progress_user = &log;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
  cr_assert(log.calls > 5, "%zu progress calls for a 16 MiB budget", log.calls);
  cr_assert(log.monotonic);
  cr_assert_eq(log.last_done, log.total);
  cr_assert(remove(g_out) == 0);
  for (size_t at = 1; at <= 3; at += 2) {
    progress_log cancel = {0, at, 0, 0, 1};
    o.progress_user = &cancel;
    EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &o, NULL), Q8_ERR_STATE, "cancelled");
  }
  for (int i = 0; i < 5; ++i) free(bufs[i]);
}

/* ---- malformed files ---------------------------------------------------------------------------- */

/* `header` over 64 bytes of data: fails with `want` naming `needle`, leaving nothing. */
static void expect_bad_header(const char *header, q8_status want, const char *needle) {
  static const uint8_t data[64] = {0};
  write_raw(g_in, header, data, sizeof data);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), want, needle);
}

#define T(body) "{\"t\":{" body "}}"

Test(checkpoint, malformed_headers) {
  expect_bad_header("{", Q8_ERR_FORMAT, "not valid JSON");
  expect_bad_header("[1]", Q8_ERR_FORMAT, "does not start with '{'");
  expect_bad_header("{\"a\":1} x", Q8_ERR_FORMAT, "not valid JSON");
  expect_bad_header("{\"a\":1}", Q8_ERR_FORMAT, "tensor 'a': the entry is not a JSON object");
  expect_bad_header("{\"\":{}}", Q8_ERR_FORMAT, "empty name");
  expect_bad_header(T("\"shape\":[1],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT, "tensor 't': no \"dtype\"");
  expect_bad_header(T("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), Q8_ERR_FORMAT, "tensor 't': no \"shape\"");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1]"), Q8_ERR_FORMAT, "tensor 't': no \"data_offsets\"");
  expect_bad_header(T("\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT, "unknown dtype 'F99'");
  expect_bad_header(T("\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT, "\"dtype\" is not a string");
  expect_bad_header(T("\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]"), Q8_ERR_UNSUPPORTED, "tensor 't': dtype F64");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT,
                    "tensor 't': dimension 1 is negative");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT, "is not an integer");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]"), Q8_ERR_FORMAT, "\"shape\" is not an array");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT,
                    "tensor 't': the element count of shape [4294967296,4294967296] overflows");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"), Q8_ERR_UNSUPPORTED,
                    "rank 9");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]"), Q8_ERR_FORMAT, "is not [begin, end]");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]"), Q8_ERR_FORMAT, "end before they begin");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT,
                    "tensor 't': data_offsets [0, 4] hold 4 bytes, but 2 F32 elements need 8");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[60,68]"), Q8_ERR_FORMAT,
                    "end past the data section (64 bytes)");
  expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]"), Q8_ERR_FORMAT, "data_offsets[0] is negative");
  expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                    Q8_ERR_FORMAT, "tensors 'a' and 'b' overlap");
  expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                    Q8_ERR_FORMAT, "repeats tensor name 'a'");
  expect_bad_header(T("\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]"), Q8_ERR_FORMAT,
                    "repeats key 'dtype'");
  expect_bad_header("{\"__metadata__\":{\"k\":1}}", Q8_ERR_FORMAT, "\"__metadata__\" entry 'k' is not a string");
  expect_bad_header("{\"__metadata__\":[]}", Q8_ERR_FORMAT, "\"__metadata__\" is not an object");
}

Test(checkpoint, malformed_lengths_and_files) {
  /* shorter than the length field, a length past the end, a length over the 100 MB cap, empty */
  write_whole(g_in, "\x05\x00\x00", 3);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), Q8_ERR_FORMAT, "shorter than the 8-byte header length");
  write_whole(g_in, "\x40\x00\x00\x00\x00\x00\x00\x00{}", 10);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), Q8_ERR_FORMAT, "header length 64 is past the end");
  write_whole(g_in, "\x00\x00\x00\x40\x00\x00\x00\x00{}", 10);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), Q8_ERR_FORMAT, "above the 104857600-byte limit");
  write_whole(g_in, "", 0);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), Q8_ERR_FORMAT, "in.safetensors");
  write_whole(g_in, "\x00\x00\x00\x00\x00\x00\x00\x00", 8);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), Q8_ERR_FORMAT, "does not start with '{'");
  /* a missing input, a directory */
  cr_assert(remove(g_in) == 0);
  Q8_EXPECT_ERROR(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), Q8_ERR_IO, "cannot open");
  cr_assert_eq(dir_entries(g_dir), 1, "only the old output is there");
  Q8_EXPECT_ERROR(q8_checkpoint_quantize(g_dir, g_out, NULL, NULL), Q8_ERR_IO, "not a regular file");
}

/* A tensor named like another's derived constant cannot be written under both names. */
Test(checkpoint, derived_name_collision) {
  float w[64 * 64] = {0};
  const st_tensor t[] = {{"w", "F32", {64, 64}, 2, w}, {"w_scale", "F32", {4, 0}, 1, w}};
  write_st(g_in, t, 2);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, NULL, NULL), Q8_ERR_UNSUPPORTED, "'w_scale'");
  /* unquantized, "w" needs no derived names */
  const char *keep[] = {"w"};
  q8_checkpoint_options o = defaults();
  o.keep_fp32 = keep;
  o.keep_fp32_count = 1;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
}

/* ---- options ------------------------------------------------------------------------------------ */

Test(checkpoint, bad_options) {
  float w[8] = {0};
  const st_tensor t = {"w", "F32", {2, 4}, 2, w};
  write_st(g_in, &t, 1);
  q8_checkpoint_options o = defaults();
  cr_assert_eq(o.struct_size, sizeof o);
  cr_assert_eq(o.format, Q8_WEIGHTS_INT8_PER_CHANNEL);
  cr_assert_eq(o.group_size, 64);
  cr_assert_eq(o.max_memory, 512ull << 20);
  cr_assert_eq(o.min_elements, 4096);
  Q8_EXPECT_ERROR(q8_checkpoint_options_init(NULL), Q8_ERR_INVALID_ARGUMENT, "options");
  Q8_EXPECT_ERROR(q8_checkpoint_quantize(NULL, g_out, NULL, NULL), Q8_ERR_INVALID_ARGUMENT, "input");
  Q8_EXPECT_ERROR(q8_checkpoint_quantize(g_in, NULL, NULL, NULL), Q8_ERR_INVALID_ARGUMENT, "output");

  q8_checkpoint_options b = o;
  int bad_format = 7;
  memcpy(&b.format, &bad_format, sizeof bad_format);
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT, "options->format = 7");
  b = o;
  b.group_size = 48;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT, "group_size = 48");
  b = o;
  b.max_memory = (16u << 20) - 1;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT, "16 MiB minimum");
  b = o;
  b.struct_size = 8;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT, "struct_size = 8");
  b = o;
  b.keep_fp32_count = 1;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT, "keep_fp32 is NULL");
  const char *keep[] = {"w", NULL};
  b.keep_fp32 = keep;
  b.keep_fp32_count = 2;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT, "keep_fp32[1] is NULL");
  const char *typo[] = {"w.weight"};
  b.keep_fp32 = typo;
  b.keep_fp32_count = 1;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT,
                       "'w.weight', which is not a tensor");
  q8_checkpoint_report r;
  r.struct_size = 0;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &o, &r), Q8_ERR_INVALID_ARGUMENT, "report->struct_size");
  /* one row larger than the whole budget */
  float *wide = calloc(2 * 5000000, 4);
  cr_assert(wide);
  const st_tensor big = {"wide", "F32", {2, 5000000}, 2, wide};
  write_st(g_in, &big, 1);
  b = o;
  b.max_memory = 16u << 20;
  EXPECT_CLEAN_FAILURE(q8_checkpoint_quantize(g_in, g_out, &b, NULL), Q8_ERR_INVALID_ARGUMENT, "too small for tensor 'wide'");
  b.max_memory = 64u << 20;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &b, NULL));
  free(wide);
}

/* ---- the runtime's checks of ai.q8 DequantizeBlockwise ------------------------------------------- */

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static size_t align_to(size_t n, size_t bytes) {
  const size_t a = bytes < 64 ? 8 : 64; /* docs/FORMAT.md: constants of 64 bytes or more 64-aligned */
  return (n + a - 1) / a * a;
}

/* An INT4 output with one parameter edited (and the data and header CRCs recomputed, as
 * docs/FORMAT.md lays them out) loads, but a session on it fails naming the parameter. */
Test(checkpoint, blockwise_rejects_bad_parameters) {
  float *w = normal_f32(4 * 200, 21, 1.0f);
  const st_tensor t = {"w", "F32", {4, 200}, 2, w};
  write_st(g_in, &t, 1);
  q8_checkpoint_options o = defaults();
  o.min_elements = 0;
  o.format = Q8_WEIGHTS_INT4_GROUPED;
  Q8_OK_OR_FAIL(q8_checkpoint_quantize(g_in, g_out, &o, NULL));
  const blob b = read_whole(g_out);
  /* constants in order: codes [4, 100] u8, scales [4, 4] f32, zero points [4, 4] u8 */
  const size_t codes = 4 * 100, scales_at = align_to(codes, 64), zps_at = align_to(scales_at + 64, 16);
  const uint64_t data_at = le64(b.p + 32), data_size = le64(b.p + 40);
  cr_assert_eq(data_size, zps_at + 16, "the layout is not the one docs/FORMAT.md gives");
  for (int edit = 0; edit < 2; ++edit) {
    uint8_t *c = malloc(b.n);
    cr_assert(c);
    memcpy(c, b.p, b.n);
    if (edit == 0) {
      c[data_at + zps_at + 5] = 16;
    } else {
      const float bad = -0.5f;
      memcpy(c + data_at + scales_at + 4 * 6, &bad, 4);
    }
    put_le32(c + 52, (uint32_t)crc32(0, c + data_at, (uInt)data_size));
    put_le32(c + 60, (uint32_t)crc32(0, c, 60));
    q8_model *m = NULL;
    Q8_OK_OR_FAIL(q8_model_load_bytes(c, b.n, &m));
    q8_session *s = NULL;
    Q8_EXPECT_ERROR(q8_session_create(m, 1, &s), Q8_ERR_INVALID_ARGUMENT,
                    edit == 0 ? "zero_points[5] = 16 is outside [0, 15]" : "scales[6] = -0.5");
    q8_model_destroy(m);
    free(c);
  }
  free(b.p);
  free(w);
}
