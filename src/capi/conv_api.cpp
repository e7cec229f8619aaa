// q8_conv2d_* entry points: argument checks with messages that name the argument, then src/conv/.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "capi/gemm_checks.hpp"
#include "capi/guard.hpp"
#include "conv/conv.hpp"
#include "q8/conv.h"

using namespace q8;
using std::to_string;

namespace {

int64_t mul(int64_t a, int64_t b, const char *what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > int64_t(PTRDIFF_MAX))
    fail(Q8_ERR_SHAPE, std::string(what) + " does not fit in the address space");
  return r;
}

// Options out of range are invalid arguments; dimensions out of range are shape errors.
void check_option(int64_t v, int64_t lo, const std::string &name) {
  if (v < lo) fail(Q8_ERR_INVALID_ARGUMENT, name + " = " + to_string(v) + " is less than " + to_string(lo));
}
void check_at_least(int64_t v, int64_t lo, const std::string &name) {
  if (v < lo) fail(Q8_ERR_SHAPE, name + " = " + to_string(v) + " is less than " + to_string(lo));
}

q8_conv2d_options read_options(const q8_conv2d_options *in) {
  q8_conv2d_options o;
  q8_conv2d_options_init(&o);
  if (in)
    o = read_versioned(*in, offsetof(q8_conv2d_options, groups) + sizeof(int64_t), o, "options",
                       "q8_conv2d_options_init");
  check_option(o.stride_h, 1, "options->stride_h");
  check_option(o.stride_w, 1, "options->stride_w");
  check_option(o.dilation_h, 1, "options->dilation_h");
  check_option(o.dilation_w, 1, "options->dilation_w");
  check_option(o.groups, 1, "options->groups");
  for (auto [v, name] : {std::pair<int64_t, const char *>{o.pad_top, "options->pad_top"},
                         {o.pad_left, "options->pad_left"},
                         {o.pad_bottom, "options->pad_bottom"},
                         {o.pad_right, "options->pad_right"}})
    Q8_CHECK_ARG(v >= 0, std::string(name) + " = " + to_string(v) + " is negative");
  return o;
}

// One spatial axis: the padded extent, the dilated kernel and the output length (>= 1).
int64_t out_len(int64_t in, int64_t k, int64_t pad0, int64_t pad1, int64_t stride, int64_t dil, const char *axis) {
  int64_t padded, span;
  if (__builtin_add_overflow(in, pad0, &padded) || __builtin_add_overflow(padded, pad1, &padded) ||
      __builtin_mul_overflow(dil, k - 1, &span) || __builtin_add_overflow(span, 1, &span))
    fail(Q8_ERR_SHAPE, std::string(axis) + ": the padded input or the dilated kernel overflows");
  if (span > padded)
    fail(Q8_ERR_SHAPE, std::string(axis) + ": the dilated kernel (" + to_string(span) +
                           ") is larger than the padded input (" + to_string(padded) + ")");
  return (padded - span) / stride + 1;
}

conv::Geometry geometry(const q8_conv2d_options *options, int64_t batch, int64_t in_h, int64_t in_w,
                        int64_t in_ch, int64_t out_ch, int64_t kh, int64_t kw) {
  const q8_conv2d_options o = read_options(options);
  check_at_least(batch, 0, "batch");
  check_at_least(in_h, 1, "in_h");
  check_at_least(in_w, 1, "in_w");
  check_at_least(in_ch, 1, "in_ch");
  check_at_least(out_ch, 1, "out_ch");
  check_at_least(kh, 1, "kh");
  check_at_least(kw, 1, "kw");
  conv::Geometry g;
  g.batch = batch;
  g.in_h = in_h;
  g.in_w = in_w;
  g.in_ch = in_ch;
  g.out_ch = out_ch;
  g.kh = kh;
  g.kw = kw;
  g.stride_h = o.stride_h;
  g.stride_w = o.stride_w;
  g.pad_top = o.pad_top;
  g.pad_left = o.pad_left;
  g.pad_bottom = o.pad_bottom;
  g.pad_right = o.pad_right;
  g.dilation_h = o.dilation_h;
  g.dilation_w = o.dilation_w;
  g.groups = o.groups;
  if (in_ch % o.groups != 0 || out_ch % o.groups != 0)
    fail(Q8_ERR_SHAPE, "options->groups = " + to_string(o.groups) + " does not divide in_ch = " +
                           to_string(in_ch) + " and out_ch = " + to_string(out_ch));
  g.cg = in_ch / o.groups;
  g.og = out_ch / o.groups;
  g.out_h = out_len(in_h, kh, o.pad_top, o.pad_bottom, o.stride_h, o.dilation_h, "height");
  g.out_w = out_len(in_w, kw, o.pad_left, o.pad_right, o.stride_w, o.dilation_w, "width");
  // Every extent we index must be addressable.
  mul(mul(mul(std::max<int64_t>(batch, 1), in_h, "the input"), in_w, "the input"), in_ch, "the input");
  mul(mul(mul(out_ch, kh, "the weights"), kw, "the weights"), g.cg, "the weights");
  mul(mul(mul(mul(std::max<int64_t>(batch, 1), g.out_h, "the output"), g.out_w, "the output"), out_ch,
          "the output"), 8, "the output");
  mul(mul(mul(g.out_h, g.out_w, "the patch matrix"), g.patch(), "the patch matrix"), 4, "the patch matrix");
  return g;
}

void run_conv(const q8_conv2d_options *options, int64_t batch, int64_t in_h, int64_t in_w, int64_t in_ch,
          const void *input, bool is_signed, int32_t zx, int64_t out_ch, int64_t kh, int64_t kw,
              const int8_t *weights, const int32_t *zw, size_t zw_count, const q8_gemm_epilogue *epilogue,
          void *output) {
  const conv::Geometry g = geometry(options, batch, in_h, in_w, in_ch, out_ch, kh, kw);
  const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  Q8_CHECK_ARG(zx >= lo && zx <= hi, "input_zero_point = " + to_string(zx) + " is outside [" + to_string(lo) +
                                         ", " + to_string(hi) + "]");
  if (zw_count != 0) {
    Q8_CHECK_ARG(zw_count == 1 || zw_count == size_t(out_ch), "weight_zero_point_count = " + to_string(zw_count) +
                                                                  " must be 0, 1 or out_ch = " + to_string(out_ch));
    Q8_CHECK_ARG(zw != nullptr, "weight_zero_points is NULL but weight_zero_point_count = " + to_string(zw_count));
    for (size_t j = 0; j < zw_count; ++j)
      Q8_CHECK_ARG(zw[j] >= -128 && zw[j] <= 127, "weight_zero_points[" + to_string(j) + "] = " +
                                                      to_string(zw[j]) + " is outside [-128, 127]");
  }
  Q8_CHECK_NOT_NULL(weights);
  const gemm::Epilogue e = capi::read_gemm_epilogue(epilogue, out_ch);
  if (batch == 0) return;
  Q8_CHECK_NOT_NULL(input);
  Q8_CHECK_NOT_NULL(output);
  conv::conv2d(g, static_cast<const uint8_t *>(input), is_signed, zx, weights, zw, zw_count, e, output);
}

int64_t read_group(int64_t group, const conv::Geometry &g) {
  Q8_CHECK_ARG(group >= 0 && group < g.groups, "group = " + to_string(group) + " is outside [0, groups = " +
                                                   to_string(g.groups) + ")");
  return group;
}

// dst (cols x rows) = src (rows x cols)^T, in 32 x 32 tiles so both sides stay in cache.
template <class T>
void transpose_matrix(const T *src, T *dst, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t cc = c0; cc < c1; ++cc) dst[cc * rows + r] = src[r * cols + cc];
    }
}

void transpose4(const q8_dtype &dtype, int64_t n, int64_t c, int64_t h, int64_t w, const void *src, void *dst,
                bool to_nhwc) {
  const int dt = enum_bits(dtype);
  Q8_CHECK_ARG(dt >= Q8_DTYPE_F32 && dt <= Q8_DTYPE_S32, "dtype = " + to_string(dt) + " is not a q8_dtype");
  const size_t es = q8_dtype_size(q8_dtype(dt));
  check_at_least(n, 0, "n");
  check_at_least(c, 0, "c");
  check_at_least(h, 0, "h");
  check_at_least(w, 0, "w");
  const int64_t hw = mul(h, w, "the array"), total = mul(mul(mul(n, c, "the array"), hw, "the array"),
                                                        int64_t(es), "the array");
  if (total == 0) return;
  Q8_CHECK_NOT_NULL(src);
  Q8_CHECK_NOT_NULL(dst);
  for (int64_t b = 0; b < n; ++b) {
    // One image is a (c x hw) <-> (hw x c) matrix transpose.
    const int64_t rows = to_nhwc ? c : hw, cols = to_nhwc ? hw : c;
    const size_t off = size_t(b * c * hw) * es;
    if (es == 1)
      transpose_matrix(static_cast<const uint8_t *>(src) + off, static_cast<uint8_t *>(dst) + off, rows, cols);
    else
      transpose_matrix(reinterpret_cast<const uint32_t *>(static_cast<const unsigned char *>(src) + off),
                       reinterpret_cast<uint32_t *>(static_cast<unsigned char *>(dst) + off), rows, cols);
  }
}

}  // namespace

extern "C" {

q8_status q8_conv2d_options_init(q8_conv2d_options *options) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->stride_h = options->stride_w = 1;
    options->dilation_h = options->dilation_w = 1;
    options->groups = 1;
  });
}

q8_status q8_conv2d_output_shape(const q8_conv2d_options *options, int64_t in_h, int64_t in_w, int64_t kh,
                                 int64_t kw, int64_t *out_h, int64_t *out_w) {
  return guard(__func__, [&] {
    const q8_conv2d_options o = read_options(options);
    check_at_least(in_h, 1, "in_h");
    check_at_least(in_w, 1, "in_w");
    check_at_least(kh, 1, "kh");
    check_at_least(kw, 1, "kw");
    Q8_CHECK_NOT_NULL(out_h);
    Q8_CHECK_NOT_NULL(out_w);
    const int64_t oh = out_len(in_h, kh, o.pad_top, o.pad_bottom, o.stride_h, o.dilation_h, "height");
    const int64_t ow = out_len(in_w, kw, o.pad_left, o.pad_right, o.stride_w, o.dilation_w, "width");
    *out_h = oh;
    *out_w = ow;
  });
}

q8_status q8_conv2d_u8s8(const q8_conv2d_options *options, int64_t batch, int64_t in_h, int64_t in_w,
                         int64_t in_ch, const uint8_t *input, int32_t input_zero_point, int64_t out_ch,
                         int64_t kh, int64_t kw, const int8_t *weights, const int32_t *weight_zero_points,
                         size_t weight_zero_point_count, const q8_gemm_epilogue *epilogue, void *output) {
  return guard(__func__, [&] {
    run_conv(options, batch, in_h, in_w, in_ch, input, false, input_zero_point, out_ch, kh, kw, weights,
         weight_zero_points, weight_zero_point_count, epilogue, output);
  });
}

q8_status q8_conv2d_s8s8(const q8_conv2d_options *options, int64_t batch, int64_t in_h, int64_t in_w,
                         int64_t in_ch, const int8_t *input, int32_t input_zero_point, int64_t out_ch,
                         int64_t kh, int64_t kw, const int8_t *weights, const int32_t *weight_zero_points,
                         size_t weight_zero_point_count, const q8_gemm_epilogue *epilogue, void *output) {
  return guard(__func__, [&] {
    run_conv(options, batch, in_h, in_w, in_ch, input, true, input_zero_point, out_ch, kh, kw, weights,
         weight_zero_points, weight_zero_point_count, epilogue, output);
  });
}

q8_status q8_conv2d_im2col(const q8_conv2d_options *options, q8_dtype dtype, int64_t in_h, int64_t in_w,
                           int64_t in_ch, const void *input, int32_t pad_value, int64_t kh, int64_t kw,
                           int64_t group, void *col, int64_t ldcol) {
  return guard(__func__, [&] {
    const int dt = enum_bits(dtype);
    if (dt != Q8_DTYPE_U8 && dt != Q8_DTYPE_S8)
      fail(Q8_ERR_DTYPE, "dtype = " + to_string(dt) + " is not Q8_DTYPE_U8 or Q8_DTYPE_S8");
    const conv::Geometry g = geometry(options, 1, in_h, in_w, in_ch, in_ch, kh, kw);
    read_group(group, g);
    const int32_t lo = dt == Q8_DTYPE_S8 ? -128 : 0, hi = dt == Q8_DTYPE_S8 ? 127 : 255;
    Q8_CHECK_ARG(pad_value >= lo && pad_value <= hi, "pad_value = " + to_string(pad_value) +
                                                         " is outside the dtype's range");
    Q8_CHECK_ARG(ldcol >= g.patch(), "ldcol = " + to_string(ldcol) + " is less than kh * kw * cg = " +
                                         to_string(g.patch()));
    mul(g.out_h * g.out_w, ldcol, "col");
    Q8_CHECK_NOT_NULL(input);
    Q8_CHECK_NOT_NULL(col);
    conv::im2col(g, static_cast<const uint8_t *>(input), uint8_t(pad_value), group, 0, g.out_h * g.out_w,
                 static_cast<uint8_t *>(col), ldcol);
  });
}

q8_status q8_conv2d_col2im_s32(const q8_conv2d_options *options, int64_t in_h, int64_t in_w, int64_t in_ch,
                               int64_t kh, int64_t kw, int64_t group, const int32_t *col, int64_t ldcol,
                               int32_t *image) {
  return guard(__func__, [&] {
    const conv::Geometry g = geometry(options, 1, in_h, in_w, in_ch, in_ch, kh, kw);
    read_group(group, g);
    Q8_CHECK_ARG(ldcol >= g.patch(), "ldcol = " + to_string(ldcol) + " is less than kh * kw * cg = " +
                                         to_string(g.patch()));
    mul(mul(g.out_h * g.out_w, ldcol, "col"), 4, "col");
    Q8_CHECK_NOT_NULL(col);
    Q8_CHECK_NOT_NULL(image);
    conv::col2im_s32(g, col, ldcol, group, image);
  });
}

q8_status q8_conv2d_nchw_to_nhwc(q8_dtype dtype, int64_t n, int64_t c, int64_t h, int64_t w, const void *src,
                                 void *dst) {
  return guard(__func__, [&] { transpose4(dtype, n, c, h, w, src, dst, true); });
}

q8_status q8_conv2d_nhwc_to_nchw(q8_dtype dtype, int64_t n, int64_t c, int64_t h, int64_t w, const void *src,
                                 void *dst) {
  return guard(__func__, [&] { transpose4(dtype, n, c, h, w, src, dst, false); });
}

}  // extern "C"
