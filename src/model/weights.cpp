// Layer weights in the pruning view, and their zero counts.
#include "model/weights.hpp"

#include <set>

namespace q8::model {
namespace {

bool is_const(const Graph &g, int id) { return id >= 0 && g.values[std::size_t(id)].is_const; }

}  // namespace

std::vector<WeightRef> weights_of(const Graph &g, bool f32_only) {
  std::vector<WeightRef> out;
  std::set<int> seen;
  for (const Node &n : g.nodes) {
    // Position of the weight input, and whether it is stored [K, N] (reduction first).
    int pos = -1;
    bool kn = false;
    const std::string &op = n.op;
    if (n.domain.empty() && (op == "Conv" || op == "ConvInteger")) pos = 1;
    else if (n.domain.empty() && op == "Gemm") pos = 1, kn = n.get_int("transB", 0) == 0;
    else if (n.domain.empty() && (op == "MatMul" || op == "MatMulInteger")) pos = 1, kn = true;
    else if (n.domain.empty() && op == "QLinearConv") pos = 3;
    else if (n.domain.empty() && op == "QLinearMatMul") pos = 3, kn = true;
    else if (n.domain == "com.microsoft" && op == "QGemm") pos = 3, kn = n.get_int("transB", 0) == 0;
    else if (n.domain == "ai.q8" && op == "DynamicConv") pos = 1;
    else if (n.domain == "ai.q8" && op == "DynamicGemm") pos = 1, kn = n.get_int("transB", 0) == 0;
    if (pos < 0 || std::size_t(pos) >= n.inputs.size() || !is_const(g, n.inputs[std::size_t(pos)])) continue;
    const int id = n.inputs[std::size_t(pos)];
    const Value &v = g.values[std::size_t(id)];
    if (f32_only && v.dtype != Q8_DTYPE_F32) continue;
    if (v.shape.size() < 2 || (kn && v.shape.size() != 2) || !seen.insert(id).second) continue;
    WeightRef w;
    w.value = id;
    w.node = n.name;
    w.transposed = kn;
    int64_t rest = 1;
    for (std::size_t d = 1; d < v.shape.size(); ++d) rest *= v.shape[d];
    w.rows = kn ? v.shape[1] : v.shape[0];
    w.cols = kn ? v.shape[0] : rest;
    out.push_back(w);
  }
  return out;
}

std::size_t zero_count(const Graph &g, const WeightRef &w) {
  const Value &v = g.values[std::size_t(w.value)];
  const std::size_t n = std::size_t(w.rows * w.cols);
  std::size_t zeros = 0;
  if (v.dtype == Q8_DTYPE_F32) {
    const float *p = reinterpret_cast<const float *>(v.data.data);
    for (std::size_t i = 0; i < n; ++i) zeros += p[i] == 0.0f;
    return zeros;
  }
  // Quantized: real zero is the zero point (per tensor, or per index of the quantized axis).
  const bool u8 = v.dtype == Q8_DTYPE_U8;
  const auto &zps = v.qp.zero_points;
  std::size_t stride = 1, len = 1;
  if (zps.size() > 1) {
    for (std::size_t d = std::size_t(v.qp.axis) + 1; d < v.shape.size(); ++d) stride *= std::size_t(v.shape[d]);
    len = std::size_t(v.shape[std::size_t(v.qp.axis)]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const int32_t q = u8 ? int32_t(v.data.data[i]) : int32_t(int8_t(v.data.data[i]));
    const int32_t zp = zps.empty() ? 0 : zps.size() == 1 ? zps[0] : zps[(i / stride) % len];
    zeros += q == zp;
  }
  return zeros;
}

double weight_sparsity(const Graph &g, std::size_t *elements) {
  std::size_t zeros = 0, total = 0;
  for (const WeightRef &w : weights_of(g, false)) {
    total += std::size_t(w.rows * w.cols);
    zeros += zero_count(g, w);
  }
  if (elements) *elements = total;
  return total ? double(zeros) / double(total) : 0.0;
}

std::vector<int8_t> s8_view(const Graph &g, const WeightRef &w) {
  const Value &v = g.values[std::size_t(w.value)];
  for (int32_t z : v.qp.zero_points)
    if (z != 0) return {};
  if (v.dtype != Q8_DTYPE_S8) return {};
  std::vector<int8_t> out(std::size_t(w.rows * w.cols));
  to_view(reinterpret_cast<const int8_t *>(v.data.data), w, out.data());
  return out;
}

}  // namespace q8::model
