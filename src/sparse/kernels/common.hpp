// Pieces the sparse AVX-512 VNNI kernels share: run-time checks for VBMI/VBMI2, the per-call
// copies of A in the layouts the kernels read, and the hand-off of accumulators to finish_rows.
//
// Lanes over m (CSR, BCSR at larger M): a zmm holds 16 rows of A, so A is copied per call into a
// k-major layout and each accumulator belongs to one row of W (its 16 lanes are 16 rows of A, a
// column of C). Lanes over n (2_4, BITMAP, BCSR at small M): a zmm holds rows of W, A's 4 bytes
// are broadcast, and accumulators are already rows of C.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sparse/gemm.hpp"

namespace q8::sparse::kernels {

// vpermb / vpermi2b (VBMI) and vpexpandb (VBMI2) exist on Ice Lake and Zen 4 onwards but not on
// Cascade Lake, which also takes the VNNI path: checked once.
inline bool has_vbmi() {
  static const bool yes = __builtin_cpu_supports("avx512vbmi");
  return yes;
}
inline bool has_vbmi2() {
  static const bool yes = __builtin_cpu_supports("avx512vbmi2");
  return yes;
}

// A work estimate (multiply-adds) below which a call stays on the calling thread.
constexpr double kInlineWork = double(1 << 20);
inline size_t inline_below(double work) { return work < kInlineWork ? SIZE_MAX : 2; }

inline uint32_t load_u32(const void *p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Per-thread scratch kept between calls (a fresh allocation of this size is a fresh mmap, whose
// page faults measured as much as a sparse call's work): `bytes` bytes, 64-byte aligned, with 64
// readable bytes before and after. Contents are not initialised.
uint8_t *scratch(int slot, size_t bytes);
template <class T>
T *scratch_as(int slot, size_t count) {
  return reinterpret_cast<T *>(scratch(slot, count * sizeof(T)));
}
// Slots: one per concurrent use on a thread.
enum : int { kSlotA = 0, kSlotGroups = 1, kSlotTask = 2, kSlotOut = 3, kSlots = 4 };

// The lanes-over-m kernels take A in blocks of 32 rows (a last block of <= 16 rows is padded to
// 16 only), each copied into its own stretch of one scratch buffer: row_bytes per padded row (the
// copy's bytes per row of A, 4 kg or 4 kg + 4 below). *total receives the buffer's size.
struct ABlock {
  int64_t m0, rows;
  int mp;         // padded rows: 16 or 32
  size_t offset;  // into the buffer
};
inline std::vector<ABlock> plan_a_blocks(int64_t m, size_t row_bytes, size_t *total) {
  std::vector<ABlock> blocks;
  size_t bytes = 0;
  for (int64_t m0 = 0; m0 < m; m0 += 32) {
    const int64_t r = std::min<int64_t>(32, m - m0);
    const int mp = r <= 16 ? 16 : 32;
    blocks.push_back({m0, r, mp, bytes});
    bytes += row_bytes * size_t(mp);
  }
  *total = bytes;
  return blocks;
}

// Rows [m0, m0 + rows) of A's u8 view in groups of 4 columns, mp (4, 8, 16 or 32) rows per group:
// dst[(kg * mp + i) * 4 + q] = A(m0 + i, 4 kg + q); rows past `rows` and columns past cols are 0.
void pack_a_groups(const gemm::AView &a, int64_t m0, int64_t rows, int64_t cols, int mp, uint8_t *dst);

// The same rows k-major: dst[k * mp + i] = A(m0 + i, k) for k < cols, and a zero row k = cols
// (the index CSR pads a row's nonzeros with). mp is 16 or 32; dst holds (4 kg + 4) * mp bytes,
// kg = ceil(cols / 4).
void pack_a_kmajor(const gemm::AView &a, int64_t m0, int64_t rows, int64_t cols, int mp, uint8_t *dst);

// Hands the lanes-over-m results of a block of W's rows to finish_rows: t[jj * mp + i] is the
// accumulator of C(m0 + i, j0 + jj) for jj < n, i < rows.
void finish_transposed(const GemmArgs &g, const int32_t *t, int mp, int64_t m0, int64_t rows, int64_t j0,
                       int64_t n);

}  // namespace q8::sparse::kernels
