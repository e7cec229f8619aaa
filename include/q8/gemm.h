/* q8 INT8 GEMM: C = epilogue(A · B) with u8 or s8 activations A (M x K), s8 weights B (K x N),
 * 32-bit integer accumulation, zero-point corrections and an output stage (int32, requantized
 * u8/s8, or dequantized f32). Row-major (C order) throughout.
 *
 * Numerics (identical bits on every ISA path, every blocking and every thread count):
 *  - The accumulator of element (i, j) is
 *        acc = sum_k (A[i,k] - za) * (B[k,j] - zb[j])                      (mod 2^32)
 *    with za A's zero point (per tensor) and zb[j] B's zero point (per tensor, or per output
 *    column j). q8 computes it as
 *        acc = A·B - zb[j]·rowsum(A)[i] - za·colsum(B)[j] + K·za·zb[j]
 *    where every product and sum is taken modulo 2^32 (two's complement wrap, never undefined);
 *    the two forms are the same integer modulo 2^32, so the result does not depend on the order.
 *    Each term is at most 255·255 in magnitude, so acc is the exact sum (no wrap) whenever
 *    K <= 33025; beyond that it wraps, the same way on every path. s8 activations are handled
 *    as u8 activations A + 128 with zero point za + 128, which is the same integer.
 *  - Bias (int32, per output column) is added to acc with wrap: t = acc + bias[j] (mod 2^32).
 *  - Epilogues, per element, with c = 1 multiplier/shift/scale (per tensor) or one per column:
 *      Q8_GEMM_EPILOGUE_S32:               C = t (int32).
 *      Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED:  C = clamp(mbqm(t, multiplier, shift) + zero_point,
 *                                                    qmin, qmax)
 *        mbqm is q8_fixed_multiply_by_quantized_multiplier (fixed.h), TFLite's reference
 *        MultiplyByQuantizedMultiplier with gemmlowp double rounding: saturating left shift by
 *        max(shift, 0), the rounding doubling high multiply round(t' * multiplier / 2^31)
 *        (gemmlowp's nudge: a tie rounds up, toward +infinity; INT32_MIN * INT32_MIN saturates),
 *        then a rounding divide by 2^max(-shift, 0) (ties away from zero). The zero point is
 *        added without overflow (in 64 bits) before the clamp.
 *      Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT:  C = clamp(round_half_even((float)t * scale)
 *                                                    + zero_point, qmin, qmax)
 *        (float)t rounds to nearest even; the product is one f32 multiply; +-Inf saturate.
 *      Q8_GEMM_EPILOGUE_DEQUANTIZE:        C = (float)t * scale (f32; one f32 multiply, as
 *        q8_dequantize: pass scale = scale_A * scale_B[j]).
 *    [qmin, qmax] is the epilogue's clamp intersected with the output type's range: ReLU is
 *    qmin = zero_point, ReLU6 is also qmax = zero_point + round(6 / output scale).
 *
 * Layouts: A is M x K (or, transposed, stored K x M); B is K x N (or, transposed, stored N x K:
 * the usual [out_features, in_features] weight layout); C is M x N. Leading dimensions count
 * elements between consecutive stored rows and must be at least the stored row length (and at
 * least 1). q8 reads exactly the M (or K) stored rows of each operand and writes only the M x N
 * elements of C. Pointers may be NULL only when the matrix they point to has no elements.
 *
 * Weights: q8_gemm_pack_b packs B once into the kernels' layout (K in groups of 4, N in panels
 * of 32 columns) with its zero points and column sums, for reuse across calls; the unpacked
 * q8_gemm_* calls pack B on every call. Batched forms will be added as new functions over the
 * same options; nothing here will change.
 */
#ifndef Q8_GEMM_H
#define Q8_GEMM_H

#include "q8/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether an operand is stored as written (M x K for A, K x N for B) or transposed. */
typedef enum q8_transpose {
  Q8_NO_TRANSPOSE = 0,
  Q8_TRANSPOSE = 1
} q8_transpose;

/* What the output stage writes into C. */
typedef enum q8_gemm_epilogue_kind {
  Q8_GEMM_EPILOGUE_S32 = 0,               /* int32 accumulators (+ bias) */
  Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED = 1,  /* u8/s8 by fixed-point multiplier and shift */
  Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT = 2,  /* u8/s8 by an f32 scale */
  Q8_GEMM_EPILOGUE_DEQUANTIZE = 3         /* f32 by an f32 scale */
} q8_gemm_epilogue_kind;

/* The output stage; fill with q8_gemm_epilogue_init, then change what you need. New fields are
 * only appended, and `struct_size` tells the library which fields the caller knows. The arrays
 * are read during the call only. A NULL epilogue means the defaults (int32 output, no bias). */
typedef struct q8_gemm_epilogue {
  size_t struct_size;          /* sizeof(q8_gemm_epilogue), set by q8_gemm_epilogue_init */
  q8_gemm_epilogue_kind kind;  /* default Q8_GEMM_EPILOGUE_S32 */
  q8_dtype output_dtype;       /* C's element type: S32 for kind S32 (default), U8 or S8 for the
                                  requantize kinds, F32 for DEQUANTIZE */
  const int32_t *bias;         /* NULL (default) or N entries, one per output column */
  size_t channels;             /* 1 (default): one multiplier/shift/scale for all of C;
                                  N: one per output column */
  const int32_t *multiplier;   /* REQUANTIZE_FIXED: `channels` entries, each >= 0 (a value from
                                  q8_fixed_quantize_multiplier) */
  const int32_t *shift;        /* REQUANTIZE_FIXED: `channels` entries, each in [-31, 30] */
  const float *scale;          /* REQUANTIZE_FLOAT and DEQUANTIZE: `channels` entries, each
                                  finite and > 0 */
  int32_t zero_point;          /* requantize kinds: the output zero point, inside the output
                                  type's range; default 0 */
  int32_t qmin;                /* requantize kinds: clamp bounds, default INT32_MIN and INT32_MAX */
  int32_t qmax;                /* (the type's full range); their intersection with the type's
                                  range must not be empty */
} q8_gemm_epilogue;

/* Defaults as listed above. */
Q8_API q8_status q8_gemm_epilogue_init(q8_gemm_epilogue *epilogue);

/* C = epilogue(A · B) with zero-point corrections, u8 activations.
 * a_zero_point in [0, 255]; b_zero_points: NULL with count 0 (all zero), or `b_zero_point_count`
 * = 1 (per tensor) or N (per column) entries in [-128, 127]. C's element type is the epilogue's
 * output_dtype; ldc counts elements of that type. */
Q8_API q8_status q8_gemm_u8s8(q8_transpose trans_a, q8_transpose trans_b,
                              int64_t m, int64_t n, int64_t k,
                              const uint8_t *a, int64_t lda, int32_t a_zero_point,
                              const int8_t *b, int64_t ldb,
                              const int32_t *b_zero_points, size_t b_zero_point_count,
                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc);

/* The same with s8 activations; a_zero_point in [-128, 127]. */
Q8_API q8_status q8_gemm_s8s8(q8_transpose trans_a, q8_transpose trans_b,
                              int64_t m, int64_t n, int64_t k,
                              const int8_t *a, int64_t lda, int32_t a_zero_point,
                              const int8_t *b, int64_t ldb,
                              const int32_t *b_zero_points, size_t b_zero_point_count,
                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc);

/* ---- Packed weights ------------------------------------------------------------------------- */

typedef struct q8_gemm_packed q8_gemm_packed; /* opaque, immutable once created */

/* Packs B (K x N, or stored N x K when trans_b) with its zero points (as for q8_gemm_u8s8) and
 * precomputes its column sums. B is copied: it may be freed afterwards. The handle holds no
 * thread or ISA state: it may be used by concurrent calls and on every ISA path. */
Q8_API q8_status q8_gemm_pack_b(q8_transpose trans_b, int64_t k, int64_t n,
                                const int8_t *b, int64_t ldb,
                                const int32_t *b_zero_points, size_t b_zero_point_count,
                                q8_gemm_packed **out);

/* Frees the handle. NULL is a no-op. */
Q8_API void q8_gemm_packed_destroy(q8_gemm_packed *packed);

/* The K and N the handle was packed with (either pointer may be NULL). */
Q8_API q8_status q8_gemm_packed_shape(const q8_gemm_packed *packed, int64_t *k, int64_t *n);

/* C = epilogue(A · B) with B packed: A is M x K (or stored K x M), K and N come from the handle. */
Q8_API q8_status q8_gemm_u8s8_packed(q8_transpose trans_a, int64_t m,
                                     const uint8_t *a, int64_t lda, int32_t a_zero_point,
                                     const q8_gemm_packed *b,
                                     const q8_gemm_epilogue *epilogue, void *c, int64_t ldc);
Q8_API q8_status q8_gemm_s8s8_packed(q8_transpose trans_a, int64_t m,
                                     const int8_t *a, int64_t lda, int32_t a_zero_point,
                                     const q8_gemm_packed *b,
                                     const q8_gemm_epilogue *epilogue, void *c, int64_t ldc);

#ifdef __cplusplus
}
#endif
#endif /* Q8_GEMM_H */
