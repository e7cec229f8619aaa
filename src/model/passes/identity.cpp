// Identity and Dropout removal: both pass their input through at inference, so their consumers
// can read the input directly.
#include "model/passes.hpp"

namespace q8::model {

void remove_identities(Graph &g) {
  std::vector<char> dead(g.nodes.size(), 0);
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    Node &n = g.nodes[k];
    if (!n.domain.empty() || (n.op != "Identity" && n.op != "Dropout")) continue;
    if (n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty() || n.outputs[0] < 0) continue;
    bool extra_outputs = false;  // Dropout's mask (the importer drops unused ones)
    for (std::size_t i = 1; i < n.outputs.size(); ++i) extra_outputs |= n.outputs[i] >= 0;
    if (extra_outputs) continue;
    const int in = n.inputs[0], out = n.outputs[0];
    if (!is_graph_output(g, out)) {
      replace_uses(g, out, in);
    } else {
      // The graph output keeps its name: the producer of `in` writes `out` directly. Not possible
      // when `in` is a graph input, a constant or a graph output itself (the node stays a copy).
      const int p = producer_of(g, in);
      if (p < 0 || is_graph_output(g, in)) continue;
      for (int &o : g.nodes[static_cast<std::size_t>(p)].outputs)
        if (o == in) o = out;
      replace_uses(g, in, out);
    }
    dead[k] = 1;
  }
  erase_nodes(g, dead);
}

}  // namespace q8::model
