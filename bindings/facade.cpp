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
  q8_tensor *xt = nullptr, *qt = nullptr;
  check(q8_tensor_wrap(Q8_DTYPE_F32, dims, 1, const_cast<float *>(x), x_len * sizeof(float), &xt));
  std::unique_ptr<q8_tensor, void (*)(q8_tensor *)> keep_x(xt, q8_tensor_destroy);
  check(q8_tensor_wrap(Q8_DTYPE_U8, dims, 1, q, q_len, &qt));
  std::unique_ptr<q8_tensor, void (*)(q8_tensor *)> keep_q(qt, q8_tensor_destroy);
  check(q8_tensor_set_qparams(qt, p.scale, p.zero_point));
  check(q8_quantize(xt, qt));
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
    q8_tensor *wt = nullptr, *qt = nullptr;
    check(q8_tensor_wrap(Q8_DTYPE_F32, dims, 2, const_cast<float *>(w), w_len * sizeof(float), &wt));
    std::unique_ptr<q8_tensor, void (*)(q8_tensor *)> keep_w(wt, q8_tensor_destroy);
    check(q8_tensor_wrap(Q8_DTYPE_S8, dims, 2, w_.data(), w_.size(), &qt));
    std::unique_ptr<q8_tensor, void (*)(q8_tensor *)> keep_q(qt, q8_tensor_destroy);
    check(q8_tensor_set_qparams_per_axis(qt, 0, scales_.data(), zps.data(), rows));
    check(q8_quantize(wt, qt));
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

// ---- pruning -------------------------------------------------------------------------------

q8_tensor *prune_mask(const q8_tensor *weights, const q8_prune_options *options) {
  require_open(weights, "tensor");
  q8_tensor *mask = nullptr;
  check(q8_prune_mask(weights, options, &mask));
  return born(mask);
}

}  // namespace q8b
