/* q8 tensors: dense, row-major (C order), rank 0 to Q8_MAX_RANK, with optional quantization
 * parameters (one scale and zero point for the whole tensor, or one pair per index of an axis). */
#ifndef Q8_TENSOR_H
#define Q8_TENSOR_H

#include "q8/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define Q8_MAX_RANK 8
/* Storage that q8 allocates is aligned to this many bytes. */
#define Q8_ALIGNMENT 64

typedef struct q8_tensor q8_tensor; /* opaque */

/* A new tensor that owns zero-filled, Q8_ALIGNMENT-aligned storage. `shape` (rank entries, each
 * >= 0; may be NULL when rank is 0) is copied. A rank-0 tensor holds one element. */
Q8_API q8_status q8_tensor_create(q8_dtype dtype, const int64_t *shape, size_t rank,
                                  q8_tensor **out);

/* A tensor over the caller's buffer `data` of `data_bytes` bytes (borrowed: it must outlive the
 * tensor and is never freed by q8). `data_bytes` must hold at least the tensor's bytes; `data` must
 * be aligned to the dtype's size. May be NULL only if the tensor has no elements. */
Q8_API q8_status q8_tensor_wrap(q8_dtype dtype, const int64_t *shape, size_t rank, void *data,
                                size_t data_bytes, q8_tensor **out);

/* A deep copy (owned storage, quantization parameters included), of an owned or wrapped tensor. */
Q8_API q8_status q8_tensor_clone(const q8_tensor *src, q8_tensor **out);

/* Copy the elements of `src` into `dst`: same dtype and element count (shapes may differ).
 * Quantization parameters are not copied. */
Q8_API q8_status q8_tensor_copy(const q8_tensor *src, q8_tensor *dst);

/* Frees the handle, and the storage if the tensor owns it. NULL is a no-op. */
Q8_API void q8_tensor_destroy(q8_tensor *t);

/* Give the tensor a new shape with the same element count. Per-axis quantization parameters stay
 * only if the axis still exists with the same length; otherwise Q8_ERR_SHAPE and nothing changes. */
Q8_API q8_status q8_tensor_reshape(q8_tensor *t, const int64_t *shape, size_t rank);

Q8_API q8_status q8_tensor_dtype(const q8_tensor *t, q8_dtype *out);
Q8_API q8_status q8_tensor_rank(const q8_tensor *t, size_t *out);
/* Copies the shape into `shape`, which has room for `capacity` entries (>= rank). */
Q8_API q8_status q8_tensor_shape(const q8_tensor *t, int64_t *shape, size_t capacity);
Q8_API q8_status q8_tensor_numel(const q8_tensor *t, size_t *out);
Q8_API q8_status q8_tensor_nbytes(const q8_tensor *t, size_t *out);
/* The element storage (borrowed; valid while the tensor lives). NULL for an empty tensor. */
Q8_API q8_status q8_tensor_data(const q8_tensor *t, void **out);

/* Element access by multi-index (`rank` entries, each in range). Values travel as double, which
 * holds every f32, s8, u8 and s32 value exactly. Setting an integer dtype accepts only integral
 * values inside the dtype's range: anything else is Q8_ERR_INVALID_ARGUMENT, never a silent wrap. */
Q8_API q8_status q8_tensor_get(const q8_tensor *t, const int64_t *index, size_t rank, double *out);
Q8_API q8_status q8_tensor_set(q8_tensor *t, const int64_t *index, size_t rank, double value);

/* ---- Quantization parameters -------------------------------------------------------------- */

/* Per-tensor parameters. `scale` finite and > 0; `zero_point` inside the dtype's range (s8:
 * [-128,127], u8: [0,255], s32: 0 only, f32: not allowed). */
Q8_API q8_status q8_tensor_set_qparams(q8_tensor *t, float scale, int32_t zero_point);

/* Per-axis parameters: `count` must equal the length of dimension `axis` (negative axes count from
 * the end). Arrays are copied. */
Q8_API q8_status q8_tensor_set_qparams_per_axis(q8_tensor *t, int32_t axis, const float *scales,
                                                const int32_t *zero_points, size_t count);

/* Drops any quantization parameters. */
Q8_API q8_status q8_tensor_clear_qparams(q8_tensor *t);

/* How the tensor is quantized: *count = 0 if it has no parameters, 1 and *axis = -1 for
 * per-tensor, else the axis (non-negative) and its length. Either pointer may be NULL. */
Q8_API q8_status q8_tensor_qparams_layout(const q8_tensor *t, int32_t *axis, size_t *count);

/* Copies the parameters out; `count` must equal the count reported by q8_tensor_qparams_layout.
 * Either array may be NULL to skip it. */
Q8_API q8_status q8_tensor_get_qparams(const q8_tensor *t, float *scales, int32_t *zero_points,
                                       size_t count);

#ifdef __cplusplus
}
#endif
#endif /* Q8_TENSOR_H */
