// INT8 conv2d internals: the validated geometry, im2col / col2im on NHWC, and the driver that turns
// a convolution into q8 GEMMs (or a direct loop for depthwise). include/q8/conv.h states the
// numerics; src/capi/conv_api.cpp validates everything before these run.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "gemm/gemm.hpp"

namespace q8::conv {

struct Geometry {
  int64_t batch = 0, in_h = 0, in_w = 0, in_ch = 0, out_ch = 0, kh = 0, kw = 0;
  int64_t stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1, groups = 1;
  int64_t out_h = 0, out_w = 0;
  int64_t cg = 0;  // input channels per group
  int64_t og = 0;  // output channels per group
  int64_t patch() const { return kh * kw * cg; }  // K of the per-group GEMM
};

// Patch rows [row0, row1) (row = y * out_w + x) of one image (NHWC, in_ch channels) and one
// group into col (ldcol bytes apart; the row r is written at col + (r - row0) * ldcol). Bytes:
// works for u8 and s8 alike; pad is the byte of the input zero point.
void im2col(const Geometry &g, const uint8_t *image, uint8_t pad, int64_t group, int64_t row0, int64_t row1,
            uint8_t *col, int64_t ldcol);

// image[iy, ix, group * cg + c] += col[row, (ky * kw + kx) * cg + c] modulo 2^32, inside only.
void col2im_s32(const Geometry &g, const int32_t *col, int64_t ldcol, int64_t group, int32_t *image);

// Weights OHWI [out_ch, kh, kw, cg] (s8) in the form the convolution consumes, made once for
// callers that run the same weights many times (the runtime's QLinearConv); zero points 0, 1 or
// out_ch entries.
struct PackedWeights {
  bool depthwise = false;                            // groups == in_ch > 1: the direct loop
  std::vector<std::unique_ptr<gemm::Packed>> packs;  // otherwise one packed B per group
  std::vector<int8_t> weights;                       // depthwise: OHWI kept for the direct loop
  std::vector<int32_t> zw;
};
void pack_weights(PackedWeights &pw, const Geometry &g, const int8_t *weights, const int32_t *zw, size_t zw_count);

// output = epilogue(conv2d(input, packed weights)); g must be the geometry the weights were packed
// for (batch and image size may differ). Bit-identical to conv2d below.
void conv2d_packed(const PackedWeights &pw, const Geometry &g, const uint8_t *input, bool is_signed, int32_t zx,
                   const gemm::Epilogue &e, void *output);

// output = epilogue(conv2d(input, weights)), packing the weights for this call. e has out_ch
// entries per channel array; zw has zw_count (0, 1 or out_ch) entries.
void conv2d(const Geometry &g, const uint8_t *input, bool is_signed, int32_t zx, const int8_t *weights,
            const int32_t *zw, size_t zw_count, const gemm::Epilogue &e, void *output);

}  // namespace q8::conv
