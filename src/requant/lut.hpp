// 256-entry INT8 activation tables evaluated with the fixed-point logistic / tanh.
#pragma once
#include <cstdint>

namespace q8::requant {

enum class Activation { kSigmoid, kTanh };

// Integer bits of the fixed-point input the tables feed to logistic / tanh: Q5.26 covers
// [-32, 32); beyond it both functions equal their limits to far better than 2^-31.
constexpr int kLutIntegerBits = 5;

// table[i] is the quantized f((q - in_zero_point) * in_scale) for q = i + (s8 ? -128 : 0).
// Arguments are valid (checked by the C entry points).
void build_lut_s8(Activation f, float in_scale, int32_t in_zero_point, float out_scale, int32_t out_zero_point,
                  int8_t table[256]);
void build_lut_u8(Activation f, float in_scale, int32_t in_zero_point, float out_scale, int32_t out_zero_point,
                  uint8_t table[256]);

}  // namespace q8::requant
