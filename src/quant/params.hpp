// Scale and zero point from a real range, per scheme (formulas in include/q8/quant.h).
#pragma once
#include <cstdint>

#include "q8/quant.h"

namespace q8::quant {

bool scheme_valid(q8_scheme scheme) noexcept;
q8_dtype scheme_dtype(q8_scheme scheme);  // throws for an invalid scheme
const char *scheme_name(q8_scheme scheme) noexcept;

struct Affine {
  float scale;
  int32_t zero_point;
};
// `min` <= `max`, both finite (checked by the caller).
Affine qparams_from_range(q8_scheme scheme, float min, float max);

// The two shapes every scheme (and QAT's bit widths, src/qat) is built from, on the integers
// [qmin, qmax]: symmetric (zero point 0, scale = max(|min|, |max|) / divisor) and asymmetric
// (scale = (max - min) / (qmax - qmin), zero point = qmin - round(min / scale), clamped). Both
// widen the range to include 0, floor the scale at FLT_EPSILON and give an all-zero range scale 1.
Affine symmetric_from_range(float min, float max, float divisor);
Affine asymmetric_from_range(float min, float max, int32_t qmin, int32_t qmax);

}  // namespace q8::quant
