// Magnitude masks: the four patterns on one tensor, and one ranking across tensors (global).
// Selection is exact (select.hpp): round(sparsity * count) pruned, ties to the earlier position.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "prune/prune.hpp"
#include "prune/select.hpp"

namespace q8::prune {
namespace {

// prune.h's 2-D view: rows = dimension 0, cols = the product of the others; rank 1 is one row.
struct View {
  uint64_t rows, cols, numel;
};

View view_of(const std::vector<int64_t> &shape, const std::string &what) {
  if (shape.empty()) fail(Q8_ERR_SHAPE, what + " has rank 0: pruning needs rank >= 1");
  View v;
  v.numel = checked_numel(shape.data(), shape.size(), sizeof(float), what.c_str());
  if (shape.size() == 1) {  // one row
    v.rows = 1;
    v.cols = v.numel;
  } else {
    v.rows = static_cast<uint64_t>(shape[0]);
    v.cols = checked_numel(shape.data() + 1, shape.size() - 1, sizeof(float), what.c_str());
  }
  return v;
}

void check_no_nan(const float *w, uint64_t n, const std::string &what) {
  for (uint64_t i = 0; i < n; ++i)
    if (std::isnan(w[i])) fail(Q8_ERR_INVALID_ARGUMENT, what + ": element " + std::to_string(i) + " is NaN");
}

// round() is half away from zero; min() only guards against rounding above the count.
uint64_t pruned_count(double sparsity, uint64_t count) {
  return std::min(count, static_cast<uint64_t>(std::round(sparsity * static_cast<double>(count))));
}

void unstructured(const float *w, uint64_t n, double sparsity, uint8_t *out) {
  const auto visit = [&](auto &&f) {
    for (uint64_t i = 0; i < n; ++i) f(magnitude_key(w[i]));
  };
  Cut<uint32_t> cut = smallest<uint32_t>(pruned_count(sparsity, n), visit);
  for (uint64_t i = 0; i < n; ++i) out[i] = !cut.take(magnitude_key(w[i]));
}

// Groups of m never straddle rows (cols is a multiple of m), so they are runs of the flat array.
void n_of_m(const float *w, uint64_t numel, int n, int m, uint8_t *out) {
  std::fill(out, out + numel, uint8_t(1));
  const int drop = m - n;
  if (drop == 0) return;
  uint32_t key[64];
  uint8_t order[64];
  const auto before = [&](uint8_t a, uint8_t b) { return key[a] < key[b] || (key[a] == key[b] && a < b); };
  for (uint64_t g = 0; g < numel; g += static_cast<uint64_t>(m)) {
    for (int j = 0; j < m; ++j) {
      key[j] = magnitude_key(w[g + j]);
      order[j] = static_cast<uint8_t>(j);
    }
    std::nth_element(order, order + drop - 1, order + m, before);
    for (int j = 0; j < drop; ++j) out[g + order[j]] = 0;
  }
}

// Blocks of br x bc scored by their norm, numbered row-major over the block grid (which is the
// storage order of their first elements); CHANNEL is the case of 1 x cols blocks.
void blocks(const float *w, const View &v, uint64_t br, uint64_t bc, double sparsity, q8_prune_norm norm,
            uint8_t *out) {
  const uint64_t grid_cols = v.cols / bc, count = v.rows / br * grid_cols;
  std::vector<double> score(count, 0.0);
  // Each block's terms are added in row-major order within the block.
  for (uint64_t r = 0; r < v.rows; ++r) {
    const float *row = w + r * v.cols;
    double *s = score.data() + r / br * grid_cols;
    for (uint64_t b = 0; b < grid_cols; ++b) {
      double acc = s[b];
      for (uint64_t c = b * bc; c < (b + 1) * bc; ++c) {
        const double x = row[c];
        acc += norm == Q8_PRUNE_NORM_L1 ? std::fabs(x) : x * x;
      }
      s[b] = acc;
    }
  }
  if (norm == Q8_PRUNE_NORM_L2)
    for (double &s : score) s = std::sqrt(s);
  const auto visit = [&](auto &&f) {
    for (double s : score) f(score_key(s));
  };
  Cut<uint64_t> cut = smallest<uint64_t>(pruned_count(sparsity, count), visit);
  std::vector<uint8_t> keep(count);
  for (uint64_t b = 0; b < count; ++b) keep[b] = !cut.take(score_key(score[b]));
  for (uint64_t r = 0; r < v.rows; ++r)
    for (uint64_t b = 0; b < grid_cols; ++b)
      std::fill(out + r * v.cols + b * bc, out + r * v.cols + (b + 1) * bc, keep[r / br * grid_cols + b]);
}

void check_multiple(uint64_t value, const char *value_name, uint64_t of, const char *of_name) {
  if (value % of != 0)
    fail(Q8_ERR_SHAPE, std::string(value_name) + " = " + std::to_string(value) + " is not a multiple of " +
                           of_name + " = " + std::to_string(of));
}

}  // namespace

std::vector<uint8_t> mask(const float *w, const std::vector<int64_t> &shape, const Options &o) {
  validate(o);
  const View v = view_of(shape, "weights");
  // The shape must fit the pattern even when it has no elements, so the answer does not depend on it.
  if (o.pattern == Q8_PRUNE_N_M) check_multiple(v.cols, "cols", static_cast<uint64_t>(o.m), "m");
  if (o.pattern == Q8_PRUNE_BLOCK) {
    check_multiple(v.rows, "rows", static_cast<uint64_t>(o.block_rows), "block_rows");
    check_multiple(v.cols, "cols", static_cast<uint64_t>(o.block_cols), "block_cols");
  }
  std::vector<uint8_t> out(v.numel);
  if (v.numel == 0) return out;
  if (!w) fail(Q8_ERR_INVALID_ARGUMENT, "weights' data is NULL");
  check_no_nan(w, v.numel, "weights");
  switch (o.pattern) {
    case Q8_PRUNE_UNSTRUCTURED: unstructured(w, v.numel, o.sparsity, out.data()); break;
    case Q8_PRUNE_N_M: n_of_m(w, v.numel, o.n, o.m, out.data()); break;
    case Q8_PRUNE_BLOCK:
      blocks(w, v, static_cast<uint64_t>(o.block_rows), static_cast<uint64_t>(o.block_cols), o.sparsity,
             o.norm, out.data());
      break;
    case Q8_PRUNE_CHANNEL: blocks(w, v, 1, v.cols, o.sparsity, o.norm, out.data()); break;
  }
  return out;
}

std::vector<std::vector<uint8_t>> global_masks(const std::vector<Weights> &weights, const Options &o) {
  validate(o);
  if (o.pattern != Q8_PRUNE_UNSTRUCTURED)
    fail(Q8_ERR_UNSUPPORTED, "pattern = " + std::to_string(static_cast<int>(o.pattern)) +
                                 ": global pruning ranks single elements, only Q8_PRUNE_UNSTRUCTURED");
  std::vector<uint64_t> sizes;
  uint64_t total = 0;
  for (std::size_t t = 0; t < weights.size(); ++t) {
    const std::string what = "weights[" + std::to_string(t) + "]";
    const uint64_t n = view_of(weights[t].shape, what).numel;
    if (n > 0 && !weights[t].data) fail(Q8_ERR_INVALID_ARGUMENT, what + "'s data is NULL");
    check_no_nan(weights[t].data, n, what);
    sizes.push_back(n);
    total += n;
  }
  // One sequence: tensor by tensor, each in storage order, which is the (tensor, position) tie rule.
  const auto visit = [&](auto &&f) {
    for (std::size_t t = 0; t < weights.size(); ++t)
      for (uint64_t i = 0; i < sizes[t]; ++i) f(magnitude_key(weights[t].data[i]));
  };
  Cut<uint32_t> cut = smallest<uint32_t>(pruned_count(o.sparsity, total), visit);
  std::vector<std::vector<uint8_t>> out(weights.size());
  for (std::size_t t = 0; t < weights.size(); ++t) {
    out[t].resize(sizes[t]);
    for (uint64_t i = 0; i < sizes[t]; ++i) out[t][i] = !cut.take(magnitude_key(weights[t].data[i]));
  }
  return out;
}

}  // namespace q8::prune
