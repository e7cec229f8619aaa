// How the histogram observers choose a range from a channel's histogram (docs/CALIBRATION.md).
// Each returns a window in real units; the observer clips the channel's data range to it.
#pragma once
#include "observer/histogram.hpp"
#include "observer/observer.hpp"
#include "q8/quant.h"

namespace q8::observe {

struct Window {
  double lo, hi;
};

// The histogram must be spread(). Symmetric schemes get windows [-t, t].
Window percentile_window(const Histogram &h, q8_scheme scheme, double percentile);
Window entropy_window(const Histogram &h, q8_scheme scheme);
Window mse_window(const Histogram &h, q8_scheme scheme);

// The range a histogram observer of `options.kind` chooses: its window clamped into the data's own
// range ([0, 0] when nothing but zeros was seen).
Range histogram_range(const Histogram &h, const q8_observer_options &options);

}  // namespace q8::observe
