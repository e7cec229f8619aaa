// Partition plans (plan.hpp): costs per node, the split, then each part's tensors and sub-model.
#include "partition/plan.hpp"

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "model/surgery.hpp"
#include "partition/cost.hpp"
#include "partition/split.hpp"

namespace q8::partition {
namespace {

// Batches above this are refused: shapes are inferred by sessions at the batch and one above it.
constexpr int64_t kMaxBatch = int64_t(1) << 31;

// What a plan needs to know about the model: per-node costs and the shapes at `batch` and
// `batch + 1`; a dimension that differs between the two follows the batch.
struct Facts {
  NodeCosts costs;
  Shapes at, next;
  int64_t batch = 1;
};

Facts facts_of(const q8_model &model, int64_t batch) {
  if (batch < 1 || batch > kMaxBatch)
    fail(Q8_ERR_INVALID_ARGUMENT, "batch = " + std::to_string(batch) + " is outside [1, 2^31]");
  const model::Graph &g = model.graph;
  Facts f;
  f.batch = batch;
  f.at = infer_shapes(model, batch);
  f.next = infer_shapes(model, batch + 1);
  f.costs.const_bytes.assign(g.values.size(), 0);
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].is_const) f.costs.const_bytes[v] = g.values[v].data.size;
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    f.costs.flops.push_back(node_flops(g, k, f.at));
    f.costs.consts.push_back(constants_of(g, k));
    f.costs.names.push_back(g.nodes[k].name);
  }
  return f;
}

// The value's shape with -1 where it follows the batch. Throws Q8_ERR_UNSUPPORTED if a dimension
// grows with the batch other than as the batch itself (a pipeline could not slice it).
std::vector<int64_t> dynamic_shape(const Facts &f, const model::Graph &g, int id, const char *what) {
  const std::size_t v = static_cast<std::size_t>(id);
  std::vector<int64_t> s = f.at.dims[v];
  if (!f.at.known[v] || !f.next.known[v] || f.next.dims[v].size() != s.size())
    fail(Q8_ERR_INTERNAL, std::string(what) + " '" + g.values[v].name + "' has no consistent shape");
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (s[d] == f.next.dims[v][d]) continue;
    if (s[d] != f.batch || f.next.dims[v][d] != f.batch + 1)
      fail(Q8_ERR_UNSUPPORTED, std::string(what) + " '" + g.values[v].name + "': dimension " + std::to_string(d) + " is " +
                                   std::to_string(s[d]) + " at batch " + std::to_string(f.batch) + " and " +
                                   std::to_string(f.next.dims[v][d]) + " at batch " + std::to_string(f.batch + 1) +
                                   ": it grows with the batch other than as the batch itself");
    s[d] = -1;
  }
  return s;
}

// Part [first, last) of g: its tensors and sub-model.
Part make_part(const model::Graph &g, const Facts &f, std::size_t first, std::size_t last,
               const std::vector<int> &last_use) {
  Part p;
  p.first = first;
  p.count = last - first;
  p.weight_bytes = part_bytes(f.costs, first, last);
  for (std::size_t k = first; k < last; ++k) p.flops = add_sat(p.flops, f.costs.flops[k]);

  std::vector<char> keep_values(g.values.size(), 0), keep_nodes(g.nodes.size(), 0), produced(g.values.size(), 0);
  std::vector<int> ins, outs;
  std::set<int> graph_outputs(g.outputs.begin(), g.outputs.end());
  for (std::size_t k = first; k < last; ++k) {
    const model::Node &n = g.nodes[k];
    keep_nodes[k] = 1;
    for (int id : n.inputs) {
      if (id < 0) continue;
      const std::size_t v = static_cast<std::size_t>(id);
      if (!keep_values[v] && !g.values[v].is_const && !produced[v]) ins.push_back(id);
      keep_values[v] = 1;
    }
    for (int id : n.outputs) {
      if (id < 0) continue;
      keep_values[static_cast<std::size_t>(id)] = produced[static_cast<std::size_t>(id)] = 1;
      if (last_use[static_cast<std::size_t>(id)] >= static_cast<int>(last) || graph_outputs.count(id)) outs.push_back(id);
    }
  }
  std::vector<int> map;
  model::Graph sub = model::copy_subset(g, keep_values, keep_nodes, &map);
  const std::set<int> source_inputs(g.inputs.begin(), g.inputs.end());
  for (int id : ins) {
    model::Value &v = sub.values[static_cast<std::size_t>(map[static_cast<std::size_t>(id)])];
    p.inputs.push_back(v.name);
    sub.inputs.push_back(map[static_cast<std::size_t>(id)]);
    if (source_inputs.count(id)) continue;  // keeps the shape the model states
    v.has_shape = true;
    v.shape = dynamic_shape(f, g, id, "tensor");
  }
  for (int id : outs) {
    p.outputs.push_back(g.values[static_cast<std::size_t>(id)].name);
    sub.outputs.push_back(map[static_cast<std::size_t>(id)]);
  }
  sub.validate();
  auto m = std::make_shared<q8_model>();
  m->graph = std::move(sub);
  p.model = std::move(m);
  return p;
}

Plan assemble(const q8_model &model, const Facts &f, const std::vector<std::size_t> &firsts,
              q8_partition_balance balance) {
  const model::Graph &g = model.graph;
  Plan plan;
  plan.balance = balance;
  plan.batch = f.batch;
  plan.node_names = f.costs.names;
  // The last node (index) reading each value, -1 if none.
  std::vector<int> last_use(g.values.size(), -1);
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    for (int id : g.nodes[k].inputs)
      if (id >= 0) last_use[static_cast<std::size_t>(id)] = static_cast<int>(k);
  for (std::size_t i = 0; i < firsts.size(); ++i)
    plan.parts.push_back(make_part(g, f, firsts[i], i + 1 < firsts.size() ? firsts[i + 1] : g.nodes.size(), last_use));
  for (int id : g.inputs) {
    const model::Value &v = g.values[static_cast<std::size_t>(id)];
    plan.inputs.push_back({v.name, v.dtype, v.shape});
  }
  for (int id : g.outputs) {
    const model::Value &v = g.values[static_cast<std::size_t>(id)];
    plan.outputs.push_back({v.name, v.dtype, dynamic_shape(f, g, id, "output")});
  }
  return plan;
}

}  // namespace

Plan make_plan(const q8_model &model, const Options &o) {
  if (o.count == 0 && o.max_bytes == 0)
    fail(Q8_ERR_INVALID_ARGUMENT, "options give neither a count nor max_bytes: set one or both");
  const std::size_t n = model.graph.nodes.size();
  if (o.count > n)  // before any shape inference: the answer does not depend on it
    fail(Q8_ERR_SHAPE, "count = " + std::to_string(o.count) + " partitions, but the model has only " +
                           std::to_string(n) + " node" + (n == 1 ? "" : "s"));
  const Facts f = facts_of(model, o.batch);
  return assemble(model, f, split(f.costs, o.count, o.max_bytes, o.balance), o.balance);
}

Plan plan_from_firsts(const q8_model &model, const std::vector<std::size_t> &firsts, q8_partition_balance balance,
                      int64_t batch) {
  const std::size_t n = model.graph.nodes.size();
  if (firsts.empty() || firsts[0] != 0 || firsts.back() >= n || !std::is_sorted(firsts.begin(), firsts.end()) ||
      std::adjacent_find(firsts.begin(), firsts.end()) != firsts.end())
    fail(Q8_ERR_INTERNAL, "plan_from_firsts: the first nodes are not a split");
  return assemble(model, facts_of(model, batch), firsts, balance);
}

}  // namespace q8::partition
