// Helpers the graph passes share, and the order in which import runs them.
#include <algorithm>

#include "model/passes.hpp"

namespace q8::model {

std::vector<int> use_counts(const Graph &g) {
  std::vector<int> uses(g.values.size(), 0);
  for (const Node &n : g.nodes)
    for (int id : n.inputs)
      if (id >= 0) ++uses[static_cast<std::size_t>(id)];
  return uses;
}

int producer_of(const Graph &g, int id) {
  if (id < 0) return -1;
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    for (int o : g.nodes[k].outputs)
      if (o == id) return static_cast<int>(k);
  return -1;
}

bool is_graph_output(const Graph &g, int id) {
  return std::find(g.outputs.begin(), g.outputs.end(), id) != g.outputs.end();
}

void replace_uses(Graph &g, int from, int to) {
  for (Node &n : g.nodes)
    for (int &id : n.inputs)
      if (id == from) id = to;
}

void erase_nodes(Graph &g, const std::vector<char> &dead) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    if (!dead[k]) kept.push_back(std::move(g.nodes[k]));
  g.nodes = std::move(kept);
}

void prune_values(Graph &g) {
  std::vector<char> live(g.values.size(), 0);
  auto mark = [&](int id) {
    if (id >= 0) live[static_cast<std::size_t>(id)] = 1;
  };
  for (const Node &n : g.nodes) {
    for (int id : n.inputs) mark(id);
    for (int id : n.outputs) mark(id);
  }
  for (int id : g.inputs) mark(id);
  for (int id : g.outputs) mark(id);
  std::vector<int> remap(g.values.size(), -1);
  std::vector<Value> kept;
  for (std::size_t i = 0; i < g.values.size(); ++i)
    if (live[i]) {
      remap[i] = static_cast<int>(kept.size());
      kept.push_back(std::move(g.values[i]));
    }
  auto fix = [&](int &id) {
    if (id >= 0) id = remap[static_cast<std::size_t>(id)];
  };
  for (Node &n : g.nodes) {
    for (int &id : n.inputs) fix(id);
    for (int &id : n.outputs) fix(id);
  }
  for (int &id : g.inputs) fix(id);
  for (int &id : g.outputs) fix(id);
  g.values = std::move(kept);
  g.reindex();
}

std::string fresh_name(const Graph &g, const std::string &base) {
  if (g.find(base) < 0) return base;
  for (int s = 1;; ++s) {
    std::string name = base + "_" + std::to_string(s);
    if (g.find(name) < 0) return name;
  }
}

int add_const(Graph &g, const std::string &base, q8_dtype dtype, std::vector<int64_t> shape,
              std::vector<uint8_t> bytes) {
  Value v;
  v.name = fresh_name(g, base);
  v.dtype = dtype;
  v.has_shape = true;
  v.shape = std::move(shape);
  v.is_const = true;
  v.data = Bytes::take(std::move(bytes));
  return g.add_value(std::move(v));
}

void run_import_passes(Graph &g, const OpSupported &supported) {
  remove_identities(g);
  fold_batchnorm(g);
  fuse_qdq(g, supported);
  prune_values(g);
}

}  // namespace q8::model
