// The PTQ graph rewrite. The new graph is built node by node from the FP32 one. Each original
// value may exist in the new graph as f32 (under its own name) and/or quantized (name +
// "_quantized", with "_scale" and "_zero_point" constants); a consumer asks for the form it needs
// and a QuantizeLinear or DequantizeLinear is inserted on first demand, so conversions appear only
// where an INT8 region starts or ends. Weights are quantized per output channel (or per tensor);
// biases become int32 with scale input_scale * weight_scale, as QLinearConv and QGemm define.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "ptq/ptq.hpp"
#include "ptq/util.hpp"
#include "q8/quant.h"
#include "q8/tensor.h"

namespace q8::ptq {

namespace {

using model::Attr;
using model::Graph;
using model::Node;
using model::Value;

struct QForm {
  int value = -1, scale = -1, zero_point = -1;
};


Attr int_attr(int64_t v) {
  Attr a;
  a.kind = Attr::INT;
  a.i = v;
  return a;
}

q8_dtype scheme_dtype(q8_scheme s) {
  q8_dtype d;
  check(q8_scheme_dtype(s, &d), "scheme");
  return d;
}

std::vector<float> const_floats(const Value &v) {
  std::vector<float> out(v.data.size / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), v.data.data, out.size() * sizeof(float));
  return out;
}

class Rewriter {
 public:
  Rewriter(const Graph &g, const Options &opt, const Calibration &calib)
      : g_(g), opt_(opt), calib_(calib), f32_(g.values.size(), -1), q_(g.values.size()) {
    consumers_.resize(g.values.size());
    for (size_t k = 0; k < g.nodes.size(); ++k)
      for (int id : g.nodes[k].inputs)
        if (id >= 0) consumers_[id].push_back(static_cast<int>(k));
    for (int id : g.outputs) is_output_.insert(id);
  }

  Graph run() {
    out_.producer = "q8 " + std::string(q8_version_string()) + " ptq " +
                    (opt_.mode == Q8_PTQ_STATIC ? "static" : opt_.mode == Q8_PTQ_DYNAMIC ? "dynamic" : "weight-only");
    for (int id : g_.inputs) {
      Value v = g_.values[id];
      f32_[id] = out_.add_value(std::move(v));
      out_.inputs.push_back(f32_[id]);
    }
    const auto quantizable = quantizable_set();
    size_t done = 0;
    for (const Node &n : g_.nodes) {
      const bool q = quantizable.count(n.name) && !opt_.keep_fp32.count(n.name);
      bool emitted = false;
      if (q) {
        if (opt_.mode == Q8_PTQ_STATIC) emitted = emit_static(n);
        else if (opt_.mode == Q8_PTQ_DYNAMIC) emitted = emit_dynamic(n);
        else emitted = emit_weight_only(n);
      } else if (opt_.mode == Q8_PTQ_STATIC && !opt_.keep_fp32.count(n.name)) {
        emitted = emit_passthrough(n);
      }
      if (!emitted) emit_float(n);
      if (opt_.progress && opt_.progress(opt_.progress_user, "quantize", ++done, g_.nodes.size()))
        fail(Q8_ERR_STATE, "cancelled by the progress callback while quantizing");
    }
    for (int id : g_.outputs) out_.outputs.push_back(need_f32(id));
    out_.validate();
    return std::move(out_);
  }

  std::set<std::string> quantizable_set() const {
    std::set<std::string> s;
    for (const Node &n : g_.nodes)
      if (quantizable(n)) s.insert(n.name);
    return s;
  }

  bool quantizable(const Node &n) const {
    auto is_const = [&](size_t i) {
      return i < n.inputs.size() && n.inputs[i] >= 0 && g_.values[n.inputs[i]].is_const &&
             g_.values[n.inputs[i]].dtype == Q8_DTYPE_F32;
    };
    auto is_act = [&](size_t i) {
      return i < n.inputs.size() && n.inputs[i] >= 0 && !g_.values[n.inputs[i]].is_const &&
             g_.values[n.inputs[i]].dtype == Q8_DTYPE_F32;
    };
    if (!n.domain.empty()) return false;
    if (n.op == "Conv")
      return is_act(0) && is_const(1) && g_.values[n.inputs[1]].shape.size() == 4 &&
             (n.inputs.size() < 3 || n.inputs[2] < 0 || is_const(2));
    if (n.op == "Gemm") {
      if (!(is_act(0) && is_const(1) && g_.values[n.inputs[1]].shape.size() == 2)) return false;
      if (n.get_float("alpha", 1.0) != 1.0 || n.get_float("beta", 1.0) != 1.0 || n.get_int("transA", 0) != 0)
        return false;
      if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
        if (!is_const(2)) return false;
        const int64_t cols = g_.values[n.inputs[1]].shape[n.get_int("transB", 0) ? 0 : 1];
        const auto &cs = g_.values[n.inputs[2]].shape;
        size_t numel = 1;
        for (int64_t d : cs) numel *= static_cast<size_t>(d);
        if (numel != static_cast<size_t>(cols) || (cs.size() == 2 && cs[0] != 1)) return false;
      }
      return true;
    }
    if (n.op == "MatMul") {
      if (!(is_act(0) && is_const(1) && g_.values[n.inputs[1]].shape.size() == 2)) return false;
      // DynamicGemm takes 2-D activations; static QLinearMatMul takes any rank.
      if (opt_.mode == Q8_PTQ_DYNAMIC)
        return g_.values[n.inputs[0]].has_shape && g_.values[n.inputs[0]].shape.size() == 2;
      return true;
    }
    if (opt_.mode != Q8_PTQ_STATIC) return false;
    if (n.op == "Add" || n.op == "Mul") return is_act(0) && is_act(1);
    if (n.op == "Sigmoid" || n.op == "Tanh" || n.op == "GlobalAveragePool" || n.op == "AveragePool")
      return is_act(0);
    if (n.op == "Concat") {
      for (size_t i = 0; i < n.inputs.size(); ++i)
        if (!is_act(i)) return false;
      return !n.inputs.empty();
    }
    return false;
  }

 private:
  // ---- value forms ----
  std::string fresh(const std::string &base) const {
    if (out_.find(base) < 0 && g_.find(base) < 0) return base;
    for (int k = 1;; ++k) {
      std::string s = base + "_" + std::to_string(k);
      if (out_.find(s) < 0 && g_.find(s) < 0) return s;
    }
  }

  int add_const(const std::string &name, q8_dtype dtype, std::vector<int64_t> shape, const void *data,
                size_t bytes) {
    Value v;
    v.name = fresh(name);
    v.dtype = dtype;
    v.has_shape = true;
    v.shape = std::move(shape);
    v.is_const = true;
    v.data = model::Bytes::copy_of(data, bytes);
    return out_.add_value(std::move(v));
  }

  int add_activation(const std::string &name, q8_dtype dtype) {
    Value v;
    v.name = fresh(name);
    v.dtype = dtype;
    return out_.add_value(std::move(v));
  }

  void add_node(const std::string &name, const std::string &domain, const std::string &op,
                std::vector<int> in, std::vector<int> outs, std::map<std::string, Attr> attrs = {}) {
    Node n;
    n.name = name;
    while (!node_names_.insert(n.name).second) n.name = name + "_" + std::to_string(out_.nodes.size());
    n.domain = domain;
    n.op = op;
    n.inputs = std::move(in);
    n.outputs = std::move(outs);
    n.attrs = std::move(attrs);
    out_.nodes.push_back(std::move(n));
  }

  // The f32 form of original value `id`.
  int need_f32(int id) {
    if (f32_[id] >= 0) return f32_[id];
    const Value &v = g_.values[id];
    if (v.is_const) {
      f32_[id] = out_.add_value(v);
      return f32_[id];
    }
    if (q_[id].value < 0) fail(Q8_ERR_INTERNAL, "ptq: value '" + v.name + "' has no form in the new graph");
    Value nv;
    nv.name = v.name;
    nv.dtype = Q8_DTYPE_F32;
    nv.has_shape = v.has_shape;
    nv.shape = v.shape;
    f32_[id] = out_.add_value(std::move(nv));
    add_node(v.name + "_dequantize", "", "DequantizeLinear", {q_[id].value, q_[id].scale, q_[id].zero_point}, {f32_[id]});
    return f32_[id];
  }

  QForm make_qform(const std::string &base, const ActivationParams &p) {
    QForm f;
    const q8_dtype dt = scheme_dtype(opt_.activation_scheme);
    f.value = add_activation(base + "_quantized", dt);
    f.scale = add_const(base + "_scale", Q8_DTYPE_F32, {}, &p.scale, sizeof p.scale);
    if (dt == Q8_DTYPE_U8) {
      uint8_t z = static_cast<uint8_t>(p.zero_point);
      f.zero_point = add_const(base + "_zero_point", dt, {}, &z, 1);
    } else {
      int8_t z = static_cast<int8_t>(p.zero_point);
      f.zero_point = add_const(base + "_zero_point", dt, {}, &z, 1);
    }
    return f;
  }

  const ActivationParams &params_of(int id) const {
    auto it = calib_.find(id);
    if (it == calib_.end()) fail(Q8_ERR_INTERNAL, "ptq: activation '" + g_.values[id].name + "' was not calibrated");
    return it->second;
  }

  // The quantized form of original activation `id`.
  QForm need_q(int id) {
    if (q_[id].value >= 0) return q_[id];
    const int f = need_f32(id);
    const Value &v = g_.values[id];
    QForm q = make_qform(v.name, params_of(id));
    add_node(v.name + "_quantize", "", "QuantizeLinear", {f, q.scale, q.zero_point}, {q.value});
    q_[id] = q;
    return q;
  }

  // Parameters for the output of a quantized op: a single Relu consumer lends its range, so the
  // op's own requantization clamps at zero and the Relu disappears (u8 with zero point 0).
  std::pair<ActivationParams, int> output_params(int id) const {
    if (!is_output_.count(id) && consumers_[id].size() == 1) {
      const Node &c = g_.nodes[consumers_[id][0]];
      if (c.op == "Relu" && c.domain.empty() && !opt_.keep_fp32.count(c.name) && c.outputs[0] >= 0)
        return {params_of(c.outputs[0]), c.outputs[0]};
    }
    return {params_of(id), -1};
  }

  // Registers a quantized op output for original value `id`; returns the new value.
  QForm emit_q_output(int id) {
    auto [p, relu_out] = output_params(id);
    const int lowest = opt_.activation_scheme == Q8_SCHEME_ASYMMETRIC_U8 ? 0 : -128;
    const bool skip_relu = relu_out >= 0 && p.zero_point == lowest;
    // A skipped Relu's output is what the tensor holds, so it carries that name: tools that match
    // names against the FP32 model (q8 compare) then compare like with like.
    QForm q = make_qform(g_.values[skip_relu ? relu_out : id].name, p);
    q_[id] = q;
    if (skip_relu) {
      q_[relu_out] = q;  // max(x, zero point) is the identity here
      relu_skipped_.insert(relu_out);
    }
    return q;
  }

  // Weight quantization: per channel along `axis` or per tensor.
  QForm quantize_weight(int id, int axis, bool scalar_zero_point = false) {
    const Value &w = g_.values[id];
    const std::vector<float> data = const_floats(w);
    const bool per_channel = opt_.per_channel && axis >= 0;
    const size_t channels = per_channel ? static_cast<size_t>(w.shape[axis]) : 1;
    size_t inner = 1;
    if (per_channel)
      for (size_t d = axis + 1; d < w.shape.size(); ++d) inner *= static_cast<size_t>(w.shape[d]);
    std::vector<float> mins(channels, 0.f), maxs(channels, 0.f);
    for (size_t i = 0; i < data.size(); ++i) {
      const size_t c = per_channel ? (i / inner) % channels : 0;
      if (std::isfinite(data[i])) {
        mins[c] = std::min(mins[c], data[i]);
        maxs[c] = std::max(maxs[c], data[i]);
      }
    }
    std::vector<float> scales(channels);
    std::vector<int32_t> zps(channels);
    check(q8_qparams_from_range(opt_.weight_scheme, mins.data(), maxs.data(), channels, scales.data(), zps.data()),
          "weight '" + w.name + "' parameters");
    const q8_dtype dt = scheme_dtype(opt_.weight_scheme);
    q8_tensor *xt = nullptr, *yt = nullptr;
    check(q8_tensor_wrap(Q8_DTYPE_F32, w.shape.data(), w.shape.size(), const_cast<float *>(data.data()), data.size() * sizeof(float), &xt), "wrap");
    TensorPtr x(xt);
    check(q8_tensor_create(dt, w.shape.data(), w.shape.size(), &yt), "weight tensor");
    TensorPtr y(yt);
    if (per_channel)
      check(q8_tensor_set_qparams_per_axis(y.get(), axis, scales.data(), zps.data(), channels), "weight qparams");
    else
      check(q8_tensor_set_qparams(y.get(), scales[0], zps[0]), "weight qparams");
    check(q8_quantize(x.get(), y.get()), "quantizing weight '" + w.name + "'");
    QForm q;
    q.value = add_const(w.name + "_quantized", dt, w.shape, y->data, y->nbytes());
    std::vector<int64_t> pshape;
    if (per_channel) pshape.push_back(static_cast<int64_t>(channels));
    q.scale = add_const(w.name + "_scale", Q8_DTYPE_F32, pshape, scales.data(), channels * sizeof(float));
    std::vector<int8_t> z8(zps.begin(), zps.end());
    // QLinearConv, QGemm and QLinearMatMul take a scalar weight zero point beside per-channel
    // scales; symmetric weights have all zeros, so one byte says it (DequantizeLinear, used by
    // weight-only and dynamic models, wants one per channel).
    const bool all_zero = std::all_of(zps.begin(), zps.end(), [](int32_t z) { return z == 0; });
    if (scalar_zero_point && all_zero)
      q.zero_point = add_const(w.name + "_zero_point", dt, {}, z8.data(), 1);
    else
      q.zero_point = add_const(w.name + "_zero_point", dt, pshape, z8.data(), channels);
    return q;
  }

  // int32 bias for scale input_scale * weight_scale[c] (zero point 0).
  int quantize_bias(int id, float input_scale, const QForm &wq) {
    const Value &b = g_.values[id];
    const std::vector<float> data = const_floats(b);
    const Value &ws = out_.values[wq.scale];
    std::vector<float> wscale(ws.data.size / sizeof(float));
    std::memcpy(wscale.data(), ws.data.data, ws.data.size);
    std::vector<int32_t> q(data.size());
    for (size_t c = 0; c < data.size(); ++c) {
      const float s = input_scale * wscale[wscale.size() == 1 ? 0 : c];
      const double r = std::nearbyint(static_cast<double>(data[c]) / s);
      q[c] = static_cast<int32_t>(std::max(-2147483648.0, std::min(2147483647.0, r)));
    }
    return add_const(b.name + "_quantized", Q8_DTYPE_S32, {static_cast<int64_t>(q.size())}, q.data(), q.size() * 4);
  }

  float scale_value(int scale_id) const {
    float s;
    std::memcpy(&s, out_.values[scale_id].data.data, sizeof s);
    return s;
  }

  // ---- emitters ----
  void emit_float(const Node &n) {
    std::vector<int> in;
    for (int id : n.inputs) in.push_back(id < 0 ? -1 : need_f32(id));
    std::vector<int> outs;
    for (int id : n.outputs) {
      if (id < 0) {
        outs.push_back(-1);
        continue;
      }
      Value v = g_.values[id];
      f32_[id] = out_.add_value(std::move(v));
      outs.push_back(f32_[id]);
    }
    add_node(n.name, n.domain, n.op, in, outs, n.attrs);
  }

  // Operators that run on quantized tensors as they are, keeping the scale.
  bool emit_passthrough(const Node &n) {
    static const std::set<std::string> ops = {"Relu", "Clip", "MaxPool", "Flatten", "Reshape", "Transpose", "Identity"};
    if (!n.domain.empty() || !ops.count(n.op) || n.inputs.empty() || n.inputs[0] < 0) return false;
    const int in = n.inputs[0];
    if (q_[in].value < 0) return false;
    for (size_t i = 1; i < n.inputs.size(); ++i)
      if (n.inputs[i] >= 0) return false;
    const int out = n.outputs[0];
    if (n.op == "Relu" && relu_skipped_.count(out)) return true;
    QForm q = q_[in];
    QForm o;
    o.value = add_activation(g_.values[out].name + "_quantized", out_.values[q.value].dtype);
    o.scale = q.scale;
    o.zero_point = q.zero_point;
    add_node(n.name, n.domain, n.op, {q.value}, {o.value}, n.attrs);
    q_[out] = o;
    return true;
  }

  bool emit_static(const Node &n) {
    const int out = n.outputs[0];
    if (n.op == "Conv") {
      QForm x = need_q(n.inputs[0]);
      QForm w = quantize_weight(n.inputs[1], 0, true);
      QForm y = emit_q_output(out);
      std::vector<int> in = {x.value, x.scale, x.zero_point, w.value, w.scale, w.zero_point, y.scale, y.zero_point};
      if (n.inputs.size() > 2 && n.inputs[2] >= 0) in.push_back(quantize_bias(n.inputs[2], scale_value(x.scale), w));
      add_node(n.name, "", "QLinearConv", in, {y.value}, n.attrs);
      return true;
    }
    if (n.op == "Gemm") {
      const int trans_b = static_cast<int>(n.get_int("transB", 0));
      QForm a = need_q(n.inputs[0]);
      QForm b = quantize_weight(n.inputs[1], trans_b ? 0 : 1, true);
      QForm y = emit_q_output(out);
      int bias = -1;
      if (n.inputs.size() > 2 && n.inputs[2] >= 0) bias = quantize_bias(n.inputs[2], scale_value(a.scale), b);
      add_node(n.name, "com.microsoft", "QGemm",
               {a.value, a.scale, a.zero_point, b.value, b.scale, b.zero_point, bias, y.scale, y.zero_point},
               {y.value}, {{"transB", int_attr(trans_b)}});
      return true;
    }
    if (n.op == "MatMul") {
      QForm a = need_q(n.inputs[0]);
      QForm b = quantize_weight(n.inputs[1], 1, true);
      QForm y = emit_q_output(out);
      add_node(n.name, "", "QLinearMatMul",
               {a.value, a.scale, a.zero_point, b.value, b.scale, b.zero_point, y.scale, y.zero_point}, {y.value});
      return true;
    }
    if (n.op == "Add" || n.op == "Mul") {
      QForm a = need_q(n.inputs[0]);
      QForm b = need_q(n.inputs[1]);
      QForm y = emit_q_output(out);
      add_node(n.name, "com.microsoft", n.op == "Add" ? "QLinearAdd" : "QLinearMul",
               {a.value, a.scale, a.zero_point, b.value, b.scale, b.zero_point, y.scale, y.zero_point}, {y.value});
      return true;
    }
    if (n.op == "Sigmoid" || n.op == "Tanh") {
      QForm x = need_q(n.inputs[0]);
      QForm y = emit_q_output(out);
      add_node(n.name, n.op == "Sigmoid" ? "com.microsoft" : "ai.q8", n.op == "Sigmoid" ? "QLinearSigmoid" : "QLinearTanh",
               {x.value, x.scale, x.zero_point, y.scale, y.zero_point}, {y.value});
      return true;
    }
    if (n.op == "GlobalAveragePool" || n.op == "AveragePool") {
      QForm x = need_q(n.inputs[0]);
      QForm y = emit_q_output(out);
      auto attrs = n.attrs;
      if (n.op == "GlobalAveragePool") attrs["channels_last"] = int_attr(0);
      add_node(n.name, "com.microsoft", "QLinear" + n.op, {x.value, x.scale, x.zero_point, y.scale, y.zero_point},
               {y.value}, attrs);
      return true;
    }
    if (n.op == "Concat") {
      std::vector<QForm> xs;
      for (int id : n.inputs) xs.push_back(need_q(id));
      QForm y = emit_q_output(out);
      std::vector<int> in = {y.scale, y.zero_point};
      for (const QForm &x : xs) {
        in.push_back(x.value);
        in.push_back(x.scale);
        in.push_back(x.zero_point);
      }
      add_node(n.name, "com.microsoft", "QLinearConcat", in, {y.value}, n.attrs);
      return true;
    }
    return false;
  }

  void new_f32_output(int id) {
    Value v = g_.values[id];
    f32_[id] = out_.add_value(std::move(v));
  }

  bool emit_dynamic(const Node &n) {
    const int out = n.outputs[0];
    const int x = need_f32(n.inputs[0]);
    const bool has_bias = n.inputs.size() > 2 && n.inputs[2] >= 0;
    if (n.op == "Conv") {
      QForm w = quantize_weight(n.inputs[1], 0);
      std::vector<int> in = {x, w.value, w.scale, w.zero_point};
      if (has_bias) in.push_back(need_f32(n.inputs[2]));
      new_f32_output(out);
      add_node(n.name, "ai.q8", "DynamicConv", in, {f32_[out]}, n.attrs);
      return true;
    }
    const int trans_b = n.op == "Gemm" ? static_cast<int>(n.get_int("transB", 0)) : 0;
    QForm w = quantize_weight(n.inputs[1], trans_b ? 0 : 1);
    std::vector<int> in = {x, w.value, w.scale, w.zero_point};
    if (n.op == "Gemm" && has_bias) {
      // DynamicGemm takes a 1-D bias; a [1, N] Gemm bias has the same bytes.
      const Value &b = g_.values[n.inputs[2]];
      in.push_back(add_const(b.name, Q8_DTYPE_F32, {static_cast<int64_t>(b.data.size / 4)}, b.data.data, b.data.size));
    }
    new_f32_output(out);
    add_node(n.name, "ai.q8", "DynamicGemm", in, {f32_[out]}, {{"transB", int_attr(trans_b)}});
    return true;
  }

  bool emit_weight_only(const Node &n) {
    const int wid = n.inputs[1];
    if (f32_[wid] >= 0) return false;  // shared weight, already dequantized for another node
    const int axis = n.op == "Conv" ? 0 : (n.op == "Gemm" && n.get_int("transB", 0)) ? 0 : 1;
    QForm w = quantize_weight(wid, axis);
    Value deq = g_.values[wid];
    deq.is_const = false;
    deq.data = {};
    f32_[wid] = out_.add_value(std::move(deq));
    std::map<std::string, Attr> attrs;
    if (opt_.per_channel) attrs["axis"] = int_attr(axis);
    add_node(g_.values[wid].name + "_dequantize", "", "DequantizeLinear", {w.value, w.scale, w.zero_point},
             {f32_[wid]}, attrs);
    emit_float(n);
    return true;
  }

  const Graph &g_;
  const Options &opt_;
  const Calibration &calib_;
  Graph out_;
  std::vector<int> f32_;
  std::vector<QForm> q_;
  std::vector<std::vector<int>> consumers_;
  std::set<int> is_output_;
  std::set<int> relu_skipped_;
  std::set<std::string> node_names_;
};

}  // namespace

std::vector<std::string> quantizable_nodes(const model::Graph &g, const Options &opt) {
  Calibration none;
  Rewriter r(g, opt, none);
  std::vector<std::string> names;
  const auto s = r.quantizable_set();
  for (const Node &n : g.nodes)
    if (s.count(n.name)) names.push_back(n.name);
  return names;
}

model::Graph quantize(const model::Graph &g, const Options &opt, const Calibration &calib) {
  Rewriter r(g, opt, calib);
  return r.run();
}

}  // namespace q8::ptq
