// Calibration statistics as a value: what observing a model's activations over some batches
// leaves behind, kept so that two such values combine into exactly the value of observing both
// sets of batches (min-max: the union's min and max; histogram kinds: counts on grids that depend
// only on the range, summed after both move onto the union's grid, src/observer/histogram.hpp).
// ptq::observe() fills one, ptq::params() turns it into activation parameters.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "observer/histogram.hpp"
#include "observer/observer.hpp"
#include "q8/model.h"

namespace q8::calibration {

// What shapes the statistics and the ranges chosen from them.
struct Settings {
  q8_observer_kind kind = Q8_OBSERVER_MINMAX;
  q8_scheme scheme = Q8_SCHEME_ASYMMETRIC_U8;
  double percentile = 99.99;  // used by Q8_OBSERVER_PERCENTILE only
  uint32_t bins = 2048;       // histogram kinds
  float averaging = 0.01f;    // Q8_OBSERVER_MOVING_AVERAGE_MINMAX

  bool histogram() const noexcept { return kind >= Q8_OBSERVER_PERCENTILE; }
  bool symmetric() const noexcept;
  q8_observer_options observer_options() const;
  // Empty when both observe and choose alike, else what differs ("observer MSE vs ENTROPY").
  std::string difference(const Settings &o) const;
};

// One activation: a running min/max (min-max kinds) or a histogram (the others).
class TensorStats {
 public:
  explicit TensorStats(const Settings &s);

  void add(const q8_tensor &batch, const Settings &s);  // one batch (f32); non-finite values skipped
  void merge(const TensorStats &o);
  void widen(float lo, float hi);                        // finite, lo <= hi

  bool seen() const noexcept;
  float min() const noexcept;
  float max() const noexcept;
  observe::Range range(const Settings &s) const;         // the range the observer kind chooses
  const observe::Histogram &histogram() const noexcept { return hist_; }
  observe::Histogram &histogram() noexcept { return hist_; }
  observe::MinMax &minmax() noexcept { return mm_; }

 private:
  observe::MinMax mm_;      // min-max kinds
  observe::Histogram hist_; // histogram kinds (keeps its own data min and max)
  bool histogram_;
  std::vector<float> finite_;
};

struct Statistics {
  Settings settings;
  uint64_t fingerprint = 0;          // of the FP32 graph observed (fingerprint.hpp)
  std::vector<std::string> names;    // activations, in a fixed order
  std::vector<TensorStats> tensors;  // one per name

  // The statistics of both data sets; Q8_ERR_INVALID_ARGUMENT naming what differs when the two
  // come from other models or settings, Q8_ERR_UNSUPPORTED for moving-average min-max (its result
  // depends on the order of the batches).
  void merge(const Statistics &o);
  // Histogram slots per activation (0 for min-max kinds).
  std::size_t slots() const noexcept;
  void require_mergeable(const char *what) const;  // Q8_ERR_UNSUPPORTED for moving average
};

}  // namespace q8::calibration

// The object behind the opaque q8_calibration handle.
struct q8_calibration {
  q8::calibration::Statistics stats;
};
