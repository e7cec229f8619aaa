// QLinearConv, ConvInteger (ONNX) and DynamicConv (ai.q8) on q8's convolution: NCHW activations
// are transposed to NHWC and back around it, OIHW weights become OHWI and are packed once in
// prepare() when constant (conv::pack_weights), requantization scales folded there when constant.
// 2-D convolutions only (inputs of rank 4).
#include <algorithm>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"
#include "q8/conv.h"
#include "quant/convert.hpp"
#include "runtime/kernels_float_util.hpp"
#include "conv/conv.hpp"
#include "runtime/kernels_quant_common.hpp"

namespace q8::rt::qk {
namespace {

void transpose_or_throw(q8_status st) {
  if (st != Q8_OK) fail(st, q8_last_error());
}

class ConvCore {
 public:
  void plan(const NodeContext &ctx, const q8_tensor &x, const q8_tensor &w) {
    const model::Node &node = ctx.node;
    if (x.rank != 4) node_error(node, Q8_ERR_UNSUPPORTED, "only 2-D convolutions (X of rank 4, NCHW), not " + shape_string(x));
    if (w.rank != 4) node_error(node, Q8_ERR_SHAPE, "W must have rank 4 (OIHW), not " + shape_string(w));
    const int64_t groups = node.get_int("group", 1);
    if (groups < 1) node_error(node, Q8_ERR_FORMAT, "group must be >= 1");
    const int64_t c = x.shape[1], m = w.shape[0];
    if (c != w.shape[1] * groups || m % groups != 0)
      node_error(node, Q8_ERR_SHAPE, "X " + shape_string(x) + " and W " + shape_string(w) + " do not fit group = " +
                                         std::to_string(groups));
    const std::vector<Window> win = windows(ctx, x, {w.shape[2], w.shape[3]}, true, false);
    g_ = conv::Geometry{};
    g_.batch = x.shape[0];
    g_.in_h = x.shape[2];
    g_.in_w = x.shape[3];
    g_.in_ch = c;
    g_.out_ch = m;
    g_.kh = w.shape[2];
    g_.kw = w.shape[3];
    g_.stride_h = win[0].stride;
    g_.stride_w = win[1].stride;
    g_.pad_top = win[0].pad_begin;
    g_.pad_bottom = win[0].pad_end;
    g_.pad_left = win[1].pad_begin;
    g_.pad_right = win[1].pad_end;
    g_.dilation_h = win[0].dilation;
    g_.dilation_w = win[1].dilation;
    g_.groups = groups;
    g_.out_h = win[0].out;
    g_.out_w = win[1].out;
    g_.cg = c / groups;
    g_.og = m / groups;
    if (g_.patch() > 33025)
      node_error(node, Q8_ERR_UNSUPPORTED, "kh * kw * C / group > 33025: the int32 accumulator could wrap");
    out_shape_ = {g_.batch, m, g_.out_h, g_.out_w};
  }
  const std::vector<int64_t> &out_shape() const { return out_shape_; }
  int64_t out_ch() const { return g_.out_ch; }

  // w OIHW u8 or s8 with zero points (1 or out_ch entries, of w's type).
  void pack(const q8_tensor &w, std::vector<int32_t> zw) {
    std::vector<int8_t> s8(w.numel), ohwi(w.numel);
    if (w.dtype == Q8_DTYPE_U8) {
      u8_to_s8(static_cast<const uint8_t *>(w.data), s8.data(), w.numel);
      for (int32_t &z : zw) z -= 128;
    } else if (w.numel) {
      std::copy_n(static_cast<const int8_t *>(w.data), w.numel, s8.data());
    }
    if (w.numel)
      transpose_or_throw(q8_conv2d_nchw_to_nhwc(Q8_DTYPE_S8, g_.out_ch, g_.cg, g_.kh, g_.kw, s8.data(), ohwi.data()));
    conv::pack_weights(pc_, g_, ohwi.data(), zw.data(), zw.size());
  }

  // out (NCHW, e.out's dtype) = epilogue(conv(x)); x NCHW u8 or s8 bytes with zero point zx.
  void run(const void *x, bool is_signed, int32_t zx, const gemm::Epilogue &e, void *out) {
    if (g_.batch == 0) return;
    const q8_dtype xdt = is_signed ? Q8_DTYPE_S8 : Q8_DTYPE_U8;
    xin_.resize(std::size_t(g_.batch * g_.in_ch * g_.in_h * g_.in_w));
    transpose_or_throw(q8_conv2d_nchw_to_nhwc(xdt, g_.batch, g_.in_ch, g_.in_h, g_.in_w, x, xin_.data()));
    const std::size_t osz = q8_dtype_size(e.out);
    yout_.resize(std::size_t(g_.batch * g_.out_ch * g_.out_h * g_.out_w) * osz);
    conv::conv2d_packed(pc_, g_, xin_.data(), is_signed, zx, e, yout_.data());
    transpose_or_throw(q8_conv2d_nhwc_to_nchw(e.out, g_.batch, g_.out_ch, g_.out_h, g_.out_w, yout_.data(), out));
  }

 private:
  conv::Geometry g_;
  conv::PackedWeights pc_;
  std::vector<int64_t> out_shape_;
  std::vector<uint8_t> xin_;
  std::vector<unsigned char> yout_;
};

std::vector<int32_t> w_zero_points(const NodeContext &ctx, std::size_t i, const q8_tensor &w, int64_t m) {
  const q8_tensor *z = optional_input(ctx, i);
  return read_zero_points(ctx, i, "W's zero point", w.dtype, z && z->numel != 1 ? std::size_t(m) : 1);
}

int32_t x_zero_point(const NodeContext &ctx, std::size_t i, const q8_tensor &x) {
  const q8_tensor *z = optional_input(ctx, i);
  if (z && z->numel != 1) node_error(ctx.node, Q8_ERR_UNSUPPORTED, "X's zero point must be per tensor");
  return read_zero_points(ctx, i, "X's zero point", x.dtype, 1)[0];
}

// QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B (s32).
class QLinearConv final : public Kernel {
 public:
  explicit QLinearConv(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "x"), &w = input(ctx, 3, "w");
    require_8bit(ctx, x, "x");
    require_8bit(ctx, w, "w");
    core_.plan(ctx, x, w);
    if (const q8_tensor *b = optional_input(ctx, 8)) {
      require_dtype(ctx, *b, Q8_DTYPE_S32, "B");
      if (b->numel != std::size_t(core_.out_ch()))
        node_error(ctx.node, Q8_ERR_SHAPE, "B must have M = " + std::to_string(core_.out_ch()) + " elements");
    }
    out_ = zero_point_dtype(ctx, 7, Q8_DTYPE_U8);
    if (out_ != Q8_DTYPE_U8 && out_ != Q8_DTYPE_S8) node_error(ctx.node, Q8_ERR_DTYPE, "y_zero_point must be u8 or s8");
    set_output(output(ctx, 0, "y"), out_, core_.out_shape());
    if (ctx.in[3].constant && known(ctx, 5)) {
      core_.pack(w, w_zero_points(ctx, 5, w, core_.out_ch()));
      packed_ = true;
    }
    folded_ = known(ctx, 1) && known(ctx, 2) && known(ctx, 4) && known(ctx, 6) && known(ctx, 7) && known(ctx, 8);
    if (folded_) fold(ctx);
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    if (!packed_) core_.pack(*ctx.in[3].t, w_zero_points(ctx, 5, *ctx.in[3].t, core_.out_ch()));
    if (!folded_) fold(ctx);
    set_qparams(ctx.out[0], y_);
    core_.run(x.data, x.dtype == Q8_DTYPE_S8, zx_, e_, ctx.out[0]->data);
  }

 private:
  void fold(const NodeContext &ctx) {
    const float sx = read_scales(ctx, 1, "x_scale", 1)[0];
    zx_ = x_zero_point(ctx, 2, *ctx.in[0].t);
    sw_ = read_scales(ctx, 4, "w_scale", core_.out_ch());
    y_ = read_affine(ctx, 6, 7, "y", out_);
    const q8_tensor *b = optional_input(ctx, 8);
    bias_.assign(b ? static_cast<const int32_t *>(b->data) : nullptr,
                 b ? static_cast<const int32_t *>(b->data) + b->numel : nullptr);
    e_ = qops::make_epilogue(out_, 1.0f, sx, sw_.data(), sw_.size(), y_, b ? bias_.data() : nullptr, core_.out_ch());
    set_qparams(ctx.out[0], y_);
  }
  ConvCore core_;
  q8_dtype out_ = Q8_DTYPE_U8;
  bool packed_ = false, folded_ = false;
  int32_t zx_ = 0;
  std::vector<float> sw_;
  std::vector<int32_t> bias_;
  qops::Affine y_;
  gemm::Epilogue e_;
};

// ConvInteger: x, w, x_zero_point, w_zero_point -> s32.
class ConvInteger final : public Kernel {
 public:
  explicit ConvInteger(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "x"), &w = input(ctx, 1, "w");
    require_8bit(ctx, x, "x");
    require_8bit(ctx, w, "w");
    core_.plan(ctx, x, w);
    set_output(output(ctx, 0, "y"), Q8_DTYPE_S32, core_.out_shape());
    e_ = qops::make_epilogue(Q8_DTYPE_S32, 1.0f, 1.0f, nullptr, 0, {}, nullptr, core_.out_ch());
    if (ctx.in[1].constant && known(ctx, 3)) {
      core_.pack(w, w_zero_points(ctx, 3, w, core_.out_ch()));
      packed_ = true;
    }
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    if (!packed_) core_.pack(*ctx.in[1].t, w_zero_points(ctx, 3, *ctx.in[1].t, core_.out_ch()));
    core_.run(x.data, x.dtype == Q8_DTYPE_S8, x_zero_point(ctx, 2, x), e_, ctx.out[0]->data);
  }

 private:
  ConvCore core_;
  bool packed_ = false;
  gemm::Epilogue e_;
};

// ai.q8 DynamicConv: X f32 NCHW, W s8 OIHW, W_scale and W_zero_point (1 or M), optional B f32
// [M]; Conv's attributes. Per run: X -> u8 with DynamicQuantizeLinear's parameters, the integer
// convolution, y = (float)acc * fl(x_scale * w_scale[o]), then + B[o].
class DynamicConv final : public Kernel {
 public:
  explicit DynamicConv(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X"), &w = input(ctx, 1, "W");
    require_dtype(ctx, x, Q8_DTYPE_F32, "X");
    require_dtype(ctx, w, Q8_DTYPE_S8, "W");
    core_.plan(ctx, x, w);
    if (const q8_tensor *b = optional_input(ctx, 4)) {
      require_dtype(ctx, *b, Q8_DTYPE_F32, "B");
      if (b->numel != std::size_t(core_.out_ch()))
        node_error(ctx.node, Q8_ERR_SHAPE, "B must have M = " + std::to_string(core_.out_ch()) + " elements");
    }
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, core_.out_shape());
    xq_.resize(x.numel);
    if (ctx.in[1].constant && known(ctx, 2) && known(ctx, 3)) {
      params(ctx);
      packed_ = true;
    }
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    if (!packed_) params(ctx);
    const qops::Affine px = qops::dynamic_qparams(static_cast<const float *>(x.data), x.numel,
                                                  ("node '" + ctx.node.name + "' input X").c_str());
    q8_tensor xv;
    make_view(x, xv);
    xv.dtype = Q8_DTYPE_U8;
    xv.data = xq_.data();
    set_qparams(&xv, px);
    quant::quantize(x, xv);
    const int64_t m = core_.out_ch();
    const gemm::Epilogue e = qops::make_epilogue(Q8_DTYPE_F32, 1.0f, px.scale, sw_.data(), sw_.size(), {}, nullptr, m);
    q8_tensor *y = ctx.out[0];
    core_.run(xq_.data(), false, px.zero_point, e, y->data);
    if (const q8_tensor *b = optional_input(ctx, 4)) {
      const float *bp = static_cast<const float *>(b->data);
      float *yp = static_cast<float *>(y->data);
      const std::size_t plane = std::size_t(core_.out_shape()[2] * core_.out_shape()[3]);
      const std::size_t planes = plane == 0 ? 0 : y->numel / plane;
      parallel_for(planes, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(plane, 1)),
                   std::max<std::size_t>(1, kInlineBelow / std::max<std::size_t>(plane, 1)),
                   [&](std::size_t p0, std::size_t p1) {
                     for (std::size_t p = p0; p < p1; ++p) {
                       const float bv = bp[p % std::size_t(m)];
                       for (std::size_t i = 0; i < plane; ++i) yp[p * plane + i] += bv;
                     }
                   });
    }
  }

 private:
  void params(const NodeContext &ctx) {
    sw_ = read_scales(ctx, 2, "W_scale", core_.out_ch());
    core_.pack(*ctx.in[1].t, read_zero_points(ctx, 3, "W_zero_point", Q8_DTYPE_S8, sw_.size()));
  }
  ConvCore core_;
  bool packed_ = false;
  std::vector<float> sw_;
  std::vector<uint8_t> xq_;
};

}  // namespace

void register_conv_kernels() {
  register_kernel("", "QLinearConv", make<QLinearConv>);
  register_kernel("", "ConvInteger", make<ConvInteger>);
  register_kernel("ai.q8", "DynamicConv", make<DynamicConv>);
}

}  // namespace q8::rt::qk
