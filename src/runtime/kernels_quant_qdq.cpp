// ONNX QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear on q8's quantize kernels
// (src/quant): the parameters go onto a borrowed view of the quantized side, so per-axis walks,
// rounding and saturation are q8_quantize's / q8_dequantize's exactly.
#include "core/dtype.hpp"
#include "quant/convert.hpp"
#include "runtime/kernels_float_util.hpp"
#include "runtime/kernels_quant_common.hpp"

namespace q8::rt::qk {
namespace {

// Scale/zero-point inputs 1 and 2 of `x`'s Q/DQ node as q8 QParams: per tensor when the scale has
// one element, else per axis `axis` (ONNX's default 1).
QParams qdq_params(const NodeContext &ctx, const q8_tensor &x, q8_dtype qdtype) {
  const int64_t axis_attr = ctx.node.get_int("axis", 1);
  const q8_tensor *s = optional_input(ctx, 1);
  QParams qp;
  int64_t n = 1;
  if (s && s->numel != 1) {
    if (x.rank == 0) node_error(ctx.node, Q8_ERR_SHAPE, "a per-axis scale needs an input of rank >= 1");
    qp.axis = resolve_axis(int32_t(axis_attr), x.rank, "attribute axis");
    n = x.shape[qp.axis];
  }
  qp.scales = read_scales(ctx, 1, "scale", n);  // checks numel == n (1-D) when per axis
  qp.zero_points = read_zero_points(ctx, 2, "zero point", qdtype, qp.scales.size());
  if (qdtype == Q8_DTYPE_S32)
    for (int32_t z : qp.zero_points)
      if (z != 0) node_error(ctx.node, Q8_ERR_UNSUPPORTED, "an s32 input needs zero point 0");
  return qp;
}

class QuantizeLinear final : public Kernel {
 public:
  explicit QuantizeLinear(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "x");
    require_dtype(ctx, x, Q8_DTYPE_F32, "x");
    dtype_ = zero_point_dtype(ctx, 2, Q8_DTYPE_U8);  // ONNX: the zero point's type, u8 without one
    if (dtype_ != Q8_DTYPE_U8 && dtype_ != Q8_DTYPE_S8)
      node_error(ctx.node, Q8_ERR_UNSUPPORTED, std::string("output type ") + dtype_name(dtype_) + " (u8 and s8 only)");
    q8_tensor *y = output(ctx, 0, "y");
    set_output(y, dtype_, dims(x));
    if (known(ctx, 1) && known(ctx, 2)) y->qp = qdq_params(ctx, x, dtype_);
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    q8_tensor *y = ctx.out[0];
    if (!(known(ctx, 1) && known(ctx, 2))) y->qp = qdq_params(ctx, x, dtype_);
    quant::quantize(x, *y);
  }

 private:
  q8_dtype dtype_ = Q8_DTYPE_U8;
};

class DequantizeLinear final : public Kernel {
 public:
  explicit DequantizeLinear(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "x");
    if (x.dtype != Q8_DTYPE_U8 && x.dtype != Q8_DTYPE_S8 && x.dtype != Q8_DTYPE_S32)
      node_error(ctx.node, Q8_ERR_DTYPE, std::string("x must be u8, s8 or s32, not ") + dtype_name(x.dtype));
    set_output(output(ctx, 0, "y"), Q8_DTYPE_F32, dims(x));
    if (known(ctx, 1) && known(ctx, 2)) qp_ = qdq_params(ctx, x, x.dtype);
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    q8_tensor view;
    make_view(x, view);
    view.qp = known(ctx, 1) && known(ctx, 2) ? qp_ : qdq_params(ctx, x, x.dtype);
    quant::dequantize(view, *ctx.out[0]);
  }

 private:
  QParams qp_;
};

class DynamicQuantizeLinear final : public Kernel {
 public:
  explicit DynamicQuantizeLinear(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "x");
    require_dtype(ctx, x, Q8_DTYPE_F32, "x");
    set_output(output(ctx, 0, "y"), Q8_DTYPE_U8, dims(x));
    if (ctx.out.size() > 1 && ctx.out[1]) set_output(ctx.out[1], Q8_DTYPE_F32, {});
    if (ctx.out.size() > 2 && ctx.out[2]) set_output(ctx.out[2], Q8_DTYPE_U8, {});
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    q8_tensor *y = ctx.out[0];
    const qops::Affine p = qops::dynamic_qparams(static_cast<const float *>(x.data), x.numel,
                                                 ("node '" + ctx.node.name + "' input x").c_str());
    set_qparams(y, p);
    quant::quantize(x, *y);
    if (ctx.out.size() > 1 && ctx.out[1]) *static_cast<float *>(ctx.out[1]->data) = p.scale;
    if (ctx.out.size() > 2 && ctx.out[2]) *static_cast<uint8_t *>(ctx.out[2]->data) = uint8_t(p.zero_point);
  }
};

}  // namespace

void register_qdq_kernels() {
  register_kernel("", "QuantizeLinear", make<QuantizeLinear>);
  register_kernel("", "DequantizeLinear", make<DequantizeLinear>);
  register_kernel("", "DynamicQuantizeLinear", make<DynamicQuantizeLinear>);
}

}  // namespace q8::rt::qk
