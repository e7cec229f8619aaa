#include "core/qparams.hpp"

#include <cmath>
#include <string>

#include "core/dtype.hpp"
#include "core/error.hpp"

namespace q8 {

void check_qparam(q8_dtype dtype, float scale, int32_t zero_point, const char *scale_name,
                  const char *zp_name) {
  if (dtype == Q8_DTYPE_F32) fail(Q8_ERR_DTYPE, "an f32 tensor cannot carry quantization parameters");
  if (!(std::isfinite(scale) && scale > 0.0f))
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(scale_name) + " = " + std::to_string(scale) +
                                      " must be finite and greater than 0");
  const IntRange r = dtype_range(dtype);
  if (dtype == Q8_DTYPE_S32 ? zero_point != 0 : (zero_point < r.min || zero_point > r.max))
    fail(Q8_ERR_INVALID_ARGUMENT,
         std::string(zp_name) + " = " + std::to_string(zero_point) + " is outside " +
             (dtype == Q8_DTYPE_S32 ? std::string("{0} for s32")
                                    : "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "] for " +
                                          dtype_name(dtype)));
}

}  // namespace q8
