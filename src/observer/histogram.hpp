// One channel's histogram for the calibration observers. Its bins lie on a grid that depends only
// on the range of the values seen, never on the order they came in: bin width a power of two
// 2^e (the least that fits the range into the bins), bin edges on multiples of it. A wider range
// only ever needs a coarser grid whose bins are unions of the old ones, so growing, merging two
// histograms and feeding the same values in any batches all give the same counts, exactly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace q8::observe {

class Histogram {
 public:
  // `symmetric`: 2 * `bins` bins over [-a, a), a = bins * 2^e, 0 on the middle edge; values go in
  // through |x|, so that x and -x land in mirrored bins and |x| folds exactly into `bins` bins
  // (TensorRT's |x| histogram). Otherwise `bins` bins from the one holding min(data min, 0)
  // upwards, covering max(data max, 0), because every scheme widens its range to include 0 anyway.
  Histogram(std::size_t bins, bool symmetric);

  void add(const float *x, std::size_t n);  // finite values only
  // Adds the counts of `other` (same bins and symmetry): the histogram of both data sets.
  // Q8_ERR_INVALID_ARGUMENT if the total would pass 2^53 (counts stop being exact).
  void merge(const Histogram &other);
  // Moves onto the grid of the data range widened to cover [lo, hi] (finite, lo <= hi), adding no
  // count: what a histogram that has seen values at lo and hi would have besides its own counts.
  void widen(float lo, float hi);

  bool symmetric() const noexcept { return symmetric_; }
  std::size_t slots() const noexcept { return bins_; }       // counts when spread: bins or 2 * bins
  bool seen() const noexcept { return seen_; }               // any value so far
  bool spread() const noexcept { return !counts_.empty(); }  // a range other than [0, 0] so far
  float data_min() const noexcept { return min_; }
  float data_max() const noexcept { return max_; }
  double zeros() const noexcept { return zeros_; }  // values (all 0) seen while not spread
  double total() const noexcept;                     // values counted

  // Valid when spread(): bin b covers [origin + b * width, origin + (b + 1) * width).
  double origin() const noexcept;
  double width() const noexcept;
  std::size_t size() const noexcept { return counts_.size(); }
  const std::vector<double> &counts() const noexcept { return counts_; }
  // Symmetric only: the histogram of |x|, `bins` bins over [0, a).
  std::vector<double> folded() const;
  // The bin that holds 0.
  std::size_t zero_bin() const noexcept;

  // The counts as `slots()` values: the bins when spread, else the zeros in slot 0. False (and no
  // change) unless every count is an integer in [0, 2^53] and lies in a bin that the data range
  // reaches (slot 0 when not spread; nothing while nothing was seen).
  void get_slots(double *out) const;
  bool set_slots(const double *in);
  // State as saved: a histogram that has seen values in [min, max] (seen false: nothing), its
  // counts then set with set_slots.
  void restore_range(bool seen, float min, float max);

 private:
  struct Grid {
    int exp = 0;        // bin width 2^exp
    int64_t first = 0;  // asymmetric: grid index of bin 0 (bin b holds x with floor(x / 2^exp) = first + b)
  };
  Grid grid_for(float min, float max) const;
  void cover(float min, float max);  // the data range becomes [min, max], which holds the old one
  void move_to(const Grid &g);       // re-bin onto a grid at least as coarse
  std::size_t index(double x) const noexcept;
  // Bins [lo, hi) that the data range reaches (where counts may be).
  std::pair<std::size_t, std::size_t> reach() const noexcept;

  std::size_t bins_;
  bool symmetric_;
  bool seen_ = false;
  float min_ = 0, max_ = 0;
  double zeros_ = 0;
  Grid grid_;
  std::vector<double> counts_;  // exact integers below 2^53
};

}  // namespace q8::observe
