// Validation of quantization parameters, shared by tensors, quantize and observers.
#pragma once
#include <cstdint>

#include "q8/common.h"

namespace q8 {

// Throws unless `scale` is finite and > 0 and `zero_point` is inside dtype's range (s32: 0 only;
// f32: never quantized). The names appear in the message.
void check_qparam(q8_dtype dtype, float scale, int32_t zero_point, const char *scale_name,
                  const char *zp_name);

}  // namespace q8
