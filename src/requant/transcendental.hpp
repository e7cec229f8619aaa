// Fixed-point exp, logistic and tanh with gemmlowp's algorithms (fixedpoint.h), for any number of
// integer bits of the input. Results are Q0.31. docs/FIXED_POINT.md gives the measured accuracy.
#pragma once
#include <cstdint>

namespace q8::requant {

// exp(x) for x <= 0 in Q(integer_bits).(31 - integer_bits), integer_bits in [0, 31] (clamped);
// x >= 0 gives INT32_MAX (1 saturated).
int32_t exp_on_negative_values(int32_t x, int integer_bits) noexcept;
// 1 / (1 + exp(-x)) in [0, INT32_MAX]; integer_bits in [0, 31] (clamped).
int32_t logistic(int32_t x, int integer_bits) noexcept;
// tanh(x) in [-INT32_MAX, INT32_MAX]; integer_bits in [0, 30] (clamped: the algorithm evaluates
// exp(-2|x|) on the same bits with one more integer bit).
int32_t tanh(int32_t x, int integer_bits) noexcept;

}  // namespace q8::requant
