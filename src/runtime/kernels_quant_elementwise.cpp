// com.microsoft QLinearAdd, QLinearMul, QLinearSigmoid, QLinearConcat and ai.q8 QLinearTanh on
// the element-wise quantized operators of src/qops (the numerics of q8_qadd, q8_qmul,
// q8_qsigmoid, q8_qtanh; QLinearConcat requantizes each input by a byte table).
#include <array>
#include <cstring>

#include "core/dtype.hpp"
#include "runtime/kernels_float_util.hpp"
#include "runtime/kernels_quant_common.hpp"

namespace q8::rt::qk {
namespace {

// QLinearAdd / QLinearMul: A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp (zero points optional).
template <qops::Binary Op>
class QLinearBinary final : public Kernel {
 public:
  explicit QLinearBinary(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &a = input(ctx, 0, "A"), &b = input(ctx, 3, "B");
    require_8bit(ctx, a, "A");
    require_8bit(ctx, b, "B");
    if (a.dtype != b.dtype) node_error(ctx.node, Q8_ERR_DTYPE, "A and B must have the same type");
    out_ = zero_point_dtype(ctx, 7, a.dtype);
    if (out_ != a.dtype) node_error(ctx.node, Q8_ERR_DTYPE, "C_zero_point must have A's type");
    set_output(output(ctx, 0, "C"), out_,
               qops::broadcast_shape(a.shape, a.rank, b.shape, b.rank, ("node '" + ctx.node.name + "' inputs A and B").c_str()));
    folded_ = known(ctx, 1) && known(ctx, 2) && known(ctx, 4) && known(ctx, 5) && known(ctx, 6) && known(ctx, 7);
    if (folded_) fold(ctx);
  }
  void run(NodeContext &ctx) override {
    if (!folded_) fold(ctx);
    set_qparams(ctx.out[0], pc_);
    qops::binary(Op, *ctx.in[0].t, pa_, *ctx.in[3].t, pb_, *ctx.out[0], pc_);
  }

 private:
  void fold(NodeContext &ctx) {
    pa_ = read_affine(ctx, 1, 2, "A", ctx.in[0].t->dtype);
    pb_ = read_affine(ctx, 4, 5, "B", ctx.in[3].t->dtype);
    pc_ = read_affine(ctx, 6, 7, "C", out_);
    set_qparams(ctx.out[0], pc_);
  }
  q8_dtype out_ = Q8_DTYPE_U8;
  bool folded_ = false;
  qops::Affine pa_, pb_, pc_;
};

// QLinearSigmoid / QLinearTanh: X, X_scale, X_zp, Y_scale, Y_zp; one 256-entry table.
template <qops::Unary F>
class QLinearUnary final : public Kernel {
 public:
  explicit QLinearUnary(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X");
    require_8bit(ctx, x, "X");
    out_ = zero_point_dtype(ctx, 4, x.dtype);
    if (out_ != x.dtype) node_error(ctx.node, Q8_ERR_DTYPE, "Y_zero_point must have X's type");
    set_output(output(ctx, 0, "Y"), out_, dims(x));
    folded_ = known(ctx, 1) && known(ctx, 2) && known(ctx, 3) && known(ctx, 4);
    if (folded_) fold(ctx);
  }
  void run(NodeContext &ctx) override {
    if (!folded_) fold(ctx);
    set_qparams(ctx.out[0], py_);
    qops::apply_table(table_, *ctx.in[0].t, *ctx.out[0]);
  }

 private:
  void fold(NodeContext &ctx) {
    const q8_tensor &x = *ctx.in[0].t;
    const qops::Affine px = read_affine(ctx, 1, 2, "X", x.dtype);
    py_ = read_affine(ctx, 3, 4, "Y", out_);
    qops::build_table(F, 0.0f, x.dtype, px, out_, py_, table_);
    set_qparams(ctx.out[0], py_);
  }
  q8_dtype out_ = Q8_DTYPE_U8;
  bool folded_ = false;
  qops::Affine py_;
  uint8_t table_[256] = {};
};

// QLinearConcat: Y_scale, Y_zp, then (X, X_scale, X_zp) per input; attribute axis. An input with
// the output's parameters is copied; any other goes through its table quantize(dequantize(v)).
class QLinearConcat final : public Kernel {
 public:
  explicit QLinearConcat(const model::Node &node) : axis_attr_(node.get_int("axis", 0)) {}
  void prepare(NodeContext &ctx) override {
    if (ctx.in.size() < 5 || (ctx.in.size() - 2) % 3 != 0)
      node_error(ctx.node, Q8_ERR_FORMAT, "inputs must be Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples");
    const std::size_t count = (ctx.in.size() - 2) / 3;
    const q8_tensor &x0 = input(ctx, 2, "X[0]");
    require_8bit(ctx, x0, "X[0]");
    if (x0.rank == 0) node_error(ctx.node, Q8_ERR_SHAPE, "inputs need rank >= 1");
    out_ = zero_point_dtype(ctx, 1, x0.dtype);
    axis_ = resolve_axis(int32_t(axis_attr_), x0.rank, "attribute axis");
    std::vector<int64_t> shape = dims(x0);
    shape[axis_] = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const std::string name = "X[" + std::to_string(i) + "]";
      const q8_tensor &x = input(ctx, 2 + 3 * i, name.c_str());
      if (x.dtype != out_) node_error(ctx.node, Q8_ERR_DTYPE, name + " must have Y_zero_point's type");
      bool fits = x.rank == x0.rank;
      for (std::size_t d = 0; fits && d < x.rank; ++d) fits = int32_t(d) == axis_ || x.shape[d] == x0.shape[d];
      if (!fits) node_error(ctx.node, Q8_ERR_SHAPE, name + " " + shape_string(x) + " does not concatenate with " + shape_string(x0));
      shape[axis_] += x.shape[axis_];
    }
    set_output(output(ctx, 0, "Y"), out_, shape);
    tables_.assign(count, {});
    copy_.assign(count, false);
    folded_ = true;
    for (std::size_t i = 0; i < ctx.in.size(); ++i)
      if (i % 3 != 2) folded_ = folded_ && known(ctx, i);
    if (folded_) fold(ctx);
  }
  void run(NodeContext &ctx) override {
    if (!folded_) fold(ctx);
    q8_tensor *y = ctx.out[0];
    set_qparams(y, py_);
    std::size_t outer = 1;
    for (int32_t d = 0; d < axis_; ++d) outer *= std::size_t(y->shape[d]);
    const std::size_t row = outer == 0 ? 0 : y->numel / outer;  // bytes of one output row
    uint8_t *out = static_cast<uint8_t *>(y->data);
    std::size_t at = 0;
    for (std::size_t i = 0; i < tables_.size(); ++i) {
      const q8_tensor &x = *ctx.in[2 + 3 * i].t;
      const std::size_t part = outer == 0 ? 0 : x.numel / outer;
      const uint8_t *in = static_cast<const uint8_t *>(x.data);
      for (std::size_t o = 0; o < outer; ++o) {
        uint8_t *dst = out + o * row + at;
        const uint8_t *src = in + o * part;
        if (copy_[i]) {
          if (part) std::memcpy(dst, src, part);
        } else {
          const uint8_t fl = x.dtype == Q8_DTYPE_S8 ? 0x80 : 0;
          for (std::size_t j = 0; j < part; ++j) dst[j] = tables_[i][src[j] ^ fl];
        }
      }
      at += part;
    }
  }

 private:
  void fold(NodeContext &ctx) {
    py_ = read_affine(ctx, 0, 1, "Y", out_);
    for (std::size_t i = 0; i < tables_.size(); ++i) {
      const std::string name = "X[" + std::to_string(i) + "]";
      const qops::Affine px = read_affine(ctx, 3 + 3 * i, 4 + 3 * i, name.c_str(), out_);
      copy_[i] = px.scale == py_.scale && px.zero_point == py_.zero_point;
      qops::build_table(qops::Unary::kIdentity, 0.0f, out_, px, out_, py_, tables_[i].data());
    }
    set_qparams(ctx.out[0], py_);
  }
  int64_t axis_attr_;
  int32_t axis_ = 0;
  q8_dtype out_ = Q8_DTYPE_U8;
  bool folded_ = false;
  qops::Affine py_;
  std::vector<std::array<uint8_t, 256>> tables_;
  std::vector<bool> copy_;
};

}  // namespace

void register_elementwise_kernels() {
  register_kernel("com.microsoft", "QLinearAdd", make<QLinearBinary<qops::Binary::kAdd>>);
  register_kernel("com.microsoft", "QLinearMul", make<QLinearBinary<qops::Binary::kMul>>);
  register_kernel("com.microsoft", "QLinearSigmoid", make<QLinearUnary<qops::Unary::kSigmoid>>);
  register_kernel("ai.q8", "QLinearTanh", make<QLinearUnary<qops::Unary::kTanh>>);
  register_kernel("com.microsoft", "QLinearConcat", make<QLinearConcat>);
}

}  // namespace q8::rt::qk
