// q8_model_* entry points that only look at a loaded model (loading, saving and running live in
// onnx_api.cpp, format_api.cpp and session_api.cpp).
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/caller_memory.hpp"
#include "capi/guard.hpp"
#include "q8/model.h"
#include "model/describe.hpp"
#include "model/graph.hpp"

using namespace q8;

namespace {
const q8_model &deref_model(const q8_model *m) {
  if (!m) fail(Q8_ERR_INVALID_ARGUMENT, "model is NULL");
  return *m;
}
const model::Value &io_value(const q8_model &m, bool input, size_t index) {
  const auto &ids = input ? m.graph.inputs : m.graph.outputs;
  if (index >= ids.size())
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(input ? "input" : "output") + " index " +
                                      std::to_string(index) + " is out of range (the model has " +
                                      std::to_string(ids.size()) + ")");
  return m.graph.values[ids[index]];
}
const model::Node &node_at(const q8_model &m, size_t index) {
  if (index >= m.graph.nodes.size())
    fail(Q8_ERR_INVALID_ARGUMENT, "node index " + std::to_string(index) + " is out of range (the model has " +
                                      std::to_string(m.graph.nodes.size()) + " nodes)");
  return m.graph.nodes[index];
}
const char *endpoint(const q8_model &m, const std::vector<int> &ids, size_t i, const char *what) {
  if (i >= ids.size())
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + " " + std::to_string(i) + " is out of range (the node has " +
                                      std::to_string(ids.size()) + ")");
  return ids[i] < 0 ? nullptr : m.graph.values[ids[i]].name.c_str();
}
}  // namespace

extern "C" {

void q8_model_destroy(q8_model *model) { delete model; }

void q8_free(void *p) { std::free(p); }

q8_status q8_model_input_count(const q8_model *model, size_t *count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(count);
    *count = deref_model(model).graph.inputs.size();
  });
}

q8_status q8_model_output_count(const q8_model *model, size_t *count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(count);
    *count = deref_model(model).graph.outputs.size();
  });
}

q8_status q8_model_input_name(const q8_model *model, size_t index, const char **name) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(name);
    *name = io_value(deref_model(model), true, index).name.c_str();
  });
}

q8_status q8_model_output_name(const q8_model *model, size_t index, const char **name) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(name);
    *name = io_value(deref_model(model), false, index).name.c_str();
  });
}

q8_status q8_model_input_info(const q8_model *model, size_t index, q8_dtype *dtype, int64_t *shape,
                              size_t capacity, size_t *rank) {
  return guard(__func__, [&] {
    const model::Value &v = io_value(deref_model(model), true, index);
    Q8_CHECK_NOT_NULL(dtype);
    Q8_CHECK_NOT_NULL(rank);
    if (v.shape.size() > capacity)
      fail(Q8_ERR_INVALID_ARGUMENT, "shape has room for " + std::to_string(capacity) +
                                        " dims, the input has " + std::to_string(v.shape.size()));
    if (!v.shape.empty()) Q8_CHECK_NOT_NULL(shape);
    for (size_t i = 0; i < v.shape.size(); ++i) shape[i] = v.shape[i];
    *dtype = v.dtype;
    *rank = v.shape.size();
  });
}

q8_status q8_model_node_count(const q8_model *model, size_t *count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(count);
    *count = deref_model(model).graph.nodes.size();
  });
}

q8_status q8_model_node_info(const q8_model *model, size_t index, const char **name, const char **domain,
                             const char **op, size_t *input_count, size_t *output_count) {
  return guard(__func__, [&] {
    const model::Node &n = node_at(deref_model(model), index);
    if (name) *name = n.name.c_str();
    if (domain) *domain = n.domain.c_str();
    if (op) *op = n.op.c_str();
    if (input_count) *input_count = n.inputs.size();
    if (output_count) *output_count = n.outputs.size();
  });
}

q8_status q8_model_node_input(const q8_model *model, size_t index, size_t i, const char **tensor) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(tensor);
    const q8_model &m = deref_model(model);
    *tensor = endpoint(m, node_at(m, index).inputs, i, "input");
  });
}

q8_status q8_model_node_output(const q8_model *model, size_t index, size_t i, const char **tensor) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(tensor);
    const q8_model &m = deref_model(model);
    *tensor = endpoint(m, node_at(m, index).outputs, i, "output");
  });
}

q8_status q8_model_weight_bytes(const q8_model *model, size_t *bytes) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(bytes);
    size_t total = 0;
    for (const auto &v : deref_model(model).graph.values)
      if (v.is_const) total += v.data.size;
    *bytes = total;
  });
}

q8_status q8_model_describe(const q8_model *model, int json, char **text) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(text);
    const q8_model &m = deref_model(model);
    *text = capi::caller_string(json ? model::describe_json(m.graph) : model::describe_text(m.graph));
  });
}

}  // extern "C"
