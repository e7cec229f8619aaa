// The runtime's per-layer choice between the dense GEMM and a sparse format. AUTO compares the
// weight's density with the crossover density below which each sparse kernel beat the dense
// packed GEMM in bench_sparse (docs/SPARSITY.md), and takes the format with the largest margin.
#include "sparse/choose.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace q8::sparse {
namespace {

q8_sparse_policy initial_policy() noexcept {
  const char *e = std::getenv("Q8_SPARSE");
  if (e && std::strcmp(e, "dense") == 0) return Q8_SPARSE_POLICY_DENSE;
  if (e && std::strcmp(e, "sparse") == 0) return Q8_SPARSE_POLICY_SPARSE;
  return Q8_SPARSE_POLICY_AUTO;
}

std::atomic<int> g_policy{initial_policy()};

// Crossover densities (fraction of nonzeros, or of nonzero 4x4 blocks) by activation rows M.
struct Crossover {
  int64_t max_m;    // applies to M <= max_m
  double csr;       // unstructured, CSR kernel
  double bitmap;    // unstructured, BITMAP kernel
  double bcsr4x4;   // 4x4 blocks
  double two_four;  // the 2:4 kernel's speed-up over dense (independent of density)
};
// bench_sparse, K = N = 4096, 1 thread, weights hot in cache (the conservative case: cold weights
// favour sparse further): BCSR 4x4 wins from 51 % zero blocks at M = 1, 61 % at M = 2-8, 35 % at
// M = 9-16, below 30 % beyond; CSR from 90 % at M = 16 and 82 % at M = 32, never at M <= 8; the
// bitmap and 2:4 kernels run at 0.6-1.0x dense hot (they win only cold, on bytes), so AUTO never
// takes them.
constexpr Crossover kCrossovers[] = {
    {1, 0.0, 0.0, 0.49, 0.78},
    {8, 0.0, 0.0, 0.39, 0.74},
    {16, 0.10, 0.0, 0.65, 0.62},
    {INT64_MAX, 0.18, 0.0, 0.70, 0.78},
};

const Crossover &crossover(int64_t m) {
  for (const Crossover &c : kCrossovers)
    if (m <= c.max_m) return c;
  return kCrossovers[sizeof kCrossovers / sizeof kCrossovers[0] - 1];
}

}  // namespace

Structure analyze(const int8_t *w, int64_t rows, int64_t cols) {
  Structure s;
  s.rows = rows;
  s.cols = cols;
  s.two_four = cols % 4 == 0 && cols > 0;
  for (int64_t i = 0; i < rows * cols; ++i) s.nonzeros += w[i] != 0;
  if (s.two_four)
    for (int64_t i = 0; i < rows * cols && s.two_four; i += 4)
      s.two_four = (w[i] != 0) + (w[i + 1] != 0) + (w[i + 2] != 0) + (w[i + 3] != 0) <= 2;
  if (rows % 4 == 0 && cols % 4 == 0) {
    s.blocks = (rows / 4) * (cols / 4);
    for (int64_t br = 0; br < rows; br += 4)
      for (int64_t bc = 0; bc < cols; bc += 4) {
        bool any = false;
        for (int64_t r = 0; r < 4 && !any; ++r)
          for (int64_t c = 0; c < 4; ++c) any |= w[(br + r) * cols + bc + c] != 0;
        s.nonzero_blocks += any;
      }
  }
  return s;
}

Choice choose(const Structure &s, int64_t m) {
  Choice c;
  const q8_sparse_policy p = policy();
  if (p == Q8_SPARSE_POLICY_DENSE || s.rows * s.cols == 0 || s.nonzeros == s.rows * s.cols) return c;
  const Crossover &x = crossover(m);
  // Each candidate's margin is its estimated speed-up over dense: crossover / density (the kernels'
  // time is close to proportional to density), > 1 faster than dense.
  double best = p == Q8_SPARSE_POLICY_SPARSE ? 0.0 : 1.0;
  auto consider = [&](double margin, q8_sparse_format f, int64_t br, int64_t bc) {
    if (margin > best) {
      best = margin;
      c = Choice{true, f, br, bc};
    }
  };
  const double d = s.density();
  if (s.two_four) consider(x.two_four, Q8_SPARSE_2_4, 1, 4);
  if (s.blocks) consider(x.bcsr4x4 / s.block_density(), Q8_SPARSE_BCSR, 4, 4);
  consider(x.csr / d, Q8_SPARSE_CSR, 1, 1);
  consider(x.bitmap / d, Q8_SPARSE_BITMAP, 1, 4);
  if (p == Q8_SPARSE_POLICY_SPARSE && !c.sparse) c = Choice{true, m >= 8 ? Q8_SPARSE_CSR : Q8_SPARSE_BITMAP, 1, 1};
  return c;
}

q8_sparse_policy policy() noexcept { return static_cast<q8_sparse_policy>(g_policy.load()); }
void set_policy(q8_sparse_policy p) { g_policy.store(int(p)); }

}  // namespace q8::sparse
