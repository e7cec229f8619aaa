/* Tensors through the public API: ownership, shapes, element access, quantization parameters,
 * versions and run-time settings. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

Test(tensor, version_matches_header) {
  cr_assert_eq(q8_version(), Q8_VERSION_NUMBER);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", Q8_VERSION_MAJOR, Q8_VERSION_MINOR, Q8_VERSION_PATCH);
  cr_assert_str_eq(q8_version_string(), want);
}

Test(tensor, dtype_facts) {
  cr_assert_eq(q8_dtype_size(Q8_DTYPE_F32), 4);
  cr_assert_eq(q8_dtype_size(Q8_DTYPE_S8), 1);
  cr_assert_eq(q8_dtype_size(Q8_DTYPE_U8), 1);
  cr_assert_eq(q8_dtype_size(Q8_DTYPE_S32), 4);
  cr_assert_eq(q8_dtype_size((q8_dtype)42), 0);
  cr_assert_str_eq(q8_dtype_name(Q8_DTYPE_U8), "u8");
  cr_assert_str_eq(q8_dtype_name((q8_dtype)42), "unknown");
}

Test(tensor, create_is_zeroed_aligned_and_described) {
  const int64_t shape[3] = {2, 3, 5};
  const q8_dtype dts[4] = {Q8_DTYPE_F32, Q8_DTYPE_S8, Q8_DTYPE_U8, Q8_DTYPE_S32};
  for (int d = 0; d < 4; ++d) {
    q8_tensor *t = make_tensor(dts[d], shape, 3);
    q8_dtype dt;
    size_t rank, numel, nbytes;
    int64_t got[8] = {0};
    Q8_OK_OR_FAIL(q8_tensor_dtype(t, &dt));
    Q8_OK_OR_FAIL(q8_tensor_rank(t, &rank));
    Q8_OK_OR_FAIL(q8_tensor_numel(t, &numel));
    Q8_OK_OR_FAIL(q8_tensor_nbytes(t, &nbytes));
    Q8_OK_OR_FAIL(q8_tensor_shape(t, got, 8));
    cr_assert(dt == dts[d] && rank == 3 && numel == 30 && nbytes == 30 * q8_dtype_size(dts[d]));
    cr_assert_arr_eq(got, shape, sizeof shape);
    unsigned char *p = tensor_data(t);
    cr_assert_eq((uintptr_t)p % Q8_ALIGNMENT, 0);
    for (size_t i = 0; i < nbytes; ++i) cr_assert_eq(p[i], 0);
    q8_tensor_destroy(t);
  }
}

Test(tensor, rank_zero_holds_one_element_and_empty_holds_none) {
  q8_tensor *s = make_tensor(Q8_DTYPE_F32, NULL, 0);
  size_t n;
  Q8_OK_OR_FAIL(q8_tensor_numel(s, &n));
  cr_assert_eq(n, 1);
  Q8_OK_OR_FAIL(q8_tensor_set(s, NULL, 0, 2.5));
  double v;
  Q8_OK_OR_FAIL(q8_tensor_get(s, NULL, 0, &v));
  cr_assert_eq(v, 2.5);
  q8_tensor_destroy(s);

  const int64_t shape[2] = {4, 0};
  q8_tensor *e = make_tensor(Q8_DTYPE_S8, shape, 2);
  Q8_OK_OR_FAIL(q8_tensor_numel(e, &n));
  cr_assert_eq(n, 0);
  cr_assert_null(tensor_data(e));
  q8_tensor *w = NULL;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, NULL, 0, &w));
  q8_tensor *eq = make_tensor(Q8_DTYPE_U8, shape, 2);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(eq, 1.0f, 0));
  Q8_OK_OR_FAIL(q8_quantize(w, eq)); /* empty work is fine */
  q8_tensor_destroy(w);
  q8_tensor_destroy(e);
  q8_tensor_destroy(eq);
}

Test(tensor, max_rank_is_eight) {
  const int64_t shape[8] = {1, 2, 1, 2, 1, 2, 1, 2};
  q8_tensor *t = make_tensor(Q8_DTYPE_U8, shape, 8);
  size_t n;
  Q8_OK_OR_FAIL(q8_tensor_numel(t, &n));
  cr_assert_eq(n, 16);
  const int64_t idx[8] = {0, 1, 0, 1, 0, 1, 0, 1};
  Q8_OK_OR_FAIL(q8_tensor_set(t, idx, 8, 255));
  cr_assert_eq(((uint8_t *)tensor_data(t))[15], 255);
  q8_tensor_destroy(t);
}

Test(tensor, wrap_borrows_the_callers_buffer) {
  float buf[6] = {1, 2, 3, 4, 5, 6};
  const int64_t shape[2] = {2, 3};
  q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, buf, sizeof buf, &t));
  cr_assert_eq(tensor_data(t), buf);
  const int64_t idx[2] = {1, 2};
  Q8_OK_OR_FAIL(q8_tensor_set(t, idx, 2, -7.0));
  cr_assert_eq(buf[5], -7.0f);
  q8_tensor_destroy(t); /* must not free buf */
  buf[0] = 9;
  cr_assert_eq(buf[0], 9.0f);
}

Test(tensor, clone_is_deep_and_keeps_qparams) {
  const int64_t shape[2] = {2, 2};
  q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, 2);
  const float sc[2] = {0.5f, 0.25f};
  const int32_t zp[2] = {1, -2};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 0, sc, zp, 2));
  ((int8_t *)tensor_data(t))[3] = 42;
  q8_tensor *c = NULL;
  Q8_OK_OR_FAIL(q8_tensor_clone(t, &c));
  cr_assert_neq(tensor_data(c), tensor_data(t));
  cr_assert_eq(((int8_t *)tensor_data(c))[3], 42);
  ((int8_t *)tensor_data(t))[3] = 0;
  cr_assert_eq(((int8_t *)tensor_data(c))[3], 42);
  int32_t axis;
  size_t count;
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(c, &axis, &count));
  cr_assert(axis == 0 && count == 2);
  float gs[2];
  int32_t gz[2];
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(c, gs, gz, 2));
  cr_assert_arr_eq(gs, sc, sizeof sc);
  cr_assert_arr_eq(gz, zp, sizeof zp);
  q8_tensor_destroy(t);
  q8_tensor_destroy(c);
}

Test(tensor, copy_needs_same_dtype_and_count) {
  const int64_t a[2] = {2, 3}, b[1] = {6};
  q8_tensor *x = make_tensor(Q8_DTYPE_S32, a, 2), *y = make_tensor(Q8_DTYPE_S32, b, 1);
  int32_t *xd = tensor_data(x);
  for (int i = 0; i < 6; ++i) xd[i] = i * 1000;
  Q8_OK_OR_FAIL(q8_tensor_copy(x, y));
  cr_assert_arr_eq(tensor_data(y), xd, 6 * sizeof(int32_t));
  Q8_OK_OR_FAIL(q8_tensor_copy(x, x)); /* self copy is a no-op */
  q8_tensor_destroy(x);
  q8_tensor_destroy(y);
}

Test(tensor, reshape_keeps_data_and_per_axis_params_when_possible) {
  const int64_t shape[3] = {4, 3, 2};
  q8_tensor *t = make_tensor(Q8_DTYPE_U8, shape, 3);
  const float sc[4] = {1, 2, 3, 4};
  const int32_t zp[4] = {0, 1, 2, 3};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, 0, sc, zp, 4));
  const int64_t keep[2] = {4, 6}, lose[2] = {6, 4}, flat[1] = {24};
  Q8_OK_OR_FAIL(q8_tensor_reshape(t, keep, 2));
  Q8_EXPECT_STATUS(q8_tensor_reshape(t, lose, 2), Q8_ERR_SHAPE);
  Q8_OK_OR_FAIL(q8_tensor_clear_qparams(t));
  Q8_OK_OR_FAIL(q8_tensor_reshape(t, flat, 1));
  size_t rank, count = 99;
  Q8_OK_OR_FAIL(q8_tensor_rank(t, &rank));
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(t, NULL, &count));
  cr_assert(rank == 1 && count == 0);
  q8_tensor_destroy(t);
}

Test(tensor, element_access_is_exact_and_range_checked) {
  const int64_t shape[1] = {3};
  q8_tensor *s32 = make_tensor(Q8_DTYPE_S32, shape, 1), *f32 = make_tensor(Q8_DTYPE_F32, shape, 1);
  const int64_t i0[1] = {0}, i2[1] = {2};
  Q8_OK_OR_FAIL(q8_tensor_set(s32, i0, 1, 2147483647.0));
  Q8_OK_OR_FAIL(q8_tensor_set(s32, i2, 1, -2147483648.0));
  double v;
  Q8_OK_OR_FAIL(q8_tensor_get(s32, i0, 1, &v));
  cr_assert_eq(v, 2147483647.0);
  Q8_EXPECT_STATUS(q8_tensor_set(s32, i0, 1, 2147483648.0), Q8_ERR_INVALID_ARGUMENT);
  Q8_EXPECT_STATUS(q8_tensor_set(s32, i0, 1, 0.5), Q8_ERR_INVALID_ARGUMENT);
  Q8_OK_OR_FAIL(q8_tensor_set(f32, i2, 1, NAN));
  Q8_OK_OR_FAIL(q8_tensor_get(f32, i2, 1, &v));
  cr_assert(isnan(v));
  Q8_EXPECT_STATUS(q8_tensor_set(f32, i2, 1, 1e300), Q8_ERR_INVALID_ARGUMENT);
  q8_tensor_destroy(s32);
  q8_tensor_destroy(f32);
}

Test(tensor, qparams_negative_axis_and_layout) {
  const int64_t shape[2] = {2, 3};
  q8_tensor *t = make_tensor(Q8_DTYPE_S8, shape, 2);
  int32_t axis = 7;
  size_t count = 7;
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(t, &axis, &count));
  cr_assert_eq(count, 0);
  Q8_EXPECT_STATUS(q8_tensor_get_qparams(t, NULL, NULL, 0), Q8_ERR_STATE);
  const float sc[3] = {0.1f, 0.2f, 0.3f};
  const int32_t zp[3] = {-128, 0, 127};
  Q8_OK_OR_FAIL(q8_tensor_set_qparams_per_axis(t, -1, sc, zp, 3));
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(t, &axis, &count));
  cr_assert(axis == 1 && count == 3);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(t, 0.5f, -3));
  Q8_OK_OR_FAIL(q8_tensor_qparams_layout(t, &axis, &count));
  cr_assert(axis == -1 && count == 1);
  float s;
  int32_t z;
  Q8_OK_OR_FAIL(q8_tensor_get_qparams(t, &s, &z, 1));
  cr_assert(s == 0.5f && z == -3);
  q8_tensor_destroy(t);
}

Test(tensor, thread_setting_round_trips) {
  Q8_OK_OR_FAIL(q8_runtime_set_threads(1));
  cr_assert_eq(q8_runtime_threads(), 1);
  Q8_OK_OR_FAIL(q8_runtime_set_threads(0));
  cr_assert_eq(q8_runtime_threads(), 0);
}
