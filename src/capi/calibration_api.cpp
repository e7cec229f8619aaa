// q8_calibration_* / q8_model_calibrate / q8_model_quantize_calibrated: argument checks around
// src/calibration (the statistics) and src/ptq (observing, parameters, the rewrite).
#include "q8/calibration.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "calibration/fingerprint.hpp"
#include "calibration/serialize.hpp"
#include "calibration/stats.hpp"
#include "capi/caller_memory.hpp"
#include "capi/guard.hpp"
#include "ptq/ptq.hpp"

using namespace q8;

namespace {

const calibration::Statistics &stats_of(const q8_calibration *c) {
  if (!c) fail(Q8_ERR_INVALID_ARGUMENT, "calibration is NULL");
  return c->stats;
}

void check_count(const calibration::Statistics &s, size_t count, const char *what) {
  if (count != s.names.size())
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + " = " + std::to_string(count) + " but the calibration has " +
                                      std::to_string(s.names.size()) + " activations");
}

void check_size(const calibration::Statistics &s, size_t size) {
  const size_t want = s.slots() * s.names.size();
  if (size != want)
    fail(Q8_ERR_INVALID_ARGUMENT, "size = " + std::to_string(size) + " but the histograms have " + std::to_string(want) +
                                      " counts (see q8_calibration_histogram_size)");
}

}  // namespace

extern "C" {

q8_status q8_model_calibrate(const q8_model *model, const q8_ptq_options *options, const q8_tensor *const *batches,
                             size_t batch_count, q8_calibration **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(out);
    const ptq::Options opt = ptq::read_options(options);
    std::unique_ptr<q8_model> pruned;
    const q8_model &src = ptq::prepared(*model, opt, pruned);
    auto c = std::make_unique<q8_calibration>();
    c->stats = ptq::observe(src, opt, batches, batch_count);
    *out = c.release();
  });
}

q8_status q8_calibration_merge(q8_calibration *into, const q8_calibration *other) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(into);
    Q8_CHECK_NOT_NULL(other);
    calibration::Statistics merged = into->stats;  // `into` stays as it was if anything fails
    merged.merge(other->stats);
    into->stats = std::move(merged);
  });
}

q8_status q8_model_quantize_calibrated(const q8_model *model, const q8_ptq_options *options,
                                       const q8_calibration *calib, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    const calibration::Statistics &s = stats_of(calib);
    Q8_CHECK_NOT_NULL(out);
    const ptq::Options opt = ptq::read_options(options);
    Q8_CHECK_ARG(opt.mode == Q8_PTQ_STATIC, "options->mode must be Q8_PTQ_STATIC to quantize from a calibration");
    const std::string diff = ptq::settings(opt).difference(s.settings);
    Q8_CHECK_ARG(diff.empty(), "the options differ from the calibration's: " + diff + " (options vs calibration)");
    std::unique_ptr<q8_model> pruned;
    const q8_model &src = ptq::prepared(*model, opt, pruned);
    Q8_CHECK_ARG(calibration::fingerprint(src.graph) == s.fingerprint,
                 "the calibration was made on another model (or with other prune options)");
    auto m = std::make_unique<q8_model>();
    m->graph = ptq::quantize(src.graph, opt, ptq::params(src.graph, s));
    *out = m.release();
  });
}

q8_status q8_calibration_activation_count(const q8_calibration *calib, size_t *count) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    Q8_CHECK_NOT_NULL(count);
    *count = s.names.size();
  });
}

q8_status q8_calibration_activation_name(const q8_calibration *calib, size_t index, const char **name) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    Q8_CHECK_NOT_NULL(name);
    Q8_CHECK_ARG(index < s.names.size(), "index " + std::to_string(index) + " is out of range (" +
                                             std::to_string(s.names.size()) + " activations)");
    *name = s.names[index].c_str();
  });
}

q8_status q8_calibration_ranges(const q8_calibration *calib, float *mins, float *maxs, size_t count) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    Q8_CHECK_NOT_NULL(mins);
    Q8_CHECK_NOT_NULL(maxs);
    check_count(s, count, "count");
    const float inf = std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < count; ++i) {
      const calibration::TensorStats &t = s.tensors[i];
      mins[i] = t.seen() ? t.min() : inf;
      maxs[i] = t.seen() ? t.max() : -inf;
    }
  });
}

q8_status q8_calibration_widen(q8_calibration *calib, const float *mins, const float *maxs, size_t count) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    Q8_CHECK_NOT_NULL(mins);
    Q8_CHECK_NOT_NULL(maxs);
    check_count(s, count, "count");
    s.require_mergeable("widen");
    const float inf = std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < count; ++i) {
      const bool nothing = mins[i] == inf && maxs[i] == -inf;
      Q8_CHECK_ARG(nothing || (std::isfinite(mins[i]) && std::isfinite(maxs[i]) && mins[i] <= maxs[i]),
                   "activation " + std::to_string(i) + " ('" + s.names[i] + "'): [" + std::to_string(mins[i]) + ", " +
                       std::to_string(maxs[i]) + "] is not a finite range with min <= max (nor +inf, -inf)");
    }
    for (size_t i = 0; i < count; ++i)
      if (!(mins[i] == inf && maxs[i] == -inf)) calib->stats.tensors[i].widen(mins[i], maxs[i]);
  });
}

q8_status q8_calibration_histogram_size(const q8_calibration *calib, size_t *size) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    Q8_CHECK_NOT_NULL(size);
    *size = s.slots() * s.names.size();
  });
}

q8_status q8_calibration_histograms(const q8_calibration *calib, uint64_t *counts, size_t size) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    check_size(s, size);
    if (size == 0) return;
    Q8_CHECK_NOT_NULL(counts);
    std::vector<double> slots(s.slots());
    for (size_t i = 0; i < s.names.size(); ++i) {
      s.tensors[i].histogram().get_slots(slots.data());
      for (size_t b = 0; b < slots.size(); ++b) counts[i * slots.size() + b] = uint64_t(slots[b]);
    }
  });
}

q8_status q8_calibration_set_histograms(q8_calibration *calib, const uint64_t *counts, size_t size) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    check_size(s, size);
    if (size == 0) return;
    Q8_CHECK_NOT_NULL(counts);
    const size_t n = s.slots();
    std::vector<calibration::TensorStats> next = s.tensors;  // unchanged on failure
    std::vector<double> slots(n);
    for (size_t i = 0; i < next.size(); ++i) {
      for (size_t b = 0; b < n; ++b) {
        const uint64_t c = counts[i * n + b];
        Q8_CHECK_ARG(c <= (uint64_t(1) << 53), "activation " + std::to_string(i) + " ('" + s.names[i] +
                                                   "'): count " + std::to_string(c) + " exceeds 2^53");
        slots[b] = double(c);
      }
      Q8_CHECK_ARG(next[i].histogram().set_slots(slots.data()),
                   "activation " + std::to_string(i) + " ('" + s.names[i] +
                       "'): counts lie in bins its range does not reach, or add up past 2^53 (widen the "
                       "ranges first: q8_calibration_widen)");
    }
    calib->stats.tensors = std::move(next);
  });
}

q8_status q8_calibration_save_bytes(const q8_calibration *calib, void **data, size_t *size) {
  return guard(__func__, [&] {
    const calibration::Statistics &s = stats_of(calib);
    Q8_CHECK_NOT_NULL(data);
    Q8_CHECK_NOT_NULL(size);
    const std::vector<uint8_t> bytes = calibration::save(s);
    *data = capi::caller_copy(bytes.data(), bytes.size());
    *size = bytes.size();
  });
}

q8_status q8_calibration_load_bytes(const void *data, size_t size, q8_calibration **out) {
  return guard(__func__, [&] {
    Q8_CHECK_ARG(data != nullptr || size == 0, "data is NULL");
    Q8_CHECK_NOT_NULL(out);
    auto c = std::make_unique<q8_calibration>();
    c->stats = calibration::load(static_cast<const uint8_t *>(data), size);
    *out = c.release();
  });
}

void q8_calibration_destroy(q8_calibration *calib) { delete calib; }

}  // extern "C"
