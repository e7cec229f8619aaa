// Weight-only quantization of one row of W [rows, cols] (include/q8/checkpoint.h has the formats).
// Parameters come from q8's own range rules (src/quant/params: symmetric_from_range and
// asymmetric_from_range, so an all-zero range gets scale 1 and scales are floored at FLT_EPSILON)
// and codes from its quantize kernels (round half to even, then clamp), so the numbers agree with
// the rest of q8. Split into "parameters" and "codes" so the two can run as separate stages.
#pragma once
#include <cstddef>
#include <cstdint>

namespace q8::ckpt {

// max |x| over the row, or a negative value when the row holds NaN or an infinity.
float row_abs_max(const float *x, std::size_t n) noexcept;

// INT8 per channel: scale = max|row| / 127; codes in [-127, 127].
float int8_scale(float abs_max) noexcept;
void int8_codes(const float *x, std::size_t n, float scale, int8_t *codes) noexcept;

// INT8 per column (W [K, N] with N output channels, MatMul's B): the column maxima come from a
// pass over all rows first, folded block by block (max is exact in any order); then each row's
// codes use one scale per column, exactly the codes int8_codes gives the rows of W^T.
// max[j] = max(max[j], |x[r, j]|) over the `rows` rows of x [rows, cols]; false when an element is
// NaN or an infinity.
bool fold_column_abs_max(const float *x, std::size_t rows, std::size_t cols, float *max) noexcept;
// One row of n values with scales[j] and zero points zero_points[j] (all 0).
void int8_codes_per_column(const float *x, std::size_t n, const float *scales, const int32_t *zero_points,
                           int8_t *codes) noexcept;

// y [cols, rows] = x [rows, cols]^T (INT4 along K of MatMul's B quantizes the rows of W^T).
void transpose(const float *x, std::size_t rows, std::size_t cols, float *y) noexcept;

// INT4 grouped: for each group of `group` consecutive values (the last one may be shorter), its
// [min, max] widened to include 0 gives scale = (max - min) / 15 and zero point
// round(-min / scale) in [0, 15]. Returns false when a group holds NaN or an infinity, or its
// range is too wide for a finite scale (nothing else is written then).
bool int4_params(const float *x, std::size_t n, std::size_t group, float *scales, uint8_t *zero_points) noexcept;
// Codes round(x / scale) + zero point clamped to [0, 15], packed two per byte, low nibble first
// (an odd row's last high nibble is 0). `scratch` holds `n` bytes.
void int4_codes(const float *x, std::size_t n, std::size_t group, const float *scales, const uint8_t *zero_points,
                uint8_t *scratch, uint8_t *packed) noexcept;

}  // namespace q8::ckpt
