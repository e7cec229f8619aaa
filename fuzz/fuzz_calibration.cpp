// libFuzzer target for the calibration reader (q8_calibration_load_bytes). A calibration that
// loads must save, reload and save again to the same bytes, answer its accessors, and merge with
// itself; when it belongs to digits_tiny_cnn (the seeds do), it also quantizes that model, so the
// range searches run on fuzzed histograms.
#include <cstdint>
#include <cstring>
#include <vector>

#include "q8/calibration.h"

#ifndef Q8_TINY_CNN
#error "Q8_TINY_CNN: path of tests/data/models/digits_tiny_cnn.onnx"
#endif

namespace {

const q8_model *tiny() {
  static q8_model *m = [] {
    q8_model *p = nullptr;
    if (q8_model_load_onnx(Q8_TINY_CNN, &p) != Q8_OK) __builtin_trap();
    return p;
  }();
  return m;
}

uint32_t le32(const uint8_t *p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

std::vector<uint8_t> saved(const q8_calibration *c) {
  void *p = nullptr;
  size_t n = 0;
  if (q8_calibration_save_bytes(c, &p, &n) != Q8_OK) __builtin_trap();
  std::vector<uint8_t> out(static_cast<uint8_t *>(p), static_cast<uint8_t *>(p) + n);
  q8_free(p);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  q8_calibration *c = nullptr;
  const q8_status st = q8_calibration_load_bytes(data, size, &c);
  if (st != Q8_OK) {
    // Malformed bytes are a format error with a message, and nothing is returned.
    if (st != Q8_ERR_FORMAT || c != nullptr || q8_last_error()[0] == '\0') __builtin_trap();
    return 0;
  }
  const std::vector<uint8_t> once = saved(c);
  q8_calibration *again = nullptr;
  if (q8_calibration_load_bytes(once.data(), once.size(), &again) != Q8_OK) __builtin_trap();
  if (saved(again) != once) __builtin_trap();
  q8_calibration_destroy(again);

  size_t acts = 0, slots = 0;
  if (q8_calibration_activation_count(c, &acts) != Q8_OK || q8_calibration_histogram_size(c, &slots) != Q8_OK)
    __builtin_trap();
  std::vector<float> lo(acts), hi(acts);
  std::vector<uint64_t> counts(slots);
  if (q8_calibration_ranges(c, lo.data(), hi.data(), acts) != Q8_OK) __builtin_trap();
  if (q8_calibration_histograms(c, counts.data(), slots) != Q8_OK) __builtin_trap();
  // Merging with itself: fine, or refused with a reason (moving average, counts past 2^53).
  const q8_status ms = q8_calibration_merge(c, c);
  if (ms != Q8_OK && ms != Q8_ERR_UNSUPPORTED && ms != Q8_ERR_INVALID_ARGUMENT) __builtin_trap();

  // Quantize the tiny CNN with the options the header names (the loader checked them).
  q8_ptq_options o;
  q8_ptq_options_init(&o);
  const uint32_t kind = le32(data + 12), scheme = le32(data + 16);
  std::memcpy(&o.observer, &kind, sizeof kind);
  std::memcpy(&o.activation_scheme, &scheme, sizeof scheme);
  std::memcpy(&o.percentile, data + 20, sizeof o.percentile);
  q8_model *q = nullptr;
  const q8_status qs = q8_model_quantize_calibrated(tiny(), &o, c, &q);
  // Another model, or a range too wide for an f32 scale: refused; nothing else may happen.
  if (qs != Q8_OK && qs != Q8_ERR_INVALID_ARGUMENT) __builtin_trap();
  q8_model_destroy(q);
  q8_calibration_destroy(c);
  return 0;
}
