// The bindings' additions to the C API (facade.hpp), over the public C API only.
#include "facade.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace q8b {

namespace {
template <class F>
void same_length(const char *what, size_t have, size_t out_len, F &&call) {
  require_len(what, out_len, have);
  check(call());
}
}  // namespace

// ---- tensors -------------------------------------------------------------------------------

q8_tensor *quantize_tensor(const q8_tensor *x, q8_scheme scheme, int32_t axis) {
  require_open(x, "tensor");
  q8_observer_options o;
  check(q8_observer_options_init(&o));
  o.scheme = scheme;
  o.axis = axis;
  q8_observer *obs = nullptr;
  check(q8_observer_create(&o, &obs));
  std::unique_ptr<q8_observer, void (*)(q8_observer *)> keep(obs, q8_observer_destroy);
  check(q8_observer_update(obs, x));
  q8_dtype dtype = Q8_DTYPE_S8;
  check(q8_scheme_dtype(scheme, &dtype));
  int64_t dims[Q8_MAX_RANK];
  size_t rank = 0;
  check(q8_tensor_rank(x, &rank));
  check(q8_tensor_shape(x, dims, Q8_MAX_RANK));
  TensorGuard y{new_tensor(dtype, dims, rank)};
  if (tensor_numel(x) == 0 && axis < 0)
    check(q8_tensor_set_qparams(y.t, 1.0f, 0));
  else
    check(q8_observer_apply(obs, y.t));
  check(q8_quantize(x, y.t));
  return y.release();
}

q8_tensor *dequantize_tensor(const q8_tensor *q) {
  require_open(q, "tensor");
  int64_t dims[Q8_MAX_RANK];
  size_t rank = 0;
  check(q8_tensor_rank(q, &rank));
  check(q8_tensor_shape(q, dims, Q8_MAX_RANK));
  TensorGuard y{new_tensor(Q8_DTYPE_F32, dims, rank)};
  check(q8_dequantize(q, y.t));
  return y.release();
}

QParams qparams_from_range(q8_scheme scheme, float min, float max) {
  QParams p;
  check(q8_qparams_from_range(scheme, &min, &max, 1, &p.scale, &p.zero_point));
  return p;
}

void TensorList::add(const q8_tensor *t) {
  require_open(t, "tensor");
  items_.reserve(items_.size() + 1);  // so push_back cannot throw after the clone
  items_.push_back(clone_tensor(t));
}

void TensorList::clear() {
  for (q8_tensor *t : items_) destroy_tensor(t);
  items_.clear();
}

// ---- GEMM ----------------------------------------------------------------------------------

void gemm_u8s8_s32(int64_t m, int64_t n, int64_t k, const uint8_t *a, size_t a_len, int32_t a_zp,
                   const int8_t *b, size_t b_len, bool b_transposed, int32_t b_zp,
                   const int32_t *bias, size_t bias_len, int32_t *c, size_t c_len) {
  const auto e = make_epilogue(Q8_GEMM_EPILOGUE_S32, Q8_DTYPE_S32, n, bias, bias_len, nullptr, 0);
  gemm(m, n, k, a, a_len, a_zp, b, b_len, b_transposed, b_zp, e, c, c_len);
}

void gemm_u8s8_f32(int64_t m, int64_t n, int64_t k, const uint8_t *a, size_t a_len, int32_t a_zp,
                   const int8_t *b, size_t b_len, bool b_transposed, int32_t b_zp,
                   const int32_t *bias, size_t bias_len, const float *scales, size_t scales_len,
                   float *c, size_t c_len) {
  const auto e = make_epilogue(Q8_GEMM_EPILOGUE_DEQUANTIZE, Q8_DTYPE_F32, n, bias, bias_len, scales,
                               scales_len);
  gemm(m, n, k, a, a_len, a_zp, b, b_len, b_transposed, b_zp, e, c, c_len);
}

void gemm_s8s8_s32(int64_t m, int64_t n, int64_t k, const int8_t *a, size_t a_len, int32_t a_zp,
                   const int8_t *b, size_t b_len, bool b_transposed, int32_t b_zp,
                   const int32_t *bias, size_t bias_len, int32_t *c, size_t c_len) {
  const auto e = make_epilogue(Q8_GEMM_EPILOGUE_S32, Q8_DTYPE_S32, n, bias, bias_len, nullptr, 0);
  gemm(m, n, k, a, a_len, a_zp, b, b_len, b_transposed, b_zp, e, c, c_len);
}

void gemm_f32(int64_t m, int64_t n, int64_t k, const float *a, size_t a_len, const float *b,
              size_t b_len, bool b_transposed, float *c, size_t c_len) {
  const size_t mn = checked_mn(m, n, k);
  require_len("a", a_len, static_cast<size_t>(m) * static_cast<size_t>(k));
  require_len("b", b_len, static_cast<size_t>(k) * static_cast<size_t>(n));
  require_len("c", c_len, mn);
  check(q8_gemm_f32(Q8_NO_TRANSPOSE, b_transposed ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, m, n, k, 1.0f, a,
                    ld(k), b, ld(b_transposed ? k : n), 0.0f, c, ld(n)));
}

PackedMatrix::PackedMatrix(int64_t k, int64_t n, const int8_t *b, size_t b_len, bool b_transposed,
                           const int32_t *zps, size_t zps_len)
    : k_(k), n_(n) {
  checked_mn(0, n, k);
  require_len("b", b_len, static_cast<size_t>(k) * static_cast<size_t>(n));
  const int32_t zero = 0;
  check(q8_gemm_pack_b(b_transposed ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, k, n, b, ld(b_transposed ? k : n),
                       zps_len ? zps : &zero, zps_len ? zps_len : 1, &packed_));
  born(packed_);
}

PackedMatrix::~PackedMatrix() {
  died(packed_);
  q8_gemm_packed_destroy(packed_);
}

void PackedMatrix::multiplyS32(int64_t m, const uint8_t *a, size_t a_len, int32_t a_zp,
                                const int32_t *bias, size_t bias_len, int32_t *c,
                                size_t c_len) const {
  const size_t mn = checked_mn(m, n_, k_);
  require_len("a", a_len, static_cast<size_t>(m) * static_cast<size_t>(k_));
  require_len("c", c_len, mn);
  const auto e = make_epilogue(Q8_GEMM_EPILOGUE_S32, Q8_DTYPE_S32, n_, bias, bias_len, nullptr, 0);
  check(q8_gemm_u8s8_packed(Q8_NO_TRANSPOSE, m, a, ld(k_), a_zp, packed_, &e, c, ld(n_)));
}

void PackedMatrix::multiplyF32(int64_t m, const uint8_t *a, size_t a_len, int32_t a_zp,
                                const int32_t *bias, size_t bias_len, const float *scales,
                                size_t scales_len, float *c, size_t c_len) const {
  const size_t mn = checked_mn(m, n_, k_);
  require_len("a", a_len, static_cast<size_t>(m) * static_cast<size_t>(k_));
  require_len("c", c_len, mn);
  const auto e = make_epilogue(Q8_GEMM_EPILOGUE_DEQUANTIZE, Q8_DTYPE_F32, n_, bias, bias_len, scales,
                               scales_len);
  check(q8_gemm_u8s8_packed(Q8_NO_TRANSPOSE, m, a, ld(k_), a_zp, packed_, &e, c, ld(n_)));
}

QParams dynamic_quantize_u8(const float *x, size_t x_len, uint8_t *q, size_t q_len) {
  require_len("output", q_len, x_len);
  float lo = 0.0f, hi = 0.0f;  // the range always includes 0
  for (size_t i = 0; i < x_len; ++i) {
    if (std::isnan(x[i])) continue;
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi))
    fail(Q8_ERR_INVALID_ARGUMENT, "input holds an infinity: no finite range to quantize with");
  const QParams p = qparams_from_range(Q8_SCHEME_ASYMMETRIC_U8, lo, hi);
  const int64_t dims[1] = {static_cast<int64_t>(x_len)};
  const WrappedTensor xt = wrap(Q8_DTYPE_F32, dims, 1, x, x_len * sizeof(float));
  const WrappedTensor qt = wrap(Q8_DTYPE_U8, dims, 1, q, q_len);
  check(q8_tensor_set_qparams(qt.get(), p.scale, p.zero_point));
  check(q8_quantize(xt.get(), qt.get()));
  return p;
}

DynamicLinear::DynamicLinear(int64_t out_features, int64_t in_features, const float *w,
                             size_t w_len, const float *bias, size_t bias_len)
    : out_(out_features), in_(in_features) {
  checked_mn(0, out_features, in_features);
  const size_t rows = static_cast<size_t>(out_), cols = static_cast<size_t>(in_);
  require_len("weights", w_len, rows * cols);
  if (bias_len) require_len("bias", bias_len, rows);
  bias_.assign(bias, bias + bias_len);
  // Per output feature: symmetric narrow s8, scale = max|w| / 127 (q8_qparams_from_range).
  std::vector<float> mins(rows), maxs(rows);
  for (size_t r = 0; r < rows; ++r) {
    float lo = 0.0f, hi = 0.0f;
    for (size_t c = 0; c < cols; ++c) {
      const float v = w[r * cols + c];
      if (!std::isfinite(v)) fail(Q8_ERR_INVALID_ARGUMENT, "weights hold a NaN or an infinity");
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    mins[r] = lo;
    maxs[r] = hi;
  }
  scales_.resize(rows);
  std::vector<int32_t> zps(rows);
  if (rows)
    check(q8_qparams_from_range(Q8_SCHEME_SYMMETRIC_NARROW, mins.data(), maxs.data(), rows,
                                scales_.data(), zps.data()));
  w_.resize(rows * cols);
  if (rows && cols) {
    const int64_t dims[2] = {out_, in_};
    const WrappedTensor wt = wrap(Q8_DTYPE_F32, dims, 2, w, w_len * sizeof(float));
    const WrappedTensor qt = wrap(Q8_DTYPE_S8, dims, 2, w_.data(), w_.size());
    check(q8_tensor_set_qparams_per_axis(qt.get(), 0, scales_.data(), zps.data(), rows));
    check(q8_quantize(wt.get(), qt.get()));
  }
  packed_ = new PackedMatrix(in_, out_, w_.data(), w_.size(), true, nullptr, 0);
  born(this);
}

DynamicLinear::~DynamicLinear() {
  died(this);
  delete packed_;
}

void DynamicLinear::forward(int64_t rows, const float *x, size_t x_len, float *y,
                            size_t y_len) const {
  if (rows < 0) fail(Q8_ERR_SHAPE, "rows must be >= 0");
  const size_t r = static_cast<size_t>(rows);
  require_len("input", x_len, r * static_cast<size_t>(in_));
  require_len("output", y_len, r * static_cast<size_t>(out_));
  std::vector<uint8_t> xq(x_len);
  const QParams p = dynamic_quantize_u8(x, x_len, xq.data(), xq.size());
  std::vector<float> scales(scales_.size());
  for (size_t o = 0; o < scales.size(); ++o) scales[o] = p.scale * scales_[o];
  if (scales.empty()) return;
  packed_->multiplyF32(rows, xq.data(), xq.size(), p.zero_point, nullptr, 0, scales.data(),
                        scales.size(), y, y_len);
  if (!bias_.empty())
    for (size_t i = 0; i < r; ++i)
      for (size_t o = 0; o < bias_.size(); ++o) y[i * bias_.size() + o] += bias_[o];
}

void DynamicLinear::weights(int8_t *out, size_t out_len) const {
  require_len("output", out_len, w_.size());
  std::copy(w_.begin(), w_.end(), out);
}

void DynamicLinear::weightScales(float *out, size_t out_len) const {
  require_len("output", out_len, scales_.size());
  std::copy(scales_.begin(), scales_.end(), out);
}

size_t DynamicLinear::weightBytes() const {
  return w_.size() + (scales_.size() + bias_.size()) * sizeof(float);
}

// ---- fixed point ---------------------------------------------------------------------------

void fixed_from_f32_s8(const float *x, size_t n, int8_t *y, size_t y_len, int frac, q8_rounding r) {
  same_length("output", n, y_len, [&] { return q8_fixed_from_f32_s8(x, y, n, frac, r); });
}
void fixed_from_f32_s16(const float *x, size_t n, int16_t *y, size_t y_len, int frac,
                        q8_rounding r) {
  same_length("output", n, y_len, [&] { return q8_fixed_from_f32_s16(x, y, n, frac, r); });
}
void fixed_from_f32_s32(const float *x, size_t n, int32_t *y, size_t y_len, int frac,
                        q8_rounding r) {
  same_length("output", n, y_len, [&] { return q8_fixed_from_f32_s32(x, y, n, frac, r); });
}
void fixed_to_f32_s8(const int8_t *x, size_t n, float *y, size_t y_len, int frac) {
  same_length("output", n, y_len, [&] { return q8_fixed_to_f32_s8(x, y, n, frac); });
}
void fixed_to_f32_s16(const int16_t *x, size_t n, float *y, size_t y_len, int frac) {
  same_length("output", n, y_len, [&] { return q8_fixed_to_f32_s16(x, y, n, frac); });
}
void fixed_to_f32_s32(const int32_t *x, size_t n, float *y, size_t y_len, int frac) {
  same_length("output", n, y_len, [&] { return q8_fixed_to_f32_s32(x, y, n, frac); });
}

namespace {
template <class T, class F>
void binary(const T *a, size_t a_len, const T *b, size_t b_len, T *y, size_t y_len, F op) {
  require_len("second operand", b_len, a_len);
  require_len("output", y_len, a_len);
  check(op(a, b, y, a_len));
}
}  // namespace

void fixed_add_q7(const int8_t *a, size_t an, const int8_t *b, size_t bn, int8_t *y, size_t yn) {
  binary(a, an, b, bn, y, yn, q8_fixed_add_q7);
}
void fixed_mult_q7(const int8_t *a, size_t an, const int8_t *b, size_t bn, int8_t *y, size_t yn) {
  binary(a, an, b, bn, y, yn, q8_fixed_mult_q7);
}
void fixed_add_q15(const int16_t *a, size_t an, const int16_t *b, size_t bn, int16_t *y,
                   size_t yn) {
  binary(a, an, b, bn, y, yn, q8_fixed_add_q15);
}
void fixed_mult_q15(const int16_t *a, size_t an, const int16_t *b, size_t bn, int16_t *y,
                    size_t yn) {
  binary(a, an, b, bn, y, yn, q8_fixed_mult_q15);
}
void fixed_add_q31(const int32_t *a, size_t an, const int32_t *b, size_t bn, int32_t *y,
                   size_t yn) {
  binary(a, an, b, bn, y, yn, q8_fixed_add_q31);
}
void fixed_mult_q31(const int32_t *a, size_t an, const int32_t *b, size_t bn, int32_t *y,
                    size_t yn) {
  binary(a, an, b, bn, y, yn, q8_fixed_mult_q31);
}

int64_t fixed_dot_prod_q15(const int16_t *a, size_t an, const int16_t *b, size_t bn) {
  require_len("second operand", bn, an);
  int64_t r = 0;
  check(q8_fixed_dot_prod_q15(a, b, an, &r));
  return r;
}

Multiplier fixed_quantize_multiplier(double real) {
  Multiplier m;
  check(q8_fixed_quantize_multiplier(real, &m.multiplier, &m.shift));
  return m;
}

// ---- quantization-aware training ------------------------------------------------------------

namespace {
void copy_to(const char *what, const std::vector<float> &v, float *out, size_t out_len) {
  require_len(what, out_len, v.size());
  std::copy(v.begin(), v.end(), out);
}
}  // namespace

IntRange qat_range(int bits, bool symmetric, bool narrow) {
  IntRange r;
  check(q8_qat_range(bits, symmetric ? 1 : 0, narrow ? 1 : 0, &r.qmin, &r.qmax));
  return r;
}

QatParams qat_qparams(float min, float max, int32_t qmin, int32_t qmax) {
  QatParams p;
  check(q8_qat_qparams(&min, &max, 1, qmin, qmax, &p.scale, &p.zero_point));
  return p;
}

FakeQuantizer::FakeQuantizer(size_t channels, int32_t qmin, int32_t qmax) : qmin_(qmin), qmax_(qmax) {
  if (channels == 0) fail(Q8_ERR_SHAPE, "channels must be >= 1");
  if (qmin > qmax || qmin < -128 || qmax > 255)
    fail(Q8_ERR_INVALID_ARGUMENT, "the range [" + std::to_string(qmin) + ", " + std::to_string(qmax) +
                                      "] must have qmin <= qmax inside [-128, 255]");
  scales_.assign(channels, 1.0f);
  zero_points_.assign(channels, 0.0f);
  dscales_.assign(channels, 0.0f);
  dzero_points_.assign(channels, 0.0f);
  born(this);
}

FakeQuantizer::~FakeQuantizer() { died(this); }

void FakeQuantizer::setParams(const float *s, size_t s_len, const float *z, size_t z_len) {
  require_len("scales", s_len, scales_.size());
  if (z_len) require_len("zero points", z_len, scales_.size());  // checked before any change
  std::copy(s, s + s_len, scales_.begin());
  if (z_len)
    std::copy(z, z + z_len, zero_points_.begin());
  else
    std::fill(zero_points_.begin(), zero_points_.end(), 0.0f);
  has_zero_points_ = z_len != 0;
}

void FakeQuantizer::setRange(const float *mins, size_t mins_len, const float *maxs, size_t maxs_len) {
  require_len("mins", mins_len, scales_.size());
  require_len("maxs", maxs_len, scales_.size());
  std::vector<float> s(scales_.size()), z(scales_.size());
  check(q8_qat_qparams(mins, maxs, s.size(), qmin_, qmax_, s.data(), z.data()));
  scales_ = std::move(s);
  zero_points_ = std::move(z);
  has_zero_points_ = qmin_ != -qmax_;
}

void FakeQuantizer::scales(float *out, size_t out_len) const { copy_to("scales", scales_, out, out_len); }

void FakeQuantizer::zeroPoints(float *out, size_t out_len) const {
  copy_to("zero points", zero_points_, out, out_len);
}

size_t FakeQuantizer::elements(size_t outer, size_t inner) const {
  const size_t channels = scales_.size();
  const size_t limit = std::numeric_limits<size_t>::max();
  if ((outer && channels > limit / outer) || (inner && outer * channels > limit / inner))
    fail(Q8_ERR_SHAPE, "outer * channels * inner overflows");
  return outer * channels * inner;
}

void FakeQuantizer::forward(size_t outer, size_t inner, const float *x, size_t x_len, float *y,
                            size_t y_len, uint8_t *mask, size_t mask_len) const {
  const size_t n = elements(outer, inner);
  require_len("x", x_len, n);
  require_len("y", y_len, n);
  if (mask_len) require_len("mask", mask_len, n);
  check(q8_qat_fake_quantize(n ? x : nullptr, outer, scales_.size(), inner, scales_.data(),
                             has_zero_points_ ? zero_points_.data() : nullptr, qmin_, qmax_,
                             n ? y : nullptr, mask_len ? mask : nullptr));
}

void FakeQuantizer::steBackward(const float *dy, size_t dy_len, const uint8_t *mask, size_t mask_len,
                                float *dx, size_t dx_len) const {
  require_len("mask", mask_len, dy_len);
  require_len("dx", dx_len, dy_len);
  if (dy_len) check(q8_qat_ste_backward(dy, mask, dy_len, dx));
}

void FakeQuantizer::lsqBackward(size_t outer, size_t inner, const float *x, size_t x_len,
                                const float *dy, size_t dy_len, float grad_scale, float *dx,
                                size_t dx_len) {
  const size_t n = elements(outer, inner);
  require_len("x", x_len, n);
  require_len("dy", dy_len, n);
  if (dx_len) require_len("dx", dx_len, n);
  std::vector<float> ds(scales_.size()), dz(scales_.size());
  check(q8_qat_lsq_backward(n ? x : nullptr, n ? dy : nullptr, outer, scales_.size(), inner,
                            scales_.data(), has_zero_points_ ? zero_points_.data() : nullptr, qmin_,
                            qmax_, grad_scale, dx_len ? dx : nullptr, ds.data(), dz.data()));
  dscales_ = std::move(ds);
  dzero_points_ = std::move(dz);
}

void FakeQuantizer::scaleGrads(float *out, size_t out_len) const {
  copy_to("scale gradients", dscales_, out, out_len);
}

void FakeQuantizer::zeroPointGrads(float *out, size_t out_len) const {
  copy_to("zero point gradients", dzero_points_, out, out_len);
}

BatchNormFold::BatchNormFold(size_t channels, size_t per_channel, float eps)
    : per_channel_(per_channel), eps_(eps) {
  if (channels == 0) fail(Q8_ERR_SHAPE, "channels must be >= 1");
  if (per_channel && channels > std::numeric_limits<size_t>::max() / per_channel)
    fail(Q8_ERR_SHAPE, "channels * per_channel overflows");
  if (!(eps >= 0.0f) || !std::isfinite(eps))
    fail(Q8_ERR_INVALID_ARGUMENT, "eps must be finite and >= 0, not " + std::to_string(eps));
  gamma_.assign(channels, 1.0f);
  beta_.assign(channels, 0.0f);
  mean_.assign(channels, 0.0f);
  var_.assign(channels, 1.0f);
  folded_bias_.assign(channels, 0.0f);
  dbias_.assign(channels, 0.0f);
  dgamma_.assign(channels, 0.0f);
  dbeta_.assign(channels, 0.0f);
  born(this);
}

BatchNormFold::~BatchNormFold() { died(this); }

void BatchNormFold::setAffine(const float *gamma, size_t gamma_len, const float *beta, size_t beta_len) {
  require_len("gamma", gamma_len, gamma_.size());
  require_len("beta", beta_len, beta_.size());  // both checked before any change
  std::copy(gamma, gamma + gamma_len, gamma_.begin());
  std::copy(beta, beta + beta_len, beta_.begin());
}

void BatchNormFold::setStatistics(const float *mean, size_t mean_len, const float *var, size_t var_len) {
  require_len("mean", mean_len, mean_.size());
  require_len("var", var_len, var_.size());
  std::copy(mean, mean + mean_len, mean_.begin());
  std::copy(var, var + var_len, var_.begin());
}

void BatchNormFold::fold(const float *w, size_t w_len, const float *b, size_t b_len, float *out,
                         size_t out_len) {
  const size_t channels = gamma_.size(), n = channels * per_channel_;
  require_len("weights", w_len, n);
  if (b_len) require_len("bias", b_len, channels);
  require_len("folded weights", out_len, n);
  std::vector<float> weights(w, w + w_len), bias(b, b + b_len), folded_bias(channels);
  check(q8_qat_fold_batchnorm(n ? weights.data() : nullptr, b_len ? bias.data() : nullptr, channels,
                              per_channel_, gamma_.data(), beta_.data(), mean_.data(), var_.data(),
                              eps_, n ? out : nullptr, folded_bias.data()));
  weights_ = std::move(weights);
  bias_ = std::move(bias);
  folded_bias_ = std::move(folded_bias);
  has_bias_ = b_len != 0;
  folded_ = true;
}

void BatchNormFold::foldedBias(float *out, size_t out_len) const {
  copy_to("folded bias", folded_bias_, out, out_len);
}

void BatchNormFold::backward(const float *dfw, size_t dfw_len, const float *dfb, size_t dfb_len,
                             float *dw, size_t dw_len) {
  if (!folded_) fail(Q8_ERR_STATE, "backward() needs a fold() first (its weights and bias)");
  const size_t channels = gamma_.size(), n = channels * per_channel_;
  require_len("folded weight gradients", dfw_len, n);
  require_len("folded bias gradients", dfb_len, channels);
  if (dw_len) require_len("weight gradients", dw_len, n);
  std::vector<float> db(channels), dg(channels), dbeta(channels);
  check(q8_qat_fold_batchnorm_backward(n ? weights_.data() : nullptr,
                                       has_bias_ ? bias_.data() : nullptr, channels, per_channel_,
                                       gamma_.data(), mean_.data(), var_.data(), eps_,
                                       n ? dfw : nullptr, dfb, dw_len ? dw : nullptr, db.data(),
                                       dg.data(), dbeta.data()));
  dbias_ = std::move(db);
  dgamma_ = std::move(dg);
  dbeta_ = std::move(dbeta);
}

void BatchNormFold::biasGrads(float *out, size_t out_len) const { copy_to("bias gradients", dbias_, out, out_len); }
void BatchNormFold::gammaGrads(float *out, size_t out_len) const { copy_to("gamma gradients", dgamma_, out, out_len); }
void BatchNormFold::betaGrads(float *out, size_t out_len) const { copy_to("beta gradients", dbeta_, out, out_len); }

// ---- pruning -------------------------------------------------------------------------------

q8_tensor *prune_mask(const q8_tensor *weights, const q8_prune_options *options) {
  require_open(weights, "tensor");
  q8_tensor *mask = nullptr;
  check(q8_prune_mask(weights, options, &mask));
  return born(mask);
}

// ---- checkpoints -----------------------------------------------------------------------------

q8_checkpoint_report checkpoint_quantize(const std::string &input, const std::string &output,
                                         const q8_checkpoint_options *options, const std::string &keep_fp32) {
  q8_checkpoint_options o;
  if (options) {
    o = *options;
  } else {
    check(q8_checkpoint_options_init(&o));
  }
  std::vector<std::string> names;
  for (size_t at = 0; at < keep_fp32.size();) {
    const size_t end = std::min(keep_fp32.find('\n', at), keep_fp32.size());
    if (end > at) names.push_back(keep_fp32.substr(at, end - at));
    at = end + 1;
  }
  std::vector<const char *> ptrs;
  for (const std::string &n : names) ptrs.push_back(n.c_str());
  o.keep_fp32 = ptrs.empty() ? nullptr : ptrs.data();
  o.keep_fp32_count = ptrs.size();
  q8_checkpoint_report r{};
  r.struct_size = sizeof r;
  check(q8_checkpoint_quantize(input.c_str(), output.c_str(), &o, &r));
  return r;
}

}  // namespace q8b
