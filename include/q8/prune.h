/* q8 pruning: choose which weights to zero, as masks a user can inspect, combine and reapply.
 *
 * The 2-D view: a weight tensor of rank >= 1 is seen as rows x cols with rows = dimension 0 (the
 * output channels: [out, in] for a Linear layer, O for an OIHW convolution) and cols = the product
 * of the remaining dimensions in storage order (the reduction: in, or I*H*W). A rank-1 tensor is
 * one row. "Along the reduction" means along a row of that view.
 *
 * Masks are U8 tensors of the weights' shape, 1 = keep, 0 = pruned, without quantization
 * parameters. Scores:
 *   UNSTRUCTURED  |w|, per element; the round(sparsity * numel) smallest are pruned.
 *   N_M           |w|; in every run of m consecutive elements along a row, the n largest are
 *                 kept (sparsity is then exactly 1 - n/m; the options' sparsity is ignored).
 *                 cols must be a multiple of m.
 *   BLOCK         blocks of block_rows x block_cols of the 2-D view, scored by the norm of the
 *                 block; the round(sparsity * blocks) lowest-scored blocks are pruned. rows and
 *                 cols must be multiples of the block shape.
 *   CHANNEL       whole rows (output channels / filters), scored by the row's norm; the
 *                 round(sparsity * rows) lowest are pruned.
 * Ties are broken by position: among equal scores the element (block, row) that comes first in
 * storage order is pruned first, so masks are deterministic. round() is half away from zero.
 * The count of pruned elements is therefore exact, and every kept element (block, row) scores
 * at least as high as every pruned one. Infinite weights are allowed (they score highest).
 *
 * Errors: weights that are not F32, or masks that are not U8, are Q8_ERR_DTYPE; rank 0, a shape the
 * pattern does not fit (checked even when the tensor has no elements) and masks of another shape
 * are Q8_ERR_SHAPE; bad options, NaN weights and mask elements other than 0 or 1 are
 * Q8_ERR_INVALID_ARGUMENT. A tensor with no elements gets a mask with no elements.
 */
#ifndef Q8_PRUNE_H
#define Q8_PRUNE_H

#include "q8/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum q8_prune_pattern {
  Q8_PRUNE_UNSTRUCTURED = 0,
  Q8_PRUNE_N_M = 1,
  Q8_PRUNE_BLOCK = 2,
  Q8_PRUNE_CHANNEL = 3
} q8_prune_pattern;

/* How a block or a channel is scored. */
typedef enum q8_prune_norm {
  Q8_PRUNE_NORM_L2 = 0, /* sqrt(sum w^2), the default */
  Q8_PRUNE_NORM_L1 = 1  /* sum |w| */
} q8_prune_norm;

/* Every field is validated whatever the pattern (even those the pattern ignores), so a bad value
 * cannot hide until the pattern changes. struct_size must cover at least every field below. */
typedef struct q8_prune_options {
  size_t struct_size;          /* sizeof(q8_prune_options), set by q8_prune_options_init */
  q8_prune_pattern pattern;    /* default Q8_PRUNE_UNSTRUCTURED */
  double sparsity;             /* fraction of elements to prune, in [0, 1]; default 0.5 */
  int32_t n, m;                /* N_M: keep n of every m, 1 <= n <= m <= 64; default 2 and 4 */
  int64_t block_rows;          /* BLOCK: block shape, each >= 1; default 4 x 4 */
  int64_t block_cols;
  q8_prune_norm norm;          /* BLOCK and CHANNEL scores; default L2 */
} q8_prune_options;

Q8_API q8_status q8_prune_options_init(q8_prune_options *options);

/* A new mask for one F32 weight tensor (rank >= 1), chosen by magnitude as described above.
 * NaN weights are Q8_ERR_INVALID_ARGUMENT. */
Q8_API q8_status q8_prune_mask(const q8_tensor *weights, const q8_prune_options *options,
                               q8_tensor **mask);

/* Global magnitude pruning: one ranking of |w| across `count` F32 tensors, pruning
 * round(sparsity * total elements) of them, so layers end up with different sparsities.
 * Only Q8_PRUNE_UNSTRUCTURED (another pattern is Q8_ERR_UNSUPPORTED). masks[i] receives tensor
 * i's new mask (all or none are written). Ties are broken by (tensor index, position). With
 * count = 0 nothing is done and `weights` and `masks` are not read. */
Q8_API q8_status q8_prune_global_masks(const q8_tensor *const *weights, size_t count,
                                       const q8_prune_options *options, q8_tensor **masks);

/* Zeroes the elements of `weights` where `mask` is 0 (same shape). F32 weights get 0.0f;
 * quantized S8/U8 weights get their zero point (per tensor or per axis), i.e. real zero; S8/U8
 * without quantization parameters get 0. S32 is Q8_ERR_DTYPE. The mask is checked in full first:
 * on any error the weights are unchanged. A mask's own quantization parameters are ignored. */
Q8_API q8_status q8_prune_apply(q8_tensor *weights, const q8_tensor *mask);

/* dst = dst AND src (both masks, same shape): keeps what both keep. Both are checked first: on
 * error dst is unchanged. */
Q8_API q8_status q8_prune_mask_and(q8_tensor *dst, const q8_tensor *src);
/* dst = dst OR src. */
Q8_API q8_status q8_prune_mask_or(q8_tensor *dst, const q8_tensor *src);

/* The fraction of elements that are zero: for F32, == 0.0f (either sign; NaN is not zero); for
 * S8/U8 (and S32) with quantization parameters, == the zero point; for S8/U8/S32 without (masks),
 * == 0. Empty: 0. */
Q8_API q8_status q8_prune_sparsity(const q8_tensor *tensor, double *sparsity);

/* The gradual pruning schedule of Zhu & Gupta (2017): the target sparsity at `step`,
 *   s(t) = final + (initial - final) * (1 - (t - begin) / (end - begin))^3
 * for begin <= t <= end, `initial` before begin and `final` after end. When `frequency` > 1 the
 * step is first rounded down to begin + a multiple of frequency (masks are updated every
 * frequency steps). 0 <= initial <= final <= 1, 0 <= begin < end, frequency >= 1; any step
 * (negative too). The ends are exact: initial when the (rounded) step is <= begin, final when
 * step >= end, even if end is not begin + a multiple of frequency. Bad arguments are
 * Q8_ERR_INVALID_ARGUMENT. */
Q8_API q8_status q8_prune_schedule_cubic(double initial, double final, int64_t begin, int64_t end,
                                         int64_t frequency, int64_t step, double *sparsity);

#ifdef __cplusplus
}
#endif
#endif /* Q8_PRUNE_H */
