// AVX-512 VNNI micro-kernel: rows x 32 int32 accumulators (two zmm per row, up to 12 rows = 24
// registers), one vpdpbusd per zmm per group of 4 K. A's 4 bytes of a row are broadcast (u8, the
// unsigned operand of vpdpbusd), B's packed panel supplies 64 signed bytes per zmm. vpdpbusd
// (not the saturating vpdpbusds) adds the four u8 x s8 products exactly and wraps the int32 sum,
// which is the modulo-2^32 arithmetic the numerics define.
#include <immintrin.h>

#include <cstring>

#include "gemm/epilogue_impl.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {
namespace {

inline int32_t load_u32(const uint8_t *p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int R>
void micro_rows(int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
                int64_t ldacc, bool accumulate) {
  __m512i c0[R], c1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    c0[r] = accumulate ? _mm512_loadu_si512(acc + r * ldacc) : _mm512_setzero_si512();
    c1[r] = accumulate ? _mm512_loadu_si512(acc + r * ldacc + 16) : _mm512_setzero_si512();
  }
  for (int64_t g = 0; g < kg; ++g) {
    const __m512i b0 = _mm512_load_si512(b + g * 4 * kNR);
    const __m512i b1 = _mm512_load_si512(b + g * 4 * kNR + 64);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512i av = _mm512_set1_epi32(load_u32(a + r * lda + 4 * g));
      c0[r] = _mm512_dpbusd_epi32(c0[r], av, b0);
      c1[r] = _mm512_dpbusd_epi32(c1[r], av, b1);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_si512(acc + r * ldacc, c0[r]);
    _mm512_storeu_si512(acc + r * ldacc + 16, c1[r]);
  }
}

void micro_vnni(int rows, int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
                int64_t ldacc, bool accumulate) {
  switch (rows) {
    case 1: return micro_rows<1>(kg, a, lda, b, acc, ldacc, accumulate);
    case 2: return micro_rows<2>(kg, a, lda, b, acc, ldacc, accumulate);
    case 3: return micro_rows<3>(kg, a, lda, b, acc, ldacc, accumulate);
    case 4: return micro_rows<4>(kg, a, lda, b, acc, ldacc, accumulate);
    case 5: return micro_rows<5>(kg, a, lda, b, acc, ldacc, accumulate);
    case 6: return micro_rows<6>(kg, a, lda, b, acc, ldacc, accumulate);
    case 7: return micro_rows<7>(kg, a, lda, b, acc, ldacc, accumulate);
    case 8: return micro_rows<8>(kg, a, lda, b, acc, ldacc, accumulate);
    case 9: return micro_rows<9>(kg, a, lda, b, acc, ldacc, accumulate);
    case 10: return micro_rows<10>(kg, a, lda, b, acc, ldacc, accumulate);
    case 11: return micro_rows<11>(kg, a, lda, b, acc, ldacc, accumulate);
    default: return micro_rows<12>(kg, a, lda, b, acc, ldacc, accumulate);
  }
}

}  // namespace

static_assert(kMR == 12 && kNR == 32, "micro_vnni is written for 12 x 32 tiles");

const Kernels kVnniKernels = {micro_vnni, epilogue_row_impl};

}  // namespace q8::gemm
