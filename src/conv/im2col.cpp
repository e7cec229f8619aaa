// im2col and col2im on NHWC images: one patch-matrix row per output pixel, columns in the
// weights' (ky, kx, c) order, so the GEMM of a group is patches x weights^T.
#include <cstring>

#include "conv/conv.hpp"

namespace q8::conv {

void im2col(const Geometry &g, const uint8_t *image, uint8_t pad, int64_t group, int64_t row0, int64_t row1,
            uint8_t *col, int64_t ldcol) {
  const size_t cg = size_t(g.cg);
  const uint8_t *base = image + group * g.cg;
  const bool contiguous_rows = g.cg == g.in_ch && g.stride_w == 1 && g.dilation_w == 1;
  const size_t run = size_t(g.kw) * cg;
  for (int64_t r = row0; r < row1; ++r) {
    const int64_t y = r / g.out_w, x = r % g.out_w;
    uint8_t *dst = col + (r - row0) * ldcol;
    const int64_t ix0 = x * g.stride_w - g.pad_left;
    // With unit stride and dilation along x and one group, a kernel row inside the image is one
    // contiguous run of kw * in_ch bytes: one copy instead of kw small ones.
    const bool contiguous = contiguous_rows && ix0 >= 0 && ix0 + g.kw <= g.in_w;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = y * g.stride_h - g.pad_top + ky * g.dilation_h;
      const bool row_in = iy >= 0 && iy < g.in_h;
      if (contiguous) {
        if (row_in)
          std::memcpy(dst, base + (iy * g.in_w + ix0) * g.in_ch, run);
        else
          std::memset(dst, pad, run);
        dst += run;
        continue;
      }
      for (int64_t kx = 0; kx < g.kw; ++kx, dst += cg) {
        const int64_t ix = x * g.stride_w - g.pad_left + kx * g.dilation_w;
        if (row_in && ix >= 0 && ix < g.in_w)
          std::memcpy(dst, base + (iy * g.in_w + ix) * g.in_ch, cg);
        else
          std::memset(dst, pad, cg);
      }
    }
  }
}

void col2im_s32(const Geometry &g, const int32_t *col, int64_t ldcol, int64_t group, int32_t *image) {
  int32_t *base = image + group * g.cg;
  for (int64_t r = 0; r < g.out_h * g.out_w; ++r) {
    const int64_t y = r / g.out_w, x = r % g.out_w;
    const int32_t *src = col + r * ldcol;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = y * g.stride_h - g.pad_top + ky * g.dilation_h;
      for (int64_t kx = 0; kx < g.kw; ++kx, src += g.cg) {
        const int64_t ix = x * g.stride_w - g.pad_left + kx * g.dilation_w;
        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
        int32_t *dst = base + (iy * g.in_w + ix) * g.in_ch;
        for (int64_t c = 0; c < g.cg; ++c) dst[c] = int32_t(uint32_t(dst[c]) + uint32_t(src[c]));
      }
    }
  }
}

}  // namespace q8::conv
