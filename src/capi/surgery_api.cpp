// q8_model_extract / q8_model_append: argument checks around src/model/surgery.cpp.
#include <memory>
#include <string>
#include <vector>

#include "capi/guard.hpp"
#include "model/graph.hpp"
#include "model/surgery.hpp"
#include "q8/model.h"

using namespace q8;

namespace {
std::vector<std::string> names_of(const char *const *names, size_t count, const char *what) {
  Q8_CHECK_ARG(names != nullptr, std::string(what) + " is NULL");
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Q8_CHECK_ARG(names[i] != nullptr, std::string(what) + "[" + std::to_string(i) + "] is NULL");
    out.emplace_back(names[i]);
  }
  return out;
}
}  // namespace

extern "C" {

q8_status q8_model_extract(const q8_model *model, const char *const *outputs, size_t count, int dequantize,
                           q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(out);
    Q8_CHECK_ARG(count > 0, "count is 0: name at least one tensor");
    auto m = std::make_unique<q8_model>();
    m->graph = model::extract(model->graph, names_of(outputs, count, "outputs"), dequantize != 0);
    *out = m.release();
  });
}

q8_status q8_model_append(const q8_model *base, const q8_model *head, const char *const *connect,
                          size_t connect_count, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(base);
    Q8_CHECK_NOT_NULL(head);
    Q8_CHECK_NOT_NULL(out);
    Q8_CHECK_ARG(connect_count > 0, "connect_count is 0: the head reads at least one tensor of the base");
    auto m = std::make_unique<q8_model>();
    m->graph = model::append(base->graph, head->graph, names_of(connect, connect_count, "connect"));
    *out = m.release();
  });
}

}  // extern "C"
