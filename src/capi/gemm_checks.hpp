// Argument checks of gemm_api.cpp shared with the entry points built on the GEMM (conv_api.cpp).
#pragma once
#include <cstdint>

#include "gemm/gemm.hpp"

namespace q8::capi {

// Validates a caller's q8_gemm_epilogue (NULL = defaults) for n output columns (channels) and
// returns it with per-channel arrays expanded to n entries. Throws like every entry-point check.
gemm::Epilogue read_gemm_epilogue(const q8_gemm_epilogue *epilogue, int64_t n);

}  // namespace q8::capi
