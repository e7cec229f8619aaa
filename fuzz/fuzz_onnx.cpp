// libFuzzer target for ONNX import (untrusted model files): any bytes either load into a model
// that can be described, or fail with Q8_ERR_FORMAT / Q8_ERR_UNSUPPORTED and a message.
#include <cstddef>
#include <cstdint>

#include "q8/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  q8_model *model = nullptr;
  const q8_status st = q8_model_load_onnx_bytes(data, size, &model);
  if (st != Q8_OK) {
    if (model != nullptr) __builtin_trap();  // outputs are written only on success
    if (st != Q8_ERR_FORMAT && st != Q8_ERR_UNSUPPORTED) __builtin_trap();
    if (q8_last_error()[0] == '\0') __builtin_trap();
    return 0;
  }
  size_t nodes = 0;
  if (q8_model_node_count(model, &nodes) != Q8_OK) __builtin_trap();
  for (int json = 0; json <= 1; ++json) {
    char *text = nullptr;
    if (q8_model_describe(model, json, &text) != Q8_OK || text == nullptr) __builtin_trap();
    q8_free(text);
  }
  q8_model_destroy(model);
  return 0;
}
