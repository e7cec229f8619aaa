#include "observer/histogram.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace q8::observe {

Histogram::Histogram(std::size_t bins, bool symmetric)
    : bins_(symmetric ? 2 * bins : bins), symmetric_(symmetric) {}

std::size_t Histogram::index(double x) const noexcept {
  const double last = double(counts_.size() - 1);
  if (symmetric_) {
    // Through |x|, so that x and -x land in mirrored bins whatever the rounding.
    const std::size_t half = counts_.size() / 2;
    const std::size_t j = std::size_t(std::min(std::floor(std::fabs(x) / w_), double(half - 1)));
    return x >= 0 ? half + j : half - 1 - j;
  }
  return std::size_t(std::min(std::max(std::floor((x - lo_) / w_), 0.0), last));
}

std::size_t Histogram::zero_bin() const noexcept { return index(0.0); }

void Histogram::add(const float *x, std::size_t n) {
  if (n == 0) return;
  const auto mm = std::minmax_element(x, x + n);
  min_ = seen_ ? std::min(min_, *mm.first) : *mm.first;
  max_ = seen_ ? std::max(max_, *mm.second) : *mm.second;
  seen_ = true;
  double need_lo, need_hi;
  if (symmetric_) {
    need_hi = std::max(-double(min_), double(max_));
    need_lo = -need_hi;
  } else {
    need_lo = std::min(double(min_), 0.0);
    need_hi = std::max(double(max_), 0.0);
  }
  if (counts_.empty()) {
    if (need_lo == need_hi) {  // only zeros so far: no width to bin them with yet
      zeros_ += double(n);
      return;
    }
    counts_.assign(bins_, 0.0);
    lo_ = need_lo;
    hi_ = need_hi;
    w_ = (need_hi - need_lo) / double(bins_);
    counts_[zero_bin()] += zeros_;
    zeros_ = 0;
  } else if (need_lo < lo_ || need_hi > hi_) {
    grow(need_lo, need_hi);
  }
  for (const float *p = x, *e = x + n; p != e; ++p) counts_[index(double(*p))] += 1.0;
}

// Widen to cover [need_lo, need_hi] with bins 2^k times as wide, new edges on old edges, so each
// old bin falls inside one new bin. Doubling (at least) leaves headroom: re-binning stays rare.
void Histogram::grow(double need_lo, double need_hi) {
  const double n = double(bins_);
  for (int k = 1; k < 4096; ++k) {
    const double ratio = std::ldexp(1.0, k);
    if (symmetric_) {
      if (hi_ * ratio < need_hi) continue;
      rebin(double(bins_ / 2) * (ratio - 1.0), ratio);  // [-a, a] grows about its centre
      lo_ *= ratio;
      hi_ *= ratio;
      w_ *= ratio;
      return;
    }
    const double lo = std::min(need_lo, lo_), hi = std::max(need_hi, hi_);
    const double total = n * w_ * ratio;
    if (total < hi - lo + w_) continue;
    // Headroom goes to the side(s) that grew; one old bin of it is kept for aligning the edge.
    const double extra = total - (hi - lo) - w_;
    const bool left = need_lo < lo_, right = need_hi > hi_;
    const double target = lo - (left && right ? extra / 2 : left ? extra : 0.0);
    const double m = std::ceil((lo_ - target) / w_);  // old bins added on the left
    const double new_lo = lo_ - m * w_;
    if (new_lo > lo || new_lo + total < hi) continue;  // rounding: try wider bins
    rebin(m, ratio);
    lo_ = new_lo;
    hi_ = new_lo + total;
    w_ *= ratio;
    return;
  }
  fail(Q8_ERR_INTERNAL, "histogram range cannot grow to cover the data");
}

// Old bin b covers [(offset + b) / ratio, (offset + b + 1) / ratio) in new-bin units; its count is
// spread over the new bins in proportion to the overlap (one new bin when the edges align).
void Histogram::rebin(double offset, double ratio) {
  const double n = double(counts_.size());
  std::vector<double> out(counts_.size(), 0.0);
  for (std::size_t b = 0; b < counts_.size(); ++b) {
    const double c = counts_[b];
    if (c == 0) continue;
    const double s = std::min(std::max((offset + double(b)) / ratio, 0.0), n);
    const double e = std::min(std::max((offset + double(b) + 1) / ratio, 0.0), n);
    if (e <= s) {
      out[std::size_t(std::min(s, n - 1))] += c;
      continue;
    }
    for (std::size_t j = std::size_t(s); j < counts_.size() && double(j) < e; ++j) {
      const double overlap = std::min(e, double(j + 1)) - std::max(s, double(j));
      if (overlap > 0) out[j] += c * (overlap / (e - s));
    }
  }
  counts_.swap(out);
}

std::vector<double> Histogram::folded() const {
  const std::size_t half = counts_.size() / 2;
  std::vector<double> f(half);
  for (std::size_t i = 0; i < half; ++i) f[i] = counts_[half + i] + counts_[half - 1 - i];
  return f;
}

}  // namespace q8::observe
