// q8's model IR: a graph of named tensors (values) and operators (nodes) that speaks ONNX.
//
// Operators keep their ONNX names, domains, attribute names and input order, so import and export
// are mappings, not translations. Quantized compute is expressed with the standard quantized
// operators: ONNX's QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv,
// QLinearMatMul, MatMulInteger, ConvInteger, ONNX Runtime's com.microsoft QGemm, QLinearAdd,
// QLinearMul, QLinearSigmoid, QLinearConcat, QLinearGlobalAveragePool, QLinearAveragePool, and a
// few of q8's own in domain "ai.q8" (documented in docs/QUANTIZED_OPS.md): QLinearTanh, DynamicGemm,
// DynamicConv. Scales and zero points are inputs of those operators, as in ONNX (usually
// constants).
//
// Values hold f32, s8, u8 or s32 data only. Integer-typed ONNX inputs that configure an operator
// (Reshape's shape, Clip's min/max given as inputs, ...) are folded into attributes by the
// importer; a value never holds int64.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "q8/common.h"

#include "model/pack_cache.hpp"

namespace q8::model {

// Constant bytes, owned or borrowed from a mapped file that `keeper` keeps alive.
struct Bytes {
  std::shared_ptr<const void> keeper;
  const uint8_t *data = nullptr;
  std::size_t size = 0;

  static Bytes copy_of(const void *p, std::size_t n);
  static Bytes take(std::vector<uint8_t> &&v);
};

struct Value {
  std::string name;
  q8_dtype dtype = Q8_DTYPE_F32;
  // Known shape, with -1 for a dynamic dimension (the batch). Intermediate values may have
  // has_shape == false: the session infers their shapes.
  bool has_shape = false;
  std::vector<int64_t> shape;
  // Constant (initializer): dense row-major little-endian bytes, size == numel * dtype size.
  bool is_const = false;
  Bytes data;
  // Quantization parameters of a u8/s8 constant (e.g. weights, so that tools can show them; the
  // operators' scale and zero-point inputs are what the computation uses). Empty otherwise.
  QParams qp;
};

struct Attr {
  enum Kind { INT, FLOAT, INTS, FLOATS, STRING } kind = INT;
  int64_t i = 0;
  double f = 0;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::string s;
};

struct Node {
  std::string name;    // unique within the graph (the importer names unnamed nodes)
  std::string domain;  // "" for ONNX, "com.microsoft", "ai.q8"
  std::string op;      // operator type, e.g. "Conv", "QLinearConv"
  std::vector<int> inputs;   // value indices; -1 for an omitted optional input
  std::vector<int> outputs;  // value indices; -1 for an omitted optional output
  std::map<std::string, Attr> attrs;

  bool has(const std::string &key) const { return attrs.count(key) != 0; }
  // Typed getters: the default when absent; q8::Error(Q8_ERR_FORMAT) naming the node and the
  // attribute when present with another kind.
  int64_t get_int(const std::string &key, int64_t def) const;
  double get_float(const std::string &key, double def) const;
  std::vector<int64_t> get_ints(const std::string &key, std::vector<int64_t> def = {}) const;
  std::vector<float> get_floats(const std::string &key, std::vector<float> def = {}) const;
  std::string get_string(const std::string &key, std::string def = {}) const;
};

// Input i of n, or -1 when it is omitted or n has fewer inputs.
inline int input(const Node &n, std::size_t i) { return i < n.inputs.size() ? n.inputs[i] : -1; }

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;   // topological order
  std::vector<int> inputs;   // non-constant values fed by the caller
  std::vector<int> outputs;
  std::string producer;      // free text: who made it ("q8 0.1.0 ptq static", "pytorch 1.13")

  // Index of the value with this name, or -1.
  int find(const std::string &name) const;
  // Adds a value and returns its index (names must be unique: throws Q8_ERR_FORMAT otherwise).
  int add_value(Value v);
  // Checks structure: indices in range, unique names, each non-constant value produced exactly
  // once (by a node, or as a graph input) and before it is used, constants sized right.
  // Throws q8::Error(Q8_ERR_FORMAT) naming the offending node or value.
  void validate() const;
  // Rebuilds the name index after values were edited in place.
  void reindex();

 private:
  std::map<std::string, int> index_;
};

}  // namespace q8::model

// The object behind the opaque q8_model handle. Not copyable: a copy of the graph is a new model
// with a cache of its own (q8_model{graph}).
struct q8_model {
  q8::model::Graph graph;
  std::unique_ptr<q8::model::PackCache> packs = std::make_unique<q8::model::PackCache>();
};
