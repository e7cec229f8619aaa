// Descriptions of a graph: one line (or JSON object) per node with its tensors, then totals.
#include "model/describe.hpp"

#include <cstdio>
#include <map>
#include <sstream>

#include "model/weights.hpp"
#include "sparse/choose.hpp"
#include "sparse/matrix.hpp"

namespace q8::model {

namespace {

// A layer weight's sparsity and, for s8 weights with zero point 0, its smallest sparse form if that
// is smaller than the dense INT8 weight.
struct WeightStats {
  double sparsity = 0;
  std::size_t elements = 0;
  const char *format = nullptr;  // NULL: no sparse form (f32, or a nonzero zero point)
  std::size_t sparse_bytes = 0;
};

const char *format_name(q8_sparse_format f) {
  switch (f) {
    case Q8_SPARSE_CSR: return "CSR";
    case Q8_SPARSE_BCSR: return "BCSR 4x4";
    case Q8_SPARSE_2_4: return "2:4";
    case Q8_SPARSE_BITMAP: return "bitmap";
  }
  return "?";
}

// By node name: the weight stats of the layers whose weight has zeros.
std::map<std::string, WeightStats> weight_stats(const Graph &g) {
  std::map<std::string, WeightStats> out;
  for (const WeightRef &w : weights_of(g, false)) {
    WeightStats st;
    st.elements = std::size_t(w.rows * w.cols);
    const std::size_t zeros = zero_count(g, w);
    if (zeros == 0) continue;
    st.sparsity = double(zeros) / double(st.elements);
    const std::vector<int8_t> view = s8_view(g, w);
    if (!view.empty()) {
      const sparse::Structure s = sparse::analyze(view.data(), w.rows, w.cols);
      std::vector<std::pair<q8_sparse_format, int64_t>> formats = {{Q8_SPARSE_CSR, 1}, {Q8_SPARSE_BITMAP, 1}};
      if (s.two_four) formats.push_back({Q8_SPARSE_2_4, 1});
      if (s.blocks) formats.push_back({Q8_SPARSE_BCSR, 4});
      const Value &v = g.values[std::size_t(w.value)];
      for (const auto &[f, b] : formats) {
        sparse::Matrix m;
        sparse::from_dense(m, view.data(), {w.rows, w.cols}, v.qp.scales, f, b, b == 4 ? 4 : 1);
        const std::size_t bytes = sparse::info(m).total_bytes;
        // Only a form smaller than the dense INT8 weight is worth naming.
        if (bytes < st.elements && (!st.format || bytes < st.sparse_bytes)) {
          st.format = format_name(f);
          st.sparse_bytes = bytes;
        }
      }
    }
    out[w.node] = st;
  }
  return out;
}

std::string stats_text(const WeightStats &st) {
  char buf[160];
  int n = std::snprintf(buf, sizeof buf, "      weight sparsity %.1f %%", 100.0 * st.sparsity);
  if (st.format)
    std::snprintf(buf + n, sizeof buf - std::size_t(n), ", as sparse INT8 (%s) %zu bytes = %.3fx FP32", st.format,
                  st.sparse_bytes, double(st.sparse_bytes) / (4.0 * double(st.elements)));
  return std::string(buf) + "\n";
}

std::string shape_str(const Value &v) {
  if (!v.has_shape) return "?";
  std::string s = "[";
  for (std::size_t i = 0; i < v.shape.size(); ++i) {
    if (i) s += ",";
    s += v.shape[i] < 0 ? std::string("N") : std::to_string(v.shape[i]);
  }
  return s + "]";
}

std::string json_escape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}

std::string qp_str(const QParams &q) {
  if (!q.present()) return "";
  char b[96];
  if (q.scales.size() == 1)
    std::snprintf(b, sizeof b, " scale=%.6g zp=%d", q.scales[0], q.zero_points[0]);
  else
    std::snprintf(b, sizeof b, " per-axis(%d)x%zu", q.axis, q.scales.size());
  return b;
}

bool is_quantized_dtype(q8_dtype d) { return d == Q8_DTYPE_S8 || d == Q8_DTYPE_U8; }

}  // namespace

std::string node_precision(const Graph &g, const Node &n) {
  if (n.domain == "ai.q8" && (n.op == "DynamicGemm" || n.op == "DynamicConv")) return "int8 dynamic";
  if (n.domain == "ai.q8" && n.op == "DequantizeBlockwise") return "convert int" + std::to_string(n.get_int("bits", 4));
  static const char *const qops[] = {"QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger",
                                     "QGemm", "QLinearAdd", "QLinearMul", "QLinearSigmoid",
                                     "QLinearTanh", "QLinearConcat", "QLinearGlobalAveragePool",
                                     "QLinearAveragePool"};
  for (const char *q : qops)
    if (n.op == q) return "int8";
  if (n.op == "QuantizeLinear" || n.op == "DequantizeLinear" || n.op == "DynamicQuantizeLinear")
    return "convert";
  bool any_q = false, weight_q = false;
  for (int id : n.inputs) {
    if (id < 0) continue;
    if (is_quantized_dtype(g.values[id].dtype)) any_q = true;
  }
  // A float op whose constant weight comes from a DequantizeLinear of INT8 data: weight-only.
  for (int id : n.inputs) {
    if (id < 0) continue;
    for (const Node &p : g.nodes)
      if (p.op == "DequantizeLinear" && !p.outputs.empty() && p.outputs[0] == id && !p.inputs.empty() &&
          g.values[p.inputs[0]].is_const)
        weight_q = true;
  }
  if (any_q) return "int8";
  if (weight_q) return "weights int8";
  return "f32";
}

std::string describe_text(const Graph &g) {
  std::ostringstream o;
  o << "model: " << g.nodes.size() << " nodes, " << g.values.size() << " tensors";
  if (!g.producer.empty()) o << ", producer: " << g.producer;
  o << "\n";
  for (int id : g.inputs)
    o << "input  " << g.values[id].name << " " << q8_dtype_name(g.values[id].dtype) << shape_str(g.values[id]) << "\n";
  for (int id : g.outputs)
    o << "output " << g.values[id].name << " " << q8_dtype_name(g.values[id].dtype) << "\n";
  std::size_t const_bytes = 0, const_count = 0;
  for (const Value &v : g.values)
    if (v.is_const) {
      const_bytes += v.data.size;
      ++const_count;
    }
  const std::map<std::string, WeightStats> stats = weight_stats(g);
  for (const Node &n : g.nodes) {
    o << "  " << n.name << ": " << (n.domain.empty() ? "" : n.domain + ".") << n.op << " ["
      << node_precision(g, n) << "] (";
    bool first = true;
    for (int id : n.inputs) {
      if (!first) o << ", ";
      first = false;
      if (id < 0) {
        o << "-";
        continue;
      }
      const Value &v = g.values[id];
      o << v.name << ":" << q8_dtype_name(v.dtype);
      if (v.is_const) o << shape_str(v) << qp_str(v.qp);
    }
    o << ") -> (";
    first = true;
    for (int id : n.outputs) {
      if (!first) o << ", ";
      first = false;
      if (id >= 0) o << g.values[id].name;
    }
    o << ")\n";
    if (const auto it = stats.find(n.name); it != stats.end()) o << stats_text(it->second);
  }
  o << "weights: " << const_count << " constants, " << const_bytes << " bytes\n";
  return o.str();
}

std::string describe_json(const Graph &g) {
  std::ostringstream o;
  o << "{\"producer\":\"" << json_escape(g.producer) << "\",\"inputs\":[";
  for (std::size_t i = 0; i < g.inputs.size(); ++i)
    o << (i ? "," : "") << "\"" << json_escape(g.values[g.inputs[i]].name) << "\"";
  o << "],\"outputs\":[";
  for (std::size_t i = 0; i < g.outputs.size(); ++i)
    o << (i ? "," : "") << "\"" << json_escape(g.values[g.outputs[i]].name) << "\"";
  o << "],\"nodes\":[";
  std::size_t const_bytes = 0;
  for (const Value &v : g.values)
    if (v.is_const) const_bytes += v.data.size;
  const std::map<std::string, WeightStats> stats = weight_stats(g);
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    const Node &n = g.nodes[k];
    std::size_t bytes = 0;
    o << (k ? "," : "") << "{\"name\":\"" << json_escape(n.name) << "\",\"domain\":\""
      << json_escape(n.domain) << "\",\"op\":\"" << json_escape(n.op) << "\",\"precision\":\""
      << node_precision(g, n) << "\",\"inputs\":[";
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      int id = n.inputs[i];
      o << (i ? "," : "");
      if (id < 0) {
        o << "null";
        continue;
      }
      const Value &v = g.values[id];
      if (v.is_const) bytes += v.data.size;
      o << "{\"name\":\"" << json_escape(v.name) << "\",\"dtype\":\"" << q8_dtype_name(v.dtype)
        << "\",\"const\":" << (v.is_const ? "true" : "false") << "}";
    }
    o << "],\"outputs\":[";
    for (std::size_t i = 0; i < n.outputs.size(); ++i)
      o << (i ? "," : "") << "\"" << (n.outputs[i] < 0 ? "" : json_escape(g.values[n.outputs[i]].name)) << "\"";
    o << "],\"const_bytes\":" << bytes;
    if (const auto it = stats.find(n.name); it != stats.end()) {
      o << ",\"weight_sparsity\":" << it->second.sparsity;
      if (it->second.format)
        o << ",\"sparse_format\":\"" << it->second.format << "\",\"sparse_bytes\":" << it->second.sparse_bytes;
    }
    o << "}";
  }
  o << "],\"weight_bytes\":" << const_bytes << "}";
  return o.str();
}

}  // namespace q8::model
