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
 * q8_gemm_* calls pack B on every call. Batched and strided-batched forms, and the FP32 reference
 * q8_gemm_f32 on OpenBLAS, follow below the single-matrix calls.
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


/* ---- Batched forms -------------------------------------------------------------------------- */
/* batch_count independent products C_i = epilogue(A_i · B_i), each exactly as the single call with
 * the same arguments (same numerics, same checks per matrix), all with the same shapes, leading
 * dimensions, zero points and epilogue (bias and per-column arrays shared by every batch).
 * batch_count >= 0 (0 does nothing). The C matrices must not overlap one another or the inputs.
 * q8 may run different batches on different threads (small problems) or one batch at a time
 * with the threads inside it (large ones); either way each C_i has the bits of the single call,
 * whatever the thread count.
 *
 * Pointer arrays: a[i], b[i], c[i] for i < batch_count (entries may repeat among a and b).
 * Strided: A_i = a + i * stride_a, B_i = b + i * stride_b, C_i = c + i * stride_c, strides in
 * elements (of C's epilogue type for stride_c) and >= 0; stride_b = 0 shares one B, which is then
 * packed once for all batches. stride_c must keep the C matrices apart: >= (m - 1) * ldc + n when
 * batch_count > 1 and C is not empty. */
Q8_API q8_status q8_gemm_u8s8_batched(q8_transpose trans_a, q8_transpose trans_b,
                                      int64_t m, int64_t n, int64_t k,
                                      const uint8_t *const *a, int64_t lda, int32_t a_zero_point,
                                      const int8_t *const *b, int64_t ldb,
                                      const int32_t *b_zero_points, size_t b_zero_point_count,
                                      const q8_gemm_epilogue *epilogue, void *const *c, int64_t ldc,
                                      int64_t batch_count);
Q8_API q8_status q8_gemm_s8s8_batched(q8_transpose trans_a, q8_transpose trans_b,
                                      int64_t m, int64_t n, int64_t k,
                                      const int8_t *const *a, int64_t lda, int32_t a_zero_point,
                                      const int8_t *const *b, int64_t ldb,
                                      const int32_t *b_zero_points, size_t b_zero_point_count,
                                      const q8_gemm_epilogue *epilogue, void *const *c, int64_t ldc,
                                      int64_t batch_count);
Q8_API q8_status q8_gemm_u8s8_strided_batched(q8_transpose trans_a, q8_transpose trans_b,
                                              int64_t m, int64_t n, int64_t k,
                                              const uint8_t *a, int64_t lda, int64_t stride_a,
                                              int32_t a_zero_point,
                                              const int8_t *b, int64_t ldb, int64_t stride_b,
                                              const int32_t *b_zero_points, size_t b_zero_point_count,
                                              const q8_gemm_epilogue *epilogue,
                                              void *c, int64_t ldc, int64_t stride_c,
                                              int64_t batch_count);
Q8_API q8_status q8_gemm_s8s8_strided_batched(q8_transpose trans_a, q8_transpose trans_b,
                                              int64_t m, int64_t n, int64_t k,
                                              const int8_t *a, int64_t lda, int64_t stride_a,
                                              int32_t a_zero_point,
                                              const int8_t *b, int64_t ldb, int64_t stride_b,
                                              const int32_t *b_zero_points, size_t b_zero_point_count,
                                              const q8_gemm_epilogue *epilogue,
                                              void *c, int64_t ldc, int64_t stride_c,
                                              int64_t batch_count);

/* Packed B per batch: b[i] is batch i's handle (handles may repeat; all must have the same K and
 * N, which give the shapes). */
Q8_API q8_status q8_gemm_u8s8_packed_batched(q8_transpose trans_a, int64_t m,
                                             const uint8_t *const *a, int64_t lda,
                                             int32_t a_zero_point,
                                             const q8_gemm_packed *const *b,
                                             const q8_gemm_epilogue *epilogue, void *const *c,
                                             int64_t ldc, int64_t batch_count);
Q8_API q8_status q8_gemm_s8s8_packed_batched(q8_transpose trans_a, int64_t m,
                                             const int8_t *const *a, int64_t lda,
                                             int32_t a_zero_point,
                                             const q8_gemm_packed *const *b,
                                             const q8_gemm_epilogue *epilogue, void *const *c,
                                             int64_t ldc, int64_t batch_count);
/* One packed B shared by every batch, A and C strided as above. */
Q8_API q8_status q8_gemm_u8s8_packed_strided_batched(q8_transpose trans_a, int64_t m,
                                                     const uint8_t *a, int64_t lda, int64_t stride_a,
                                                     int32_t a_zero_point, const q8_gemm_packed *b,
                                                     const q8_gemm_epilogue *epilogue,
                                                     void *c, int64_t ldc, int64_t stride_c,
                                                     int64_t batch_count);
Q8_API q8_status q8_gemm_s8s8_packed_strided_batched(q8_transpose trans_a, int64_t m,
                                                     const int8_t *a, int64_t lda, int64_t stride_a,
                                                     int32_t a_zero_point, const q8_gemm_packed *b,
                                                     const q8_gemm_epilogue *epilogue,
                                                     void *c, int64_t ldc, int64_t stride_c,
                                                     int64_t batch_count);

/* ---- FP32 reference (OpenBLAS) -------------------------------------------------------------- */
/* C = alpha * op(A) · op(B) + beta * C in f32, row-major, by OpenBLAS cblas_sgemm: the baseline
 * the INT8 paths are measured against and the fallback for dequantize-then-compute. Shapes and
 * leading dimensions as for q8_gemm_u8s8 (op(A) is M x K, op(B) K x N); m, n, k, and the leading
 * dimensions must fit in a C int (OpenBLAS's LP64 interface), else Q8_ERR_SHAPE. As in BLAS, with
 * beta == 0 C is only written (it may hold anything, NaN included); with k == 0 C = beta * C.
 * alpha and beta may be any float.
 *
 * Numerics are OpenBLAS's, not q8's: the summation order (and so the last bits) depends on the
 * OpenBLAS core, its blocking and its thread count (OPENBLAS_NUM_THREADS; q8's thread setting
 * does not apply here). Each element is within the usual bound of a length-K f32 dot product,
 * |error| <= ~K * 2^-24 * sum_k |A[i,k] * B[k,j]| (times |alpha|).
 *
 * Performance: OpenBLAS 0.3.21 does not recognise some recent CPUs and silently falls back to its
 * SSE3 (Prescott) kernels, ~6x slower than SkylakeX ones on AVX-512 parts. It picks the core when
 * the library loads, so set OPENBLAS_CORETYPE (e.g. SkylakeX, Haswell) in the environment before
 * the process starts; q8 cannot change it afterwards. q8_gemm_f32_backend tells which core runs. */
Q8_API q8_status q8_gemm_f32(q8_transpose trans_a, q8_transpose trans_b,
                             int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb,
                             float beta, float *c, int64_t ldc);

/* C = alpha * op(A) · op(B) + beta * C in f32 like q8_gemm_f32 (same arguments, same checks,
 * same BLAS conventions for beta == 0 and k == 0, but no C-int limit on sizes), by q8's own
 * kernels in a fixed summation order: each element of C is one fused multiply-add chain over
 * k = 0 .. K-1 in order from +0, then t = alpha * sum and, if beta != 0, t = fma(beta, C, t).
 * An element's bits therefore depend only on its row of op(A), its column of op(B), alpha, beta
 * and its old value: not on M or N, on where the row sits in the batch, on the thread count, or
 * on the ISA (AVX-512, AVX2 + FMA, NEON and the scalar path give identical bits). Row i of a
 * product equals row i of any other product that shares it -- a batch split into micro-batches,
 * replicas or ranks reproduces the whole batch's result exactly. q8's FP32 runtime (Gemm,
 * MatMul, Conv) uses this GEMM. Error bound as for q8_gemm_f32.
 *
 * Vectors run across columns of C, never along K, so B is repacked into column panels on every
 * call (a copy of K x N floats); for weights used more than once pack them with
 * q8_gemm_f32_pack_b. Speed against OpenBLAS: bench/bench_f32_gemm (docs/BENCHMARKS.md). */
Q8_API q8_status q8_gemm_f32_ordered(q8_transpose trans_a, q8_transpose trans_b,
                                     int64_t m, int64_t n, int64_t k, float alpha,
                                     const float *a, int64_t lda, const float *b, int64_t ldb,
                                     float beta, float *c, int64_t ldc);

typedef struct q8_gemm_f32_packed q8_gemm_f32_packed; /* opaque, immutable once created */

/* Packs f32 B (K x N, or stored N x K when trans_b) for q8_gemm_f32_ordered_packed. B is copied:
 * it may be freed afterwards. One layout for every ISA path; usable by concurrent calls. */
Q8_API q8_status q8_gemm_f32_pack_b(q8_transpose trans_b, int64_t k, int64_t n, const float *b,
                                    int64_t ldb, q8_gemm_f32_packed **out);

/* Frees the handle. NULL is a no-op. */
Q8_API void q8_gemm_f32_packed_destroy(q8_gemm_f32_packed *packed);

/* q8_gemm_f32_ordered with B packed (K and N from the handle): the same bits, without the copy. */
Q8_API q8_status q8_gemm_f32_ordered_packed(q8_transpose trans_a, int64_t m, float alpha,
                                            const float *a, int64_t lda,
                                            const q8_gemm_f32_packed *b, float beta, float *c,
                                            int64_t ldc);

/* A static string naming the FP32 backend and its active core, "OpenBLAS <version> <core>"
 * (e.g. "OpenBLAS 0.3.21 SkylakeX"; "... Prescott" means the slow fallback above). Never NULL. */
Q8_API const char *q8_gemm_f32_backend(void);

#ifdef __cplusplus
}
#endif
#endif /* Q8_GEMM_H */
