// Feature extraction and heads (surgery.hpp). Both go through cut(): keep what some wanted values
// need, in the original order, and optionally dequantize some of them. Values are copied whole,
// so constants keep sharing their Bytes with the source model.
#include "model/surgery.hpp"

#include <map>
#include <set>
#include <utility>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "model/quantized_ops.hpp"

namespace q8::model {

namespace {

bool is_q8(q8_dtype d) { return d == Q8_DTYPE_U8 || d == Q8_DTYPE_S8; }


std::string shape_text(const Value &v) {
  if (!v.has_shape) return "(shape unknown)";
  std::string s = "[";
  for (std::size_t i = 0; i < v.shape.size(); ++i)
    s += (i ? "," : "") + (v.shape[i] < 0 ? std::string("N") : std::to_string(v.shape[i]));
  return s + "]";
}

// Which node computes each value (-1: a graph input or a constant).
std::vector<int> producers(const Graph &g) {
  std::vector<int> p(g.values.size(), -1);
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    for (int id : g.nodes[k].outputs)
      if (id >= 0) p[static_cast<std::size_t>(id)] = static_cast<int>(k);
  return p;
}

bool is_input(const Graph &g, int id) {
  for (int i : g.inputs)
    if (i == id) return true;
  return false;
}

// The computed tensors, graph order, as many as fit a readable message.
std::string candidates(const Graph &g) {
  std::vector<std::string> names;
  for (int id : g.inputs) names.push_back(g.values[static_cast<std::size_t>(id)].name);
  for (const Node &n : g.nodes)
    for (int id : n.outputs)
      if (id >= 0) names.push_back(g.values[static_cast<std::size_t>(id)].name);
  std::string s;
  std::size_t shown = 0;
  for (const std::string &n : names) {
    if (s.size() + n.size() > 240) break;
    s += (shown ? ", " : "") + n;
    ++shown;
  }
  if (shown < names.size())
    s += (shown ? ", ... (" : "... (") + std::to_string(names.size()) + " in all; q8_model_describe lists them)";
  return s;
}

struct Resolved {
  int id = -1;
  bool mapped = false;  // found as "<name>_quantized": the user gave the FP32 name
};

Resolved resolve(const Graph &g, const std::vector<int> &prod, const std::string &name, const std::string &what) {
  auto computed = [&](int id) { return prod[static_cast<std::size_t>(id)] >= 0 || is_input(g, id); };
  const int id = g.find(name);
  if (id >= 0) {
    if (g.values[static_cast<std::size_t>(id)].is_const)
      fail(Q8_ERR_INVALID_ARGUMENT, what + " '" + name + "' is a constant (a weight), not a computed tensor");
    if (computed(id)) return {id, false};
  }
  // q8_model_quantize keeps an activation's FP32 name for its f32 form and calls its INT8 form
  // "<name>_quantized"; where the f32 form is gone, the FP32 name means the INT8 one.
  const int q = g.find(name + "_quantized");
  if (q >= 0 && !g.values[static_cast<std::size_t>(q)].is_const && computed(q)) return {q, true};
  fail(Q8_ERR_INVALID_ARGUMENT,
       what + " '" + name + "': the model computes no tensor of that name (nor '" + name +
           "_quantized'; a tensor that fed only a Relu is quantized as the Relu's output); it computes " +
           candidates(g));
}

// Where the graph states a quantized value's parameters: the scale and zero point (-1: default)
// of the operator that computed it, found through the operators that keep them.
struct QSource {
  bool known = false;
  int scale = -1, zero_point = -1;
  const Attr *axis = nullptr;  // QuantizeLinear's axis, for per-axis parameters
};

QSource qparams_of(const Graph &g, const std::vector<int> &prod, int id) {
  // Run on quantized tensors with unchanged parameters (docs/RUNTIME.md); the last three move
  // elements between axes, which per-axis parameters cannot follow.
  static const std::set<std::string> keep = {"Relu", "Clip", "MaxPool", "Identity", "Dropout",
                                             "Flatten", "Reshape", "Transpose"};
  static const std::set<std::string> moves = {"Flatten", "Reshape", "Transpose"};
  bool moved = false;
  for (std::size_t hops = 0; hops <= g.nodes.size(); ++hops) {
    const int k = prod[static_cast<std::size_t>(id)];
    if (k < 0) return {};  // a graph input: its parameters come with the data
    const Node &n = g.nodes[static_cast<std::size_t>(k)];
    if (n.domain.empty() && n.op == "DynamicQuantizeLinear") {
      if (n.outputs.size() < 3 || n.outputs[0] != id || n.outputs[1] < 0 || n.outputs[2] < 0) return {};
      return {true, n.outputs[1], n.outputs[2], nullptr};
    }
    if (const OutputQParams *at = output_qparams(n)) {
      const int scale = input(n, at->scale);
      if (scale < 0) return {};
      QSource q{true, scale, input(n, at->scale + 1), nullptr};
      const Value &s = g.values[static_cast<std::size_t>(scale)];
      const bool per_axis = s.has_shape && !s.shape.empty() && s.shape[0] != 1;
      if (per_axis && moved) return {};
      if (n.op == "QuantizeLinear" && n.has("axis")) q.axis = &n.attrs.at("axis");
      return q;
    }
    const int x = input(n, 0);
    if (!n.domain.empty() || !keep.count(n.op) || x < 0 || !is_q8(g.values[static_cast<std::size_t>(x)].dtype))
      return {};
    moved = moved || moves.count(n.op) != 0;
    id = x;
  }
  return {};
}

std::string fresh(const std::set<std::string> &taken, const std::string &base) {
  if (!taken.count(base)) return base;
  for (int k = 2;; ++k) {
    std::string s = base + "_" + std::to_string(k);
    if (!taken.count(s)) return s;
  }
}

// What `want` needs of g, in g's order; want[i] dequantized when dq[i]. *ids receives each
// wanted value's id in the result (the f32 one where dequantized).
Graph cut(const Graph &g, const std::vector<int> &want, const std::vector<char> &dq, std::vector<int> *ids) {
  const std::vector<int> prod = producers(g);
  std::vector<QSource> qs(want.size());
  std::vector<int> stack;
  for (std::size_t i = 0; i < want.size(); ++i) {
    stack.push_back(want[i]);
    if (!dq[i]) continue;
    const Value &v = g.values[static_cast<std::size_t>(want[i])];
    qs[i] = qparams_of(g, prod, want[i]);
    if (!qs[i].known)
      fail(Q8_ERR_UNSUPPORTED, "tensor '" + v.name + "' is " + dtype_name(v.dtype) +
                                   " with quantization parameters the model does not state (they arrive with "
                                   "the data at run time), so the graph cannot dequantize it");
    stack.push_back(qs[i].scale);
    if (qs[i].zero_point >= 0) stack.push_back(qs[i].zero_point);
  }
  std::vector<char> keep(g.values.size(), 0), node_needed(g.nodes.size(), 0);
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (keep[static_cast<std::size_t>(id)]) continue;
    keep[static_cast<std::size_t>(id)] = 1;
    const int k = prod[static_cast<std::size_t>(id)];
    if (k < 0 || node_needed[static_cast<std::size_t>(k)]) continue;
    node_needed[static_cast<std::size_t>(k)] = 1;
    const Node &n = g.nodes[static_cast<std::size_t>(k)];
    for (int o : n.outputs)  // a node's other outputs come along: it writes them anyway
      if (o >= 0 && !keep[static_cast<std::size_t>(o)]) keep[static_cast<std::size_t>(o)] = 1;
    for (int in : n.inputs)
      if (in >= 0) stack.push_back(in);
  }
  std::vector<int> map;
  Graph out = copy_subset(g, keep, node_needed, &map);
  for (int id : g.inputs)
    if (keep[static_cast<std::size_t>(id)]) out.inputs.push_back(map[static_cast<std::size_t>(id)]);
  std::set<std::string> node_names;
  for (const Node &n : out.nodes) node_names.insert(n.name);
  std::set<std::string> value_names;
  for (const Value &v : out.values) value_names.insert(v.name);
  std::map<int, int> dequantized;  // old id -> f32 id, one DequantizeLinear per tensor
  ids->assign(want.size(), -1);
  for (std::size_t i = 0; i < want.size(); ++i) {
    const int src = map[static_cast<std::size_t>(want[i])];
    if (!dq[i]) {
      (*ids)[i] = src;
      continue;
    }
    auto done = dequantized.find(want[i]);
    if (done != dequantized.end()) {
      (*ids)[i] = done->second;
      continue;
    }
    const Value &qv = out.values[static_cast<std::size_t>(src)];
    // The f32 form takes the FP32 name where it is free (as the quantizer names f32 forms).
    static const std::string suffix = "_quantized";
    std::string name = qv.name + "_dequantized";
    if (qv.name.size() > suffix.size() && qv.name.compare(qv.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        !value_names.count(qv.name.substr(0, qv.name.size() - suffix.size())))
      name = qv.name.substr(0, qv.name.size() - suffix.size());
    Value f;
    f.name = fresh(value_names, name);
    f.dtype = Q8_DTYPE_F32;
    f.has_shape = qv.has_shape;
    f.shape = qv.shape;
    value_names.insert(f.name);
    const int fid = out.add_value(std::move(f));
    Node n;
    n.name = fresh(node_names, out.values[static_cast<std::size_t>(fid)].name + "_dequantize");
    node_names.insert(n.name);
    n.op = "DequantizeLinear";
    n.inputs = {src, map[static_cast<std::size_t>(qs[i].scale)],
                qs[i].zero_point >= 0 ? map[static_cast<std::size_t>(qs[i].zero_point)] : -1};
    if (n.inputs.back() < 0) n.inputs.pop_back();
    n.outputs = {fid};
    if (qs[i].axis) n.attrs["axis"] = *qs[i].axis;
    out.nodes.push_back(std::move(n));
    dequantized[want[i]] = fid;
    (*ids)[i] = fid;
  }
  return out;
}

}  // namespace

Graph copy_subset(const Graph &g, const std::vector<char> &values, const std::vector<char> &nodes,
                  std::vector<int> *map) {
  Graph out;
  out.producer = g.producer;
  map->assign(g.values.size(), -1);
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (values[v]) (*map)[v] = out.add_value(g.values[v]);
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    if (!nodes[k]) continue;
    Node n = g.nodes[k];
    for (int &id : n.inputs)
      if (id >= 0) id = (*map)[static_cast<std::size_t>(id)];
    for (int &id : n.outputs)
      if (id >= 0) id = (*map)[static_cast<std::size_t>(id)];
    out.nodes.push_back(std::move(n));
  }
  return out;
}

Graph extract(const Graph &g, const std::vector<std::string> &outputs, bool dequantize) {
  if (outputs.empty()) fail(Q8_ERR_INVALID_ARGUMENT, "no output is named (count is 0)");
  const std::vector<int> prod = producers(g);
  std::vector<int> want;
  std::vector<char> dq;
  std::map<int, std::string> seen;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string what = "outputs[" + std::to_string(i) + "]";
    const Resolved r = resolve(g, prod, outputs[i], what);
    auto prev = seen.find(r.id);
    if (prev != seen.end())
      fail(Q8_ERR_INVALID_ARGUMENT,
           prev->second == outputs[i]
               ? what + " '" + outputs[i] + "' is named twice"
               : what + " '" + outputs[i] + "' and '" + prev->second + "' are the same tensor '" +
                     g.values[static_cast<std::size_t>(r.id)].name + "'");
    seen.emplace(r.id, outputs[i]);
    want.push_back(r.id);
    dq.push_back(dequantize && is_q8(g.values[static_cast<std::size_t>(r.id)].dtype));
  }
  std::vector<int> ids;
  Graph out = cut(g, want, dq, &ids);
  out.outputs = ids;
  out.validate();
  return out;
}

Graph append(const Graph &base, const Graph &head, const std::vector<std::string> &connect) {
  if (connect.size() != head.inputs.size())
    fail(Q8_ERR_INVALID_ARGUMENT, "the head has " + std::to_string(head.inputs.size()) + " input" +
                                      (head.inputs.size() == 1 ? "" : "s") + ", connect names " +
                                      std::to_string(connect.size()) + " tensor" + (connect.size() == 1 ? "" : "s"));
  const std::vector<int> prod = producers(base);
  std::vector<int> want;
  std::vector<char> dq;
  for (std::size_t i = 0; i < connect.size(); ++i) {
    const Resolved r = resolve(base, prod, connect[i], "connect[" + std::to_string(i) + "]");
    const Value &b = base.values[static_cast<std::size_t>(r.id)];
    const Value &h = head.values[static_cast<std::size_t>(head.inputs[i])];
    // The FP32 name of an INT8 activation, for an f32 input, means its f32 value.
    const bool d = r.mapped && h.dtype == Q8_DTYPE_F32 && is_q8(b.dtype);
    const q8_dtype got = d ? Q8_DTYPE_F32 : b.dtype;
    const std::string pair = "head input '" + h.name + "' and base tensor '" + b.name + "'";
    if (got != h.dtype)
      fail(Q8_ERR_DTYPE, pair + ": the head takes " + dtype_name(h.dtype) + ", the tensor is " + dtype_name(got) +
                             (is_q8(got) && h.dtype == Q8_DTYPE_F32
                                  ? " (connect its FP32 name, or extract it with dequantize, to feed f32)"
                                  : ""));
    if (b.has_shape && h.has_shape) {
      bool same = b.shape.size() == h.shape.size();
      for (std::size_t k = 0; same && k < b.shape.size(); ++k)
        same = b.shape[k] < 0 || h.shape[k] < 0 || b.shape[k] == h.shape[k];
      if (!same)
        fail(Q8_ERR_SHAPE, pair + ": the head takes " + shape_text(h) + ", the tensor is " + shape_text(b));
    }
    want.push_back(r.id);
    dq.push_back(d);
  }
  std::vector<int> ids;
  Graph out = cut(base, want, dq, &ids);

  // Head values: inputs become the connected tensors; the rest are added, renamed on a clash
  // with base's part, avoiding every name the head uses too so that the choice is deterministic.
  std::set<std::string> taken, node_taken;
  for (const Value &v : out.values) taken.insert(v.name);
  for (const Value &v : head.values) taken.insert(v.name);
  for (const Node &n : out.nodes) node_taken.insert(n.name);
  for (const Node &n : head.nodes) node_taken.insert(n.name);
  std::set<std::string> base_nodes;
  for (const Node &n : out.nodes) base_nodes.insert(n.name);
  auto renamed = [](std::set<std::string> &used, const std::string &name) {
    std::string s = name + "_head";
    for (int k = 2; used.count(s); ++k) s = name + "_head" + std::to_string(k);
    used.insert(s);
    return s;
  };
  std::vector<int> map(head.values.size(), -1);
  for (std::size_t i = 0; i < head.inputs.size(); ++i) map[static_cast<std::size_t>(head.inputs[i])] = ids[i];
  for (std::size_t v = 0; v < head.values.size(); ++v) {
    if (map[v] >= 0) continue;
    Value nv = head.values[v];
    if (out.find(nv.name) >= 0) nv.name = renamed(taken, nv.name);
    map[v] = out.add_value(std::move(nv));
  }
  for (const Node &hn : head.nodes) {
    Node n = hn;
    if (base_nodes.count(n.name)) n.name = renamed(node_taken, n.name);
    for (int &id : n.inputs)
      if (id >= 0) id = map[static_cast<std::size_t>(id)];
    for (int &id : n.outputs)
      if (id >= 0) id = map[static_cast<std::size_t>(id)];
    out.nodes.push_back(std::move(n));
  }
  out.outputs.clear();
  for (int id : head.outputs) out.outputs.push_back(map[static_cast<std::size_t>(id)]);
  if (!head.producer.empty()) out.producer += (out.producer.empty() ? "head: " : "; head: ") + head.producer;
  out.validate();
  return out;
}

}  // namespace q8::model
