/* q8 INT8 2-D convolution on the q8 GEMM (gemm.h): NHWC activations, s8 weights, zero points,
 * stride, asymmetric padding, dilation, groups (depthwise included) and the GEMM's epilogue.
 *
 * Layouts (dense, C order):
 *   input   [batch, in_h, in_w, in_ch]             u8 or s8, zero point zx (per tensor)
 *   weights [out_ch, kh, kw, in_ch / groups]       s8, zero points zw: none, one, or one per
 *                                                  output channel
 *   output  [batch, out_h, out_w, out_ch]          the epilogue's output_dtype
 * NHWC is the primary layout; q8_conv2d_nchw_to_nhwc / q8_conv2d_nhwc_to_nchw convert (the
 * former also turns PyTorch-style OIHW weights [out_ch, in_ch/groups, kh, kw] into q8's OHWI:
 * treat out_ch as the batch and in_ch/groups as the channels).
 *
 * Geometry: out_h = floor((in_h + pad_top + pad_bottom - dilation_h * (kh - 1) - 1) / stride_h) + 1
 * (the same for w with pad_left/pad_right), and must be >= 1. Output channel o belongs to group
 * g = o / (out_ch / groups) and sees input channels g * cg .. g * cg + cg - 1 (cg = in_ch / groups);
 * groups must divide both in_ch and out_ch.
 *
 * Numerics: for output (n, y, x, o) with iy = y * stride_h - pad_top + ky * dilation_h and
 * ix = x * stride_w - pad_left + kx * dilation_w,
 *     acc = sum over ky < kh, kx < kw, c < cg of (X[n, iy, ix, g*cg + c] - zx) * (W[o, ky, kx, c] - zw[o])
 * taken modulo 2^32 exactly as gemm.h's accumulator, where a pixel outside the image (padding)
 * reads as zx: padded pixels are real zeros and contribute nothing, whatever zw is. The epilogue
 * (gemm.h: bias, requantize by fixed point or float scale, dequantize, clamp) then applies per
 * output channel exactly as it applies per output column of the GEMM: bias has out_ch entries
 * and `channels` is 1 or out_ch. The result is bit-identical to that definition on every ISA
 * path and thread count, because it is computed as a GEMM (rows = output pixels, columns =
 * output channels of one group, K = kh * kw * cg) whose bits are already fixed by gemm.h.
 * The accumulator is exact (no wrap) while kh * kw * cg <= 33025.
 *
 * Paths (the same bits): 1x1 kernels with stride 1 and no padding read the input in place as the
 * GEMM's A; other grouped convolutions copy patches with im2col (pad value zx) into a buffer of
 * at most ~8 MiB at a time (whole images; one image at least) and multiply by the weights packed
 * once per call and group; depthwise (groups == in_ch > 1) runs a direct loop instead, since
 * im2col would make GEMMs with K = kh * kw and a handful of columns.
 */
#ifndef Q8_CONV_H
#define Q8_CONV_H

#include "q8/common.h"
#include "q8/gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Convolution geometry; fill with q8_conv2d_options_init, then change what you need. New fields
 * are only appended; `struct_size` tells the library which fields the caller knows. */
typedef struct q8_conv2d_options {
  size_t struct_size;                    /* sizeof(q8_conv2d_options) */
  int64_t stride_h, stride_w;            /* >= 1, default 1 */
  int64_t pad_top, pad_left;             /* >= 0, default 0 */
  int64_t pad_bottom, pad_right;         /* >= 0, default 0 */
  int64_t dilation_h, dilation_w;        /* >= 1, default 1 */
  int64_t groups;                        /* >= 1, divides in_ch and out_ch; default 1 */
} q8_conv2d_options;

/* Defaults as listed above. */
Q8_API q8_status q8_conv2d_options_init(q8_conv2d_options *options);

/* out_h and out_w for an in_h x in_w input and a kh x kw kernel (options NULL = defaults).
 * Q8_ERR_SHAPE when the (dilated) kernel does not fit in the padded input. */
Q8_API q8_status q8_conv2d_output_shape(const q8_conv2d_options *options, int64_t in_h, int64_t in_w,
                                        int64_t kh, int64_t kw, int64_t *out_h, int64_t *out_w);

/* output = epilogue(conv2d(input - zx, weights - zw)), layouts and numerics as above.
 * input_zero_point in [0, 255]; weight_zero_points: NULL with count 0 (all zero), or count 1 or
 * out_ch entries in [-128, 127]. options NULL = defaults, epilogue NULL = int32 output. batch may
 * be 0 (nothing is written). The output must not overlap the inputs. */
Q8_API q8_status q8_conv2d_u8s8(const q8_conv2d_options *options, int64_t batch, int64_t in_h,
                                int64_t in_w, int64_t in_ch, const uint8_t *input,
                                int32_t input_zero_point, int64_t out_ch, int64_t kh, int64_t kw,
                                const int8_t *weights, const int32_t *weight_zero_points,
                                size_t weight_zero_point_count, const q8_gemm_epilogue *epilogue,
                                void *output);
/* The same with s8 input; input_zero_point in [-128, 127]. */
Q8_API q8_status q8_conv2d_s8s8(const q8_conv2d_options *options, int64_t batch, int64_t in_h,
                                int64_t in_w, int64_t in_ch, const int8_t *input,
                                int32_t input_zero_point, int64_t out_ch, int64_t kh, int64_t kw,
                                const int8_t *weights, const int32_t *weight_zero_points,
                                size_t weight_zero_point_count, const q8_gemm_epilogue *epilogue,
                                void *output);

/* im2col of one NHWC image and one group: writes the (out_h * out_w) x (kh * kw * cg) patch
 * matrix, row y * out_w + x, column (ky * kw + kx) * cg + c, rows `ldcol` bytes apart
 * (ldcol >= kh * kw * cg), holding X[iy, ix, group * cg + c] or pad_value outside the image.
 * dtype is Q8_DTYPE_U8 or Q8_DTYPE_S8 (the input's; pad_value must be in its range - pass the
 * input zero point so that padding is a real zero). cg = in_ch / groups. */
Q8_API q8_status q8_conv2d_im2col(const q8_conv2d_options *options, q8_dtype dtype, int64_t in_h,
                                  int64_t in_w, int64_t in_ch, const void *input, int32_t pad_value,
                                  int64_t kh, int64_t kw, int64_t group, void *col, int64_t ldcol);

/* col2im, im2col's adjoint on int32: for every patch-matrix element of one group that maps inside
 * the image, image[iy, ix, group * cg + c] += col[row, (ky * kw + kx) * cg + c] (modulo 2^32);
 * entries that map to padding are dropped. image is NHWC [in_h, in_w, in_ch] int32 and is
 * accumulated into, not overwritten (what a transposed convolution needs). */
Q8_API q8_status q8_conv2d_col2im_s32(const q8_conv2d_options *options, int64_t in_h, int64_t in_w,
                                      int64_t in_ch, int64_t kh, int64_t kw, int64_t group,
                                      const int32_t *col, int64_t ldcol, int32_t *image);

/* Layout conversions of dense 4-D arrays of any q8 dtype: [n, c, h, w] <-> [n, h, w, c].
 * src and dst must not overlap. */
Q8_API q8_status q8_conv2d_nchw_to_nhwc(q8_dtype dtype, int64_t n, int64_t c, int64_t h, int64_t w,
                                        const void *src, void *dst);
Q8_API q8_status q8_conv2d_nhwc_to_nchw(q8_dtype dtype, int64_t n, int64_t c, int64_t h, int64_t w,
                                        const void *src, void *dst);

#ifdef __cplusplus
}
#endif
#endif /* Q8_CONV_H */
