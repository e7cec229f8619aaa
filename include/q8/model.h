/* q8 whole models: load an FP32 (or already quantized) ONNX model or a native .q8 file, quantize
 * it after training (dynamic, static or weight-only), save it, and run it in FP32 or INT8.
 *
 *   q8_model    an immutable graph of tensors and operators with its weights. Loading checks it
 *               completely (every tensor defined before use, shapes and dtypes consistent, every
 *               operator supported with supported attributes); later calls never re-check.
 *   q8_session  one model prepared for running: shapes resolved for a batch size, weights
 *               packed once, activation buffers allocated. Not safe for concurrent use; create
 *               one per thread (sessions of one model share its weights).
 *
 * Inputs and outputs are q8_tensor handles. A model input is usually f32 with a dynamic first
 * dimension (the batch). Outputs of a run are borrowed from the session and stay valid until the
 * next run or q8_session_destroy.
 *
 * Operators (ONNX names and semantics, opsets 11-17): Gemm, MatMul, Conv (groups and depthwise
 * included), Add, Mul, Relu, Clip, Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool,
 * Flatten, Reshape, Transpose, Concat, Softmax, Identity, Dropout (inference: identity) and
 * BatchNormalization (folded into the preceding Conv/Gemm when possible, else run as is); and the
 * quantized forms QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul,
 * QLinearConv, MatMulInteger, ConvInteger (ONNX numerics exactly: round half to even,
 * saturation, per-axis parameters, default zero points).
 */
#ifndef Q8_MODEL_H
#define Q8_MODEL_H

#include "q8/common.h"
#include "q8/observer.h"
#include "q8/prune.h"
#include "q8/quant.h"
#include "q8/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct q8_model q8_model;     /* opaque */
typedef struct q8_session q8_session; /* opaque */

/* ---- loading and saving ---------------------------------------------------------------- */

/* Loads an ONNX file (FP32, QDQ or QOperator). Q8_ERR_IO if the file cannot be read,
 * Q8_ERR_FORMAT for bytes that are not a valid ONNX model (the ONNX checker's message is kept),
 * Q8_ERR_UNSUPPORTED naming the node and operator q8 cannot run. */
Q8_API q8_status q8_model_load_onnx(const char *path, q8_model **out);
/* The same from bytes in memory (copied as needed; the buffer may be freed after the call). */
Q8_API q8_status q8_model_load_onnx_bytes(const void *data, size_t size, q8_model **out);

/* Loads a .q8 file. The file is memory-mapped and its weights are used in place (not copied);
 * every offset, count and checksum is verified first: Q8_ERR_FORMAT names what is wrong. */
Q8_API q8_status q8_model_load(const char *path, q8_model **out);
/* The same from bytes in memory, which are copied. */
Q8_API q8_status q8_model_load_bytes(const void *data, size_t size, q8_model **out);

/* Writes a .q8 file atomically: to a temporary file in the same directory, flushed, then renamed
 * over `path`; on failure `path` is untouched. */
Q8_API q8_status q8_model_save(const q8_model *model, const char *path);
/* Serializes into a buffer the library allocates; free it with q8_free. */
Q8_API q8_status q8_model_save_bytes(const q8_model *model, void **data, size_t *size);
/* Frees memory that q8 allocated for the caller (q8_model_save_bytes, q8_model_describe,
 * q8_model_export_onnx_bytes).
 * NULL is a no-op. */
Q8_API void q8_free(void *p);

Q8_API void q8_model_destroy(q8_model *model);

/* ---- ONNX export ------------------------------------------------------------------------- */

/* Writes `model` (FP32, or quantized static, dynamic or weight-only) as an ONNX file in QDQ form,
 * for ONNX Runtime, TensorRT or any ONNX tool: IR version 8, opset 13 of the default domain only
 * (no com.microsoft or ai.q8 operator), producer "q8". Graph inputs and outputs keep their names
 * and element types, and every dynamic dimension is the symbol "batch". Other values keep their
 * names; new ones are derived from the value they come from ("<value>_dq", ...) and unique. ONNX's
 * checker and strict type inference run on the result before anything is written (a failure is
 * Q8_ERR_INTERNAL with ONNX's message: a bug in the exporter).
 *
 * What each operator becomes (DQ = DequantizeLinear, Q = QuantizeLinear):
 *   f32 operators                 themselves; Reshape's shape and Clip's min/max become inputs again
 *   QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger  themselves
 *   QLinearConv                   DQ(x), DQ(W) (per channel on axis 0), DQ(int32 bias at scale
 *                                 x_scale * w_scale) -> Conv -> Q(y)
 *   QLinearMatMul, QGemm          DQ(a), DQ(b) [, DQ(C)] -> MatMul / Gemm -> Q(y); QGemm without
 *                                 y_scale -> Gemm with f32 output
 *   QLinearAdd, QLinearMul        DQ(a), DQ(b) -> Add / Mul -> Q(y)
 *   QLinearSigmoid, QLinearTanh, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat
 *                                 DQ of each input -> the float operator (NCHW) -> Q(y)
 *   MaxPool, Relu, Clip on a quantized tensor   DQ -> op -> Q with the same parameters (exact)
 *   Reshape, Flatten, Transpose, Concat, Identity on a quantized tensor   stay on the integers
 *   ai.q8 DynamicGemm / DynamicConv   DynamicQuantizeLinear(x) -> DQ -> Gemm / Conv with DQ(W)
 *   weight-only models            already DQ(INT8 W) -> the f32 operator
 * Refused with Q8_ERR_UNSUPPORTED naming the node and operator: pools with channels_last = 1,
 * Reshape with allowzero = 1 and a 0 in its shape, BatchNormalization in training mode, Relu or
 * Clip on a quantized tensor whose parameters the model does not state (a quantized graph input),
 * other f32 operators fed u8/s8, per-axis parameters where an operator takes them per tensor,
 * models above protobuf's 2 GiB.
 * Numerics: q8_model_load_onnx fuses the patterns back into the same quantized operators, bit for
 * bit. ONNX Runtime 1.20 gives the same bits on the static digits models with all graph
 * optimizations, and at most one quantization step apart with none; dynamic models differ
 * slightly (ONNX Runtime computes their Gemm/Conv in f32). docs/ONNX.md has the details.
 *
 * Atomic like q8_model_save: a temporary file in the same directory, flushed, then renamed over
 * `path`; on failure `path` is untouched. Q8_ERR_IO if it cannot be written. */
Q8_API q8_status q8_model_export_onnx(const q8_model *model, const char *path);
/* The same into a buffer the library allocates; free it with q8_free. */
Q8_API q8_status q8_model_export_onnx_bytes(const q8_model *model, void **data, size_t *size);

/* ---- looking inside ---------------------------------------------------------------------- */

Q8_API q8_status q8_model_input_count(const q8_model *model, size_t *count);
Q8_API q8_status q8_model_output_count(const q8_model *model, size_t *count);
/* Name of input/output `index`: a string owned by the model. */
Q8_API q8_status q8_model_input_name(const q8_model *model, size_t index, const char **name);
Q8_API q8_status q8_model_output_name(const q8_model *model, size_t index, const char **name);
/* Element type and shape of input `index`; a dynamic dimension (the batch) reads as -1.
 * `shape` has room for `capacity` dims; *rank receives the rank. */
Q8_API q8_status q8_model_input_info(const q8_model *model, size_t index, q8_dtype *dtype,
                                     int64_t *shape, size_t capacity, size_t *rank);
/* Number of operators, and bytes of weights as stored (what the file spends on constants). */
Q8_API q8_status q8_model_node_count(const q8_model *model, size_t *count);
Q8_API q8_status q8_model_weight_bytes(const q8_model *model, size_t *bytes);
/* Node `index` (graph order): its name, domain ("" for ONNX), operator type and numbers of
 * inputs/outputs; strings owned by the model. Any out-pointer may be NULL. */
Q8_API q8_status q8_model_node_info(const q8_model *model, size_t index, const char **name,
                                    const char **domain, const char **op, size_t *input_count,
                                    size_t *output_count);
/* Name of input / output `i` of node `index`; NULL for an omitted optional one. */
Q8_API q8_status q8_model_node_input(const q8_model *model, size_t index, size_t i, const char **tensor);
Q8_API q8_status q8_model_node_output(const q8_model *model, size_t index, size_t i, const char **tensor);
/* A human-readable description (one line per operator: name, type, compute precision, input
 * and output tensors with dtypes, shapes and quantization parameters; then totals), or JSON
 * when `json` is non-zero. *text is allocated by q8; free it with q8_free. */
Q8_API q8_status q8_model_describe(const q8_model *model, int json, char **text);

/* ---- running ----------------------------------------------------------------------------- */

/* Prepares `model` for inputs whose dynamic dimensions take the value `batch` (>= 1). The model
 * must outlive the session. */
Q8_API q8_status q8_session_create(const q8_model *model, int64_t batch, q8_session **out);
Q8_API void q8_session_destroy(q8_session *session);
/* Runs the model. `inputs` holds one tensor per model input, in order, with the input's dtype and
 * the session's shape (Q8_ERR_SHAPE / Q8_ERR_DTYPE name the input otherwise). */
Q8_API q8_status q8_session_run(q8_session *session, const q8_tensor *const *inputs, size_t count);
/* Output `index` of the last run (Q8_ERR_STATE before the first run), borrowed. */
Q8_API q8_status q8_session_output(const q8_session *session, size_t index, const q8_tensor **out);
/* Any named tensor of the last run (an intermediate activation, for feature extraction and
 * layer-by-layer comparison), borrowed; Q8_ERR_INVALID_ARGUMENT if no tensor has that name. The
 * value is what the model computes there: a quantized tensor carries its qparams. */
Q8_API q8_status q8_session_tensor(const q8_session *session, const char *name, const q8_tensor **out);

/* ---- pruning ----------------------------------------------------------------------------- */

/* A new FP32 model with pruned weights: the constant f32 weight of every Conv, Gemm and MatMul is
 * masked (prune.h) in the 2-D view rows = output channels, cols = reduction: Conv's [O, I*kh*kw],
 * Gemm's B as [N, K] whatever transB, MatMul's constant [K, N] B transposed. Each layer is pruned
 * to the options' target (global == 0) or all of them share one ranking (global != 0,
 * Q8_PRUNE_UNSTRUCTURED only). A layer the pattern does not fit (N:M with K not a multiple of m,
 * blocks that do not divide) stays dense, and so do the nodes named in `keep_dense`
 * (`keep_dense_count` names, borrowed for the call; e.g. a first convolution with 9 weights per
 * filter, which has nothing to spare). q8_model_describe shows each layer's sparsity. Biases are
 * never pruned. */
Q8_API q8_status q8_model_prune(const q8_model *model, const q8_prune_options *options, int global,
                                const char *const *keep_dense, size_t keep_dense_count,
                                q8_model **out);

/* The fraction of zero elements over the weights of every Conv / Gemm / MatMul (and their
 * quantized forms: an element equal to its zero point), and how many elements that is over. */
Q8_API q8_status q8_model_weight_sparsity(const q8_model *model, double *sparsity, size_t *elements);

/* ---- post-training quantization ---------------------------------------------------------- */

typedef enum q8_ptq_mode {
  Q8_PTQ_DYNAMIC = 0,     /* weights INT8 per output channel; activations quantized per batch at
                             run time (ranges measured on the batch), INT8 GEMM, f32 between ops */
  Q8_PTQ_STATIC = 1,      /* weights INT8; activation ranges calibrated once with observers over
                             calibration batches; INT8 from the first quantized op to the last */
  Q8_PTQ_WEIGHT_ONLY = 2  /* weights stored INT8 (4x smaller), dequantized once when a session is
                             prepared; compute in f32 */
} q8_ptq_mode;

/* Options; fill with q8_ptq_options_init, then change what you need. New fields are only
 * appended; `struct_size` tells the library which fields the caller knows. */
typedef struct q8_ptq_options {
  size_t struct_size;
  q8_ptq_mode mode;                  /* default Q8_PTQ_STATIC */
  int per_channel;                   /* non-zero (default): one weight scale per output channel */
  q8_scheme weight_scheme;           /* default Q8_SCHEME_SYMMETRIC_NARROW (s8 in [-127, 127]) */
  q8_scheme activation_scheme;       /* default Q8_SCHEME_ASYMMETRIC_U8 */
  q8_observer_kind observer;         /* static: activation observer, default Q8_OBSERVER_MINMAX */
  double percentile;                 /* for Q8_OBSERVER_PERCENTILE, default 99.99 */
  const char *const *keep_fp32;      /* names of nodes to leave in FP32 (borrowed for the call) */
  size_t keep_fp32_count;
  /* Called after each calibration batch and each quantized node with done <= total; return
   * non-zero to cancel (the call then fails with Q8_ERR_STATE). NULL: no progress. */
  int (*progress)(void *user, const char *stage, size_t done, size_t total);
  void *progress_user;
  /* Non-NULL: prune the FP32 weights first, exactly as q8_model_prune(model, prune,
   * prune_global, prune_keep_dense, prune_keep_dense_count), then calibrate and quantize the
   * pruned model (all borrowed for the call). */
  const q8_prune_options *prune;    /* default NULL: no pruning */
  int prune_global;                 /* default 0: each layer to the target sparsity */
  const char *const *prune_keep_dense;  /* node names whose weights are not pruned */
  size_t prune_keep_dense_count;
} q8_ptq_options;

Q8_API q8_status q8_ptq_options_init(q8_ptq_options *options);

/* Quantizes `model` (FP32) into a new model. Static mode needs calibration data: `batches`
 * holds `batch_count` batches, each as one tensor per model input (batch b's input i is
 * batches[b * input_count + i]); the other modes ignore it (pass NULL, 0). */
Q8_API q8_status q8_model_quantize(const q8_model *model, const q8_ptq_options *options,
                                   const q8_tensor *const *batches, size_t batch_count,
                                   q8_model **out);

/* Sensitivity analysis: for each quantizable node, quantizes that node alone (static, with
 * `options`) and measures the error it causes at the model's first output over `batches` (the
 * calibration batches are reused as evaluation data): the mean squared error relative to the
 * mean square of the FP32 output. Results are sorted worst first; names are owned by the result.
 * Free with q8_sensitivity_destroy. */
typedef struct q8_sensitivity q8_sensitivity;
Q8_API q8_status q8_model_sensitivity(const q8_model *model, const q8_ptq_options *options,
                                      const q8_tensor *const *batches, size_t batch_count,
                                      q8_sensitivity **out);
Q8_API q8_status q8_sensitivity_count(const q8_sensitivity *s, size_t *count);
Q8_API q8_status q8_sensitivity_get(const q8_sensitivity *s, size_t index, const char **node,
                                    double *relative_error);
Q8_API void q8_sensitivity_destroy(q8_sensitivity *s);

/* ---- model surgery: feature extraction and heads ----------------------------------------- */

/* For transfer learning: cut a trained (FP32 or quantized) model at its features, and put a new
 * head on them. Both calls make a new model and leave theirs untouched; the new model shares the
 * weights of the models it comes from (no bytes are copied) and keeps them alive, so those may
 * be destroyed first.
 *
 * Tensor names. A name is any tensor the model computes: a graph input or a node's output, not a
 * constant; q8_model_describe lists them. On a model made by q8_model_quantize the FP32 model's
 * names work too: static quantization calls an activation's INT8 form "<FP32 name>_quantized"
 * (its parameters "<FP32 name>_scale" and "_zero_point") and keeps the FP32 name only where an
 * f32 form remains, so a name the model lacks is looked up as "<name>_quantized". One FP32 tensor
 * has no INT8 counterpart: the output of a Conv/Gemm/MatMul whose only consumer is a Relu (the
 * quantized operator clamps at the ReLU and writes the Relu's output) — name the Relu's output.
 * An unknown name fails with Q8_ERR_INVALID_ARGUMENT naming it and listing the computed tensors. */

/* A new model that computes only the tensors named in `outputs` (`count` >= 1 names, borrowed for
 * the call), its outputs in that order: their producers and everything upstream of them. Nodes,
 * constants and inputs that none of them needs are dropped. With `dequantize` non-zero, an output
 * that is u8/s8 gets a DequantizeLinear with the parameters the model states for it (those of
 * the quantized operator that computed it, followed through Relu, Clip, MaxPool, Flatten,
 * Reshape, Transpose and Identity), so features come out f32, under the FP32 name where it is
 * free; with zero, the tensor comes out as the model holds it (the session's output carries its
 * qparams). A session on the new model computes what q8_session_tensor shows for the tensor on
 * the full model, bit for bit (with `dequantize`, exactly q8_dequantize of it).
 * Q8_ERR_INVALID_ARGUMENT: count 0, a NULL or unknown name, a constant, a tensor named twice
 * (also by its FP32 and its INT8 name). Q8_ERR_UNSUPPORTED: `dequantize` on a quantized tensor
 * whose parameters the model does not state (a u8 graph input: they arrive with the data). */
Q8_API q8_status q8_model_extract(const q8_model *model, const char *const *outputs, size_t count,
                                  int dequantize, q8_model **out);

/* `head` on top of `base`: input i of `head` reads base's tensor connect[i] (`connect_count` ==
 * the head's number of inputs; names borrowed for the call). The new model computes what the
 * connected tensors need of `base` (base outputs nothing connects are dropped, with the nodes
 * only they needed; base's needed inputs stay its inputs), then every node of `head`; its
 * outputs are the head's. Swapping a head is q8_model_extract at the features, then this; an
 * FP32 head on an INT8 backbone is the usual case.
 * Types: head input i must have the dtype of the tensor it reads, except that an f32 input
 * connected by the FP32 name of an INT8 activation reads it dequantized (as q8_model_extract
 * with `dequantize`); Q8_ERR_DTYPE names both tensors otherwise. Shapes: static dimensions must
 * agree where both tensors' shapes are stated (Q8_ERR_SHAPE names both); intermediate tensors
 * often have no stated shape, and then a mismatch fails q8_session_create, naming the head's node.
 * Names: head tensors and nodes keep their names unless base's part uses them already; those get
 * the suffix "_head" (or "_head2", "_head3", ... if that is taken too). The result is validated
 * like a loaded model. Q8_ERR_INVALID_ARGUMENT: connect_count 0 or not the head's input count, a
 * NULL or unknown name. */
Q8_API q8_status q8_model_append(const q8_model *base, const q8_model *head,
                                 const char *const *connect, size_t connect_count, q8_model **out);

#ifdef __cplusplus
}
#endif

#endif /* Q8_MODEL_H */
