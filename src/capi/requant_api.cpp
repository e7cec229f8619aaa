// Requantization primitives, the requantize epilogue over arrays, fixed-point transcendentals and
// INT8 activation tables (include/q8/fixed.h, the gemmlowp / TFLite half).
#include <cmath>
#include <cstdint>
#include <string>

#include "capi/guard.hpp"
#include "q8/fixed.h"
#include "requant/lut.hpp"
#include "requant/primitives.hpp"
#include "requant/requantize.hpp"
#include "requant/transcendental.hpp"

using namespace q8;

namespace {

int clamp_integer_bits(int integer_bits) { return integer_bits < 0 ? 0 : integer_bits > 30 ? 30 : integer_bits; }

void check_in_range(const char *name, int32_t v, int32_t lo, int32_t hi, const char *type) {
  if (v < lo || v > hi)
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(name) + " = " + std::to_string(v) + " is outside " + type + "'s range [" +
                                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

void run_requantize(const int32_t *acc, size_t n, const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                    size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax, int8_t *dst) {
  requant::requantize_s8(acc, n, bias, multiplier, shift, channels, zero_point, qmin, qmax, dst);
}
void run_requantize(const int32_t *acc, size_t n, const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                    size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax, uint8_t *dst) {
  requant::requantize_u8(acc, n, bias, multiplier, shift, channels, zero_point, qmin, qmax, dst);
}

template <class Q>
void requantize_checked(const int32_t *acc, size_t n, const int32_t *bias, const int32_t *multiplier,
                        const int32_t *shift, size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax, Q *dst,
                        int32_t type_min, int32_t type_max, const char *type) {
  Q8_CHECK_ARG(channels > 0, "channels = 0: must be at least 1 (1 = per tensor)");
  if (n % channels != 0)
    fail(Q8_ERR_SHAPE, "n = " + std::to_string(n) + " is not a multiple of channels = " + std::to_string(channels));
  check_in_range("qmin", qmin, type_min, type_max, type);
  check_in_range("qmax", qmax, type_min, type_max, type);
  Q8_CHECK_ARG(qmin <= qmax, "qmin = " + std::to_string(qmin) + " is greater than qmax = " + std::to_string(qmax));
  check_in_range("zero_point", zero_point, type_min, type_max, type);
  if (n == 0) return;
  Q8_CHECK_NOT_NULL(acc);
  Q8_CHECK_NOT_NULL(multiplier);
  Q8_CHECK_NOT_NULL(shift);
  Q8_CHECK_NOT_NULL(dst);
  const auto a0 = reinterpret_cast<uintptr_t>(acc), a1 = a0 + n * sizeof(int32_t);
  const auto d0 = reinterpret_cast<uintptr_t>(dst), d1 = d0 + n * sizeof(Q);
  Q8_CHECK_ARG(d1 <= a0 || a1 <= d0, "dst overlaps acc (the output must be a separate array)");
  run_requantize(acc, n, bias, multiplier, shift, channels, zero_point, qmin, qmax, dst);
}

// See enum_bits: the caller's bits are validated before they are used as a q8_fixed_function.
requant::Activation check_function(const q8_fixed_function &f) {
  const int v = enum_bits(f);
  if (v == Q8_FIXED_SIGMOID) return requant::Activation::kSigmoid;
  if (v == Q8_FIXED_TANH) return requant::Activation::kTanh;
  fail(Q8_ERR_INVALID_ARGUMENT, "f = " + std::to_string(v) + " is not a q8_fixed_function");
}

void check_lut_args(float in_scale, int32_t in_zero_point, float out_scale, int32_t out_zero_point, const void *table,
                    int32_t type_min, int32_t type_max, const char *type) {
  Q8_CHECK_NOT_NULL(table);
  Q8_CHECK_ARG(std::isfinite(in_scale) && in_scale > 0,
               "in_scale = " + std::to_string(in_scale) + ": must be finite and > 0");
  Q8_CHECK_ARG(std::isfinite(out_scale) && out_scale > 0,
               "out_scale = " + std::to_string(out_scale) + ": must be finite and > 0");
  check_in_range("in_zero_point", in_zero_point, type_min, type_max, type);
  check_in_range("out_zero_point", out_zero_point, type_min, type_max, type);
}

}  // namespace

extern "C" {

int32_t q8_fixed_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
  return requant::sat_rounding_doubling_high_mul(a, b);
}

int32_t q8_fixed_rounding_divide_by_pot(int32_t x, int exponent) {
  return requant::rounding_divide_by_pot(x, exponent);
}

q8_status q8_fixed_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(multiplier);
    Q8_CHECK_NOT_NULL(shift);
    Q8_CHECK_ARG(std::isfinite(real), "real = " + std::to_string(real) + " is not finite");
    Q8_CHECK_ARG(real >= 0, "real = " + std::to_string(real) + " is negative");
    int32_t m = 0, s = 0;
    requant::quantize_multiplier(real, m, s);
    *multiplier = m;
    *shift = s;
  });
}

int32_t q8_fixed_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  return requant::multiply_by_quantized_multiplier(x, multiplier, shift);
}

int32_t q8_fixed_multiply_by_quantized_multiplier_single_round(int32_t x, int32_t multiplier, int32_t shift) {
  return requant::multiply_by_quantized_multiplier_single_round(x, multiplier, shift);
}

q8_status q8_fixed_requantize_s8(const int32_t *acc, size_t n, const int32_t *bias, const int32_t *multiplier,
                                 const int32_t *shift, size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax,
                                 int8_t *dst) {
  return guard(__func__, [&] {
    requantize_checked(acc, n, bias, multiplier, shift, channels, zero_point, qmin, qmax, dst, -128, 127, "s8");
  });
}

q8_status q8_fixed_requantize_u8(const int32_t *acc, size_t n, const int32_t *bias, const int32_t *multiplier,
                                 const int32_t *shift, size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax,
                                 uint8_t *dst) {
  return guard(__func__, [&] {
    requantize_checked(acc, n, bias, multiplier, shift, channels, zero_point, qmin, qmax, dst, 0, 255, "u8");
  });
}

int32_t q8_fixed_exp_on_negative_values(int32_t x, int integer_bits) {
  return requant::exp_on_negative_values(x, clamp_integer_bits(integer_bits));
}

int32_t q8_fixed_logistic(int32_t x, int integer_bits) {
  return requant::logistic(x, clamp_integer_bits(integer_bits));
}

int32_t q8_fixed_tanh(int32_t x, int integer_bits) { return requant::tanh(x, clamp_integer_bits(integer_bits)); }

q8_status q8_fixed_lut_s8(q8_fixed_function f, float in_scale, int32_t in_zero_point, float out_scale,
                          int32_t out_zero_point, int8_t table[256]) {
  return guard(__func__, [&] {
    const requant::Activation a = check_function(f);
    check_lut_args(in_scale, in_zero_point, out_scale, out_zero_point, table, -128, 127, "s8");
    int8_t out[256];  // the caller's table is written only on success
    requant::build_lut_s8(a, in_scale, in_zero_point, out_scale, out_zero_point, out);
    for (int i = 0; i < 256; ++i) table[i] = out[i];
  });
}

q8_status q8_fixed_lut_u8(q8_fixed_function f, float in_scale, int32_t in_zero_point, float out_scale,
                          int32_t out_zero_point, uint8_t table[256]) {
  return guard(__func__, [&] {
    const requant::Activation a = check_function(f);
    check_lut_args(in_scale, in_zero_point, out_scale, out_zero_point, table, 0, 255, "u8");
    uint8_t out[256];
    requant::build_lut_u8(a, in_scale, in_zero_point, out_scale, out_zero_point, out);
    for (int i = 0; i < 256; ++i) table[i] = out[i];
  });
}

}  // extern "C"
