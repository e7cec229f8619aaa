// q8 model IR -> ONNX (opset 13, default domain only) in QDQ form. Each node is written in graph
// order: f32 and layout operators as they are (with the importer's attribute folds undone), the
// quantized operators as DequantizeLinear of each quantized operand -> the float operator ->
// QuantizeLinear of the result, the dynamic ones as DynamicQuantizeLinear -> DequantizeLinear ->
// the float operator. Value names are kept; new values get names derived from the value they
// come from, made unique. The result must pass the ONNX checker and strict type inference.
#include "onnx/export.hpp"

#include <onnx/checker.h>
#include <onnx/defs/data_type_utils.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>
#include <set>

#include "core/error.hpp"
#include "format/atomic_file.hpp"

namespace q8::onnx {

namespace {

using ::onnx::AttributeProto;
using ::onnx::GraphProto;
using ::onnx::ModelProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;
using ::onnx::ValueInfoProto;
using model::Attr;
using model::Graph;
using model::Node;
using model::Value;
using model::input;

constexpr int64_t kOpset = 13;
constexpr int64_t kIrVersion = 8;  // ONNX 1.10-1.12; opset 13 needs IR >= 7

int32_t onnx_type(q8_dtype d) {
  switch (d) {
    case Q8_DTYPE_F32: return TensorProto::FLOAT;
    case Q8_DTYPE_S8: return TensorProto::INT8;
    case Q8_DTYPE_U8: return TensorProto::UINT8;
    case Q8_DTYPE_S32: return TensorProto::INT32;
  }
  fail(Q8_ERR_INTERNAL, "export: unknown dtype " + std::to_string(static_cast<int>(d)));
}

bool is_q8(q8_dtype d) { return d == Q8_DTYPE_U8 || d == Q8_DTYPE_S8; }

const char *onnx_type_text(q8_dtype d) {
  switch (d) {
    case Q8_DTYPE_F32: return "tensor(float)";
    case Q8_DTYPE_S8: return "tensor(int8)";
    case Q8_DTYPE_U8: return "tensor(uint8)";
    case Q8_DTYPE_S32: return "tensor(int32)";
  }
  return "tensor(undefined)";
}

std::string op_text(const Node &n) { return n.domain.empty() ? n.op : n.domain + "." + n.op; }

[[noreturn]] void unsupported(const Node &n, const std::string &why) {
  fail(Q8_ERR_UNSUPPORTED, "node '" + n.name + "' (" + op_text(n) + "): " + why);
}


std::size_t numel(const std::vector<int64_t> &shape) {
  std::size_t k = 1;
  for (int64_t d : shape) k *= static_cast<std::size_t>(d < 0 ? 1 : d);
  return k;
}

// Where a quantized activation's parameters come from when the model is built: the names of its
// scale and zero point ("" = the default zero point) and the axis of per-axis parameters (-1).
struct QNames {
  bool known = false;
  std::string scale, zp;
  int64_t axis = -1;
};

class Exporter {
 public:
  explicit Exporter(const Graph &g)
      : g_(g), used_(g.values.size(), 0), dt_(g.values.size()), qp_(g.values.size()) {
    for (std::size_t i = 0; i < g.values.size(); ++i) {
      names_.insert(g.values[i].name);
      dt_[i] = g.values[i].dtype;
    }
    for (const Node &n : g.nodes) node_names_.insert(n.name);
  }

  ModelProto run() {
    m_.set_ir_version(kIrVersion);
    m_.set_producer_name("q8");
    m_.set_producer_version(q8_version_string());
    if (!g_.producer.empty()) m_.set_doc_string("q8 QDQ export of a model made by: " + g_.producer);
    auto *opset = m_.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOpset);
    gp_ = m_.mutable_graph();
    gp_->set_name("q8");
    for (int id : g_.inputs) value_info(gp_->add_input(), id);
    for (const Node &n : g_.nodes) export_node(n);
    for (int id : g_.outputs) {
      ref(id);  // a constant output is an initializer
      value_info(gp_->add_output(), id);
    }
    // The model's constants that something reads, in value order, then the ones made here.
    for (std::size_t i = 0; i < g_.values.size(); ++i)
      if (used_[i]) initializer(g_.values[i]);
    for (TensorProto &t : extra_) *gp_->add_initializer() = std::move(t);
    extra_.clear();
    return std::move(m_);
  }

 private:
  const Graph &g_;
  ModelProto m_;
  GraphProto *gp_ = nullptr;
  std::set<std::string> names_, node_names_;
  std::vector<char> used_;           // constants of g_ referenced by the export
  std::vector<q8_dtype> dt_;         // element types as exported (quantized outputs fixed up)
  std::vector<QNames> qp_;           // parameters of quantized activations, where known
  std::vector<TensorProto> extra_;   // constants made by the export
  std::map<std::pair<int, std::size_t>, std::string> expanded_zp_;

  // ---- names, values, nodes ----
  std::string fresh(const std::string &base) {
    std::string name = base;
    for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
    names_.insert(name);
    return name;
  }

  std::string fresh_node(const std::string &base) {
    std::string name = base;
    for (int k = 1; node_names_.count(name); ++k) name = base + "_" + std::to_string(k);
    node_names_.insert(name);
    return name;
  }

  const Value &val(int id) const { return g_.values[static_cast<std::size_t>(id)]; }

  // The name under which value `id` is read ("" for an omitted input); marks constants used.
  std::string ref(int id) {
    if (id < 0) return "";
    if (val(id).is_const) used_[static_cast<std::size_t>(id)] = 1;
    return val(id).name;
  }

  void value_info(ValueInfoProto *vi, int id) {
    const Value &v = val(id);
    vi->set_name(v.name);
    auto *tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_type(dt_[static_cast<std::size_t>(id)]));
    if (!v.has_shape) return;
    auto *shape = tt->mutable_shape();
    shape->Clear();
    for (int64_t d : v.shape) {
      // q8 runs every dynamic dimension at the session's batch size: one symbol for all of them.
      if (d < 0) shape->add_dim()->set_dim_param("batch");
      else shape->add_dim()->set_dim_value(d);
    }
  }

  static void fill_tensor(TensorProto &t, const std::string &name, int32_t type, const std::vector<int64_t> &dims,
                          const void *data, std::size_t bytes) {
    t.set_name(name);
    t.set_data_type(type);
    for (int64_t d : dims) t.add_dims(d);
    t.set_raw_data(data, bytes);  // little-endian, as q8 holds it
  }

  void initializer(const Value &v) {
    fill_tensor(*gp_->add_initializer(), v.name, onnx_type(v.dtype), v.shape, v.data.data, v.data.size);
  }

  // A new constant; returns its (unique) name.
  std::string constant(const std::string &base, int32_t type, const std::vector<int64_t> &dims, const void *data,
                       std::size_t bytes) {
    const std::string name = fresh(base);
    extra_.emplace_back();
    fill_tensor(extra_.back(), name, type, dims, data, bytes);
    return name;
  }

  static void set_attr(NodeProto *np, const std::string &key, const Attr &a) {
    AttributeProto *p = np->add_attribute();
    p->set_name(key);
    switch (a.kind) {
      case Attr::INT: p->set_type(AttributeProto::INT); p->set_i(a.i); break;
      case Attr::FLOAT: p->set_type(AttributeProto::FLOAT); p->set_f(static_cast<float>(a.f)); break;
      case Attr::INTS:
        p->set_type(AttributeProto::INTS);
        for (int64_t x : a.ints) p->add_ints(x);
        break;
      case Attr::FLOATS:
        p->set_type(AttributeProto::FLOATS);
        for (float x : a.floats) p->add_floats(x);
        break;
      case Attr::STRING: p->set_type(AttributeProto::STRING); p->set_s(a.s); break;
    }
  }

  static Attr int_attr(int64_t v) {
    Attr a;
    a.kind = Attr::INT;
    a.i = v;
    return a;
  }

  // Appends a node; trailing omitted inputs and outputs are dropped (ONNX's way to leave them out).
  void add(const std::string &name, const std::string &op, std::vector<std::string> in,
           const std::vector<std::string> &out, const std::map<std::string, Attr> &attrs = {}) {
    while (!in.empty() && in.back().empty()) in.pop_back();
    std::size_t outs = out.size();
    while (outs > 1 && out[outs - 1].empty()) --outs;
    NodeProto *np = gp_->add_node();
    np->set_name(name);
    np->set_op_type(op);
    for (const std::string &s : in) np->add_input(s);
    for (std::size_t i = 0; i < outs; ++i) np->add_output(out[i]);
    for (const auto &kv : attrs) set_attr(np, kv.first, kv.second);
  }

  // ---- quantization helpers ----

  // Number of parameters a scale holds (1 when its shape is not known before running).
  std::size_t param_count(int id) const {
    const Value &v = val(id);
    return v.has_shape ? numel(v.shape) : 1;
  }

  // The element type of quantized operand `data` whose zero point is `zp` (or -1).
  q8_dtype qtype(int data, int zp) const {
    if (data >= 0 && is_q8(dt_[static_cast<std::size_t>(data)])) return dt_[static_cast<std::size_t>(data)];
    if (zp >= 0 && is_q8(val(zp).dtype)) return val(zp).dtype;
    return Q8_DTYPE_U8;
  }

  // A zero point with as many entries as the scale: QLinearConv, QLinearMatMul and QGemm take one
  // zero point beside per-channel weight scales, DequantizeLinear one per scale.
  std::string zero_point_for(const Node &n, int zp, std::size_t count) {
    if (zp < 0 || param_count(zp) == count) return ref(zp);
    const Value &z = val(zp);
    if (!z.is_const || param_count(zp) != 1)
      unsupported(n, "zero point '" + z.name + "' does not match its " + std::to_string(count) + " scales");
    auto key = std::make_pair(zp, count);
    auto it = expanded_zp_.find(key);
    if (it != expanded_zp_.end()) return it->second;
    std::vector<uint8_t> bytes(count, z.data.data[0]);
    const std::string name = constant(z.name + "_per_axis", onnx_type(z.dtype), {static_cast<int64_t>(count)},
                                      bytes.data(), bytes.size());
    expanded_zp_[key] = name;
    return name;
  }

  // DequantizeLinear(data, scale, zp) -> a new f32 value named after `base`.
  std::string dq_names(const std::string &node, const std::string &base, const std::string &data,
                       const std::string &scale, const std::string &zp, int64_t axis) {
    const std::string out = fresh(base + "_dq");
    std::map<std::string, Attr> attrs;
    if (axis >= 0) attrs["axis"] = int_attr(axis);
    add(fresh_node(node), "DequantizeLinear", {data, scale, zp}, {out}, attrs);
    return out;
  }

  // Dequantizes operand `data` (scale `scale`, zero point `zp`) of node n. `axis`: the operand's
  // channel axis if its parameters may be per channel, else -1 (per tensor only).
  std::string dequantize(const Node &n, const char *role, int data, int scale, int zp, int64_t axis) {
    if (data < 0 || scale < 0) unsupported(n, std::string("its ") + role + " operand or scale is missing");
    const std::size_t count = param_count(scale);
    if (count > 1 && axis < 0)
      unsupported(n, std::string("its ") + role + " has per-axis parameters ('" + val(scale).name +
                         "'), which this operator takes per tensor only");
    return dq_names(n.name + "_dequantize_" + role, val(data).name, ref(data), ref(scale),
                    zero_point_for(n, zp, count), count > 1 ? axis : -1);
  }

  // The name for the float result of a quantized operator whose output is `y`: the value's name
  // without "_quantized" (q8's quantizer names the FP32 value so) when free, else "<y>_float".
  std::string float_name(int y) {
    const std::string &name = val(y).name;
    static const std::string suffix = "_quantized";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string base = name.substr(0, name.size() - suffix.size());
      if (!names_.count(base)) return fresh(base);
    }
    return fresh(name + "_float");
  }

  // QuantizeLinear(from, scale, zp) -> y, where y has element type `dt`. Records y's parameters.
  void quantize_to(const Node &n, const std::string &from, int y, const std::string &scale, const std::string &zp_in,
                   q8_dtype dt, int64_t axis) {
    std::string zp = zp_in;
    if (zp.empty() && dt == Q8_DTYPE_S8) {
      // Without a zero point QuantizeLinear writes u8; an s8 result needs an s8 zero.
      const int8_t z = 0;
      zp = constant(val(y).name + "_zero_point", TensorProto::INT8, {}, &z, 1);
    }
    std::map<std::string, Attr> attrs;
    if (axis >= 0) attrs["axis"] = int_attr(axis);
    add(fresh_node(n.name + "_quantize"), "QuantizeLinear", {from, scale, zp}, {ref(y)}, attrs);
    dt_[static_cast<std::size_t>(y)] = dt;
    qp_[static_cast<std::size_t>(y)] = {true, scale, zp, axis};
  }

  // Quantizes the float result `from` into output y of node n with parameters at inputs
  // (scale_at, zp_at); `like` is the operand whose type a missing zero point defaults to.
  void quantize(const Node &n, const std::string &from, int y, int scale, int zp, int like) {
    if (scale < 0) unsupported(n, "its output scale is missing");
    if (param_count(scale) != 1) unsupported(n, "its output has per-axis parameters");
    const q8_dtype dt = zp >= 0 ? val(zp).dtype : qtype(like, -1);
    if (!is_q8(dt)) unsupported(n, "its output zero point '" + val(zp).name + "' is not u8 or s8");
    quantize_to(n, from, y, ref(scale), ref(zp), dt, -1);
  }

  std::vector<float> floats_of(int id) const {
    const Value &v = val(id);
    std::vector<float> out(v.data.size / sizeof(float));
    if (!out.empty()) std::memcpy(out.data(), v.data.data, out.size() * sizeof(float));
    return out;
  }

  // The int32 bias of QLinearConv / QGemm as DequantizeLinear(bias, x_scale * w_scale[c]) over
  // `channels` outputs, 1-D so that it broadcasts over the output channels as before.
  std::string dequantize_bias(const Node &n, int bias, int xs, int ws, std::size_t channels) {
    const Value &b = val(bias);
    if (b.dtype != Q8_DTYPE_S32) unsupported(n, "its bias '" + b.name + "' is not int32");
    const std::size_t count = param_count(ws);
    std::string data = ref(bias);
    if (b.is_const && channels > 0 && (b.shape.size() != 1 || numel(b.shape) != channels)) {
      // A scalar or [1, N] bias: the same values as 1-D [N] (what DequantizeLinear per axis needs).
      const std::size_t have = b.data.size / 4;
      if (have != 1 && have != channels)
        unsupported(n, "its bias '" + b.name + "' has neither 1 nor " + std::to_string(channels) + " elements");
      std::vector<int32_t> v(channels);
      for (std::size_t c = 0; c < channels; ++c) std::memcpy(&v[c], b.data.data + 4 * (have == 1 ? 0 : c), 4);
      data = constant(b.name + "_1d", TensorProto::INT32, {static_cast<int64_t>(channels)}, v.data(), v.size() * 4);
    } else if (count > 1 && !(b.has_shape && b.shape.size() == 1)) {
      unsupported(n, "its bias '" + b.name + "' is not a 1-D constant beside per-channel weight scales");
    }
    std::string scale;
    if (val(xs).is_const && val(ws).is_const && param_count(xs) == 1) {
      // The same f32 product the quantizer used for the bias and the importer checks.
      const std::vector<float> x = floats_of(xs), w = floats_of(ws);
      std::vector<float> s(w.size());
      for (std::size_t c = 0; c < w.size(); ++c) s[c] = x[0] * w[c];
      std::vector<int64_t> dims;
      if (val(ws).shape.size() == 1) dims.push_back(static_cast<int64_t>(s.size()));
      scale = constant(b.name + "_scale", TensorProto::FLOAT, dims, s.data(), s.size() * sizeof(float));
    } else {
      scale = fresh(b.name + "_scale");
      add(fresh_node(n.name + "_bias_scale"), "Mul", {ref(xs), ref(ws)}, {scale});
    }
    return dq_names(n.name + "_dequantize_bias", b.name, data, scale, "", count > 1 ? 0 : -1);
  }

  // The rank of value `id`, -1 if its shape is not known before running.
  int64_t known_rank(int id) const { return val(id).has_shape ? static_cast<int64_t>(val(id).shape.size()) : -1; }

  std::map<std::string, Attr> attrs_except(const Node &n, std::initializer_list<const char *> drop) const {
    std::map<std::string, Attr> a = n.attrs;
    for (const char *k : drop) a.erase(k);
    return a;
  }

  // ---- operators ----
  void export_node(const Node &n) {
    const std::string &d = n.domain, &op = n.op;
    if (d.empty()) {
      if (op == "QLinearConv") return qlinear_conv(n);
      if (op == "QLinearMatMul") return qlinear_matmul(n);
      if (op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear" ||
          op == "MatMulInteger" || op == "ConvInteger")
        return standard_quantized(n);
      return float_op(n);
    }
    if (d == "com.microsoft") {
      if (op == "QGemm") return qgemm(n);
      if (op == "QLinearAdd") return qlinear_binary(n, "Add");
      if (op == "QLinearMul") return qlinear_binary(n, "Mul");
      if (op == "QLinearSigmoid") return qlinear_unary(n, "Sigmoid");
      if (op == "QLinearGlobalAveragePool") return qlinear_unary(n, "GlobalAveragePool");
      if (op == "QLinearAveragePool") return qlinear_unary(n, "AveragePool");
      if (op == "QLinearConcat") return qlinear_concat(n);
    } else if (d == "ai.q8") {
      if (op == "QLinearTanh") return qlinear_unary(n, "Tanh");
      if (op == "DynamicGemm") return dynamic(n, "Gemm");
      if (op == "DynamicConv") return dynamic(n, "Conv");
    }
    unsupported(n, "q8 has no QDQ form of this operator in ONNX opset 13");
  }

  void single_output(const Node &n) const {
    if (n.outputs.size() != 1 || n.outputs[0] < 0) unsupported(n, "expected exactly one output");
  }

  void qlinear_conv(const Node &n) {
    single_output(n);
    const int y = n.outputs[0], w = input(n, 3);
    const std::string xd = dequantize(n, "x", input(n, 0), input(n, 1), input(n, 2), -1);
    const std::string wd = dequantize(n, "w", w, input(n, 4), input(n, 5), 0);
    std::string bd;
    if (input(n, 8) >= 0) {
      const std::size_t m = val(w).has_shape && !val(w).shape.empty() ? static_cast<std::size_t>(val(w).shape[0]) : 0;
      bd = dequantize_bias(n, input(n, 8), input(n, 1), input(n, 4), m);
    }
    const std::string f = float_name(y);
    add(n.name, "Conv", {xd, wd, bd}, {f}, n.attrs);
    quantize(n, f, y, input(n, 6), input(n, 7), input(n, 0));
  }

  void qlinear_matmul(const Node &n) {
    single_output(n);
    const int y = n.outputs[0], b = input(n, 3);
    const int64_t rank = b >= 0 ? known_rank(b) : -1;
    const std::string ad = dequantize(n, "a", input(n, 0), input(n, 1), input(n, 2), -1);
    const std::string bd = dequantize(n, "b", b, input(n, 4), input(n, 5), rank > 0 ? rank - 1 : -1);
    const std::string f = float_name(y);
    add(n.name, "MatMul", {ad, bd}, {f});
    quantize(n, f, y, input(n, 6), input(n, 7), input(n, 0));
  }

  void qgemm(const Node &n) {
    single_output(n);
    const int y = n.outputs[0], b = input(n, 3);
    const bool trans_b = n.get_int("transB", 0) != 0;
    const std::string ad = dequantize(n, "a", input(n, 0), input(n, 1), input(n, 2), -1);
    const std::string bd = dequantize(n, "b", b, input(n, 4), input(n, 5), trans_b ? 0 : 1);
    std::map<std::string, Attr> attrs;
    for (const char *k : {"transA", "transB", "alpha"})
      if (n.has(k)) attrs[k] = n.attrs.at(k);
    std::string cd;
    if (input(n, 6) >= 0) {
      std::size_t channels = 0;
      if (b >= 0 && val(b).has_shape && val(b).shape.size() == 2)
        channels = static_cast<std::size_t>(val(b).shape[trans_b ? 0 : 1]);
      cd = dequantize_bias(n, input(n, 6), input(n, 1), input(n, 4), channels);
      // QGemm adds C (at scale a_scale * b_scale) before alpha scales the sum: Gemm's beta = alpha.
      const double alpha = n.get_float("alpha", 1.0);
      if (alpha != 1.0) {
        Attr beta;
        beta.kind = Attr::FLOAT;
        beta.f = alpha;
        attrs["beta"] = beta;
      }
    }
    if (input(n, 7) < 0) {  // no y_scale: QGemm's output is f32
      add(n.name, "Gemm", {ad, bd, cd}, {ref(y)}, attrs);
      dt_[static_cast<std::size_t>(y)] = Q8_DTYPE_F32;
      return;
    }
    const std::string f = float_name(y);
    add(n.name, "Gemm", {ad, bd, cd}, {f}, attrs);
    quantize(n, f, y, input(n, 7), input(n, 8), input(n, 0));
  }

  void qlinear_binary(const Node &n, const char *op) {
    single_output(n);
    const int y = n.outputs[0];
    const std::string ad = dequantize(n, "a", input(n, 0), input(n, 1), input(n, 2), -1);
    const std::string bd = dequantize(n, "b", input(n, 3), input(n, 4), input(n, 5), -1);
    const std::string f = float_name(y);
    add(n.name, op, {ad, bd}, {f});
    quantize(n, f, y, input(n, 6), input(n, 7), input(n, 0));
  }

  void qlinear_unary(const Node &n, const std::string &op) {
    single_output(n);
    if (n.get_int("channels_last", 0) != 0)
      unsupported(n, "channels_last = 1 (NHWC) has no ONNX pooling equivalent; the export writes NCHW only");
    const int y = n.outputs[0];
    const std::string xd = dequantize(n, "x", input(n, 0), input(n, 1), input(n, 2), -1);
    const std::string f = float_name(y);
    add(n.name, op, {xd}, {f}, op == "AveragePool" ? attrs_except(n, {"channels_last"}) : std::map<std::string, Attr>{});
    quantize(n, f, y, input(n, 3), input(n, 4), input(n, 0));
  }

  void qlinear_concat(const Node &n) {
    single_output(n);
    if (n.inputs.size() < 5 || (n.inputs.size() - 2) % 3 != 0)
      unsupported(n, "expected y_scale, y_zero_point and (x, scale, zero point) triples");
    const int y = n.outputs[0];
    std::vector<std::string> parts;
    for (std::size_t i = 2; i < n.inputs.size(); i += 3) {
      const std::string role = "x" + std::to_string((i - 2) / 3);
      parts.push_back(dequantize(n, role.c_str(), input(n, i), input(n, i + 1), input(n, i + 2), -1));
    }
    const std::string f = float_name(y);
    add(n.name, "Concat", parts, {f}, attrs_except(n, {}));
    quantize(n, f, y, input(n, 0), input(n, 1), input(n, 2));
  }

  // DynamicGemm / DynamicConv: X is quantized per run, as DynamicQuantizeLinear does.
  void dynamic(const Node &n, const std::string &op) {
    single_output(n);
    const int x = input(n, 0), w = input(n, 1);
    if (x < 0 || w < 0) unsupported(n, "X or W is missing");
    if (op == "Gemm" && val(x).has_shape && val(x).shape.size() != 2)
      unsupported(n, "X '" + val(x).name + "' has rank " + std::to_string(val(x).shape.size()) +
                         "; the export writes Gemm, which takes 2-D inputs");
    const std::string &xn = val(x).name;
    const std::string xq = fresh(xn + "_quantized"), xs = fresh(xn + "_scale"), xz = fresh(xn + "_zero_point");
    add(fresh_node(n.name + "_dynamic_quantize"), "DynamicQuantizeLinear", {ref(x)}, {xq, xs, xz});
    const std::string xd = dq_names(n.name + "_dequantize_x", xn, xq, xs, xz, -1);
    const bool trans_b = n.get_int("transB", 0) != 0;
    const std::string wd = dequantize(n, "w", w, input(n, 2), input(n, 3), op == "Conv" ? 0 : trans_b ? 0 : 1);
    add(n.name, op, {xd, wd, ref(input(n, 4))}, {ref(n.outputs[0])}, n.attrs);
  }

  // QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger are
  // opset-13 operators already.
  void standard_quantized(const Node &n) {
    std::vector<std::string> in, out;
    for (int id : n.inputs) in.push_back(ref(id));
    for (int id : n.outputs) out.push_back(ref(id));
    add(n.name, n.op, in, out, n.attrs);
    if (n.outputs.empty() || n.outputs[0] < 0) return;
    const std::size_t y = static_cast<std::size_t>(n.outputs[0]);
    if (n.op == "QuantizeLinear") {
      const int scale = input(n, 1), zp = input(n, 2), x = input(n, 0);
      dt_[y] = zp >= 0 ? val(zp).dtype : Q8_DTYPE_U8;
      int64_t axis = -1;
      if (scale >= 0 && param_count(scale) > 1) {
        axis = n.get_int("axis", 1);
        if (axis < 0) axis = x >= 0 && val(x).has_shape ? axis + static_cast<int64_t>(val(x).shape.size()) : -1;
        if (axis < 0) return;  // an axis counted from an unknown rank: parameters unknown here
      }
      if (scale >= 0) qp_[y] = {true, ref(scale), ref(zp), axis};
    } else if (n.op == "DynamicQuantizeLinear") {
      dt_[y] = Q8_DTYPE_U8;
      if (n.outputs.size() == 3 && n.outputs[1] >= 0 && n.outputs[2] >= 0)
        qp_[y] = {true, ref(n.outputs[1]), ref(n.outputs[2]), -1};
    }
  }

  // f32 operators, and the scale-preserving ones on quantized tensors.
  void float_op(const Node &n) {
    const int x = input(n, 0);
    const bool quantized = x >= 0 && is_q8(dt_[static_cast<std::size_t>(x)]);
    for (std::size_t i = 1; i < n.inputs.size(); ++i)
      if (n.inputs[i] >= 0 && is_q8(dt_[static_cast<std::size_t>(n.inputs[i])]) && n.op != "Concat")
        unsupported(n, "input '" + val(n.inputs[i]).name + "' is " + q8_dtype_name(dt_[static_cast<std::size_t>(n.inputs[i])]) +
                           "; ONNX's " + n.op + " takes f32 there");
    static const std::set<std::string> layout = {"Reshape", "Flatten", "Transpose", "Identity", "Dropout", "Concat"};
    static const std::set<std::string> monotone = {"MaxPool", "Relu", "Clip"};
    if (!quantized) return emit_float(n, {}, {});
    if (layout.count(n.op)) {
      // Integers move as they are (ONNX takes any element type here; Dropout, the identity at
      // inference, takes floats only and is written as Identity); per-tensor parameters travel
      // with them, per-axis ones may change axis, so they are forgotten.
      emit_float(n, {}, {}, n.op == "Dropout" ? "Identity" : n.op);
      const QNames &q = qp_[static_cast<std::size_t>(x)];
      bool same = q.known && q.axis < 0;
      if (n.op == "Concat")
        for (int id : n.inputs) {
          const QNames &o = qp_[static_cast<std::size_t>(id)];
          same = same && o.known && o.scale == q.scale && o.zp == q.zp && o.axis == q.axis;
        }
      for (int id : n.outputs)
        if (id >= 0) {
          dt_[static_cast<std::size_t>(id)] = dt_[static_cast<std::size_t>(x)];
          if (same) qp_[static_cast<std::size_t>(id)] = q;
        }
      return;
    }
    if (!monotone.count(n.op))
      unsupported(n, "input '" + val(x).name + "' is " + q8_dtype_name(dt_[static_cast<std::size_t>(x)]) +
                         "; ONNX's " + n.op + " takes f32 there");
    const QNames q = qp_[static_cast<std::size_t>(x)];
    if (!q.known) {
      // Parameters only known at run time: MaxPool takes 8-bit integers as they are (opset 12+);
      // Relu and Clip would need the zero point.
      if (n.op != "MaxPool")
        unsupported(n, "input '" + val(x).name + "' is quantized with parameters the model does not state, so "
                       "its zero point (where " + n.op + " clamps) is unknown");
      emit_float(n, {}, {});
      dt_[static_cast<std::size_t>(n.outputs[0])] = dt_[static_cast<std::size_t>(x)];
      return;
    }
    // Max and clamps commute with the monotone dequantize, so DQ -> op -> Q with the same
    // parameters gives the integers q8 computes in place.
    single_output(n);
    const int y = n.outputs[0];
    const std::string xd = dq_names(n.name + "_dequantize_x", val(x).name, ref(x), q.scale, q.zp, q.axis);
    const std::string f = float_name(y);
    emit_float(n, xd, f);
    quantize_to(n, f, y, q.scale, q.zp, dt_[static_cast<std::size_t>(x)], q.axis);
  }

  // Writes node n as its ONNX operator (or as `as`), input 0 renamed to `x0` and output 0 to `y0`
  // when given; the attributes the importer made of int64 inputs become inputs again.
  void emit_float(const Node &n, const std::string &x0, const std::string &y0, const std::string &as = {}) {
    std::vector<std::string> in, out;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) in.push_back(i == 0 && !x0.empty() ? x0 : ref(n.inputs[i]));
    for (std::size_t i = 0; i < n.outputs.size(); ++i) out.push_back(i == 0 && !y0.empty() ? y0 : ref(n.outputs[i]));
    std::map<std::string, Attr> attrs = n.attrs;
    if (n.op == "Reshape") {
      // Reshape's shape is an int64 input; allowzero arrived with opset 14.
      const std::vector<int64_t> shape = n.get_ints("shape");
      if (!n.has("shape")) unsupported(n, "it has no shape");
      if (n.get_int("allowzero", 0) != 0)
        for (int64_t d : shape)
          if (d == 0) unsupported(n, "allowzero = 1 with a 0 in shape needs opset 14");
      attrs.erase("shape");
      attrs.erase("allowzero");
      in.resize(1);
      in.push_back(constant(n.name + "_shape", TensorProto::INT64, {static_cast<int64_t>(shape.size())},
                            shape.data(), shape.size() * sizeof(int64_t)));
    } else if (n.op == "Clip") {
      // Clip's bounds are inputs of the input's type (f32 here) since opset 11.
      in.resize(1);
      for (const char *key : {"min", "max"}) {
        std::string name;
        if (n.has(key)) {
          const float v = static_cast<float>(n.get_float(key, 0));
          name = constant(n.name + "_" + key, TensorProto::FLOAT, {}, &v, sizeof v);
        }
        in.push_back(name);
        attrs.erase(key);
      }
    } else if (n.op == "BatchNormalization") {
      if (n.get_int("training_mode", 0) != 0) unsupported(n, "training_mode = 1");
      attrs.erase("training_mode");  // an opset-14 attribute; 0 is opset 13's behaviour
    }
    if (as == "Identity") attrs.clear();  // Dropout's seed
    const std::string op = as.empty() ? n.op : as;
    check_schema(n, op, x0);
    add(n.name, op, in, out, attrs);
  }

  // The opset-13 schema of `op` must take the element types of n's inputs (input 0 is f32 when
  // dequantized first): q8 runs a few operators (Relu, Clip, ...) on integers that opset 13 takes
  // as floats only.
  void check_schema(const Node &n, const std::string &op, const std::string &x0) const {
    const ::onnx::OpSchema *schema = ::onnx::OpSchemaRegistry::Schema(op, static_cast<int>(kOpset), "");
    if (!schema) unsupported(n, "ONNX opset 13 has no operator " + op);
    const auto &formals = schema->inputs();
    for (std::size_t i = 0; i < n.inputs.size() && !formals.empty(); ++i) {
      if (n.inputs[i] < 0) continue;
      const q8_dtype dt = i == 0 && !x0.empty() ? Q8_DTYPE_F32 : dt_[static_cast<std::size_t>(n.inputs[i])];
      const auto &types = formals[std::min(i, formals.size() - 1)].GetTypes();
      if (!types.count(::onnx::Utils::DataTypeUtils::ToType(onnx_type_text(dt))))
        unsupported(n, "input '" + val(n.inputs[i]).name + "' is " + q8_dtype_name(dt) + ", which ONNX's " + op +
                           " (opset 13) does not take");
    }
  }
};

// ONNX's strict type and shape inference, then the checker. Inference catches an operator fed
// a type its opset-13 schema does not take, which the checker alone lets through, and gives the
// graph outputs the shapes the checker requires (q8 knows only the inputs' shapes before a
// session runs). The inferred shapes of intermediate values are dropped again.
void infer_and_check(ModelProto &m) {
  const char *stage = "ONNX's strict type and shape inference";
  try {
    ::onnx::shape_inference::InferShapes(m, ::onnx::OpSchemaRegistry::Instance(),
                                         ::onnx::ShapeInferenceOptions(true, 1, false));
    m.mutable_graph()->clear_value_info();
    stage = "the ONNX checker";
    ::onnx::checker::check_model(m);
  } catch (const std::bad_alloc &) {
    throw;
  } catch (const std::exception &e) {
    fail(Q8_ERR_INTERNAL, std::string("the exported model fails ") + stage + " (a bug in q8's exporter): " + e.what());
  }
}

}  // namespace

std::string export_onnx(const model::Graph &g) {
  ModelProto m = Exporter(g).run();
  infer_and_check(m);
  const std::size_t bytes = m.ByteSizeLong();
  if (bytes > static_cast<std::size_t>(INT_MAX))
    fail(Q8_ERR_UNSUPPORTED, "the exported model would be " + std::to_string(bytes) +
                                 " bytes; protobuf writes at most 2 GiB in one message and q8 does not write external data");
  std::string out;
  if (!m.SerializeToString(&out)) fail(Q8_ERR_INTERNAL, "protobuf could not serialize the exported model");
  return out;
}

void export_onnx_file(const model::Graph &g, const char *path) {
  const std::string bytes = export_onnx(g);
  format::write_file_atomic(path, "export", [&](const format::WriteFn &write) { write(bytes.data(), bytes.size()); });
}

}  // namespace q8::onnx
