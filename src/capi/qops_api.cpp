// q8_q* entry points (include/q8/qops.h): checks that name the argument, then src/qops/ for the
// element-wise operators and the public GEMM / conv entry points (which validate geometry and
// leading dimensions themselves) for q8_qmatmul and q8_qconv2d.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "capi/guard.hpp"
#include "core/dtype.hpp"
#include "core/tensor.hpp"
#include "q8/conv.h"
#include "q8/gemm.h"
#include "q8/qops.h"
#include "qops/qops.hpp"

using namespace q8;
using std::to_string;

namespace {

const q8_tensor &need(const q8_tensor *t, const char *name) {
  if (!t) fail(Q8_ERR_INVALID_ARGUMENT, std::string(name) + " is NULL");
  return *t;
}
q8_tensor &need(q8_tensor *t, const char *name) {
  if (!t) fail(Q8_ERR_INVALID_ARGUMENT, std::string(name) + " is NULL");
  return *t;
}

void need_8bit(const q8_tensor &t, const char *name) {
  if (t.dtype != Q8_DTYPE_U8 && t.dtype != Q8_DTYPE_S8)
    fail(Q8_ERR_DTYPE, std::string(name) + " must be u8 or s8, not " + dtype_name(t.dtype));
}

void need_qparams(const q8_tensor &t, const char *name) {
  if (!t.qp.present())
    fail(Q8_ERR_STATE, std::string(name) + " has no quantization parameters (set them with q8_tensor_set_qparams)");
}

qops::Affine per_tensor(const q8_tensor &t, const char *name) {
  need_qparams(t, name);
  if (t.qp.axis >= 0)
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(name) + " has per-axis parameters; this operator takes per-tensor ones");
  return {t.qp.scales[0], t.qp.zero_points[0]};
}

void same_shape(const q8_tensor &y, const std::vector<int64_t> &want, const char *name) {
  bool same = y.rank == want.size();
  for (std::size_t i = 0; same && i < y.rank; ++i) same = y.shape[i] == want[i];
  if (!same) {
    std::string s = "[";
    for (std::size_t i = 0; i < want.size(); ++i) s += (i ? ", " : "") + to_string(want[i]);
    fail(Q8_ERR_SHAPE, std::string(name) + " must have shape " + s + "]");
  }
}

void distinct(const q8_tensor &y, std::initializer_list<const q8_tensor *> ins) {
  for (const q8_tensor *t : ins)
    if (t && (t == &y || (y.data && t->data == y.data)))
      fail(Q8_ERR_INVALID_ARGUMENT, "y shares storage with an input");
}

void unary(qops::Unary f, float c, const q8_tensor *x, q8_tensor *y) {
  const q8_tensor &xt = need(x, "x");
  q8_tensor &yt = need(y, "y");
  need_8bit(xt, "x");
  need_8bit(yt, "y");
  const qops::Affine px = per_tensor(xt, "x"), py = per_tensor(yt, "y");
  same_shape(yt, std::vector<int64_t>(xt.shape, xt.shape + xt.rank), "y");
  distinct(yt, {&xt});
  uint8_t table[256];
  qops::build_table(f, c, xt.dtype, px, yt.dtype, py, table);
  qops::apply_table(table, xt, yt);
}

void binary(qops::Binary op, const q8_tensor *a, const q8_tensor *b, q8_tensor *y) {
  const q8_tensor &at = need(a, "a"), &bt = need(b, "b");
  q8_tensor &yt = need(y, "y");
  need_8bit(at, "a");
  need_8bit(bt, "b");
  need_8bit(yt, "y");
  const qops::Affine pa = per_tensor(at, "a"), pb = per_tensor(bt, "b"), py = per_tensor(yt, "y");
  same_shape(yt, qops::broadcast_shape(at.shape, at.rank, bt.shape, bt.rank, "a and b"), "y");
  distinct(yt, {&at, &bt});
  qops::binary(op, at, pa, bt, pb, yt, py);
}

// Weight scales and zero points of w (per tensor, or per `axis`).
void weight_params(const q8_tensor &w, const char *name, int32_t axis, std::vector<float> &scales,
                   std::vector<int32_t> &zps) {
  need_qparams(w, name);
  if (w.qp.axis >= 0 && w.qp.axis != axis)
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(name) + " is quantized along axis " + to_string(w.qp.axis) +
                                      "; only per tensor or axis " + to_string(axis) + " is supported");
  scales = w.qp.scales;
  zps = w.qp.zero_points;
}

// The output stage for y with n columns; `scales` backs the epilogue's scale array.
q8_gemm_epilogue epilogue_for(const q8_tensor &y, float sa, const std::vector<float> &sw, const q8_tensor *bias,
                              int64_t n, std::vector<float> &scales) {
  q8_gemm_epilogue ep;
  q8_gemm_epilogue_init(&ep);
  qops::Affine py;
  if (y.dtype == Q8_DTYPE_F32) {
    if (y.qp.present()) fail(Q8_ERR_INVALID_ARGUMENT, "y is f32 and cannot have quantization parameters");
  } else if (y.dtype == Q8_DTYPE_U8 || y.dtype == Q8_DTYPE_S8) {
    py = per_tensor(y, "y");
  } else {
    fail(Q8_ERR_DTYPE, std::string("y must be u8, s8 or f32, not ") + dtype_name(y.dtype));
  }
  const gemm::Epilogue e = qops::make_epilogue(y.dtype, 1.0f, sa, sw.data(), sw.size(), py, nullptr, n);
  scales = e.scale;
  if (scales.empty()) scales.push_back(1.0f);  // n == 0: nothing is computed
  ep.kind = e.kind;
  ep.output_dtype = y.dtype;
  ep.channels = n == 0 ? 1 : std::size_t(n);
  ep.scale = scales.data();
  ep.zero_point = py.zero_point;
  if (bias) {
    if (bias->dtype != Q8_DTYPE_S32)
      fail(Q8_ERR_DTYPE, std::string("bias must be s32, not ") + dtype_name(bias->dtype));
    if (bias->rank != 1 || bias->shape[0] != n)
      fail(Q8_ERR_SHAPE, "bias must have shape [" + to_string(n) + "]");
    ep.bias = static_cast<const int32_t *>(bias->data);
  }
  return ep;
}

void check_status(q8_status st) {
  if (st != Q8_OK) fail(st, q8_last_error());
}

}  // namespace

extern "C" {

Q8_API q8_status q8_qadd(const q8_tensor *a, const q8_tensor *b, q8_tensor *y) {
  return guard(__func__, [&] { binary(qops::Binary::kAdd, a, b, y); });
}

Q8_API q8_status q8_qmul(const q8_tensor *a, const q8_tensor *b, q8_tensor *y) {
  return guard(__func__, [&] { binary(qops::Binary::kMul, a, b, y); });
}

Q8_API q8_status q8_qscale(const q8_tensor *x, float c, q8_tensor *y) {
  return guard(__func__, [&] {
    Q8_CHECK_ARG(std::isfinite(c), "c = " + std::to_string(c) + " is not finite");
    unary(qops::Unary::kScale, c, x, y);
  });
}

Q8_API q8_status q8_qrelu(const q8_tensor *x, q8_tensor *y) {
  return guard(__func__, [&] { unary(qops::Unary::kRelu, 0.0f, x, y); });
}

Q8_API q8_status q8_qsigmoid(const q8_tensor *x, q8_tensor *y) {
  return guard(__func__, [&] { unary(qops::Unary::kSigmoid, 0.0f, x, y); });
}

Q8_API q8_status q8_qtanh(const q8_tensor *x, q8_tensor *y) {
  return guard(__func__, [&] { unary(qops::Unary::kTanh, 0.0f, x, y); });
}

Q8_API q8_status q8_qmatmul(const q8_tensor *a, const q8_tensor *b, const q8_tensor *bias, q8_tensor *y) {
  return guard(__func__, [&] {
    const q8_tensor &at = need(a, "a"), &bt = need(b, "b");
    q8_tensor &yt = need(y, "y");
    need_8bit(at, "a");
    if (bt.dtype != Q8_DTYPE_S8) fail(Q8_ERR_DTYPE, std::string("b must be s8, not ") + dtype_name(bt.dtype));
    if (at.rank != 2) fail(Q8_ERR_SHAPE, "a must have rank 2 ([M, K]), not " + to_string(at.rank));
    if (bt.rank != 2) fail(Q8_ERR_SHAPE, "b must have rank 2 ([K, N]), not " + to_string(bt.rank));
    const int64_t m = at.shape[0], k = at.shape[1], n = bt.shape[1];
    if (bt.shape[0] != k)
      fail(Q8_ERR_SHAPE, "b has " + to_string(bt.shape[0]) + " rows but a has " + to_string(k) + " columns");
    const qops::Affine pa = per_tensor(at, "a");
    std::vector<float> sw;
    std::vector<int32_t> zw;
    weight_params(bt, "b", 1, sw, zw);
    same_shape(yt, {m, n}, "y");
    distinct(yt, {&at, &bt, bias});
    std::vector<float> scales;
    const q8_gemm_epilogue ep = epilogue_for(yt, pa.scale, sw, bias, n, scales);
    if (at.dtype == Q8_DTYPE_U8)
      check_status(q8_gemm_u8s8(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, m, n, k, static_cast<const uint8_t *>(at.data),
                                std::max<int64_t>(k, 1), pa.zero_point, static_cast<const int8_t *>(bt.data),
                                std::max<int64_t>(n, 1), zw.data(), zw.size(), &ep, yt.data,
                                std::max<int64_t>(n, 1)));
    else
      check_status(q8_gemm_s8s8(Q8_NO_TRANSPOSE, Q8_NO_TRANSPOSE, m, n, k, static_cast<const int8_t *>(at.data),
                                std::max<int64_t>(k, 1), pa.zero_point, static_cast<const int8_t *>(bt.data),
                                std::max<int64_t>(n, 1), zw.data(), zw.size(), &ep, yt.data,
                                std::max<int64_t>(n, 1)));
  });
}

Q8_API q8_status q8_qconv2d(const q8_conv2d_options *options, const q8_tensor *x, const q8_tensor *w,
                            const q8_tensor *bias, q8_tensor *y) {
  return guard(__func__, [&] {
    const q8_tensor &xt = need(x, "x"), &wt = need(w, "w");
    q8_tensor &yt = need(y, "y");
    need_8bit(xt, "x");
    if (wt.dtype != Q8_DTYPE_S8) fail(Q8_ERR_DTYPE, std::string("w must be s8, not ") + dtype_name(wt.dtype));
    if (xt.rank != 4) fail(Q8_ERR_SHAPE, "x must have rank 4 (NHWC), not " + to_string(xt.rank));
    if (wt.rank != 4) fail(Q8_ERR_SHAPE, "w must have rank 4 (OHWI), not " + to_string(wt.rank));
    const qops::Affine px = per_tensor(xt, "x");
    const int64_t out_ch = wt.shape[0], kh = wt.shape[1], kw = wt.shape[2];
    std::vector<float> sw;
    std::vector<int32_t> zw;
    weight_params(wt, "w", 0, sw, zw);
    // The conv entry point checks the options; w's stored channel count is only known here.
    int64_t groups = 1;
    if (options && options->struct_size >= offsetof(q8_conv2d_options, groups) + sizeof(int64_t))
      groups = options->groups;
    if (groups >= 1 && xt.shape[3] % groups == 0 && wt.shape[3] != xt.shape[3] / groups)
      fail(Q8_ERR_SHAPE, "w has " + to_string(wt.shape[3]) + " input channels per group, but x has " +
                             to_string(xt.shape[3]) + " channels in " + to_string(groups) + " groups");
    int64_t oh = 0, ow = 0;
    check_status(q8_conv2d_output_shape(options, xt.shape[1], xt.shape[2], kh, kw, &oh, &ow));
    same_shape(yt, {xt.shape[0], oh, ow, out_ch}, "y");
    distinct(yt, {&xt, &wt, bias});
    std::vector<float> scales;
    const q8_gemm_epilogue ep = epilogue_for(yt, px.scale, sw, bias, out_ch, scales);
    if (xt.dtype == Q8_DTYPE_U8)
      check_status(q8_conv2d_u8s8(options, xt.shape[0], xt.shape[1], xt.shape[2], xt.shape[3],
                                  static_cast<const uint8_t *>(xt.data), px.zero_point, out_ch, kh, kw,
                                  static_cast<const int8_t *>(wt.data), zw.data(), zw.size(), &ep, yt.data));
    else
      check_status(q8_conv2d_s8s8(options, xt.shape[0], xt.shape[1], xt.shape[2], xt.shape[3],
                                  static_cast<const int8_t *>(xt.data), px.zero_point, out_ch, kh, kw,
                                  static_cast<const int8_t *>(wt.data), zw.data(), zw.size(), &ep, yt.data));
  });
}

}  // extern "C"
