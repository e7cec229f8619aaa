/* The native .q8 format (docs/FORMAT.md) through the public API: round trips of imported models
 * (bytes and files agree, saving is deterministic, descriptions and weights survive), the header
 * as documented, every truncation, wrong magic, versions, each header field, random bit flips
 * (caught by the checksums), targeted corruptions behind valid checksums (a small FlatBuffer
 * reader written here from the schema locates the fields), and atomic saving. */
#define _DEFAULT_SOURCE /* unlink, umask, setrlimit under -std=c11 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "support.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

/* The fuzzer's seeds (fuzz/corpus/q8file): .q8 files saved by earlier builds. */
static const char *corpus_path(const char *name) {
  static char path[1024];
  const char *d = getenv("Q8_Q8FILE_CORPUS");
  cr_assert(d != NULL, "Q8_Q8FILE_CORPUS is not set");
  snprintf(path, sizeof path, "%s/%s", d, name);
  return path;
}

static blob save_bytes(const q8_model *m) {
  blob b = {NULL, 0};
  void *p = NULL;
  Q8_OK_OR_FAIL(q8_model_save_bytes(m, &p, &b.n));
  b.p = p;
  return b;
}

static int same_blob(blob a, blob b) { return a.n == b.n && memcmp(a.p, b.p, a.n) == 0; }

static char *describe(const q8_model *m, int json) {
  char *s = NULL;
  Q8_OK_OR_FAIL(q8_model_describe(m, json, &s));
  return s;
}

/* ---- the header, as docs/FORMAT.md lays it out ----------------------------------------------- */

static uint64_t le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t crc(const uint8_t *p, size_t n) { return (uint32_t)crc32(0, p, (uInt)n); }

enum { H_MAJOR = 8, H_MINOR = 10, H_HSIZE = 12, H_MOFF = 16, H_MSIZE = 24, H_DOFF = 32, H_DSIZE = 40,
       H_MCRC = 48, H_DCRC = 52, H_RESERVED = 56, H_HCRC = 60, HEADER = 64 };

/* Recomputes all three checksums after an edit, so the check behind them is what fails. */
static void fix_crcs(blob b) {
  const uint64_t moff = le(b.p + H_MOFF, 8), msize = le(b.p + H_MSIZE, 8);
  const uint64_t doff = le(b.p + H_DOFF, 8), dsize = le(b.p + H_DSIZE, 8);
  if (moff <= b.n && msize <= b.n - moff) put_le(b.p + H_MCRC, crc(b.p + moff, msize), 4);
  if (doff <= b.n && dsize <= b.n - doff) put_le(b.p + H_DCRC, crc(b.p + doff, dsize), 4);
  put_le(b.p + H_HCRC, crc(b.p, H_HCRC), 4);
}

static blob copy_blob(blob b) {
  blob c = {malloc(b.n ? b.n : 1), b.n};
  cr_assert(c.p != NULL);
  memcpy(c.p, b.p, b.n);
  return c;
}

/* Loads `b` expecting `want`; on failure the message must contain `needle` (if not NULL) and the
 * out-pointer must be left alone. */
static void expect_load(blob b, q8_status want, const char *needle) {
  q8_model *sentinel = (q8_model *)(uintptr_t)0x1, *m = sentinel;
  q8_status st = q8_model_load_bytes(b.p, b.n, &m);
  cr_assert_eq(st, want, "load -> %s, wanted %s (%s)", q8_status_string(st), q8_status_string(want),
               q8_last_error());
  if (want == Q8_OK) {
    q8_model_destroy(m);
    return;
  }
  cr_assert_eq(m, sentinel, "out written on failure");
  if (needle) cr_assert(strstr(q8_last_error(), needle) != NULL, "message '%s' lacks '%s'", q8_last_error(), needle);
}

/* ---- a minimal FlatBuffer reader for q8model.fbs (positions relative to the whole file) ----- */

/* Field ids in declaration order (a union takes two: its type, then its value). */
enum { M_PRODUCER, M_VALUES, M_NODES, M_INPUTS, M_OUTPUTS };
enum { V_NAME, V_DTYPE, V_HAS_SHAPE, V_SHAPE, V_IS_CONST, V_QPARAMS, V_DATA_OFFSET, V_DATA_SIZE };
enum { Q_AXIS, Q_SCALES, Q_ZERO_POINTS };
enum { N_NAME, N_DOMAIN, N_OP, N_INPUTS, N_OUTPUTS, N_ATTRS };
enum { A_NAME, A_VALUE_TYPE, A_VALUE };

static size_t fb_root(blob b) {
  const size_t meta = (size_t)le(b.p + H_MOFF, 8);
  return meta + (size_t)le(b.p + meta, 4);
}
/* Position of field `id` of the table at `t`, or 0 when absent (a default value). */
static size_t fb_field(blob b, size_t t, int id) {
  const size_t vt = t - (size_t)(int64_t)(int32_t)le(b.p + t, 4);
  const size_t slot = 4 + 2 * (size_t)id;
  if (slot + 2 > le(b.p + vt, 2)) return 0;
  const size_t off = (size_t)le(b.p + vt + slot, 2);
  return off ? t + off : 0;
}
/* Follows the offset stored at `pos` (a table, vector or string reference). */
static size_t fb_deref(blob b, size_t pos) { return pos + (size_t)le(b.p + pos, 4); }
/* Vector field: position of its length word, or 0. */
static size_t fb_vec(blob b, size_t t, int id) {
  const size_t f = fb_field(b, t, id);
  return f ? fb_deref(b, f) : 0;
}
static size_t fb_len(blob b, size_t vec) { return (size_t)le(b.p + vec, 4); }
/* Element i of a vector of tables. */
static size_t fb_table_at(blob b, size_t vec, size_t i) { return fb_deref(b, vec + 4 + 4 * i); }
static int fb_name_is(blob b, size_t t, int id, const char *name) {
  const size_t s = fb_vec(b, t, id);
  return s && fb_len(b, s) == strlen(name) && memcmp(b.p + s + 4, name, strlen(name)) == 0;
}
static size_t value_named(blob b, const char *name) {
  const size_t values = fb_vec(b, fb_root(b), M_VALUES);
  for (size_t i = 0; i < fb_len(b, values); ++i)
    if (fb_name_is(b, fb_table_at(b, values, i), V_NAME, name)) return fb_table_at(b, values, i);
  cr_assert_fail("no value named %s", name);
  return 0;
}
static size_t value_index(blob b, const char *name) {
  const size_t values = fb_vec(b, fb_root(b), M_VALUES);
  for (size_t i = 0; i < fb_len(b, values); ++i)
    if (fb_name_is(b, fb_table_at(b, values, i), V_NAME, name)) return i;
  cr_assert_fail("no value named %s", name);
  return 0;
}
static size_t node_at(blob b, size_t i) { return fb_table_at(b, fb_vec(b, fb_root(b), M_NODES), i); }

/* ---- round trips --------------------------------------------------------------------------- */

static const char *const k_models[] = {
    "models/digits_mlp.onnx",   "models/digits_cnn.onnx",     "models/digits_tiny_cnn.onnx",
    "ops/conv_const.onnx",      "ops/gemm_const.onnx",        "ops/conv_same_upper.onnx",
    "ops/avgpool_incl_ceil.onnx", "ops/concat_u8.onnx",       "ops/batchnorm.onnx"};

static void check_same_model(const q8_model *a, const q8_model *b) {
  char *da = describe(a, 0), *db = describe(b, 0);
  cr_assert_str_eq(da, db);
  q8_free(da);
  q8_free(db);
  da = describe(a, 1);
  db = describe(b, 1);
  cr_assert_str_eq(da, db);
  q8_free(da);
  q8_free(db);
  size_t wa, wb, na, nb;
  Q8_OK_OR_FAIL(q8_model_weight_bytes(a, &wa));
  Q8_OK_OR_FAIL(q8_model_weight_bytes(b, &wb));
  cr_assert_eq(wa, wb);
  Q8_OK_OR_FAIL(q8_model_node_count(a, &na));
  Q8_OK_OR_FAIL(q8_model_node_count(b, &nb));
  cr_assert_eq(na, nb);
}

Test(q8file, round_trip_bytes_is_identical) {
  for (size_t k = 0; k < sizeof k_models / sizeof *k_models; ++k) {
    q8_model *m = load_fixture(k_models[k]);
    blob a = save_bytes(m), again = save_bytes(m);
    cr_assert(same_blob(a, again), "%s: saving twice gave different bytes", k_models[k]);
    q8_model *l = NULL;
    Q8_OK_OR_FAIL(q8_model_load_bytes(a.p, a.n, &l));
    blob b = save_bytes(l);
    cr_assert(same_blob(a, b), "%s: save -> load -> save changed the bytes", k_models[k]);
    check_same_model(m, l);
    q8_model_destroy(l);
    q8_model_destroy(m);
    q8_free(a.p);
    q8_free(again.p);
    q8_free(b.p);
  }
}

Test(q8file, file_and_bytes_agree) {
  char dir[64], path[128];
  make_tmpdir(dir, "q8file");
  snprintf(path, sizeof path, "%s/model.q8", dir);
  for (size_t k = 0; k < sizeof k_models / sizeof *k_models; ++k) {
    q8_model *m = load_fixture(k_models[k]);
    Q8_OK_OR_FAIL(q8_model_save(m, path));
    blob file = read_whole(path), bytes = save_bytes(m);
    cr_assert(same_blob(file, bytes), "%s: the file differs from the bytes", k_models[k]);
    q8_model *l = NULL;
    Q8_OK_OR_FAIL(q8_model_load(path, &l));
    check_same_model(m, l);
    /* A mapped model keeps its weights after its file is gone (the mapping holds them). */
    cr_assert_eq(unlink(path), 0);
    blob again = save_bytes(l);
    cr_assert(same_blob(again, bytes), "%s: the mapped model saves different bytes", k_models[k]);
    cr_assert_eq(dir_entries(dir), 0, "a temporary file was left behind");
    q8_model_destroy(l);
    q8_model_destroy(m);
    free(file.p);
    q8_free(bytes.p);
    q8_free(again.p);
  }
  remove_tree(dir);
}

/* The loaded weights are the imported ones: both models compute the same bits. */
Test(q8file, loaded_model_computes_the_same) {
  char dir[64], path[128];
  make_tmpdir(dir, "q8file");
  snprintf(path, sizeof path, "%s/mlp.q8", dir);
  q8_model *m = load_fixture("models/digits_mlp.onnx");
  Q8_OK_OR_FAIL(q8_model_save(m, path));
  q8_model *l = NULL;
  Q8_OK_OR_FAIL(q8_model_load(path, &l));
  float x[3 * 64];
  test_rng r;
  rng_seed(&r, 5);
  for (size_t i = 0; i < sizeof x / sizeof *x; ++i) x[i] = (float)rng_uniform(&r);
  const int64_t shape[2] = {3, 64};
  q8_tensor *in = NULL;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, x, sizeof x, &in));
  const q8_tensor *ins[1] = {in}, *oa = NULL, *ob = NULL;
  q8_session *sa = NULL, *sb = NULL;
  Q8_OK_OR_FAIL(q8_session_create(m, 3, &sa));
  Q8_OK_OR_FAIL(q8_session_create(l, 3, &sb));
  Q8_OK_OR_FAIL(q8_session_run(sa, ins, 1));
  Q8_OK_OR_FAIL(q8_session_run(sb, ins, 1));
  Q8_OK_OR_FAIL(q8_session_output(sa, 0, &oa));
  Q8_OK_OR_FAIL(q8_session_output(sb, 0, &ob));
  size_t na, nb;
  Q8_OK_OR_FAIL(q8_tensor_nbytes(oa, &na));
  Q8_OK_OR_FAIL(q8_tensor_nbytes(ob, &nb));
  cr_assert_eq(na, nb);
  cr_assert_eq(na, 3 * 10 * sizeof(float));
  void *pa, *pb;
  Q8_OK_OR_FAIL(q8_tensor_data(oa, &pa));
  Q8_OK_OR_FAIL(q8_tensor_data(ob, &pb));
  cr_assert(memcmp(pa, pb, na) == 0, "outputs differ after the round trip");
  q8_session_destroy(sa);
  q8_session_destroy(sb);
  q8_tensor_destroy(in);
  q8_model_destroy(l);
  q8_model_destroy(m);
  remove_tree(dir);
}

/* Files saved earlier keep loading, and re-save to the very same bytes: the format (and the
 * writer's canonical layout) is stable. */
Test(q8file, stored_files_load_and_resave_identically) {
  static const char *const seeds[] = {"conv_const.q8", "conv_const_dyn.q8", "avgpool_incl_ceil.q8",
                                      "concat_u8.q8", "conv_same_upper.q8", "gemm_const_dyn.q8",
                                      "unary.q8", "batchnorm.q8"};
  for (size_t k = 0; k < sizeof seeds / sizeof *seeds; ++k) {
    q8_model *m = NULL;
    Q8_OK_OR_FAIL(q8_model_load(corpus_path(seeds[k]), &m));
    blob file = read_whole(corpus_path(seeds[k])), again = save_bytes(m);
    cr_assert(same_blob(file, again), "%s re-saves differently", seeds[k]);
    free(file.p);
    q8_free(again.p);
    q8_model_destroy(m);
  }
}

Test(q8file, header_is_as_documented) {
  q8_model *m = load_fixture("models/digits_cnn.onnx");
  blob b = save_bytes(m);
  static const uint8_t magic[8] = {0x89, 'Q', '8', 'M', 0x0D, 0x0A, 0x1A, 0x0A};
  cr_assert(b.n > HEADER);
  cr_assert(memcmp(b.p, magic, 8) == 0);
  cr_assert_eq(le(b.p + H_MAJOR, 2), 1);
  cr_assert_eq(le(b.p + H_MINOR, 2), 0);
  cr_assert_eq(le(b.p + H_HSIZE, 4), HEADER);
  cr_assert_eq(le(b.p + H_MOFF, 8), HEADER);
  const uint64_t msize = le(b.p + H_MSIZE, 8), doff = le(b.p + H_DOFF, 8), dsize = le(b.p + H_DSIZE, 8);
  cr_assert_eq(doff % 64, 0);
  cr_assert(doff >= HEADER + msize && doff < HEADER + msize + 64);
  cr_assert_eq(doff + dsize, b.n);
  cr_assert_eq(memcmp(b.p + 4 + HEADER, "Q8MD", 4), 0, "FlatBuffer file identifier");
  cr_assert_eq(le(b.p + H_MCRC, 4), crc(b.p + HEADER, msize));
  cr_assert_eq(le(b.p + H_DCRC, 4), crc(b.p + doff, dsize));
  cr_assert_eq(le(b.p + H_RESERVED, 4), 0);
  cr_assert_eq(le(b.p + H_HCRC, 4), crc(b.p, 60));
  /* Every constant is 64-byte aligned in the data section and sized by its shape. */
  size_t weights = 0, consts = 0;
  Q8_OK_OR_FAIL(q8_model_weight_bytes(m, &weights));
  const size_t values = fb_vec(b, fb_root(b), M_VALUES);
  size_t total = 0;
  for (size_t i = 0; i < fb_len(b, values); ++i) {
    const size_t v = fb_table_at(b, values, i);
    const size_t c = fb_field(b, v, V_IS_CONST);
    if (!c || !b.p[c]) continue;
    ++consts;
    const size_t off = fb_field(b, v, V_DATA_OFFSET), size = fb_field(b, v, V_DATA_SIZE);
    cr_assert_eq((off ? le(b.p + off, 8) : 0) % 64, 0);
    total += size ? le(b.p + size, 8) : 0;
  }
  cr_assert(consts >= 4, "the CNN has at least two weights and two biases");
  cr_assert_eq(total, weights);
  q8_free(b.p);
  q8_model_destroy(m);
}

/* ---- bad bytes ----------------------------------------------------------------------------- */

static blob small_model_bytes(void) {
  q8_model *m = load_fixture("ops/conv_const.onnx");
  blob b = save_bytes(m);
  q8_model_destroy(m);
  return b;
}

Test(q8file, every_truncation_fails) {
  blob b = small_model_bytes();
  for (size_t len = 0; len < b.n; ++len) {
    blob t = {b.p, len};
    expect_load(t, Q8_ERR_FORMAT, NULL);
  }
  expect_load(b, Q8_OK, NULL);
  q8_free(b.p);
}

Test(q8file, trailing_bytes_fail) {
  blob b = small_model_bytes();
  blob c = {malloc(b.n + 64), b.n + 64};
  memcpy(c.p, b.p, b.n);
  memset(c.p + b.n, 0, 64);
  expect_load(c, Q8_ERR_FORMAT, "after the data section");
  free(c.p);
  q8_free(b.p);
}

Test(q8file, wrong_magic) {
  blob b = small_model_bytes();
  for (int i = 0; i < 8; ++i) {
    blob c = copy_blob(b);
    c.p[i] ^= 0x20;
    expect_load(c, Q8_ERR_FORMAT, "magic");
    free(c.p);
  }
  blob text = {(uint8_t *)"ir_version: 8\nproducer_name: \"x\"\n", 33};
  expect_load(text, Q8_ERR_FORMAT, "magic");
  q8_free(b.p);
}

Test(q8file, versions) {
  blob b = small_model_bytes();
  /* A newer major version is unsupported, checksum or not (its header may differ). */
  blob c = copy_blob(b);
  put_le(c.p + H_MAJOR, 2, 2);
  expect_load(c, Q8_ERR_UNSUPPORTED, "2.0");
  fix_crcs(c);
  expect_load(c, Q8_ERR_UNSUPPORTED, "newer");
  put_le(c.p + H_MAJOR, 0xFFFF, 2);
  expect_load(c, Q8_ERR_UNSUPPORTED, "65535.0");
  /* Major 0 never existed. */
  put_le(c.p + H_MAJOR, 0, 2);
  fix_crcs(c);
  expect_load(c, Q8_ERR_FORMAT, "0.0");
  /* A newer minor version of the same major is readable (it only adds what 1.0 may ignore). */
  put_le(c.p + H_MAJOR, 1, 2);
  put_le(c.p + H_MINOR, 9, 2);
  fix_crcs(c);
  expect_load(c, Q8_OK, NULL);
  free(c.p);
  q8_free(b.p);
}

Test(q8file, any_header_byte_corrupted) {
  blob b = small_model_bytes();
  for (int i = H_MINOR; i < HEADER; ++i) {
    blob c = copy_blob(b);
    c.p[i] ^= 0x04;
    expect_load(c, Q8_ERR_FORMAT, "header checksum");
    free(c.p);
  }
  q8_free(b.p);
}

/* Each header field set to a bad value with the checksums made to match: the range checks. */
Test(q8file, header_fields_behind_valid_checksums) {
  blob b = small_model_bytes();
  const uint64_t msize = le(b.p + H_MSIZE, 8), doff = le(b.p + H_DOFF, 8), dsize = le(b.p + H_DSIZE, 8);
  const struct {
    int at, width;
    uint64_t value;
    const char *needle;
  } cases[] = {
      {H_HSIZE, 4, 32, "header size 32"},
      {H_HSIZE, 4, 0xFFFFFFFFu, "header size"},
      {H_HSIZE, 4, 128, "overlaps the header"},
      {H_MOFF, 8, 0, "metadata offset 0"},
      {H_MOFF, 8, 68, "not 8-byte aligned"},
      {H_MOFF, 8, UINT64_MAX - 7, "past the end"},
      {H_MSIZE, 8, UINT64_MAX, "past the end"},
      {H_MSIZE, 8, b.n, "past the end"},
      {H_MSIZE, 8, msize - 8, "not a valid q8 FlatBuffer"},
      {H_MSIZE, 8, doff - HEADER + 1, "after the metadata"},
      {H_DOFF, 8, doff + 1, "not a multiple of 64"},
      {H_DOFF, 8, doff - 64, "after the metadata"},
      {H_DOFF, 8, UINT64_MAX - 63, "past the end"},
      {H_DSIZE, 8, dsize + 1, "past the end"},
      {H_DSIZE, 8, UINT64_MAX, "past the end"},
      {H_DSIZE, 8, dsize - 4, "after the data section"},
      {H_RESERVED, 4, 1, "reserved"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
    blob c = copy_blob(b);
    put_le(c.p + cases[k].at, cases[k].value, cases[k].width);
    fix_crcs(c);
    expect_load(c, Q8_ERR_FORMAT, cases[k].needle);
    free(c.p);
  }
  /* The checksums themselves. */
  blob c = copy_blob(b);
  put_le(c.p + H_MCRC, le(c.p + H_MCRC, 4) ^ 1, 4);
  put_le(c.p + H_HCRC, crc(c.p, H_HCRC), 4);
  expect_load(c, Q8_ERR_FORMAT, "metadata checksum");
  free(c.p);
  c = copy_blob(b);
  put_le(c.p + H_DCRC, le(c.p + H_DCRC, 4) ^ 0x80000000u, 4);
  put_le(c.p + H_HCRC, crc(c.p, H_HCRC), 4);
  expect_load(c, Q8_ERR_FORMAT, "data checksum");
  free(c.p);
  q8_free(b.p);
}

/* CRC-32 catches every single-bit error, so no flip anywhere may load. */
Test(q8file, random_bit_flips_are_caught) {
  q8_model *m = load_fixture("models/digits_mlp.onnx");
  blob b = save_bytes(m);
  q8_model_destroy(m);
  const uint64_t doff = le(b.p + H_DOFF, 8);
  test_rng r;
  rng_seed(&r, 1234);
  for (int k = 0; k < 300; ++k) {
    /* Half the flips land in the data section, the rest anywhere. */
    const size_t at = k % 2 ? doff + rng_next(&r) % (b.n - doff) : rng_next(&r) % b.n;
    const uint8_t bit = (uint8_t)(1u << (rng_next(&r) % 8));
    b.p[at] ^= bit;
    q8_model *l = NULL;
    const q8_status st = q8_model_load_bytes(b.p, b.n, &l);
    if ((at == H_MAJOR || at == H_MAJOR + 1) && le(b.p + H_MAJOR, 2) > 1)
      cr_assert_eq(st, Q8_ERR_UNSUPPORTED, "flip at %zu -> %s", at, q8_status_string(st));
    else
      cr_assert_eq(st, Q8_ERR_FORMAT, "flip at %zu bit %u -> %s", at, bit, q8_status_string(st));
    if (at >= doff)
      cr_assert(strstr(q8_last_error(), "data checksum") != NULL, "flip at %zu: %s", at, q8_last_error());
    b.p[at] ^= bit;
  }
  q8_free(b.p);
}

/* Flips in the metadata with the checksums recomputed reach the FlatBuffer verifier and the
 * semantic checks: a format error, an unsupported operator, or a model that saves and loads again. */
Test(q8file, metadata_flips_behind_valid_checksums) {
  blob b = small_model_bytes();
  const uint64_t msize = le(b.p + H_MSIZE, 8);
  test_rng r;
  rng_seed(&r, 99);
  size_t loaded = 0;
  for (int k = 0; k < 400; ++k) {
    blob c = copy_blob(b);
    const int flips = 1 + (int)(rng_next(&r) % 3);
    for (int f = 0; f < flips; ++f) c.p[HEADER + rng_next(&r) % msize] ^= (uint8_t)(1u << (rng_next(&r) % 8));
    fix_crcs(c);
    q8_model *l = NULL;
    const q8_status st = q8_model_load_bytes(c.p, c.n, &l);
    /* UNSUPPORTED: a flip in an operator's name. */
    cr_assert(st == Q8_OK || st == Q8_ERR_FORMAT || st == Q8_ERR_UNSUPPORTED, "-> %s (%s)",
              q8_status_string(st), q8_last_error());
    if (st == Q8_OK) {
      ++loaded;
      blob s = save_bytes(l);
      q8_model *l2 = NULL;
      Q8_OK_OR_FAIL(q8_model_load_bytes(s.p, s.n, &l2));
      q8_model_destroy(l2);
      q8_free(s.p);
      q8_model_destroy(l);
    }
    free(c.p);
  }
  cr_assert(loaded < 400, "some flips must be rejected");
  q8_free(b.p);
}

/* ---- targeted corruptions behind valid checksums ------------------------------------------- */

typedef void (*mutation)(blob);

static void check_mutation(const char *model, mutation f, q8_status want, const char *needle) {
  q8_model *m = load_fixture(model);
  blob b = save_bytes(m);
  q8_model_destroy(m);
  f(b);
  fix_crcs(b);
  expect_load(b, want, needle);
  q8_free(b.p);
}

/* conv_const: values X, W [4,1,3,3] f32, B [4] f32, Y; one Conv node with pads. */
static void w_dim0_5(blob b) { b.p[fb_vec(b, value_named(b, "W"), V_SHAPE) + 4] = 5; }
static void w_dim1_neg(blob b) { put_le(b.p + fb_vec(b, value_named(b, "W"), V_SHAPE) + 4 + 8, (uint64_t)-2, 8); }
/* Rank 9 on a shape vector whose ninth dim still lies inside the metadata (so the verifier
 * passes it and the rank check is what fails). */
static void rank9(blob b) {
  const size_t values = fb_vec(b, fb_root(b), M_VALUES);
  const size_t end = HEADER + (size_t)le(b.p + H_MSIZE, 8);
  for (size_t i = 0; i < fb_len(b, values); ++i) {
    const size_t shape = fb_vec(b, fb_table_at(b, values, i), V_SHAPE);
    if (shape && shape + 4 + 9 * 8 <= end) {
      put_le(b.p + shape, 9, 4);
      return;
    }
  }
  cr_assert_fail("no shape vector to grow");
}
static void b_offset_plus1(blob b) {
  const size_t f = fb_field(b, value_named(b, "B"), V_DATA_OFFSET);
  put_le(b.p + f, le(b.p + f, 8) + 1, 8);
}
static void b_offset_past(blob b) {
  const size_t f = fb_field(b, value_named(b, "B"), V_DATA_OFFSET);
  put_le(b.p + f, le(b.p + f, 8) + 64, 8);
}
static void b_offset_huge(blob b) {
  put_le(b.p + fb_field(b, value_named(b, "B"), V_DATA_OFFSET), UINT64_MAX - 63, 8);
}
static void b_not_const(blob b) { b.p[fb_field(b, value_named(b, "B"), V_IS_CONST)] = 0; }
static void b_data_size_wrong(blob b) {
  const size_t f = fb_field(b, value_named(b, "B"), V_DATA_SIZE);
  put_le(b.p + f, le(b.p + f, 8) - 4, 8);
}
static void b_has_shape_false(blob b) { b.p[fb_field(b, value_named(b, "B"), V_HAS_SHAPE)] = 0; }
static void node_input_99(blob b) { put_le(b.p + fb_vec(b, node_at(b, 0), N_INPUTS) + 4, 99, 4); }
static void node_input_neg2(blob b) { put_le(b.p + fb_vec(b, node_at(b, 0), N_INPUTS) + 4, (uint64_t)-2, 4); }
static void node_input_is_own_output(blob b) {
  put_le(b.p + fb_vec(b, node_at(b, 0), N_INPUTS) + 4, value_index(b, "Y"), 4);
}
static void graph_output_minus1(blob b) { put_le(b.p + fb_vec(b, fb_root(b), M_OUTPUTS) + 4, (uint64_t)-1, 4); }
static void graph_input_const(blob b) {
  put_le(b.p + fb_vec(b, fb_root(b), M_INPUTS) + 4, value_index(b, "W"), 4);
}
static void attr_kind_9(blob b) {
  const size_t a = fb_table_at(b, fb_vec(b, node_at(b, 0), N_ATTRS), 0);
  b.p[fb_field(b, a, A_VALUE_TYPE)] = 9;
}
static void duplicate_name(blob b) {
  /* "B" -> "W": two values with one name. */
  b.p[fb_vec(b, value_named(b, "B"), V_NAME) + 4] = 'W';
}
static void op_renamed(blob b) {
  const size_t op = fb_vec(b, node_at(b, 0), N_OP);
  cr_assert(fb_len(b, op) == 4 && memcmp(b.p + op + 4, "Conv", 4) == 0);
  b.p[op + 7] = 'w';
}
static void file_identifier(blob b) { b.p[HEADER + 7] ^= 1; }
static void root_offset_huge(blob b) { put_le(b.p + HEADER, 0x7FFFFFF0u, 4); }

Test(q8file, targeted_value_corruptions) {
  check_mutation("ops/conv_const.onnx", w_dim0_5, Q8_ERR_FORMAT, "holds 144 bytes, its shape needs 180");
  check_mutation("ops/conv_const.onnx", w_dim1_neg, Q8_ERR_FORMAT, "dimension 1 is -2");
  check_mutation("ops/conv_const.onnx", rank9, Q8_ERR_FORMAT, "rank 9 is above 8");
  check_mutation("ops/conv_const.onnx", b_offset_plus1, Q8_ERR_FORMAT, "data offset 145 is not a multiple of 8");
  check_mutation("ops/conv_const.onnx", b_offset_past, Q8_ERR_FORMAT,
                 "'B': data range 208+16 past the data section (160 bytes)");
  check_mutation("ops/conv_const.onnx", b_offset_huge, Q8_ERR_FORMAT, "past the data section");
  check_mutation("ops/conv_const.onnx", b_not_const, Q8_ERR_FORMAT, "not a constant but has data");
  check_mutation("ops/conv_const.onnx", b_data_size_wrong, Q8_ERR_FORMAT, "holds 12 bytes, its shape needs 16");
  check_mutation("ops/conv_const.onnx", b_has_shape_false, Q8_ERR_FORMAT, "has_shape is false");
  check_mutation("ops/conv_const.onnx", duplicate_name, Q8_ERR_FORMAT, "used twice");
}

Test(q8file, targeted_graph_corruptions) {
  check_mutation("ops/conv_const.onnx", node_input_99, Q8_ERR_FORMAT, "value index 99 is out of range");
  check_mutation("ops/conv_const.onnx", node_input_neg2, Q8_ERR_FORMAT, "value index -2 is out of range");
  check_mutation("ops/conv_const.onnx", node_input_is_own_output, Q8_ERR_FORMAT, "used before it is produced");
  check_mutation("ops/conv_const.onnx", graph_output_minus1, Q8_ERR_FORMAT, "-1 is not allowed");
  check_mutation("ops/conv_const.onnx", graph_input_const, Q8_ERR_FORMAT, "is a constant");
  check_mutation("ops/conv_const.onnx", attr_kind_9, Q8_ERR_FORMAT, "unknown kind (9)");
  check_mutation("ops/conv_const.onnx", op_renamed, Q8_ERR_UNSUPPORTED, "operator Conw is not supported");
  check_mutation("ops/conv_const.onnx", file_identifier, Q8_ERR_FORMAT, "not a valid q8 FlatBuffer");
  check_mutation("ops/conv_const.onnx", root_offset_huge, Q8_ERR_FORMAT, "not a valid q8 FlatBuffer");
}

/* concat_u8: u8 inputs, so the dtype field is stored. */
static void first_dtype_7(blob b) {
  const size_t v = fb_table_at(b, fb_vec(b, fb_root(b), M_VALUES), 0);
  const size_t f = fb_field(b, v, V_DTYPE);
  cr_assert(f != 0, "a u8 value stores its dtype");
  b.p[f] = 7;
}
static void first_dtype_neg(blob b) {
  b.p[fb_field(b, fb_table_at(b, fb_vec(b, fb_root(b), M_VALUES), 0), V_DTYPE)] = 0xFF;
}

Test(q8file, targeted_dtype_corruptions) {
  check_mutation("ops/concat_u8.onnx", first_dtype_7, Q8_ERR_FORMAT, "unknown dtype 7");
  check_mutation("ops/concat_u8.onnx", first_dtype_neg, Q8_ERR_FORMAT, "unknown dtype -1");
}

/* avgpool_incl_ceil: one node with attributes ceil_mode, count_include_pad, kernel_shape, pads,
 * strides (sorted). Swapping two makes them out of order; pointing one at the other repeats it. */
static void attrs_swapped(blob b) {
  const size_t vec = fb_vec(b, node_at(b, 0), N_ATTRS);
  const size_t a0 = fb_table_at(b, vec, 0), a1 = fb_table_at(b, vec, 1);
  put_le(b.p + vec + 4, a1 - (vec + 4), 4);
  put_le(b.p + vec + 8, a0 - (vec + 8), 4);
}
static void attrs_repeated(blob b) {
  const size_t vec = fb_vec(b, node_at(b, 0), N_ATTRS);
  put_le(b.p + vec + 8, fb_table_at(b, vec, 0) - (vec + 8), 4);
}

Test(q8file, targeted_attribute_corruptions) {
  check_mutation("ops/avgpool_incl_ceil.onnx", attrs_swapped, Q8_ERR_FORMAT, "out of order or repeated");
  check_mutation("ops/avgpool_incl_ceil.onnx", attrs_repeated, Q8_ERR_FORMAT, "out of order or repeated");
}

/* The stored seed conv_const_dyn.q8 (conv_const after dynamic PTQ): its s8 weight carries
 * per-axis parameters (axis 0, 4 channels). */
static void check_qparams_mutation(mutation f, const char *needle) {
  blob b = read_whole(corpus_path("conv_const_dyn.q8"));
  expect_load(b, Q8_OK, NULL);
  f(b);
  fix_crcs(b);
  expect_load(b, Q8_ERR_FORMAT, needle);
  free(b.p);
}
static size_t first_qparams(blob b) {
  const size_t values = fb_vec(b, fb_root(b), M_VALUES);
  for (size_t i = 0; i < fb_len(b, values); ++i) {
    const size_t q = fb_field(b, fb_table_at(b, values, i), V_QPARAMS);
    if (q) return fb_deref(b, q);
  }
  cr_assert_fail("no value has quantization parameters");
  return 0;
}
static void scale_zero(blob b) { put_le(b.p + fb_vec(b, first_qparams(b), Q_SCALES) + 4, 0, 4); }
static void scale_nan(blob b) { put_le(b.p + fb_vec(b, first_qparams(b), Q_SCALES) + 8, 0x7FC00000u, 4); }
static void scale_inf(blob b) { put_le(b.p + fb_vec(b, first_qparams(b), Q_SCALES) + 8, 0x7F800000u, 4); }
static void zero_point_200(blob b) { put_le(b.p + fb_vec(b, first_qparams(b), Q_ZERO_POINTS) + 4, 200, 4); }
static void zero_points_3(blob b) { put_le(b.p + fb_vec(b, first_qparams(b), Q_ZERO_POINTS), 3, 4); }
static void axis_1(blob b) {
  const size_t f = fb_field(b, first_qparams(b), Q_AXIS);
  cr_assert(f != 0, "axis 0 is stored (the default is -1)");
  put_le(b.p + f, 1, 4);
}
static void axis_9(blob b) { put_le(b.p + fb_field(b, first_qparams(b), Q_AXIS), 9, 4); }
static void axis_per_tensor(blob b) { put_le(b.p + fb_field(b, first_qparams(b), Q_AXIS), (uint64_t)-1, 4); }

Test(q8file, targeted_qparams_corruptions) {
  check_qparams_mutation(scale_zero, "scale 0 = 0.000000 is not finite and > 0");
  check_qparams_mutation(scale_nan, "scale 1 = nan is not finite and > 0");
  check_qparams_mutation(scale_inf, "scale 1 = inf");
  check_qparams_mutation(zero_point_200, "zero point 0 = 200 is outside the s8 range");
  check_qparams_mutation(zero_points_3, "4 scales but 3 zero points");
  check_qparams_mutation(axis_1, "4 scales for axis 1 of length 1");
  check_qparams_mutation(axis_9, "quantization axis 9 is not an axis");
  check_qparams_mutation(axis_per_tensor, "per-tensor quantization with 4 scales");
}

/* ---- files --------------------------------------------------------------------------------- */

Test(q8file, load_file_errors) {
  char dir[64], path[128];
  make_tmpdir(dir, "q8file");
  q8_model *m = NULL;
  snprintf(path, sizeof path, "%s/missing.q8", dir);
  Q8_EXPECT_STATUS(q8_model_load(path, &m), Q8_ERR_IO);
  cr_assert(strstr(q8_last_error(), "missing.q8") != NULL);
  Q8_EXPECT_STATUS(q8_model_load(dir, &m), Q8_ERR_IO);
  snprintf(path, sizeof path, "%s/empty.q8", dir);
  write_whole(path, "", 0);
  Q8_EXPECT_STATUS(q8_model_load(path, &m), Q8_ERR_FORMAT);
  cr_assert(strstr(q8_last_error(), "empty.q8") != NULL, "%s", q8_last_error());
  /* A truncated file names the file and the problem. */
  blob b = small_model_bytes();
  snprintf(path, sizeof path, "%s/cut.q8", dir);
  write_whole(path, b.p, b.n - 1);
  Q8_EXPECT_STATUS(q8_model_load(path, &m), Q8_ERR_FORMAT);
  cr_assert(strstr(q8_last_error(), "cut.q8") && strstr(q8_last_error(), "past the end"), "%s", q8_last_error());
  cr_assert_null(m);
  q8_free(b.p);
  remove_tree(dir);
}

Test(q8file, save_into_missing_directory_fails) {
  char dir[64], path[160], target[128];
  make_tmpdir(dir, "q8file");
  q8_model *m = load_fixture("ops/conv_const.onnx");
  snprintf(target, sizeof target, "%s/model.q8", dir);
  write_whole(target, "old", 3);
  snprintf(path, sizeof path, "%s/no-such-dir/model.q8", dir);
  Q8_EXPECT_STATUS(q8_model_save(m, path), Q8_ERR_IO);
  cr_assert(strstr(q8_last_error(), "No such file or directory") != NULL, "%s", q8_last_error());
  blob old = read_whole(target);
  cr_assert(old.n == 3 && memcmp(old.p, "old", 3) == 0, "the existing file changed");
  cr_assert_eq(dir_entries(dir), 1);
  free(old.p);
  q8_model_destroy(m);
  remove_tree(dir);
}

Test(q8file, save_replaces_atomically) {
  char dir[64], path[128];
  make_tmpdir(dir, "q8file");
  snprintf(path, sizeof path, "%s/model.q8", dir);
  write_whole(path, "previous contents", 17);
  cr_assert_eq(chmod(path, 0640), 0);
  q8_model *m = load_fixture("models/digits_mlp.onnx");
  Q8_OK_OR_FAIL(q8_model_save(m, path));
  blob file = read_whole(path), bytes = save_bytes(m);
  cr_assert(same_blob(file, bytes));
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 07777, 0640, "the replaced file's mode is kept");
  cr_assert_eq(dir_entries(dir), 1, "a temporary file was left behind");
  /* A new file gets the usual mode (0666 minus the umask), not mkstemp's 0600. */
  const mode_t old_mask = umask(022);
  snprintf(path, sizeof path, "%s/fresh.q8", dir);
  Q8_OK_OR_FAIL(q8_model_save(m, path));
  umask(old_mask);
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 07777, 0644);
  cr_assert_eq(dir_entries(dir), 2);
  free(file.p);
  q8_free(bytes.p);
  q8_model_destroy(m);
  remove_tree(dir);
}

/* Renaming over a non-empty directory fails after the temporary was written: it is removed and
 * the directory is untouched. */
Test(q8file, failed_rename_leaves_no_temporary) {
  char dir[64], path[128], inner[160];
  make_tmpdir(dir, "q8file");
  snprintf(path, sizeof path, "%s/model.q8", dir);
  cr_assert_eq(mkdir(path, 0755), 0);
  snprintf(inner, sizeof inner, "%s/keep", path);
  write_whole(inner, "x", 1);
  q8_model *m = load_fixture("ops/conv_const.onnx");
  Q8_EXPECT_STATUS(q8_model_save(m, path), Q8_ERR_IO);
  cr_assert(strstr(q8_last_error(), "rename") != NULL, "%s", q8_last_error());
  cr_assert_eq(dir_entries(dir), 1, "the temporary was left behind");
  cr_assert_eq(dir_entries(path), 1);
  q8_model_destroy(m);
  remove_tree(dir);
}

/* A write that fails half way (the file size limit) leaves the old file as it was. */
Test(q8file, failed_write_keeps_the_old_file) {
  char dir[64], path[128];
  make_tmpdir(dir, "q8file");
  snprintf(path, sizeof path, "%s/model.q8", dir);
  write_whole(path, "old", 3);
  q8_model *m = load_fixture("models/digits_mlp.onnx");
  signal(SIGXFSZ, SIG_IGN);  /* write() then fails with EFBIG instead of killing the process */
  struct rlimit lim = {4096, 4096};
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  Q8_EXPECT_STATUS(q8_model_save(m, path), Q8_ERR_IO);
  cr_assert(strstr(q8_last_error(), "File too large") != NULL, "%s", q8_last_error());
  blob old = read_whole(path);
  cr_assert(old.n == 3 && memcmp(old.p, "old", 3) == 0, "the existing file changed");
  cr_assert_eq(dir_entries(dir), 1, "the temporary was left behind");
  free(old.p);
  q8_model_destroy(m);
  remove_tree(dir);
}

Test(q8file, bad_arguments) {
  q8_model *m = load_fixture("ops/conv_const.onnx"), *out = NULL;
  void *p = NULL;
  size_t n = 0;
  Q8_EXPECT_STATUS(q8_model_load(NULL, &out), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_load("x.q8", NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_load_bytes(NULL, 10, &out), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_load_bytes("abc", 3, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_load_bytes(NULL, 0, &out), Q8_ERR_FORMAT);
  Q8_EXPECT_STATUS(q8_model_save(NULL, "x.q8"), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_save(m, NULL), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_save(m, ""), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_save(m, "/tmp/"), Q8_ERR_IO);
  Q8_EXPECT_STATUS(q8_model_save_bytes(NULL, &p, &n), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_save_bytes(m, NULL, &n), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_model_save_bytes(m, &p, NULL), Q8_ERR_INVALID_ARGUMENT);
  cr_assert_null(out);
  cr_assert_null(p);
  q8_model_destroy(m);
}
