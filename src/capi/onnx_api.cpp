// q8_model_load_onnx*: the C entry points of ONNX import (src/onnx/import.cpp).
#include "capi/guard.hpp"
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

}  // extern "C"
