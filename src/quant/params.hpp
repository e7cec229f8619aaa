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

}  // namespace q8::quant
