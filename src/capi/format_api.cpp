// q8_model_load / _load_bytes / _save / _save_bytes: the native .q8 format (src/format).
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/caller_memory.hpp"
#include "capi/guard.hpp"
#include "q8/model.h"
#include "format/format.hpp"

using namespace q8;

extern "C" {

q8_status q8_model_load(const char *path, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(path);
    Q8_CHECK_NOT_NULL(out);
    *out = format::read_file(path).release();
  });
}

q8_status q8_model_load_bytes(const void *data, size_t size, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_ARG(data != nullptr || size == 0, "data is NULL with size " + std::to_string(size));
    Q8_CHECK_NOT_NULL(out);
    static const unsigned char empty = 0;
    *out = format::read(data ? data : &empty, size, nullptr).release();
  });
}

q8_status q8_model_save(const q8_model *model, const char *path) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(path);
    Q8_CHECK_ARG(path[0] != '\0', "path is empty");
    format::save_file(model->graph, path);
  });
}

q8_status q8_model_save_bytes(const q8_model *model, void **data, size_t *size) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(data);
    Q8_CHECK_NOT_NULL(size);
    const std::vector<uint8_t> image = format::write(model->graph);
    *data = capi::caller_copy(image.data(), image.size());
    *size = image.size();
  });
}

}  // extern "C"
