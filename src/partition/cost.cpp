// Node costs (cost.hpp): constant bytes from the graph, FLOPs from the runtime's shapes.
#include "partition/cost.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "runtime/session.hpp"

namespace q8::partition {

uint64_t add_sat(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

uint64_t mul_sat(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::numeric_limits<uint64_t>::max();
  return a * b;
}

Shapes infer_shapes(const q8_model &model, int64_t batch) {
  const rt::Session session(model, batch);
  const std::size_t nv = model.graph.values.size();
  Shapes s;
  s.known.assign(nv, 0);
  s.dims.resize(nv);
  for (std::size_t id = 0; id < nv; ++id) {
    const q8_tensor *t = session.tensor(static_cast<int>(id));
    if (!t) continue;
    s.known[id] = 1;
    s.dims[id].assign(t->shape, t->shape + t->rank);
  }
  return s;
}

std::vector<int> constants_of(const model::Graph &g, std::size_t k) {
  std::vector<int> out;
  for (int id : g.nodes[k].inputs)
    if (id >= 0 && g.values[static_cast<std::size_t>(id)].is_const && std::find(out.begin(), out.end(), id) == out.end())
      out.push_back(id);
  return out;
}

namespace {

uint64_t numel(const std::vector<int64_t> &dims) {
  uint64_t n = 1;
  for (int64_t d : dims) n = mul_sat(n, static_cast<uint64_t>(std::max<int64_t>(d, 0)));
  return n;
}

// Where a matrix product keeps its weight (convolutions) or its A operand (GEMMs); -1: neither.
struct Product {
  bool conv = false;
  int operand = -1;
};

Product product_of(const model::Node &n) {
  const std::string &op = n.op;
  if (n.domain.empty()) {
    if (op == "Conv" || op == "ConvInteger") return {true, 1};
    if (op == "QLinearConv") return {true, 3};
    if (op == "Gemm" || op == "MatMul" || op == "QLinearMatMul" || op == "MatMulInteger") return {false, 0};
  } else if (n.domain == "ai.q8") {
    if (op == "DynamicConv") return {true, 1};
    if (op == "DynamicGemm") return {false, 0};
  } else if (n.domain == "com.microsoft" && op == "QGemm") {
    return {false, 0};
  }
  return {};
}

}  // namespace

uint64_t node_flops(const model::Graph &g, std::size_t k, const Shapes &shapes) {
  const model::Node &n = g.nodes[k];
  auto dims = [&](int id) -> const std::vector<int64_t> * {
    return id >= 0 && shapes.known[static_cast<std::size_t>(id)] ? &shapes.dims[static_cast<std::size_t>(id)] : nullptr;
  };
  uint64_t out_elems = 0;
  for (int id : n.outputs)
    if (const auto *d = dims(id)) out_elems = add_sat(out_elems, numel(*d));
  const Product p = product_of(n);
  const auto *operand = dims(model::input(n, static_cast<std::size_t>(std::max(p.operand, 0))));
  if (p.operand < 0 || !operand || operand->empty()) return out_elems;
  uint64_t macs_per_output;
  if (p.conv) {  // W is [M, C / group, kernel...]: each output sums over all but M
    const uint64_t m = static_cast<uint64_t>(std::max<int64_t>((*operand)[0], 1));
    macs_per_output = numel(*operand) / m;
  } else {  // A is [..., K]; Gemm's transA stores it [K, M]
    const bool trans_a = (n.op == "Gemm" || n.op == "QGemm") && n.get_int("transA", 0) != 0;
    macs_per_output = static_cast<uint64_t>(std::max<int64_t>(trans_a ? operand->front() : operand->back(), 0));
  }
  const auto *y = dims(n.outputs.empty() ? -1 : n.outputs[0]);
  return y ? mul_sat(2, mul_sat(numel(*y), macs_per_output)) : out_elems;
}

}  // namespace q8::partition
