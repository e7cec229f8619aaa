#include "observer/range_search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "quant/kernels/reference.hpp"
#include "quant/params.hpp"

namespace q8::observe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool is_symmetric(q8_scheme s) { return s == Q8_SCHEME_SYMMETRIC_NARROW || s == Q8_SCHEME_SYMMETRIC; }

double total(const std::vector<double> &c) {
  double t = 0;
  for (double v : c) t += v;
  return t;
}

// First and one-past-last non-zero bin (a spread histogram has some).
std::pair<std::size_t, std::size_t> occupied(const std::vector<double> &c) {
  std::size_t first = 0, end = c.size();
  while (first < c.size() && c[first] == 0) ++first;
  while (end > first + 1 && c[end - 1] == 0) --end;
  return {first, end};
}

// The value below which `mass` of the counts lie, interpolated linearly inside its bin.
double quantile(const std::vector<double> &c, double origin, double width, double mass) {
  double cum = 0;
  std::size_t end = 0;
  for (std::size_t b = 0; b < c.size(); ++b) {
    if (c[b] == 0) continue;
    if (cum + c[b] >= mass) return origin + (double(b) + std::clamp((mass - cum) / c[b], 0.0, 1.0)) * width;
    cum += c[b];
    end = b + 1;
  }
  return origin + double(end) * width;  // `mass` beyond the total by rounding
}

// Windows [l, r) inside [l0, r0) that keep bin `keep` (holding 0) inside, since every scheme
// widens its range to include 0 anyway. Coordinate descent: scan every left edge for the current
// right edge, then every right edge for that left edge, until neither moves. (Greedy shrinking,
// one bin at a time from whichever side costs less, was tried: a sparse tail makes every step on
// its side look bad, so it clipped only the other side.)
template <class Cost>
std::pair<std::size_t, std::size_t> window_search(std::size_t l0, std::size_t r0, std::size_t keep,
                                                  std::size_t min_width, const Cost &cost) {
  std::size_t l = l0, r = r0;
  double best = cost(l, r);
  // Start from the best of a coarse grid, so the descent begins in the right basin.
  const std::size_t grid = 32;
  for (std::size_t i = 0; i <= grid; ++i)
    for (std::size_t j = 0; j <= grid; ++j) {
      const std::size_t a = l0 + (keep - l0) * i / grid, b = r0 - (r0 - keep - 1) * j / grid;
      if (b - a < min_width) continue;
      const double v = cost(a, b);
      if (v < best) {
        best = v;
        l = a;
        r = b;
      }
    }
  for (int pass = 0; pass < 16; ++pass) {
    bool moved = false;
    for (std::size_t a = l0; a <= keep && a + min_width <= r; ++a) {
      const double v = cost(a, r);
      if (v < best) {
        best = v;
        l = a;
        moved = true;
      }
    }
    for (std::size_t b = std::max(keep + 1, l + min_width); b <= r0; ++b) {
      const double v = cost(l, b);
      if (v < best) {
        best = v;
        r = b;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return {l, r};
}

double xlogx(double x) { return x > 0 ? x * std::log(x) : 0.0; }

// TensorRT's calibration divergence KL(P || Q) for a window [l, r) of bins. P is the window with
// the counts outside it added to its edge bins. Q merges the window's own counts (outliers left
// out, which is what makes clipping cost) into `levels` groups of near-equal width and spreads each
// group evenly over the bins where P is non-zero. Bins where P is zero contribute nothing, so no
// smoothing is needed. Prefix sums make a window O(levels).
class KlCost {
 public:
  KlCost(const std::vector<double> &c, std::size_t levels) : c_(c), levels_(levels) {
    sum_.assign(c.size() + 1, 0.0);
    plogp_.assign(c.size() + 1, 0.0);
    nonzero_.assign(c.size() + 1, 0.0);
    for (std::size_t b = 0; b < c.size(); ++b) {
      sum_[b + 1] = sum_[b] + c[b];
      plogp_[b + 1] = plogp_[b] + xlogx(c[b]);
      nonzero_[b + 1] = nonzero_[b] + (c[b] > 0 ? 1.0 : 0.0);
    }
  }

  double operator()(std::size_t l, std::size_t r) const {
    const double all = sum_.back(), kept = sum_[r] - sum_[l];
    if (!(kept > 0)) return kInf;
    const std::size_t width = r - l, groups = std::min(levels_, width);
    // With p = P / all and q = Q / kept: KL = (sum_P P log P - sum_g P_g log(Q_g / nz_g)) / all
    // + log(kept / all), where a group's Q mass Q_g sits evenly on its nz_g non-zero bins of P.
    double acc = 0;
    for (std::size_t g = 0; g < groups; ++g) {
      const std::size_t s = l + g * width / groups, e = l + (g + 1) * width / groups;
      const double q = sum_[e] - sum_[s];
      double p = q, plogp = plogp_[e] - plogp_[s], nz = nonzero_[e] - nonzero_[s];
      if (g == 0) add_outliers(c_[s], sum_[l], p, plogp, nz);
      if (g + 1 == groups) add_outliers(c_[e - 1], all - sum_[r], p, plogp, nz);
      if (nz == 0) continue;
      if (!(q > 0)) return kInf;  // P has mass where Q has none
      acc += plogp - p * std::log(q / nz);
    }
    return acc / all + std::log(kept / all);
  }

 private:
  static void add_outliers(double c, double extra, double &p, double &plogp, double &nz) {
    if (!(extra > 0)) return;
    plogp += xlogx(c + extra) - xlogx(c);
    p += extra;
    if (c == 0) nz += 1;
  }

  const std::vector<double> &c_;
  std::size_t levels_;
  std::vector<double> sum_, plogp_, nonzero_;
};

// Expected squared error of rounding the histogram's mass to the nearest of some ascending levels
// (in bin units, bin b = [b, b + 1)), mass spread uniformly inside each bin; mass beyond the end
// levels goes to them, so clipping error is included. Uniform bins rather than bin centres: with
// centres alone a quantization step narrower than a bin would look error-free. O(levels).
class SquaredError {
 public:
  explicit SquaredError(const std::vector<double> &c) : c_(c), n_(double(c.size())) {
    m0_.assign(c.size() + 1, 0.0);
    m1_.assign(c.size() + 1, 0.0);
    m2_.assign(c.size() + 1, 0.0);
    for (std::size_t b = 0; b < c.size(); ++b) {
      const double u = double(b) + 0.5;
      m0_[b + 1] = m0_[b] + c[b];
      m1_[b + 1] = m1_[b] + c[b] * u;
      m2_[b + 1] = m2_[b] + c[b] * (u * u + 1.0 / 12.0);
    }
  }

  double operator()(const double *levels, std::size_t count) const {
    double acc = 0;
    for (std::size_t q = 0; q < count; ++q) {
      const double a = q == 0 ? -kInf : 0.5 * (levels[q - 1] + levels[q]);
      const double e = q + 1 == count ? kInf : 0.5 * (levels[q] + levels[q + 1]);
      acc += span(a, e, levels[q]);
    }
    return acc;
  }

 private:
  // The mass of bin b that lies in [a, e), times its mean squared distance to v.
  double part(std::size_t b, double a, double e, double v) const {
    const double da = a - v, de = e - v;
    return c_[b] * (e - a) * (da * da + da * de + de * de) / 3.0;
  }
  double span(double a, double e, double v) const {
    a = std::max(a, 0.0);
    e = std::min(e, n_);
    if (!(a < e)) return 0.0;
    const std::size_t ba = std::size_t(a), be = std::size_t(e);
    if (ba == be) return part(ba, a, e, v);
    double s = part(ba, a, double(ba + 1), v);
    const std::size_t b0 = ba + 1;
    if (b0 < be)
      s += std::max(0.0, (m2_[be] - m2_[b0]) - 2.0 * v * (m1_[be] - m1_[b0]) + v * v * (m0_[be] - m0_[b0]));
    if (be < c_.size()) s += part(be, double(be), e, v);
    return s;
  }

  const std::vector<double> &c_;
  double n_;
  std::vector<double> m0_, m1_, m2_;
};

// The dequantized levels that quantize can produce for the range [lo, hi] (the scheme's real scale
// and zero point), in bin units of a histogram. False when the range has no finite f32 scale.
struct Levels {
  double u[256];
  std::size_t count;
};

bool scheme_levels(q8_scheme scheme, double lo, double hi, double origin, double width, Levels &out) {
  const float flo = float(lo), fhi = float(hi);
  if (!std::isfinite(flo) || !std::isfinite(fhi)) return false;
  if (!is_symmetric(scheme) && !std::isfinite(fhi - flo)) return false;
  const quant::Affine a = quant::qparams_from_range(scheme, flo, fhi);
  // quantize saturates to the dtype's full range whatever the scheme (docs/NUMERICS.md): the narrow
  // scheme's scale, but -128 is still reachable below the range.
  const int32_t qmin = quant::scheme_dtype(scheme) == Q8_DTYPE_U8 ? 0 : -128, qmax = qmin + 255;
  out.count = 0;
  for (int32_t q = qmin; q <= qmax; ++q)
    out.u[out.count++] = (double(quant::dequantize_one(q, a.scale, a.zero_point)) - origin) / width;
  return true;
}

// Symmetric thresholds: the candidate i (in bins of |x|) in [first, end] of least cost.
template <class Cost>
std::size_t best_threshold(std::size_t first, std::size_t end, const Cost &cost) {
  std::size_t best_i = end;
  double best = kInf;
  for (std::size_t i = end; i >= std::max<std::size_t>(first, 1); --i) {  // ties: the wider
    const double v = cost(i);
    if (v < best) {
      best = v;
      best_i = i;
    }
  }
  return best_i;
}

}  // namespace

Window percentile_window(const Histogram &h, q8_scheme scheme, double percentile) {
  if (is_symmetric(scheme)) {
    const std::vector<double> f = h.folded();
    const double t = quantile(f, 0.0, h.width(), total(f) * percentile / 100.0);
    return {-t, t};
  }
  const std::vector<double> &c = h.counts();
  const double all = total(c);
  return {quantile(c, h.origin(), h.width(), all * (100.0 - percentile) / 100.0),
          quantile(c, h.origin(), h.width(), all * percentile / 100.0)};
}

Window entropy_window(const Histogram &h, q8_scheme scheme) {
  if (is_symmetric(scheme)) {
    // TensorRT: 128 levels for |x| (0..127), thresholds from 128 bins up to the data's end.
    const std::vector<double> f = h.folded();
    const std::size_t end = occupied(f).second;
    const KlCost kl(f, 128);
    const double t = double(best_threshold(std::min<std::size_t>(128, end), end,
                                           [&](std::size_t i) { return kl(0, i); })) * h.width();
    return {-t, t};
  }
  const std::vector<double> &c = h.counts();
  const auto [first, end] = occupied(c);
  const std::size_t zero = h.zero_bin(), l = std::min(first, zero), r = std::max(end, zero + 1);
  const KlCost kl(c, 256);
  const auto [bl, br] = window_search(l, r, zero, std::max<std::size_t>(2, std::min<std::size_t>(256, r - l)), kl);
  return {h.origin() + double(bl) * h.width(), h.origin() + double(br) * h.width()};
}

Window mse_window(const Histogram &h, q8_scheme scheme) {
  const SquaredError err(h.counts());
  Levels lv;
  const auto cost = [&](double lo, double hi) {
    return scheme_levels(scheme, lo, hi, h.origin(), h.width(), lv) ? err(lv.u, lv.count) : kInf;
  };
  if (is_symmetric(scheme)) {
    // On the signed histogram, not |x|: s8 has one more level below 0 than above.
    const std::size_t end = occupied(h.folded()).second;
    const double t = double(best_threshold(1, end, [&](std::size_t i) {
                       const double ti = double(i) * h.width();
                       return cost(-ti, ti);
                     })) * h.width();
    return {-t, t};
  }
  const std::vector<double> &c = h.counts();
  const auto [first, end] = occupied(c);
  const std::size_t zero = h.zero_bin(), l = std::min(first, zero), r = std::max(end, zero + 1);
  const auto [bl, br] = window_search(l, r, zero, 1, [&](std::size_t a, std::size_t b) {
    return cost(h.origin() + double(a) * h.width(), h.origin() + double(b) * h.width());
  });
  return {h.origin() + double(bl) * h.width(), h.origin() + double(br) * h.width()};
}

}  // namespace q8::observe
