#include "requant/lut.hpp"

#include <cmath>

#include "requant/transcendental.hpp"

namespace q8::requant {
namespace {

// The real input in Q5.26, rounded half to even and saturated to the format's range.
int32_t to_fixed_input(double x) noexcept {
  const double scaled = x * 0x1p26;  // exact (power of two) unless it overflows to +-inf
  if (!(scaled > -0x1p31)) return INT32_MIN;
  if (!(scaled < 0x1p31 - 1)) return INT32_MAX;
  return static_cast<int32_t>(std::nearbyint(scaled));  // default rounding mode: half to even
}

template <class Q, int32_t QMIN, int32_t QMAX>
void build(Activation f, float in_scale, int32_t in_zero_point, float out_scale, int32_t out_zero_point, Q *table) {
  for (int32_t i = 0; i < 256; ++i) {
    const int32_t q = QMIN + i;
    const double x = double(q - in_zero_point) * double(in_scale);
    const int32_t in = to_fixed_input(x);
    const int32_t y = f == Activation::kSigmoid ? logistic(in, kLutIntegerBits) : tanh(in, kLutIntegerBits);
    // y / 2^31 is exact in double; |y / 2^31 / out_scale| < 2^150 stays finite.
    double v = std::nearbyint(double(y) * 0x1p-31 / double(out_scale)) + out_zero_point;
    v = v < QMIN ? QMIN : v > QMAX ? QMAX : v;
    table[i] = static_cast<Q>(static_cast<int32_t>(v));
  }
}

}  // namespace

void build_lut_s8(Activation f, float in_scale, int32_t in_zero_point, float out_scale, int32_t out_zero_point,
                  int8_t table[256]) {
  build<int8_t, -128, 127>(f, in_scale, in_zero_point, out_scale, out_zero_point, table);
}

void build_lut_u8(Activation f, float in_scale, int32_t in_zero_point, float out_scale, int32_t out_zero_point,
                  uint8_t table[256]) {
  build<uint8_t, 0, 255>(f, in_scale, in_zero_point, out_scale, out_zero_point, table);
}

}  // namespace q8::requant
