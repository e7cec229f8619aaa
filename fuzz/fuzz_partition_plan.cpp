// libFuzzer target for partition plan JSON (q8_partition_plan_load_bytes) against the digits tiny
// CNN (8 nodes), loaded once. A plan that loads must describe itself, and its own JSON must load
// again to the same JSON.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "q8/partition.h"

#ifndef Q8_FUZZ_PLAN_MODEL
#error "Q8_FUZZ_PLAN_MODEL: path of the ONNX model plans are loaded against"
#endif

namespace {
const q8_model *fixture() {
  static q8_model *m = [] {
    q8_model *loaded = nullptr;
    if (q8_model_load_onnx(Q8_FUZZ_PLAN_MODEL, &loaded) != Q8_OK) std::abort();
    return loaded;
  }();
  return m;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  q8_partition_plan *plan = nullptr;
  if (q8_partition_plan_load_bytes(fixture(), data, size, &plan) != Q8_OK) {
    if (plan || q8_last_error()[0] == '\0') std::abort();  // failures leave no plan and say why
    return 0;
  }
  char *json = nullptr, *text = nullptr;
  if (q8_partition_plan_describe(plan, 1, &json) != Q8_OK || q8_partition_plan_describe(plan, 0, &text) != Q8_OK)
    std::abort();
  q8_partition_plan *again = nullptr;
  if (q8_partition_plan_load_bytes(fixture(), json, std::strlen(json), &again) != Q8_OK) std::abort();
  char *json2 = nullptr;
  if (q8_partition_plan_describe(again, 1, &json2) != Q8_OK || std::strcmp(json, json2) != 0) std::abort();
  q8_free(json);
  q8_free(json2);
  q8_free(text);
  q8_partition_plan_destroy(again);
  q8_partition_plan_destroy(plan);
  return 0;
}
