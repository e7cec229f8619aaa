// The epilogue of one row of C, written once and compiled by each kernel file with its own ISA
// flags (internal linkage, as requant/primitives.hpp). Integer steps wrap modulo 2^32 through uint32_t;
// the float steps are one conversion and one multiply, so every compilation gives the same bits.
#pragma once
#include <cstdint>
#include <cstring>

#include "requant/primitives.hpp"
#include "gemm/gemm.hpp"

namespace q8::gemm {
namespace {

// Parameters are copied into locals and pointers marked __restrict: C is a byte array, which may
// alias anything, so otherwise every store would force the struct's fields to be reloaded and no
// loop would vectorize.
template <class T>
inline void requantize_fixed_row(const Epilogue &e, const int32_t *__restrict t, int64_t n, int64_t j0,
                                 T *__restrict c) {
  const int32_t *__restrict mult = e.multiplier.data() + j0;
  const int32_t *__restrict shift = e.shift.data() + j0;
  const int64_t zp = e.zero_point, qmin = e.qmin, qmax = e.qmax;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t v = int64_t(requant::multiply_by_quantized_multiplier(t[j], mult[j], shift[j])) + zp;
    c[j] = T(v < qmin ? qmin : v > qmax ? qmax : v);
  }
}

template <class T>
inline void requantize_float_row(const Epilogue &e, const int32_t *__restrict t, int64_t n, int64_t j0,
                                 T *__restrict c) {
  // Clamping the product to [qmin - zp, qmax - zp] before rounding equals clamping after: the
  // bounds are integers. It also sends +-Inf to the bounds.
  const int32_t zp = e.zero_point;
  const float lo = float(e.qmin - zp), hi = float(e.qmax - zp);
  const float *__restrict scale = e.scale.data() + j0;
  for (int64_t j = 0; j < n; ++j) {
    float v = float(t[j]) * scale[j];
    v = v < lo ? lo : v > hi ? hi : v;
    // |v| <= 510 after the clamp, so the 1.5 * 2^23 trick rounds half to even with no range
    // branch, and the loop vectorizes.
    c[j] = T(int32_t((v + 0x1.8p23f) - 0x1.8p23f) + zp);
  }
}

// Columns per stack chunk of corrected accumulators.
constexpr int64_t kChunk = 256;

inline void epilogue_row_impl(const EpilogueArgs &args, const int32_t *acc, int64_t n, int64_t j0,
                              uint32_t rowsum, void *crow) {
  const Epilogue &e = *args.e;
  int32_t t[kChunk];
  for (int64_t base = 0; base < n; base += kChunk) {
    const int64_t len = n - base < kChunk ? n - base : kChunk;
    const uint32_t *ct = args.colterm + j0 + base;
    const int32_t *zb = args.zb + j0 + base;
    for (int64_t j = 0; j < len; ++j)
      t[j] = int32_t(uint32_t(acc[base + j]) + ct[j] - uint32_t(zb[j]) * rowsum);
    const int64_t jj = j0 + base;
    switch (e.kind) {
      case Q8_GEMM_EPILOGUE_S32:
        std::memcpy(static_cast<int32_t *>(crow) + base, t, size_t(len) * sizeof(int32_t));
        break;
      case Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED:
        if (e.out == Q8_DTYPE_U8)
          requantize_fixed_row(e, t, len, jj, static_cast<uint8_t *>(crow) + base);
        else
          requantize_fixed_row(e, t, len, jj, static_cast<int8_t *>(crow) + base);
        break;
      case Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT:
        if (e.out == Q8_DTYPE_U8)
          requantize_float_row(e, t, len, jj, static_cast<uint8_t *>(crow) + base);
        else
          requantize_float_row(e, t, len, jj, static_cast<int8_t *>(crow) + base);
        break;
      case Q8_GEMM_EPILOGUE_DEQUANTIZE: {
        float *__restrict c = static_cast<float *>(crow) + base;
        const float *__restrict scale = e.scale.data() + jj;
        for (int64_t j = 0; j < len; ++j) c[j] = float(t[j]) * scale[j];
        break;
      }
    }
  }
}

}  // namespace
}  // namespace q8::gemm
