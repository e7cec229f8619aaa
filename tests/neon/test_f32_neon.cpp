// Standalone aarch64 test of the ordered FP32 GEMM's NEON tiles, cross-built and run under
// qemu-aarch64 by run_neon_qemu.sh with the real src/gemm/f32 sources over serial_shim.cpp: the
// NEON path and the scalar path must both give exactly the oracle's bits -- one std::fma chain
// per element in k order, then alpha * sum and fma(beta, C, .) -- on edge shapes (M, N, K in
// 0 .. 65 and past the driver's 48 x 256 tasks), both transposes, padded leading dimensions,
// alpha/beta variants. Prints "neon f32: N problems, N failures"; exits non-zero on any failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "gemm/f32/ordered.hpp"
#include "serial_shim.hpp"

namespace {

struct Rng {
  uint64_t s;
  float next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return float(int32_t(s >> 40) - (1 << 23)) / float(1 << 22);
  }
};

int g_problems = 0, g_failures = 0;

void check(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t pad, float alpha, float beta, Rng &r) {
  const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  std::vector<float> a(size_t((ta ? k : m) * lda + 1)), b(size_t((tb ? n : k) * ldb + 1)), c0(size_t(m * ldc + 1));
  for (float &x : a) x = r.next();
  for (float &x : b) x = r.next();
  for (float &x : c0) x = r.next();
  std::vector<float> want = c0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float &cij = want[size_t(i * ldc + j)];
      if (k == 0) {
        cij = beta == 0.0f ? 0.0f : beta * cij;
        continue;
      }
      float acc = 0.0f;
      for (int64_t q = 0; q < k; ++q)
        acc = std::fma(ta ? a[size_t(q * lda + i)] : a[size_t(i * lda + q)], tb ? b[size_t(j * ldb + q)] : b[size_t(q * ldb + j)], acc);
      const float t = alpha * acc;
      cij = beta != 0.0f ? std::fma(beta, cij, t) : t;
    }
  for (q8_isa isa : {Q8_ISA_NEON, Q8_ISA_SCALAR}) {
    q8::shim_set_isa(isa);
    std::vector<float> got = c0;
    q8::gemm::f32::sgemm_ordered(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
    ++g_problems;
    if (std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) != 0) {
      ++g_failures;
      std::printf("FAIL %s ta %d tb %d m %lld n %lld k %lld pad %lld alpha %g beta %g\n",
                  isa == Q8_ISA_NEON ? "neon" : "scalar", int(ta), int(tb), (long long)m, (long long)n, (long long)k,
                  (long long)pad, double(alpha), double(beta));
    }
  }
}

}  // namespace

int main() {
  Rng r{7};
  const int64_t edge[] = {0, 1, 5, 6, 7, 15, 16, 17, 33, 63, 65};
  unsigned v = 0;
  for (int64_t m : edge)
    for (int64_t n : edge)
      for (int64_t k : {int64_t(0), int64_t(1), int64_t(7), int64_t(64), int64_t(65)}) {
        ++v;
        const float alpha = v % 3 == 0 ? 1.0f : -0.75f, beta = v % 4 == 0 ? 0.0f : v % 4 == 1 ? 1.0f : 0.5f;
        check(v % 2, (v / 2) % 2, m, n, k, int64_t(v % 3), alpha, beta, r);
      }
  check(false, true, 100, 300, 130, 1, 1.0f, 0.0f, r);  // past one task in both directions
  check(true, false, 49, 257, 40, 0, 0.5f, 1.0f, r);
  std::printf("neon f32: %d problems, %d failures\n", g_problems, g_failures);
  return g_failures == 0 ? 0 : 1;
}
