// The requantization epilogue over arrays (q8_fixed_requantize_s8/u8): validated arguments in,
// one pass of the active ISA's kernel, split over q8's threads for large arrays.
#pragma once
#include <cstddef>
#include <cstdint>

namespace q8::requant {

// Preconditions (checked by the C entry points): channels >= 1 divides n; acc, dst valid for n
// elements, multiplier and shift (and bias, which may be NULL) for `channels`; qmin <= qmax and
// zero_point inside the output type's range; dst does not overlap acc.
void requantize_s8(const int32_t *acc, std::size_t n, const int32_t *bias, const int32_t *multiplier,
                   const int32_t *shift, std::size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax,
                   int8_t *dst);
void requantize_u8(const int32_t *acc, std::size_t n, const int32_t *bias, const int32_t *multiplier,
                   const int32_t *shift, std::size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax,
                   uint8_t *dst);

}  // namespace q8::requant
