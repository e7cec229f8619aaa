// com.microsoft QLinearGlobalAveragePool and QLinearAveragePool, with ONNX Runtime's numerics
// (docs/QUANTIZED_OPS.md): the global pool sums integers and requantizes once; the windowed pool
// dequantizes, averages in f32 and quantizes.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/runtime.hpp"
#include "runtime/kernels_float_util.hpp"
#include "runtime/kernels_quant_common.hpp"

namespace q8::rt::qk {
namespace {

// Inputs: X, x_scale, x_zero_point, y_scale, y_zero_point (zero points optional).
struct PoolParams {
  qops::Affine px, py;
  int32_t lo = 0, hi = 255;
};

PoolParams pool_params(const NodeContext &ctx) {
  const q8_tensor &x = *ctx.in[0].t;
  PoolParams p;
  p.px = read_affine(ctx, 1, 2, "x", x.dtype);
  p.py = read_affine(ctx, 3, 4, "y", x.dtype);
  p.lo = x.dtype == Q8_DTYPE_S8 ? -128 : 0;
  p.hi = x.dtype == Q8_DTYPE_S8 ? 127 : 255;
  return p;
}

template <class T>
void global_pool(const T *in, T *out, std::size_t outer, std::size_t image, std::size_t channels, bool channels_last,
                 const PoolParams &p) {
  // ONNX Runtime: one f32 multiplier x_scale / (y_scale * image), applied to the exact sum
  // sum(x) - x_zp * image as the GEMM's float requantization (clamp, round half to even, + y_zp).
  const float scale = p.px.scale / (p.py.scale * float(image));
  const float lo = float(p.lo - p.py.zero_point), hi = float(p.hi - p.py.zero_point);
  auto finish = [&](int64_t sum) {
    float v = float(sum - int64_t(p.px.zero_point) * int64_t(image)) * scale;
    v = v < lo ? lo : v > hi ? hi : v;
    return T(int32_t(std::nearbyint(v)) + p.py.zero_point);
  };
  parallel_for(outer, 1, (outer * image * channels) < (std::size_t(1) << 16) ? SIZE_MAX : 2,
               [&](std::size_t n0, std::size_t n1) {
                 std::vector<int64_t> acc(channels);
                 for (std::size_t n = n0; n < n1; ++n) {
                   const T *x = in + n * image * channels;
                   T *y = out + n * channels;
                   if (channels_last) {
                     std::fill(acc.begin(), acc.end(), 0);
                     for (std::size_t i = 0; i < image; ++i)
                       for (std::size_t c = 0; c < channels; ++c) acc[c] += x[i * channels + c];
                     for (std::size_t c = 0; c < channels; ++c) y[c] = finish(acc[c]);
                   } else {
                     for (std::size_t c = 0; c < channels; ++c) {
                       int64_t s = 0;
                       for (std::size_t i = 0; i < image; ++i) s += x[c * image + i];
                       y[c] = finish(s);
                     }
                   }
                 }
               });
}

class QLinearGlobalAveragePool final : public Kernel {
 public:
  explicit QLinearGlobalAveragePool(const model::Node &node) : channels_last_(node.get_int("channels_last", 0) != 0) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X");
    require_8bit(ctx, x, "X");
    if (x.rank < 3) node_error(ctx.node, Q8_ERR_SHAPE, "X " + shape_string(x) + " needs rank >= 3");
    if (present(ctx, 4) && ctx.in[4].t->dtype != x.dtype) node_error(ctx.node, Q8_ERR_DTYPE, "y_zero_point must have X's type");
    std::vector<int64_t> shape = dims(x);
    for (std::size_t d = channels_last_ ? 1 : 2; d < x.rank - (channels_last_ ? 1 : 0); ++d) shape[d] = 1;
    set_output(output(ctx, 0, "Y"), x.dtype, shape);
    folded_ = known(ctx, 1) && known(ctx, 2) && known(ctx, 3) && known(ctx, 4);
    if (folded_) {
      p_ = pool_params(ctx);
      set_qparams(ctx.out[0], p_.py);
    }
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    if (!folded_) p_ = pool_params(ctx);
    q8_tensor *y = ctx.out[0];
    set_qparams(y, p_.py);
    const std::size_t outer = std::size_t(x.shape[0]);
    const std::size_t channels = std::size_t(channels_last_ ? x.shape[x.rank - 1] : x.shape[1]);
    const std::size_t image = outer * channels == 0 ? 0 : x.numel / (outer * channels);
    if (y->numel == 0) return;
    if (image == 0) node_error(ctx.node, Q8_ERR_SHAPE, "X has an empty spatial extent");
    if (x.dtype == Q8_DTYPE_S8)
      global_pool(static_cast<const int8_t *>(x.data), static_cast<int8_t *>(y->data), outer, image, channels,
                  channels_last_, p_);
    else
      global_pool(static_cast<const uint8_t *>(x.data), static_cast<uint8_t *>(y->data), outer, image, channels,
                  channels_last_, p_);
  }

 private:
  bool channels_last_;
  bool folded_ = false;
  PoolParams p_;
};

// 2-D only. Per output: the window's inputs inside the image, dequantized in f32 and summed rows
// then columns, divided by the count (the window's real pixels, or kernel_h * kernel_w with
// count_include_pad), quantized as clamp(nearbyint(avg / y_scale + y_zp)).
class QLinearAveragePool final : public Kernel {
 public:
  explicit QLinearAveragePool(const model::Node &node)
      : channels_last_(node.get_int("channels_last", 0) != 0),
        include_pad_(node.get_int("count_include_pad", 0) != 0),
        ceil_(node.get_int("ceil_mode", 0) != 0) {}
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "X");
    require_8bit(ctx, x, "X");
    if (x.rank != 4) node_error(ctx.node, Q8_ERR_UNSUPPORTED, "only 2-D pooling (X of rank 4), not " + shape_string(x));
    if (!ctx.node.has("kernel_shape")) node_error(ctx.node, Q8_ERR_FORMAT, "attribute kernel_shape is missing");
    if (present(ctx, 4) && ctx.in[4].t->dtype != x.dtype) node_error(ctx.node, Q8_ERR_DTYPE, "y_zero_point must have X's type");
    q8_tensor nchw;  // the geometry helper reads (N, C, H, W)
    make_view(x, nchw);
    if (channels_last_) {
      nchw.shape[1] = x.shape[3];
      nchw.shape[2] = x.shape[1];
      nchw.shape[3] = x.shape[2];
    }
    win_ = windows(ctx, nchw, {}, false, ceil_);
    n_ = nchw.shape[0];
    c_ = nchw.shape[1];
    std::vector<int64_t> shape = channels_last_ ? std::vector<int64_t>{n_, win_[0].out, win_[1].out, c_}
                                                : std::vector<int64_t>{n_, c_, win_[0].out, win_[1].out};
    set_output(output(ctx, 0, "Y"), x.dtype, shape);
    folded_ = known(ctx, 1) && known(ctx, 2) && known(ctx, 3) && known(ctx, 4);
    if (folded_) {
      p_ = pool_params(ctx);
      set_qparams(ctx.out[0], p_.py);
    }
  }
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    if (!folded_) p_ = pool_params(ctx);
    q8_tensor *y = ctx.out[0];
    set_qparams(y, p_.py);
    if (x.dtype == Q8_DTYPE_S8)
      pool(static_cast<const int8_t *>(x.data), static_cast<int8_t *>(y->data));
    else
      pool(static_cast<const uint8_t *>(x.data), static_cast<uint8_t *>(y->data));
  }

 private:
  template <class T>
  void pool(const T *in, T *out) const {
    const Window &wh = win_[0], &ww = win_[1];
    const int64_t H = wh.in, W = ww.in, OH = wh.out, OW = ww.out, C = c_;
    float deq[256];
    const int off = std::is_signed<T>::value ? 128 : 0;
    for (int v = 0; v < 256; ++v) deq[v] = p_.px.scale * float(v - off - p_.px.zero_point);
    const float ys = p_.py.scale, yz = float(p_.py.zero_point), lo = float(p_.lo), hi = float(p_.hi);
    const std::size_t planes = std::size_t(n_ * C);
    parallel_for(planes, 1, planes * std::size_t(OH * OW) < (std::size_t(1) << 14) ? SIZE_MAX : 2,
                 [&](std::size_t p0, std::size_t p1) {
                   for (std::size_t p = p0; p < p1; ++p) {
                     const int64_t n = int64_t(p) / C, c = int64_t(p) % C;
                     for (int64_t oy = 0; oy < OH; ++oy) {
                       int64_t h0 = oy * wh.stride - wh.pad_begin, h1 = std::min(h0 + wh.kernel, H);
                       h0 = std::max<int64_t>(h0, 0);
                       for (int64_t ox = 0; ox < OW; ++ox) {
                         int64_t w0 = ox * ww.stride - ww.pad_begin, w1 = std::min(w0 + ww.kernel, W);
                         w0 = std::max<int64_t>(w0, 0);
                         float s = 0.0f;
                         for (int64_t h = h0; h < h1; ++h)
                           for (int64_t w = w0; w < w1; ++w) {
                             const int64_t at = channels_last_ ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
                             s += deq[int(in[at]) + off];
                           }
                         const int64_t count = include_pad_ ? wh.kernel * ww.kernel : (h1 - h0) * (w1 - w0);
                         s = count > 0 ? s / float(count) : 0.0f;  // a window wholly in padding
                         float q = std::nearbyint(s / ys + yz);
                         q = q < lo ? lo : q > hi ? hi : q;
                         const int64_t o = channels_last_ ? ((n * OH + oy) * OW + ox) * C + c : ((n * C + c) * OH + oy) * OW + ox;
                         out[o] = T(int32_t(q));
                       }
                     }
                   }
                 });
  }
  bool channels_last_, include_pad_, ceil_;
  bool folded_ = false;
  std::vector<Window> win_;
  int64_t n_ = 0, c_ = 0;
  PoolParams p_;
};

}  // namespace

void register_pool_kernels() {
  register_kernel("com.microsoft", "QLinearGlobalAveragePool", make<QLinearGlobalAveragePool>);
  register_kernel("com.microsoft", "QLinearAveragePool", make<QLinearAveragePool>);
}

}  // namespace q8::rt::qk
