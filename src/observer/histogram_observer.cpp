// The histogram observers (percentile, entropy, MSE): one Histogram per channel, fed batch by
// batch; the range is searched on demand (range_search.cpp) and cached until the next batch.
#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/runtime.hpp"
#include "observer/histogram.hpp"
#include "observer/observer.hpp"
#include "observer/range_search.hpp"

namespace q8::observe {
namespace {

class HistogramObserver final : public Observer {
 public:
  explicit HistogramObserver(const q8_observer_options &o) : Observer(o) {}

 private:
  void start(std::size_t channels) override {
    const bool symmetric =
        options().scheme == Q8_SCHEME_SYMMETRIC_NARROW || options().scheme == Q8_SCHEME_SYMMETRIC;
    hist_.assign(channels, Histogram(options().bins, symmetric));
    cache_.assign(channels, Cached());
  }
  void clear() override {
    hist_.clear();
    cache_.clear();
  }
  void observe(std::size_t c, const float *x, std::size_t n) override {
    if (n == 0) return;
    hist_[c].add(x, n);
    cache_[c].valid = false;
  }

  Range range(std::size_t c) const override {
    // Callers ask channel by channel; searching all stale channels at once spreads them over
    // threads. Each channel's result is independent of the others, so of the thread count too.
    std::lock_guard<std::mutex> lock(mutex_);
    if (!cache_[c].valid) {
      parallel_for(cache_.size(), 1, 2, [&](std::size_t b, std::size_t e) {
        for (std::size_t k = b; k < e; ++k)
          if (!cache_[k].valid) cache_[k] = {true, histogram_range(hist_[k], options())};
      });
    }
    return cache_[c].range;
  }

  struct Cached {
    bool valid = false;
    Range range{0.0f, 0.0f};
  };
  std::vector<Histogram> hist_;
  mutable std::vector<Cached> cache_;
  mutable std::mutex mutex_;
};

}  // namespace

Range histogram_range(const Histogram &h, const q8_observer_options &options) {
  if (!h.spread()) return {0.0f, 0.0f};  // nothing seen, or only zeros
  Window w{};
  switch (options.kind) {
    case Q8_OBSERVER_PERCENTILE: w = percentile_window(h, options.scheme, options.percentile); break;
    case Q8_OBSERVER_ENTROPY: w = entropy_window(h, options.scheme); break;
    default: w = mse_window(h, options.scheme); break;
  }
  // The window clamped into the data's own range: finite, min <= max, never wider than the data
  // (a window can reach into the histogram's empty headroom, or past the data inside a bin).
  const double dmin = h.data_min(), dmax = h.data_max();
  return {float(std::clamp(w.lo, dmin, dmax)), float(std::clamp(std::max(w.hi, w.lo), dmin, dmax))};
}

std::unique_ptr<Observer> make_histogram_observer(const q8_observer_options &o) {
  if (o.bins < 128 || o.bins > 65536)
    fail(Q8_ERR_INVALID_ARGUMENT, "bins = " + std::to_string(o.bins) + " must be in [128, 65536]");
  if (o.kind == Q8_OBSERVER_PERCENTILE && !(o.percentile > 50.0 && o.percentile <= 100.0))
    fail(Q8_ERR_INVALID_ARGUMENT, "percentile = " + std::to_string(o.percentile) + " must be in (50, 100]");
  return std::make_unique<HistogramObserver>(o);
}

}  // namespace q8::observe
