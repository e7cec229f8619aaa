// conv2d as q8 GEMMs. Per group, the GEMM is (output pixels) x (patch = kh * kw * cg) times the
// group's weights [og, patch] taken transposed, packed once per call (or once for many calls:
// pack_weights + conv2d_packed); its columns land in the
// group's og channels of the NHWC output (ldc = out_ch), so no reordering is needed after.
//  - 1x1, stride 1, no padding: the input itself is A (lda = in_ch, offset by the group).
//  - otherwise: im2col of whole images (at least one at a time, ~8 MiB of patches at most) with
//    the input zero point as padding, then the GEMM over all their pixels at once.
//  - depthwise (groups == in_ch > 1): a direct loop; with cg = 1 the GEMMs would have K = kh * kw
//    and og (usually 1) columns of a 32-column panel, i.e. mostly padding.
// Every path computes the integer accumulator of conv.h exactly (mod 2^32) and then the same
// epilogue code as the GEMM, so the bits do not depend on the path, the ISA or the threads.
#include <algorithm>
#include <memory>
#include <vector>

#include "conv/conv.hpp"
#include "core/runtime.hpp"
#include "gemm/epilogue_impl.hpp"

namespace q8::conv {
namespace {

constexpr int64_t kColBudget = int64_t(8) << 20;  // bytes of patches per im2col chunk

// The epilogue of one group's og output channels (the per-channel arrays sliced).
gemm::Epilogue slice(const gemm::Epilogue &e, int64_t j0, int64_t n) {
  gemm::Epilogue s;
  s.kind = e.kind;
  s.out = e.out;
  s.bias = e.bias ? e.bias + j0 : nullptr;
  auto cut = [&](const auto &v, auto &dst) {
    if (!v.empty()) dst.assign(v.begin() + j0, v.begin() + j0 + n);
  };
  cut(e.multiplier, s.multiplier);
  cut(e.shift, s.shift);
  cut(e.scale, s.scale);
  s.zero_point = e.zero_point;
  s.qmin = e.qmin;
  s.qmax = e.qmax;
  return s;
}

// Depthwise: per output pixel, taps outer and output channels inner (contiguous in NHWC), with
// the weights transposed once to [tap][o] and their zero points already subtracted.
template <class T>
void depthwise(const Geometry &g, const T *in, int32_t zx, const int8_t *w, const int32_t *zw, size_t zw_count,
               const gemm::Epilogue &e, void *out) {
  const int64_t oc = g.out_ch, taps = g.kh * g.kw, og = g.og;
  std::vector<uint32_t> colterm(size_t(oc), 0u);
  if (e.bias)
    for (int64_t o = 0; o < oc; ++o) colterm[size_t(o)] = uint32_t(e.bias[o]);
  const std::vector<int32_t> zeros(size_t(oc), 0);
  std::vector<int32_t> wt(size_t(taps * oc));  // w - zw, in [-255, 255]
  for (int64_t o = 0; o < oc; ++o)
    for (int64_t t = 0; t < taps; ++t)
      wt[size_t(t * oc + o)] = int32_t(w[o * taps + t]) - (zw_count == 0 ? 0 : zw[zw_count == 1 ? 0 : o]);
  gemm::EpilogueArgs args;
  args.e = &e;
  args.colterm = colterm.data();
  args.zb = zeros.data();
  const size_t osz = q8_dtype_size(e.out);
  const int64_t rows = g.batch * g.out_h;
  const double ops = double(rows) * double(g.out_w) * double(oc) * double(taps);
  parallel_for(size_t(rows), 1, ops < double(1 << 20) ? SIZE_MAX : 2, [&](size_t r0, size_t r1) {
    std::vector<uint32_t> s(static_cast<size_t>(oc));
    std::vector<int32_t> xv(static_cast<size_t>(oc));
    for (size_t r = r0; r < r1; ++r) {
      const int64_t n = int64_t(r) / g.out_h, y = int64_t(r) % g.out_h;
      const T *img = in + n * g.in_h * g.in_w * g.in_ch;
      for (int64_t x = 0; x < g.out_w; ++x) {
        std::fill(s.begin(), s.end(), 0u);
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = y * g.stride_h - g.pad_top + ky * g.dilation_h;
          if (iy < 0 || iy >= g.in_h) continue;  // padding: (zx - zx) * w = 0
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t ix = x * g.stride_w - g.pad_left + kx * g.dilation_w;
            if (ix < 0 || ix >= g.in_w) continue;
            const T *__restrict px = img + (iy * g.in_w + ix) * g.in_ch;  // channel of o is o / og
            const int32_t *__restrict wk = wt.data() + (ky * g.kw + kx) * oc;
            uint32_t *__restrict acc = s.data();
            if (og == 1) {
              for (int64_t o = 0; o < oc; ++o) acc[o] += uint32_t((int32_t(px[o]) - zx) * wk[o]);
            } else {
              int32_t *__restrict xs = xv.data();
              for (int64_t o = 0; o < oc; ++o) xs[o] = int32_t(px[o / og]) - zx;
              for (int64_t o = 0; o < oc; ++o) acc[o] += uint32_t(xs[o] * wk[o]);
            }
          }
        }
        gemm::epilogue_row_impl(args, reinterpret_cast<const int32_t *>(s.data()), oc, 0, 0u,
                                static_cast<unsigned char *>(out) + size_t((int64_t(r) * g.out_w + x) * oc) * osz);
      }
    }
  });
}

void depthwise_any(const Geometry &g, const uint8_t *input, bool is_signed, int32_t zx, const int8_t *weights,
                   const int32_t *zw, size_t zw_count, const gemm::Epilogue &e, void *output) {
  if (is_signed)
    depthwise(g, reinterpret_cast<const int8_t *>(input), zx, weights, zw, zw_count, e, output);
  else
    depthwise(g, input, zx, weights, zw, zw_count, e, output);
}

bool is_depthwise(const Geometry &g) { return g.groups == g.in_ch && g.groups > 1; }

// The GEMM paths (pointwise in place, or im2col chunks) over weights packed per group.
void conv2d_gemm(const std::vector<std::unique_ptr<gemm::Packed>> &packs, const Geometry &g, const uint8_t *input,
                 bool is_signed, int32_t zx, const gemm::Epilogue &e, void *output) {
  const int64_t K = g.patch(), P = g.out_h * g.out_w;
  const size_t osz = q8_dtype_size(e.out);
  std::vector<gemm::Epilogue> eps;
  for (int64_t gi = 0; gi < g.groups; ++gi) eps.push_back(slice(e, gi * g.og, g.og));
  gemm::AView av;
  av.is_signed = is_signed;
  av.zero_point = zx;
  av.trans = false;
  unsigned char *out = static_cast<unsigned char *>(output);

  const bool pointwise = g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
                         g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0;
  if (pointwise) {  // the input is the patch matrix already
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      av.a = input + gi * g.cg;
      av.lda = g.in_ch;
      gemm::run(av, g.batch * P, *packs[size_t(gi)], eps[size_t(gi)], out + size_t(gi * g.og) * osz, g.out_ch);
    }
    return;
  }
  const int64_t per_image = P * K;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(g.batch, kColBudget / std::max<int64_t>(per_image, 1)));
  std::vector<uint8_t> col(size_t(chunk * per_image));
  const uint8_t pad = uint8_t(zx);  // u8 zero point, or the two's complement byte of an s8 one
  const int64_t image_elems = g.in_h * g.in_w * g.in_ch;
  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.batch - n0);
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const int64_t rows = nb * P;
      parallel_for(size_t(rows), 256, size_t(rows * K) < (size_t(1) << 18) ? SIZE_MAX : 2,
                   [&](size_t r0, size_t r1) {
        // split [r0, r1) at image boundaries
        for (int64_t r = int64_t(r0); r < int64_t(r1);) {
          const int64_t img = r / P, pr = r % P, end = std::min<int64_t>(int64_t(r1), (img + 1) * P);
          im2col(g, input + (n0 + img) * image_elems, pad, gi, pr, pr + (end - r), col.data() + r * K, K);
          r = end;
        }
      });
      av.a = col.data();
      av.lda = std::max<int64_t>(K, 1);
      gemm::run(av, rows, *packs[size_t(gi)], eps[size_t(gi)],
                out + size_t(n0 * P * g.out_ch + gi * g.og) * osz, g.out_ch);
    }
  }
}

}  // namespace

void pack_weights(PackedWeights &pw, const Geometry &g, const int8_t *weights, const int32_t *zw, size_t zw_count) {
  pw.depthwise = is_depthwise(g);
  pw.packs.clear();
  pw.weights.clear();
  pw.zw.assign(zw, zw + zw_count);
  const int64_t K = g.patch();
  if (pw.depthwise) {
    pw.weights.assign(weights, weights + g.out_ch * K);
    return;
  }
  for (int64_t gi = 0; gi < g.groups; ++gi) {
    pw.packs.push_back(std::make_unique<gemm::Packed>());
    const int32_t *zp = zw_count == 0 ? nullptr : zw_count == 1 ? zw : zw + gi * g.og;
    const size_t cnt = zw_count == 0 ? 0 : zw_count == 1 ? 1 : size_t(g.og);
    gemm::pack_b(*pw.packs.back(), true, K, g.og, weights + gi * g.og * K, K, zp, cnt);
  }
}

void conv2d_packed(const PackedWeights &pw, const Geometry &g, const uint8_t *input, bool is_signed, int32_t zx,
                   const gemm::Epilogue &e, void *output) {
  if (g.batch == 0) return;
  if (pw.depthwise)
    depthwise_any(g, input, is_signed, zx, pw.weights.data(), pw.zw.data(), pw.zw.size(), e, output);
  else
    conv2d_gemm(pw.packs, g, input, is_signed, zx, e, output);
}

void conv2d(const Geometry &g, const uint8_t *input, bool is_signed, int32_t zx, const int8_t *weights,
            const int32_t *zw, size_t zw_count, const gemm::Epilogue &e, void *output) {
  if (g.batch == 0) return;
  if (is_depthwise(g)) {  // nothing to pack: the direct loop reads the weights as given
    depthwise_any(g, input, is_signed, zx, weights, zw, zw_count, e, output);
    return;
  }
  PackedWeights pw;
  pack_weights(pw, g, weights, zw, zw_count);
  conv2d_gemm(pw.packs, g, input, is_signed, zx, e, output);
}

}  // namespace q8::conv
