// BatchNormalization folding: y = gamma * (x - mean) / sqrt(var + eps) + beta is per channel affine,
// so with s = gamma / sqrt(var + eps) it folds into the producing Conv or Gemm as
// W' = W * s (per output channel) and b' = (b - mean) * s + beta. Computed in double, stored f32.
#include <cmath>
#include <cstring>

#include "model/passes.hpp"

namespace q8::model {

namespace {

bool f32_const(const Graph &g, int id) {
  return id >= 0 && g.values[static_cast<std::size_t>(id)].is_const &&
         g.values[static_cast<std::size_t>(id)].dtype == Q8_DTYPE_F32;
}

std::vector<double> read_f32(const Value &v) {
  std::vector<double> out(v.data.size / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    float f;
    std::memcpy(&f, v.data.data + 4 * i, 4);
    out[i] = f;
  }
  return out;
}

std::vector<uint8_t> f32_bytes(const std::vector<double> &x) {
  std::vector<uint8_t> out(x.size() * 4);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float f = static_cast<float>(x[i]);
    std::memcpy(out.data() + 4 * i, &f, 4);
  }
  return out;
}

// The BN parameters as per-channel scale s and shift t (y = s * x + t), or false if they are not
// all f32 constant vectors of one length.
bool bn_affine(const Graph &g, const Node &bn, std::vector<double> &s, std::vector<double> &t) {
  if (bn.inputs.size() != 5) return false;
  for (int i = 1; i < 5; ++i)
    if (!f32_const(g, bn.inputs[static_cast<std::size_t>(i)])) return false;
  const auto gamma = read_f32(g.values[static_cast<std::size_t>(bn.inputs[1])]);
  const auto beta = read_f32(g.values[static_cast<std::size_t>(bn.inputs[2])]);
  const auto mean = read_f32(g.values[static_cast<std::size_t>(bn.inputs[3])]);
  const auto var = read_f32(g.values[static_cast<std::size_t>(bn.inputs[4])]);
  const std::size_t c = gamma.size();
  if (c == 0 || beta.size() != c || mean.size() != c || var.size() != c) return false;
  for (int i = 1; i < 5; ++i)
    if (g.values[static_cast<std::size_t>(bn.inputs[static_cast<std::size_t>(i)])].shape.size() != 1) return false;
  const double eps = bn.get_float("epsilon", 1e-5);
  s.resize(c);
  t.resize(c);
  for (std::size_t i = 0; i < c; ++i) {
    const double d = var[i] + eps;
    if (!(d > 0)) return false;  // the kernel reports it; folding would make NaN silently
    s[i] = gamma[i] / std::sqrt(d);
    t[i] = beta[i] - mean[i] * s[i];
  }
  return true;
}

// Scales W along `axis` (the output channel) by s; `W` is row-major with shape `shape`.
std::vector<double> scale_weights(const Value &w, std::size_t axis, const std::vector<double> &s) {
  std::vector<double> x = read_f32(w);
  std::size_t inner = 1;
  for (std::size_t d = axis + 1; d < w.shape.size(); ++d) inner *= static_cast<std::size_t>(w.shape[d]);
  const std::size_t c = s.size();
  for (std::size_t i = 0; i < x.size(); ++i) x[i] *= s[(i / inner) % c];
  return x;
}

// Tries to fold BN node `k` into its producer; true on success (the BN is then to be erased).
bool fold_one(Graph &g, std::size_t k, const std::vector<int> &uses) {
  const Node &bn = g.nodes[k];
  if (bn.get_int("training_mode", 0) != 0 || bn.inputs.empty() || bn.outputs.empty()) return false;
  for (std::size_t i = 1; i < bn.outputs.size(); ++i)
    if (bn.outputs[i] >= 0) return false;  // running statistics requested
  const int x = bn.inputs[0], y = bn.outputs[0];
  if (x < 0 || y < 0 || uses[static_cast<std::size_t>(x)] != 1 || is_graph_output(g, x)) return false;
  const int p = producer_of(g, x);
  if (p < 0) return false;
  Node &prod = g.nodes[static_cast<std::size_t>(p)];
  if (!prod.domain.empty() || prod.outputs.size() != 1 || prod.inputs.size() < 2) return false;
  std::vector<double> s, t;
  if (!bn_affine(g, bn, s, t)) return false;
  const std::size_t c = s.size();
  const int wid = prod.inputs[1];
  if (!f32_const(g, wid)) return false;
  const Value &w = g.values[static_cast<std::size_t>(wid)];
  const int bid = prod.inputs.size() > 2 ? prod.inputs[2] : -1;
  if (bid >= 0 && !f32_const(g, bid)) return false;
  std::size_t axis;
  std::vector<double> bias(c, 0.0);
  if (prod.op == "Conv") {
    if (w.shape.size() < 3 || static_cast<std::size_t>(w.shape[0]) != c) return false;
    axis = 0;
    if (bid >= 0) {
      const Value &b = g.values[static_cast<std::size_t>(bid)];
      if (b.shape.size() != 1 || static_cast<std::size_t>(b.shape[0]) != c) return false;
      bias = read_f32(b);
    }
  } else if (prod.op == "Gemm") {
    // Y = alpha * A' B' + beta * C; BN acts on Y's columns, which are B's columns (transB = 0)
    // or rows (transB = 1). C must be a scalar or a row vector so the fold stays per column.
    if (w.shape.size() != 2) return false;
    const int64_t trans_b = prod.get_int("transB", 0);
    axis = trans_b ? 0 : 1;
    if (static_cast<std::size_t>(w.shape[axis]) != c) return false;
    if (bid >= 0) {
      const Value &b = g.values[static_cast<std::size_t>(bid)];
      const std::size_t n = b.data.size / 4;
      const bool row = (b.shape.size() == 1 && n == c) ||
                       (b.shape.size() == 2 && b.shape[0] == 1 && static_cast<std::size_t>(b.shape[1]) == c);
      const bool scalar = n == 1 && b.shape.size() <= 2;
      if (!row && !scalar) return false;
      const auto cv = read_f32(b);
      const double beta = prod.get_float("beta", 1.0);
      for (std::size_t i = 0; i < c; ++i) bias[i] = beta * cv[row ? i : 0];
    }
  } else {
    return false;
  }
  for (std::size_t i = 0; i < c; ++i) bias[i] = bias[i] * s[i] + t[i];
  // Gemm computes alpha * A' B': scaling B' by s scales that product by s, as wanted.
  std::vector<int64_t> wshape = w.shape;
  const std::string wname = w.name, bname = prod.name + "_bn_bias";
  std::vector<double> wf = scale_weights(w, axis, s);
  // New constants (never edited in place: the old ones may be shared with other nodes).
  const int new_w = add_const(g, wname + "_bn", Q8_DTYPE_F32, std::move(wshape), f32_bytes(wf));
  const int new_b = add_const(g, bname, Q8_DTYPE_F32, {static_cast<int64_t>(c)}, f32_bytes(bias));
  Node &pr = g.nodes[static_cast<std::size_t>(p)];
  pr.inputs.resize(3, -1);
  pr.inputs[1] = new_w;
  pr.inputs[2] = new_b;
  if (pr.op == "Gemm") {
    Attr one;
    one.kind = Attr::FLOAT;
    one.f = 1.0;
    pr.attrs["beta"] = one;
  }
  pr.outputs[0] = y;
  return true;
}

}  // namespace

void fold_batchnorm(Graph &g) {
  std::vector<char> dead(g.nodes.size(), 0);
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    const Node &n = g.nodes[k];
    if (!n.domain.empty() || n.op != "BatchNormalization") continue;
    // Recounted per node: an earlier fold changes inputs.
    if (fold_one(g, k, use_counts(g))) dead[k] = 1;
  }
  erase_nodes(g, dead);
}

}  // namespace q8::model
