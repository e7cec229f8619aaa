// A model prepared for running (the object behind q8_session): one q8_tensor per value of the
// graph, kernels prepared once at creation, constants wrapped in place and constant subgraphs
// folded. Not safe for concurrent use; sessions of one model share its constant bytes.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/graph.hpp"
#include "runtime/kernel.hpp"

namespace q8::rt {

class Session {
 public:
  // Called during run() once for each graph input after it is copied in, then after each node
  // for each of its outputs (folded constants never: they do not change).
  using Observer = std::function<void(int value_id, const q8_tensor &)>;

  // Resolves every dynamic input dimension (-1) to `batch` (>= 1), prepares each node's kernel
  // in graph order and runs the nodes whose inputs are all constant. Throws q8::Error naming the
  // node (Q8_ERR_UNSUPPORTED when no kernel exists). `model` must outlive the session.
  Session(const q8_model &model, int64_t batch);
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // One tensor per graph input, in order, with the input's dtype and the session's shape;
  // copies them in (qparams included) and runs the remaining nodes.
  void run(const q8_tensor *const *inputs, std::size_t count);
  bool has_run() const noexcept { return ran_; }

  // The tensor of a value: constants (read-only: wrapped over the model's bytes, never write
  // them), folded constants, graph inputs as copied in, and every node output of the last run.
  // nullptr for a value that no node produces. Valid until the session is destroyed; contents
  // change with each run.
  const q8_tensor *tensor(int value_id) const;
  // The same by name; nullptr if no value has that name.
  const q8_tensor *tensor(const std::string &name) const;
  // Graph output `index` of the last run (throws Q8_ERR_STATE before a run).
  const q8_tensor &output(std::size_t index) const;

  void set_observer(Observer observer) { observer_ = std::move(observer); }
  const model::Graph &graph() const noexcept { return graph_; }
  int64_t batch() const noexcept { return batch_; }

 private:
  struct Step {
    std::unique_ptr<Kernel> kernel;
    NodeContext ctx;
  };
  NodeContext context(const model::Node &node);

  const model::Graph &graph_;
  model::PackCache *packs_;
  int64_t batch_;
  std::vector<std::unique_ptr<q8_tensor>> values_;  // by value id; nullptr if never produced
  std::vector<char> constant_;                      // by value id: final since creation
  std::vector<Step> steps_;                         // the nodes left to run, in order
  Observer observer_;
  bool ran_ = false;
};

}  // namespace q8::rt

struct q8_session {
  explicit q8_session(const q8_model &model, int64_t batch) : session(model, batch) {}
  q8::rt::Session session;
};
