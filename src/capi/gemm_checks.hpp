// Argument checks of gemm_api.cpp shared with the entry points built on the GEMM (conv_api.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "gemm/gemm.hpp"

namespace q8::capi {

// Validates a caller's q8_gemm_epilogue (NULL = defaults) for n output columns (channels) and
// returns it with per-channel arrays expanded to n entries. Throws like every entry-point check.
gemm::Epilogue read_gemm_epilogue(const q8_gemm_epilogue *epilogue, int64_t n);

// A matrix stored as `rows` rows of `cols` elements of `elem` bytes, `ld` elements apart: the
// leading dimension must hold a row, the extent must be addressable, and the pointer non-NULL
// unless the matrix is empty. Messages name the matrix and its leading dimension.
void check_matrix(const void *p, const char *name, int64_t rows, int64_t cols, int64_t ld,
                  const char *ld_name, size_t elem);

}  // namespace q8::capi
