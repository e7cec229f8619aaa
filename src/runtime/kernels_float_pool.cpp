// Pooling over NCHW (1-D and 2-D windows): MaxPool on f32 and on integers (which keep their
// qparams: the max of quantized values is the quantized max), AveragePool and GlobalAveragePool on
// f32. Padded positions never win a max; AveragePool divides by the taps inside the input, or with
// count_include_pad by the taps inside the padded input (not the extra end that ceil_mode adds),
// as PyTorch does.
#include <algorithm>
#include <limits>

#include "core/runtime.hpp"
#include "runtime/kernels_float_util.hpp"

namespace q8::rt {
namespace {

// Runs body(plane) for each (image, channel) plane, in parallel when the whole job is large.
template <class F>
void for_each_plane(int64_t planes, std::size_t work_per_plane, F &&body) {
  const std::size_t work = std::max<std::size_t>(1, work_per_plane);
  const std::size_t grain = std::max<std::size_t>(1, kGrain / work);
  const std::size_t inline_below = work * static_cast<std::size_t>(planes) < kInlineBelow ? SIZE_MAX : 0;
  parallel_for(static_cast<std::size_t>(planes), grain, inline_below, [&](std::size_t p0, std::size_t p1) {
    for (std::size_t p = p0; p < p1; ++p) body(static_cast<int64_t>(p));
  });
}

class PoolKernel : public Kernel {
 protected:
  // Window geometry and the output for MaxPool / AveragePool.
  void prepare_windows(NodeContext &ctx, bool allow_dilations) {
    const q8_tensor &x = input(ctx, 0, "X");
    if (x.rank != 3 && x.rank != 4)
      node_error(ctx.node, Q8_ERR_UNSUPPORTED, "input X " + shape_string(x) + ": only 1-D and 2-D pooling is supported");
    if (!ctx.node.has("kernel_shape")) node_error(ctx.node, Q8_ERR_FORMAT, "attribute kernel_shape is missing");
    std::vector<Window> win = windows(ctx, x, {}, allow_dilations, ctx.node.get_int("ceil_mode", 0) != 0);
    if (win.size() == 1) win.insert(win.begin(), Window{1, 1, 1, 1, 0, 0, 1});
    h_ = win[0];
    w_ = win[1];
    planes_ = x.shape[0] * x.shape[1];
    std::vector<int64_t> out = {x.shape[0], x.shape[1]};
    if (x.rank == 4) out.push_back(h_.out);
    out.push_back(w_.out);
    set_output(output(ctx, 0, "Y"), x.dtype, out);
  }

  Window h_, w_;
  int64_t planes_ = 0;
};

class MaxPool final : public PoolKernel {
 public:
  void prepare(NodeContext &ctx) override {
    reject_output(ctx, 1, "the Indices output is not supported");
    prepare_windows(ctx, true);
  }

  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    q8_tensor *y = ctx.out[0];
    switch (x.dtype) {
      case Q8_DTYPE_F32: pool<float>(x, y); break;
      case Q8_DTYPE_U8: pool<uint8_t>(x, y); break;
      case Q8_DTYPE_S8: pool<int8_t>(x, y); break;
      case Q8_DTYPE_S32: pool<int32_t>(x, y); break;
    }
    pass_qparams(ctx, x, y);
  }

 private:
  template <class T>
  void pool(const q8_tensor &x, q8_tensor *y) const {
    const T *xp = static_cast<const T *>(x.data);
    T *yp = static_cast<T *>(y->data);
    const int64_t out_plane = h_.out * w_.out;
    const std::vector<TapRange> rows = tap_ranges(h_), cols = tap_ranges(w_);
    T lowest = std::numeric_limits<T>::lowest();
    if (std::numeric_limits<T>::has_infinity) lowest = -std::numeric_limits<T>::infinity();
    for_each_plane(planes_, static_cast<std::size_t>(out_plane * h_.kernel * w_.kernel), [&](int64_t p) {
      const T *xc = xp + p * h_.in * w_.in;
      T *yc = yp + p * out_plane;
      for (int64_t oy = 0; oy < h_.out; ++oy)
        for (int64_t ox = 0; ox < w_.out; ++ox) {
          T best = lowest;
          for (int64_t ky = rows[oy].lo; ky < rows[oy].hi; ++ky) {
            const int64_t at = (oy * h_.stride - h_.pad_begin + ky * h_.dilation) * w_.in + ox * w_.stride - w_.pad_begin;
            for (int64_t kx = cols[ox].lo; kx < cols[ox].hi; ++kx) {
              const T v = xc[at + kx * w_.dilation];
              if (v > best || v != v) best = v;  // NaN propagates
            }
          }
          yc[oy * w_.out + ox] = best;
        }
    });
  }

  // The taps [lo, hi) of output position o's window that fall inside the input (contiguous,
  // since the input index grows with the tap), once per run instead of a test per tap.
  struct TapRange {
    int64_t lo = 0, hi = 0;
  };
  static std::vector<TapRange> tap_ranges(const Window &a) {
    std::vector<TapRange> r(static_cast<std::size_t>(a.out));
    for (int64_t o = 0; o < a.out; ++o) {
      TapRange &t = r[static_cast<std::size_t>(o)];
      t.lo = a.kernel;
      for (int64_t k = 0; k < a.kernel; ++k) {
        const int64_t i = o * a.stride - a.pad_begin + k * a.dilation;
        if (i < 0 || i >= a.in) continue;
        t.lo = std::min(t.lo, k);
        t.hi = k + 1;
      }
      if (t.hi < t.lo) t.hi = t.lo;
    }
    return r;
  }
};

// Taps of a window inside [lo, hi) along one axis.
int64_t taps_inside(const Window &a, int64_t o, int64_t lo, int64_t hi) {
  const int64_t start = o * a.stride - a.pad_begin;
  return std::max<int64_t>(0, std::min(start + a.kernel, hi) - std::max(start, lo));
}

class AveragePool final : public PoolKernel {
 public:
  void prepare(NodeContext &ctx) override {
    require_dtype(ctx, input(ctx, 0, "X"), Q8_DTYPE_F32, "input X");
    include_pad_ = ctx.node.get_int("count_include_pad", 0) != 0;
    prepare_windows(ctx, false);  // AveragePool has dilations only from opset 19
  }

  void run(NodeContext &ctx) override {
    const float *xp = f32(*ctx.in[0].t);
    float *yp = f32(ctx.out[0]);
    const int64_t out_plane = h_.out * w_.out;
    for_each_plane(planes_, static_cast<std::size_t>(out_plane * h_.kernel * w_.kernel), [&](int64_t p) {
      const float *xc = xp + p * h_.in * w_.in;
      float *yc = yp + p * out_plane;
      for (int64_t oy = 0; oy < h_.out; ++oy)
        for (int64_t ox = 0; ox < w_.out; ++ox) {
          float sum = 0.0f;
          for (int64_t ky = 0; ky < h_.kernel; ++ky) {
            const int64_t iy = oy * h_.stride - h_.pad_begin + ky;
            if (iy < 0 || iy >= h_.in) continue;
            for (int64_t kx = 0; kx < w_.kernel; ++kx) {
              const int64_t ix = ox * w_.stride - w_.pad_begin + kx;
              if (ix >= 0 && ix < w_.in) sum += xc[iy * w_.in + ix];
            }
          }
          const int64_t count =
              include_pad_ ? taps_inside(h_, oy, -h_.pad_begin, h_.in + h_.pad_end) *
                                 taps_inside(w_, ox, -w_.pad_begin, w_.in + w_.pad_end)
                           : taps_inside(h_, oy, 0, h_.in) * taps_inside(w_, ox, 0, w_.in);
          yc[oy * w_.out + ox] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
        }
    });
  }

 private:
  bool include_pad_ = false;
};

class GlobalAveragePool final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X");
    require_dtype(ctx, x, Q8_DTYPE_F32, "input X");
    if (x.rank < 3) node_error(ctx.node, Q8_ERR_SHAPE, "input X " + shape_string(x) + " needs rank 3 or more");
    std::vector<int64_t> out(x.rank, 1);
    out[0] = x.shape[0];
    out[1] = x.shape[1];
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, out);
  }

  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    const int64_t planes = x.shape[0] * x.shape[1], size = static_cast<int64_t>(x.inner(1));
    const float *xp = f32(x);
    float *yp = f32(ctx.out[0]);
    for_each_plane(planes, static_cast<std::size_t>(size), [&](int64_t p) {
      float sum = 0.0f;
      for (int64_t i = 0; i < size; ++i) sum += xp[p * size + i];
      yp[p] = size > 0 ? sum / static_cast<float>(size) : 0.0f;
    });
  }
};

}  // namespace

void register_float_pool_kernels() {
  register_kernel("", "MaxPool", make_kernel<MaxPool>);
  register_kernel("", "AveragePool", make_kernel<AveragePool>);
  register_kernel("", "GlobalAveragePool", make_kernel<GlobalAveragePool>);
}

}  // namespace q8::rt
