/* The one SWIG interface of q8: Java, C#, Go and Python are all generated from this file and the
 * public headers it includes (swig -c++ -<language> ... bindings/q8.i).
 *
 * What a language gets:
 *  - every public function whose parameters are scalars, strings, handles and option structs,
 *    under its name without the q8_ prefix (q8_quantize -> quantize), a failing q8_status raised
 *    as the language's error carrying q8_last_error(). A new function of that shape reaches every
 *    language with no binding work;
 *  - handle classes (Tensor, Observer, Model, Session) with constructors, factories and methods,
 *    freed by the language's deterministic close (and by its collector as a safety net);
 *  - the calls of facade.hpp over whole arrays (GEMM, fixed point, dynamic INT8 Linear, ...);
 *  - option structs as classes whose constructors fill the library's defaults.
 * Functions taking raw pointers to arrays or returning handles through pointers are %ignored
 * below and reached through the facade or a class method instead (nothing takes a bare pointer
 * whose length q8 cannot check).
 *
 * Each language's file (bindings/<language>/<language>.swg, included first) maps the facade's
 * fixed array parameter names to its arrays, q8_status and q8b::Error to its errors, and adds the
 * idiomatic touches (AutoCloseable, IDisposable, ...). */
%module q8

%{
#include "q8/q8.h"
#include "facade.hpp"
#include <memory>

/* SWIG-facing names of the opaque handles: %extend helpers are named <struct>_<method>, which for
 * q8_tensor would collide with the C API (q8_tensor_dtype, ...). */
typedef q8_tensor Q8Tensor;
typedef q8_observer Q8Observer;
typedef q8_model Q8Model;
typedef q8_session Q8Session;
typedef q8_partition_plan Q8PartitionPlan;
typedef q8_pipeline Q8Pipeline;
typedef q8_calibration Q8Calibration;
%}

/* int64_t is long on LP64 targets (Linux, macOS): what stdint.i must be told. */
#ifndef SWIGWORDSIZE32
#define SWIGWORDSIZE64
#endif
%include <stdint.i>
%include <std_string.i>

#if defined(SWIGPYTHON)
%include "python/python.swg"
#elif defined(SWIGJAVA)
%include "java/java.swg"
#elif defined(SWIGCSHARP)
%include "csharp/csharp.swg"
#elif defined(SWIGGO)
%include "go/go.swg"
#endif

/* ---- names ------------------------------------------------------------------------------- */
/* A language file may name things its own way (Java: camelCase) by defining Q8_OWN_NAMES and
 * its own renames: of several catch-all %renames the last one wins, so this one must then stay out. */
#ifndef Q8_OWN_NAMES
%rename("%(strip:[q8_])s") "";
#endif
%rename(DType) q8_dtype;
%rename(Status) q8_status;
%rename(Isa) q8_isa;
%rename(Scheme) q8_scheme;
%rename(ObserverKind) q8_observer_kind;
%rename(ObserverOptions) q8_observer_options;
%rename(Transpose) q8_transpose;
%rename(Rounding) q8_rounding;
%rename(FixedFunction) q8_fixed_function;
%rename(PtqMode) q8_ptq_mode;
%rename(PtqOptions) q8_ptq_options;
%rename(PrunePattern) q8_prune_pattern;
%rename(PruneNorm) q8_prune_norm;
%rename(PruneOptions) q8_prune_options;
%rename(SparseFormat) q8_sparse_format;
%rename(SparsePolicy) q8_sparse_policy;
%rename(Conv2dOptions) q8_conv2d_options;
%rename(PartitionBalance) q8_partition_balance;
%rename(PartitionOptions) q8_partition_options;
%rename(PipelineOptions) q8_pipeline_options;
%rename(WeightFormat) q8_weight_format;
%rename(CheckpointOptions) q8_checkpoint_options;
%rename(CheckpointReport) q8_checkpoint_report;

/* ---- what is reached another way --------------------------------------------------------- */
/* Handles through pointers, borrowed strings, raw arrays: class methods or facade calls. */
%ignore q8_tensor_create; %ignore q8_tensor_wrap; %ignore q8_tensor_clone; %ignore q8_tensor_destroy;
%ignore q8_tensor_reshape; %ignore q8_tensor_dtype; %ignore q8_tensor_rank; %ignore q8_tensor_shape;
%ignore q8_tensor_numel; %ignore q8_tensor_nbytes; %ignore q8_tensor_data; %ignore q8_tensor_get;
%ignore q8_tensor_set; %ignore q8_tensor_set_qparams_per_axis; %ignore q8_tensor_qparams_layout;
%ignore q8_tensor_get_qparams;
%ignore q8_scheme_dtype; %ignore q8_qparams_from_range;
%ignore q8_observer_create; %ignore q8_observer_destroy; %ignore q8_observer_channels;
%ignore q8_observer_range; %ignore q8_observer_qparams;
%ignore q8_model_load_onnx; %ignore q8_model_load_onnx_bytes; %ignore q8_model_load;
%ignore q8_model_load_bytes; %ignore q8_model_save_bytes; %ignore q8_free; %ignore q8_model_destroy;
%ignore q8_model_input_count; %ignore q8_model_output_count; %ignore q8_model_input_name;
%ignore q8_model_output_name; %ignore q8_model_input_info; %ignore q8_model_node_count;
%ignore q8_model_weight_bytes; %ignore q8_model_node_info; %ignore q8_model_node_input;
%ignore q8_model_node_output; %ignore q8_model_describe; %ignore q8_model_prune;
%ignore q8_model_weight_sparsity; %ignore q8_model_quantize; %ignore q8_model_sensitivity;
%ignore q8_model_export_onnx; %ignore q8_model_export_onnx_bytes;
%ignore q8_model_extract; %ignore q8_model_append;  /* name arrays: Model.extract / Model.append */
%ignore q8_sensitivity; %ignore q8_sensitivity_count; %ignore q8_sensitivity_get;
%ignore q8_sensitivity_destroy;
%ignore q8_session_create; %ignore q8_session_destroy; %ignore q8_session_run;
%ignore q8_session_output; %ignore q8_session_tensor;
%ignore q8_prune_mask; %ignore q8_prune_global_masks; %ignore q8_prune_sparsity;
%ignore q8_prune_schedule_cubic;
%ignore q8_conv2d_output_shape;
%ignore q8_observer_frozen;
/* Partition plans and pipelines: the PartitionPlan and Pipeline classes. */
%rename("$ignore", regextarget=1) "^q8_partition_plan_";
%rename("$ignore", regextarget=1) "^q8_pipeline_(create|destroy|run|output|output_count)$";
%ignore q8_partition_info;
%ignore q8_partition_options::struct_size; %ignore q8_pipeline_options::struct_size;
%ignore q8_partition_options_init; %ignore q8_pipeline_options_init;
/* Calibration: the Calibration class and Model.calibrate / quantizeCalibrated. The statistics'
 * flat arrays, widening and serialization exist for MPI-style reductions in C (docs/DISTRIBUTED.md). */
%ignore q8_model_calibrate; %ignore q8_model_quantize_calibrated;
%rename("$ignore", regextarget=1) "^q8_calibration_";
/* Checkpoints: checkpointQuantize(input, output, options) returns the report. */
%ignore q8_checkpoint_quantize; %ignore q8_checkpoint_options_init;
%ignore q8_checkpoint_options::struct_size; %ignore q8_checkpoint_options::keep_fp32;
%ignore q8_checkpoint_options::keep_fp32_count; %ignore q8_checkpoint_options::progress;
%ignore q8_checkpoint_options::progress_user; %ignore q8_checkpoint_report::struct_size;
/* QAT math over raw arrays (facade.hpp has the checked forms). */
%rename("$ignore", regextarget=1) "^q8_qat_";
%ignore q8_ptq_options::keep_fp32; %ignore q8_ptq_options::keep_fp32_count;
%ignore q8_ptq_options::progress; %ignore q8_ptq_options::progress_user;
%ignore q8_ptq_options::prune; %ignore q8_ptq_options::prune_keep_dense;
%ignore q8_ptq_options::prune_keep_dense_count;
%ignore q8_observer_options::struct_size; %ignore q8_ptq_options::struct_size;
%ignore q8_prune_options::struct_size; %ignore q8_conv2d_options::struct_size;
%ignore q8_observer_options_init; %ignore q8_ptq_options_init; %ignore q8_prune_options_init;
%ignore q8_conv2d_options_init;
/* GEMM, convolution and sparse kernels take raw arrays: facade.hpp has the checked forms. */
%ignore q8_gemm_epilogue; %ignore q8_gemm_epilogue_init; %ignore q8_gemm_packed;
%rename("$ignore", regextarget=1) "^q8_gemm_";
%rename("$ignore", regextarget=1) "^q8_conv2d_";
%rename("$ignore", regextarget=1) "^q8_sparse_(from_dense|to_dense|get_info|destroy|gemm)";
%ignore q8_sparse; %ignore q8_sparse_info;
/* Fixed point over arrays: facade.hpp. The scalar forms stay. */
%rename("$ignore", regextarget=1) "^q8_fixed_(from|to)_f";
%rename("$ignore", regextarget=1) "^q8_fixed_[a-z0-9_]*_q(7|15|31)$";
%ignore q8_fixed_dot_prod_q7; %ignore q8_fixed_dot_prod_q15; %ignore q8_fixed_dot_prod_q31;
%ignore q8_fixed_quantize_multiplier; %ignore q8_fixed_requantize_s8; %ignore q8_fixed_requantize_u8;
%ignore q8_fixed_lut_s8; %ignore q8_fixed_lut_u8;

/* Option structs: constructing one fills the library's defaults. */
%extend q8_observer_options { q8_observer_options() { auto *o = new q8_observer_options; q8b::check(q8_observer_options_init(o)); return o; } }
%extend q8_ptq_options { q8_ptq_options() { auto *o = new q8_ptq_options; q8b::check(q8_ptq_options_init(o)); return o; } }
%extend q8_conv2d_options { q8_conv2d_options() { auto *o = new q8_conv2d_options; q8b::check(q8_conv2d_options_init(o)); return o; } }
%extend q8_prune_options { q8_prune_options() { auto *o = new q8_prune_options; q8b::check(q8_prune_options_init(o)); return o; } }
%extend q8_partition_options { q8_partition_options() { auto *o = new q8_partition_options; q8b::check(q8_partition_options_init(o)); return o; } }
%extend q8_pipeline_options { q8_pipeline_options() { auto *o = new q8_pipeline_options; q8b::check(q8_pipeline_options_init(o)); return o; } }
%extend q8_checkpoint_options { q8_checkpoint_options() { auto *o = new q8_checkpoint_options; q8b::check(q8_checkpoint_options_init(o)); return o; } }
%extend q8_checkpoint_report { q8_checkpoint_report() { auto *r = new q8_checkpoint_report(); r->struct_size = sizeof *r; return r; } }

%{
/* Partition i's description (q8_partition_info), checked. */
static q8_partition_info q8b_partition_info(const q8_partition_plan *p, size_t i) {
  q8_partition_info info{};
  info.struct_size = sizeof info;
  q8b::check(q8_partition_plan_info(p, i, &info));
  return info;
}
/* The observer's channel count, which an output array's length must equal. */
static size_t q8b_observer_channels(const q8_observer *o, size_t out_len) {
  size_t n = 0;
  q8b::check(q8_observer_channels(o, &n));
  q8b::require_len("output", out_len, n);
  return n;
}
/* Observer results channel by channel (0 min, 1 max, 2 scale, 3 zero point). */
static double q8b_observer_pick(const q8_observer *o, size_t c, int what) {
  size_t n = 0;
  q8b::check(q8_observer_channels(o, &n));
  if (c >= n) q8b::fail(Q8_ERR_INVALID_ARGUMENT, "channel " + std::to_string(c) + " of " + std::to_string(n));
  std::vector<float> a(n), b(n);
  std::vector<int32_t> z(n);
  if (what < 2) {
    q8b::check(q8_observer_range(o, a.data(), b.data(), n));
    return what == 0 ? a[c] : b[c];
  }
  q8b::check(q8_observer_qparams(o, a.data(), z.data(), n));
  return what == 2 ? a[c] : z[c];
}
%}

/* ---- handles ----------------------------------------------------------------------------- */
%rename(Tensor) Q8Tensor;
%rename(Observer) Q8Observer;
%rename(Model) Q8Model;
%rename(Session) Q8Session;
%rename(PartitionPlan) Q8PartitionPlan;
%rename(Pipeline) Q8Pipeline;
%rename(Calibration) Q8Calibration;
%nodefaultctor Q8Calibration;
%nodefaultctor Q8Model;
%nodefaultctor Q8PartitionPlan;
struct Q8Tensor {};
struct Q8Observer {};
struct Q8Model {};
struct Q8Session {};
struct Q8PartitionPlan {};
struct Q8Pipeline {};
struct Q8Calibration {};
typedef Q8Tensor q8_tensor;
typedef Q8Observer q8_observer;
typedef Q8Model q8_model;
typedef Q8Session q8_session;
typedef Q8PartitionPlan q8_partition_plan;
typedef Q8Pipeline q8_pipeline;
typedef Q8Calibration q8_calibration;

%newobject Q8Tensor::fromF32; %newobject Q8Tensor::fromS8; %newobject Q8Tensor::fromU8;
%newobject Q8Tensor::fromS32; %newobject Q8Tensor::clone;
%newobject Q8Model::loadOnnx; %newobject Q8Model::loadOnnxBytes; %newobject Q8Model::load;
%newobject Q8Model::loadBytes; %newobject Q8Model::quantize;
%newobject Q8Model::extract; %newobject Q8Model::append;
%newobject Q8Session::output; %newobject Q8Session::tensor;
%newobject Q8PartitionPlan::create; %newobject Q8PartitionPlan::load; %newobject Q8PartitionPlan::loadBytes;
%newobject Q8PartitionPlan::model; %newobject Q8Pipeline::output;
%newobject Q8Model::calibrate; %newobject Q8Model::quantizeCalibrated;
%newobject Q8Calibration::toBytes; %newobject Q8Calibration::loadBytes;
%newobject q8b::quantize_tensor; %newobject q8b::dequantize_tensor; %newobject q8b::prune_mask;

%extend Q8Tensor {
  /* Zero-filled storage of `dtype` and shape `dims`. */
  Q8Tensor(q8_dtype dtype, const int64_t *dims, size_t ndims) { return q8b::new_tensor(dtype, dims, ndims); }
  ~Q8Tensor() { q8b::destroy_tensor($self); }
  /* A new tensor holding a copy of the array, with shape `dims` (element counts must agree). */
  static Q8Tensor *fromF32(const float *f32_in, size_t f32_in_len, const int64_t *dims, size_t ndims) {
    return q8b::tensor_from(Q8_DTYPE_F32, f32_in, f32_in_len, dims, ndims);
  }
  static Q8Tensor *fromS8(const int8_t *s8_in, size_t s8_in_len, const int64_t *dims, size_t ndims) {
    return q8b::tensor_from(Q8_DTYPE_S8, s8_in, s8_in_len, dims, ndims);
  }
  static Q8Tensor *fromU8(const uint8_t *u8_in, size_t u8_in_len, const int64_t *dims, size_t ndims) {
    return q8b::tensor_from(Q8_DTYPE_U8, u8_in, u8_in_len, dims, ndims);
  }
  static Q8Tensor *fromS32(const int32_t *s32_in, size_t s32_in_len, const int64_t *dims, size_t ndims) {
    return q8b::tensor_from(Q8_DTYPE_S32, s32_in, s32_in_len, dims, ndims);
  }
  Q8Tensor *clone() const { return q8b::clone_tensor($self); }

  q8_dtype dtype() const { return q8b::tensor_dtype($self); }
  size_t rank() const { size_t r = 0; q8b::check(q8_tensor_rank($self, &r)); return r; }
  /* Length of dimension i (0 <= i < rank). */
  int64_t dim(size_t i) const {
    int64_t d[Q8_MAX_RANK]; size_t r = 0;
    q8b::check(q8_tensor_rank($self, &r));
    if (i >= r) q8b::fail(Q8_ERR_SHAPE, "dimension " + std::to_string(i) + " of a rank-" + std::to_string(r) + " tensor");
    q8b::check(q8_tensor_shape($self, d, Q8_MAX_RANK));
    return d[i];
  }
  size_t numel() const { return q8b::tensor_numel($self); }
  size_t nbytes() const { size_t n = 0; q8b::check(q8_tensor_nbytes($self, &n)); return n; }
  void reshape(const int64_t *dims, size_t ndims) { q8b::numel_of(dims, ndims); q8b::check(q8_tensor_reshape($self, dims, ndims)); }

  /* Element copies in and out; the array's type must be the tensor's dtype and its length numel. */
  void copyFromF32(const float *f32_in, size_t f32_in_len) { q8b::copy_in($self, Q8_DTYPE_F32, f32_in, f32_in_len); }
  void copyFromS8(const int8_t *s8_in, size_t s8_in_len) { q8b::copy_in($self, Q8_DTYPE_S8, s8_in, s8_in_len); }
  void copyFromU8(const uint8_t *u8_in, size_t u8_in_len) { q8b::copy_in($self, Q8_DTYPE_U8, u8_in, u8_in_len); }
  void copyFromS32(const int32_t *s32_in, size_t s32_in_len) { q8b::copy_in($self, Q8_DTYPE_S32, s32_in, s32_in_len); }
  void copyToF32(float *f32_out, size_t f32_out_len) const { q8b::copy_out($self, Q8_DTYPE_F32, f32_out, f32_out_len); }
  void copyToS8(int8_t *s8_out, size_t s8_out_len) const { q8b::copy_out($self, Q8_DTYPE_S8, s8_out, s8_out_len); }
  void copyToU8(uint8_t *u8_out, size_t u8_out_len) const { q8b::copy_out($self, Q8_DTYPE_U8, u8_out, u8_out_len); }
  void copyToS32(int32_t *s32_out, size_t s32_out_len) const { q8b::copy_out($self, Q8_DTYPE_S32, s32_out, s32_out_len); }

  /* Quantization parameters: per tensor, or per index of `axis` (scales and zero points of the
   * axis' length). */
  void setQParams(float scale, int32_t zero_point) { q8b::check(q8_tensor_set_qparams($self, scale, zero_point)); }
  void setQParamsPerAxis(int32_t axis, const float *f32_in, size_t f32_in_len, const int32_t *s32_in, size_t s32_in_len) {
    q8b::require_len("zero points", s32_in_len, f32_in_len);
    q8b::check(q8_tensor_set_qparams_per_axis($self, axis, f32_in, s32_in, f32_in_len));
  }
  void clearQParams() { q8b::check(q8_tensor_clear_qparams($self)); }
  /* 0 without parameters, 1 per tensor, else the axis' length. */
  size_t qparamsCount() const { size_t n = 0; q8b::check(q8_tensor_qparams_layout($self, nullptr, &n)); return n; }
  /* -1 per tensor (or none), else the axis. */
  int32_t qparamsAxis() const { int32_t a = -1; size_t n = 0; q8b::check(q8_tensor_qparams_layout($self, &a, &n)); return n ? a : -1; }
  float scale(size_t i) const {
    size_t n = 0; q8b::check(q8_tensor_qparams_layout($self, nullptr, &n));
    if (i >= n) q8b::fail(Q8_ERR_INVALID_ARGUMENT, "scale " + std::to_string(i) + " of " + std::to_string(n));
    std::vector<float> s(n); q8b::check(q8_tensor_get_qparams($self, s.data(), nullptr, n)); return s[i];
  }
  int32_t zeroPoint(size_t i) const {
    size_t n = 0; q8b::check(q8_tensor_qparams_layout($self, nullptr, &n));
    if (i >= n) q8b::fail(Q8_ERR_INVALID_ARGUMENT, "zero point " + std::to_string(i) + " of " + std::to_string(n));
    std::vector<int32_t> z(n); q8b::check(q8_tensor_get_qparams($self, nullptr, z.data(), n)); return z[i];
  }
  /* All scales / zero points at once (qparamsCount() entries): one call for any number of channels. */
  void copyScales(float *f32_out, size_t f32_out_len) const {
    size_t n = 0; q8b::check(q8_tensor_qparams_layout($self, nullptr, &n));
    q8b::require_len("scales", f32_out_len, n);
    if (n) q8b::check(q8_tensor_get_qparams($self, f32_out, nullptr, n));
  }
  void copyZeroPoints(int32_t *s32_out, size_t s32_out_len) const {
    size_t n = 0; q8b::check(q8_tensor_qparams_layout($self, nullptr, &n));
    q8b::require_len("zero points", s32_out_len, n);
    if (n) q8b::check(q8_tensor_get_qparams($self, nullptr, s32_out, n));
  }
}

%extend Q8Observer {
  Q8Observer(const q8_observer_options *options) {
    q8_observer *o = nullptr; q8b::check(q8_observer_create(options, &o)); return q8b::born(o);
  }
  /* A min/max (or other `kind`) observer of `scheme`, per tensor (axis -1) or per channel. */
  Q8Observer(q8_observer_kind kind, q8_scheme scheme, int32_t axis) {
    q8_observer_options opt; q8b::check(q8_observer_options_init(&opt));
    opt.kind = kind; opt.scheme = scheme; opt.axis = axis;
    q8_observer *o = nullptr; q8b::check(q8_observer_create(&opt, &o)); return q8b::born(o);
  }
  ~Q8Observer() { q8b::died($self); q8_observer_destroy($self); }
  void update(const q8_tensor *batch) { q8b::require_open(batch, "tensor"); q8b::check(q8_observer_update($self, batch)); }
  size_t channels() const { size_t n = 0; q8b::check(q8_observer_channels($self, &n)); return n; }
  /* The chosen range and parameters of channel c. */
  float minValue(size_t c) const { return q8b_observer_pick($self, c, 0); }
  float maxValue(size_t c) const { return q8b_observer_pick($self, c, 1); }
  float scale(size_t c) const { return q8b_observer_pick($self, c, 2); }
  int32_t zeroPoint(size_t c) const { return static_cast<int32_t>(q8b_observer_pick($self, c, 3)); }
  /* All channels at once (channels() entries each). */
  void copyMins(float *f32_out, size_t f32_out_len) const {
    std::vector<float> maxs(q8b_observer_channels($self, f32_out_len));
    q8b::check(q8_observer_range($self, f32_out, maxs.data(), maxs.size()));
  }
  void copyMaxs(float *f32_out, size_t f32_out_len) const {
    std::vector<float> mins(q8b_observer_channels($self, f32_out_len));
    q8b::check(q8_observer_range($self, mins.data(), f32_out, mins.size()));
  }
  void copyScales(float *f32_out, size_t f32_out_len) const {
    std::vector<int32_t> z(q8b_observer_channels($self, f32_out_len));
    q8b::check(q8_observer_qparams($self, f32_out, z.data(), z.size()));
  }
  void copyZeroPoints(int32_t *s32_out, size_t s32_out_len) const {
    std::vector<float> s(q8b_observer_channels($self, s32_out_len));
    q8b::check(q8_observer_qparams($self, s.data(), s32_out, s.size()));
  }
  void apply(q8_tensor *t) const { q8b::require_open(t, "tensor"); q8b::check(q8_observer_apply($self, t)); }
  void reset() { q8b::check(q8_observer_reset($self)); }
  /* While frozen, update() changes nothing (QAT freezes activation ranges after a few epochs). */
  void setFrozen(bool frozen) { q8b::check(q8_observer_set_frozen($self, frozen ? 1 : 0)); }
  bool frozen() const { int f = 0; q8b::check(q8_observer_frozen($self, &f)); return f != 0; }
}

%extend Q8Model {
  static Q8Model *loadOnnx(const char *path) { q8_model *m = nullptr; q8b::check(q8_model_load_onnx(path, &m)); return q8b::born(m); }
  static Q8Model *loadOnnxBytes(const void *bytes_in, size_t bytes_in_len) {
    q8_model *m = nullptr; q8b::check(q8_model_load_onnx_bytes(bytes_in, bytes_in_len, &m)); return q8b::born(m);
  }
  static Q8Model *load(const char *path) { q8_model *m = nullptr; q8b::check(q8_model_load(path, &m)); return q8b::born(m); }
  static Q8Model *loadBytes(const void *bytes_in, size_t bytes_in_len) {
    q8_model *m = nullptr; q8b::check(q8_model_load_bytes(bytes_in, bytes_in_len, &m)); return q8b::born(m);
  }
  ~Q8Model() { q8b::died($self); q8_model_destroy($self); }
  /* Writes a .q8 file atomically. */
  void save(const char *path) const { q8b::check(q8_model_save($self, path)); }
  /* Writes ONNX (opset 13, quantized operators in QDQ form) atomically. */
  void exportOnnx(const char *path) const { q8b::check(q8_model_export_onnx($self, path)); }
  size_t inputCount() const { size_t n = 0; q8b::check(q8_model_input_count($self, &n)); return n; }
  size_t outputCount() const { size_t n = 0; q8b::check(q8_model_output_count($self, &n)); return n; }
  std::string inputName(size_t i) const { const char *s = nullptr; q8b::check(q8_model_input_name($self, i, &s)); return s; }
  std::string outputName(size_t i) const { const char *s = nullptr; q8b::check(q8_model_output_name($self, i, &s)); return s; }
  size_t nodeCount() const { size_t n = 0; q8b::check(q8_model_node_count($self, &n)); return n; }
  size_t weightBytes() const { size_t n = 0; q8b::check(q8_model_weight_bytes($self, &n)); return n; }
  double weightSparsity() const { double s = 0; size_t n = 0; q8b::check(q8_model_weight_sparsity($self, &s, &n)); return s; }
  /* One line per operator (or JSON). */
  std::string describe(bool json) const {
    char *t = nullptr; q8b::check(q8_model_describe($self, json ? 1 : 0, &t));
    std::string s(t); q8_free(t); return s;
  }
  /* A quantized copy (post-training quantization). Static mode calibrates on `calibration`, one
   * tensor per model input per batch, in order; other modes take an empty list. */
  Q8Model *quantize(const q8_ptq_options *options, const q8b::TensorList *calibration) const {
    size_t inputs = 0; q8b::check(q8_model_input_count($self, &inputs));
    const size_t count = calibration ? calibration->size() : 0;
    if (inputs && count % inputs)
      q8b::fail(Q8_ERR_INVALID_ARGUMENT, "calibration holds " + std::to_string(count) + " tensors, not a multiple of the model's " + std::to_string(inputs) + " inputs");
    q8_model *m = nullptr;
    q8b::check(q8_model_quantize($self, options, count ? calibration->data() : nullptr, inputs ? count / inputs : 0, &m));
    return q8b::born(m);
  }
  /* A new model computing only tensor `name` (feature extraction; the FP32 name of an INT8
   * activation works too), dequantized to f32 if `dequantize` and it is INT8 (q8_model_extract). */
  Q8Model *extract(const char *name, bool dequantize) const {
    q8_model *m = nullptr; q8b::check(q8_model_extract($self, &name, 1, dequantize ? 1 : 0, &m)); return q8b::born(m);
  }
  /* The activation statistics static quantization would gather on `calibration` (batches as for
   * quantize), to merge with others' and quantize later (q8_model_calibrate). */
  Q8Calibration *calibrate(const q8_ptq_options *options, const q8b::TensorList *calibration) const {
    q8b::require_open(calibration, "tensor list");
    size_t inputs = 0; q8b::check(q8_model_input_count($self, &inputs));
    const size_t count = calibration->size();
    if (!inputs || count % inputs)
      q8b::fail(Q8_ERR_INVALID_ARGUMENT, "calibration holds " + std::to_string(count) + " tensors, not a multiple of the model's " + std::to_string(inputs) + " inputs");
    q8_calibration *c = nullptr;
    q8b::check(q8_model_calibrate($self, options, calibration->data(), count / inputs, &c));
    return q8b::born(c);
  }
  /* Static quantization with a calibration's parameters (q8_model_quantize_calibrated). */
  Q8Model *quantizeCalibrated(const q8_ptq_options *options, const q8_calibration *calibration) const {
    q8b::require_open(calibration, "calibration");
    q8_model *m = nullptr; q8b::check(q8_model_quantize_calibrated($self, options, calibration, &m)); return q8b::born(m);
  }
  /* `head` (one input) fed from this model's tensor `connect`; outputs are the head's (q8_model_append). */
  Q8Model *append(const q8_model *head, const char *connect) const {
    q8b::require_open(head, "model");
    q8_model *m = nullptr; q8b::check(q8_model_append($self, head, &connect, 1, &m)); return q8b::born(m);
  }
}

%extend Q8Session {
  /* A session of `model` for a batch size; the model must outlive it (language wrappers keep a
   * reference). */
  Q8Session(const q8_model *model, int64_t batch) {
    q8b::require_open(model, "model");
    q8_session *s = nullptr; q8b::check(q8_session_create(model, batch, &s)); return q8b::born(s);
  }
  ~Q8Session() { q8b::died($self); q8_session_destroy($self); }
  /* Runs the model on one tensor per input, in order. */
  void run(const q8b::TensorList *inputs) {
    q8b::require_open(inputs, "tensor list");
    q8b::check(q8_session_run($self, inputs->data(), inputs->size()));
  }
  /* Runs a single-input model. */
  void runOne(const q8_tensor *input) {
    q8b::require_open(input, "tensor");
    q8b::check(q8_session_run($self, &input, 1));
  }
  /* A copy of output i (or of any named tensor) of the last run. */
  Q8Tensor *output(size_t i) const { const q8_tensor *t = nullptr; q8b::check(q8_session_output($self, i, &t)); return q8b::clone_tensor(t); }
  Q8Tensor *tensor(const char *name) const { const q8_tensor *t = nullptr; q8b::check(q8_session_tensor($self, name, &t)); return q8b::clone_tensor(t); }
}

%extend Q8Calibration {
  ~Q8Calibration() { q8b::died($self); q8_calibration_destroy($self); }
  /* This calibration becomes that of both data sets, exactly (q8_calibration_merge). */
  void merge(const q8_calibration *other) { q8b::require_open(other, "calibration"); q8b::check(q8_calibration_merge($self, other)); }
  size_t activationCount() const { size_t n = 0; q8b::check(q8_calibration_activation_count($self, &n)); return n; }
  std::string activationName(size_t i) const { const char *s = nullptr; q8b::check(q8_calibration_activation_name($self, i, &s)); return s; }
  /* Its bytes (q8_calibration_save_bytes) as a u8 tensor [n], to send to another process or
   * store; loadBytes reads them back (checked: untrusted input). */
  Q8Tensor *toBytes() const {
    void *p = nullptr;
    size_t n = 0;
    q8b::check(q8_calibration_save_bytes($self, &p, &n));
    const std::unique_ptr<void, void (*)(void *)> saved(p, q8_free);
    const int64_t dims[1] = {int64_t(n)};
    return q8b::tensor_from(Q8_DTYPE_U8, p, n, dims, 1);
  }
  static Q8Calibration *loadBytes(const void *bytes_in, size_t bytes_in_len) {
    q8_calibration *c = nullptr; q8b::check(q8_calibration_load_bytes(bytes_in, bytes_in_len, &c)); return q8b::born(c);
  }
}

%extend Q8PartitionPlan {
  /* A plan for `model` by count and/or memory budget (q8_partition_plan_create); it keeps what it
   * needs of the model. */
  static Q8PartitionPlan *create(const q8_model *model, const q8_partition_options *options) {
    q8b::require_open(model, "model");
    q8_partition_plan *p = nullptr; q8b::check(q8_partition_plan_create(model, options, &p)); return q8b::born(p);
  }
  /* A plan saved as JSON for `model` (a file, or its bytes). */
  static Q8PartitionPlan *load(const q8_model *model, const char *path) {
    q8b::require_open(model, "model");
    q8_partition_plan *p = nullptr; q8b::check(q8_partition_plan_load(model, path, &p)); return q8b::born(p);
  }
  static Q8PartitionPlan *loadBytes(const q8_model *model, const void *bytes_in, size_t bytes_in_len) {
    q8b::require_open(model, "model");
    q8_partition_plan *p = nullptr; q8b::check(q8_partition_plan_load_bytes(model, bytes_in, bytes_in_len, &p)); return q8b::born(p);
  }
  ~Q8PartitionPlan() { q8b::died($self); q8_partition_plan_destroy($self); }
  size_t count() const { size_t n = 0; q8b::check(q8_partition_plan_count($self, &n)); return n; }
  /* Partition i: its first node's index, node count, weight bytes, FLOPs, inputs and outputs. */
  size_t firstNode(size_t i) const { return q8b_partition_info($self, i).first_node; }
  size_t nodeCount(size_t i) const { return q8b_partition_info($self, i).node_count; }
  uint64_t weightBytes(size_t i) const { return q8b_partition_info($self, i).weight_bytes; }
  uint64_t flops(size_t i) const { return q8b_partition_info($self, i).flops; }
  size_t inputCount(size_t i) const { return q8b_partition_info($self, i).input_count; }
  size_t outputCount(size_t i) const { return q8b_partition_info($self, i).output_count; }
  std::string inputName(size_t i, size_t j) const { const char *s = nullptr; q8b::check(q8_partition_plan_input($self, i, j, &s)); return s; }
  std::string outputName(size_t i, size_t j) const { const char *s = nullptr; q8b::check(q8_partition_plan_output($self, i, j, &s)); return s; }
  /* Partition i as a model of its own (weights shared). */
  Q8Model *model(size_t i) const { q8_model *m = nullptr; q8b::check(q8_partition_plan_model($self, i, &m)); return q8b::born(m); }
  /* The plan as a table, or as the JSON save() writes. */
  std::string describe(bool json) const {
    char *t = nullptr; q8b::check(q8_partition_plan_describe($self, json ? 1 : 0, &t));
    std::string s(t); q8_free(t); return s;
  }
  /* Writes the plan as JSON, atomically. */
  void save(const char *path) const { q8b::check(q8_partition_plan_save($self, path)); }
}

%extend Q8Pipeline {
  /* The plan's partitions prepared for `batch` rows as a oneTBB flow graph (micro-batches,
   * replicas); the pipeline keeps the weights alive, so the plan may be closed first. */
  Q8Pipeline(const q8_partition_plan *plan, int64_t batch, const q8_pipeline_options *options) {
    q8b::require_open(plan, "partition plan");
    q8_pipeline *p = nullptr; q8b::check(q8_pipeline_create(plan, batch, options, &p)); return q8b::born(p);
  }
  ~Q8Pipeline() { q8b::died($self); q8_pipeline_destroy($self); }
  /* Runs the whole batch, one tensor per model input in order. */
  void run(const q8b::TensorList *inputs) {
    q8b::require_open(inputs, "tensor list");
    q8b::check(q8_pipeline_run($self, inputs->data(), inputs->size()));
  }
  void runOne(const q8_tensor *input) {
    q8b::require_open(input, "tensor");
    q8b::check(q8_pipeline_run($self, &input, 1));
  }
  /* The whole model's number of outputs, and a copy of output i after the last run. */
  size_t outputCount() const { size_t n = 0; q8b::check(q8_pipeline_output_count($self, &n)); return n; }
  Q8Tensor *output(size_t i) const { const q8_tensor *t = nullptr; q8b::check(q8_pipeline_output($self, i, &t)); return q8b::clone_tensor(t); }
}

/* ---- the C API and the facade ------------------------------------------------------------- */
%warnfilter(302) q8_tensor;
%warnfilter(302) q8_observer;
%warnfilter(302) q8_model;
%warnfilter(302) q8_session;
%warnfilter(302) q8_partition_plan;
%warnfilter(302) q8_pipeline;
%warnfilter(302) q8_calibration;
%include "q8/common.h"
%include "q8/tensor.h"
%include "q8/quant.h"
%include "q8/observer.h"
%include "q8/fixed.h"
%include "q8/gemm.h"
%include "q8/conv.h"
%include "q8/qops.h"
%include "q8/prune.h"
%include "q8/sparse.h"
%include "q8/model.h"
%include "q8/qat.h"
%include "q8/calibration.h"
%include "q8/partition.h"
%include "q8/checkpoint.h"

%rename(QParams) q8b::QParams;
%rename(Multiplier) q8b::Multiplier;
%rename(TensorList) q8b::TensorList;
%rename(PackedMatrix) q8b::PackedMatrix;
%rename(DynamicLinear) q8b::DynamicLinear;
%rename(IntRange) q8b::IntRange;
%rename(QatParams) q8b::QatParams;
%rename(FakeQuantizer) q8b::FakeQuantizer;
%rename(BatchNormFold) q8b::BatchNormFold;
%include "facade.hpp"
