// What the bindings add to the C API, in every language: calls over whole arrays (checked
// lengths, no raw pointers), a tensor list, a dynamic INT8 linear layer, and small result structs.
// SWIG reads this file (bindings/q8.i %includes it) and the wrappers compile it.
//
// Array parameters use fixed names, which each language's typemaps map to its own arrays:
//   (const T *X_in, size_t X_in_len), (const T *X_in2, size_t X_in2_len)   read
//   (T *X_out, size_t X_out_len)                                           written
// with X = f32, s8, u8, s16, s32 (float, int8_t, uint8_t, int16_t, int32_t), and
// (const void *bytes_in, size_t bytes_in_len) for serialized models.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "support.hpp"

namespace q8b {

// Scale and zero point of one quantized range.
struct QParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// A real multiplier as a Q31 fixed-point multiplier and a power-of-two shift.
struct Multiplier {
  int32_t multiplier = 0;
  int32_t shift = 0;
};

// Handles made through the bindings and not yet destroyed (tensors, observers, models,
// sessions, packed matrices, layers): tests assert it returns to 0.
inline long live_handles() { return live_counter().load(); }

// ---- tensors -------------------------------------------------------------------------------

// Quantize `x` (f32) with parameters from its own min/max: per tensor (axis -1) or per index of
// `axis`. The result is a new tensor of the scheme's dtype carrying those parameters.
q8_tensor *quantize_tensor(const q8_tensor *x, q8_scheme scheme, int32_t axis);
// The f32 tensor a quantized one stands for.
q8_tensor *dequantize_tensor(const q8_tensor *q);
// Scale and zero point for the range [min, max] under `scheme` (q8_qparams_from_range).
QParams qparams_from_range(q8_scheme scheme, float min, float max);

// Tensors passed together (calibration batches, a model's inputs). add() copies the tensor.
class TensorList {
 public:
  TensorList() = default;
  TensorList(const TensorList &) = delete;
  TensorList &operator=(const TensorList &) = delete;
  ~TensorList() { clear(); }
  void add(const q8_tensor *t);
  size_t size() const { return items_.size(); }
  void clear();
#ifndef SWIG
  const q8_tensor *const *data() const { return items_.data(); }
#endif

 private:
  std::vector<q8_tensor *> items_;
};

// ---- GEMM ----------------------------------------------------------------------------------
// C [m, n] = epilogue((A - a_zero_point) (B - b_zero_point)), A row-major [m, k], B row-major
// [k, n] or, when b_transposed, [n, k] (a Linear layer's weight). bias: 0 or n int32 entries,
// added to the accumulators. scales: 1 or n f32 entries (the f32 forms: C = (acc + bias) * scale).

void gemm_u8s8_s32(int64_t m, int64_t n, int64_t k, const uint8_t *u8_in, size_t u8_in_len,
                   int32_t a_zero_point, const int8_t *s8_in, size_t s8_in_len, bool b_transposed,
                   int32_t b_zero_point, const int32_t *s32_in, size_t s32_in_len, int32_t *s32_out,
                   size_t s32_out_len);
void gemm_u8s8_f32(int64_t m, int64_t n, int64_t k, const uint8_t *u8_in, size_t u8_in_len,
                   int32_t a_zero_point, const int8_t *s8_in, size_t s8_in_len, bool b_transposed,
                   int32_t b_zero_point, const int32_t *s32_in, size_t s32_in_len,
                   const float *f32_in, size_t f32_in_len, float *f32_out, size_t f32_out_len);
void gemm_s8s8_s32(int64_t m, int64_t n, int64_t k, const int8_t *s8_in, size_t s8_in_len,
                   int32_t a_zero_point, const int8_t *s8_in2, size_t s8_in2_len, bool b_transposed,
                   int32_t b_zero_point, const int32_t *s32_in, size_t s32_in_len, int32_t *s32_out,
                   size_t s32_out_len);
// FP32 C = A B (OpenBLAS): the reference an INT8 result is compared with.
void gemm_f32(int64_t m, int64_t n, int64_t k, const float *f32_in, size_t f32_in_len,
              const float *f32_in2, size_t f32_in2_len, bool b_transposed, float *f32_out,
              size_t f32_out_len);

// B packed once for many products (q8_gemm_pack_b): weights [k, n], or [n, k] when transposed;
// zero points: none (all 0), one, or n.
class PackedMatrix {
 public:
  PackedMatrix(int64_t k, int64_t n, const int8_t *s8_in, size_t s8_in_len, bool b_transposed,
               const int32_t *s32_in, size_t s32_in_len);
  ~PackedMatrix();
  PackedMatrix(const PackedMatrix &) = delete;
  PackedMatrix &operator=(const PackedMatrix &) = delete;
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  // C (int32) = (A - a_zero_point) B + bias, A u8 [m, k].
  void multiplyS32(int64_t m, const uint8_t *u8_in, size_t u8_in_len, int32_t a_zero_point,
                    const int32_t *s32_in, size_t s32_in_len, int32_t *s32_out,
                    size_t s32_out_len) const;
  // C (f32) = ((A - a_zero_point) B + bias) * scales.
  void multiplyF32(int64_t m, const uint8_t *u8_in, size_t u8_in_len, int32_t a_zero_point,
                    const int32_t *s32_in, size_t s32_in_len, const float *f32_in,
                    size_t f32_in_len, float *f32_out, size_t f32_out_len) const;

 private:
  q8_gemm_packed *packed_ = nullptr;
  int64_t k_ = 0, n_ = 0;
};

// Dynamic quantization of an f32 array to u8 (ONNX DynamicQuantizeLinear: the range of the data
// widened to include 0, scale = range / 255, zero point rounded half to even).
QParams dynamic_quantize_u8(const float *f32_in, size_t f32_in_len, uint8_t *u8_out,
                            size_t u8_out_len);

// A Linear layer with INT8 weights (symmetric, narrow range, one scale per output feature,
// packed once) whose forward pass quantizes its input per call to u8 and multiplies in INT8:
// y = (x_q - zx) W_q^T * (sx * sw[o]) + bias. The layer PyTorch's dynamic quantization makes.
class DynamicLinear {
 public:
  // weights: f32 [out_features, in_features], row-major; bias: 0 or out_features entries.
  DynamicLinear(int64_t out_features, int64_t in_features, const float *f32_in, size_t f32_in_len,
                const float *f32_in2, size_t f32_in2_len);
  ~DynamicLinear();
  DynamicLinear(const DynamicLinear &) = delete;
  DynamicLinear &operator=(const DynamicLinear &) = delete;
  int64_t inFeatures() const { return in_; }
  int64_t outFeatures() const { return out_; }
  // x: [rows, in_features] -> y: [rows, out_features].
  void forward(int64_t rows, const float *f32_in, size_t f32_in_len, float *f32_out,
               size_t f32_out_len) const;
  // The stored INT8 weights [out_features, in_features] and their per-feature scales.
  void weights(int8_t *s8_out, size_t s8_out_len) const;
  void weightScales(float *f32_out, size_t f32_out_len) const;
  // Bytes the layer keeps for its weights (INT8 values, scales, bias), vs 4 per f32 weight.
  size_t weightBytes() const;

 private:
  int64_t out_ = 0, in_ = 0;
  std::vector<int8_t> w_;
  std::vector<float> scales_;
  std::vector<float> bias_;
  PackedMatrix *packed_ = nullptr;
};

// ---- fixed point (Qm.n in int8/int16/int32: q8/fixed.h) ------------------------------------

void fixed_from_f32_s8(const float *f32_in, size_t f32_in_len, int8_t *s8_out, size_t s8_out_len,
                       int frac_bits, q8_rounding rounding);
void fixed_from_f32_s16(const float *f32_in, size_t f32_in_len, int16_t *s16_out,
                        size_t s16_out_len, int frac_bits, q8_rounding rounding);
void fixed_from_f32_s32(const float *f32_in, size_t f32_in_len, int32_t *s32_out,
                        size_t s32_out_len, int frac_bits, q8_rounding rounding);
void fixed_to_f32_s8(const int8_t *s8_in, size_t s8_in_len, float *f32_out, size_t f32_out_len,
                     int frac_bits);
void fixed_to_f32_s16(const int16_t *s16_in, size_t s16_in_len, float *f32_out,
                      size_t f32_out_len, int frac_bits);
void fixed_to_f32_s32(const int32_t *s32_in, size_t s32_in_len, float *f32_out,
                      size_t f32_out_len, int frac_bits);
// Saturating element-wise arithmetic on Q7 / Q15 / Q31 arrays of equal length.
void fixed_add_q7(const int8_t *s8_in, size_t s8_in_len, const int8_t *s8_in2, size_t s8_in2_len,
                  int8_t *s8_out, size_t s8_out_len);
void fixed_mult_q7(const int8_t *s8_in, size_t s8_in_len, const int8_t *s8_in2, size_t s8_in2_len,
                   int8_t *s8_out, size_t s8_out_len);
void fixed_add_q15(const int16_t *s16_in, size_t s16_in_len, const int16_t *s16_in2,
                   size_t s16_in2_len, int16_t *s16_out, size_t s16_out_len);
void fixed_mult_q15(const int16_t *s16_in, size_t s16_in_len, const int16_t *s16_in2,
                    size_t s16_in2_len, int16_t *s16_out, size_t s16_out_len);
void fixed_add_q31(const int32_t *s32_in, size_t s32_in_len, const int32_t *s32_in2,
                   size_t s32_in2_len, int32_t *s32_out, size_t s32_out_len);
void fixed_mult_q31(const int32_t *s32_in, size_t s32_in_len, const int32_t *s32_in2,
                    size_t s32_in2_len, int32_t *s32_out, size_t s32_out_len);
int64_t fixed_dot_prod_q15(const int16_t *s16_in, size_t s16_in_len, const int16_t *s16_in2,
                           size_t s16_in2_len);
// real in [0, 1) -> Q31 multiplier and right shift (q8_fixed_quantize_multiplier).
Multiplier fixed_quantize_multiplier(double real);

// ---- quantization-aware training (q8/qat.h) ------------------------------------------------
// The exact fake quantization, STE / LSQ / LSQ+ gradients and BatchNorm folding a training loop
// calls. Arrays are outer * channels * inner elements, element (o, c, i) at
// (o * channels + c) * inner + i, one scale and (real-valued) zero point per channel c.

// The integer range of a bit width (q8_qat_range).
struct IntRange {
  int32_t qmin = 0;
  int32_t qmax = 0;
};
IntRange qat_range(int bits, bool symmetric, bool narrow);

// Scale and zero point of one range (q8_qat_qparams); the zero point is a real number, which
// QAT may learn (the forward rounds it).
struct QatParams {
  float scale = 1.0f;
  float zero_point = 0.0f;
};
QatParams qat_qparams(float min, float max, int32_t qmin, int32_t qmax);

// Fake quantization on [qmin, qmax] with `channels` scales and zero points: the forward
// (q8_qat_fake_quantize) and its gradients (q8_qat_ste_backward, q8_qat_lsq_backward). The
// parameters are copies (set_params, set_range); the last LSQ backward's per-channel gradients
// stay readable (scaleGrads, zeroPointGrads).
class FakeQuantizer {
 public:
  FakeQuantizer(size_t channels, int32_t qmin, int32_t qmax);
  ~FakeQuantizer();
  FakeQuantizer(const FakeQuantizer &) = delete;
  FakeQuantizer &operator=(const FakeQuantizer &) = delete;
  size_t channels() const { return scales_.size(); }
  int32_t qmin() const { return qmin_; }
  int32_t qmax() const { return qmax_; }
  // scales: `channels` entries; zero points: none (all 0) or `channels` entries.
  void setParams(const float *f32_in, size_t f32_in_len, const float *f32_in2, size_t f32_in2_len);
  // Parameters for the ranges [mins[c], maxs[c]] (q8_qat_qparams); zero points too unless the
  // range is symmetric (qmin == -qmax).
  void setRange(const float *f32_in, size_t f32_in_len, const float *f32_in2, size_t f32_in2_len);
  bool hasZeroPoints() const { return has_zero_points_; }
  void scales(float *f32_out, size_t f32_out_len) const;
  void zeroPoints(float *f32_out, size_t f32_out_len) const;  // zeros when there are none
  // y = fake_quantize(x) for x of outer * channels * inner elements; mask (u8_out): 0 elements
  // (not written) or one byte per element, 1 where the value was not clipped.
  void forward(size_t outer, size_t inner, const float *f32_in, size_t f32_in_len, float *f32_out,
               size_t f32_out_len, uint8_t *u8_out, size_t u8_out_len) const;
  // Straight-through estimator: dx = dy * mask.
  void steBackward(const float *f32_in, size_t f32_in_len, const uint8_t *u8_in, size_t u8_in_len,
                   float *f32_out, size_t f32_out_len) const;
  // LSQ / LSQ+ backward for x (f32_in) and dy (f32_in2): dx (f32_out; 0 elements = skip) and the
  // per-channel gradients of the scales and zero points, each times grad_scale, kept for
  // scaleGrads / zeroPointGrads.
  void lsqBackward(size_t outer, size_t inner, const float *f32_in, size_t f32_in_len,
                   const float *f32_in2, size_t f32_in2_len, float grad_scale, float *f32_out,
                   size_t f32_out_len);
  void scaleGrads(float *f32_out, size_t f32_out_len) const;
  void zeroPointGrads(float *f32_out, size_t f32_out_len) const;

 private:
  size_t elements(size_t outer, size_t inner) const;
  int32_t qmin_ = 0, qmax_ = 0;
  bool has_zero_points_ = false;
  std::vector<float> scales_, zero_points_, dscales_, dzero_points_;
};

// BatchNorm folded into the layer before it (q8_qat_fold_batchnorm) and the gradients of the
// fold (q8_qat_fold_batchnorm_backward), per output channel; weights are [channels, per_channel].
// BatchNorm's parameters are copies (setAffine, setStatistics); fold() keeps copies of the
// weights and bias for backward(), whose bias, gamma and beta gradients stay readable.
class BatchNormFold {
 public:
  BatchNormFold(size_t channels, size_t per_channel, float eps);
  ~BatchNormFold();
  BatchNormFold(const BatchNormFold &) = delete;
  BatchNormFold &operator=(const BatchNormFold &) = delete;
  size_t channels() const { return gamma_.size(); }
  size_t perChannel() const { return per_channel_; }
  float eps() const { return eps_; }
  // gamma and beta (the learnable affine), one per channel.
  void setAffine(const float *f32_in, size_t f32_in_len, const float *f32_in2, size_t f32_in2_len);
  // The running mean and variance (constants of the fold), one per channel.
  void setStatistics(const float *f32_in, size_t f32_in_len, const float *f32_in2,
                     size_t f32_in2_len);
  // weights (f32_in) and bias (f32_in2: 0 elements = none) -> folded weights (f32_out); the
  // folded bias is foldedBias().
  void fold(const float *f32_in, size_t f32_in_len, const float *f32_in2, size_t f32_in2_len,
            float *f32_out, size_t f32_out_len);
  void foldedBias(float *f32_out, size_t f32_out_len) const;
  // Gradients at the folded weights (f32_in) and bias (f32_in2) of the last fold() -> gradients
  // of its weights (f32_out; 0 elements = skip); biasGrads, gammaGrads, betaGrads hold the rest.
  void backward(const float *f32_in, size_t f32_in_len, const float *f32_in2, size_t f32_in2_len,
                float *f32_out, size_t f32_out_len);
  void biasGrads(float *f32_out, size_t f32_out_len) const;
  void gammaGrads(float *f32_out, size_t f32_out_len) const;
  void betaGrads(float *f32_out, size_t f32_out_len) const;

 private:
  size_t per_channel_ = 0;
  float eps_ = 0.0f;
  bool folded_ = false, has_bias_ = false;
  std::vector<float> gamma_, beta_, mean_, var_, weights_, bias_, folded_bias_;
  std::vector<float> dbias_, dgamma_, dbeta_;
};

// ---- pruning -------------------------------------------------------------------------------

// The keep (1) / prune (0) mask of f32 weights under `options` (q8_prune_mask).
q8_tensor *prune_mask(const q8_tensor *weights, const q8_prune_options *options);

// ---- checkpoints (q8/checkpoint.h) ----------------------------------------------------------

// Quantizes the safetensors file `input` into the .q8 file `output` (q8_checkpoint_quantize) and
// returns what the run did. `keep_fp32`: tensor names to leave unquantized, one per line ("" for none).
q8_checkpoint_report checkpoint_quantize(const std::string &input, const std::string &output,
                                         const q8_checkpoint_options *options, const std::string &keep_fp32);

}  // namespace q8b
