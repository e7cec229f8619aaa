// Sessions: one q8_tensor per graph value, kernels prepared once, constants folded at creation.
#include "runtime/session.hpp"

#include <cstring>

#include "core/dtype.hpp"
#include "core/error.hpp"

namespace q8::rt {
namespace {

std::string shape_text(const int64_t *shape, std::size_t rank) {
  std::string s = "[";
  for (std::size_t i = 0; i < rank; ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// Runs f; an error that does not name a node yet (a shape overflow in set_output, ...) gets the
// node's name, so that every failure inside a node says which one.
template <class F>
void at_node(const model::Node &node, F &&f) {
  try {
    f();
  } catch (const Error &e) {
    const std::string prefix = "node '" + node.name + "'";
    if (std::strncmp(e.what(), prefix.c_str(), prefix.size()) == 0) throw;
    throw Error(e.status(), prefix + " (" + node.op + "): " + e.what());
  }
}

// A rank no tensor can have: marks outputs that prepare() has not given a shape yet.
constexpr std::size_t kUnset = Q8_MAX_RANK + 1;

}  // namespace

Session::Session(const q8_model &model, int64_t batch) : graph_(model.graph), packs_(model.packs.get()), batch_(batch) {
  if (batch < 1) fail(Q8_ERR_INVALID_ARGUMENT, "batch = " + std::to_string(batch) + " must be >= 1");
  graph_.validate();
  const std::size_t nv = graph_.values.size();
  values_.resize(nv);
  constant_.assign(nv, 0);

  // Constants: borrowed views of the model's bytes (copied only if misaligned for their dtype).
  for (std::size_t id = 0; id < nv; ++id) {
    const model::Value &v = graph_.values[id];
    if (!v.is_const) continue;
    auto t = std::make_unique<q8_tensor>();
    t->dtype = v.dtype;
    t->rank = v.shape.size();
    for (std::size_t i = 0; i < t->rank; ++i) t->shape[i] = v.shape[i];
    t->numel = checked_numel(v.shape.data(), v.shape.size(), dtype_size(v.dtype), v.name.c_str());
    if (reinterpret_cast<std::uintptr_t>(v.data.data) % dtype_size(v.dtype) == 0) {
      t->data = const_cast<uint8_t *>(v.data.data);  // read-only by contract: kernels never write inputs
    } else {
      t->data = aligned_zalloc(v.data.size);
      t->owned = true;
      std::memcpy(t->data, v.data.data, v.data.size);
    }
    t->qp = v.qp;
    values_[id] = std::move(t);
    constant_[id] = 1;
  }

  for (int id : graph_.inputs) {
    const model::Value &v = graph_.values[id];
    if (!v.has_shape) fail(Q8_ERR_UNSUPPORTED, "input '" + v.name + "' has no shape");
    std::vector<int64_t> shape = v.shape;
    for (int64_t &d : shape) {
      if (d == -1) d = batch;
      if (d < 0) fail(Q8_ERR_FORMAT, "input '" + v.name + "' has dimension " + std::to_string(d));
    }
    values_[id] = std::make_unique<q8_tensor>();
    set_output(values_[id].get(), v.dtype, shape);
  }

  for (const model::Node &node : graph_.nodes) {
    const KernelFactory factory = find_kernel(node.domain, node.op);
    if (!factory)
      node_error(node, Q8_ERR_UNSUPPORTED, "the runtime has no kernel for " +
                                               (node.domain.empty() ? std::string() : node.domain + ".") + node.op);
    for (int id : node.outputs)
      if (id >= 0) {
        values_[id] = std::make_unique<q8_tensor>();
        values_[id]->rank = kUnset;
      }
    Step step{nullptr, context(node)};
    bool folds = true;
    for (const Operand &op : step.ctx.in) folds = folds && (!op.t || op.constant);
    at_node(node, [&] {
      step.kernel = factory(node);
      step.kernel->prepare(step.ctx);
      for (q8_tensor *t : step.ctx.out)
        if (t && t->rank == kUnset) fail(Q8_ERR_INTERNAL, "prepare() left an output without a shape");
      if (folds) step.kernel->run(step.ctx);
    });
    if (folds) {
      for (int id : node.outputs)
        if (id >= 0) constant_[id] = 1;
    } else {
      steps_.push_back(std::move(step));
    }
  }
}

NodeContext Session::context(const model::Node &node) {
  NodeContext ctx{node, {}, {}, packs_};
  for (int id : node.inputs) {
    if (id < 0) {
      ctx.in.push_back(Operand{});
      continue;
    }
    if (!values_[id]) fail(Q8_ERR_INTERNAL, "value '" + graph_.values[id].name + "' has no tensor");
    ctx.in.push_back(Operand{values_[id].get(), constant_[id] != 0});
  }
  for (int id : node.outputs) ctx.out.push_back(id >= 0 ? values_[id].get() : nullptr);
  return ctx;
}

void Session::run(const q8_tensor *const *inputs, std::size_t count) {
  const std::size_t n = graph_.inputs.size();
  if (count != n)
    fail(Q8_ERR_INVALID_ARGUMENT, "count = " + std::to_string(count) + ", the model has " + std::to_string(n) + " inputs");
  if (n > 0 && !inputs) fail(Q8_ERR_INVALID_ARGUMENT, "inputs is NULL");
  for (std::size_t i = 0; i < n; ++i) {
    const model::Value &v = graph_.values[graph_.inputs[i]];
    const q8_tensor *in = inputs[i];
    const q8_tensor &dst = *values_[graph_.inputs[i]];
    if (!in) fail(Q8_ERR_INVALID_ARGUMENT, "inputs[" + std::to_string(i) + "] is NULL");
    if (in->dtype != dst.dtype)
      fail(Q8_ERR_DTYPE, "input '" + v.name + "' is " + dtype_name(in->dtype) + ", the model takes " + dtype_name(dst.dtype));
    if (in->rank != dst.rank || !std::equal(dst.shape, dst.shape + dst.rank, in->shape))
      fail(Q8_ERR_SHAPE, "input '" + v.name + "' has shape " + shape_text(in->shape, in->rank) +
                             ", the session takes " + shape_text(dst.shape, dst.rank));
  }
  ran_ = false;
  for (std::size_t i = 0; i < n; ++i) {
    q8_tensor &dst = *values_[graph_.inputs[i]];
    if (dst.nbytes()) std::memcpy(dst.data, inputs[i]->data, dst.nbytes());
    dst.qp = inputs[i]->qp;
    if (observer_) observer_(graph_.inputs[i], dst);
  }
  for (Step &step : steps_) {
    at_node(step.ctx.node, [&] { step.kernel->run(step.ctx); });
    if (observer_)
      for (std::size_t o = 0; o < step.ctx.out.size(); ++o)
        if (step.ctx.out[o]) observer_(step.ctx.node.outputs[o], *step.ctx.out[o]);
  }
  ran_ = true;
}

const q8_tensor *Session::tensor(int value_id) const {
  if (value_id < 0 || static_cast<std::size_t>(value_id) >= values_.size()) return nullptr;
  return values_[value_id].get();
}

const q8_tensor *Session::tensor(const std::string &name) const { return tensor(graph_.find(name)); }

const q8_tensor &Session::output(std::size_t index) const {
  if (!ran_) fail(Q8_ERR_STATE, "the session has not run yet (or its last run failed)");
  if (index >= graph_.outputs.size())
    fail(Q8_ERR_INVALID_ARGUMENT, "output index " + std::to_string(index) + " is out of range (the model has " +
                                      std::to_string(graph_.outputs.size()) + ")");
  return *values_[graph_.outputs[index]];
}

}  // namespace q8::rt
