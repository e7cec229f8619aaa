// q8_tensor_* entry points: argument checks and ownership; the tensor itself is src/core/tensor.hpp.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "capi/guard.hpp"
#include "core/dtype.hpp"
#include "core/qparams.hpp"
#include "core/tensor.hpp"

using namespace q8;

namespace {

// By reference: the caller's value is only read as an enum once its bits are known to be valid.
void check_dtype(const q8_dtype &dtype) {
  const int v = enum_bits(dtype);
  if (v < Q8_DTYPE_F32 || v > Q8_DTYPE_S32) fail(Q8_ERR_DTYPE, "dtype " + std::to_string(v) + " is not a q8_dtype");
}

std::unique_ptr<q8_tensor> make_tensor(const q8_dtype &dtype, const int64_t *shape, size_t rank) {
  check_dtype(dtype);
  const size_t n = checked_numel(shape, rank, dtype_size(dtype), "shape");
  auto t = std::make_unique<q8_tensor>();
  t->dtype = dtype;
  t->rank = rank;
  for (size_t i = 0; i < rank; ++i) t->shape[i] = shape[i];
  t->numel = n;
  return t;
}

// Offset of a multi-index, checked against the tensor's shape.
size_t element_offset(const q8_tensor &t, const int64_t *index, size_t rank) {
  if (rank != t.rank)
    fail(Q8_ERR_SHAPE, "index has " + std::to_string(rank) + " entries but the tensor has rank " +
                           std::to_string(t.rank));
  if (rank > 0 && !index) fail(Q8_ERR_INVALID_ARGUMENT, "index is NULL");
  if (t.numel == 0) fail(Q8_ERR_SHAPE, "the tensor has no elements");
  size_t off = 0;
  for (size_t i = 0; i < rank; ++i) {
    if (index[i] < 0 || index[i] >= t.shape[i])
      fail(Q8_ERR_SHAPE, "index[" + std::to_string(i) + "] = " + std::to_string(index[i]) +
                             " is outside [0, " + std::to_string(t.shape[i]) + ")");
    off = off * static_cast<size_t>(t.shape[i]) + static_cast<size_t>(index[i]);
  }
  return off;
}

}  // namespace

extern "C" {

q8_status q8_tensor_create(q8_dtype dtype, const int64_t *shape, size_t rank, q8_tensor **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(out);
    auto t = make_tensor(dtype, shape, rank);
    t->data = aligned_zalloc(t->nbytes());
    t->owned = true;
    *out = t.release();
  });
}

q8_status q8_tensor_wrap(q8_dtype dtype, const int64_t *shape, size_t rank, void *data,
                         size_t data_bytes, q8_tensor **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(out);
    auto t = make_tensor(dtype, shape, rank);
    if (t->numel > 0) {
      Q8_CHECK_ARG(data != nullptr, "data is NULL but the shape has " + std::to_string(t->numel) + " elements");
      if (data_bytes < t->nbytes())
        fail(Q8_ERR_SHAPE, "data_bytes = " + std::to_string(data_bytes) + " is smaller than the " +
                               std::to_string(t->nbytes()) + " bytes the shape needs");
      if (reinterpret_cast<uintptr_t>(data) % dtype_size(dtype) != 0)
        fail(Q8_ERR_INVALID_ARGUMENT, std::string("data is not aligned to the size of ") + dtype_name(dtype));
    }
    t->data = t->numel > 0 ? data : nullptr;
    t->owned = false;
    *out = t.release();
  });
}

q8_status q8_tensor_clone(const q8_tensor *src, q8_tensor **out) {
  return guard(__func__, [&] {
    const q8_tensor &s = deref(src, "src");
    Q8_CHECK_NOT_NULL(out);
    auto t = make_tensor(s.dtype, s.shape, s.rank);
    t->data = aligned_zalloc(t->nbytes());
    t->owned = true;
    if (t->numel) std::memcpy(t->data, s.data, t->nbytes());
    t->qp = s.qp;
    *out = t.release();
  });
}

q8_status q8_tensor_copy(const q8_tensor *src, q8_tensor *dst) {
  return guard(__func__, [&] {
    const q8_tensor &s = deref(src, "src");
    q8_tensor &d = deref(dst, "dst");
    if (s.dtype != d.dtype)
      fail(Q8_ERR_DTYPE, std::string("src is ") + dtype_name(s.dtype) + " but dst is " + dtype_name(d.dtype));
    if (s.numel != d.numel)
      fail(Q8_ERR_SHAPE, "src has " + std::to_string(s.numel) + " elements but dst has " + std::to_string(d.numel));
    if (s.numel && s.data != d.data) std::memmove(d.data, s.data, s.nbytes());
  });
}

void q8_tensor_destroy(q8_tensor *t) { delete t; }

q8_status q8_tensor_reshape(q8_tensor *t, const int64_t *shape, size_t rank) {
  return guard(__func__, [&] {
    q8_tensor &x = deref(t, "t");
    const size_t n = checked_numel(shape, rank, dtype_size(x.dtype), "shape");
    if (n != x.numel)
      fail(Q8_ERR_SHAPE, "the new shape has " + std::to_string(n) + " elements but the tensor has " +
                             std::to_string(x.numel));
    if (x.qp.present() && x.qp.axis >= 0) {
      const auto a = static_cast<size_t>(x.qp.axis);
      if (a >= rank || shape[a] != x.shape[a])
        fail(Q8_ERR_SHAPE, "the tensor is quantized per axis " + std::to_string(a) +
                               " and the new shape does not keep that axis with length " +
                               std::to_string(x.shape[a]) + " (clear the parameters first)");
    }
    x.rank = rank;
    for (size_t i = 0; i < Q8_MAX_RANK; ++i) x.shape[i] = i < rank ? shape[i] : 0;
  });
}

q8_status q8_tensor_dtype(const q8_tensor *t, q8_dtype *out) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    Q8_CHECK_NOT_NULL(out);
    *out = x.dtype;
  });
}

q8_status q8_tensor_rank(const q8_tensor *t, size_t *out) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    Q8_CHECK_NOT_NULL(out);
    *out = x.rank;
  });
}

q8_status q8_tensor_shape(const q8_tensor *t, int64_t *shape, size_t capacity) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    if (x.rank == 0) return;
    Q8_CHECK_NOT_NULL(shape);
    if (capacity < x.rank)
      fail(Q8_ERR_SHAPE, "capacity = " + std::to_string(capacity) + " is smaller than the rank " +
                             std::to_string(x.rank));
    for (size_t i = 0; i < x.rank; ++i) shape[i] = x.shape[i];
  });
}

q8_status q8_tensor_numel(const q8_tensor *t, size_t *out) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    Q8_CHECK_NOT_NULL(out);
    *out = x.numel;
  });
}

q8_status q8_tensor_nbytes(const q8_tensor *t, size_t *out) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    Q8_CHECK_NOT_NULL(out);
    *out = x.nbytes();
  });
}

q8_status q8_tensor_data(const q8_tensor *t, void **out) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    Q8_CHECK_NOT_NULL(out);
    *out = x.data;
  });
}

q8_status q8_tensor_get(const q8_tensor *t, const int64_t *index, size_t rank, double *out) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    Q8_CHECK_NOT_NULL(out);
    const size_t i = element_offset(x, index, rank);
    switch (x.dtype) {
      case Q8_DTYPE_F32: *out = static_cast<const float *>(x.data)[i]; break;
      case Q8_DTYPE_S8: *out = static_cast<const int8_t *>(x.data)[i]; break;
      case Q8_DTYPE_U8: *out = static_cast<const uint8_t *>(x.data)[i]; break;
      case Q8_DTYPE_S32: *out = static_cast<const int32_t *>(x.data)[i]; break;
    }
  });
}

q8_status q8_tensor_set(q8_tensor *t, const int64_t *index, size_t rank, double value) {
  return guard(__func__, [&] {
    q8_tensor &x = deref(t, "t");
    const size_t i = element_offset(x, index, rank);
    if (x.dtype == Q8_DTYPE_F32) {
      // Finite doubles outside f32's range would overflow; NaN and infinities pass through.
      if (std::isfinite(value) && std::fabs(value) > 3.4028234663852886e38)
        fail(Q8_ERR_INVALID_ARGUMENT, "value " + std::to_string(value) + " is outside the range of f32");
      static_cast<float *>(x.data)[i] = static_cast<float>(value);
      return;
    }
    const IntRange r = dtype_range(x.dtype);
    if (!(value == std::floor(value)) || value < double(r.min) || value > double(r.max))
      fail(Q8_ERR_INVALID_ARGUMENT, "value " + std::to_string(value) + " is not an integer in [" +
                                        std::to_string(r.min) + ", " + std::to_string(r.max) + "] for " +
                                        dtype_name(x.dtype));
    switch (x.dtype) {
      case Q8_DTYPE_S8: static_cast<int8_t *>(x.data)[i] = static_cast<int8_t>(value); break;
      case Q8_DTYPE_U8: static_cast<uint8_t *>(x.data)[i] = static_cast<uint8_t>(value); break;
      case Q8_DTYPE_S32: static_cast<int32_t *>(x.data)[i] = static_cast<int32_t>(value); break;
      default: break;
    }
  });
}

q8_status q8_tensor_set_qparams(q8_tensor *t, float scale, int32_t zero_point) {
  return guard(__func__, [&] {
    q8_tensor &x = deref(t, "t");
    check_qparam(x.dtype, scale, zero_point, "scale", "zero_point");
    x.qp.axis = -1;
    x.qp.scales.assign(1, scale);
    x.qp.zero_points.assign(1, zero_point);
  });
}

q8_status q8_tensor_set_qparams_per_axis(q8_tensor *t, int32_t axis, const float *scales,
                                         const int32_t *zero_points, size_t count) {
  return guard(__func__, [&] {
    q8_tensor &x = deref(t, "t");
    // Refused before anything else: with an empty axis there is no pair to reject it below.
    if (x.dtype == Q8_DTYPE_F32) fail(Q8_ERR_DTYPE, "an f32 tensor cannot carry quantization parameters");
    Q8_CHECK_NOT_NULL(scales);
    Q8_CHECK_NOT_NULL(zero_points);
    const int32_t a = resolve_axis(axis, x.rank, "axis");
    if (count != static_cast<size_t>(x.shape[a]))
      fail(Q8_ERR_SHAPE, "count = " + std::to_string(count) + " does not match the length " +
                             std::to_string(x.shape[a]) + " of axis " + std::to_string(a));
    for (size_t i = 0; i < count; ++i) {
      const std::string si = "scales[" + std::to_string(i) + "]", zi = "zero_points[" + std::to_string(i) + "]";
      check_qparam(x.dtype, scales[i], zero_points[i], si.c_str(), zi.c_str());
    }
    QParams qp;
    qp.axis = a;
    qp.scales.assign(scales, scales + count);
    qp.zero_points.assign(zero_points, zero_points + count);
    x.qp = std::move(qp);
  });
}

q8_status q8_tensor_clear_qparams(q8_tensor *t) {
  return guard(__func__, [&] { deref(t, "t").qp = QParams(); });
}

q8_status q8_tensor_qparams_layout(const q8_tensor *t, int32_t *axis, size_t *count) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    if (axis) *axis = x.qp.axis;
    if (count) *count = x.qp.scales.size();
  });
}

q8_status q8_tensor_get_qparams(const q8_tensor *t, float *scales, int32_t *zero_points, size_t count) {
  return guard(__func__, [&] {
    const q8_tensor &x = deref(t, "t");
    if (!x.qp.present()) fail(Q8_ERR_STATE, "the tensor has no quantization parameters");
    if (count != x.qp.scales.size())
      fail(Q8_ERR_SHAPE, "count = " + std::to_string(count) + " but the tensor has " +
                             std::to_string(x.qp.scales.size()) + " parameter pairs");
    if (scales) std::copy(x.qp.scales.begin(), x.qp.scales.end(), scales);
    if (zero_points) std::copy(x.qp.zero_points.begin(), x.qp.zero_points.end(), zero_points);
  });
}

}  // extern "C"
