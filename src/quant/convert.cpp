#include "quant/convert.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"
#include "quant/kernels/kernels.hpp"
#include "quant/kernels/reference.hpp"

namespace q8::quant {
namespace {

// Work is split into chunks of this many elements (a multiple of every SIMD width) once a tensor
// is large enough for threads to pay off; chunking never changes an element's result.
constexpr std::size_t kGrain = 1 << 16;
constexpr std::size_t kInlineBelow = 1 << 17;

void check_pair(const q8_tensor &src, const char *src_name, const q8_tensor &dst, const char *dst_name,
                const q8_tensor &quantized) {
  if (src.numel != dst.numel)
    fail(Q8_ERR_SHAPE, std::string(src_name) + " has " + std::to_string(src.numel) + " elements but " +
                           dst_name + " has " + std::to_string(dst.numel));
  const QParams &qp = quantized.qp;
  if (!qp.present())
    fail(Q8_ERR_STATE, std::string(&quantized == &src ? src_name : dst_name) +
                           " has no quantization parameters (set them with q8_tensor_set_qparams)");
  if (qp.axis >= 0) {
    bool same = src.rank == dst.rank;
    for (std::size_t i = 0; same && i < src.rank; ++i) same = src.shape[i] == dst.shape[i];
    if (!same)
      fail(Q8_ERR_SHAPE, std::string(src_name) + " and " + dst_name +
                             " must have the same shape when parameters are per axis");
  }
}

// Calls run(begin, count, scale_index) over runs of elements that share one parameter pair, or
// run_vec(begin, count, param_offset) where the axis is innermost and every element has its own.
template <class Run, class RunVec>
void walk(const q8_tensor &t, const QParams &qp, Run run, RunVec run_vec) {
  if (qp.axis < 0) {
    parallel_for(t.numel, kGrain, kInlineBelow, [&](std::size_t b, std::size_t e) { run(b, e - b, 0); });
    return;
  }
  const std::size_t channels = qp.scales.size(), inner = t.inner(qp.axis);
  if (inner == 1) {
    // Rows of `channels` elements; chunk whole rows.
    const std::size_t rows = t.numel / channels;
    const std::size_t grain = std::max<std::size_t>(1, kGrain / channels);
    parallel_for(rows, grain, std::max<std::size_t>(1, kInlineBelow / channels),
                 [&](std::size_t b, std::size_t e) {
                   for (std::size_t r = b; r < e; ++r) run_vec(r * channels, channels);
                 });
    return;
  }
  const std::size_t blocks = t.numel / inner;  // (outer index, channel) pairs
  const std::size_t grain = std::max<std::size_t>(1, kGrain / inner);
  parallel_for(blocks, grain, std::max<std::size_t>(1, kInlineBelow / inner),
               [&](std::size_t b, std::size_t e) {
                 for (std::size_t k = b; k < e; ++k) run(k * inner, inner, k % channels);
               });
}

// s32 targets (biases) are rare and small: scalar, in double so that every int32 is reachable.
int32_t quantize_s32_one(float x, float scale) {
  if (std::isnan(x)) return 0;
  const double r = round_half_even(double(x) / double(scale));
  return static_cast<int32_t>(std::min(std::max(r, double(INT32_MIN)), double(INT32_MAX)));
}

void quantize_s32(const q8_tensor &x, q8_tensor &y) {
  const float *in = static_cast<const float *>(x.data);
  int32_t *out = static_cast<int32_t *>(y.data);
  const float *scales = y.qp.scales.data();
  walk(y, y.qp,
       [&](std::size_t b, std::size_t n, std::size_t c) {
         for (std::size_t i = b; i < b + n; ++i) out[i] = quantize_s32_one(in[i], scales[c]);
       },
       [&](std::size_t b, std::size_t n) {
         for (std::size_t i = b; i < b + n; ++i) out[i] = quantize_s32_one(in[i], scales[i - b]);
       });
}

}  // namespace

void quantize(const q8_tensor &x, q8_tensor &y) {
  if (x.dtype != Q8_DTYPE_F32)
    fail(Q8_ERR_DTYPE, std::string("x must be f32, not ") + dtype_name(x.dtype));
  if (y.dtype == Q8_DTYPE_F32) fail(Q8_ERR_DTYPE, "y must be s8, u8 or s32, not f32");
  check_pair(x, "x", y, "y", y);
  if (y.numel == 0) return;
  if (y.dtype == Q8_DTYPE_S32) return quantize_s32(x, y);
  const Kernels &k = active_kernels();
  const float *in = static_cast<const float *>(x.data);
  const float *scales = y.qp.scales.data();
  const int32_t *zps = y.qp.zero_points.data();
  if (y.dtype == Q8_DTYPE_S8) {
    int8_t *out = static_cast<int8_t *>(y.data);
    walk(y, y.qp, [&](std::size_t b, std::size_t n, std::size_t c) { k.quantize_s8(in + b, out + b, n, scales[c], zps[c]); },
         [&](std::size_t b, std::size_t n) { k.quantize_s8_vec(in + b, out + b, n, scales, zps); });
  } else {
    uint8_t *out = static_cast<uint8_t *>(y.data);
    walk(y, y.qp, [&](std::size_t b, std::size_t n, std::size_t c) { k.quantize_u8(in + b, out + b, n, scales[c], zps[c]); },
         [&](std::size_t b, std::size_t n) { k.quantize_u8_vec(in + b, out + b, n, scales, zps); });
  }
}

void dequantize(const q8_tensor &q, q8_tensor &y) {
  if (q.dtype == Q8_DTYPE_F32) fail(Q8_ERR_DTYPE, "q must be s8, u8 or s32, not f32");
  if (y.dtype != Q8_DTYPE_F32)
    fail(Q8_ERR_DTYPE, std::string("y must be f32, not ") + dtype_name(y.dtype));
  check_pair(q, "q", y, "y", q);
  if (q.numel == 0) return;
  float *out = static_cast<float *>(y.data);
  const float *scales = q.qp.scales.data();
  const int32_t *zps = q.qp.zero_points.data();
  const Kernels &k = active_kernels();
  switch (q.dtype) {
    case Q8_DTYPE_S8: {
      const int8_t *in = static_cast<const int8_t *>(q.data);
      walk(q, q.qp, [&](std::size_t b, std::size_t n, std::size_t c) { k.dequantize_s8(in + b, out + b, n, scales[c], zps[c]); },
           [&](std::size_t b, std::size_t n) { k.dequantize_s8_vec(in + b, out + b, n, scales, zps); });
      break;
    }
    case Q8_DTYPE_U8: {
      const uint8_t *in = static_cast<const uint8_t *>(q.data);
      walk(q, q.qp, [&](std::size_t b, std::size_t n, std::size_t c) { k.dequantize_u8(in + b, out + b, n, scales[c], zps[c]); },
           [&](std::size_t b, std::size_t n) { k.dequantize_u8_vec(in + b, out + b, n, scales, zps); });
      break;
    }
    default: {  // s32: zero points are 0
      const int32_t *in = static_cast<const int32_t *>(q.data);
      walk(q, q.qp, [&](std::size_t b, std::size_t n, std::size_t c) {
             for (std::size_t i = b; i < b + n; ++i) out[i] = static_cast<float>(in[i]) * scales[c];
           },
           [&](std::size_t b, std::size_t n) {
             for (std::size_t i = b; i < b + n; ++i) out[i] = static_cast<float>(in[i]) * scales[i - b];
           });
    }
  }
}

void requantize(const q8_tensor &q, q8_tensor &y) {
  if (q.dtype != Q8_DTYPE_S8 && q.dtype != Q8_DTYPE_U8)
    fail(Q8_ERR_DTYPE, std::string("q must be s8 or u8, not ") + dtype_name(q.dtype));
  if (y.dtype != Q8_DTYPE_S8 && y.dtype != Q8_DTYPE_U8)
    fail(Q8_ERR_DTYPE, std::string("y must be s8 or u8, not ") + dtype_name(y.dtype));
  check_pair(q, "q", y, "y", q);
  check_pair(q, "q", y, "y", y);
  if (q.numel == 0) return;
  // Through an f32 buffer in cache-sized pieces: exactly quantize(dequantize(q)) per element.
  constexpr std::size_t kPiece = 4096;
  const bool per_axis = q.qp.axis >= 0 || y.qp.axis >= 0;
  const std::size_t step = per_axis ? q.numel : kPiece;  // per-axis: one pass over the whole tensor
  std::vector<float> tmp(std::min(step, q.numel));
  const std::size_t esize = dtype_size(q.dtype), osize = dtype_size(y.dtype);
  for (std::size_t b = 0; b < q.numel; b += step) {
    const std::size_t n = std::min(step, q.numel - b);
    const int64_t shape1[1] = {static_cast<int64_t>(n)};
    q8_tensor qs, fs, ys;  // borrowed views of this piece
    for (q8_tensor *v : {&qs, &fs, &ys}) {
      v->rank = per_axis ? q.rank : 1;
      for (std::size_t i = 0; i < v->rank; ++i) v->shape[i] = per_axis ? q.shape[i] : shape1[i];
      v->numel = n;
    }
    qs.dtype = q.dtype; qs.data = static_cast<char *>(q.data) + b * esize; qs.qp = q.qp;
    fs.dtype = Q8_DTYPE_F32; fs.data = tmp.data();
    ys.dtype = y.dtype; ys.data = static_cast<char *>(y.data) + b * osize; ys.qp = y.qp;
    dequantize(qs, fs);
    quantize(fs, ys);
  }
}

}  // namespace q8::quant
