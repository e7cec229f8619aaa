// ONNX -> q8 model IR. The ONNX checker validates the protobuf first; then every tensor, attribute
// and node is converted with q8's own checks (sizes against shapes, supported types, operators the
// runtime has kernels for), int64 configuration inputs become attributes, and the graph passes run.
#include "onnx/import.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <climits>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <queue>
#include <set>

#include "core/error.hpp"
#include "model/passes.hpp"
#include "onnx/external_data.hpp"
#include "model/quantized_ops.hpp"
#include "runtime/kernel.hpp"

namespace q8::onnx {

namespace {

using ::onnx::AttributeProto;
using ::onnx::GraphProto;
using ::onnx::ModelProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;
using model::Attr;
using model::Graph;
using model::Node;
using model::Value;

constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 17;
// protobuf's own limit for one message.
constexpr std::size_t kMaxBytes = static_cast<std::size_t>(INT_MAX);

// data_type is a plain int32 field: check the value before it becomes the enum.
std::string type_name(int32_t t) {
  if (!TensorProto::DataType_IsValid(t)) return "type " + std::to_string(t);
  return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(t));
}

bool value_dtype(int32_t t, q8_dtype &out) {
  switch (t) {
    case TensorProto::FLOAT: out = Q8_DTYPE_F32; return true;
    case TensorProto::INT8: out = Q8_DTYPE_S8; return true;
    case TensorProto::UINT8: out = Q8_DTYPE_U8; return true;
    case TensorProto::INT32: out = Q8_DTYPE_S32; return true;
    default: return false;
  }
}

std::string shape_text(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// A constant of a type q8 values cannot hold (int64, bool, double, ...). Only the int64/bool/double
// ones are decoded: they may configure an operator (Reshape's shape, Dropout's training_mode).
struct Aux {
  int32_t type = 0;
  std::vector<int64_t> dims;
  bool decoded = false;
  std::vector<int64_t> ints;  // INT64, BOOL
  std::vector<double> reals;  // DOUBLE
};

std::vector<int64_t> tensor_dims(const TensorProto &t, const std::string &what, std::size_t &numel) {
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  if (dims.size() > Q8_MAX_RANK)
    fail(Q8_ERR_UNSUPPORTED, what + " has rank " + std::to_string(dims.size()) +
                                 ", above q8's limit of " + std::to_string(Q8_MAX_RANK));
  std::size_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) fail(Q8_ERR_FORMAT, what + " has a negative dimension " + shape_text(dims));
    // Keep byte counts (up to 8 bytes per element) far from overflow.
    if (d != 0 && n > (SIZE_MAX / 16) / static_cast<std::size_t>(d))
      fail(Q8_ERR_FORMAT, what + " is too large " + shape_text(dims));
    n *= static_cast<std::size_t>(d);
  }
  numel = n;
  return dims;
}

// Initializers may keep their bytes in external files (resolved before the checker runs, see
// resolve_external); tensors inside attributes may not.
using Externals = std::map<const TensorProto *, ExternalRef>;

void check_inline(const TensorProto &t, const std::string &what) {
  if (t.data_location() == TensorProto::EXTERNAL || t.external_data_size() != 0)
    fail(Q8_ERR_UNSUPPORTED, what + " keeps its data in an external file; q8 takes external data for "
                                    "initializers only");
}

void check_segment(const TensorProto &t, const std::string &what) {
  if (t.has_segment()) fail(Q8_ERR_UNSUPPORTED, what + " is a segment of a tensor");
}

void check_raw_size(const TensorProto &t, std::size_t want, const std::string &what,
                    const std::vector<int64_t> &dims) {
  if (t.raw_data().size() != want)
    fail(Q8_ERR_FORMAT, what + " holds " + std::to_string(t.raw_data().size()) +
                            " bytes of raw data; its shape " + shape_text(dims) + " of " +
                            type_name(t.data_type()) + " needs " + std::to_string(want));
}

void check_count(std::size_t have, std::size_t want, const std::string &what,
                 const std::vector<int64_t> &dims) {
  if (have != want)
    fail(Q8_ERR_FORMAT, what + " holds " + std::to_string(have) + " elements; its shape " +
                            shape_text(dims) + " needs " + std::to_string(want));
}

Value decode_value(const TensorProto &t, const std::string &name, q8_dtype dt, const std::string &what,
                   const ExternalRef *ext) {
  if (!ext) check_inline(t, what);
  check_segment(t, what);
  Value v;
  v.name = name;
  v.dtype = dt;
  v.is_const = true;
  v.has_shape = true;
  std::size_t n = 0;
  v.shape = tensor_dims(t, what, n);
  const std::size_t bytes = n * q8_dtype_size(dt);
  if (ext) {
    v.data = ExternalData::bytes(*ext, bytes, what);  // borrowed from the mapping: no copy
    return v;
  }
  if (t.has_raw_data()) {
    check_raw_size(t, bytes, what, v.shape);
    v.data = model::Bytes::copy_of(t.raw_data().data(), bytes);
    return v;
  }
  std::vector<uint8_t> out(bytes);
  if (dt == Q8_DTYPE_F32) {
    check_count(static_cast<std::size_t>(t.float_data_size()), n, what, v.shape);
    if (n) std::memcpy(out.data(), t.float_data().data(), bytes);
  } else {
    check_count(static_cast<std::size_t>(t.int32_data_size()), n, what, v.shape);
    // int8/uint8 travel one per int32 field; a value outside the type's range is malformed.
    const int32_t lo = dt == Q8_DTYPE_S8 ? -128 : dt == Q8_DTYPE_U8 ? 0 : INT32_MIN;
    const int32_t hi = dt == Q8_DTYPE_S8 ? 127 : dt == Q8_DTYPE_U8 ? 255 : INT32_MAX;
    for (std::size_t i = 0; i < n; ++i) {
      const int32_t x = t.int32_data(static_cast<int>(i));
      if (x < lo || x > hi)
        fail(Q8_ERR_FORMAT, what + ": element " + std::to_string(i) + " (" + std::to_string(x) +
                                ") is outside the range of " + type_name(t.data_type()));
      if (dt == Q8_DTYPE_S32)
        std::memcpy(out.data() + 4 * i, &x, 4);
      else
        out[i] = static_cast<uint8_t>(x);
    }
  }
  v.data = model::Bytes::take(std::move(out));
  return v;
}

Aux decode_aux(const TensorProto &t, const std::string &what, const ExternalRef *ext) {
  if (!ext) check_inline(t, what);
  check_segment(t, what);
  Aux a;
  a.type = t.data_type();
  std::size_t n = 0;
  a.dims = tensor_dims(t, what, n);
  if (ext) {
    // Only the types below are read (configuration inputs, small); others are never touched.
    const std::size_t size = a.type == TensorProto::INT64 || a.type == TensorProto::DOUBLE ? 8
                             : a.type == TensorProto::BOOL                                 ? 1
                                                                                           : 0;
    if (size == 0) return a;
    const model::Bytes b = ExternalData::bytes(*ext, n * size, what);
    if (a.type == TensorProto::INT64) {
      a.ints.resize(n);
      if (n) std::memcpy(a.ints.data(), b.data, n * 8);
    } else if (a.type == TensorProto::DOUBLE) {
      a.reals.resize(n);
      if (n) std::memcpy(a.reals.data(), b.data, n * 8);
    } else {
      for (std::size_t i = 0; i < n; ++i) a.ints.push_back(b.data[i] != 0);
    }
    a.decoded = true;
    return a;
  }
  if (a.type == TensorProto::INT64) {
    if (t.has_raw_data()) {
      check_raw_size(t, n * 8, what, a.dims);
      a.ints.resize(n);
      if (n) std::memcpy(a.ints.data(), t.raw_data().data(), n * 8);
    } else {
      check_count(static_cast<std::size_t>(t.int64_data_size()), n, what, a.dims);
      a.ints.assign(t.int64_data().begin(), t.int64_data().end());
    }
    a.decoded = true;
  } else if (a.type == TensorProto::BOOL) {
    if (t.has_raw_data()) {
      check_raw_size(t, n, what, a.dims);
      for (char c : t.raw_data()) a.ints.push_back(c != 0);
    } else {
      check_count(static_cast<std::size_t>(t.int32_data_size()), n, what, a.dims);
      for (int32_t x : t.int32_data()) a.ints.push_back(x != 0);
    }
    a.decoded = true;
  } else if (a.type == TensorProto::DOUBLE) {
    if (t.has_raw_data()) {
      check_raw_size(t, n * 8, what, a.dims);
      a.reals.resize(n);
      if (n) std::memcpy(a.reals.data(), t.raw_data().data(), n * 8);
    } else {
      check_count(static_cast<std::size_t>(t.double_data_size()), n, what, a.dims);
      a.reals.assign(t.double_data().begin(), t.double_data().end());
    }
    a.decoded = true;
  }
  return a;
}

std::string node_who(const std::string &name, const std::string &op) {
  return "node '" + name + "' (" + op + ")";
}

Attr convert_attr(const AttributeProto &a, const std::string &who) {
  Attr r;
  switch (a.type()) {
    case AttributeProto::INT: r.kind = Attr::INT; r.i = a.i(); break;
    case AttributeProto::FLOAT: r.kind = Attr::FLOAT; r.f = a.f(); break;
    case AttributeProto::INTS: r.kind = Attr::INTS; r.ints.assign(a.ints().begin(), a.ints().end()); break;
    case AttributeProto::FLOATS: r.kind = Attr::FLOATS; r.floats.assign(a.floats().begin(), a.floats().end()); break;
    case AttributeProto::STRING: r.kind = Attr::STRING; r.s = a.s(); break;
    default:
      fail(Q8_ERR_UNSUPPORTED, who + ": attribute '" + a.name() + "' is of type " +
                                   AttributeProto::AttributeType_Name(a.type()) +
                                   ", which q8 does not take");
  }
  return r;
}

void reject_external(const GraphProto &g);

// Tensors inside node attributes (and subgraphs, initializers included) must be inline.
void check_attributes_inline(const GraphProto &g) {
  for (const auto &s : g.sparse_initializer())
    fail(Q8_ERR_UNSUPPORTED, "sparse initializer '" + s.values().name() + "' is not supported");
  for (const NodeProto &n : g.node())
    for (const AttributeProto &a : n.attribute()) {
      const std::string what = node_who(n.name(), n.op_type()) + " attribute '" + a.name() + "'";
      if (a.has_t()) check_inline(a.t(), what);
      for (const TensorProto &t : a.tensors()) check_inline(t, what);
      if (a.has_g()) reject_external(a.g());
      for (const GraphProto &sub : a.graphs()) reject_external(sub);
    }
}

// A subgraph (rejected later anyway): everything inline, before the checker could look on disk.
void reject_external(const GraphProto &g) {
  for (const TensorProto &t : g.initializer()) check_inline(t, "initializer '" + t.name() + "'");
  check_attributes_inline(g);
}

// Resolves (checks, maps) every external initializer; q8's checks run before the checker's, which
// are weaker (it only tests that each location exists).
Externals resolve_external(const GraphProto &g, ExternalData &files) {
  Externals out;
  for (const TensorProto &t : g.initializer()) {
    const std::string what = "initializer '" + t.name() + "'";
    if (t.data_location() != TensorProto::EXTERNAL) {
      if (t.external_data_size() != 0)
        fail(Q8_ERR_FORMAT, what + " has external_data entries but its data_location is not EXTERNAL");
      continue;
    }
    if (t.name().empty()) fail(Q8_ERR_FORMAT, "an initializer with external data has an empty name");
    ExternalData::Entries entries;
    for (const auto &e : t.external_data()) entries.emplace_back(e.key(), e.value());
    out.emplace(&t, files.resolve(entries, what));
  }
  check_attributes_inline(g);
  return out;
}

bool is_onnx_domain(const std::string &d) { return d.empty() || d == "ai.onnx"; }

void check_opsets(const ModelProto &m) {
  for (const auto &o : m.opset_import()) {
    if (!is_onnx_domain(o.domain())) continue;
    if (o.version() < kMinOpset || o.version() > kMaxOpset)
      fail(Q8_ERR_UNSUPPORTED, "ONNX opset " + std::to_string(o.version()) +
                                   " is not supported (q8 takes opsets " + std::to_string(kMinOpset) +
                                   " to " + std::to_string(kMaxOpset) + ")");
  }
}

class Importer {
 public:
  Importer(const ModelProto &m, const Externals &ext) : m_(m), gp_(m.graph()), ext_(ext) {}

  std::unique_ptr<q8_model> run() {
    auto model = std::make_unique<q8_model>();
    Graph &g = model->graph;
    g.producer = m_.producer_name();
    if (!m_.producer_version().empty()) g.producer += " " + m_.producer_version();
    collect_types();
    add_initializers(g);
    add_constants(g);
    add_inputs(g);
    for (const NodeProto &np : gp_.node())
      for (const std::string &in : np.input())
        if (!in.empty()) consumed_.insert(in);
    for (const auto &o : gp_.output()) consumed_.insert(o.name());
    name_nodes();
    for (int k : topo_order()) add_node(g, gp_.node(k), names_[k]);
    for (const auto &o : gp_.output()) {
      if (aux_.count(o.name()))
        fail(Q8_ERR_UNSUPPORTED, "graph output '" + o.name() + "' is a constant of " +
                                     type_name(aux_.at(o.name()).type) + ", which q8 does not hold");
      const int id = g.find(o.name());
      if (id < 0) fail(Q8_ERR_FORMAT, "graph output '" + o.name() + "' is never produced");
      g.outputs.push_back(id);
    }
    g.validate();
    return model;
  }

 private:
  const ModelProto &m_;
  const GraphProto &gp_;
  const Externals &ext_;
  std::map<std::string, int32_t> types_;  // declared element types (value_info, outputs)
  std::map<std::string, Aux> aux_;
  std::set<std::string> consumed_;
  std::vector<std::string> names_;  // unique node names, by proto index

  void collect_types() {
    for (const auto &vi : gp_.value_info())
      if (vi.type().has_tensor_type()) types_[vi.name()] = vi.type().tensor_type().elem_type();
    for (const auto &vi : gp_.output())
      if (vi.type().has_tensor_type()) types_[vi.name()] = vi.type().tensor_type().elem_type();
  }

  void add_tensor(Graph &g, const TensorProto &t, const std::string &name, const std::string &what) {
    if (aux_.count(name)) fail(Q8_ERR_FORMAT, "tensor name '" + name + "' is used twice");
    q8_dtype dt;
    const auto e = ext_.find(&t);
    const ExternalRef *ext = e == ext_.end() ? nullptr : &e->second;
    if (value_dtype(t.data_type(), dt))
      g.add_value(decode_value(t, name, dt, what, ext));
    else if (g.find(name) >= 0)
      fail(Q8_ERR_FORMAT, "tensor name '" + name + "' is used twice");
    else
      aux_.emplace(name, decode_aux(t, what, ext));
  }

  void add_initializers(Graph &g) {
    for (const TensorProto &t : gp_.initializer())
      add_tensor(g, t, t.name(), "initializer '" + t.name() + "'");
  }

  // Constant nodes become constant values (their scalar/list forms included).
  void add_constants(Graph &g) {
    for (const NodeProto &n : gp_.node()) {
      if (!is_onnx_domain(n.domain()) || n.op_type() != "Constant") continue;
      const std::string who = node_who(n.name(), "Constant");
      if (n.output_size() != 1 || n.attribute_size() != 1)
        fail(Q8_ERR_FORMAT, who + ": needs one output and one attribute");
      const std::string &out = n.output(0);
      const AttributeProto &a = n.attribute(0);
      TensorProto t;
      if (a.name() == "value") {
        t = a.t();
      } else if (a.name() == "value_float") {
        t.set_data_type(TensorProto::FLOAT);
        t.add_float_data(a.f());
      } else if (a.name() == "value_floats") {
        t.set_data_type(TensorProto::FLOAT);
        t.add_dims(a.floats_size());
        *t.mutable_float_data() = a.floats();
      } else if (a.name() == "value_int") {
        t.set_data_type(TensorProto::INT64);
        t.add_int64_data(a.i());
      } else if (a.name() == "value_ints") {
        t.set_data_type(TensorProto::INT64);
        t.add_dims(a.ints_size());
        *t.mutable_int64_data() = a.ints();
      } else {
        fail(Q8_ERR_UNSUPPORTED, who + ": attribute '" + a.name() + "' is not supported");
      }
      add_tensor(g, t, out, who + " value");
    }
  }

  void add_inputs(Graph &g) {
    for (const auto &in : gp_.input()) {
      if (g.find(in.name()) >= 0 || aux_.count(in.name())) continue;  // an initializer: constant
      const std::string what = "graph input '" + in.name() + "'";
      if (!in.type().has_tensor_type()) fail(Q8_ERR_UNSUPPORTED, what + " is not a tensor");
      const auto &tt = in.type().tensor_type();
      Value v;
      v.name = in.name();
      if (!value_dtype(tt.elem_type(), v.dtype))
        fail(Q8_ERR_UNSUPPORTED, what + " is " + type_name(tt.elem_type()) +
                                     "; q8 takes FLOAT, INT8, UINT8 and INT32 inputs");
      if (!tt.has_shape())
        fail(Q8_ERR_UNSUPPORTED, what + " has no shape (unknown rank)");
      if (tt.shape().dim_size() > Q8_MAX_RANK)
        fail(Q8_ERR_UNSUPPORTED, what + " has rank " + std::to_string(tt.shape().dim_size()) +
                                     ", above q8's limit of " + std::to_string(Q8_MAX_RANK));
      v.has_shape = true;
      for (const auto &d : tt.shape().dim()) {
        if (d.has_dim_value() && d.dim_value() < 0)
          fail(Q8_ERR_FORMAT, what + " has a negative dimension");
        v.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
      }
      g.inputs.push_back(g.add_value(std::move(v)));
    }
  }

  void name_nodes() {
    std::set<std::string> used;
    for (const NodeProto &n : gp_.node())
      if (!n.name().empty()) used.insert(n.name());
    std::set<std::string> taken;
    names_.resize(static_cast<std::size_t>(gp_.node_size()));
    for (int k = 0; k < gp_.node_size(); ++k) {
      const NodeProto &n = gp_.node(k);
      std::string base = n.name().empty() ? n.op_type() + "_" + std::to_string(k) : n.name();
      std::string name = base;
      // A duplicate or generated name that collides gets a numeric suffix.
      for (int s = 1; taken.count(name) || (n.name().empty() && used.count(name)); ++s)
        name = base + "_" + std::to_string(s);
      taken.insert(name);
      names_[static_cast<std::size_t>(k)] = name;
    }
  }

  // Kahn's algorithm, taking the earliest ready node first so a sorted model keeps its order.
  std::vector<int> topo_order() {
    const int nn = gp_.node_size();
    std::map<std::string, int> producer;
    std::vector<int> order;
    std::vector<char> skip(static_cast<std::size_t>(nn), 0);
    for (int k = 0; k < nn; ++k) {
      const NodeProto &n = gp_.node(k);
      if (is_onnx_domain(n.domain()) && n.op_type() == "Constant") {
        skip[static_cast<std::size_t>(k)] = 1;
        continue;
      }
      for (const std::string &o : n.output())
        if (!o.empty() && !producer.emplace(o, k).second)
          fail(Q8_ERR_FORMAT, "tensor '" + o + "' is produced by two nodes");
    }
    std::set<std::string> defined;
    for (const auto &in : gp_.input()) defined.insert(in.name());
    for (const auto &t : gp_.initializer()) defined.insert(t.name());
    for (const auto &kv : aux_) defined.insert(kv.first);
    std::vector<std::vector<int>> users(static_cast<std::size_t>(nn));
    std::vector<int> pending(static_cast<std::size_t>(nn), 0);
    for (int k = 0; k < nn; ++k) {
      if (skip[static_cast<std::size_t>(k)]) continue;
      const NodeProto &n = gp_.node(k);
      for (const std::string &in : n.input()) {
        if (in.empty()) continue;
        auto it = producer.find(in);
        if (it != producer.end()) {
          users[static_cast<std::size_t>(it->second)].push_back(k);
          ++pending[static_cast<std::size_t>(k)];
        } else if (!defined.count(in)) {
          fail(Q8_ERR_FORMAT, "node '" + names_[static_cast<std::size_t>(k)] + "' (" + n.op_type() +
                                  "): input '" + in + "' is not produced by any node, initializer or graph input");
        }
      }
    }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (int k = 0; k < nn; ++k)
      if (!skip[static_cast<std::size_t>(k)] && pending[static_cast<std::size_t>(k)] == 0) ready.push(k);
    while (!ready.empty()) {
      const int k = ready.top();
      ready.pop();
      order.push_back(k);
      for (int u : users[static_cast<std::size_t>(k)])
        if (--pending[static_cast<std::size_t>(u)] == 0) ready.push(u);
    }
    std::size_t want = 0;
    for (char s : skip) want += s ? 0 : 1;
    if (order.size() != want) {
      for (int k = 0; k < nn; ++k)
        if (!skip[static_cast<std::size_t>(k)] && pending[static_cast<std::size_t>(k)] != 0)
          fail(Q8_ERR_FORMAT, "the graph has a cycle through node '" + names_[static_cast<std::size_t>(k)] + "'");
    }
    return order;
  }

  // A constant scalar (any value dtype, or an int64/bool/double aux) as a double; false if the
  // input is not a constant scalar.
  bool scalar_const(const Graph &g, const std::string &name, double &out) const {
    const int id = g.find(name);
    if (id >= 0) {
      const Value &v = g.values[static_cast<std::size_t>(id)];
      if (!v.is_const || v.data.size != q8_dtype_size(v.dtype)) return false;
      switch (v.dtype) {
        case Q8_DTYPE_F32: { float f; std::memcpy(&f, v.data.data, 4); out = f; return true; }
        case Q8_DTYPE_S8: out = static_cast<int8_t>(v.data.data[0]); return true;
        case Q8_DTYPE_U8: out = v.data.data[0]; return true;
        case Q8_DTYPE_S32: { int32_t i; std::memcpy(&i, v.data.data, 4); out = i; return true; }
      }
      return false;
    }
    auto it = aux_.find(name);
    if (it == aux_.end() || !it->second.decoded) return false;
    if (it->second.ints.size() == 1) out = static_cast<double>(it->second.ints[0]);
    else if (it->second.reals.size() == 1) out = it->second.reals[0];
    else return false;
    return true;
  }

  void add_node(Graph &g, const NodeProto &np, const std::string &name) {
    Node n;
    n.name = name;
    n.domain = is_onnx_domain(np.domain()) ? "" : np.domain();
    n.op = np.op_type();
    const std::string who = node_who(n.name, n.op);
    if (!n.domain.empty() && n.domain != "com.microsoft" && n.domain != "ai.q8")
      fail(Q8_ERR_UNSUPPORTED, who + ": domain '" + n.domain + "' is not supported by q8");
    for (const AttributeProto &a : np.attribute()) {
      if (!n.attrs.emplace(a.name(), convert_attr(a, who)).second)
        fail(Q8_ERR_FORMAT, who + ": attribute '" + a.name() + "' is given twice");
    }
    const bool onnx_op = n.domain.empty();
    // Inputs that configure the operator become attributes: values never hold int64.
    std::size_t data_inputs = static_cast<std::size_t>(np.input_size());
    if (onnx_op && n.op == "Reshape" && np.input_size() >= 2) {
      auto it = aux_.find(np.input(1));
      if (it == aux_.end() || it->second.type != TensorProto::INT64 || it->second.dims.size() > 1)
        fail(Q8_ERR_UNSUPPORTED, who + ": the shape input '" + np.input(1) +
                                     "' must be a constant 1-D int64 tensor");
      Attr a;
      a.kind = Attr::INTS;
      a.ints = it->second.ints;
      n.attrs["shape"] = a;
      data_inputs = 1;
    } else if (onnx_op && n.op == "Clip" && np.input_size() >= 2) {
      static const char *const keys[] = {"min", "max"};
      for (int i = 1; i < np.input_size() && i <= 2; ++i) {
        if (np.input(i).empty()) continue;
        double x;
        if (!scalar_const(g, np.input(i), x))
          fail(Q8_ERR_UNSUPPORTED, who + ": the " + keys[i - 1] + " input '" + np.input(i) +
                                       "' must be a constant scalar");
        Attr a;
        a.kind = Attr::FLOAT;
        a.f = x;
        n.attrs[keys[i - 1]] = a;
      }
      data_inputs = 1;
    } else if (onnx_op && n.op == "Dropout" && np.input_size() >= 2) {
      // ratio only matters in training; training_mode must be off (or absent).
      if (np.input_size() >= 3 && !np.input(2).empty()) {
        double mode;
        if (!scalar_const(g, np.input(2), mode))
          fail(Q8_ERR_UNSUPPORTED, who + ": training_mode '" + np.input(2) + "' must be a constant");
        if (mode != 0) fail(Q8_ERR_UNSUPPORTED, who + ": training_mode is true; q8 only runs inference");
      }
      data_inputs = 1;
    }
    for (std::size_t i = 0; i < data_inputs; ++i) {
      const std::string &in = np.input(static_cast<int>(i));
      if (in.empty()) {
        n.inputs.push_back(-1);
        continue;
      }
      const int id = g.find(in);
      if (id < 0) {
        auto it = aux_.find(in);
        if (it != aux_.end())
          fail(Q8_ERR_UNSUPPORTED, who + ": input '" + in + "' is a constant of " +
                                       type_name(it->second.type) + ", which q8 does not hold");
        fail(Q8_ERR_FORMAT, who + ": input '" + in + "' is not defined");
      }
      n.inputs.push_back(id);
    }
    for (int i = 0; i < np.output_size(); ++i) {
      const std::string &out = np.output(i);
      if (out.empty()) {
        n.outputs.push_back(-1);
        continue;
      }
      if (onnx_op && n.op == "Dropout" && i >= 1) {
        // The mask is bool; unused, it is simply not produced.
        if (consumed_.count(out))
          fail(Q8_ERR_UNSUPPORTED, who + ": its mask output '" + out + "' is used, and q8 does not hold bool tensors");
        n.outputs.push_back(-1);
        continue;
      }
      if (aux_.count(out)) fail(Q8_ERR_FORMAT, "tensor name '" + out + "' is used twice");
      Value v;
      v.name = out;
      auto t = types_.find(out);
      if (t != types_.end()) value_dtype(t->second, v.dtype);
      n.outputs.push_back(g.add_value(std::move(v)));
    }
    if (!rt::has_kernel(n.domain, n.op))
      fail(Q8_ERR_UNSUPPORTED, "node '" + n.name + "': operator '" +
                                   (n.domain.empty() ? "" : n.domain + ".") + n.op +
                                   "' is not supported by q8");
    quantized_output_dtypes(g, n);
    g.nodes.push_back(std::move(n));
  }

  // Outputs of quantizing operators are u8/s8 (their zero point's type, by default u8 or the
  // quantized input's type) even when the model declares no value_info, and operators that move
  // or clamp values keep their input's type: descriptions, the passes and export rely on it.
  static void quantized_output_dtypes(Graph &g, const Node &n) {
    if (n.outputs.empty() || n.outputs[0] < 0) return;
    auto dtype = [&](std::size_t i) { return g.values[static_cast<std::size_t>(n.inputs[i])].dtype; };
    auto has = [&](std::size_t i) { return i < n.inputs.size() && n.inputs[i] >= 0; };
    Value &y = g.values[static_cast<std::size_t>(n.outputs[0])];
    static const std::set<std::string> same_type = {"Flatten", "Reshape", "Transpose", "Identity", "Dropout",
                                                    "MaxPool", "Relu", "Clip", "Concat"};
    if (n.domain.empty() && same_type.count(n.op)) {
      if (has(0) && (dtype(0) == Q8_DTYPE_U8 || dtype(0) == Q8_DTYPE_S8)) y.dtype = dtype(0);
      return;
    }
    if (n.domain.empty() && n.op == "DynamicQuantizeLinear") {
      y.dtype = Q8_DTYPE_U8;
      if (n.outputs.size() == 3 && n.outputs[2] >= 0)
        g.values[static_cast<std::size_t>(n.outputs[2])].dtype = Q8_DTYPE_U8;
      return;
    }
    const model::OutputQParams *at = model::output_qparams(n);
    if (!at) return;
    if (n.op == "QGemm" && !has(at->scale)) return;  // QGemm without y_scale: f32
    q8_dtype dt = Q8_DTYPE_U8;
    if (has(at->scale + 1)) dt = dtype(at->scale + 1);
    else if (at->dtype_from != model::OutputQParams::kDefaultU8 && has(at->dtype_from)) dt = dtype(at->dtype_from);
    if (dt == Q8_DTYPE_U8 || dt == Q8_DTYPE_S8) y.dtype = dt;
  }
};

// Parses, resolves external data against the directory of `path` (empty: bytes, where none is
// allowed), checks and converts.
std::unique_ptr<q8_model> import(const void *data, std::size_t size, const std::string &path,
                                 std::vector<std::shared_ptr<const MappedFile>> *files) {
  if (size == 0) fail(Q8_ERR_FORMAT, "the ONNX input is empty");
  if (!data) fail(Q8_ERR_INVALID_ARGUMENT, "data is NULL");
  if (size > kMaxBytes)
    fail(Q8_ERR_UNSUPPORTED, "the ONNX model is " + std::to_string(size) +
                                 " bytes; protobuf reads at most 2 GiB in one message");
  ModelProto m;
  if (!m.ParseFromArray(data, static_cast<int>(size)))
    fail(Q8_ERR_FORMAT, "the bytes are not an ONNX model (protobuf parse failed)");
  // External data locations are relative to the model file's directory.
  const std::size_t slash = path.rfind('/');
  ExternalData external(path.empty() ? "" : slash == std::string::npos ? "./" : path.substr(0, slash + 1));
  const Externals ext = resolve_external(m.graph(), external);
  check_opsets(m);
  try {
    // The checker resolves external locations itself, against the directory of the model path it
    // is given (its in-memory form has none). A model with external data keeps its proto small,
    // so reading it again costs little.
    if (ext.empty())
      ::onnx::checker::check_model(m);
    else
      ::onnx::checker::check_model(path);
  } catch (const std::bad_alloc &) {
    throw;
  } catch (const std::exception &e) {
    fail(Q8_ERR_FORMAT, std::string("ONNX checker: ") + e.what());
  }
  std::unique_ptr<q8_model> model = Importer(m, ext).run();
  model::run_import_passes(model->graph, rt::has_kernel);
  model->graph.validate();
  if (files) *files = external.files();
  return model;
}

}  // namespace

std::unique_ptr<q8_model> import_onnx(const void *data, std::size_t size) { return import(data, size, {}, nullptr); }

std::unique_ptr<q8_model> import_onnx_file(const std::string &path,
                                           std::vector<std::shared_ptr<const MappedFile>> *files) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail(Q8_ERR_IO, "cannot open '" + path + "': " + std::strerror(errno));
  const std::streamoff end = f.tellg();
  if (end < 0) fail(Q8_ERR_IO, "cannot read '" + path + "'");
  if (static_cast<unsigned long long>(end) > kMaxBytes)
    fail(Q8_ERR_UNSUPPORTED, "'" + path + "' is larger than 2 GiB; protobuf reads at most 2 GiB in one message "
                             "(larger models keep their weights in external data files)");
  std::string bytes(static_cast<std::size_t>(end), '\0');
  f.seekg(0);
  if (!bytes.empty() && !f.read(&bytes[0], end)) fail(Q8_ERR_IO, "cannot read '" + path + "'");
  try {
    return import(bytes.data(), bytes.size(), path, files);
  } catch (const Error &e) {
    fail(e.status(), "'" + path + "': " + e.what());
  }
}

}  // namespace q8::onnx
