#include "observer/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/error.hpp"

namespace q8::observe {

namespace {

constexpr double kMaxCount = 9007199254740992.0;  // 2^53: counts above it stop being exact doubles

// floor(a / 2^k) for any int64 a (the index of a grid cell on a grid 2^k times as coarse).
int64_t floor_shift(int64_t a, int k) noexcept {
  if (k >= 63) return a < 0 ? -1 : 0;
  return a >= 0 ? a >> k : ~((~a) >> k);
}

// x / 2^e rounded down: exact, since dividing by a power of two only moves the exponent (no float
// value here gets near double's range limits).
double cell(double x, int e) noexcept { return std::floor(std::ldexp(x, -e)); }

}  // namespace

Histogram::Histogram(std::size_t bins, bool symmetric)
    : bins_(symmetric ? 2 * bins : bins), symmetric_(symmetric) {}

// The least power-of-two width that fits [min(min, 0), max(max, 0)] into the bins; the range must
// not be [0, 0].
Histogram::Grid Histogram::grid_for(float min, float max) const {
  const double lo = std::min(double(min), 0.0), hi = std::max(double(max), 0.0);
  const double a = std::max(-lo, hi), n = double(bins_);
  const auto fits = [&](int e) {
    return symmetric_ ? cell(a, e) + 1 <= n / 2 : cell(hi, e) - cell(lo, e) + 1 <= n;
  };
  int e = std::ilogb(hi - lo) - std::ilogb(n);  // a guess within a few steps of the answer
  while (!fits(e)) ++e;
  while (fits(e - 1)) --e;
  return Grid{e, symmetric_ ? 0 : int64_t(cell(lo, e))};
}

double Histogram::origin() const noexcept {
  return symmetric_ ? -std::ldexp(double(bins_ / 2), grid_.exp) : std::ldexp(double(grid_.first), grid_.exp);
}

double Histogram::width() const noexcept { return std::ldexp(1.0, grid_.exp); }

std::size_t Histogram::index(double x) const noexcept {
  const int64_t last = int64_t(counts_.size()) - 1;
  if (symmetric_) {
    // Through |x|, so that x and -x land in mirrored bins.
    const int64_t half = int64_t(counts_.size() / 2);
    const int64_t j = std::min(int64_t(cell(std::fabs(x), grid_.exp)), half - 1);
    return std::size_t(x >= 0 ? half + j : half - 1 - j);
  }
  return std::size_t(std::clamp(int64_t(cell(x, grid_.exp)) - grid_.first, int64_t(0), last));
}

std::size_t Histogram::zero_bin() const noexcept { return index(0.0); }

std::pair<std::size_t, std::size_t> Histogram::reach() const noexcept {
  return {index(std::min(min_, 0.0f)), index(std::max(max_, 0.0f)) + 1};
}

// Each old bin lies inside one bin of a grid at least as coarse: its count moves there whole.
void Histogram::move_to(const Grid &g) {
  const int k = g.exp - grid_.exp;
  if (k < 0) fail(Q8_ERR_INTERNAL, "histogram grid would get finer");
  const int64_t n = int64_t(counts_.size()), half = n / 2;
  std::vector<double> out(counts_.size(), 0.0);
  for (int64_t b = 0; b < n; ++b) {
    if (counts_[std::size_t(b)] == 0) continue;
    int64_t nb;
    if (symmetric_)
      nb = b >= half ? half + floor_shift(b - half, k) : half - 1 - floor_shift(half - 1 - b, k);
    else
      nb = floor_shift(grid_.first + b, k) - g.first;
    if (nb < 0 || nb >= n) fail(Q8_ERR_INTERNAL, "histogram re-binning left the grid");
    out[std::size_t(nb)] += counts_[std::size_t(b)];
  }
  counts_.swap(out);
  grid_ = g;
}

// Widen the data range to [min, max] (which holds the old one) and put the bins on its grid.
void Histogram::cover(float min, float max) {
  seen_ = true;
  min_ = min;
  max_ = max;
  if (!(min < 0 || max > 0)) return;  // only zeros so far: no width to bin them with yet
  const Grid g = grid_for(min, max);
  if (!spread()) {
    counts_.assign(bins_, 0.0);
    grid_ = g;
    counts_[zero_bin()] += zeros_;
    zeros_ = 0;
  } else if (g.exp != grid_.exp || g.first != grid_.first) {
    move_to(g);
  }
}

void Histogram::add(const float *x, std::size_t n) {
  if (n == 0) return;
  const auto mm = std::minmax_element(x, x + n);
  cover(seen_ ? std::min(min_, *mm.first) : *mm.first, seen_ ? std::max(max_, *mm.second) : *mm.second);
  if (!spread()) {
    zeros_ += double(n);
    return;
  }
  for (const float *p = x, *e = x + n; p != e; ++p) counts_[index(double(*p))] += 1.0;
}

void Histogram::merge(const Histogram &other) {
  if (other.bins_ != bins_ || other.symmetric_ != symmetric_)
    fail(Q8_ERR_INTERNAL, "merging histograms of different shapes");
  if (&other == this) {
    const Histogram copy(other);
    merge(copy);
    return;
  }
  if (!other.seen_) return;
  if (total() + other.total() > kMaxCount)
    fail(Q8_ERR_INVALID_ARGUMENT, "a merged histogram would count more than 2^53 values");
  widen(other.min_, other.max_);
  if (!other.spread()) {
    if (spread()) counts_[zero_bin()] += other.zeros_;
    else zeros_ += other.zeros_;
    return;
  }
  // Our grid is now at least as coarse as other's (it covers other's range with the same bins).
  Histogram moved(other);
  moved.move_to(grid_);
  for (std::size_t b = 0; b < counts_.size(); ++b) counts_[b] += moved.counts_[b];
}

void Histogram::widen(float lo, float hi) {
  cover(seen_ ? std::min(min_, lo) : lo, seen_ ? std::max(max_, hi) : hi);
}

double Histogram::total() const noexcept {
  double t = zeros_;
  for (double c : counts_) t += c;
  return t;
}

std::vector<double> Histogram::folded() const {
  const std::size_t half = counts_.size() / 2;
  std::vector<double> f(half);
  for (std::size_t i = 0; i < half; ++i) f[i] = counts_[half + i] + counts_[half - 1 - i];
  return f;
}

void Histogram::get_slots(double *out) const {
  if (spread()) {
    std::copy(counts_.begin(), counts_.end(), out);
    return;
  }
  std::fill(out, out + bins_, 0.0);
  out[0] = zeros_;
}

bool Histogram::set_slots(const double *in) {
  std::size_t lo = 0, hi = 0;  // where counts may be
  if (spread()) std::tie(lo, hi) = reach();
  else if (seen_) hi = 1;
  double total = 0;
  for (std::size_t b = 0; b < bins_; ++b) {
    const double c = in[b];
    if (!(c >= 0 && c <= kMaxCount && c == std::floor(c))) return false;
    if (c != 0 && (b < lo || b >= hi)) return false;
    total += c;
    if (total > kMaxCount) return false;
  }
  if (spread()) counts_.assign(in, in + bins_);
  else zeros_ = in[0];
  return true;
}

void Histogram::restore_range(bool seen, float min, float max) {
  seen_ = false;
  min_ = max_ = 0;
  zeros_ = 0;
  counts_.clear();
  grid_ = Grid{};
  if (seen) cover(min, max);
}

}  // namespace q8::observe
