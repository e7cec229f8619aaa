// The requantization epilogue over int32 arrays, one table per ISA. Every entry computes exactly
// requantize_one() of primitives.hpp for every element (scalar.cpp is that loop), bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>

#include "q8/common.h"

namespace q8::requant {

// Parameters prepared once per call by requantize.cpp.
//
// Per tensor (channels == 1): element [0] of each array applies to every element.
// Per channel: the arrays are the channel parameters tiled, param[j] = channel_param[j % channels]
// for j < period + kTilePad, where period is a multiple of channels and at least kMaxLanes. The
// element at flat index i uses param[(phase + i) % period] in a call that starts at `phase`, so a
// vector of W <= kMaxLanes lanes loads W consecutive parameters from the cursor with no wrap, and
// advancing the cursor by W needs one conditional subtraction.
struct Epilogue {
  static constexpr std::size_t kMaxLanes = 16;
  static constexpr std::size_t kTilePad = 64;  // >= kMaxLanes - 1: reads past the cursor stay inside

  std::size_t channels = 1;
  std::size_t period = 1;
  const int32_t *bias = nullptr;        // zeros when the caller passed no bias
  const int32_t *multiplier = nullptr;
  const int32_t *shift = nullptr;       // clamped to [-31, 30]
  const int32_t *left = nullptr;        // max(shift, 0), for the SIMD paths
  const int32_t *right = nullptr;       // max(-shift, 0)
  const int32_t *mask = nullptr;        // 2^right - 1: RoundingDivideByPOT's remainder mask
  const int32_t *half = nullptr;        // mask >> 1: its threshold for x >= 0
  int32_t zero_point = 0;
  int32_t lo = 0, hi = 0;               // qmin - zero_point, qmax - zero_point
  int32_t qmin = 0, qmax = 0;
  bool any_left_shift = false;          // some shift > 0
  bool any_min_multiplier = false;      // some multiplier == INT32_MIN (the saturating product)
  bool any_bias = false;                // some bias != 0
  // [qmin, qmax] is the whole output type and every shift <= -1, so |mbqm| <= 2^30 and
  // r + zero_point cannot overflow: the saturating narrowing to 8 bits is the clamp.
  bool narrowing_clamps = false;
};

struct Kernels {
  // dst[i] for acc[i], i < n, starting at parameter position `phase` (0 for per tensor).
  void (*requantize_s8)(const int32_t *acc, int8_t *dst, std::size_t n, const Epilogue &e, std::size_t phase);
  void (*requantize_u8)(const int32_t *acc, uint8_t *dst, std::size_t n, const Epilogue &e, std::size_t phase);
};

extern const Kernels kScalarKernels;
#if defined(__x86_64__)
extern const Kernels kAvx2Kernels;
extern const Kernels kAvx512Kernels;
#endif

const Kernels &active_kernels() noexcept;

}  // namespace q8::requant
