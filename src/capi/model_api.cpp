// q8_model_* entry points that only look at a loaded model (loading, saving and running live in
// onnx_api.cpp, format_api.cpp and session_api.cpp).
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/guard.hpp"
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
char *dup_string(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (!p) throw std::bad_alloc();
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
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
    *text = dup_string(json ? model::describe_json(m.graph) : model::describe_text(m.graph));
  });
}

}  // extern "C"
