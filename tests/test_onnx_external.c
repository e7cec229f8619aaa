/* ONNX initializers with external data (tests/data/onnx_external, written by
 * scripts/make_onnx_external_fixtures.py): the model saved by onnx's own save_model with every
 * initializer in one external file, and the same bytes at odd offsets, load and run bit for bit
 * like the inline model; bytes cannot reach external data; every malformed reference fails with
 * the right status and a message naming the initializer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static void path_of(const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/onnx_external/%s", data_dir(), name);
}

static q8_model *load(const char *name) {
  char path[1024];
  path_of(name, path, sizeof path);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &m));
  return m;
}

/* Y for X [n, 16] filled with a fixed pattern; the caller frees the result. */
static float *run(const q8_model *m, int64_t n) {
  const int64_t shape[2] = {n, 16};
  q8_tensor *x = make_tensor(Q8_DTYPE_F32, shape, 2);
  float *xd = tensor_data(x);
  for (int64_t i = 0; i < n * 16; ++i) xd[i] = (float)((i * 7) % 19 - 9) / 8.0f;
  q8_session *s = NULL;
  Q8_OK_OR_FAIL(q8_session_create(m, n, &s));
  const q8_tensor *in[1] = {x};
  Q8_OK_OR_FAIL(q8_session_run(s, in, 1));
  const q8_tensor *y = NULL;
  Q8_OK_OR_FAIL(q8_session_output(s, 0, &y));
  size_t count = 0;
  Q8_OK_OR_FAIL(q8_tensor_numel(y, &count));
  cr_assert_eq(count, (size_t)n * 6);
  float *out = malloc(count * sizeof *out);
  memcpy(out, tensor_data(y), count * sizeof *out);
  q8_session_destroy(s);
  q8_tensor_destroy(x);
  return out;
}

static void expect_same_outputs(const char *name) {
  q8_model *inline_model = load("mlp.onnx");
  q8_model *ext = load(name);
  const int64_t batches[] = {1, 7, 65};
  for (size_t b = 0; b < sizeof batches / sizeof *batches; ++b) {
    float *want = run(inline_model, batches[b]);
    float *got = run(ext, batches[b]);
    cr_assert(memcmp(want, got, (size_t)batches[b] * 6 * sizeof(float)) == 0, "%s: batch %lld differs", name,
              (long long)batches[b]);
    free(want);
    free(got);
  }
  q8_model_destroy(ext);
  q8_model_destroy(inline_model);
}

Test(onnx_external, runs_like_the_inline_model) { expect_same_outputs("mlp_ext.onnx"); }

/* Offsets 1 byte into the file: no f32 constant is aligned in the mapping. */
Test(onnx_external, odd_offsets_run_like_the_inline_model) { expect_same_outputs("mlp_odd.onnx"); }

/* The mapping keeps the data: the external file can go once the model is loaded. */
Test(onnx_external, the_model_outlives_its_files) {
  char dir[64], path[128];
  make_tmpdir(dir, "q8-onnx-ext");
  const char *names[] = {"mlp_ext.onnx", "mlp_ext.bin"};
  for (int i = 0; i < 2; ++i) {
    char src[1024];
    path_of(names[i], src, sizeof src);
    blob b = read_whole(src);
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    write_whole(path, b.p, b.n);
    free(b.p);
  }
  snprintf(path, sizeof path, "%s/mlp_ext.onnx", dir);
  q8_model *m = NULL;
  Q8_OK_OR_FAIL(q8_model_load_onnx(path, &m));
  remove_tree(dir);
  q8_model *inline_model = load("mlp.onnx");
  float *want = run(inline_model, 3), *got = run(m, 3);
  cr_assert(memcmp(want, got, 3 * 6 * sizeof(float)) == 0);
  free(want);
  free(got);
  q8_model_destroy(inline_model);
  q8_model_destroy(m);
}

/* A relative path to the model resolves its data next to the model, not in the working directory. */
Test(onnx_external, relative_model_path) {
  char cwd[1024];
  cr_assert(getcwd(cwd, sizeof cwd) != NULL);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/onnx_external", data_dir());
  cr_assert_eq(chdir(data_dir()), 0);
  q8_model *m = NULL, *m2 = NULL;
  const q8_status st = q8_model_load_onnx("onnx_external/mlp_ext.onnx", &m);
  cr_assert_eq(chdir(dir), 0);
  const q8_status st2 = q8_model_load_onnx("mlp_ext.onnx", &m2);
  cr_assert_eq(chdir(cwd), 0);
  cr_assert_eq(st, Q8_OK, "%s", q8_last_error());
  cr_assert_eq(st2, Q8_OK, "%s", q8_last_error());
  q8_model_destroy(m);
  q8_model_destroy(m2);
}

Test(onnx_external, bytes_cannot_reach_external_data) {
  char path[1024];
  path_of("mlp_ext.onnx", path, sizeof path);
  blob b = read_whole(path);
  q8_model *m = (q8_model *)0x1;
  Q8_EXPECT_ERROR(q8_model_load_onnx_bytes(b.p, b.n, &m), Q8_ERR_UNSUPPORTED, "initializer 'W1'");
  cr_assert(strstr(q8_last_error(), "q8_model_load_onnx") != NULL, "%s", q8_last_error());
  cr_assert_eq(m, (q8_model *)0x1, "out was written on failure");
  free(b.p);
}

static void expect_bad(const char *name, q8_status want, const char *needle) {
  char path[1024];
  path_of(name, path, sizeof path);
  q8_model *m = (q8_model *)0x1;
  Q8_EXPECT_ERROR(q8_model_load_onnx(path, &m), want, "initializer 'W1'");
  cr_assert(strstr(q8_last_error(), needle) != NULL, "%s: '%s' not in: %s", name, needle, q8_last_error());
  cr_assert_eq(m, (q8_model *)0x1, "out was written on failure");
}

Test(onnx_external, absolute_location) { expect_bad("mlp_bad_absolute.onnx", Q8_ERR_FORMAT, "absolute path"); }
Test(onnx_external, dotdot_location) { expect_bad("mlp_bad_dotdot.onnx", Q8_ERR_FORMAT, "'..' component"); }
Test(onnx_external, empty_location) { expect_bad("mlp_bad_empty_location.onnx", Q8_ERR_FORMAT, "location is empty"); }
Test(onnx_external, no_location) { expect_bad("mlp_bad_no_location.onnx", Q8_ERR_FORMAT, "no \"location\""); }
Test(onnx_external, missing_file) { expect_bad("mlp_bad_missing.onnx", Q8_ERR_IO, "No such file"); }
Test(onnx_external, directory) { expect_bad("mlp_bad_directory.onnx", Q8_ERR_IO, "not a regular file"); }
Test(onnx_external, offset_past_end) { expect_bad("mlp_bad_offset_past_end.onnx", Q8_ERR_FORMAT, "past the end"); }
Test(onnx_external, data_past_end) { expect_bad("mlp_bad_too_short.onnx", Q8_ERR_FORMAT, "past the end"); }
Test(onnx_external, length_past_end) { expect_bad("mlp_bad_length_past_end.onnx", Q8_ERR_FORMAT, "ends past the end"); }
Test(onnx_external, wrong_length) { expect_bad("mlp_bad_wrong_length.onnx", Q8_ERR_FORMAT, "does not match"); }
Test(onnx_external, bad_offset) { expect_bad("mlp_bad_bad_offset.onnx", Q8_ERR_FORMAT, "'12a' is not a decimal"); }
Test(onnx_external, negative_offset) { expect_bad("mlp_bad_negative_offset.onnx", Q8_ERR_FORMAT, "'-4' is not a decimal"); }
