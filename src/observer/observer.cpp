#include "observer/observer.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "quant/params.hpp"

namespace q8::observe {

void Observer::update(const q8_tensor &batch) {
  if (batch.dtype != Q8_DTYPE_F32) fail(Q8_ERR_DTYPE, "batch must be f32");
  if (batch.numel == 0) return;
  const int32_t axis = options_.axis;
  std::size_t channels = 1, inner = batch.numel;
  if (axis >= 0) {
    if (static_cast<std::size_t>(axis) >= batch.rank)
      fail(Q8_ERR_SHAPE, "the observer's axis " + std::to_string(axis) + " does not exist in a batch of rank " +
                             std::to_string(batch.rank));
    channels = static_cast<std::size_t>(batch.shape[axis]);
    inner = batch.inner(axis);
  }
  if (channels_ != 0 && channels != channels_)
    fail(Q8_ERR_SHAPE, "the batch has " + std::to_string(channels) + " channels but earlier batches had " +
                           std::to_string(channels_));
  // Frozen (QAT): the batch was checked exactly as when live, so freezing never hides a bad call.
  if (frozen_) return;
  if (channels_ == 0) {
    start(channels);
    channels_ = channels;
  }
  // Gather each channel's finite values: the element at flat index i is in channel (i / inner) % C.
  const float *x = static_cast<const float *>(batch.data);
  const std::size_t blocks = batch.numel / inner;
  for (std::size_t c = 0; c < channels; ++c) {
    scratch_.clear();
    for (std::size_t k = c; k < blocks; k += channels)
      for (const float *p = x + k * inner, *e = p + inner; p != e; ++p)
        if (std::isfinite(*p)) scratch_.push_back(*p);
    observe(c, scratch_.data(), scratch_.size());
  }
}

void Observer::reset() {
  channels_ = 0;
  clear();
}

std::size_t Observer::channels() const {
  if (channels_ == 0) fail(Q8_ERR_STATE, "the observer has not seen any data yet");
  return channels_;
}

std::vector<Range> Observer::ranges() const {
  std::vector<Range> r(channels());
  for (std::size_t c = 0; c < r.size(); ++c) r[c] = range(c);
  return r;
}

void MinMax::add(const float *x, std::size_t n, float averaging) {
  if (n == 0) return;
  const auto mm = std::minmax_element(x, x + n);
  if (!seen) {
    *this = {true, *mm.first, *mm.second};
  } else if (averaging > 0) {
    min += averaging * (*mm.first - min);
    max += averaging * (*mm.second - max);
  } else {
    min = std::min(min, *mm.first);
    max = std::max(max, *mm.second);
  }
}

namespace {

// Running min and max; with averaging, an exponential moving average of each batch's min and max.
class MinMaxObserver final : public Observer {
 public:
  MinMaxObserver(const q8_observer_options &o, bool averaging) : Observer(o), averaging_(averaging) {}

 private:
  void start(std::size_t channels) override { state_.assign(channels, MinMax()); }
  void clear() override { state_.clear(); }
  void observe(std::size_t c, const float *x, std::size_t n) override {
    state_[c].add(x, n, averaging_ ? options().averaging_constant : 0.0f);
  }
  Range range(std::size_t c) const override { return state_[c].range(); }

  bool averaging_;
  std::vector<MinMax> state_;
};

}  // namespace

std::unique_ptr<Observer> make_observer(const q8_observer_options &o) {
  quant::scheme_dtype(o.scheme);  // validates the scheme
  if (o.axis < -1) fail(Q8_ERR_INVALID_ARGUMENT, "axis = " + std::to_string(o.axis) + " must be -1 or >= 0");
  switch (o.kind) {
    case Q8_OBSERVER_MINMAX: return std::make_unique<MinMaxObserver>(o, false);
    case Q8_OBSERVER_MOVING_AVERAGE_MINMAX:
      if (!(o.averaging_constant > 0.0f && o.averaging_constant <= 1.0f))
        fail(Q8_ERR_INVALID_ARGUMENT, "averaging_constant = " + std::to_string(o.averaging_constant) +
                                          " must be in (0, 1]");
      return std::make_unique<MinMaxObserver>(o, true);
    case Q8_OBSERVER_PERCENTILE:
    case Q8_OBSERVER_ENTROPY:
    case Q8_OBSERVER_MSE: return make_histogram_observer(o);
  }
  fail(Q8_ERR_INVALID_ARGUMENT, "kind = " + std::to_string(int(o.kind)) + " is not a q8_observer_kind");
}

}  // namespace q8::observe
