// Shared helpers of the f32 and layout kernels (declared in kernels_float_util.hpp).
#include "runtime/kernels_float_util.hpp"

#include <algorithm>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"

namespace q8::rt {

const q8_tensor &input(const NodeContext &ctx, std::size_t i, const char *what) {
  if (i >= ctx.in.size() || !ctx.in[i].t) node_error(ctx.node, Q8_ERR_FORMAT, std::string("input ") + what + " is missing");
  return *ctx.in[i].t;
}

const q8_tensor *optional_input(const NodeContext &ctx, std::size_t i) {
  return i < ctx.in.size() ? ctx.in[i].t : nullptr;
}

q8_tensor *output(NodeContext &ctx, std::size_t i, const char *what) {
  if (i >= ctx.out.size() || !ctx.out[i]) node_error(ctx.node, Q8_ERR_FORMAT, std::string("output ") + what + " is missing");
  return ctx.out[i];
}

void reject_output(const NodeContext &ctx, std::size_t i, const char *why) {
  if (i < ctx.out.size() && ctx.out[i]) node_error(ctx.node, Q8_ERR_UNSUPPORTED, why);
}

void require_dtype(const NodeContext &ctx, const q8_tensor &t, q8_dtype dtype, const char *what) {
  if (t.dtype != dtype)
    node_error(ctx.node, Q8_ERR_DTYPE, std::string(what) + " is " + dtype_name(t.dtype) + ", this operator takes " +
                                           dtype_name(dtype));
}

std::vector<int64_t> dims(const q8_tensor &t) { return std::vector<int64_t>(t.shape, t.shape + t.rank); }

std::string shape_string(const q8_tensor &t) {
  std::string s = "[";
  for (std::size_t i = 0; i < t.rank; ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
  return s + "]";
}

std::vector<Window> windows(const NodeContext &ctx, const q8_tensor &x, const std::vector<int64_t> &kernel,
                            bool allow_dilations, bool ceil_mode) {
  const model::Node &node = ctx.node;
  if (x.rank < 3) node_error(node, Q8_ERR_SHAPE, "input X " + shape_string(x) + " needs rank 3 or more (N, C, spatial...)");
  const std::size_t sp = x.rank - 2;
  auto sized = [&](const char *key, std::vector<int64_t> v, std::size_t n) {
    if (v.size() != n)
      node_error(node, Q8_ERR_FORMAT, std::string("attribute ") + key + " has " + std::to_string(v.size()) +
                                          " values, the input needs " + std::to_string(n));
    return v;
  };
  std::vector<int64_t> k = kernel;
  if (node.has("kernel_shape")) {
    std::vector<int64_t> ks = sized("kernel_shape", node.get_ints("kernel_shape"), sp);
    if (!k.empty() && ks != k) node_error(node, Q8_ERR_SHAPE, "kernel_shape does not match the weights");
    k = ks;
  }
  k = sized("kernel_shape", k, sp);
  const std::vector<int64_t> s = sized("strides", node.get_ints("strides", std::vector<int64_t>(sp, 1)), sp);
  const std::vector<int64_t> d = sized("dilations", node.get_ints("dilations", std::vector<int64_t>(sp, 1)), sp);
  const std::string auto_pad = node.get_string("auto_pad", "NOTSET");
  std::vector<int64_t> p = sized("pads", node.get_ints("pads", std::vector<int64_t>(2 * sp, 0)), 2 * sp);
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID")
    node_error(node, Q8_ERR_UNSUPPORTED, "auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");

  std::vector<Window> w(sp);
  for (std::size_t i = 0; i < sp; ++i) {
    Window &a = w[i];
    a.in = x.shape[2 + i];
    a.kernel = k[i];
    a.stride = s[i];
    a.dilation = d[i];
    if (a.kernel < 1 || a.stride < 1 || a.dilation < 1)
      node_error(node, Q8_ERR_FORMAT, "kernel sizes, strides and dilations must be >= 1");
    if (!allow_dilations && a.dilation != 1) node_error(node, Q8_ERR_UNSUPPORTED, "dilations are not supported here");
    if (a.kernel > (INT64_MAX / 4) / a.dilation || a.stride > INT64_MAX / 4)
      node_error(node, Q8_ERR_SHAPE, "kernel, stride or dilation too large");
    const int64_t span = (a.kernel - 1) * a.dilation + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      a.out = (a.in + a.stride - 1) / a.stride;
      const int64_t total = std::max<int64_t>(0, (a.out - 1) * a.stride + span - a.in);
      a.pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      a.pad_end = total - a.pad_begin;
      continue;
    }
    if (auto_pad == "NOTSET") {
      a.pad_begin = p[i];
      a.pad_end = p[sp + i];
      if (a.pad_begin < 0 || a.pad_end < 0 || a.pad_begin > INT64_MAX / 4 || a.pad_end > INT64_MAX / 4)
        node_error(node, Q8_ERR_FORMAT, "pads must be >= 0");
    }
    const int64_t avail = a.in + a.pad_begin + a.pad_end;
    if (avail < span)
      node_error(node, Q8_ERR_SHAPE, "input X " + shape_string(x) + " is smaller than the window (" +
                                         std::to_string(span) + ") along spatial axis " + std::to_string(i));
    a.out = (avail - span) / a.stride + 1;
    if (ceil_mode && auto_pad == "NOTSET" && (avail - span) % a.stride != 0) {
      ++a.out;
      if ((a.out - 1) * a.stride >= a.in + a.pad_begin) --a.out;
    }
  }
  return w;
}

void pass_qparams(const NodeContext &ctx, const q8_tensor &from, q8_tensor *to) {
  if (from.qp.present() && from.qp.axis >= 0 &&
      (static_cast<std::size_t>(from.qp.axis) >= to->rank || to->shape[from.qp.axis] != from.shape[from.qp.axis]))
    node_error(ctx.node, Q8_ERR_UNSUPPORTED, "the per-axis quantization axis " + std::to_string(from.qp.axis) +
                                                 " does not survive this operator");
  to->qp = from.qp;
}

void pass_qparams_reshaped(const NodeContext &ctx, const q8_tensor &from, q8_tensor *to) {
  if (!from.qp.present() || from.qp.axis < 0) {
    to->qp = from.qp;
    return;
  }
  int64_t before = 1;
  for (int32_t i = 0; i < from.qp.axis; ++i) before *= from.shape[i];
  int64_t prod = 1;
  for (std::size_t j = 0; j < to->rank; ++j) {
    if (prod == before && to->shape[j] == from.shape[from.qp.axis]) {
      to->qp = from.qp;
      to->qp.axis = static_cast<int32_t>(j);
      return;
    }
    prod *= to->shape[j];
  }
  node_error(ctx.node, Q8_ERR_UNSUPPORTED, "the per-axis quantization axis " + std::to_string(from.qp.axis) +
                                               " does not survive the reshape");
}

}  // namespace q8::rt
