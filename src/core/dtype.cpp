#include "core/dtype.hpp"

#include "core/error.hpp"

namespace q8 {

bool dtype_valid(q8_dtype dt) noexcept {
  return dt == Q8_DTYPE_F32 || dt == Q8_DTYPE_S8 || dt == Q8_DTYPE_U8 || dt == Q8_DTYPE_S32;
}

std::size_t dtype_size(q8_dtype dt) noexcept {
  switch (dt) {
    case Q8_DTYPE_F32: return 4;
    case Q8_DTYPE_S8: return 1;
    case Q8_DTYPE_U8: return 1;
    case Q8_DTYPE_S32: return 4;
  }
  return 0;
}

const char *dtype_name(q8_dtype dt) noexcept {
  switch (dt) {
    case Q8_DTYPE_F32: return "f32";
    case Q8_DTYPE_S8: return "s8";
    case Q8_DTYPE_U8: return "u8";
    case Q8_DTYPE_S32: return "s32";
  }
  return "unknown";
}

bool dtype_is_integer(q8_dtype dt) noexcept {
  return dt == Q8_DTYPE_S8 || dt == Q8_DTYPE_U8 || dt == Q8_DTYPE_S32;
}

IntRange dtype_range(q8_dtype dt) {
  switch (dt) {
    case Q8_DTYPE_S8: return {-128, 127};
    case Q8_DTYPE_U8: return {0, 255};
    case Q8_DTYPE_S32: return {INT32_MIN, INT32_MAX};
    default: fail(Q8_ERR_DTYPE, std::string("dtype ") + dtype_name(dt) + " is not an integer type");
  }
}

}  // namespace q8
