// f32 Conv (NCHW activations, OIHW weights; 1-D and 2-D): im2col + OpenBLAS sgemm per image and
// group, writing the NCHW output directly ([Mg, K] x [K, OH*OW]); 1x1/stride 1/no padding reads
// the input in place; depthwise runs a direct loop, since per-channel GEMMs would be tiny.
#include <algorithm>
#include <cstring>

#include "core/runtime.hpp"
#include "gemm/f32/ordered.hpp"
#include "runtime/kernels_float_util.hpp"

namespace q8::rt {
namespace {

class ConvF32 final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const model::Node &n = ctx.node;
    const q8_tensor &x = input(ctx, 0, "X"), &w = input(ctx, 1, "W");
    require_dtype(ctx, x, Q8_DTYPE_F32, "input X");
    require_dtype(ctx, w, Q8_DTYPE_F32, "input W");
    if (x.rank != 3 && x.rank != 4)
      node_error(n, Q8_ERR_UNSUPPORTED, "input X " + shape_string(x) + ": only 1-D and 2-D convolutions are supported");
    if (w.rank != x.rank)
      node_error(n, Q8_ERR_SHAPE, "W " + shape_string(w) + " and X " + shape_string(x) + " differ in rank");
    group_ = n.get_int("group", 1);
    batch_ = x.shape[0];
    c_ = x.shape[1];
    m_ = w.shape[0];
    if (group_ < 1 || c_ % group_ != 0 || m_ % group_ != 0 || w.shape[1] * group_ != c_)
      node_error(n, Q8_ERR_SHAPE, "X " + shape_string(x) + ", W " + shape_string(w) + " and group " +
                                      std::to_string(group_) + " do not agree");
    if (const q8_tensor *b = optional_input(ctx, 2)) {
      require_dtype(ctx, *b, Q8_DTYPE_F32, "input B");
      if (b->rank != 1 || b->shape[0] != m_)
        node_error(n, Q8_ERR_SHAPE, "B " + shape_string(*b) + " must be [" + std::to_string(m_) + "]");
    }
    std::vector<Window> win = windows(ctx, x, std::vector<int64_t>(w.shape + 2, w.shape + w.rank), true, false);
    if (win.size() == 1) win.insert(win.begin(), Window{1, 1, 1, 1, 0, 0, 1});  // 1-D: H = 1
    h_ = win[0];
    w_ = win[1];
    std::vector<int64_t> out = {batch_, m_};
    if (x.rank == 4) out.push_back(h_.out);
    out.push_back(w_.out);
    set_output(output(ctx, 0, "Y"), Q8_DTYPE_F32, out);

    cg_ = c_ / group_;
    mg_ = m_ / group_;
    kdim_ = cg_ * h_.kernel * w_.kernel;
    depthwise_ = cg_ == 1 && group_ > 1;
    pointwise_ = h_.kernel == 1 && w_.kernel == 1 && h_.stride == 1 && w_.stride == 1 && h_.pad_begin == 0 &&
                 w_.pad_begin == 0 && h_.pad_end == 0 && w_.pad_end == 0;
    if (!depthwise_ && !pointwise_) col_.assign(static_cast<std::size_t>(kdim_ * h_.out * w_.out), 0.0f);
  }

  void run(NodeContext &ctx) override {
    const float *x = f32(*ctx.in[0].t), *w = f32(*ctx.in[1].t);
    const q8_tensor *b = optional_input(ctx, 2);
    const float *bias = b ? f32(*b) : nullptr;
    float *y = f32(ctx.out[0]);
    if (depthwise_) return run_depthwise(x, w, bias, y);
    const int64_t in_plane = h_.in * w_.in, out_plane = h_.out * w_.out;
    for (int64_t img = 0; img < batch_; ++img)
      for (int64_t g = 0; g < group_; ++g) {
        const float *xg = x + (img * c_ + g * cg_) * in_plane;
        float *yg = y + (img * m_ + g * mg_) * out_plane;
        if (bias)
          for (int64_t o = 0; o < mg_; ++o) std::fill(yg + o * out_plane, yg + (o + 1) * out_plane, bias[g * mg_ + o]);
        const float *cols = xg;
        if (!pointwise_) {
          im2col(xg);
          cols = col_.data();
        }
        gemm::f32::sgemm_ordered(false, false, mg_, out_plane, kdim_, 1.0f, w + g * mg_ * kdim_, kdim_, cols, out_plane,
              bias ? 1.0f : 0.0f, yg, out_plane);
      }
  }

 private:
  // Row (c, ky, kx) of the column matrix holds, for every output pixel, the input the tap reads
  // there (0 in the padding).
  void im2col(const float *xg) {
    const int64_t out_plane = h_.out * w_.out, rows = kdim_;
    const std::size_t grain = std::max<std::size_t>(1, kGrain / static_cast<std::size_t>(std::max<int64_t>(1, out_plane)));
    const std::size_t inline_rows = static_cast<std::size_t>(kInlineBelow / std::max<int64_t>(1, out_plane)) + 1;
    parallel_for(static_cast<std::size_t>(rows), grain, inline_rows, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        const int64_t c = static_cast<int64_t>(r) / (h_.kernel * w_.kernel);
        const int64_t ky = static_cast<int64_t>(r) / w_.kernel % h_.kernel, kx = static_cast<int64_t>(r) % w_.kernel;
        const float *xc = xg + c * h_.in * w_.in;
        float *dst = col_.data() + r * out_plane;
        for (int64_t oy = 0; oy < h_.out; ++oy) {
          const int64_t iy = oy * h_.stride - h_.pad_begin + ky * h_.dilation;
          float *row = dst + oy * w_.out;
          if (iy < 0 || iy >= h_.in) {
            std::fill(row, row + w_.out, 0.0f);
            continue;
          }
          for (int64_t ox = 0; ox < w_.out; ++ox) {
            const int64_t ix = ox * w_.stride - w_.pad_begin + kx * w_.dilation;
            row[ox] = ix >= 0 && ix < w_.in ? xc[iy * w_.in + ix] : 0.0f;
          }
        }
      }
    });
  }

  // One output plane per (image, output channel); input channel m / (M / C).
  void run_depthwise(const float *x, const float *w, const float *bias, float *y) {
    const int64_t planes = batch_ * m_, out_plane = h_.out * w_.out;
    const std::size_t work = static_cast<std::size_t>(out_plane * h_.kernel * w_.kernel);
    const std::size_t grain = std::max<std::size_t>(1, kGrain / std::max<std::size_t>(1, work));
    const std::size_t inline_below = work * static_cast<std::size_t>(planes) < kInlineBelow ? SIZE_MAX : 0;
    parallel_for(static_cast<std::size_t>(planes), grain, inline_below, [&](std::size_t p0, std::size_t p1) {
      for (std::size_t p = p0; p < p1; ++p) {
        const int64_t img = static_cast<int64_t>(p) / m_, o = static_cast<int64_t>(p) % m_, c = o / mg_;
        const float *xc = x + (img * c_ + c) * h_.in * w_.in;
        const float *wo = w + o * h_.kernel * w_.kernel;
        float *yo = y + static_cast<int64_t>(p) * out_plane;
        for (int64_t oy = 0; oy < h_.out; ++oy)
          for (int64_t ox = 0; ox < w_.out; ++ox) {
            float acc = bias ? bias[o] : 0.0f;
            for (int64_t ky = 0; ky < h_.kernel; ++ky) {
              const int64_t iy = oy * h_.stride - h_.pad_begin + ky * h_.dilation;
              if (iy < 0 || iy >= h_.in) continue;
              for (int64_t kx = 0; kx < w_.kernel; ++kx) {
                const int64_t ix = ox * w_.stride - w_.pad_begin + kx * w_.dilation;
                if (ix >= 0 && ix < w_.in) acc += wo[ky * w_.kernel + kx] * xc[iy * w_.in + ix];
              }
            }
            yo[oy * w_.out + ox] = acc;
          }
      }
    });
  }

  int64_t group_ = 1, batch_ = 0, c_ = 0, m_ = 0, cg_ = 0, mg_ = 0, kdim_ = 0;
  Window h_, w_;
  bool depthwise_ = false, pointwise_ = false;
  std::vector<float> col_;
};

}  // namespace

void register_float_conv_kernels() { register_kernel("", "Conv", make_kernel<ConvF32>); }

}  // namespace q8::rt
