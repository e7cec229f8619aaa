/* Bad input through every public function: each call must return the documented status, leave a
 * message that comes from that function and names the offending argument, and leave every
 * out-pointer and every tensor it was handed untouched. Nothing may crash. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

/* The OUT_OF_MEMORY case asks for 2^62 bytes; under AddressSanitizer such a request aborts the
 * process unless the allocator may return NULL. ASAN_OPTIONS from the environment still apply on
 * top of this. Unused in builds without ASan. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- helpers ------------------------------------------------------------------------------- */

/* The message must come from the function named at the start of `call_text` ("fn: ...") and, if
 * `needle` is not NULL, contain it. */
static void check_message(const char *call_text, const char *needle) {
  const char *msg = q8_last_error();
  const size_t n = strcspn(call_text, "(");
  cr_assert(strncmp(msg, call_text, n) == 0 && msg[n] == ':',
            "%s: the message \"%s\" does not come from this function", call_text, msg);
  if (needle)
    cr_assert(strstr(msg, needle) != NULL, "%s: the message \"%s\" does not mention \"%s\"", call_text,
              msg, needle);
}

/* `call` fails with `want`, and its message comes from it and contains `needle`. */
#define EXPECT_ERR(call, want, needle)                                                         \
  do {                                                                                         \
    Q8_EXPECT_STATUS(call, want);                                                              \
    check_message(#call, needle);                                                              \
  } while (0)

/* Distinct addresses that no q8 call may ever write into an out-pointer on failure. */
static char sentinel_storage[2];
#define T_SENTINEL ((q8_tensor *)(void *)&sentinel_storage[0])
#define O_SENTINEL ((q8_observer *)(void *)&sentinel_storage[1])
#define SIZE_SENTINEL ((size_t)0x5eed5eed)
#define DOUBLE_SENTINEL (-1234.5)

static q8_tensor *tensor_2x3(q8_dtype dt) {
  const int64_t shape[2] = {2, 3};
  return make_tensor(dt, shape, 2);
}

/* A 2x3 tensor with per-tensor parameters. */
static q8_tensor *quantized_2x3(q8_dtype dt, float scale, int32_t zp) {
  q8_tensor *t = tensor_2x3(dt);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(t, scale, zp));
  return t;
}

/* Asserts that the tensor still has exactly this shape. */
static void assert_shape(const q8_tensor *t, const int64_t *shape, size_t rank) {
  size_t r = SIZE_SENTINEL;
  int64_t got[Q8_MAX_RANK] = {0};
  Q8_OK_OR_FAIL(q8_tensor_rank(t, &r));
  cr_assert_eq(r, rank);
  Q8_OK_OR_FAIL(q8_tensor_shape(t, got, Q8_MAX_RANK));
  for (size_t i = 0; i < rank; ++i) cr_assert_eq(got[i], shape[i], "dim %zu", i);
}

/* Asserts the tensor's parameters: per-tensor (axis -1, count 1) or none (count 0). */
static void assert_qparams(const q8_tensor *t, size_t count, float scale, int32_t zp) {
  int32_t axis = 99;
  size_t n = SIZE_SENTINEL;
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(t, &axis, &n));
  cr_assert_eq(n, count);
  if (count == 0) return;
  cr_assert_eq(axis, -1);
  float s = 0;
  int32_t z = 99;
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(t, &s, &z, 1));
  cr_assert(s == scale && z == zp, "qparams changed to (%g, %d)", (double)s, z);
}

static int all_bytes_are(const void *p, size_t n, unsigned char v) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; ++i)
    if (b[i] != v) return 0;
  return 1;
}

/* ---- status strings, versions, enum names ------------------------------------------------- */

Test(bad_input, status_string_names_every_code_and_unknown_ones) {
  static const char *const names[] = {
      "Q8_OK",        "Q8_ERR_INVALID_ARGUMENT", "Q8_ERR_SHAPE",    "Q8_ERR_DTYPE",
      "Q8_ERR_OUT_OF_MEMORY", "Q8_ERR_IO",       "Q8_ERR_FORMAT",   "Q8_ERR_UNSUPPORTED",
      "Q8_ERR_INTERNAL", "Q8_ERR_STATE"};
  for (int s = 0; s <= (int)Q8_ERR_STATE; ++s) cr_assert_str_eq(q8_status_string((q8_status)s), names[s]);
  cr_assert_str_eq(q8_status_string((q8_status)10), "unknown status");
  cr_assert_str_eq(q8_status_string((q8_status)-1), "unknown status");
  cr_assert_str_eq(q8_status_string((q8_status)INT_MAX), "unknown status");
}

Test(bad_input, unknown_enum_values_have_safe_names_and_sizes) {
  cr_assert_str_eq(q8_dtype_name((q8_dtype)4), "unknown");
  cr_assert_str_eq(q8_dtype_name((q8_dtype)-1), "unknown");
  cr_assert_eq(q8_dtype_size((q8_dtype)4), 0);
  cr_assert_eq(q8_dtype_size((q8_dtype)-1), 0);
  cr_assert_str_eq(q8_isa_name((q8_isa)5), "unknown");
  cr_assert_str_eq(q8_isa_name((q8_isa)-2), "unknown");
  cr_assert_str_eq(q8_scheme_name((q8_scheme)4), "unknown");
  cr_assert_str_eq(q8_scheme_name((q8_scheme)-1), "unknown");
  cr_assert_eq(q8_runtime_isa_supported((q8_isa)5), 0);
  cr_assert_eq(q8_runtime_isa_supported((q8_isa)-2), 0);
  cr_assert_eq(q8_runtime_isa_supported(Q8_ISA_AUTO), 0, "AUTO is a request, not a path");
  cr_assert_eq(q8_runtime_isa_supported(Q8_ISA_SCALAR), 1);
  cr_assert_eq(q8_version() / 10000, (unsigned)Q8_VERSION_MAJOR);
  cr_assert_not_null(q8_version_string());
}

/* ---- the last-error message ---------------------------------------------------------------- */

struct thread_report {
  int started_empty;
  q8_status status;
  char message[512];
};

static void *fail_on_another_thread(void *arg) {
  struct thread_report *r = arg;
  r->started_empty = q8_last_error()[0] == '\0';
  r->status = q8_runtime_set_threads(-7);
  snprintf(r->message, sizeof r->message, "%s", q8_last_error());
  return NULL;
}

Test(bad_input, last_error_is_per_thread) {
  cr_assert_str_eq(q8_last_error(), "", "a fresh thread has no message");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_F32, NULL, 0, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  char mine[512];
  snprintf(mine, sizeof mine, "%s", q8_last_error());

  struct thread_report r;
  memset(&r, 0, sizeof r);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, fail_on_another_thread, &r), 0);
  cr_assert_eq(pthread_join(th, NULL), 0);

  cr_assert(r.started_empty, "the other thread saw this thread's message");
  cr_assert_eq(r.status, Q8_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(r.message, "q8_runtime_set_threads") && strstr(r.message, "threads"), "%s", r.message);
  cr_assert_str_eq(q8_last_error(), mine, "another thread's failure changed this thread's message");

  /* Successful calls leave the message alone. */
  size_t n;
  q8_tensor *t = tensor_2x3(Q8_DTYPE_F32);
  Q8_OK_OR_FAIL(q8_tensor_numel(t, &n));
  cr_assert_str_eq(q8_last_error(), mine);
  q8_tensor_destroy(t);
}

/* ---- destroy(NULL) -------------------------------------------------------------------------- */

Test(bad_input, destroy_null_is_a_no_op) {
  q8_tensor_destroy(NULL);
  q8_observer_destroy(NULL);
}

/* ---- q8_tensor_create / q8_tensor_wrap: shapes ------------------------------------------- */

Test(bad_input, create_rejects_null_pointers) {
  const int64_t shape[2] = {2, 3};
  q8_tensor *out = T_SENTINEL;
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_F32, shape, 2, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_F32, NULL, 2, &out), Q8_ERR_INVALID_ARGUMENT, "shape is NULL");
  cr_assert_eq(out, T_SENTINEL);
}

Test(bad_input, create_rejects_bad_shapes) {
  const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  const int64_t negative[2] = {2, -3};
  const int64_t min_dim[1] = {INT64_MIN};
  const int64_t huge2[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  const int64_t max2[2] = {INT64_MAX, 2};
  const int64_t max_max[2] = {INT64_MAX, INT64_MAX};
  const int64_t bytes_overflow[1] = {(int64_t)1 << 61}; /* 2^61 elements fit, 2^63 bytes do not */
  const int64_t many_dims[8] = {1 << 10, 1 << 10, 1 << 10, 1 << 10, 1 << 10, 1 << 10, 1 << 10, 1 << 10};
  const int64_t zero_and_huge[3] = {INT64_MAX, 0, INT64_MAX}; /* empty: no overflow */
  q8_tensor *out = T_SENTINEL;

  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_F32, nine, 9, &out), Q8_ERR_SHAPE, "rank 9");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_F32, nine, SIZE_MAX, &out), Q8_ERR_SHAPE, "rank");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_F32, negative, 2, &out), Q8_ERR_SHAPE, "shape[1]");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_S8, min_dim, 1, &out), Q8_ERR_SHAPE, "shape[0]");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_S8, huge2, 2, &out), Q8_ERR_SHAPE, "overflow");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_S8, max2, 2, &out), Q8_ERR_SHAPE, "overflow");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_U8, max_max, 2, &out), Q8_ERR_SHAPE, "overflow");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_F32, bytes_overflow, 1, &out), Q8_ERR_SHAPE, "overflow");
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_S32, many_dims, 8, &out), Q8_ERR_SHAPE, "overflow");
  cr_assert_eq(out, T_SENTINEL);

  q8_tensor *empty = NULL;
  Q8_OK_OR_FAIL(q8_tensor_create(Q8_DTYPE_F32, zero_and_huge, 3, &empty));
  q8_tensor_destroy(empty);
}

Test(bad_input, create_reports_out_of_memory) {
  const int64_t shape[1] = {(int64_t)1 << 62}; /* a valid shape whose 4 EiB cannot be allocated */
  q8_tensor *out = T_SENTINEL;
  EXPECT_ERR(q8_tensor_create(Q8_DTYPE_S8, shape, 1, &out), Q8_ERR_OUT_OF_MEMORY, "out of memory");
  cr_assert_eq(out, T_SENTINEL);
}

Test(bad_input, create_and_wrap_reject_unknown_dtypes) {
  const int64_t shape[1] = {4};
  float buf[4] = {0};
  q8_tensor *out = T_SENTINEL;
  EXPECT_ERR(q8_tensor_create((q8_dtype)4, shape, 1, &out), Q8_ERR_DTYPE, "dtype");
  EXPECT_ERR(q8_tensor_create((q8_dtype)-1, shape, 1, &out), Q8_ERR_DTYPE, "dtype");
  EXPECT_ERR(q8_tensor_create((q8_dtype)1000, NULL, 0, &out), Q8_ERR_DTYPE, "dtype");
  EXPECT_ERR(q8_tensor_wrap((q8_dtype)4, shape, 1, buf, sizeof buf, &out), Q8_ERR_DTYPE, "dtype");
  EXPECT_ERR(q8_tensor_wrap((q8_dtype)-1, shape, 1, buf, sizeof buf, &out), Q8_ERR_DTYPE, "dtype");
  cr_assert_eq(out, T_SENTINEL);
}

Test(bad_input, wrap_rejects_bad_shapes_and_pointers) {
  const int64_t shape[2] = {2, 3};
  const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  const int64_t negative[2] = {-1, 3};
  const int64_t huge2[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  const int64_t max2[2] = {INT64_MAX, 2};
  float buf[6] = {0};
  q8_tensor *out = T_SENTINEL;

  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, buf, sizeof buf, NULL), Q8_ERR_INVALID_ARGUMENT,
             "out is NULL");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, NULL, 2, buf, sizeof buf, &out), Q8_ERR_INVALID_ARGUMENT,
             "shape is NULL");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, nine, 9, buf, sizeof buf, &out), Q8_ERR_SHAPE, "rank 9");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, negative, 2, buf, sizeof buf, &out), Q8_ERR_SHAPE, "shape[0]");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_S8, huge2, 2, buf, sizeof buf, &out), Q8_ERR_SHAPE, "overflow");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_S8, max2, 2, buf, SIZE_MAX, &out), Q8_ERR_SHAPE, "overflow");
  cr_assert_eq(out, T_SENTINEL);
}

Test(bad_input, wrap_rejects_bad_buffers) {
  const int64_t shape[2] = {2, 3};
  const int64_t big[1] = {(int64_t)1 << 62};
  _Alignas(16) unsigned char bytes[64] = {0};
  q8_tensor *out = T_SENTINEL;

  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, NULL, 24, &out), Q8_ERR_INVALID_ARGUMENT, "data is NULL");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, bytes, 23, &out), Q8_ERR_SHAPE, "data_bytes");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, bytes, 0, &out), Q8_ERR_SHAPE, "data_bytes");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_S8, shape, 2, bytes, 5, &out), Q8_ERR_SHAPE, "data_bytes");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_S8, big, 1, bytes, sizeof bytes, &out), Q8_ERR_SHAPE, "data_bytes");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, bytes + 1, 40, &out), Q8_ERR_INVALID_ARGUMENT, "aligned");
  EXPECT_ERR(q8_tensor_wrap(Q8_DTYPE_S32, shape, 2, bytes + 2, 40, &out), Q8_ERR_INVALID_ARGUMENT, "aligned");
  cr_assert_eq(out, T_SENTINEL);
  cr_assert(all_bytes_are(bytes, sizeof bytes, 0), "a failed wrap wrote into the buffer");

  /* Boundaries that are fine: exact size, odd addresses for bytes, NULL data with no elements. */
  const int64_t empty[2] = {0, 3};
  q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, bytes, 24, &t));
  q8_tensor_destroy(t);
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_U8, shape, 2, bytes + 1, 6, &t));
  q8_tensor_destroy(t);
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_S32, empty, 2, NULL, 0, &t));
  q8_tensor_destroy(t);
}

/* ---- clone, copy, reshape -------------------------------------------------------------------- */

Test(bad_input, clone_rejects_null_pointers) {
  q8_tensor *t = tensor_2x3(Q8_DTYPE_S8);
  q8_tensor *out = T_SENTINEL;
  EXPECT_ERR(q8_tensor_clone(NULL, &out), Q8_ERR_INVALID_ARGUMENT, "src is NULL");
  EXPECT_ERR(q8_tensor_clone(t, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_ERR(q8_tensor_clone(NULL, NULL), Q8_ERR_INVALID_ARGUMENT, "is NULL");
  cr_assert_eq(out, T_SENTINEL);
  q8_tensor_destroy(t);
}

Test(bad_input, copy_rejects_nulls_dtype_and_count_mismatches) {
  const int64_t six[1] = {6}, five[1] = {5};
  q8_tensor *src = tensor_2x3(Q8_DTYPE_S8);
  memset(tensor_data(src), 7, 6);
  q8_tensor *dst_u8 = tensor_2x3(Q8_DTYPE_U8);
  q8_tensor *dst_f32 = make_tensor(Q8_DTYPE_F32, six, 1);
  q8_tensor *dst_short = make_tensor(Q8_DTYPE_S8, five, 1);

  EXPECT_ERR(q8_tensor_copy(NULL, dst_u8), Q8_ERR_INVALID_ARGUMENT, "src is NULL");
  EXPECT_ERR(q8_tensor_copy(src, NULL), Q8_ERR_INVALID_ARGUMENT, "dst is NULL");
  EXPECT_ERR(q8_tensor_copy(src, dst_u8), Q8_ERR_DTYPE, "dst is u8");
  EXPECT_ERR(q8_tensor_copy(src, dst_f32), Q8_ERR_DTYPE, "f32");
  EXPECT_ERR(q8_tensor_copy(src, dst_short), Q8_ERR_SHAPE, "5");
  EXPECT_ERR(q8_tensor_copy(dst_short, src), Q8_ERR_SHAPE, "elements");
  cr_assert(all_bytes_are(tensor_data(dst_u8), 6, 0));
  cr_assert(all_bytes_are(tensor_data(dst_f32), 24, 0));
  cr_assert(all_bytes_are(tensor_data(dst_short), 5, 0));
  cr_assert(all_bytes_are(tensor_data(src), 6, 7));
  q8_tensor_destroy(src);
  q8_tensor_destroy(dst_u8);
  q8_tensor_destroy(dst_f32);
  q8_tensor_destroy(dst_short);
}

Test(bad_input, reshape_rejects_bad_shapes_and_keeps_the_old_one) {
  const int64_t shape[2] = {2, 3};
  const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 6, 1};
  const int64_t negative[2] = {-2, -3};
  const int64_t other_count[2] = {3, 3};
  const int64_t huge2[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  const int64_t max2[2] = {INT64_MAX, 2};
  const int64_t empty[2] = {0, 3};
  q8_tensor *t = tensor_2x3(Q8_DTYPE_U8);

  EXPECT_ERR(q8_tensor_reshape(NULL, shape, 2), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_reshape(t, NULL, 2), Q8_ERR_INVALID_ARGUMENT, "shape is NULL");
  EXPECT_ERR(q8_tensor_reshape(t, nine, 9), Q8_ERR_SHAPE, "rank 9");
  EXPECT_ERR(q8_tensor_reshape(t, negative, 2), Q8_ERR_SHAPE, "shape[0]");
  EXPECT_ERR(q8_tensor_reshape(t, other_count, 2), Q8_ERR_SHAPE, "9 elements");
  EXPECT_ERR(q8_tensor_reshape(t, empty, 2), Q8_ERR_SHAPE, "0 elements");
  EXPECT_ERR(q8_tensor_reshape(t, NULL, 0), Q8_ERR_SHAPE, "1 elements");
  EXPECT_ERR(q8_tensor_reshape(t, huge2, 2), Q8_ERR_SHAPE, "overflow");
  EXPECT_ERR(q8_tensor_reshape(t, max2, 2), Q8_ERR_SHAPE, "overflow");
  assert_shape(t, shape, 2);
  q8_tensor_destroy(t);
}

Test(bad_input, reshape_cannot_drop_or_resize_a_per_axis_axis) {
  const int64_t shape[3] = {4, 3, 2};
  const float sc[3] = {0.5f, 0.25f, 0.125f};
  const int32_t zp[3] = {1, 2, 3};
  q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, 3);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 1, sc, zp, 3));

  const int64_t flat[1] = {24};        /* axis 1 disappears */
  const int64_t resized[3] = {4, 2, 3}; /* axis 1 has length 2 now */
  const int64_t moved[2] = {3, 8};     /* length 3 moves to axis 0 */
  EXPECT_ERR(q8_tensor_reshape(t, flat, 1), Q8_ERR_SHAPE, "per axis 1");
  EXPECT_ERR(q8_tensor_reshape(t, resized, 3), Q8_ERR_SHAPE, "axis");
  EXPECT_ERR(q8_tensor_reshape(t, moved, 2), Q8_ERR_SHAPE, "axis");
  assert_shape(t, shape, 3);

  int32_t axis = 99;
  size_t count = 0;
  float gs[3];
  int32_t gz[3];
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(t, &axis, &count));
  cr_assert(axis == 1 && count == 3);
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(t, gs, gz, 3));
  cr_assert_arr_eq(gs, sc, sizeof sc);
  cr_assert_arr_eq(gz, zp, sizeof zp);

  const int64_t keep[2] = {12, 2}; /* same count, but axis 1 has length 2 */
  EXPECT_ERR(q8_tensor_reshape(t, keep, 2), Q8_ERR_SHAPE, "axis");
  const int64_t keep_ok[4] = {4, 3, 1, 2};
  Q8_OK_OR_FAIL(q8_tensor_reshape(t, keep_ok, 4));
  q8_tensor_destroy(t);
}

/* ---- accessors ---------------------------------------------------------------------------- */

Test(bad_input, accessors_reject_null_pointers_and_leave_outputs_alone) {
  q8_tensor *t = tensor_2x3(Q8_DTYPE_S32);
  q8_dtype dt = (q8_dtype)77;
  size_t n = SIZE_SENTINEL;
  void *data = (void *)&sentinel_storage[0];

  EXPECT_ERR(q8_tensor_dtype(NULL, &dt), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_dtype(t, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_ERR(q8_tensor_rank(NULL, &n), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_rank(t, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_ERR(q8_tensor_numel(NULL, &n), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_numel(t, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_ERR(q8_tensor_nbytes(NULL, &n), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_nbytes(t, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_ERR(q8_tensor_data(NULL, &data), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_data(t, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  cr_assert_eq((int)dt, 77);
  cr_assert_eq(n, SIZE_SENTINEL);
  cr_assert_eq(data, (void *)&sentinel_storage[0]);
  q8_tensor_destroy(t);
}

Test(bad_input, shape_rejects_null_and_small_capacity) {
  q8_tensor *t = tensor_2x3(Q8_DTYPE_F32);
  int64_t got[2] = {-5, -5};
  EXPECT_ERR(q8_tensor_shape(NULL, got, 2), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_shape(t, NULL, 2), Q8_ERR_INVALID_ARGUMENT, "shape is NULL");
  EXPECT_ERR(q8_tensor_shape(t, got, 1), Q8_ERR_SHAPE, "capacity = 1");
  EXPECT_ERR(q8_tensor_shape(t, got, 0), Q8_ERR_SHAPE, "capacity = 0");
  cr_assert(got[0] == -5 && got[1] == -5);
  q8_tensor_destroy(t);

  /* A rank-0 tensor has no shape to copy: NULL and 0 are fine. */
  q8_tensor *s = make_tensor(Q8_DTYPE_F32, NULL, 0);
  Q8_OK_OR_FAIL(q8_tensor_shape(s, NULL, 0));
  q8_tensor_destroy(s);
}

/* ---- element access ----------------------------------------------------------------------- */

Test(bad_input, get_rejects_bad_indices) {
  q8_tensor *t = tensor_2x3(Q8_DTYPE_F32);
  const int64_t ok[2] = {1, 2}, row_out[2] = {2, 0}, col_out[2] = {0, 3}, neg[2] = {-1, 0},
                huge[2] = {0, INT64_MAX}, three[3] = {0, 0, 0};
  double v = DOUBLE_SENTINEL;

  EXPECT_ERR(q8_tensor_get(NULL, ok, 2, &v), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_get(t, ok, 2, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_ERR(q8_tensor_get(t, NULL, 2, &v), Q8_ERR_INVALID_ARGUMENT, "index is NULL");
  EXPECT_ERR(q8_tensor_get(t, ok, 1, &v), Q8_ERR_SHAPE, "rank 2");
  EXPECT_ERR(q8_tensor_get(t, three, 3, &v), Q8_ERR_SHAPE, "rank 2");
  EXPECT_ERR(q8_tensor_get(t, NULL, 0, &v), Q8_ERR_SHAPE, "rank 2");
  EXPECT_ERR(q8_tensor_get(t, row_out, 2, &v), Q8_ERR_SHAPE, "index[0]");
  EXPECT_ERR(q8_tensor_get(t, col_out, 2, &v), Q8_ERR_SHAPE, "index[1]");
  EXPECT_ERR(q8_tensor_get(t, neg, 2, &v), Q8_ERR_SHAPE, "index[0]");
  EXPECT_ERR(q8_tensor_get(t, huge, 2, &v), Q8_ERR_SHAPE, "index[1]");
  cr_assert_eq(v, DOUBLE_SENTINEL);
  q8_tensor_destroy(t);

  const int64_t empty_shape[2] = {0, 3}, zero[2] = {0, 0};
  q8_tensor *e = make_tensor(Q8_DTYPE_S8, empty_shape, 2);
  EXPECT_ERR(q8_tensor_get(e, zero, 2, &v), Q8_ERR_SHAPE, "no elements");
  cr_assert_eq(v, DOUBLE_SENTINEL);
  q8_tensor_destroy(e);
}

Test(bad_input, set_rejects_bad_indices) {
  q8_tensor *t = tensor_2x3(Q8_DTYPE_S8);
  const int64_t ok[2] = {1, 2}, col_out[2] = {1, 3}, neg[2] = {0, -1}, big[2] = {INT64_MAX, 0};
  EXPECT_ERR(q8_tensor_set(NULL, ok, 2, 1.0), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_set(t, NULL, 2, 1.0), Q8_ERR_INVALID_ARGUMENT, "index is NULL");
  EXPECT_ERR(q8_tensor_set(t, ok, 1, 1.0), Q8_ERR_SHAPE, "rank 2");
  EXPECT_ERR(q8_tensor_set(t, ok, 9, 1.0), Q8_ERR_SHAPE, "rank 2");
  EXPECT_ERR(q8_tensor_set(t, col_out, 2, 1.0), Q8_ERR_SHAPE, "index[1]");
  EXPECT_ERR(q8_tensor_set(t, neg, 2, 1.0), Q8_ERR_SHAPE, "index[1]");
  EXPECT_ERR(q8_tensor_set(t, big, 2, 1.0), Q8_ERR_SHAPE, "index[0]");
  cr_assert(all_bytes_are(tensor_data(t), 6, 0));
  q8_tensor_destroy(t);
}

Test(bad_input, set_rejects_values_that_do_not_fit) {
  const int64_t i[2] = {0, 1};
  struct { q8_dtype dt; double value; } cases[] = {
      {Q8_DTYPE_S8, 128}, {Q8_DTYPE_S8, -129}, {Q8_DTYPE_S8, 0.5}, {Q8_DTYPE_S8, -0.25},
      {Q8_DTYPE_S8, NAN}, {Q8_DTYPE_S8, INFINITY}, {Q8_DTYPE_S8, -INFINITY}, {Q8_DTYPE_S8, 1e300},
      {Q8_DTYPE_U8, -1}, {Q8_DTYPE_U8, 256}, {Q8_DTYPE_U8, 254.5}, {Q8_DTYPE_U8, NAN},
      {Q8_DTYPE_U8, INFINITY}, {Q8_DTYPE_U8, -1e-300},
      {Q8_DTYPE_S32, 2147483648.0}, {Q8_DTYPE_S32, -2147483649.0}, {Q8_DTYPE_S32, 1e19},
      {Q8_DTYPE_S32, NAN}, {Q8_DTYPE_S32, -INFINITY}, {Q8_DTYPE_S32, 1.0 + DBL_EPSILON},
      {Q8_DTYPE_F32, 1e39}, {Q8_DTYPE_F32, -1e39}, {Q8_DTYPE_F32, DBL_MAX}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    q8_tensor *t = tensor_2x3(cases[c].dt);
    EXPECT_ERR(q8_tensor_set(t, i, 2, cases[c].value), Q8_ERR_INVALID_ARGUMENT, "value");
    cr_assert(all_bytes_are(tensor_data(t), 6 * q8_dtype_size(cases[c].dt), 0), "case %zu wrote", c);
    q8_tensor_destroy(t);
  }
}

/* ---- quantization parameters on tensors -------------------------------------------------- */

Test(bad_input, set_qparams_rejects_bad_scales) {
  const float bad[] = {0.0f, -0.0f, -1.0f, -FLT_MIN, NAN, -NAN, INFINITY, -INFINITY};
  const q8_dtype dts[] = {Q8_DTYPE_S8, Q8_DTYPE_U8, Q8_DTYPE_S32};
  for (size_t d = 0; d < 3; ++d) {
    q8_tensor *t = quantized_2x3(dts[d], 0.5f, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
      EXPECT_ERR(q8_tensor_set_qparams(t, bad[i], 0), Q8_ERR_INVALID_ARGUMENT, "scale");
      assert_qparams(t, 1, 0.5f, 0);
    }
    q8_tensor_destroy(t);
  }
}

Test(bad_input, set_qparams_rejects_zero_points_out_of_range) {
  q8_tensor *s8 = quantized_2x3(Q8_DTYPE_S8, 0.5f, 3);
  q8_tensor *u8 = quantized_2x3(Q8_DTYPE_U8, 0.5f, 3);
  q8_tensor *s32 = quantized_2x3(Q8_DTYPE_S32, 0.5f, 0);
  EXPECT_ERR(q8_tensor_set_qparams(s8, 1.0f, -129), Q8_ERR_INVALID_ARGUMENT, "zero_point = -129");
  EXPECT_ERR(q8_tensor_set_qparams(s8, 1.0f, 128), Q8_ERR_INVALID_ARGUMENT, "zero_point = 128");
  EXPECT_ERR(q8_tensor_set_qparams(s8, 1.0f, INT32_MIN), Q8_ERR_INVALID_ARGUMENT, "zero_point");
  EXPECT_ERR(q8_tensor_set_qparams(u8, 1.0f, -1), Q8_ERR_INVALID_ARGUMENT, "zero_point = -1");
  EXPECT_ERR(q8_tensor_set_qparams(u8, 1.0f, 256), Q8_ERR_INVALID_ARGUMENT, "zero_point = 256");
  EXPECT_ERR(q8_tensor_set_qparams(u8, 1.0f, INT32_MAX), Q8_ERR_INVALID_ARGUMENT, "zero_point");
  EXPECT_ERR(q8_tensor_set_qparams(s32, 1.0f, 1), Q8_ERR_INVALID_ARGUMENT, "zero_point = 1");
  EXPECT_ERR(q8_tensor_set_qparams(s32, 1.0f, -1), Q8_ERR_INVALID_ARGUMENT, "zero_point = -1");
  assert_qparams(s8, 1, 0.5f, 3);
  assert_qparams(u8, 1, 0.5f, 3);
  assert_qparams(s32, 1, 0.5f, 0);
  /* The edges themselves are fine. */
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(s8, FLT_MIN, -128));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(s8, FLT_MAX, 127));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(u8, 1.0f, 0));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(u8, 1.0f, 255));
  q8_tensor_destroy(s8);
  q8_tensor_destroy(u8);
  q8_tensor_destroy(s32);
}

Test(bad_input, f32_tensors_refuse_qparams) {
  q8_tensor *t = tensor_2x3(Q8_DTYPE_F32);
  const float sc[3] = {1, 1, 1};
  const int32_t zp[3] = {0, 0, 0};
  EXPECT_ERR(q8_tensor_set_qparams(t, 1.0f, 0), Q8_ERR_DTYPE, "f32");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, sc, zp, 3), Q8_ERR_DTYPE, "f32");
  assert_qparams(t, 0, 0, 0);
  q8_tensor_destroy(t);

  /* Also when the axis is empty and so there is no pair to check. */
  const int64_t empty_shape[2] = {2, 0};
  q8_tensor *e = make_tensor(Q8_DTYPE_F32, empty_shape, 2);
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(e, 1, sc, zp, 0), Q8_ERR_DTYPE, "f32");
  assert_qparams(e, 0, 0, 0);
  q8_tensor_destroy(e);
}

Test(bad_input, set_qparams_rejects_null_tensor) {
  const float sc[1] = {1};
  const int32_t zp[1] = {0};
  EXPECT_ERR(q8_tensor_set_qparams(NULL, 1.0f, 0), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(NULL, 0, sc, zp, 1), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_clear_qparams(NULL), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
}

Test(bad_input, set_qparams_per_axis_rejects_bad_arguments) {
  q8_tensor *t = quantized_2x3(Q8_DTYPE_U8, 0.5f, 7);
  const float sc[4] = {0.1f, 0.2f, 0.3f, 0.4f};
  const int32_t zp[4] = {0, 1, 2, 3};
  const float bad_sc[3] = {0.1f, NAN, 0.3f};
  const float neg_sc[3] = {0.1f, 0.2f, -0.3f};
  const int32_t bad_zp[3] = {0, 256, 2};
  const int32_t neg_zp[3] = {0, 1, -1};

  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, NULL, zp, 3), Q8_ERR_INVALID_ARGUMENT, "scales is NULL");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, sc, NULL, 3), Q8_ERR_INVALID_ARGUMENT,
             "zero_points is NULL");
  /* Axes outside [-rank, rank). */
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 2, sc, zp, 3), Q8_ERR_SHAPE, "axis = 2");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, -3, sc, zp, 2), Q8_ERR_SHAPE, "axis = -3");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, INT32_MAX, sc, zp, 3), Q8_ERR_SHAPE, "axis");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, INT32_MIN, sc, zp, 3), Q8_ERR_SHAPE, "axis");
  /* Counts that are not the axis length. */
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, sc, zp, 2), Q8_ERR_SHAPE, "count = 2");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, sc, zp, 4), Q8_ERR_SHAPE, "count = 4");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 0, sc, zp, 3), Q8_ERR_SHAPE, "count = 3");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, -1, sc, zp, 0), Q8_ERR_SHAPE, "count = 0");
  /* One bad pair among good ones is named by its index. */
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, bad_sc, zp, 3), Q8_ERR_INVALID_ARGUMENT, "scales[1]");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, neg_sc, zp, 3), Q8_ERR_INVALID_ARGUMENT, "scales[2]");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, sc, bad_zp, 3), Q8_ERR_INVALID_ARGUMENT, "zero_points[1]");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(t, 1, sc, neg_zp, 3), Q8_ERR_INVALID_ARGUMENT, "zero_points[2]");
  assert_qparams(t, 1, 0.5f, 7);
  q8_tensor_destroy(t);

  /* s32 per axis: zero points must all be 0; a rank-0 tensor has no axis at all. */
  q8_tensor *b = tensor_2x3(Q8_DTYPE_S32);
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(b, 1, sc, zp, 3), Q8_ERR_INVALID_ARGUMENT, "zero_points[1]");
  q8_tensor_destroy(b);
  q8_tensor *s = make_tensor(Q8_DTYPE_S8, NULL, 0);
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(s, 0, sc, zp, 1), Q8_ERR_SHAPE, "axis");
  EXPECT_ERR(q8_tensor_set_qparams_per_axis(s, -1, sc, zp, 1), Q8_ERR_SHAPE, "axis");
  assert_qparams(s, 0, 0, 0);
  q8_tensor_destroy(s);
}

Test(bad_input, qparams_queries_reject_bad_arguments) {
  q8_tensor *none = tensor_2x3(Q8_DTYPE_S8);
  q8_tensor *one = quantized_2x3(Q8_DTYPE_S8, 0.5f, 1);
  int32_t axis = 99;
  size_t count = SIZE_SENTINEL;
  float sc[3] = {-1, -1, -1};
  int32_t zp[3] = {-9, -9, -9};

  EXPECT_ERR(q8_tensor_qparams_layout(NULL, &axis, &count), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  cr_assert(axis == 99 && count == SIZE_SENTINEL);
  EXPECT_ERR(q8_tensor_get_qparams(NULL, sc, zp, 1), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_tensor_get_qparams(none, sc, zp, 0), Q8_ERR_STATE, "no quantization parameters");
  EXPECT_ERR(q8_tensor_get_qparams(none, sc, zp, 1), Q8_ERR_STATE, "no quantization parameters");
  EXPECT_ERR(q8_tensor_get_qparams(one, sc, zp, 0), Q8_ERR_SHAPE, "count = 0");
  EXPECT_ERR(q8_tensor_get_qparams(one, sc, zp, 3), Q8_ERR_SHAPE, "count = 3");
  cr_assert(sc[0] == -1 && sc[1] == -1 && sc[2] == -1 && zp[0] == -9 && zp[1] == -9 && zp[2] == -9);
  q8_tensor_destroy(none);
  q8_tensor_destroy(one);
}

/* ---- schemes and q8_qparams_from_range --------------------------------------------------- */

Test(bad_input, scheme_dtype_rejects_bad_arguments) {
  q8_dtype dt = (q8_dtype)77;
  EXPECT_ERR(q8_scheme_dtype((q8_scheme)4, &dt), Q8_ERR_INVALID_ARGUMENT, "scheme = 4");
  EXPECT_ERR(q8_scheme_dtype((q8_scheme)-1, &dt), Q8_ERR_INVALID_ARGUMENT, "scheme = -1");
  EXPECT_ERR(q8_scheme_dtype(Q8_SCHEME_SYMMETRIC, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  cr_assert_eq((int)dt, 77);
}

Test(bad_input, qparams_from_range_rejects_bad_arguments) {
  const float lo[2] = {-1.0f, -2.0f}, hi[2] = {1.0f, 2.0f};
  float sc[2] = {-1, -1};
  int32_t zp[2] = {-9, -9};
#define UNTOUCHED() cr_assert(sc[0] == -1 && sc[1] == -1 && zp[0] == -9 && zp[1] == -9, "outputs written")

  EXPECT_ERR(q8_qparams_from_range((q8_scheme)4, lo, hi, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT, "scheme = 4");
  EXPECT_ERR(q8_qparams_from_range((q8_scheme)-1, lo, hi, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT, "scheme");
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, NULL, hi, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT,
             "mins is NULL");
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, lo, NULL, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT,
             "maxs is NULL");
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, lo, hi, 1, NULL, zp), Q8_ERR_INVALID_ARGUMENT,
             "scales is NULL");
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, lo, hi, 1, sc, NULL), Q8_ERR_INVALID_ARGUMENT,
             "zero_points is NULL");
  UNTOUCHED();

  for (int scheme = 0; scheme <= (int)Q8_SCHEME_ASYMMETRIC_S8; ++scheme) {
    const q8_scheme s = (q8_scheme)scheme;
    const float nan_lo[1] = {NAN}, nan_hi[1] = {NAN}, inf_hi[1] = {INFINITY}, ninf_lo[1] = {-INFINITY};
    const float one[1] = {1.0f}, zero[1] = {0.0f};
    EXPECT_ERR(q8_qparams_from_range(s, nan_lo, one, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT, "mins[0]");
    EXPECT_ERR(q8_qparams_from_range(s, zero, nan_hi, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT, "maxs[0]");
    EXPECT_ERR(q8_qparams_from_range(s, zero, inf_hi, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT, "maxs[0]");
    EXPECT_ERR(q8_qparams_from_range(s, ninf_lo, one, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT, "mins[0]");
    EXPECT_ERR(q8_qparams_from_range(s, one, zero, 1, sc, zp), Q8_ERR_INVALID_ARGUMENT, "greater than maxs[0]");
    UNTOUCHED();
  }

  /* The second range is bad: nothing is written, not even the first pair. */
  const float lo2[2] = {-1.0f, 3.0f}, hi2[2] = {1.0f, 2.0f}, hi_nan[2] = {1.0f, NAN};
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC, lo2, hi2, 2, sc, zp), Q8_ERR_INVALID_ARGUMENT, "mins[1]");
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC, lo, hi_nan, 2, sc, zp), Q8_ERR_INVALID_ARGUMENT, "maxs[1]");
  UNTOUCHED();

  /* A finite range too wide for a finite scale (max - min overflows f32). */
  const float wide_lo[2] = {-1.0f, -FLT_MAX}, wide_hi[2] = {1.0f, FLT_MAX};
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, wide_lo, wide_hi, 2, sc, zp),
             Q8_ERR_INVALID_ARGUMENT, "too wide");
  EXPECT_ERR(q8_qparams_from_range(Q8_SCHEME_ASYMMETRIC_S8, wide_lo, wide_hi, 2, sc, zp),
             Q8_ERR_INVALID_ARGUMENT, "too wide");
  UNTOUCHED();
#undef UNTOUCHED
}

/* ---- quantize / dequantize / requantize ----------------------------------------------------- */

Test(bad_input, quantize_rejects_bad_tensors) {
  q8_tensor *x = tensor_2x3(Q8_DTYPE_F32);
  float *xd = tensor_data(x);
  for (int i = 0; i < 6; ++i) xd[i] = (float)i;
  q8_tensor *y = quantized_2x3(Q8_DTYPE_S8, 0.5f, 0);
  q8_tensor *y_noparams = tensor_2x3(Q8_DTYPE_U8);
  q8_tensor *y_f32 = tensor_2x3(Q8_DTYPE_F32);
  q8_tensor *x_s8 = quantized_2x3(Q8_DTYPE_S8, 1.0f, 0);
  const int64_t five[1] = {5}, six[1] = {6}, three_two[2] = {3, 2};
  q8_tensor *y_short = make_tensor(Q8_DTYPE_S8, five, 1);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(y_short, 1.0f, 0));
  q8_tensor *x_flat = make_tensor(Q8_DTYPE_F32, six, 1);
  /* Per-axis y with the same element count as x but another shape. */
  q8_tensor *y_axis = make_tensor(Q8_DTYPE_U8, three_two, 2);
  const float sc[3] = {1, 2, 3};
  const int32_t zp[3] = {0, 0, 0};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(y_axis, 0, sc, zp, 3));

  EXPECT_ERR(q8_quantize(NULL, y), Q8_ERR_INVALID_ARGUMENT, "x is NULL");
  EXPECT_ERR(q8_quantize(x, NULL), Q8_ERR_INVALID_ARGUMENT, "y is NULL");
  EXPECT_ERR(q8_quantize(x_s8, y), Q8_ERR_DTYPE, "x must be f32");
  EXPECT_ERR(q8_quantize(x, y_f32), Q8_ERR_DTYPE, "y must be");
  EXPECT_ERR(q8_quantize(x, y_short), Q8_ERR_SHAPE, "elements");
  EXPECT_ERR(q8_quantize(x, y_noparams), Q8_ERR_STATE, "y has no quantization parameters");
  EXPECT_ERR(q8_quantize(x, y_axis), Q8_ERR_SHAPE, "same shape");
  EXPECT_ERR(q8_quantize(x_flat, y_axis), Q8_ERR_SHAPE, "same shape");

  cr_assert(all_bytes_are(tensor_data(y), 6, 0));
  cr_assert(all_bytes_are(tensor_data(y_noparams), 6, 0));
  cr_assert(all_bytes_are(tensor_data(y_f32), 24, 0));
  cr_assert(all_bytes_are(tensor_data(y_short), 5, 0));
  cr_assert(all_bytes_are(tensor_data(y_axis), 6, 0));
  /* A per-tensor y only needs the same element count. */
  Q8_OK_OR_FAIL(q8_quantize(x_flat, y));

  q8_tensor *all[] = {x, y, y_noparams, y_f32, x_s8, y_short, x_flat, y_axis};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) q8_tensor_destroy(all[i]);
}

Test(bad_input, dequantize_rejects_bad_tensors) {
  q8_tensor *q = quantized_2x3(Q8_DTYPE_U8, 0.5f, 3);
  memset(tensor_data(q), 9, 6);
  q8_tensor *q_noparams = tensor_2x3(Q8_DTYPE_S8);
  q8_tensor *q_f32 = tensor_2x3(Q8_DTYPE_F32);
  q8_tensor *y = tensor_2x3(Q8_DTYPE_F32);
  q8_tensor *y_s8 = tensor_2x3(Q8_DTYPE_S8);
  q8_tensor *y_s32 = tensor_2x3(Q8_DTYPE_S32);
  const int64_t seven[1] = {7}, six[1] = {6};
  q8_tensor *y_long = make_tensor(Q8_DTYPE_F32, seven, 1);
  q8_tensor *q_axis = tensor_2x3(Q8_DTYPE_S8);
  const float sc[3] = {1, 2, 3};
  const int32_t zp[3] = {0, 0, 0};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(q_axis, 1, sc, zp, 3));
  q8_tensor *y_flat = make_tensor(Q8_DTYPE_F32, six, 1);

  EXPECT_ERR(q8_dequantize(NULL, y), Q8_ERR_INVALID_ARGUMENT, "q is NULL");
  EXPECT_ERR(q8_dequantize(q, NULL), Q8_ERR_INVALID_ARGUMENT, "y is NULL");
  EXPECT_ERR(q8_dequantize(q_f32, y), Q8_ERR_DTYPE, "q must be");
  EXPECT_ERR(q8_dequantize(q, y_s8), Q8_ERR_DTYPE, "y must be f32");
  EXPECT_ERR(q8_dequantize(q, y_s32), Q8_ERR_DTYPE, "y must be f32");
  EXPECT_ERR(q8_dequantize(q, y_long), Q8_ERR_SHAPE, "elements");
  EXPECT_ERR(q8_dequantize(q_noparams, y), Q8_ERR_STATE, "q has no quantization parameters");
  EXPECT_ERR(q8_dequantize(q_axis, y_flat), Q8_ERR_SHAPE, "same shape");
  cr_assert(all_bytes_are(tensor_data(y), 24, 0));
  cr_assert(all_bytes_are(tensor_data(y_long), 28, 0));
  cr_assert(all_bytes_are(tensor_data(y_flat), 24, 0));

  q8_tensor *all[] = {q, q_noparams, q_f32, y, y_s8, y_s32, y_long, q_axis, y_flat};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) q8_tensor_destroy(all[i]);
}

Test(bad_input, requantize_rejects_bad_tensors) {
  q8_tensor *q = quantized_2x3(Q8_DTYPE_S8, 0.5f, 0);
  memset(tensor_data(q), 5, 6);
  q8_tensor *y = quantized_2x3(Q8_DTYPE_U8, 0.25f, 128);
  q8_tensor *q_noparams = tensor_2x3(Q8_DTYPE_S8);
  q8_tensor *y_noparams = tensor_2x3(Q8_DTYPE_U8);
  q8_tensor *s32 = quantized_2x3(Q8_DTYPE_S32, 1.0f, 0);
  q8_tensor *f32 = tensor_2x3(Q8_DTYPE_F32);
  const int64_t four[1] = {4};
  q8_tensor *y_short = make_tensor(Q8_DTYPE_U8, four, 1);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(y_short, 1.0f, 0));

  EXPECT_ERR(q8_requantize(NULL, y), Q8_ERR_INVALID_ARGUMENT, "q is NULL");
  EXPECT_ERR(q8_requantize(q, NULL), Q8_ERR_INVALID_ARGUMENT, "y is NULL");
  EXPECT_ERR(q8_requantize(s32, y), Q8_ERR_DTYPE, "q must be s8 or u8");
  EXPECT_ERR(q8_requantize(f32, y), Q8_ERR_DTYPE, "q must be s8 or u8");
  EXPECT_ERR(q8_requantize(q, s32), Q8_ERR_DTYPE, "y must be s8 or u8");
  EXPECT_ERR(q8_requantize(q, f32), Q8_ERR_DTYPE, "y must be s8 or u8");
  EXPECT_ERR(q8_requantize(q, y_short), Q8_ERR_SHAPE, "elements");
  EXPECT_ERR(q8_requantize(q_noparams, y), Q8_ERR_STATE, "q has no quantization parameters");
  EXPECT_ERR(q8_requantize(q, y_noparams), Q8_ERR_STATE, "y has no quantization parameters");
  cr_assert(all_bytes_are(tensor_data(y), 6, 0));
  cr_assert(all_bytes_are(tensor_data(y_noparams), 6, 0));
  cr_assert(all_bytes_are(tensor_data(y_short), 4, 0));
  cr_assert(all_bytes_are(tensor_data(s32), 24, 0));

  q8_tensor *all[] = {q, y, q_noparams, y_noparams, s32, f32, y_short};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) q8_tensor_destroy(all[i]);
}

/* ---- observers ---------------------------------------------------------------------------- */

static q8_observer_options default_options(void) {
  q8_observer_options o;
  memset(&o, 0xab, sizeof o);
  Q8_OK_OR_FAIL(q8_observer_options_init(&o));
  return o;
}

/* create(o) must fail with `want` naming `needle`, and leave *out alone. */
static void expect_create_fails(const q8_observer_options *o, q8_status want, const char *needle) {
  q8_observer *out = O_SENTINEL;
  EXPECT_ERR(q8_observer_create(o, &out), want, needle);
  cr_assert_eq(out, O_SENTINEL);
}

Test(bad_input, observer_options_and_create_reject_null_pointers) {
  EXPECT_ERR(q8_observer_options_init(NULL), Q8_ERR_INVALID_ARGUMENT, "options is NULL");
  q8_observer_options o = default_options();
  q8_observer *out = O_SENTINEL;
  EXPECT_ERR(q8_observer_create(NULL, &out), Q8_ERR_INVALID_ARGUMENT, "options is NULL");
  EXPECT_ERR(q8_observer_create(&o, NULL), Q8_ERR_INVALID_ARGUMENT, "out is NULL");
  cr_assert_eq(out, O_SENTINEL);
}

Test(bad_input, observer_create_rejects_bad_common_fields) {
  q8_observer_options o = default_options();
  o.struct_size = 0;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "struct_size");
  o.struct_size = 8;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "struct_size");
  o.struct_size = SIZE_MAX;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "struct_size");

  o = default_options();
  o.kind = (q8_observer_kind)5;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "kind");
  o.kind = (q8_observer_kind)-1;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "kind");

  o = default_options();
  o.scheme = (q8_scheme)4;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "scheme");
  o.scheme = (q8_scheme)-1;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "scheme");

  o = default_options();
  o.axis = -2;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "axis");
  o.axis = INT32_MIN;
  expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "axis");
}

Test(bad_input, observer_create_rejects_bad_averaging_constant) {
  const float bad[] = {0.0f, -0.0f, -0.5f, 1.0001f, 2.0f, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    q8_observer_options o = default_options();
    o.kind = Q8_OBSERVER_MOVING_AVERAGE_MINMAX;
    o.averaging_constant = bad[i];
    expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "averaging_constant");
  }
  q8_observer_options o = default_options();
  o.kind = Q8_OBSERVER_MOVING_AVERAGE_MINMAX;
  o.averaging_constant = 1.0f; /* the closed end */
  q8_observer *obs = NULL;
  Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
  q8_observer_destroy(obs);
}

Test(bad_input, observer_create_rejects_bad_percentile) {
  const double bad[] = {40.0, 50.0, 100.0000001, 101.0, -1.0, NAN, INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    q8_observer_options o = default_options();
    o.kind = Q8_OBSERVER_PERCENTILE;
    o.percentile = bad[i];
    expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "percentile");
  }
}

Test(bad_input, observer_create_rejects_bad_bins) {
  const uint32_t bad[] = {0, 1, 127, 65537, 1u << 20, UINT32_MAX};
  const q8_observer_kind kinds[] = {Q8_OBSERVER_PERCENTILE, Q8_OBSERVER_ENTROPY, Q8_OBSERVER_MSE};
  for (size_t k = 0; k < 3; ++k)
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
      q8_observer_options o = default_options();
      o.kind = kinds[k];
      o.bins = bad[i];
      expect_create_fails(&o, Q8_ERR_INVALID_ARGUMENT, "bins");
    }
}

static q8_observer *make_observer(q8_observer_kind kind, int32_t axis) {
  q8_observer_options o = default_options();
  o.kind = kind;
  o.axis = axis;
  q8_observer *obs = NULL;
  Q8_OK_OR_FAIL(q8_observer_create(&o, &obs));
  return obs;
}

Test(bad_input, observer_queries_before_data_are_state_errors) {
  q8_observer *obs = make_observer(Q8_OBSERVER_MINMAX, -1);
  q8_tensor *t = tensor_2x3(Q8_DTYPE_U8);
  size_t count = SIZE_SENTINEL;
  float mins[1] = {-1}, maxs[1] = {-1}, sc[1] = {-1};
  int32_t zp[1] = {-9};

  for (int round = 0; round < 3; ++round) {
    EXPECT_ERR(q8_observer_channels(obs, &count), Q8_ERR_STATE, "not seen any data");
    EXPECT_ERR(q8_observer_range(obs, mins, maxs, 1), Q8_ERR_STATE, "not seen any data");
    EXPECT_ERR(q8_observer_qparams(obs, sc, zp, 1), Q8_ERR_STATE, "not seen any data");
    EXPECT_ERR(q8_observer_apply(obs, t), Q8_ERR_STATE, "not seen any data");
    cr_assert(count == SIZE_SENTINEL && mins[0] == -1 && maxs[0] == -1 && sc[0] == -1 && zp[0] == -9);
    assert_qparams(t, 0, 0, 0);
    if (round == 0) {
      /* An empty batch changes nothing. */
      const int64_t empty_shape[2] = {0, 4};
      q8_tensor *e = make_tensor(Q8_DTYPE_F32, empty_shape, 2);
      Q8_OK_OR_FAIL(q8_observer_update(obs, e));
      q8_tensor_destroy(e);
    } else if (round == 1) {
      /* After data and a reset, the observer is back to knowing nothing. */
      q8_tensor *x = tensor_2x3(Q8_DTYPE_F32);
      Q8_OK_OR_FAIL(q8_observer_update(obs, x));
      Q8_OK_OR_FAIL(q8_observer_reset(obs));
      q8_tensor_destroy(x);
    }
  }
  q8_tensor_destroy(t);
  q8_observer_destroy(obs);
}

Test(bad_input, observer_calls_reject_null_pointers) {
  q8_observer *obs = make_observer(Q8_OBSERVER_MINMAX, -1);
  q8_tensor *x = tensor_2x3(Q8_DTYPE_F32);
  q8_tensor *t = tensor_2x3(Q8_DTYPE_U8);
  Q8_OK_OR_FAIL(q8_observer_update(obs, x));
  size_t count = SIZE_SENTINEL;
  float mins[1] = {-1}, maxs[1] = {-1}, sc[1] = {-1};
  int32_t zp[1] = {-9};

  EXPECT_ERR(q8_observer_update(NULL, x), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  EXPECT_ERR(q8_observer_update(obs, NULL), Q8_ERR_INVALID_ARGUMENT, "batch is NULL");
  EXPECT_ERR(q8_observer_channels(NULL, &count), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  EXPECT_ERR(q8_observer_channels(obs, NULL), Q8_ERR_INVALID_ARGUMENT, "count is NULL");
  EXPECT_ERR(q8_observer_range(NULL, mins, maxs, 1), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  EXPECT_ERR(q8_observer_range(obs, NULL, maxs, 1), Q8_ERR_INVALID_ARGUMENT, "mins is NULL");
  EXPECT_ERR(q8_observer_range(obs, mins, NULL, 1), Q8_ERR_INVALID_ARGUMENT, "maxs is NULL");
  EXPECT_ERR(q8_observer_qparams(NULL, sc, zp, 1), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  EXPECT_ERR(q8_observer_qparams(obs, NULL, zp, 1), Q8_ERR_INVALID_ARGUMENT, "scales is NULL");
  EXPECT_ERR(q8_observer_qparams(obs, sc, NULL, 1), Q8_ERR_INVALID_ARGUMENT, "zero_points is NULL");
  EXPECT_ERR(q8_observer_apply(NULL, t), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  EXPECT_ERR(q8_observer_apply(obs, NULL), Q8_ERR_INVALID_ARGUMENT, "t is NULL");
  EXPECT_ERR(q8_observer_reset(NULL), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  cr_assert(count == SIZE_SENTINEL && mins[0] == -1 && maxs[0] == -1 && sc[0] == -1 && zp[0] == -9);

  /* The observer still works after all that. */
  Q8_OK_OR_FAIL(q8_observer_channels(obs, &count));
  cr_assert_eq(count, 1);
  q8_tensor_destroy(x);
  q8_tensor_destroy(t);
  q8_observer_destroy(obs);
}

Test(bad_input, observer_rejects_wrong_counts) {
  q8_observer *per_tensor = make_observer(Q8_OBSERVER_MINMAX, -1);
  q8_observer *per_channel = make_observer(Q8_OBSERVER_MINMAX, 1);
  q8_tensor *x = tensor_2x3(Q8_DTYPE_F32);
  Q8_OK_OR_FAIL(q8_observer_update(per_tensor, x));
  Q8_OK_OR_FAIL(q8_observer_update(per_channel, x));
  float mins[4] = {-1, -1, -1, -1}, maxs[4] = {-1, -1, -1, -1}, sc[4] = {-1, -1, -1, -1};
  int32_t zp[4] = {-9, -9, -9, -9};

  EXPECT_ERR(q8_observer_range(per_tensor, mins, maxs, 0), Q8_ERR_SHAPE, "count = 0");
  EXPECT_ERR(q8_observer_range(per_tensor, mins, maxs, 2), Q8_ERR_SHAPE, "count = 2");
  EXPECT_ERR(q8_observer_qparams(per_tensor, sc, zp, 0), Q8_ERR_SHAPE, "count = 0");
  EXPECT_ERR(q8_observer_qparams(per_tensor, sc, zp, 4), Q8_ERR_SHAPE, "count = 4");
  EXPECT_ERR(q8_observer_range(per_channel, mins, maxs, 1), Q8_ERR_SHAPE, "count = 1");
  EXPECT_ERR(q8_observer_range(per_channel, mins, maxs, 4), Q8_ERR_SHAPE, "count = 4");
  EXPECT_ERR(q8_observer_qparams(per_channel, sc, zp, 2), Q8_ERR_SHAPE, "count = 2");
  EXPECT_ERR(q8_observer_qparams(per_channel, sc, zp, SIZE_MAX), Q8_ERR_SHAPE, "count");
  for (int i = 0; i < 4; ++i) cr_assert(mins[i] == -1 && maxs[i] == -1 && sc[i] == -1 && zp[i] == -9);
  q8_tensor_destroy(x);
  q8_observer_destroy(per_tensor);
  q8_observer_destroy(per_channel);
}

Test(bad_input, observer_update_rejects_bad_batches) {
  q8_observer *per_tensor = make_observer(Q8_OBSERVER_MINMAX, -1);
  q8_observer *per_channel = make_observer(Q8_OBSERVER_MOVING_AVERAGE_MINMAX, 1);
  q8_tensor *s8 = quantized_2x3(Q8_DTYPE_S8, 1.0f, 0);
  q8_tensor *u8 = tensor_2x3(Q8_DTYPE_U8);
  q8_tensor *s32 = tensor_2x3(Q8_DTYPE_S32);
  const int64_t flat[1] = {6}, wide[2] = {2, 4};
  q8_tensor *x_flat = make_tensor(Q8_DTYPE_F32, flat, 1);
  q8_tensor *x_scalar = make_tensor(Q8_DTYPE_F32, NULL, 0);
  q8_tensor *x = tensor_2x3(Q8_DTYPE_F32);
  q8_tensor *x_wide = make_tensor(Q8_DTYPE_F32, wide, 2);

  EXPECT_ERR(q8_observer_update(per_tensor, s8), Q8_ERR_DTYPE, "batch");
  EXPECT_ERR(q8_observer_update(per_tensor, u8), Q8_ERR_DTYPE, "batch");
  EXPECT_ERR(q8_observer_update(per_tensor, s32), Q8_ERR_DTYPE, "batch");
  EXPECT_ERR(q8_observer_update(per_channel, x_flat), Q8_ERR_SHAPE, "axis 1");
  EXPECT_ERR(q8_observer_update(per_channel, x_scalar), Q8_ERR_SHAPE, "axis 1");
  size_t count = SIZE_SENTINEL;
  EXPECT_ERR(q8_observer_channels(per_tensor, &count), Q8_ERR_STATE, "not seen any data");
  EXPECT_ERR(q8_observer_channels(per_channel, &count), Q8_ERR_STATE, "not seen any data");

  /* Once 3 channels are seen, a batch with 4 is refused and the range is unchanged. */
  float *xd = tensor_data(x);
  for (int i = 0; i < 6; ++i) xd[i] = (float)(i - 2);
  float *wd = tensor_data(x_wide);
  for (int i = 0; i < 8; ++i) wd[i] = 100.0f;
  Q8_OK_OR_FAIL(q8_observer_update(per_channel, x));
  EXPECT_ERR(q8_observer_update(per_channel, x_wide), Q8_ERR_SHAPE, "channels");
  float mins[3], maxs[3];
  Q8_OK_OR_FAIL(q8_observer_range(per_channel, mins, maxs, 3));
  for (int c = 0; c < 3; ++c) cr_assert(mins[c] == (float)(c - 2) && maxs[c] == (float)(c + 1), "channel %d", c);

  q8_tensor *all[] = {s8, u8, s32, x_flat, x_scalar, x, x_wide};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) q8_tensor_destroy(all[i]);
  q8_observer_destroy(per_tensor);
  q8_observer_destroy(per_channel);
}

Test(bad_input, observer_apply_rejects_mismatched_tensors) {
  q8_observer *per_tensor = make_observer(Q8_OBSERVER_MINMAX, -1); /* asymmetric u8 */
  q8_observer *per_channel = make_observer(Q8_OBSERVER_MINMAX, 1);
  q8_tensor *x = tensor_2x3(Q8_DTYPE_F32);
  Q8_OK_OR_FAIL(q8_observer_update(per_tensor, x));
  Q8_OK_OR_FAIL(q8_observer_update(per_channel, x));

  q8_tensor *s8 = quantized_2x3(Q8_DTYPE_S8, 0.5f, 1);
  q8_tensor *s32 = tensor_2x3(Q8_DTYPE_S32);
  q8_tensor *f32 = tensor_2x3(Q8_DTYPE_F32);
  const int64_t four_cols[2] = {2, 4}, flat[1] = {6};
  q8_tensor *u8_wide = make_tensor(Q8_DTYPE_U8, four_cols, 2);
  q8_tensor *u8_flat = make_tensor(Q8_DTYPE_U8, flat, 1);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(u8_wide, 0.5f, 9));

  EXPECT_ERR(q8_observer_apply(per_tensor, s8), Q8_ERR_DTYPE, "t is s8");
  EXPECT_ERR(q8_observer_apply(per_tensor, s32), Q8_ERR_DTYPE, "t is s32");
  EXPECT_ERR(q8_observer_apply(per_tensor, f32), Q8_ERR_DTYPE, "t is f32");
  EXPECT_ERR(q8_observer_apply(per_channel, u8_wide), Q8_ERR_SHAPE, "count = 3");
  EXPECT_ERR(q8_observer_apply(per_channel, u8_flat), Q8_ERR_SHAPE, "axis");
  assert_qparams(s8, 1, 0.5f, 1);
  assert_qparams(u8_wide, 1, 0.5f, 9);
  assert_qparams(u8_flat, 0, 0, 0);

  q8_tensor *all[] = {x, s8, s32, f32, u8_wide, u8_flat};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) q8_tensor_destroy(all[i]);
  q8_observer_destroy(per_tensor);
  q8_observer_destroy(per_channel);
}

Test(bad_input, observer_freeze_rejects_null_pointers) {
  q8_observer *obs = make_observer(Q8_OBSERVER_MINMAX, -1);
  int frozen = 7;
  EXPECT_ERR(q8_observer_set_frozen(NULL, 1), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  EXPECT_ERR(q8_observer_frozen(NULL, &frozen), Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  EXPECT_ERR(q8_observer_frozen(obs, NULL), Q8_ERR_INVALID_ARGUMENT, "frozen is NULL");
  cr_assert_eq(frozen, 7, "an out-pointer was written on failure");
  /* Nothing changed: the observer is still live. */
  Q8_OK_OR_FAIL(q8_observer_frozen(obs, &frozen));
  cr_assert_eq(frozen, 0);
  q8_observer_destroy(obs);
}

/* ---- run-time settings ------------------------------------------------------------------- */

Test(bad_input, set_threads_rejects_negative_counts) {
  Q8_OK_OR_FAIL(q8_runtime_set_threads(1));
  EXPECT_ERR(q8_runtime_set_threads(-1), Q8_ERR_INVALID_ARGUMENT, "threads = -1");
  EXPECT_ERR(q8_runtime_set_threads(INT_MIN), Q8_ERR_INVALID_ARGUMENT, "threads");
  cr_assert_eq(q8_runtime_threads(), 1, "a failed call changed the thread limit");
  Q8_OK_OR_FAIL(q8_runtime_set_threads(0));
}

Test(bad_input, set_isa_rejects_invalid_and_unsupported_paths) {
  const q8_isa before = q8_runtime_isa();
  EXPECT_ERR(q8_runtime_set_isa((q8_isa)5), Q8_ERR_INVALID_ARGUMENT, "isa = 5");
  EXPECT_ERR(q8_runtime_set_isa((q8_isa)-2), Q8_ERR_INVALID_ARGUMENT, "isa = -2");
  EXPECT_ERR(q8_runtime_set_isa((q8_isa)1000), Q8_ERR_INVALID_ARGUMENT, "isa");
  cr_assert_eq(q8_runtime_isa(), before);

#if defined(__x86_64__) || defined(__i386__)
  cr_assert_eq(q8_runtime_isa_supported(Q8_ISA_NEON), 0);
  EXPECT_ERR(q8_runtime_set_isa(Q8_ISA_NEON), Q8_ERR_UNSUPPORTED, "isa");
#elif defined(__aarch64__)
  cr_assert_eq(q8_runtime_isa_supported(Q8_ISA_AVX2), 0);
  EXPECT_ERR(q8_runtime_set_isa(Q8_ISA_AVX2), Q8_ERR_UNSUPPORTED, "isa");
#endif
  cr_assert_eq(q8_runtime_isa(), before);

  /* Every real path: supported ones are accepted, the others refused with UNSUPPORTED. */
  const q8_isa paths[] = {Q8_ISA_SCALAR, Q8_ISA_AVX2, Q8_ISA_AVX512, Q8_ISA_AVX512_VNNI, Q8_ISA_NEON};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; ++i) {
    if (q8_runtime_isa_supported(paths[i])) {
      Q8_OK_OR_FAIL(q8_runtime_set_isa(paths[i]));
      cr_assert_eq(q8_runtime_isa(), paths[i]);
    } else {
      const q8_isa cur = q8_runtime_isa();
      EXPECT_ERR(q8_runtime_set_isa(paths[i]), Q8_ERR_UNSUPPORTED, "isa");
      cr_assert_eq(q8_runtime_isa(), cur);
    }
  }
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_AUTO));
}
