// f32 Gemm and MatMul on the ordered FP32 GEMM (ONNX semantics; batch-invariant bits). A constant
// B (the weights) is packed once per model, in the first session's prepare().
#include "gemm/f32/ordered.hpp"
#include "runtime/kernels_float_util.hpp"

namespace q8::rt {
namespace {

// Y = alpha * A' * B' + beta * C, with C broadcast one way to [M, N].
class GemmF32 final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const model::Node &n = ctx.node;
    const q8_tensor &a = input(ctx, 0, "A"), &b = input(ctx, 1, "B");
    require_dtype(ctx, a, Q8_DTYPE_F32, "input A");
    require_dtype(ctx, b, Q8_DTYPE_F32, "input B");
    if (a.rank != 2 || b.rank != 2)
      node_error(n, Q8_ERR_SHAPE, "A " + shape_string(a) + " and B " + shape_string(b) + " must be matrices");
    trans_a_ = n.get_int("transA", 0) != 0;
    trans_b_ = n.get_int("transB", 0) != 0;
    alpha_ = static_cast<float>(n.get_float("alpha", 1.0));
    beta_ = static_cast<float>(n.get_float("beta", 1.0));
    m_ = a.shape[trans_a_ ? 1 : 0];
    k_ = a.shape[trans_a_ ? 0 : 1];
    n_ = b.shape[trans_b_ ? 0 : 1];
    if (b.shape[trans_b_ ? 1 : 0] != k_)
      node_error(n, Q8_ERR_SHAPE, "A " + shape_string(a) + " and B " + shape_string(b) + " do not chain (transA=" +
                                      std::to_string(trans_a_) + ", transB=" + std::to_string(trans_b_) + ")");
    if (const q8_tensor *c = optional_input(ctx, 2)) {
      require_dtype(ctx, *c, Q8_DTYPE_F32, "input C");
      const int64_t rows = c->rank == 2 ? c->shape[0] : 1, cols = c->rank >= 1 ? c->shape[c->rank - 1] : 1;
      if (c->rank > 2 || (rows != 1 && rows != m_) || (cols != 1 && cols != n_))
        node_error(n, Q8_ERR_SHAPE, "C " + shape_string(*c) + " does not broadcast to [" + std::to_string(m_) + "," +
                                        std::to_string(n_) + "]");
      c_row_stride_ = rows == 1 ? 0 : cols;
      c_col_stride_ = cols == 1 ? 0 : 1;
    }
    pack_.reset();
    if (ctx.in[1].constant)
      pack_ = ctx.shared<gemm::f32::PackedB>("f32 B", [&](gemm::f32::PackedB &p) {
        gemm::f32::pack_b(p, trans_b_, k_, n_, f32(b), b.shape[1]);
      });
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, {m_, n_});
  }

  void run(NodeContext &ctx) override {
    const q8_tensor &a = *ctx.in[0].t, &b = *ctx.in[1].t;
    const q8_tensor *c = optional_input(ctx, 2);
    float *y = f32(ctx.out[0]);
    float beta = 0.0f;
    if (c && beta_ != 0.0f) {
      const float *cp = f32(*c);
      for (int64_t i = 0; i < m_; ++i)
        for (int64_t j = 0; j < n_; ++j) y[i * n_ + j] = beta_ * cp[i * c_row_stride_ + j * c_col_stride_];
      beta = 1.0f;
    }
    if (pack_)
      gemm::f32::sgemm_packed(trans_a_, m_, *pack_, alpha_, f32(a), a.shape[1], beta, y, n_);
    else
      gemm::f32::sgemm_ordered(trans_a_, trans_b_, m_, n_, k_, alpha_, f32(a), a.shape[1], f32(b), b.shape[1], beta,
                               y, n_);
  }

 private:
  bool trans_a_ = false, trans_b_ = false;
  std::shared_ptr<const gemm::f32::PackedB> pack_;  // a constant B, packed
  float alpha_ = 1, beta_ = 1;
  int64_t m_ = 0, n_ = 0, k_ = 0, c_row_stride_ = 0, c_col_stride_ = 0;
};

// numpy matmul: 1-D operands get a dimension for the product and lose it after; batch
// dimensions broadcast.
class MatMulF32 final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const model::Node &n = ctx.node;
    const q8_tensor &a = input(ctx, 0, "A"), &b = input(ctx, 1, "B");
    require_dtype(ctx, a, Q8_DTYPE_F32, "input A");
    require_dtype(ctx, b, Q8_DTYPE_F32, "input B");
    if (a.rank < 1 || b.rank < 1) node_error(n, Q8_ERR_SHAPE, "MatMul needs operands of rank 1 or more");
    std::vector<int64_t> ad = dims(a), bd = dims(b);
    const bool a_vec = a.rank == 1, b_vec = b.rank == 1;
    if (a_vec) ad.insert(ad.begin(), 1);
    if (b_vec) bd.push_back(1);
    m_ = ad[ad.size() - 2];
    k_ = ad.back();
    n_ = bd.back();
    if (bd[bd.size() - 2] != k_)
      node_error(n, Q8_ERR_SHAPE, "A " + shape_string(a) + " and B " + shape_string(b) + " do not chain");
    const std::size_t ra = ad.size() - 2, rb = bd.size() - 2, r = std::max(ra, rb);
    batch_.assign(r, 1);
    a_bdims_.assign(r, 1);
    b_bdims_.assign(r, 1);
    for (std::size_t i = 0; i < ra; ++i) a_bdims_[r - ra + i] = ad[i];
    for (std::size_t i = 0; i < rb; ++i) b_bdims_[r - rb + i] = bd[i];
    for (std::size_t i = 0; i < r; ++i) {
      if (a_bdims_[i] != b_bdims_[i] && a_bdims_[i] != 1 && b_bdims_[i] != 1)
        node_error(n, Q8_ERR_SHAPE, "batch dimensions of A " + shape_string(a) + " and B " + shape_string(b) +
                                        " do not broadcast");
      batch_[i] = a_bdims_[i] == 1 ? b_bdims_[i] : a_bdims_[i];
    }
    std::vector<int64_t> out = batch_;
    if (!a_vec) out.push_back(m_);
    if (!b_vec) out.push_back(n_);
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, out);
    count_ = b_count_ = 1;
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      count_ *= batch_[i];
      b_count_ *= b_bdims_[i];
    }
    pack_.reset();
    if (ctx.in[1].constant && b_count_ == 1)
      pack_ = ctx.shared<gemm::f32::PackedB>("f32 B", [&](gemm::f32::PackedB &p) {
        gemm::f32::pack_b(p, false, k_, n_, f32(b), n_);
      });
  }

  void run(NodeContext &ctx) override {
    const float *a = f32(*ctx.in[0].t), *b = f32(*ctx.in[1].t);
    float *y = f32(ctx.out[0]);
    if (b_count_ == 1) {  // one B for every batch: the batches of A stack into the rows of one product
      if (pack_)
        gemm::f32::sgemm_packed(false, count_ * m_, *pack_, 1.0f, a, k_, 0.0f, y, n_);
      else
        gemm::f32::sgemm_ordered(false, false, count_ * m_, n_, k_, 1.0f, a, k_, b, n_, 0.0f, y, n_);
      return;
    }
    for (int64_t o = 0; o < count_; ++o) {
      // Offsets (in matrices) of A and B for output batch o, broadcast dimensions repeating.
      int64_t rem = o, ao = 0, bo = 0, as = 1, bs = 1;
      for (std::size_t i = batch_.size(); i-- > 0;) {
        const int64_t idx = rem % batch_[i];
        rem /= batch_[i];
        if (a_bdims_[i] != 1) ao += idx * as;
        if (b_bdims_[i] != 1) bo += idx * bs;
        as *= a_bdims_[i];
        bs *= b_bdims_[i];
      }
      gemm::f32::sgemm_ordered(false, false, m_, n_, k_, 1.0f, a + ao * m_ * k_, k_, b + bo * k_ * n_, n_, 0.0f, y + o * m_ * n_, n_);
    }
  }

 private:
  int64_t m_ = 0, n_ = 0, k_ = 0, count_ = 1, b_count_ = 1;  // count_: output batches; b_count_: B's
  std::vector<int64_t> batch_, a_bdims_, b_bdims_;
  std::shared_ptr<const gemm::f32::PackedB> pack_;  // a constant B shared by every batch, packed
};

}  // namespace

void register_float_gemm_kernels() {
  register_kernel("", "Gemm", make_kernel<GemmF32>);
  register_kernel("", "MatMul", make_kernel<MatMulF32>);
}

}  // namespace q8::rt
