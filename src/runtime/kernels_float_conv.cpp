// f32 Conv (NCHW activations, OIHW weights; 1-D and 2-D) as one ordered GEMM per group over a
// chunk of images: patches [images x OH*OW, K] x W^T [K, Mg] (W^T packed once per model when
// constant; the
// patches are built as their transpose, im2col rows of contiguous pixels), then
// the [pixel, channel] result goes to NCHW with the bias added. Pixels of many images make the
// GEMM tall (the 8x8 digits CNN: 4096 rows at batch 64) while the output channels are its narrow
// side, which suits column-vectorised tiles. Every element is the same chain over (c, ky, kx) as
// in a per-image product, so outputs do not depend on the batch. Depthwise runs a direct loop,
// since per-channel GEMMs would be tiny.
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
    packs_.reset();
    if (!depthwise_ && ctx.in[1].constant)
      packs_ = ctx.shared<std::vector<gemm::f32::PackedB>>("f32 W^T per group", [&](std::vector<gemm::f32::PackedB> &p) {
        pack_weights(f32(w), p);
      });
    const int64_t rows_per_image = std::max<int64_t>(1, h_.out * w_.out);
    chunk_ = std::clamp<int64_t>(kPatchFloats / std::max<int64_t>(1, rows_per_image * kdim_), 1, std::max<int64_t>(batch_, 1));
  }

  void run(NodeContext &ctx) override {
    const float *x = f32(*ctx.in[0].t), *w = f32(*ctx.in[1].t);
    const q8_tensor *b = optional_input(ctx, 2);
    const float *bias = b ? f32(*b) : nullptr;
    float *y = f32(ctx.out[0]);
    if (depthwise_) return run_depthwise(x, w, bias, y);
    std::vector<gemm::f32::PackedB> fresh;  // weights that are not constant: packed per run
    if (!packs_) pack_weights(w, fresh);
    const std::vector<gemm::f32::PackedB> &packs = packs_ ? *packs_ : fresh;
    const int64_t out_plane = h_.out * w_.out;
    for (int64_t i0 = 0; i0 < batch_; i0 += chunk_) {
      const int64_t images = std::min(chunk_, batch_ - i0), rows = images * out_plane;
      patches_.resize(static_cast<std::size_t>(rows * kdim_));
      result_.resize(static_cast<std::size_t>(rows * mg_));
      for (int64_t g = 0; g < group_; ++g) {
        im2col(x, i0, images, g);
        gemm::f32::sgemm_packed(true, rows, packs[static_cast<std::size_t>(g)], 1.0f, patches_.data(), rows, 0.0f,
                                result_.data(), mg_);
        to_nchw(i0, images, g, bias, y);
      }
    }
  }

 private:
  // Patches and results of at most this many floats each per chunk of images.
  static constexpr int64_t kPatchFloats = int64_t(1) << 22;

  void pack_weights(const float *w, std::vector<gemm::f32::PackedB> &packs) const {
    packs.resize(static_cast<std::size_t>(group_));
    for (int64_t g = 0; g < group_; ++g)  // W_g is [Mg, K]: op(B) = W_g^T, stored transposed
      gemm::f32::pack_b(packs[static_cast<std::size_t>(g)], true, kdim_, mg_, w + g * mg_ * kdim_, kdim_);
  }

  // Row (c, ky, kx) of the column matrix holds, for each output pixel of each image of the chunk,
  // the input that tap of group g reads there (0 in the padding): op(A) is its transpose, and
  // the GEMM's packing reads it along contiguous pixels.
  void im2col(const float *x, int64_t i0, int64_t images, int64_t g) {
    const int64_t out_plane = h_.out * w_.out, in_plane = h_.in * w_.in, taps = h_.kernel * w_.kernel;
    const int64_t cols = images * out_plane;
    const std::size_t grain = std::max<std::size_t>(1, kGrain / static_cast<std::size_t>(std::max<int64_t>(1, cols)));
    const std::size_t inline_rows = static_cast<std::size_t>(kInlineBelow / std::max<int64_t>(1, cols)) + 1;
    parallel_for(static_cast<std::size_t>(kdim_), grain, inline_rows, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        const int64_t c = static_cast<int64_t>(r) / taps, ky = static_cast<int64_t>(r) / w_.kernel % h_.kernel;
        const int64_t kx = static_cast<int64_t>(r) % w_.kernel;
        for (int64_t img = 0; img < images; ++img) {
          const float *xc = x + ((i0 + img) * c_ + g * cg_ + c) * in_plane;
          float *dst = patches_.data() + static_cast<int64_t>(r) * cols + img * out_plane;
          for (int64_t oy = 0; oy < h_.out; ++oy) {
            const int64_t iy = oy * h_.stride - h_.pad_begin + ky * h_.dilation;
            float *row = dst + oy * w_.out;
            if (iy < 0 || iy >= h_.in) {
              std::fill(row, row + w_.out, 0.0f);
              continue;
            }
            // Output columns [lo, hi) read inside the input row; the rest read padding.
            const int64_t shift = kx * w_.dilation - w_.pad_begin;  // ix = ox * stride + shift
            const int64_t lo = std::min(w_.out, shift >= 0 ? 0 : (-shift + w_.stride - 1) / w_.stride);
            const int64_t hi = std::max(lo, std::min(w_.out, (w_.in - shift + w_.stride - 1) / w_.stride));
            const float *in = xc + iy * w_.in;
            std::fill(row, row + lo, 0.0f);
            if (w_.stride == 1)
              std::copy(in + lo + shift, in + hi + shift, row + lo);
            else
              for (int64_t ox = lo; ox < hi; ++ox) row[ox] = in[ox * w_.stride + shift];
            std::fill(row + hi, row + w_.out, 0.0f);
          }
        }
      }
    });
  }

  // result_[(image, pixel), o] (+ bias) -> y[image, g * Mg + o, pixel].
  void to_nchw(int64_t i0, int64_t images, int64_t g, const float *bias, float *y) const {
    const int64_t out_plane = h_.out * w_.out;
    const std::size_t planes = static_cast<std::size_t>(images * mg_);
    const std::size_t per_plane = static_cast<std::size_t>(std::max<int64_t>(1, out_plane));
    parallel_for(planes, std::max<std::size_t>(1, kGrain / per_plane), kInlineBelow / per_plane + 1,
                 [&](std::size_t p0, std::size_t p1) {
                   for (std::size_t p = p0; p < p1; ++p) {
                     const int64_t img = static_cast<int64_t>(p) / mg_, o = static_cast<int64_t>(p) % mg_;
                     const float *src = result_.data() + img * out_plane * mg_ + o;
                     float *dst = y + ((i0 + img) * m_ + g * mg_ + o) * out_plane;
                     if (bias)
                       for (int64_t q = 0; q < out_plane; ++q) dst[q] = src[q * mg_] + bias[g * mg_ + o];
                     else
                       for (int64_t q = 0; q < out_plane; ++q) dst[q] = src[q * mg_];
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

  int64_t group_ = 1, batch_ = 0, c_ = 0, m_ = 0, cg_ = 0, mg_ = 0, kdim_ = 0, chunk_ = 1;
  Window h_, w_;
  bool depthwise_ = false;
  std::shared_ptr<const std::vector<gemm::f32::PackedB>> packs_;  // constant W_g^T per group
  std::vector<float> patches_, result_;     // one chunk of images
};

}  // namespace

void register_float_conv_kernels() { register_kernel("", "Conv", make_kernel<ConvF32>); }

}  // namespace q8::rt
