// q8_model_load_onnx* and q8_model_export_onnx*: the C entry points of ONNX import
// (src/onnx/import.cpp) and QDQ export (src/onnx/export.cpp).
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "capi/caller_memory.hpp"
#include "capi/guard.hpp"
#include "onnx/export.hpp"
#include "onnx/import.hpp"
#include "q8/model.h"

using namespace q8;

extern "C" {

q8_status q8_model_load_onnx(const char *path, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(path);
    Q8_CHECK_NOT_NULL(out);
    *out = onnx::import_onnx_file(path).release();
  });
}

q8_status q8_model_load_onnx_bytes(const void *data, size_t size, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(out);
    Q8_CHECK_ARG(data != nullptr || size == 0, "data is NULL");
    *out = onnx::import_onnx(data, size).release();
  });
}

q8_status q8_model_export_onnx(const q8_model *model, const char *path) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(path);
    Q8_CHECK_ARG(path[0] != '\0', "path is empty");
    onnx::export_onnx_file(model->graph, path);
  });
}

q8_status q8_model_export_onnx_bytes(const q8_model *model, void **data, size_t *size) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(data);
    Q8_CHECK_NOT_NULL(size);
    const std::string bytes = onnx::export_onnx(model->graph);
    *data = capi::caller_copy(bytes.data(), bytes.size());
    *size = bytes.size();
  });
}

}  // extern "C"
