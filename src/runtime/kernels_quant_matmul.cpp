// QLinearMatMul, MatMulInteger (ONNX), QGemm (com.microsoft) and DynamicGemm (ai.q8) on q8's GEMM.
// B is packed once in prepare() when it is constant (per batch of B for N-D MatMul), and the
// requantization scales are folded there when the scale inputs are constant. u8 weights run as
// s8 (w - 128 with zero points - 128: the same differences). A pruned 2-D B with zero points 0
// may run on the sparse GEMM instead (q8_sparse_policy; the same bits).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.hpp"
#include "core/runtime.hpp"
#include "quant/convert.hpp"
#include "runtime/kernels_float_util.hpp"
#include "model/weights.hpp"
#include "runtime/kernels_quant_common.hpp"
#include "sparse/choose.hpp"
#include "sparse/gemm.hpp"

namespace q8::rt::qk {
namespace {

// The integer product of MatMul's numpy semantics: a [..., M, K] (or [K]) times b [..., K, N] (or
// [K]) with broadcast batch dimensions, or Gemm's 2-D product with transposes.
class MatMulCore {
 public:
  void plan(const NodeContext &ctx, const q8_tensor &a, const q8_tensor &b, bool trans_a = false,
            bool trans_b = false) {
    const model::Node &node = ctx.node;
    if (a.rank == 0 || b.rank == 0) node_error(node, Q8_ERR_SHAPE, "MatMul inputs need rank >= 1");
    trans_a_ = trans_a;
    trans_b_ = trans_b;
    const bool a1 = a.rank == 1, b1 = b.rank == 1;
    const int64_t a_last = a.shape[a.rank - 1], a_prev = a1 ? 1 : a.shape[a.rank - 2];
    const int64_t b_last = b.shape[b.rank - 1], b_prev = b1 ? 1 : b.shape[b.rank - 2];
    m_ = a1 ? 1 : trans_a ? a_last : a_prev;  // a stored [K, M] when transposed
    k_ = a1 ? a_last : trans_a ? a_prev : a_last;
    const int64_t kb = b1 ? b_last : trans_b ? b_last : b_prev;  // b stored [N, K] when transposed
    n_ = b1 ? 1 : trans_b ? b_prev : b_last;
    if (kb != k_)
      node_error(node, Q8_ERR_SHAPE, "inputs " + shape_string(a) + " and " + shape_string(b) +
                                         " do not multiply (inner dimensions " + std::to_string(k_) + " and " +
                                         std::to_string(kb) + ")");
    const std::size_t ra = a1 ? 0 : a.rank - 2, rb = b1 ? 0 : b.rank - 2;
    batch_ = qops::broadcast_shape(a.shape, ra, b.shape, rb, ("node '" + node.name + "' batch dimensions").c_str());
    const std::size_t r = batch_.size();
    sa_.assign(r, 0);
    sb_.assign(r, 0);
    int64_t st = 1;
    for (std::size_t i = ra; i-- > 0;) {
      if (a.shape[i] != 1) sa_[r - ra + i] = st;
      st *= a.shape[i];
    }
    st = 1;
    for (std::size_t i = rb; i-- > 0;) {
      if (b.shape[i] != 1) sb_[r - rb + i] = st;
      st *= b.shape[i];
    }
    b_batches_ = st;
    batches_ = 1;
    for (int64_t d : batch_) batches_ *= d;
    out_shape_ = batch_;
    if (!a1) out_shape_.push_back(m_);
    if (!b1) out_shape_.push_back(n_);
    // b without batch dimensions: all of a's rows are one GEMM.
    flat_ = rb == 0 || b_batches_ == 1;
    if (flat_ && ra < rb) flat_ = false;  // a is broadcast over b's batch of 1s: keep per batch
  }

  const std::vector<int64_t> &out_shape() const { return out_shape_; }
  int64_t n() const { return n_; }

  // Packs every batch of b (u8 or s8) with its zero points (1 or N entries, of b's type). A
  // constant b (packed in prepare, with `constant` its context) may go to the sparse GEMM
  // instead (the choice depends on the session's M); its dense packing is shared by every session
  // of the model (NodeContext::shared).
  void pack(const q8_tensor &b, std::vector<int32_t> zb, const NodeContext *constant = nullptr) {
    packs_.reset();
    const std::size_t per = std::size_t(k_ * n_);
    std::vector<int8_t> tmp;
    if (b.dtype == Q8_DTYPE_U8) {
      tmp.resize(b.numel);
      u8_to_s8(static_cast<const uint8_t *>(b.data), tmp.data(), b.numel);
      for (int32_t &z : zb) z -= 128;
    }
    const int8_t *w = b.dtype == Q8_DTYPE_U8 ? tmp.data() : static_cast<const int8_t *>(b.data);
    sparse_.reset();
    if (constant && flat_ && b_batches_ == 1 && !trans_a_ && b.rank == 2 && std::all_of(zb.begin(), zb.end(), [](int32_t z) { return z == 0; }) &&
        try_sparse(w))
      return;
    auto make = [&](Packs &packs) {
      for (int64_t i = 0; i < b_batches_; ++i) {
        packs.push_back(std::make_unique<gemm::Packed>());
        gemm::pack_b(*packs.back(), trans_b_, k_, n_, w + std::size_t(i) * per, trans_b_ ? std::max<int64_t>(k_, 1) : std::max<int64_t>(n_, 1),
                     zb.data(), zb.size());
      }
    };
    if (constant) {
      packs_ = constant->shared<Packs>("int8 B", make);
    } else {
      auto fresh = std::make_shared<Packs>();
      make(*fresh);
      packs_ = std::move(fresh);
    }
  }

  // out = epilogue(a x b) for every batch; a is u8 or s8 with zero point za.
  void run(const q8_tensor &a, int32_t za, const gemm::Epilogue &e, void *out) const {
    gemm::AView av;
    av.is_signed = a.dtype == Q8_DTYPE_S8;
    av.zero_point = za;
    av.trans = trans_a_;
    av.lda = std::max<int64_t>(trans_a_ ? m_ : k_, 1);
    const std::size_t osz = q8_dtype_size(e.out);
    const uint8_t *ap = static_cast<const uint8_t *>(a.data);
    unsigned char *op = static_cast<unsigned char *>(out);
    if (flat_) {
      av.a = ap;
      if (sparse_)
        sparse::run(av, batches_ * m_, *sparse_, e, op, std::max<int64_t>(n_, 1));
      else
        gemm::run(av, batches_ * m_, *(*packs_)[0], e, op, std::max<int64_t>(n_, 1));
      return;
    }
    const std::size_t r = batch_.size();
    for (int64_t bi = 0; bi < batches_; ++bi) {
      int64_t oa = 0, ob = 0, rem = bi;
      for (std::size_t d = r; d-- > 0;) {
        const int64_t idx = rem % batch_[d];
        rem /= batch_[d];
        oa += idx * sa_[d];
        ob += idx * sb_[d];
      }
      av.a = ap + oa * m_ * k_;
      gemm::run(av, m_, *(*packs_)[std::size_t(ob)], e, op + std::size_t(bi * m_ * n_) * osz, std::max<int64_t>(n_, 1));
    }
  }

 private:
  // B as the sparse GEMM's [N, K] matrix, if the policy picks a sparse format at this M.
  // (Nothing to measure under the DENSE policy; B stored [N, K] is already the sparse layout.)
  bool try_sparse(const int8_t *w) {
    if (sparse::policy() == Q8_SPARSE_POLICY_DENSE) return false;
    std::vector<int8_t> nk;
    if (!trans_b_) {
      model::WeightRef view;
      view.transposed = true;
      view.rows = n_;
      view.cols = k_;
      nk.resize(std::size_t(n_ * k_));
      model::to_view(w, view, nk.data());
      w = nk.data();
    }
    const sparse::Choice c = sparse::choose(sparse::analyze(w, n_, k_), batches_ * m_);
    if (!c.sparse) return false;
    sparse_ = std::make_unique<sparse::Matrix>();
    sparse::from_dense(*sparse_, w, {n_, k_}, {}, c.format, c.block_rows, c.block_cols);
    return true;
  }

  int64_t m_ = 0, k_ = 0, n_ = 0, batches_ = 1, b_batches_ = 1;
  bool trans_a_ = false, trans_b_ = false, flat_ = true;
  std::vector<int64_t> batch_, sa_, sb_, out_shape_;
  using Packs = std::vector<std::unique_ptr<gemm::Packed>>;
  std::shared_ptr<const Packs> packs_;
  std::unique_ptr<sparse::Matrix> sparse_;
};

// B's zero points: b_zp of b's type, 1 or N entries (per column), or absent (0).
std::vector<int32_t> b_zero_points(const NodeContext &ctx, std::size_t i, const q8_tensor &b, int64_t n) {
  const q8_tensor *z = optional_input(ctx, i);
  const std::size_t count = z && z->numel != 1 ? std::size_t(n) : 1;
  return read_zero_points(ctx, i, "B's zero point", b.dtype, count);
}

int32_t a_zero_point(const NodeContext &ctx, std::size_t i, const q8_tensor &a) {
  const q8_tensor *z = optional_input(ctx, i);
  if (z && z->numel != 1)
    node_error(ctx.node, Q8_ERR_UNSUPPORTED, "A's zero point must be per tensor (per-row zero points are not supported)");
  return read_zero_points(ctx, i, "A's zero point", a.dtype, 1)[0];
}

// QLinearMatMul: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp.
class QLinearMatMul final : public Kernel {
 public:
  explicit QLinearMatMul(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &a = input(ctx, 0, "a"), &b = input(ctx, 3, "b");
    require_8bit(ctx, a, "a");
    require_8bit(ctx, b, "b");
    core_.plan(ctx, a, b);
    out_ = zero_point_dtype(ctx, 7, Q8_DTYPE_U8);
    if (out_ != Q8_DTYPE_U8 && out_ != Q8_DTYPE_S8) node_error(ctx.node, Q8_ERR_DTYPE, "y_zero_point must be u8 or s8");
    q8_tensor *y = output(ctx, 0, "y");
    set_output(y, out_, core_.out_shape());
    if (ctx.in[3].constant && known(ctx, 5)) {
      core_.pack(b, b_zero_points(ctx, 5, b, core_.n()), &ctx);
      packed_ = true;
    }
    folded_ = known(ctx, 1) && known(ctx, 2) && known(ctx, 4) && known(ctx, 6) && known(ctx, 7);
    if (folded_) fold(ctx);
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &a = *ctx.in[0].t;
    if (!packed_) core_.pack(*ctx.in[3].t, b_zero_points(ctx, 5, *ctx.in[3].t, core_.n()));
    if (!folded_) fold(ctx);
    set_qparams(ctx.out[0], y_);
    core_.run(a, za_, e_, ctx.out[0]->data);
  }

 private:
  void fold(const NodeContext &ctx) {
    const qops::Affine pa = read_affine(ctx, 1, 2, "a", ctx.in[0].t->dtype);
    if (optional_input(ctx, 2) && optional_input(ctx, 2)->numel != 1)
      node_error(ctx.node, Q8_ERR_UNSUPPORTED, "a_zero_point must be per tensor");
    za_ = pa.zero_point;
    sb_ = read_scales(ctx, 4, "b_scale", core_.n());
    y_ = read_affine(ctx, 6, 7, "y", out_);
    e_ = qops::make_epilogue(out_, 1.0f, pa.scale, sb_.data(), sb_.size(), y_, nullptr, core_.n());
    set_qparams(ctx.out[0], y_);
  }
  MatMulCore core_;
  q8_dtype out_ = Q8_DTYPE_U8;
  bool packed_ = false, folded_ = false;
  int32_t za_ = 0;
  std::vector<float> sb_;
  qops::Affine y_;
  gemm::Epilogue e_;
};

// MatMulInteger: A, B, a_zero_point, b_zero_point -> s32.
class MatMulInteger final : public Kernel {
 public:
  explicit MatMulInteger(const model::Node &) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &a = input(ctx, 0, "A"), &b = input(ctx, 1, "B");
    require_8bit(ctx, a, "A");
    require_8bit(ctx, b, "B");
    core_.plan(ctx, a, b);
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_S32, core_.out_shape());
    e_ = qops::make_epilogue(Q8_DTYPE_S32, 1.0f, 1.0f, nullptr, 0, {}, nullptr, core_.n());
    if (ctx.in[1].constant && known(ctx, 3)) {
      core_.pack(b, b_zero_points(ctx, 3, b, core_.n()), &ctx);
      packed_ = true;
    }
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &a = *ctx.in[0].t;
    if (!packed_) core_.pack(*ctx.in[1].t, b_zero_points(ctx, 3, *ctx.in[1].t, core_.n()));
    core_.run(a, a_zero_point(ctx, 2, a), e_, ctx.out[0]->data);
  }

 private:
  MatMulCore core_;
  bool packed_ = false;
  gemm::Epilogue e_;
};

// com.microsoft QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C (s32 bias), y_scale, y_zp.
// Without y_scale the output is f32.
class QGemm final : public Kernel {
 public:
  explicit QGemm(const model::Node &node)
      : alpha_(float(node.get_float("alpha", 1.0))), trans_a_(node.get_int("transA", 0) != 0),
        trans_b_(node.get_int("transB", 0) != 0) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &a = input(ctx, 0, "A"), &b = input(ctx, 3, "B");
    require_8bit(ctx, a, "A");
    require_8bit(ctx, b, "B");
    if (a.rank != 2 || b.rank != 2) node_error(ctx.node, Q8_ERR_SHAPE, "A and B must have rank 2");
    if (!std::isfinite(alpha_)) node_error(ctx.node, Q8_ERR_FORMAT, "alpha must be finite");
    core_.plan(ctx, a, b, trans_a_, trans_b_);
    const int64_t n = core_.n();
    if (const q8_tensor *c = optional_input(ctx, 6)) {
      require_dtype(ctx, *c, Q8_DTYPE_S32, "C");
      const bool per_col = c->numel == std::size_t(n) && (c->rank == 1 || (c->rank == 2 && c->shape[0] == 1));
      if (!per_col && c->numel != 1)
        node_error(ctx.node, Q8_ERR_UNSUPPORTED, "C " + shape_string(*c) + " must be a scalar or have shape [N] or [1, N]");
    }
    quantized_ = present(ctx, 7);
    if (!quantized_ && present(ctx, 8)) node_error(ctx.node, Q8_ERR_FORMAT, "y_zero_point without y_scale");
    out_ = quantized_ ? zero_point_dtype(ctx, 8, a.dtype) : Q8_DTYPE_F32;
    if (quantized_ && out_ != Q8_DTYPE_U8 && out_ != Q8_DTYPE_S8)
      node_error(ctx.node, Q8_ERR_DTYPE, "y_zero_point must be u8 or s8");
    set_output(output(ctx, 0, "Y"), out_, core_.out_shape());
    if (ctx.in[3].constant && known(ctx, 5)) {
      core_.pack(b, b_zero_points(ctx, 5, b, n), &ctx);
      packed_ = true;
    }
    folded_ = known(ctx, 1) && known(ctx, 2) && known(ctx, 4) && known(ctx, 6) && known(ctx, 7) && known(ctx, 8);
    if (folded_) fold(ctx);
  }
  void run(NodeContext &ctx) override {
    if (!packed_) core_.pack(*ctx.in[3].t, b_zero_points(ctx, 5, *ctx.in[3].t, core_.n()));
    if (!folded_) fold(ctx);
    if (quantized_) set_qparams(ctx.out[0], y_);
    core_.run(*ctx.in[0].t, za_, e_, ctx.out[0]->data);
  }

 private:
  void fold(const NodeContext &ctx) {
    const int64_t n = core_.n();
    const q8_tensor &a = *ctx.in[0].t;
    const float sa = read_scales(ctx, 1, "a_scale", 1)[0];
    za_ = a_zero_point(ctx, 2, a);
    sb_ = read_scales(ctx, 4, "b_scale", n);
    bias_.clear();
    if (const q8_tensor *c = optional_input(ctx, 6)) {
      const int32_t *cp = static_cast<const int32_t *>(c->data);
      for (int64_t j = 0; j < n; ++j) bias_.push_back(cp[c->numel == 1 ? 0 : j]);
    }
    if (quantized_) {
      y_ = read_affine(ctx, 7, 8, "y", out_);
      set_qparams(ctx.out[0], y_);
    }
    e_ = qops::make_epilogue(out_, alpha_, sa, sb_.data(), sb_.size(), y_, bias_.empty() ? nullptr : bias_.data(), n);
  }
  float alpha_;
  bool trans_a_, trans_b_;
  MatMulCore core_;
  q8_dtype out_ = Q8_DTYPE_F32;
  bool quantized_ = false, packed_ = false, folded_ = false;
  int32_t za_ = 0;
  std::vector<float> sb_;
  std::vector<int32_t> bias_;
  qops::Affine y_;
  gemm::Epilogue e_;
};

// ai.q8 DynamicGemm: X f32 [..., K], W s8 ([N, K] with transB = 1, else [K, N]), W_scale and
// W_zero_point (1 or N), optional B f32 [N]. Per run: X -> u8 with DynamicQuantizeLinear's
// parameters, u8 x s8 GEMM, y = (float)acc * fl(x_scale * w_scale[j]), then + B[j].
class DynamicGemm final : public Kernel {
 public:
  explicit DynamicGemm(const model::Node &node) : trans_b_(node.get_int("transB", 0) != 0) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X"), &w = input(ctx, 1, "W");
    require_dtype(ctx, x, Q8_DTYPE_F32, "X");
    require_dtype(ctx, w, Q8_DTYPE_S8, "W");
    if (w.rank != 2) node_error(ctx.node, Q8_ERR_SHAPE, "W must have rank 2, not " + shape_string(w));
    if (x.rank < 1) node_error(ctx.node, Q8_ERR_SHAPE, "X needs rank >= 1");
    core_.plan(ctx, x, w, false, trans_b_);
    n_ = core_.n();
    if (x.rank == 1) node_error(ctx.node, Q8_ERR_SHAPE, "X must have rank >= 2 ([..., K])");
    if (const q8_tensor *bias = optional_input(ctx, 4)) {
      require_dtype(ctx, *bias, Q8_DTYPE_F32, "B");
      if (bias->numel != std::size_t(n_)) node_error(ctx.node, Q8_ERR_SHAPE, "B must have N = " + std::to_string(n_) + " elements");
    }
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, core_.out_shape());
    xq_.resize(x.numel);
    if (ctx.in[1].constant && known(ctx, 2) && known(ctx, 3)) {
      params(ctx, true);
      packed_ = true;
    }
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    if (!packed_) params(ctx, false);
    const qops::Affine px = qops::dynamic_qparams(static_cast<const float *>(x.data), x.numel,
                                                  ("node '" + ctx.node.name + "' input X").c_str());
    q8_tensor xv;
    make_view(x, xv);
    xv.dtype = Q8_DTYPE_U8;
    xv.data = xq_.data();
    set_qparams(&xv, px);
    quant::quantize(x, xv);
    const gemm::Epilogue e = qops::make_epilogue(Q8_DTYPE_F32, 1.0f, px.scale, sw_.data(), sw_.size(), {}, nullptr, n_);
    q8_tensor *y = ctx.out[0];
    core_.run(xv, px.zero_point, e, y->data);
    if (const q8_tensor *bias = optional_input(ctx, 4)) {
      const float *bp = static_cast<const float *>(bias->data);
      float *yp = static_cast<float *>(y->data);
      const std::size_t rows = n_ == 0 ? 0 : y->numel / std::size_t(n_);
      parallel_for(rows, std::max<std::size_t>(1, kGrain / std::size_t(std::max<int64_t>(n_, 1))),
                   std::max<std::size_t>(1, kInlineBelow / std::size_t(std::max<int64_t>(n_, 1))),
                   [&](std::size_t r0, std::size_t r1) {
                     for (std::size_t r = r0; r < r1; ++r)
                       for (int64_t j = 0; j < n_; ++j) yp[r * std::size_t(n_) + std::size_t(j)] += bp[j];
                   });
    }
  }

 private:
  void params(const NodeContext &ctx, bool constant) {
    sw_ = read_scales(ctx, 2, "W_scale", n_);
    const std::vector<int32_t> zw = read_zero_points(ctx, 3, "W_zero_point", Q8_DTYPE_S8, sw_.size());
    core_.pack(*ctx.in[1].t, zw, constant ? &ctx : nullptr);
  }
  bool trans_b_;
  int64_t n_ = 0;
  MatMulCore core_;
  bool packed_ = false;
  std::vector<float> sw_;
  std::vector<uint8_t> xq_;
};

}  // namespace

void register_matmul_kernels() {
  register_kernel("", "QLinearMatMul", make<QLinearMatMul>);
  register_kernel("", "MatMulInteger", make<MatMulInteger>);
  register_kernel("com.microsoft", "QGemm", make<QGemm>);
  register_kernel("ai.q8", "DynamicGemm", make<DynamicGemm>);
}

}  // namespace q8::rt::qk
