// ONNX QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear on q8's quantize kernels
// (src/quant), and q8's 4-bit ai.q8 DequantizeBlockwise: the parameters go onto a borrowed view of the quantized side, so per-axis walks,
// rounding and saturation are q8_quantize's / q8_dequantize's exactly.
#include <algorithm>
#include <cmath>

#include "core/dtype.hpp"
#include "core/runtime.hpp"
#include "quant/convert.hpp"
#include "quant/kernels/reference.hpp"
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

// ai.q8 DequantizeBlockwise (docs/QUANTIZED_OPS.md): 4-bit codes packed two per byte, low nibble
// first, in u8 [rows, ceil(cols / 2)]; per group of block_size consecutive values of a row an f32
// scale and a u8 zero point in [rows, groups]; y = (code - zero_point) * scale, f32 [rows, cols].
// `cols` is an attribute because the packed shape cannot tell an odd count from the next even one.
class DequantizeBlockwise final : public Kernel {
 public:
  explicit DequantizeBlockwise(const model::Node &n)
      : bits_(n.get_int("bits", 4)), block_(n.get_int("block_size", 0)), cols_(n.get_int("cols", -1)) {}
  void prepare(NodeContext &ctx) override {
    if (bits_ != 4) node_error(ctx.node, Q8_ERR_UNSUPPORTED, "bits = " + std::to_string(bits_) + " (4 only)");
    if (block_ < 1) node_error(ctx.node, Q8_ERR_FORMAT, "attribute block_size = " + std::to_string(block_) + " must be >= 1");
    const q8_tensor &q = input(ctx, 0, "codes");
    require_dtype(ctx, q, Q8_DTYPE_U8, "codes");
    if (q.rank != 2) node_error(ctx.node, Q8_ERR_SHAPE, "codes must be 2-D [rows, ceil(cols / 2)], not " + shape_string(q));
    if (cols_ < 0 || (cols_ + 1) / 2 != q.shape[1])
      node_error(ctx.node, Q8_ERR_SHAPE, "attribute cols = " + std::to_string(cols_) + " does not fit codes " +
                                             shape_string(q) + " (two codes per byte)");
    rows_ = q.shape[0];
    groups_ = (cols_ + block_ - 1) / block_;
    const q8_tensor &s = input(ctx, 1, "scales"), &z = input(ctx, 2, "zero_points");
    require_dtype(ctx, s, Q8_DTYPE_F32, "scales");
    require_dtype(ctx, z, Q8_DTYPE_U8, "zero_points");
    for (const q8_tensor *t : {&s, &z})
      if (t->rank != 2 || t->shape[0] != rows_ || t->shape[1] != groups_)
        node_error(ctx.node, Q8_ERR_SHAPE, std::string(t == &s ? "scales" : "zero_points") + " " + shape_string(*t) +
                                               " must be [rows, groups] = [" + std::to_string(rows_) + "," +
                                               std::to_string(groups_) + "]");
    set_output(output(ctx, 0, "y"), Q8_DTYPE_F32, {rows_, cols_});
  }
  void run(NodeContext &ctx) override {
    const std::size_t n = static_cast<std::size_t>(rows_ * groups_);
    const float *scales = f32(*ctx.in[1].t);
    const uint8_t *zps = static_cast<const uint8_t *>(ctx.in[2].t->data);
    for (std::size_t i = 0; i < n; ++i) {
      if (!(std::isfinite(scales[i]) && scales[i] > 0.0f))
        node_error(ctx.node, Q8_ERR_INVALID_ARGUMENT, "scales[" + std::to_string(i) + "] = " + std::to_string(scales[i]) +
                                                          " is not finite and > 0");
      if (zps[i] > 15)
        node_error(ctx.node, Q8_ERR_INVALID_ARGUMENT, "zero_points[" + std::to_string(i) + "] = " +
                                                          std::to_string(zps[i]) + " is outside [0, 15]");
    }
    const uint8_t *codes = static_cast<const uint8_t *>(ctx.in[0].t->data);
    float *y = f32(ctx.out[0]);
    const std::size_t cols = static_cast<std::size_t>(cols_), packed = (cols + 1) / 2, block = static_cast<std::size_t>(block_);
    const std::size_t groups = static_cast<std::size_t>(groups_);
    parallel_for(static_cast<std::size_t>(rows_), std::max<std::size_t>(1, (std::size_t{1} << 16) / (cols + 1)),
                 std::max<std::size_t>(1, (std::size_t{1} << 17) / (cols + 1)), [&](std::size_t b, std::size_t e) {
                   for (std::size_t r = b; r < e; ++r)
                     for (std::size_t c = 0; c < cols; ++c) {
                       const uint8_t byte = codes[r * packed + c / 2];
                       const int32_t code = c % 2 ? byte >> 4 : byte & 15;
                       const std::size_t g = r * groups + c / block;
                       y[r * cols + c] = quant::dequantize_one(code, scales[g], zps[g]);
                     }
                 });
  }

 private:
  int64_t bits_, block_, cols_, rows_ = 0, groups_ = 0;
};

}  // namespace

void register_qdq_kernels() {
  register_kernel("", "QuantizeLinear", make<QuantizeLinear>);
  register_kernel("", "DequantizeLinear", make<DequantizeLinear>);
  register_kernel("", "DynamicQuantizeLinear", make<DynamicQuantizeLinear>);
  register_kernel("ai.q8", "DequantizeBlockwise", make<DequantizeBlockwise>);
}

}  // namespace q8::rt::qk
