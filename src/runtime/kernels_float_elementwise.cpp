// Element-wise operators: f32 Add and Mul with numpy broadcasting, f32 Sigmoid and Tanh, and Relu
// and Clip on f32 and on quantized integer tensors (which keep their qparams).
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/dtype.hpp"
#include "core/runtime.hpp"
#include "runtime/kernels_float_util.hpp"

namespace q8::rt {
namespace {

template <class F>
void for_each_chunk(std::size_t n, F &&f) {
  parallel_for(n, kGrain, kInlineBelow, [&](std::size_t b, std::size_t e) { f(b, e); });
}

// ---- broadcasting binary operators --------------------------------------------------------

enum class BinOp { Add, Mul };

class BinaryF32 final : public Kernel {
 public:
  explicit BinaryF32(BinOp op) : op_(op) {}

  void prepare(NodeContext &ctx) override {
    const q8_tensor &a = input(ctx, 0, "A"), &b = input(ctx, 1, "B");
    require_dtype(ctx, a, Q8_DTYPE_F32, "input A");
    require_dtype(ctx, b, Q8_DTYPE_F32, "input B");
    const std::size_t r = std::max(a.rank, b.rank);
    std::vector<int64_t> out(r), ad(r, 1), bd(r, 1);
    for (std::size_t i = 0; i < a.rank; ++i) ad[r - a.rank + i] = a.shape[i];
    for (std::size_t i = 0; i < b.rank; ++i) bd[r - b.rank + i] = b.shape[i];
    for (std::size_t i = 0; i < r; ++i) {
      if (ad[i] != bd[i] && ad[i] != 1 && bd[i] != 1)
        node_error(ctx.node, Q8_ERR_SHAPE, "A " + shape_string(a) + " and B " + shape_string(b) + " do not broadcast");
      out[i] = ad[i] == 1 ? bd[i] : ad[i];
    }
    set_output(output(ctx, 0, "C"), Q8_DTYPE_F32, out);
    plan(out, ad, bd);
  }

  void run(NodeContext &ctx) override {
    const float *a = f32(*ctx.in[0].t), *b = f32(*ctx.in[1].t);
    float *c = f32(ctx.out[0]);
    const int64_t inner = dims_.empty() ? 1 : dims_.back();
    int64_t outer = 1;
    for (std::size_t i = 0; i + 1 < dims_.size(); ++i) outer *= dims_[i];
    if (ctx.out[0]->numel == 0) return;
    const std::size_t grain = std::max<std::size_t>(1, kGrain / static_cast<std::size_t>(inner));
    const std::size_t inline_rows = kInlineBelow / static_cast<std::size_t>(inner) + 1;
    parallel_for(static_cast<std::size_t>(outer), grain, inline_rows, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t row = r0; row < r1; ++row) {
        int64_t rem = static_cast<int64_t>(row), ao = 0, bo = 0;
        for (std::size_t i = dims_.size() - 1; i-- > 0;) {
          const int64_t idx = rem % dims_[i];
          rem /= dims_[i];
          ao += idx * as_[i];
          bo += idx * bs_[i];
        }
        const float *ap = a + ao, *bp = b + bo;
        const int64_t sa = as_.back(), sb = bs_.back();
        float *cp = c + static_cast<int64_t>(row) * inner;
        if (op_ == BinOp::Add)
          for (int64_t j = 0; j < inner; ++j) cp[j] = ap[j * sa] + bp[j * sb];
        else
          for (int64_t j = 0; j < inner; ++j) cp[j] = ap[j * sa] * bp[j * sb];
      }
    });
  }

 private:
  // Element strides of A and B over the output's dimensions (0 where broadcast), with adjacent
  // dimensions merged where both operands walk them contiguously (or both repeat), so that the
  // inner loop is as long as possible.
  void plan(const std::vector<int64_t> &out, const std::vector<int64_t> &ad, const std::vector<int64_t> &bd) {
    const std::size_t r = out.size();
    std::vector<int64_t> as(r), bs(r);
    for (int64_t i = static_cast<int64_t>(r) - 1, sa = 1, sb = 1; i >= 0; --i) {
      as[i] = ad[i] == 1 ? 0 : sa;
      bs[i] = bd[i] == 1 ? 0 : sb;
      sa *= ad[i];
      sb *= bd[i];
    }
    dims_.clear();
    as_.clear();
    bs_.clear();
    for (std::size_t i = 0; i < r; ++i) {
      if (out[i] == 1) continue;  // a length-1 dimension changes no offset
      if (!dims_.empty() && as_.back() == as[i] * out[i] && bs_.back() == bs[i] * out[i]) {
        dims_.back() *= out[i];
        as_.back() = as[i];
        bs_.back() = bs[i];
        continue;
      }
      dims_.push_back(out[i]);
      as_.push_back(as[i]);
      bs_.push_back(bs[i]);
    }
    if (dims_.empty()) {
      dims_ = {1};
      as_ = {0};
      bs_ = {0};
    }
  }

  BinOp op_;
  std::vector<int64_t> dims_, as_, bs_;
};

std::unique_ptr<Kernel> make_add(const model::Node &) { return std::make_unique<BinaryF32>(BinOp::Add); }
std::unique_ptr<Kernel> make_mul(const model::Node &) { return std::make_unique<BinaryF32>(BinOp::Mul); }

// ---- f32 unary operators --------------------------------------------------------------------

enum class Unary { Sigmoid, Tanh };

class UnaryF32 final : public Kernel {
 public:
  explicit UnaryF32(Unary op) : op_(op) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X");
    require_dtype(ctx, x, Q8_DTYPE_F32, "input X");
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, dims(x));
  }
  void run(NodeContext &ctx) override {
    const float *x = f32(*ctx.in[0].t);
    float *y = f32(ctx.out[0]);
    if (op_ == Unary::Sigmoid)
      for_each_chunk(ctx.out[0]->numel, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
          // exp of a non-positive argument only, so nothing overflows
          const float v = x[i];
          if (v >= 0.0f) {
            y[i] = 1.0f / (1.0f + std::exp(-v));
          } else {
            const float t = std::exp(v);
            y[i] = t / (1.0f + t);
          }
        }
      });
    else
      for_each_chunk(ctx.out[0]->numel, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) y[i] = std::tanh(x[i]);
      });
  }

 private:
  Unary op_;
};

std::unique_ptr<Kernel> make_sigmoid(const model::Node &) { return std::make_unique<UnaryF32>(Unary::Sigmoid); }
std::unique_ptr<Kernel> make_tanh(const model::Node &) { return std::make_unique<UnaryF32>(Unary::Tanh); }

// ---- Relu and Clip, on f32 and on quantized integers -----------------------------------------

// ONNX QuantizeLinear of a threshold: saturate(round_half_even(v / scale) + zero_point).
int64_t quantize_bound(float v, float scale, int32_t zp, const IntRange &range) {
  const float q = v / scale;
  if (std::isnan(q)) return zp;
  const float lim = 4.0e9f;  // beyond every dtype's range, and exact as an int64
  const double r = std::nearbyint(static_cast<double>(std::clamp(q, -lim, lim))) + zp;
  return static_cast<int64_t>(std::clamp<double>(r, static_cast<double>(range.min), static_cast<double>(range.max)));
}

// Relu is Clip with min 0 and no max; on integers the bounds are quantized per channel (one
// channel for per-tensor parameters; none: the integers are the values, scale 1, zero point 0).
class ClipKernel final : public Kernel {
 public:
  explicit ClipKernel(bool relu) : relu_(relu) {}

  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X");
    if (!relu_) {
      const float inf = std::numeric_limits<float>::infinity();
      lo_ = static_cast<float>(ctx.node.get_float("min", -inf));
      hi_ = static_cast<float>(ctx.node.get_float("max", inf));
      if (std::isnan(lo_) || std::isnan(hi_)) node_error(ctx.node, Q8_ERR_FORMAT, "min or max is NaN");
    }
    set_output(output(ctx, 0, "Y"), x.dtype, dims(x));
  }

  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    q8_tensor *y = ctx.out[0];
    switch (x.dtype) {
      case Q8_DTYPE_F32: return run_f32(f32(x), f32(y), x.numel);
      case Q8_DTYPE_U8: return run_int<uint8_t>(ctx, x, y);
      case Q8_DTYPE_S8: return run_int<int8_t>(ctx, x, y);
      case Q8_DTYPE_S32: return run_int<int32_t>(ctx, x, y);
    }
    node_error(ctx.node, Q8_ERR_DTYPE, "unknown dtype");
  }

 private:
  void run_f32(const float *x, float *y, std::size_t n) const {
    // NaN stays NaN, as in ONNX's reference (std::max/min would drop it one way or the other).
    if (relu_)
      for_each_chunk(n, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
      });
    else
      for_each_chunk(n, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
          const float v = x[i] < lo_ ? lo_ : x[i];  // min > max gives max everywhere, as numpy.clip
          y[i] = v > hi_ ? hi_ : v;
        }
      });
  }

  template <class T>
  void run_int(NodeContext &ctx, const q8_tensor &x, q8_tensor *y) {
    const IntRange range = dtype_range(x.dtype);
    const QParams &qp = x.qp;
    const std::size_t channels = qp.present() ? qp.scales.size() : 1;
    std::vector<T> lo(channels), hi(channels);
    for (std::size_t c = 0; c < channels; ++c) {
      const float scale = qp.present() ? qp.scales[c] : 1.0f;
      const int32_t zp = qp.present() ? qp.zero_points[c] : 0;
      lo[c] = static_cast<T>(relu_ ? std::clamp<int64_t>(zp, range.min, range.max) : quantize_bound(lo_, scale, zp, range));
      hi[c] = static_cast<T>(relu_ ? range.max : quantize_bound(hi_, scale, zp, range));
    }
    const std::size_t inner = qp.present() && qp.axis >= 0 ? x.inner(qp.axis) : x.numel + 1;
    const T *xp = static_cast<const T *>(x.data);
    T *yp = static_cast<T *>(y->data);
    for_each_chunk(x.numel, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) {
        const std::size_t c = (i / inner) % channels;
        yp[i] = std::min(std::max(xp[i], lo[c]), hi[c]);
      }
    });
    pass_qparams(ctx, x, y);
  }

  bool relu_;
  float lo_ = 0, hi_ = 0;
};

std::unique_ptr<Kernel> make_relu(const model::Node &) { return std::make_unique<ClipKernel>(true); }
std::unique_ptr<Kernel> make_clip(const model::Node &) { return std::make_unique<ClipKernel>(false); }

}  // namespace

void register_float_elementwise_kernels() {
  register_kernel("", "Add", make_add);
  register_kernel("", "Mul", make_mul);
  register_kernel("", "Sigmoid", make_sigmoid);
  register_kernel("", "Tanh", make_tanh);
  register_kernel("", "Relu", make_relu);
  register_kernel("", "Clip", make_clip);
}

}  // namespace q8::rt
