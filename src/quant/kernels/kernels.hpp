// Element-wise quantize / dequantize kernels, one table per ISA. Every entry computes exactly what
// the scalar reference (scalar.cpp, reference.hpp) computes, bit for bit.
//
// The "_vec" forms take one scale and zero point per element (scales[i], zero_points[i]): the
// per-axis case where the quantized axis is the innermost one.
#pragma once
#include <cstddef>
#include <cstdint>

#include "q8/common.h"

namespace q8::quant {

struct Kernels {
  void (*quantize_s8)(const float *x, int8_t *y, std::size_t n, float scale, int32_t zero_point);
  void (*quantize_u8)(const float *x, uint8_t *y, std::size_t n, float scale, int32_t zero_point);
  void (*quantize_s8_vec)(const float *x, int8_t *y, std::size_t n, const float *scales,
                          const int32_t *zero_points);
  void (*quantize_u8_vec)(const float *x, uint8_t *y, std::size_t n, const float *scales,
                          const int32_t *zero_points);
  void (*dequantize_s8)(const int8_t *q, float *y, std::size_t n, float scale, int32_t zero_point);
  void (*dequantize_u8)(const uint8_t *q, float *y, std::size_t n, float scale, int32_t zero_point);
  void (*dequantize_s8_vec)(const int8_t *q, float *y, std::size_t n, const float *scales,
                            const int32_t *zero_points);
  void (*dequantize_u8_vec)(const uint8_t *q, float *y, std::size_t n, const float *scales,
                            const int32_t *zero_points);
};

extern const Kernels kScalarKernels;
#if defined(__x86_64__)
extern const Kernels kAvx2Kernels;
extern const Kernels kAvx512Kernels;
#endif

// The table for the active ISA (AVX-512 VNNI uses the AVX-512 table: no VNNI work here).
const Kernels &active_kernels() noexcept;

}  // namespace q8::quant
