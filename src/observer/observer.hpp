// Calibration observers. The base class validates batches, splits them by channel and drops
// non-finite values; each kind only sees finite floats of one channel at a time.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "core/tensor.hpp"
#include "q8/observer.h"

namespace q8::observe {

struct Range {
  float min, max;
};

// One channel's running min and max of finite values, or with `averaging` in (0, 1] an exponential
// moving average of each batch's min and max (0: no averaging). Min-max observers keep one per
// channel, and so do calibrations (src/calibration), so both compute the same range.
struct MinMax {
  bool seen = false;
  float min = 0, max = 0;
  void add(const float *x, std::size_t n, float averaging);  // one batch's finite values
  Range range() const noexcept { return seen ? Range{min, max} : Range{0.0f, 0.0f}; }
};

class Observer {
 public:
  explicit Observer(const q8_observer_options &options) : options_(options) {}
  virtual ~Observer() = default;

  // While frozen, update() still validates its batch but changes nothing; reset() keeps the flag.
  void update(const q8_tensor &batch);
  void reset();
  void set_frozen(bool frozen) noexcept { frozen_ = frozen; }
  bool frozen() const noexcept { return frozen_; }
  bool empty() const noexcept { return channels_ == 0; }
  std::size_t channels() const;  // throws Q8_ERR_STATE before the first non-empty batch
  std::vector<Range> ranges() const;
  const q8_observer_options &options() const noexcept { return options_; }

 protected:
  // Called once, at the first non-empty batch, with the channel count.
  virtual void start(std::size_t channels) = 0;
  // One batch's finite values of one channel (n may be 0 if all were NaN/Inf).
  virtual void observe(std::size_t channel, const float *x, std::size_t n) = 0;
  // The chosen range of a channel; min <= max, both finite.
  virtual Range range(std::size_t channel) const = 0;
  virtual void clear() = 0;

 private:
  q8_observer_options options_;
  std::size_t channels_ = 0;
  bool frozen_ = false;
  std::vector<float> scratch_;
};

// Validates options (kind, scheme, per-kind fields) and builds the observer.
std::unique_ptr<Observer> make_observer(const q8_observer_options &options);

// The histogram-based kinds (percentile, entropy, MSE), in histogram_observer.cpp.
std::unique_ptr<Observer> make_histogram_observer(const q8_observer_options &options);

}  // namespace q8::observe

struct q8_observer {
  std::unique_ptr<q8::observe::Observer> impl;
};
