// Standalone aarch64 test of the NEON GEMM kernel, cross-built and run under qemu-aarch64 by
// run_neon_qemu.sh (the full library needs oneTBB and OpenBLAS, not available for arm64 here).
// It links the real src/gemm code -- pack_b, the driver's run() with its blocking and A packing,
// the scalar reference and kernels/neon.cpp -- over serial_shim.cpp, and checks that run() on the
// NEON path (and on the scalar path) gives exactly the reference's bytes: the edge shapes
// (M, N, K in 1 .. 129, a cross product with rotating variants), zero points 0, 1, 128, 255 and
// random (s8: 0, 1, -128, 127, random), per-tensor and per-column B zero points, both
// transposes, padded leading dimensions, every epilogue, plus shapes past the driver's blocks.
// Prints "neon gemm: N problems, N failures" and exits non-zero on any failure.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "gemm/gemm.hpp"
#include "serial_shim.hpp"

namespace {

using q8::gemm::AView;
using q8::gemm::Epilogue;
using q8::gemm::Packed;

struct Rng {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(s >> 33);
  }
};

const int64_t kEdge[] = {1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 129};
constexpr int kNEdge = sizeof kEdge / sizeof kEdge[0];

int g_problems = 0, g_failures = 0;

// Epilogue variant 0..7: S32, S32 + bias, FIXED u8/s8, FLOAT u8/s8, DEQUANTIZE, FIXED per tensor.
void make_epilogue(Epilogue &e, std::vector<int32_t> &bias, int variant, int64_t n, int64_t k,
                   Rng &r) {
  const size_t un = size_t(n);
  bias.assign(un, 0);
  for (auto &b : bias) b = int32_t(r.next() % 200001) - 100000;
  e = Epilogue();
  e.bias = variant == 0 ? nullptr : bias.data();
  const int32_t zp = int32_t(r.next() % 21) - 10;
  switch (variant) {
    case 0:
    case 1: e.kind = Q8_GEMM_EPILOGUE_S32; e.out = Q8_DTYPE_S32; return;
    case 2:
    case 3:
    case 7: {
      e.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED;
      e.out = variant == 2 ? Q8_DTYPE_U8 : Q8_DTYPE_S8;
      e.multiplier.resize(un);
      e.shift.resize(un);
      const int32_t m0 = int32_t((1u << 30) + r.next() % (1u << 30)), s0 = -int32_t(r.next() % 16);
      for (size_t j = 0; j < un; ++j) {
        e.multiplier[j] = variant == 7 ? m0 : int32_t((1u << 30) + r.next() % (1u << 30));
        e.shift[j] = variant == 7 ? s0 : int32_t(r.next() % 20) - 17 + (k > 64 ? 0 : 3);
      }
      break;
    }
    case 4:
    case 5:
    case 6: {
      e.kind = variant == 6 ? Q8_GEMM_EPILOGUE_DEQUANTIZE : Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT;
      e.out = variant == 4 ? Q8_DTYPE_U8 : variant == 5 ? Q8_DTYPE_S8 : Q8_DTYPE_F32;
      e.scale.resize(un);
      for (auto &s : e.scale) s = float(1 + r.next() % 1000) * 1e-6f * (k > 64 ? 0.25f : 1.0f);
      break;
    }
    default: break;
  }
  if (e.out == Q8_DTYPE_U8) {
    e.zero_point = zp + 128;
    e.qmin = variant == 2 ? e.zero_point : 0;  // ReLU on u8 FIXED
    e.qmax = 255;
  } else if (e.out == Q8_DTYPE_S8) {
    e.zero_point = zp;
    e.qmin = -128;
    e.qmax = variant == 5 ? zp + 60 : 127;  // a ReLU6-like upper clamp on s8 FLOAT
  }
}

void check(int64_t m, int64_t n, int64_t k, unsigned v, Rng &r) {
  const bool a_signed = v & 1, trans_a = (v >> 1) & 1, trans_b = (v >> 2) & 1;
  const int64_t pad = v % 3 == 0 ? 0 : int64_t(v % 5) + 1;
  const int64_t lda = (trans_a ? m : k) + pad, ldb = (trans_b ? k : n) + (v % 7 == 0 ? 3 : 0);
  const int zi = int(v / 3 % 5);
  const int32_t za_u8[] = {0, 1, 128, 255, int32_t(r.next() % 256)};
  const int32_t za_s8[] = {0, 1, -128, 127, int32_t(r.next() % 256) - 128};
  const int32_t za = a_signed ? za_s8[zi] : za_u8[zi];
  const int zm = int(v / 5 % 4);  // B zero points: none, per tensor, per column, per tensor extreme
  std::vector<int32_t> zb_given;
  const int32_t zb_vals[] = {0, 1, -128, 127, int32_t(r.next() % 256) - 128};
  if (zm == 1) zb_given.push_back(zb_vals[v / 7 % 5]);
  if (zm == 2)
    for (int64_t j = 0; j < n; ++j) zb_given.push_back(int32_t(r.next() % 256) - 128);
  if (zm == 3) zb_given.push_back(v & 8 ? -128 : 127);
  std::vector<int32_t> zb(size_t(n), 0);
  for (int64_t j = 0; j < n; ++j)
    zb[size_t(j)] = zb_given.empty() ? 0 : zb_given[zb_given.size() == 1 ? 0 : size_t(j)];

  std::vector<uint8_t> a(size_t((trans_a ? k : m) * lda) + 1);
  std::vector<int8_t> b(size_t((trans_b ? n : k) * ldb) + 1);
  for (auto &x : a) x = uint8_t(r.next());
  for (auto &x : b) x = int8_t(uint8_t(r.next()));
  if (v % 11 == 0) {  // extremes: 255 (or s8 127 / -128) against -128 / 127
    for (auto &x : a) x = uint8_t(a_signed ? (x & 1 ? 0x80 : 0x7F) : (x & 1 ? 0 : 255));
    for (auto &x : b) x = int8_t(x & 1 ? -128 : 127);
  }

  Epilogue e;
  std::vector<int32_t> bias;
  make_epilogue(e, bias, int(v / 2 % 8), n, k, r);
  const int64_t ldc = n + (v % 4 == 1 ? 5 : 0);
  const size_t es = q8_dtype_size(e.out);
  const size_t bytes = size_t(((m - 1) * ldc + n) * int64_t(es)) + 16;

  AView av;
  av.a = a.data();
  av.lda = lda;
  av.trans = trans_a;
  av.is_signed = a_signed;
  av.zero_point = za;

  std::vector<unsigned char> want(bytes, 0xA5), got(bytes);
  q8::gemm::reference(av, m, n, k, b.data(), ldb, trans_b, zb.data(), e, want.data(), ldc);
  Packed p;
  q8::gemm::pack_b(p, trans_b, k, n, b.data(), ldb, zb_given.empty() ? nullptr : zb_given.data(),
                   zb_given.size());
  for (q8_isa isa : {Q8_ISA_NEON, Q8_ISA_SCALAR}) {
    q8::shim_set_isa(isa);
    std::fill(got.begin(), got.end(), 0xA5);
    q8::gemm::run(av, m, p, e, got.data(), ldc);
    ++g_problems;
    if (got != want) {
      size_t at = 0;
      while (got[at] == want[at]) ++at;
      if (++g_failures <= 20)
        std::printf("FAIL isa=%s m=%lld n=%lld k=%lld variant=%u a_signed=%d trans_a=%d trans_b=%d "
                    "za=%d zb_mode=%d epilogue=%d: first difference at element %zu\n",
                    isa == Q8_ISA_NEON ? "neon" : "scalar", (long long)m, (long long)n,
                    (long long)k, v, int(a_signed), int(trans_a), int(trans_b), za, zm,
                    int(e.kind), at / es);
    }
  }
}

}  // namespace

int main() {
  Rng r{42};
  unsigned v = 0;
  // Every (M, N, K) of the edge list, the variant rotating signedness, transposes, padding, zero
  // points and epilogue from one problem to the next.
  for (int mi = 0; mi < kNEdge; ++mi)
    for (int ni = 0; ni < kNEdge; ++ni)
      for (int ki = 0; ki < kNEdge; ++ki) check(kEdge[mi], kEdge[ni], kEdge[ki], v++, r);
  // Every variant (signedness x transposes x padding x zero points x epilogues) on one shape.
  for (unsigned w = 0; w < 840; ++w) check(5, 37, 23, w, r);
  // Past the driver's K block (512), row block (96) and column block (256); K = 0.
  check(100, 290, 1030, 6, r);
  check(197, 65, 515, 9, r);
  check(13, 40, 2100, 11, r);
  for (unsigned w = 0; w < 8; ++w) check(4, 5, 0, w, r);
  std::printf("neon gemm (%s): %d problems, %d failures\n",
#if defined(__ARM_FEATURE_DOTPROD)
              "sdot",
#else
              "smlal",
#endif
              g_problems, g_failures);
  return g_failures == 0 ? 0 : 1;
}
