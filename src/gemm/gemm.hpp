// INT8 GEMM internals: the packed-B layout, the validated epilogue, the per-ISA kernel table and
// the driver (blocking, A packing, oneTBB parallelism). include/q8/gemm.h states the numerics.
//
// Packed B (one layout for every ISA path, so a handle outlives q8_runtime_set_isa):
//   N is cut into panels of kNR = 32 columns, K into groups of 4 (kg = ceil(K / 4) groups).
//   Panel p, group g is 128 bytes at data[(p * kg + g) * 128]: column j (0..31) of the panel
//   holds B[4g + 0..3][32p + j] in bytes j*4 .. j*4+3. Rows past K and columns past N are zero,
//   so kernels never mask: one vpdpbusd on bytes 0..63 updates columns 0..15, bytes 64..127
//   columns 16..31, and a K tail multiplies padding zeros.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "q8/gemm.h"

namespace q8::gemm {

constexpr int kNR = 32;       // columns per packed panel (two zmm of int32)
constexpr int kMR = 12;       // rows per micro-kernel call, at most
constexpr int64_t kKC = 512;  // K per L2 block (a multiple of 4): B slices of 16 KiB stay in L1
constexpr int64_t kMB = 96;   // rows per parallel task (a multiple of kMR)
constexpr int64_t kNB = 256;  // columns per parallel task (a multiple of kNR)

struct Packed {
  int64_t k = 0, n = 0;
  int64_t kg = 0;       // groups of 4 along K
  int64_t panels = 0;   // panels of kNR along N
  int8_t *data = nullptr;  // panels * kg * 4 * kNR bytes, 64-byte aligned
  std::vector<int32_t> colsum;  // sum_k B[k][j], N entries
  std::vector<int32_t> zb;      // B's zero point per column, N entries (expanded if per tensor)
  size_t zb_count = 0;          // as the caller gave it: 0, 1 or N
  bool zb_all_zero = true;

  Packed() = default;
  Packed(const Packed &) = delete;
  Packed &operator=(const Packed &) = delete;
  ~Packed();
};

// Packs B: element (k, j) is b[k * ldb + j], or b[j * ldb + k] when trans. zb has n entries.
void pack_b(Packed &p, bool trans, int64_t k, int64_t n, const int8_t *b, int64_t ldb,
            const int32_t *zb, size_t zb_count);

// The epilogue, validated, with per-channel arrays already expanded to one entry per column.
struct Epilogue {
  q8_gemm_epilogue_kind kind = Q8_GEMM_EPILOGUE_S32;
  q8_dtype out = Q8_DTYPE_S32;
  const int32_t *bias = nullptr;  // N entries or NULL
  std::vector<int32_t> multiplier, shift;  // N entries (REQUANTIZE_FIXED)
  std::vector<float> scale;                // N entries (REQUANTIZE_FLOAT, DEQUANTIZE)
  int32_t zero_point = 0, qmin = 0, qmax = 0;  // effective clamp inside the output type
};

// The A operand as the caller stores it.
struct AView {
  const uint8_t *a = nullptr;  // u8 or s8 bytes
  int64_t lda = 0;
  bool trans = false;
  bool is_signed = false;  // s8: the kernels see a + 128 (u8) with zero point za + 128
  int32_t zero_point = 0;
};

// What one element of C needs besides its accumulator, prepared once per call:
//   t = acc + colterm[j] - zb[j] * rowsum[i]  (mod 2^32), then the epilogue.
// colterm[j] = K*za*zb[j] - za*colsum[j] + bias[j] (mod 2^32); za and rowsum are those of the u8
// view of A (s8 activations + 128).
struct EpilogueArgs {
  const Epilogue *e = nullptr;
  const uint32_t *colterm = nullptr;  // N entries
  const int32_t *zb = nullptr;        // N entries
};

// One call's operands as run() prepared them, for an ISA that brings its own blocking (VNNI).
struct RunArgs {
  const AView *a = nullptr;
  int64_t m = 0;
  const Packed *b = nullptr;
  EpilogueArgs ep;
  const uint32_t *rowsum = nullptr;  // m entries, all zero when zb_all_zero
  void *c = nullptr;
  int64_t ldc = 0;
  size_t out_size = 0;  // bytes per element of C
  bool small = false;   // below the inline threshold: run on the calling thread
};

// Copies rows [m0, m0 + rows) x K columns [k0, k0 + kc) of A as u8 (s8 flipped by + 128) into
// dst (row stride ldd >= kc, a multiple of 4), zero-filling columns kc .. ldd - 1.
void copy_a_block(const AView &a, int64_t m0, int64_t rows, int64_t k0, int64_t kc, uint8_t *dst,
                  int64_t ldd);

// Kernels for one ISA.
//  micro: acc[r * ldacc + j] (+)= sum over g < kg, q < 4 of a[r * lda + 4g + q] * b[g*128 + 4j + q]
//         for r < rows (1..kMR), j < kNR; overwrites when !accumulate. a is u8, b one packed panel
//         slice, all sums wrap modulo 2^32.
//  epilogue_row: C row i, columns [j0, j0 + n): t from acc[0..n) and rowsum, then the epilogue;
//         crow points at C's element (i, j0).
struct Kernels {
  void (*micro)(int rows, int64_t kg, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *acc,
                int64_t ldacc, bool accumulate);
  void (*epilogue_row)(const EpilogueArgs &args, const int32_t *acc, int64_t n, int64_t j0,
                       uint32_t rowsum, void *crow);
  //  run: the whole call with the ISA's own blocking and kernels, or NULL for run()'s generic
  //  driver over micro.
  void (*run)(const RunArgs &args);
};

extern const Kernels kScalarKernels;
#if defined(__x86_64__)
extern const Kernels kVnniKernels;
#endif
// The table for the active ISA: AVX-512 VNNI has its own; every other path runs the scalar one.
const Kernels &active_kernels() noexcept;

// C = epilogue(A · B) for M rows, packed B, on the active ISA, parallel over M x N blocks.
void run(const AView &a, int64_t m, const Packed &b, const Epilogue &e, void *c, int64_t ldc);

// The oracle: plain loops over the caller's layouts, no packing, no blocking, one thread.
void reference(const AView &a, int64_t m, int64_t n, int64_t k, const int8_t *b, int64_t ldb,
               bool trans_b, const int32_t *zb /* n entries */, const Epilogue &e, void *c,
               int64_t ldc);

}  // namespace q8::gemm
