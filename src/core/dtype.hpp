// Facts about element types that the rest of q8 relies on.
#pragma once
#include <cstddef>
#include <cstdint>

#include "q8/common.h"

namespace q8 {

bool dtype_valid(q8_dtype dt) noexcept;
std::size_t dtype_size(q8_dtype dt) noexcept;
const char *dtype_name(q8_dtype dt) noexcept;
bool dtype_is_integer(q8_dtype dt) noexcept;

// Integer range of a quantized dtype (s8, u8, s32).
struct IntRange {
  int64_t min, max;
};
IntRange dtype_range(q8_dtype dt);  // throws Q8_ERR_DTYPE for f32

}  // namespace q8
