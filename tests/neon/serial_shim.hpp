// The standalone aarch64 GEMM test's stand-ins for the runtime (see serial_shim.cpp).
#pragma once
#include "q8/common.h"

namespace q8 {
void shim_set_isa(q8_isa isa);  // what active_isa() returns from now on
}
