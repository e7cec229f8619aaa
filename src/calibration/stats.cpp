#include "calibration/stats.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "observer/range_search.hpp"
#include "quant/params.hpp"

namespace q8::calibration {

namespace {
const char *kind_name(q8_observer_kind k) {
  switch (k) {
    case Q8_OBSERVER_MINMAX: return "MINMAX";
    case Q8_OBSERVER_MOVING_AVERAGE_MINMAX: return "MOVING_AVERAGE_MINMAX";
    case Q8_OBSERVER_PERCENTILE: return "PERCENTILE";
    case Q8_OBSERVER_ENTROPY: return "ENTROPY";
    case Q8_OBSERVER_MSE: return "MSE";
  }
  return "?";
}
}  // namespace

bool Settings::symmetric() const noexcept {
  return scheme == Q8_SCHEME_SYMMETRIC_NARROW || scheme == Q8_SCHEME_SYMMETRIC;
}

q8_observer_options Settings::observer_options() const {
  q8_observer_options o{};
  o.struct_size = sizeof o;
  o.kind = kind;
  o.scheme = scheme;
  o.axis = -1;
  o.averaging_constant = averaging;
  o.percentile = percentile;
  o.bins = bins;
  return o;
}

std::string Settings::difference(const Settings &o) const {
  if (kind != o.kind) return std::string("observer ") + kind_name(kind) + " vs " + kind_name(o.kind);
  if (scheme != o.scheme)
    return std::string("activation scheme ") + quant::scheme_name(scheme) + " vs " + quant::scheme_name(o.scheme);
  if (kind == Q8_OBSERVER_PERCENTILE && percentile != o.percentile)
    return "percentile " + std::to_string(percentile) + " vs " + std::to_string(o.percentile);
  if (histogram() && bins != o.bins) return "bins " + std::to_string(bins) + " vs " + std::to_string(o.bins);
  return {};
}

TensorStats::TensorStats(const Settings &s) : hist_(s.bins, s.symmetric()), histogram_(s.histogram()) {}

void TensorStats::add(const q8_tensor &batch, const Settings &s) {
  if (batch.dtype != Q8_DTYPE_F32) fail(Q8_ERR_DTYPE, "an activation to calibrate must be f32");
  // Infinities cannot set a finite range and NaN has none: observers skip both (observer.h).
  const float *x = static_cast<const float *>(batch.data);
  finite_.clear();
  for (std::size_t i = 0; i < batch.numel; ++i)
    if (std::isfinite(x[i])) finite_.push_back(x[i]);
  if (histogram_) hist_.add(finite_.data(), finite_.size());
  else mm_.add(finite_.data(), finite_.size(), s.kind == Q8_OBSERVER_MOVING_AVERAGE_MINMAX ? s.averaging : 0.0f);
}

void TensorStats::merge(const TensorStats &o) {
  if (histogram_) {
    hist_.merge(o.hist_);
  } else if (o.mm_.seen) {
    widen(o.mm_.min, o.mm_.max);
  }
}

void TensorStats::widen(float lo, float hi) {
  if (histogram_) {
    hist_.widen(lo, hi);
  } else if (!mm_.seen) {
    mm_ = {true, lo, hi};
  } else {
    mm_.min = std::min(mm_.min, lo);
    mm_.max = std::max(mm_.max, hi);
  }
}

bool TensorStats::seen() const noexcept { return histogram_ ? hist_.seen() : mm_.seen; }
float TensorStats::min() const noexcept { return histogram_ ? hist_.data_min() : mm_.min; }
float TensorStats::max() const noexcept { return histogram_ ? hist_.data_max() : mm_.max; }

observe::Range TensorStats::range(const Settings &s) const {
  if (!histogram_) return mm_.range();
  // Spread but without counts: only a range widened by hand (q8_calibration_widen) and never
  // given its counts; the data range is all there is.
  if (hist_.spread()) {
    bool any = false;
    for (double c : hist_.counts()) any = any || c != 0;
    if (!any) return {hist_.data_min(), hist_.data_max()};
  }
  return observe::histogram_range(hist_, s.observer_options());
}

void Statistics::require_mergeable(const char *what) const {
  if (settings.kind == Q8_OBSERVER_MOVING_AVERAGE_MINMAX)
    fail(Q8_ERR_UNSUPPORTED, std::string(what) + ": moving-average min-max depends on the order of the batches, so "
                                                 "its calibrations cannot be combined (use MINMAX or a histogram kind)");
}

void Statistics::merge(const Statistics &o) {
  require_mergeable("merge");
  const std::string diff = settings.difference(o.settings);
  if (!diff.empty()) fail(Q8_ERR_INVALID_ARGUMENT, "the calibrations were made with different options: " + diff);
  if (fingerprint != o.fingerprint || names != o.names)
    fail(Q8_ERR_INVALID_ARGUMENT, "the calibrations were made on different models (or with different prune options)");
  for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].merge(o.tensors[i]);
}

std::size_t Statistics::slots() const noexcept {
  return settings.histogram() ? (settings.symmetric() ? 2 * std::size_t(settings.bins) : settings.bins) : 0;
}

}  // namespace q8::calibration
