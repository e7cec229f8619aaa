// QDQ -> QOperator fusion. A QDQ model says "this Conv/MatMul/Gemm reads quantized tensors and its
// result is quantized": DQ(x), DQ(W) -> op -> Q. The quantized operator computes exactly that in
// integers, so the five nodes become one: QLinearConv, QLinearMatMul or com.microsoft QGemm.
// A pattern is fused only when it is unambiguous: constant scales and zero points, per-tensor
// activations, weights per tensor or per output channel, the dequantized tensors read by this
// operator alone, and a bias that is (or can be made) int32 with scale x_scale * w_scale.
#include <cmath>
#include <cstring>

#include "model/passes.hpp"

namespace q8::model {

namespace {

const Value &val(const Graph &g, int id) { return g.values[static_cast<std::size_t>(id)]; }

std::size_t numel(const Value &v) { return v.data.size / q8_dtype_size(v.dtype); }

bool is_q8(q8_dtype d) { return d == Q8_DTYPE_S8 || d == Q8_DTYPE_U8; }

std::vector<float> read_f32(const Value &v) {
  std::vector<float> out(numel(v));
  if (!out.empty()) std::memcpy(out.data(), v.data.data, v.data.size);
  return out;
}

int input(const Node &n, std::size_t i) { return i < n.inputs.size() ? n.inputs[i] : -1; }

struct Quant {
  int data = -1;   // the quantized tensor
  int scale = -1;  // f32 constant
  int zp = -1;     // constant of data's dtype, or -1 (zero)
  q8_dtype dtype = Q8_DTYPE_U8;
  std::vector<float> scales;
  int axis = 0;    // resolved axis for per-axis parameters
  bool per_axis = false;
};

// The dtype a value is known to have before the session runs, or false.
bool known_dtype(const Graph &g, const std::vector<int> &producer, int id, q8_dtype &out) {
  const Value &v = val(g, id);
  bool is_input = false;
  for (int i : g.inputs) is_input |= i == id;
  if (v.is_const || is_input) {
    out = v.dtype;
    return true;
  }
  const int p = producer[static_cast<std::size_t>(id)];
  if (p < 0) return false;
  const Node &n = g.nodes[static_cast<std::size_t>(p)];
  std::size_t zp_at;
  if (n.domain.empty() && n.op == "QuantizeLinear") zp_at = 2;
  else if (n.domain.empty() && (n.op == "QLinearConv" || n.op == "QLinearMatMul")) zp_at = 7;
  else if (n.domain == "com.microsoft" && n.op == "QGemm") zp_at = 8;
  else if (n.domain.empty() && n.op == "DynamicQuantizeLinear") zp_at = SIZE_MAX;
  else return false;
  const int zp = zp_at == SIZE_MAX ? -1 : input(n, zp_at);
  if (zp < 0) {
    out = Q8_DTYPE_U8;  // ONNX's default output type
    return n.op != "QGemm";
  }
  out = val(g, zp).dtype;
  return true;
}

// Reads DequantizeLinear/QuantizeLinear parameters: inputs (data, scale, zero point?), all
// parameters constant, zero point (if any) of the data's dtype and the scale's shape.
bool read_quant(const Graph &g, const std::vector<int> &producer, const Node &n, int data, Quant &q) {
  q.data = data;
  q.scale = input(n, 1);
  q.zp = input(n, 2);
  if (q.data < 0 || q.scale < 0) return false;
  const Value &s = val(g, q.scale);
  if (!s.is_const || s.dtype != Q8_DTYPE_F32 || numel(s) == 0 || s.shape.size() > 1) return false;
  q.scales = read_f32(s);
  for (float x : q.scales)
    if (!(x > 0) || !std::isfinite(x)) return false;
  if (q.zp >= 0) {
    const Value &z = val(g, q.zp);
    if (!z.is_const || !is_q8(z.dtype) || numel(z) != q.scales.size() || z.shape != s.shape) return false;
    q.dtype = z.dtype;
  }
  q8_dtype dt;
  if (n.op == "DequantizeLinear") {
    if (!known_dtype(g, producer, data, dt) || !is_q8(dt)) return false;
    if (q.zp >= 0 && dt != q.dtype) return false;
    q.dtype = dt;
  }
  q.per_axis = s.shape.size() == 1 && q.scales.size() > 1;
  if (q.per_axis) {
    const Value &d = val(g, data);
    if (!d.has_shape) return false;
    const int64_t rank = static_cast<int64_t>(d.shape.size());
    int64_t axis = n.get_int("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || d.shape[static_cast<std::size_t>(axis)] != static_cast<int64_t>(q.scales.size()))
      return false;
    q.axis = static_cast<int>(axis);
  }
  return true;
}

// The zero point operand: the given one, or a zero constant of the dtype and the scale's shape.
int zero_point(Graph &g, const Quant &q, const std::string &base) {
  if (q.zp >= 0) return q.zp;
  const Value &s = val(g, q.scale);
  std::vector<int64_t> shape = s.shape;
  return add_const(g, base, q.dtype, std::move(shape), std::vector<uint8_t>(q.scales.size(), 0));
}

struct Fuser {
  Graph &g;
  std::vector<int> uses, producer;
  std::vector<char> dead;

  explicit Fuser(Graph &graph) : g(graph) {
    uses = use_counts(g);
    producer.assign(g.values.size(), -1);
    for (std::size_t k = 0; k < g.nodes.size(); ++k)
      for (int o : g.nodes[k].outputs)
        if (o >= 0) producer[static_cast<std::size_t>(o)] = static_cast<int>(k);
    dead.assign(g.nodes.size(), 0);
  }

  // The live node producing `id` if it has the given op and `id` is read only once and is not a
  // graph output (so removing the node loses nothing); else -1.
  int sole_producer(int id, const char *op) const {
    if (id < 0 || uses[static_cast<std::size_t>(id)] != 1 || is_graph_output(g, id)) return -1;
    const int p = producer[static_cast<std::size_t>(id)];
    if (p < 0 || dead[static_cast<std::size_t>(p)]) return -1;
    const Node &n = g.nodes[static_cast<std::size_t>(p)];
    return n.domain.empty() && n.op == op && n.outputs.size() == 1 ? p : -1;
  }

  // The QuantizeLinear reading `id` as its only consumer, or -1.
  int sole_quantizer(int id) const {
    if (id < 0 || uses[static_cast<std::size_t>(id)] != 1 || is_graph_output(g, id)) return -1;
    for (std::size_t k = 0; k < g.nodes.size(); ++k) {
      const Node &n = g.nodes[k];
      if (!dead[k] && n.domain.empty() && n.op == "QuantizeLinear" && input(n, 0) == id &&
          n.outputs.size() == 1 && n.outputs[0] >= 0)
        return static_cast<int>(k);
    }
    return -1;
  }

  // The int32 bias for scale x_scale * w_scale[c] (c < channels): from DQ(int32 constant) with
  // that scale and zero point 0, or quantized from an f32 constant. -1 if neither; `dq` receives
  // the DequantizeLinear node to remove (or -1).
  int bias(int id, float xs, const std::vector<float> &ws, std::size_t channels, const std::string &base,
           int &dq) {
    dq = -1;
    std::vector<float> bs(channels);
    for (std::size_t c = 0; c < channels; ++c) bs[c] = xs * ws[ws.size() == 1 ? 0 : c];
    const Value &b = val(g, id);
    if (b.is_const && b.dtype == Q8_DTYPE_F32 && numel(b) == channels && b.shape.size() == 1) {
      const std::vector<float> f = read_f32(b);
      std::vector<uint8_t> bytes(4 * channels);
      for (std::size_t c = 0; c < channels; ++c) {
        const double q = std::nearbyint(static_cast<double>(f[c]) / bs[c]);
        if (!(std::fabs(q) <= 2147483647.0)) return -1;
        const int32_t v = static_cast<int32_t>(q);
        std::memcpy(bytes.data() + 4 * c, &v, 4);
      }
      return add_const(g, base, Q8_DTYPE_S32, {static_cast<int64_t>(channels)}, std::move(bytes));
    }
    const int p = sole_producer(id, "DequantizeLinear");
    if (p < 0) return -1;
    const Node &n = g.nodes[static_cast<std::size_t>(p)];
    const int data = input(n, 0), scale = input(n, 1), zp = input(n, 2);
    if (data < 0 || scale < 0) return -1;
    const Value &d = val(g, data), &s = val(g, scale);
    if (!d.is_const || d.dtype != Q8_DTYPE_S32 || numel(d) != channels || d.shape.size() != 1) return -1;
    if (!s.is_const || s.dtype != Q8_DTYPE_F32 || (numel(s) != 1 && numel(s) != channels)) return -1;
    const std::vector<float> sv = read_f32(s);
    for (std::size_t c = 0; c < channels; ++c) {
      const double want = bs[c], have = sv[sv.size() == 1 ? 0 : c];
      if (!(std::fabs(have - want) <= 1e-6 * want)) return -1;
    }
    if (zp >= 0) {
      const Value &z = val(g, zp);
      if (!z.is_const || z.dtype != Q8_DTYPE_S32) return -1;
      for (std::size_t i = 0; i < z.data.size; ++i)
        if (z.data.data[i] != 0) return -1;
    }
    dq = p;
    return data;
  }

  // Fuses node k if it heads a pattern; returns whether it did.
  bool fuse(std::size_t k, const OpSupported &supported) {
    const Node &op = g.nodes[k];
    if (!op.domain.empty() || op.outputs.size() != 1) return false;
    std::string new_domain, new_op;
    if (op.op == "Conv") new_op = "QLinearConv";
    else if (op.op == "MatMul") new_op = "QLinearMatMul";
    else if (op.op == "Gemm") new_domain = "com.microsoft", new_op = "QGemm";
    else return false;
    if (!supported(new_domain, new_op)) return false;
    const int px = sole_producer(input(op, 0), "DequantizeLinear");
    const int pw = sole_producer(input(op, 1), "DequantizeLinear");
    const int pq = sole_quantizer(op.outputs[0]);
    if (px < 0 || pw < 0 || pq < 0 || px == pw) return false;
    const Node &dqx = g.nodes[static_cast<std::size_t>(px)], &dqw = g.nodes[static_cast<std::size_t>(pw)];
    const Node &q = g.nodes[static_cast<std::size_t>(pq)];
    Quant x, w, y;
    if (!read_quant(g, producer, dqx, input(dqx, 0), x) || x.per_axis) return false;
    if (!read_quant(g, producer, dqw, input(dqw, 0), w)) return false;
    if (!read_quant(g, producer, q, input(q, 0), y) || y.scales.size() != 1) return false;
    const Value &wv = val(g, w.data);
    if (!wv.is_const) return false;
    // Which weight axis holds the output channels, and how many there are.
    int out_axis;
    if (op.op == "Conv") {
      if (wv.shape.size() < 3) return false;
      out_axis = 0;
    } else if (op.op == "MatMul") {
      if (w.per_axis && wv.shape.size() != 2) return false;
      out_axis = static_cast<int>(wv.shape.size()) - 1;
    } else {
      if (wv.shape.size() != 2 || op.get_float("alpha", 1.0) != 1.0) return false;
      out_axis = op.get_int("transB", 0) ? 0 : 1;
    }
    if (w.per_axis && w.axis != out_axis) return false;
    const std::size_t channels = static_cast<std::size_t>(wv.shape[static_cast<std::size_t>(out_axis)]);
    const int b_in = op.op == "MatMul" ? -1 : input(op, 2);
    if (op.op == "Gemm" && b_in >= 0 && op.get_float("beta", 1.0) != 1.0) return false;
    int b = -1, pb = -1;
    const std::string name = op.name;
    if (b_in >= 0) {
      b = bias(b_in, x.scales[0], w.scales, channels, name + "_bias_q", pb);
      if (b < 0) return false;
    }
    Node n;
    n.name = name;
    n.domain = new_domain;
    n.op = new_op;
    if (op.op == "Conv") {
      n.attrs = op.attrs;
    } else if (op.op == "Gemm") {
      for (const char *key : {"transA", "transB", "alpha"})
        if (op.has(key)) n.attrs[key] = op.attrs.at(key);
    }
    const int y_out = q.outputs[0];
    const int xzp = zero_point(g, x, name + "_x_zero_point");
    const int wzp = zero_point(g, w, name + "_w_zero_point");
    const int yzp = zero_point(g, y, name + "_y_zero_point");
    n.inputs = {x.data, x.scale, xzp, w.data, w.scale, wzp};
    if (op.op == "Gemm") n.inputs.push_back(b);
    n.inputs.push_back(y.scale);
    n.inputs.push_back(yzp);
    if (op.op == "Conv" && b >= 0) n.inputs.push_back(b);
    n.outputs = {y_out};
    dead[static_cast<std::size_t>(px)] = dead[static_cast<std::size_t>(pw)] = dead[static_cast<std::size_t>(pq)] = 1;
    if (pb >= 0) dead[static_cast<std::size_t>(pb)] = 1;
    g.nodes[k] = std::move(n);
    return true;
  }
};

}  // namespace

void fuse_qdq(Graph &g, const OpSupported &supported) {
  Fuser f(g);
  // Values added for zero points and biases extend g.values; the tables index only old ones.
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    if (!f.dead[k]) f.fuse(k, supported);
  erase_nodes(g, f.dead);
}

}  // namespace q8::model
