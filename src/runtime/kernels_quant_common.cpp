// Shared helpers of the quantized kernels and register_quantized_kernels().
#include <cmath>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "runtime/kernels_quant_common.hpp"

namespace q8::rt {

void register_quantized_kernels() {
  qk::register_qdq_kernels();
  qk::register_matmul_kernels();
  qk::register_conv_kernels();
  qk::register_elementwise_kernels();
  qk::register_pool_kernels();
}

namespace qk {

bool present(const NodeContext &ctx, std::size_t i) { return i < ctx.in.size() && ctx.in[i].t != nullptr; }

bool known(const NodeContext &ctx, std::size_t i) { return !present(ctx, i) || ctx.in[i].constant; }

std::vector<float> read_scales(const NodeContext &ctx, std::size_t i, const char *what, int64_t n) {
  if (!present(ctx, i)) node_error(ctx.node, Q8_ERR_FORMAT, std::string("input ") + what + " is missing");
  const q8_tensor &t = *ctx.in[i].t;
  if (t.dtype != Q8_DTYPE_F32)
    node_error(ctx.node, Q8_ERR_DTYPE, std::string(what) + " must be f32, not " + dtype_name(t.dtype));
  if (t.numel != 1 && (n <= 1 || t.numel != std::size_t(n) || t.rank != 1))
    node_error(ctx.node, Q8_ERR_SHAPE,
               std::string(what) + " has " + std::to_string(t.numel) + " elements; it must have 1" +
                   (n > 1 ? " or " + std::to_string(n) + " (1-D, one per channel)" : std::string()));
  const float *p = static_cast<const float *>(t.data);
  std::vector<float> v(p, p + t.numel);
  for (std::size_t j = 0; j < v.size(); ++j)
    if (!(std::isfinite(v[j]) && v[j] > 0.0f))
      node_error(ctx.node, Q8_ERR_INVALID_ARGUMENT,
                 std::string(what) + "[" + std::to_string(j) + "] = " + std::to_string(v[j]) + " is not finite and > 0");
  return v;
}

q8_dtype zero_point_dtype(const NodeContext &ctx, std::size_t i, q8_dtype def) {
  return present(ctx, i) ? ctx.in[i].t->dtype : def;
}

std::vector<int32_t> read_zero_points(const NodeContext &ctx, std::size_t i, const char *what, q8_dtype dt,
                                      std::size_t count) {
  if (!present(ctx, i)) return std::vector<int32_t>(count, 0);
  const q8_tensor &t = *ctx.in[i].t;
  if (t.dtype != dt)
    node_error(ctx.node, Q8_ERR_DTYPE, std::string(what) + " is " + dtype_name(t.dtype) + "; it must be " +
                                           dtype_name(dt) + " (the type of the data it belongs to)");
  if (t.numel != 1 && t.numel != count)
    node_error(ctx.node, Q8_ERR_SHAPE, std::string(what) + " has " + std::to_string(t.numel) +
                                           " elements; it must have 1 or " + std::to_string(count) +
                                           " (as many as its scale)");
  std::vector<int32_t> v(count);
  for (std::size_t j = 0; j < count; ++j) {
    const std::size_t at = t.numel == 1 ? 0 : j;
    switch (t.dtype) {
      case Q8_DTYPE_U8: v[j] = static_cast<const uint8_t *>(t.data)[at]; break;
      case Q8_DTYPE_S8: v[j] = static_cast<const int8_t *>(t.data)[at]; break;
      case Q8_DTYPE_S32: v[j] = static_cast<const int32_t *>(t.data)[at]; break;
      default: node_error(ctx.node, Q8_ERR_DTYPE, std::string(what) + " must be an integer tensor");
    }
  }
  return v;
}

qops::Affine read_affine(const NodeContext &ctx, std::size_t si, std::size_t zi, const char *what, q8_dtype dt) {
  const std::string s = std::string(what) + " scale", z = std::string(what) + " zero point";
  qops::Affine p;
  p.scale = read_scales(ctx, si, s.c_str(), 1)[0];
  p.zero_point = read_zero_points(ctx, zi, z.c_str(), dt, 1)[0];
  return p;
}

void require_8bit(const NodeContext &ctx, const q8_tensor &t, const char *what) {
  if (t.dtype != Q8_DTYPE_U8 && t.dtype != Q8_DTYPE_S8)
    node_error(ctx.node, Q8_ERR_DTYPE, std::string(what) + " must be u8 or s8, not " + dtype_name(t.dtype));
}

void set_qparams(q8_tensor *t, qops::Affine p) {
  t->qp = QParams{};
  t->qp.scales.assign(1, p.scale);
  t->qp.zero_points.assign(1, p.zero_point);
}

void make_view(const q8_tensor &t, q8_tensor &view) {
  view.dtype = t.dtype;
  view.rank = t.rank;
  for (std::size_t i = 0; i < t.rank; ++i) view.shape[i] = t.shape[i];
  view.numel = t.numel;
  view.data = t.data;
  view.owned = false;
  view.qp = QParams{};
}

void u8_to_s8(const uint8_t *src, int8_t *dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = int8_t(int32_t(src[i]) - 128);
}

}  // namespace qk
}  // namespace q8::rt
