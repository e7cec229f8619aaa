// One channel's histogram for the calibration observers. It covers the values seen so far and
// grows (by power-of-two bin widths, so old bins merge exactly) when a batch falls outside it.
#pragma once
#include <cstddef>
#include <vector>

namespace q8::observe {

class Histogram {
 public:
  // `symmetric`: the range is [-a, a] in 2 * `bins` bins with 0 on the middle edge, so that x and
  // -x land in mirrored bins and |x| folds exactly into `bins` bins (TensorRT's |x| histogram).
  // Otherwise `bins` bins over [lo, hi] with lo <= 0 <= hi, because every scheme widens its range
  // to include 0 anyway.
  Histogram(std::size_t bins, bool symmetric);

  void add(const float *x, std::size_t n);  // finite values only

  bool seen() const noexcept { return seen_; }             // any value so far
  bool spread() const noexcept { return !counts_.empty(); }  // a value other than 0 so far
  float data_min() const noexcept { return min_; }
  float data_max() const noexcept { return max_; }

  // Valid when spread(): bin b covers [origin + b * width, origin + (b + 1) * width).
  double origin() const noexcept { return lo_; }
  double width() const noexcept { return w_; }
  std::size_t size() const noexcept { return counts_.size(); }
  const std::vector<double> &counts() const noexcept { return counts_; }
  // Symmetric only: the histogram of |x|, `bins` bins over [0, a).
  std::vector<double> folded() const;
  // The bin that holds 0.
  std::size_t zero_bin() const noexcept;

 private:
  void grow(double need_lo, double need_hi);
  void rebin(double offset, double ratio);
  std::size_t index(double x) const noexcept;

  std::size_t bins_;
  bool symmetric_;
  bool seen_ = false;
  float min_ = 0, max_ = 0;
  double zeros_ = 0;  // zeros seen before the histogram had a width
  double lo_ = 0, hi_ = 0, w_ = 0;  // hi_ kept, not recomputed: growth must not hinge on rounding
  std::vector<double> counts_;  // double: re-binning may split a count
};

}  // namespace q8::observe
