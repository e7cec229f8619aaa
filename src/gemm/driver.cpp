// The GEMM driver: zero-point terms, blocking, A packing and parallelism around the per-ISA
// micro-kernels, plus the scalar kernel table and the dispatcher.
//
// Work is cut into tasks of kMB rows x kNB columns of C. A task owns its block of C over the whole
// of K, so no two threads ever add into the same element and integer results cannot depend on the
// thread count or the order tasks run in. Inside a task, K is walked in kKC blocks: the block of A
// (kMB x kKC bytes) stays in L2, one 32-column panel slice of B (kKC x 32 bytes) stays in L1 while
// every kMR-row strip of A runs over it, and the int32 accumulators of the block live in a
// thread-local buffer until the epilogue turns each finished row into C.
#include <algorithm>
#include <vector>

#include "core/runtime.hpp"
#include "gemm/epilogue_impl.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {
namespace {

void micro_scalar(int rows, int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
                  int64_t ldacc, bool accumulate) {
  for (int r = 0; r < rows; ++r) {
    uint32_t s[kNR];
    for (int j = 0; j < kNR; ++j) s[j] = accumulate ? uint32_t(acc[r * ldacc + j]) : 0u;
    const uint8_t *ar = a + r * lda;
    for (int64_t g = 0; g < kg; ++g) {
      const int8_t *bg = b + g * 4 * kNR;
      for (int j = 0; j < kNR; ++j)
        for (int q = 0; q < 4; ++q)
          s[j] += uint32_t(ar[4 * g + q]) * uint32_t(int32_t(bg[4 * j + q]));
    }
    for (int j = 0; j < kNR; ++j) acc[r * ldacc + j] = int32_t(s[j]);
  }
}

// Below this many multiply-adds a call runs on the calling thread.
constexpr int64_t kInlineOps = int64_t(1) << 21;

struct Scratch {
  std::vector<int32_t> acc;   // kMB x kNB accumulators
  std::vector<uint8_t> apack; // kMB x kKC bytes of A, as u8, zero-padded to whole groups
};

Scratch &scratch() {
  thread_local Scratch s;
  if (s.acc.empty()) {
    s.acc.resize(size_t(kMB * kNB));
    s.apack.resize(size_t(kMB * kKC));
  }
  return s;
}

inline uint8_t a_at(const AView &a, int64_t i, int64_t q) {
  return a.trans ? a.a[q * a.lda + i] : a.a[i * a.lda + q];
}

}  // namespace

void copy_a_block(const AView &a, int64_t m0, int64_t rows, int64_t k0, int64_t kc, uint8_t *dst,
                  int64_t ldd) {
  const uint8_t flip = a.is_signed ? 0x80 : 0x00;  // s8 -> u8: a + 128 is a ^ 0x80
  if (a.trans) {
    for (int64_t q = 0; q < kc; ++q) {
      const uint8_t *src = a.a + (k0 + q) * a.lda + m0;
      for (int64_t r = 0; r < rows; ++r) dst[r * ldd + q] = src[r] ^ flip;
    }
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t *src = a.a + (m0 + r) * a.lda + k0;
      for (int64_t q = 0; q < kc; ++q) dst[r * ldd + q] = src[q] ^ flip;
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = kc; q < ldd; ++q) dst[r * ldd + q] = 0;
}

const Kernels kScalarKernels = {micro_scalar, epilogue_row_impl, nullptr};

#if defined(__x86_64__)
extern const Kernels kAvx2Kernels;  // kernels/avx2.cpp: exact without VNNI
#elif defined(__aarch64__)
extern const Kernels kNeonKernels;  // kernels/neon.cpp
#endif

const Kernels &active_kernels() noexcept {
#if defined(__x86_64__)
  const q8_isa isa = active_isa();
  if (isa == Q8_ISA_AVX512_VNNI) return kVnniKernels;
  if (isa == Q8_ISA_AVX2 || isa == Q8_ISA_AVX512) return kAvx2Kernels;
#elif defined(__aarch64__)
  if (active_isa() == Q8_ISA_NEON) return kNeonKernels;
#endif
  return kScalarKernels;
}

void run(const AView &a, int64_t m, const Packed &b, const Epilogue &e, void *c, int64_t ldc) {
  const int64_t n = b.n, k = b.k;
  if (m == 0 || n == 0) return;
  const Kernels &kern = active_kernels();
  const uint8_t flip = a.is_signed ? 0x80 : 0x00;  // s8 -> u8: a + 128 is a ^ 0x80
  const uint32_t za = uint32_t(a.zero_point + (a.is_signed ? 128 : 0));
  const bool small = double(m) * double(n) * double(std::max<int64_t>(k, 1)) < double(kInlineOps);

  std::vector<uint32_t> colterm(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j)
    colterm[size_t(j)] = uint32_t(k) * za * uint32_t(b.zb[size_t(j)]) - za * uint32_t(b.colsum[size_t(j)]) +
                         (e.bias ? uint32_t(e.bias[j]) : 0u);
  std::vector<uint32_t> rowsum(size_t(m), 0u);
  if (!b.zb_all_zero) {
    parallel_for(size_t(m), 64, small ? SIZE_MAX : 2, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        uint32_t s = 0;
        for (int64_t q = 0; q < k; ++q) s += uint32_t(a_at(a, int64_t(i), q) ^ flip);
        rowsum[i] = s;
      }
    });
  }
  EpilogueArgs args;
  args.e = &e;
  args.colterm = colterm.data();
  args.zb = b.zb.data();
  const size_t out_size = q8_dtype_size(e.out);
  if (kern.run) {
    RunArgs ra;
    ra.a = &a;
    ra.m = m;
    ra.b = &b;
    ra.ep = args;
    ra.rowsum = rowsum.data();
    ra.c = c;
    ra.ldc = ldc;
    ra.out_size = out_size;
    ra.small = small;
    kern.run(ra);
    return;
  }

  const int64_t mblocks = (m + kMB - 1) / kMB, nblocks = (n + kNB - 1) / kNB;
  parallel_for(size_t(mblocks * nblocks), 1, small ? SIZE_MAX : 2, [&](size_t t0, size_t t1) {
    Scratch &s = scratch();
    for (size_t t = t0; t < t1; ++t) {
      const int64_t m0 = int64_t(t) / nblocks * kMB, n0 = int64_t(t) % nblocks * kNB;
      const int64_t rows = std::min(kMB, m - m0), cols = std::min(kNB, n - n0);
      const int64_t panels = (cols + kNR - 1) / kNR, ldacc = panels * kNR;
      int32_t *acc = s.acc.data();
      for (int64_t k0 = 0; k0 == 0 || k0 < k; k0 += kKC) {
        const int64_t kc = std::min(kKC, k - k0), kgc = (kc + 3) / 4;
        // u8 rows with whole groups are read in place; s8, transposed A and a K tail are copied
        // (as u8, zero-padded) into the task's buffer.
        const bool direct = !a.is_signed && !a.trans && kc > 0 && kc % 4 == 0;
        const uint8_t *ap;
        int64_t ldap;
        if (direct) {
          ap = a.a + m0 * a.lda + k0;
          ldap = a.lda;
        } else {
          ldap = kgc * 4;
          copy_a_block(a, m0, rows, k0, kc, s.apack.data(), ldap);
          ap = s.apack.data();
        }
        for (int64_t p = 0; p < panels; ++p) {
          const int8_t *bp = b.data + ((n0 / kNR + p) * b.kg + k0 / 4) * 4 * kNR;
          for (int64_t r0 = 0; r0 < rows; r0 += kMR)
            kern.micro(int(std::min<int64_t>(kMR, rows - r0)), kgc, ap + r0 * ldap, ldap, bp,
                       acc + r0 * ldacc + p * kNR, ldacc, k0 > 0);
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        kern.epilogue_row(args, acc + r * ldacc, cols, n0, rowsum[size_t(m0 + r)],
                          static_cast<unsigned char *>(c) + (size_t(m0 + r) * size_t(ldc) + size_t(n0)) * out_size);
    }
  });
}

}  // namespace q8::gemm
