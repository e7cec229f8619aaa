// QDQ -> QOperator fusion. A QDQ model says "this operator reads quantized tensors and its result
// is quantized": DQ(x) [, DQ(W)] -> op -> Q. The quantized operator computes exactly that in
// integers, so the pattern becomes one node:
//  - Conv / MatMul / Gemm with a constant weight -> QLinearConv, QLinearMatMul, com.microsoft QGemm;
//  - Add, Mul, Sigmoid, Tanh, GlobalAveragePool, AveragePool, Concat -> com.microsoft QLinearAdd,
//    QLinearMul, QLinearSigmoid, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat and
//    ai.q8 QLinearTanh (what ONNX Runtime's QDQ transformer does too);
//  - MaxPool, Reshape, Flatten, Transpose, Relu, Clip between a DQ and a Q with the same parameters
//    run on the integers as they are (exact: they commute with the monotone dequantize, and
//    Q(DQ(v)) = v; Relu and Clip only where the integers carry those parameters at run time);
//  - DynamicQuantizeLinear(x) -> DQ, DQ(W) -> Gemm / MatMul / Conv with an f32 result (dynamic
//    quantization) -> ai.q8 DynamicGemm / DynamicConv, which quantize x the same way per run and
//    sum in int32 (the f32 pattern rounds each product instead).
// A pattern is fused only when it is unambiguous: constant scales and zero points, per-tensor
// activations, weights per tensor or per output channel, the dequantized tensors read by this
// operator alone, and a bias that is (or can be made) int32 with scale x_scale * w_scale.
#include <cmath>
#include <cstring>

#include "model/passes.hpp"
#include "model/quantized_ops.hpp"

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
bool known_dtype(const Graph &g, const std::vector<int> &producer, int id, q8_dtype &out, int depth = 0) {
  const Value &v = val(g, id);
  bool is_input = false;
  for (int i : g.inputs) is_input |= i == id;
  if (v.is_const || is_input) {
    out = v.dtype;
    return true;
  }
  const int p = producer[static_cast<std::size_t>(id)];
  if (p < 0 || depth > 64) return false;
  const Node &n = g.nodes[static_cast<std::size_t>(p)];
  // Operators that pass their input's element type on (layout, max, clamps).
  static const char *const same_type[] = {"Flatten", "Reshape", "Transpose", "Identity", "Dropout",
                                          "MaxPool", "Relu", "Clip", "Concat"};
  if (n.domain.empty())
    for (const char *op : same_type)
      if (n.op == op) return input(n, 0) >= 0 && known_dtype(g, producer, input(n, 0), out, depth + 1);
  if (n.outputs.empty() || n.outputs[0] != id) return false;
  if (n.domain.empty() && n.op == "DynamicQuantizeLinear") {
    out = Q8_DTYPE_U8;
    return true;
  }
  const OutputQParams *at = output_qparams(n);
  if (!at) return false;
  const int zp = input(n, at->scale + 1);
  if (zp >= 0) {
    out = val(g, zp).dtype;
    return true;
  }
  if (n.op == "QGemm") return false;  // f32 output, or A's type: not worth the case
  if (at->dtype_from == OutputQParams::kDefaultU8) {
    out = Q8_DTYPE_U8;  // ONNX's default output type
    return true;
  }
  const int like = input(n, at->dtype_from);
  return like >= 0 && known_dtype(g, producer, like, out, depth + 1);
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
    if (!op.domain.empty() || op.outputs.size() != 1 || op.outputs[0] < 0) return false;
    if (op.op == "Conv" || op.op == "MatMul" || op.op == "Gemm")
      return fuse_weighted(k, supported) || fuse_dynamic(k, supported);
    if (op.op == "MaxPool" || op.op == "Reshape" || op.op == "Flatten" || op.op == "Transpose" ||
        op.op == "Relu" || op.op == "Clip")
      return fuse_passthrough(k);
    return fuse_activation(k, supported);
  }

  // Node k now computes `out` (a fused node's result): later patterns find it as the producer.
  void produced(std::size_t k, int out) { producer[static_cast<std::size_t>(out)] = static_cast<int>(k); }

  // A DequantizeLinear feeding node k's input `i` alone, per tensor, of a known 8-bit type.
  bool activation_dq(const Node &op, std::size_t i, int &p, Quant &q) const {
    p = sole_producer(input(op, i), "DequantizeLinear");
    if (p < 0) return false;
    const Node &dq = g.nodes[static_cast<std::size_t>(p)];
    return read_quant(g, producer, dq, input(dq, 0), q) && !q.per_axis;
  }

  // The QuantizeLinear reading node k's output alone, per tensor.
  bool output_q(const Node &op, int &p, Quant &q) const {
    p = sole_quantizer(op.outputs[0]);
    if (p < 0) return false;
    const Node &qn = g.nodes[static_cast<std::size_t>(p)];
    return read_quant(g, producer, qn, input(qn, 0), q) && q.scales.size() == 1;
  }

  // DQ -> Add / Mul / Sigmoid / Tanh / GlobalAveragePool / AveragePool / Concat -> Q.
  bool fuse_activation(std::size_t k, const OpSupported &supported) {
    const Node &op = g.nodes[k];
    std::string domain = "com.microsoft", fused;
    std::size_t arity = 1;
    if (op.op == "Add" || op.op == "Mul") fused = "QLinear" + op.op, arity = 2;
    else if (op.op == "Sigmoid") fused = "QLinearSigmoid";
    else if (op.op == "Tanh") domain = "ai.q8", fused = "QLinearTanh";
    else if (op.op == "GlobalAveragePool") fused = "QLinearGlobalAveragePool";
    else if (op.op == "AveragePool") fused = "QLinearAveragePool";
    else if (op.op == "Concat") fused = "QLinearConcat", arity = op.inputs.size();
    else return false;
    if (!supported(domain, fused) || arity == 0 || op.inputs.size() != arity) return false;
    // q8's quantized pools are 2-D (and AveragePool's dilations came after opset 17).
    if (op.op == "AveragePool" && (op.get_ints("kernel_shape").size() != 2 || op.has("dilations"))) return false;
    std::vector<int> dqs(arity);
    std::vector<Quant> xs(arity);
    for (std::size_t i = 0; i < arity; ++i) {
      if (!activation_dq(op, i, dqs[i], xs[i])) return false;
      for (std::size_t j = 0; j < i; ++j)
        if (dqs[j] == dqs[i]) return false;
    }
    int pq;
    Quant y;
    if (!output_q(op, pq, y)) return false;
    // The quantized kernels take one element type throughout, as ONNX Runtime's do.
    for (const Quant &x : xs)
      if (x.dtype != y.dtype) return false;
    Node n;
    n.name = op.name;
    n.domain = domain;
    n.op = fused;
    const std::string name = op.name;
    const int yzp = zero_point(g, y, name + "_y_zero_point");
    if (op.op == "Concat") n.inputs = {y.scale, yzp};
    for (std::size_t i = 0; i < arity; ++i) {
      const int zp = zero_point(g, xs[i], name + "_x" + std::to_string(i) + "_zero_point");
      for (int id : {xs[i].data, xs[i].scale, zp}) n.inputs.push_back(id);
    }
    if (op.op != "Concat") {
      n.inputs.push_back(y.scale);
      n.inputs.push_back(yzp);
    }
    if (op.op == "Concat" || op.op == "AveragePool") n.attrs = op.attrs;
    if (op.op == "GlobalAveragePool" || op.op == "AveragePool") {
      Attr a;
      a.kind = Attr::INT;
      a.i = 0;
      n.attrs["channels_last"] = a;
    }
    n.outputs = {g.nodes[static_cast<std::size_t>(pq)].outputs[0]};
    for (int p : dqs) dead[static_cast<std::size_t>(p)] = 1;
    dead[static_cast<std::size_t>(pq)] = 1;
    produced(k, n.outputs[0]);
    g.nodes[k] = std::move(n);
    return true;
  }

  // The zero point of per-tensor parameters (0 when absent).
  int zero_of(const Quant &q) const {
    if (q.zp < 0) return 0;
    const uint8_t b = val(g, q.zp).data.data[0];
    return q.dtype == Q8_DTYPE_S8 ? static_cast<int>(static_cast<int8_t>(b)) : static_cast<int>(b);
  }

  // Whether the tensor `id` carries, when the session runs, the per-tensor parameters q: its
  // producer is a quantizing operator with those output parameters, or passes its input's on.
  bool carries(int id, const Quant &q, int depth = 0) const {
    const int p = id < 0 || depth > 64 ? -1 : producer[static_cast<std::size_t>(id)];
    if (p < 0) return false;
    const Node &n = g.nodes[static_cast<std::size_t>(p)];
    static const char *const pass_on[] = {"Flatten", "Reshape", "Transpose", "Identity", "MaxPool", "Relu", "Clip"};
    if (n.domain.empty())
      for (const char *op : pass_on)
        if (n.op == op) return carries(input(n, 0), q, depth + 1);
    const OutputQParams *layout = output_qparams(n);
    if (!layout) return false;
    const std::size_t at = layout->scale;  // the zero point follows it
    const int s = input(n, at), z = input(n, at + 1);
    if (s < 0 || !val(g, s).is_const || val(g, s).dtype != Q8_DTYPE_F32 || numel(val(g, s)) != 1) return false;
    if (read_f32(val(g, s)) != q.scales) return false;
    Quant have = q;
    have.zp = z;
    if (z >= 0 && (!val(g, z).is_const || numel(val(g, z)) != 1 || val(g, z).dtype != q.dtype)) return false;
    return zero_of(have) == zero_of(q);
  }

  // DQ -> MaxPool / Reshape / Flatten / Transpose / Relu / Clip -> Q with the same parameters:
  // the operator runs on the integers. Relu and Clip clamp at bounds quantized with the
  // parameters the integer tensor carries at run time, so those must be the DQ's.
  bool fuse_passthrough(std::size_t k) {
    const Node &op = g.nodes[k];
    for (std::size_t i = 1; i < op.inputs.size(); ++i)
      if (op.inputs[i] >= 0) return false;
    int px, pq;
    Quant x, y;
    if (!activation_dq(op, 0, px, x) || !output_q(op, pq, y)) return false;
    if (x.dtype != y.dtype || x.scales != y.scales || zero_of(x) != zero_of(y)) return false;
    if ((op.op == "Relu" || op.op == "Clip") && !carries(x.data, x)) return false;
    Node n = op;
    n.inputs[0] = x.data;
    n.outputs = {g.nodes[static_cast<std::size_t>(pq)].outputs[0]};
    dead[static_cast<std::size_t>(px)] = dead[static_cast<std::size_t>(pq)] = 1;
    produced(k, n.outputs[0]);
    g.nodes[k] = std::move(n);
    return true;
  }

  // DynamicQuantizeLinear(x) -> DQ, DQ(W) -> Conv / MatMul / Gemm with an f32 result.
  bool fuse_dynamic(std::size_t k, const OpSupported &supported) {
    const Node &op = g.nodes[k];
    const bool conv = op.op == "Conv";
    const std::string fused = conv ? "DynamicConv" : "DynamicGemm";
    if (!supported("ai.q8", fused)) return false;
    const int px = sole_producer(input(op, 0), "DequantizeLinear");
    const int pw = sole_producer(input(op, 1), "DequantizeLinear");
    if (px < 0 || pw < 0 || px == pw) return false;
    const Node &dqx = g.nodes[static_cast<std::size_t>(px)];
    // The DQ must read the three outputs of one DynamicQuantizeLinear, which nothing else reads.
    const int xq = input(dqx, 0);
    if (xq < 0 || dqx.inputs.size() != 3 || uses[static_cast<std::size_t>(xq)] != 1 || is_graph_output(g, xq))
      return false;
    const int pd = producer[static_cast<std::size_t>(xq)];
    if (pd < 0 || dead[static_cast<std::size_t>(pd)]) return false;
    const Node &dql = g.nodes[static_cast<std::size_t>(pd)];
    if (!dql.domain.empty() || dql.op != "DynamicQuantizeLinear" || dql.outputs.size() != 3 ||
        dql.outputs[0] != xq || input(dqx, 1) != dql.outputs[1] || input(dqx, 2) != dql.outputs[2] ||
        input(dql, 0) < 0)
      return false;
    for (int o : {dql.outputs[1], dql.outputs[2]})
      if (uses[static_cast<std::size_t>(o)] != 1 || is_graph_output(g, o)) return false;
    const Node &dqw = g.nodes[static_cast<std::size_t>(pw)];
    Quant w;
    if (!read_quant(g, producer, dqw, input(dqw, 0), w) || w.dtype != Q8_DTYPE_S8) return false;
    const Value &wv = val(g, w.data);
    if (!wv.is_const) return false;
    int out_axis, trans_b = 0;
    if (conv) {
      if (wv.shape.size() != 4) return false;
      out_axis = 0;
    } else if (op.op == "MatMul") {
      if (wv.shape.size() != 2) return false;
      out_axis = 1;
    } else {
      if (wv.shape.size() != 2 || op.get_int("transA", 0) != 0 || op.get_float("alpha", 1.0) != 1.0) return false;
      trans_b = op.get_int("transB", 0) != 0;
      out_axis = trans_b ? 0 : 1;
    }
    if (w.per_axis && w.axis != out_axis) return false;
    const std::size_t channels = static_cast<std::size_t>(wv.shape[static_cast<std::size_t>(out_axis)]);
    // The bias is added in f32 after the integer product: a constant of one value per channel.
    int bias = op.op == "MatMul" ? -1 : input(op, 2);
    if (bias >= 0) {
      const Value &b = val(g, bias);
      if (!b.is_const || b.dtype != Q8_DTYPE_F32 || numel(b) != channels) return false;
      if (b.shape.size() != 1) {
        if (conv || b.shape.size() != 2 || b.shape[0] != 1) return false;
        if (op.get_float("beta", 1.0) != 1.0) return false;
        std::vector<uint8_t> bytes(b.data.data, b.data.data + b.data.size);
        bias = add_const(g, op.name + "_bias", Q8_DTYPE_F32, {static_cast<int64_t>(channels)}, std::move(bytes));
      } else if (!conv && op.get_float("beta", 1.0) != 1.0) {
        return false;
      }
    }
    Node n;
    n.name = op.name;
    n.domain = "ai.q8";
    n.op = fused;
    n.inputs = {input(dql, 0), w.data, w.scale, zero_point(g, w, op.name + "_w_zero_point"), bias};
    if (conv) {
      n.attrs = op.attrs;
    } else {
      Attr a;
      a.kind = Attr::INT;
      a.i = trans_b;
      n.attrs["transB"] = a;
    }
    n.outputs = op.outputs;
    dead[static_cast<std::size_t>(pd)] = dead[static_cast<std::size_t>(px)] = dead[static_cast<std::size_t>(pw)] = 1;
    g.nodes[k] = std::move(n);
    return true;
  }

  // DQ(x), DQ(W) -> Conv / MatMul / Gemm -> Q.
  bool fuse_weighted(std::size_t k, const OpSupported &supported) {
    const Node &op = g.nodes[k];
    std::string new_domain, new_op;
    if (op.op == "Conv") new_op = "QLinearConv";
    else if (op.op == "MatMul") new_op = "QLinearMatMul";
    else if (op.op == "Gemm") new_domain = "com.microsoft", new_op = "QGemm";
    else return false;
    if (!supported(new_domain, new_op)) return false;
    const int px = sole_producer(input(op, 0), "DequantizeLinear");
    const int pw = sole_producer(input(op, 1), "DequantizeLinear");
    const int pq = sole_quantizer(op.outputs[0]);
    // A Gemm whose result stays f32 becomes QGemm without y_scale (f32 output): the integer
    // product scaled once, as ONNX Runtime fuses DQ -> MatMul into MatMulIntegerToFloat.
    const bool f32_out = pq < 0 && op.op == "Gemm";
    if (px < 0 || pw < 0 || (pq < 0 && !f32_out) || px == pw) return false;
    const Node &dqx = g.nodes[static_cast<std::size_t>(px)], &dqw = g.nodes[static_cast<std::size_t>(pw)];
    Quant x, w, y;
    if (!read_quant(g, producer, dqx, input(dqx, 0), x) || x.per_axis) return false;
    if (!read_quant(g, producer, dqw, input(dqw, 0), w)) return false;
    if (!f32_out) {
      const Node &q = g.nodes[static_cast<std::size_t>(pq)];
      if (!read_quant(g, producer, q, input(q, 0), y) || y.scales.size() != 1) return false;
    }
    const Value &wv = val(g, w.data);
    if (!wv.is_const) return false;
    // Which weight axis holds the output channels, and how many there are.
    int out_axis;
    if (op.op == "Conv") {
      if (wv.shape.size() != 4) return false;  // q8's quantized convolutions are 2-D
      out_axis = 0;
    } else if (op.op == "MatMul") {
      if (w.per_axis && wv.shape.size() != 2) return false;
      out_axis = static_cast<int>(wv.shape.size()) - 1;
    } else {
      if (wv.shape.size() != 2) return false;
      out_axis = op.get_int("transB", 0) ? 0 : 1;
    }
    if (w.per_axis && w.axis != out_axis) return false;
    const std::size_t channels = static_cast<std::size_t>(wv.shape[static_cast<std::size_t>(out_axis)]);
    const int b_in = op.op == "MatMul" ? -1 : input(op, 2);
    // QGemm adds C (at scale a_scale * b_scale) to the product before alpha scales both, which
    // is Gemm's alpha * A B + beta * C when beta = alpha.
    if (op.op == "Gemm" && b_in >= 0 && op.get_float("beta", 1.0) != op.get_float("alpha", 1.0)) return false;
    int b = -1, pb = -1;
    const std::string name = op.name;
    if (b_in >= 0) {
      // With an f32 result an f32 bias stays exact in the f32 pattern; rounding it to int32 would not.
      if (f32_out && val(g, b_in).is_const) return false;
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
    const int y_out = f32_out ? op.outputs[0] : g.nodes[static_cast<std::size_t>(pq)].outputs[0];
    const int xzp = zero_point(g, x, name + "_x_zero_point");
    const int wzp = zero_point(g, w, name + "_w_zero_point");
    n.inputs = {x.data, x.scale, xzp, w.data, w.scale, wzp};
    if (op.op == "Gemm") n.inputs.push_back(b);
    if (!f32_out) {
      n.inputs.push_back(y.scale);
      n.inputs.push_back(zero_point(g, y, name + "_y_zero_point"));
    }
    if (op.op == "Conv" && b >= 0) n.inputs.push_back(b);
    n.outputs = {y_out};
    dead[static_cast<std::size_t>(px)] = dead[static_cast<std::size_t>(pw)] = 1;
    if (pq >= 0) dead[static_cast<std::size_t>(pq)] = 1;
    if (pb >= 0) dead[static_cast<std::size_t>(pb)] = 1;
    produced(k, y_out);
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
