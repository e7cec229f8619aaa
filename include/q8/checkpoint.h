/* q8 — streaming weight-only quantization of large checkpoints and ONNX models.
 *
 * Quantizes a checkpoint or model that may be far larger than memory: the input (safetensors: a
 * JSON header and raw little-endian tensors; or an ONNX model, whose initializers above 2 GiB live
 * in external data files) is memory-mapped and read lazily, a oneTBB flow graph quantizes
 * row blocks of its tensors concurrently (read -> calibrate -> quantize -> write), a limiter holds
 * the bytes in flight (input pages touched, output buffers) under `max_memory`, and the .q8 output
 * is written as blocks finish, into a temporary file renamed over the output at the end (nothing
 * is left behind on failure or cancellation).
 *
 * The output is a .q8 model with no inputs and one f32 output per checkpoint tensor, under the
 * checkpoint's names, so a session on it yields the dequantized tensors (and q8_session_tensor
 * the integer codes). A quantized tensor W [rows, cols] (rows = output channels, as PyTorch and
 * safetensors store Linear weights) becomes constants "<name>_quantized", "<name>_scale" (and
 * "<name>_zero_point") and one node producing "<name>":
 *  - Q8_WEIGHTS_INT8_PER_CHANNEL: s8 codes in [-127, 127], one f32 scale per row (max|row| / 127),
 *    DequantizeLinear with axis 0;
 *  - Q8_WEIGHTS_INT4_GROUPED: codes 0..15 packed two per byte (low nibble first) in u8
 *    [rows, ceil(cols / 2)], per group of `group_size` consecutive values of a row an f32 scale
 *    and a zero point 0..15 (asymmetric min/max of the group, zero exactly representable), in
 *    f32 [rows, groups] and u8 [rows, groups]; node ai.q8 DequantizeBlockwise
 *    (docs/QUANTIZED_OPS.md). A row whose length is not a multiple of group_size ends in a short
 *    group.
 * Tensors that are not 2-D floating point, or empty, or smaller than `min_elements`, or named in
 * `keep_fp32`, are stored as f32 (F16 and BF16 widened exactly) or as their integer type
 * (I8, U8, I32) unchanged. Input dtypes: F32, F16, BF16, I8, U8, I32; others fail with
 * Q8_ERR_UNSUPPORTED naming the tensor. The same input and options always give the same bytes,
 * whatever the thread count and memory budget.
 *
 * ONNX input (a path ending in ".onnx", or a file whose first byte is 0x08, ModelProto's first
 * field, and that is not a safetensors file): the model is loaded as q8_model_load_onnx does
 * (external data mapped, not copied) and the output is the *runnable* model, same inputs and
 * outputs. Each f32 2-D initializer with at least `min_elements` values, not in `keep_fp32`, whose
 * every use is the weight operand B (input 1) of a MatMul or Gemm, is quantized per output channel
 * and replaced by its constants and node(s) producing the original name, placed before its
 * consumers; every other initializer stays as it was. Output channels are the columns of B
 * [K, N] for MatMul and Gemm (transB = 0) and the rows for Gemm with transB = 1 (B [N, K]); uses
 * that disagree leave the weight f32. Rows: exactly as above. Columns:
 *  - INT8: codes s8 [K, N] as stored, scales and zero points [N] (max over the column / 127),
 *    DequantizeLinear with axis 1; the scales need a first pass over the whole tensor, so such a
 *    weight is read twice (memory stays capped);
 *  - INT4: groups run along K, so the codes are stored for W^T: u8 [N, ceil(K / 2)], scales and
 *    zero points [N, groups], then ai.q8 DequantizeBlockwise ("<name>_transposed" [N, K]) and a
 *    Transpose (perm 1, 0) named "<name>_transpose" producing "<name>".
 * The numbers are those of the rows of W^T, bit for bit. keep_fp32 names initializers.
 */
#ifndef Q8_CHECKPOINT_H
#define Q8_CHECKPOINT_H

#include "q8/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum q8_weight_format {
  Q8_WEIGHTS_INT8_PER_CHANNEL = 0,
  Q8_WEIGHTS_INT4_GROUPED = 1
} q8_weight_format;

/* Options; fill with q8_checkpoint_options_init. New fields are only appended. */
typedef struct q8_checkpoint_options {
  size_t struct_size;
  q8_weight_format format;          /* default Q8_WEIGHTS_INT8_PER_CHANNEL */
  uint32_t group_size;              /* INT4: 32, 64 (default) or 128 */
  uint64_t max_memory;              /* bytes in flight (input pages, buffers); default 512 MiB;
                                       at least 16 MiB (Q8_ERR_INVALID_ARGUMENT below) */
  size_t threads;                   /* default 0: the run-time setting */
  uint64_t min_elements;            /* smaller 2-D tensors stay f32; default 4096 */
  const char *const *keep_fp32;     /* tensor names to keep unquantized (borrowed for the call) */
  size_t keep_fp32_count;
  /* Called as blocks are written with done <= total (bytes of input), from one thread at a time
   * (not necessarily the caller's); return non-zero to cancel (the call then fails with
   * Q8_ERR_STATE and writes nothing). NULL: no progress. */
  int (*progress)(void *user, const char *stage, size_t done, size_t total);
  void *progress_user;
} q8_checkpoint_options;

Q8_API q8_status q8_checkpoint_options_init(q8_checkpoint_options *options);

/* What a run did. Set struct_size (sizeof) before the call; fields past it are not written. */
typedef struct q8_checkpoint_report {
  size_t struct_size;
  uint64_t input_bytes;             /* tensor bytes read */
  uint64_t output_bytes;            /* size of the .q8 file written */
  size_t tensors;                   /* tensors in the checkpoint */
  size_t quantized_tensors;
  uint64_t peak_in_flight_bytes;    /* the limiter's high-water mark (<= max_memory) */
  double seconds;                   /* wall time of the call */
} q8_checkpoint_report;

/* Quantizes the safetensors file or ONNX model `input` into the .q8 file `output` (atomic).
 * `report` may be NULL (for ONNX, `tensors` counts the initializers q8 holds). Q8_ERR_FORMAT names
 * what is wrong with a malformed input (header length, JSON, a tensor's dtype, shape or offsets,
 * overlapping or out-of-file data; for ONNX, q8_model_load_onnx's errors, external data
 * included); Q8_ERR_UNSUPPORTED for ONNX models q8 cannot load; Q8_ERR_IO carries strerror. */
Q8_API q8_status q8_checkpoint_quantize(const char *input, const char *output,
                                        const q8_checkpoint_options *options,
                                        q8_checkpoint_report *report);

#ifdef __cplusplus
}
#endif

#endif /* Q8_CHECKPOINT_H */
