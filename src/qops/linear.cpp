// GEMM/conv epilogues from quantization parameters, and a convolution whose weights are packed once
// (conv::conv2d packs per call). The convolution drives the same pieces as conv::conv2d (im2col
// with the input zero point as padding, one GEMM per group writing its columns in place, the
// direct depthwise loop), so its bits are conv::conv2d's.
#include <algorithm>

#include "core/runtime.hpp"
#include "qops/qops.hpp"

namespace q8::qops {
namespace {
constexpr int64_t kColBudget = int64_t(8) << 20;  // bytes of im2col patches per chunk
}

gemm::Epilogue make_epilogue(q8_dtype out, float alpha, float sa, const float *sb, std::size_t sb_count,
                             Affine y, const int32_t *bias, int64_t n) {
  gemm::Epilogue e;
  e.out = out;
  e.bias = bias;
  if (out == Q8_DTYPE_S32) {
    e.kind = Q8_GEMM_EPILOGUE_S32;
    return e;
  }
  const float as = alpha * sa;  // ONNX Runtime's order: ((alpha * sa) * sb[j]) / sy, each in f32
  e.scale.resize(std::size_t(n));
  for (int64_t j = 0; j < n; ++j) {
    const float s = as * sb[sb_count == 1 ? 0 : j];
    e.scale[std::size_t(j)] = out == Q8_DTYPE_F32 ? s : s / y.scale;
  }
  if (out == Q8_DTYPE_F32) {
    e.kind = Q8_GEMM_EPILOGUE_DEQUANTIZE;
    return e;
  }
  e.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT;
  e.zero_point = y.zero_point;
  e.qmin = out == Q8_DTYPE_U8 ? 0 : -128;
  e.qmax = out == Q8_DTYPE_U8 ? 255 : 127;
  return e;
}

gemm::Epilogue slice_epilogue(const gemm::Epilogue &e, int64_t j0, int64_t n) {
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

void pack_conv(PackedConv &pc, int64_t out_ch, int64_t kh, int64_t kw, int64_t cg, int64_t groups,
               const int8_t *w_ohwi, const int32_t *zw, std::size_t zw_count) {
  pc.out_ch = out_ch;
  pc.kh = kh;
  pc.kw = kw;
  pc.cg = cg;
  pc.groups = groups;
  pc.depthwise = cg == 1 && groups > 1;  // groups == in_ch > 1, conv::conv2d's direct path
  pc.packs.clear();
  pc.zw.assign(zw, zw + zw_count);
  const int64_t K = kh * kw * cg, og = out_ch / groups;
  if (pc.depthwise) {
    pc.weights.assign(w_ohwi, w_ohwi + out_ch * K);
    return;
  }
  pc.weights.clear();
  for (int64_t gi = 0; gi < groups; ++gi) {
    pc.packs.push_back(std::make_unique<gemm::Packed>());
    const int32_t *zp = zw_count == 0 ? nullptr : zw_count == 1 ? zw : zw + gi * og;
    const std::size_t cnt = zw_count == 0 ? 0 : zw_count == 1 ? 1 : std::size_t(og);
    gemm::pack_b(*pc.packs.back(), true, K, og, w_ohwi + gi * og * K, K, zp, cnt);
  }
}

void run_conv(const PackedConv &pc, const conv::Geometry &g, const uint8_t *input, bool is_signed, int32_t zx,
              const gemm::Epilogue &e, void *output) {
  if (g.batch == 0) return;
  if (pc.depthwise) {
    conv::conv2d(g, input, is_signed, zx, pc.weights.data(), pc.zw.data(), pc.zw.size(), e, output);
    return;
  }
  const int64_t K = g.patch(), P = g.out_h * g.out_w;
  const std::size_t osz = q8_dtype_size(e.out);
  std::vector<gemm::Epilogue> eps;
  for (int64_t gi = 0; gi < g.groups; ++gi) eps.push_back(slice_epilogue(e, gi * g.og, g.og));
  gemm::AView av;
  av.is_signed = is_signed;
  av.zero_point = zx;
  unsigned char *out = static_cast<unsigned char *>(output);
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
                         g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0;
  if (pointwise) {  // the input is the patch matrix
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      av.a = input + gi * g.cg;
      av.lda = g.in_ch;
      gemm::run(av, g.batch * P, *pc.packs[std::size_t(gi)], eps[std::size_t(gi)], out + std::size_t(gi * g.og) * osz,
                g.out_ch);
    }
    return;
  }
  const int64_t per_image = P * K;
  const int64_t chunk =
      std::max<int64_t>(1, std::min<int64_t>(g.batch, kColBudget / std::max<int64_t>(per_image, 1)));
  std::vector<uint8_t> col(std::size_t(chunk * per_image));
  const uint8_t pad = uint8_t(zx);  // the byte of the zero point: padding is a real zero
  const int64_t image_elems = g.in_h * g.in_w * g.in_ch;
  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.batch - n0);
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const int64_t rows = nb * P;
      parallel_for(std::size_t(rows), 256, std::size_t(rows * K) < (std::size_t(1) << 18) ? SIZE_MAX : 2,
                   [&](std::size_t r0, std::size_t r1) {
                     for (int64_t r = int64_t(r0); r < int64_t(r1);) {  // split at image boundaries
                       const int64_t img = r / P, pr = r % P, end = std::min<int64_t>(int64_t(r1), (img + 1) * P);
                       conv::im2col(g, input + (n0 + img) * image_elems, pad, gi, pr, pr + (end - r),
                                    col.data() + r * K, K);
                       r = end;
                     }
                   });
      av.a = col.data();
      av.lda = std::max<int64_t>(K, 1);
      gemm::run(av, rows, *pc.packs[std::size_t(gi)], eps[std::size_t(gi)],
                out + std::size_t(n0 * P * g.out_ch + gi * g.og) * osz, g.out_ch);
    }
  }
}

}  // namespace q8::qops
