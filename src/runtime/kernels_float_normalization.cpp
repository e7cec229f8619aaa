// Softmax and BatchNormalization (inference form) on f32.
#include <algorithm>
#include <cmath>

#include "core/runtime.hpp"
#include "runtime/kernels_float_util.hpp"

namespace q8::rt {
namespace {

// Softmax along one axis (opset 13 semantics). The IR does not keep the model's opset, so the
// default axis is opset 13's -1; models of opset < 13 whose Softmax relied on the old default
// (flatten from axis 1) read the same only when the axis is the last one (see docs/RUNTIME.md).
class Softmax final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "input");
    require_dtype(ctx, x, Q8_DTYPE_F32, "input");
    if (x.rank == 0) node_error(ctx.node, Q8_ERR_SHAPE, "the input is a scalar");
    const int32_t axis = static_cast<int32_t>(std::clamp<int64_t>(ctx.node.get_int("axis", -1), INT32_MIN, INT32_MAX));
    const int64_t r = static_cast<int64_t>(x.rank);
    if (axis < -r || axis >= r)
      node_error(ctx.node, Q8_ERR_SHAPE, "axis " + std::to_string(axis) + " is out of range for " + shape_string(x));
    const int32_t a = axis < 0 ? axis + static_cast<int32_t>(r) : axis;
    len_ = x.shape[a];
    inner_ = static_cast<int64_t>(x.inner(a));
    outer_ = len_ * inner_ == 0 ? 0 : static_cast<int64_t>(x.numel) / (len_ * inner_);
    set_output(output(ctx, 0, "output"), Q8_DTYPE_F32, dims(x));
  }

  void run(NodeContext &ctx) override {
    const float *x = f32(*ctx.in[0].t);
    float *y = f32(ctx.out[0]);
    const std::size_t lines = static_cast<std::size_t>(outer_ * inner_), work = static_cast<std::size_t>(std::max<int64_t>(1, len_));
    parallel_for(lines, std::max<std::size_t>(1, kGrain / work), kInlineBelow / work + 1, [&](std::size_t l0, std::size_t l1) {
      for (std::size_t l = l0; l < l1; ++l) {
        const int64_t o = static_cast<int64_t>(l) / inner_, i = static_cast<int64_t>(l) % inner_;
        const float *xl = x + o * len_ * inner_ + i;
        float *yl = y + o * len_ * inner_ + i;
        float mx = -INFINITY;
        for (int64_t j = 0; j < len_; ++j) mx = std::max(mx, xl[j * inner_]);
        float sum = 0.0f;
        for (int64_t j = 0; j < len_; ++j) {
          yl[j * inner_] = std::exp(xl[j * inner_] - mx);  // the max subtracted: no overflow
          sum += yl[j * inner_];
        }
        for (int64_t j = 0; j < len_; ++j) yl[j * inner_] /= sum;
      }
    });
  }

 private:
  int64_t outer_ = 0, len_ = 0, inner_ = 1;
};

// Y = (X - mean) / sqrt(var + epsilon) * scale + B per channel (axis 1); the per-channel factors
// are recomputed each run, since the statistics need not be constants.
class BatchNormalization final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X");
    require_dtype(ctx, x, Q8_DTYPE_F32, "input X");
    if (ctx.node.get_int("training_mode", 0) != 0) node_error(ctx.node, Q8_ERR_UNSUPPORTED, "training_mode is not supported");
    for (std::size_t i = 1; i < ctx.out.size(); ++i)
      reject_output(ctx, i, "the training outputs (running mean and variance) are not supported");
    if (x.rank < 2) node_error(ctx.node, Q8_ERR_SHAPE, "input X " + shape_string(x) + " needs rank 2 or more");
    const char *names[] = {"", "scale", "B", "input_mean", "input_var"};
    for (std::size_t i = 1; i <= 4; ++i) {
      const q8_tensor &p = input(ctx, i, names[i]);
      require_dtype(ctx, p, Q8_DTYPE_F32, names[i]);
      if (p.rank != 1 || p.shape[0] != x.shape[1])
        node_error(ctx.node, Q8_ERR_SHAPE, std::string(names[i]) + " " + shape_string(p) + " must be [" +
                                               std::to_string(x.shape[1]) + "]");
    }
    epsilon_ = static_cast<float>(ctx.node.get_float("epsilon", 1e-5));
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, dims(x));
  }

  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    const float *scale = f32(*ctx.in[1].t), *bias = f32(*ctx.in[2].t), *mean = f32(*ctx.in[3].t),
                *var = f32(*ctx.in[4].t);
    const int64_t channels = x.shape[1], inner = static_cast<int64_t>(x.inner(1));
    std::vector<float> a(static_cast<std::size_t>(channels)), b(a.size());
    for (int64_t c = 0; c < channels; ++c) {
      a[c] = scale[c] / std::sqrt(var[c] + epsilon_);
      b[c] = bias[c] - mean[c] * a[c];
    }
    const float *xp = f32(x);
    float *yp = f32(ctx.out[0]);
    parallel_for(x.numel, kGrain, kInlineBelow, [&](std::size_t i0, std::size_t i1) {
      for (std::size_t i = i0; i < i1; ++i) {
        const std::size_t c = i / static_cast<std::size_t>(inner) % static_cast<std::size_t>(channels);
        yp[i] = xp[i] * a[c] + b[c];
      }
    });
  }

 private:
  float epsilon_ = 1e-5f;
};

}  // namespace

void register_float_normalization_kernels() {
  register_kernel("", "Softmax", make_kernel<Softmax>);
  register_kernel("", "BatchNormalization", make_kernel<BatchNormalization>);
}

}  // namespace q8::rt
