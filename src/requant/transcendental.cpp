// gemmlowp's fixed-point exp / logistic / tanh (fixedpoint.h), re-derived on plain int32 with the
// primitives of primitives.hpp, so that every intermediate is the same integer as gemmlowp's.
// Sums that gemmlowp leaves to (undefined) signed overflow are done with wrap-around here; for
// every input the algorithms keep them in range (checked exhaustively for the exp core, see
// tests/test_requant.c).
#include "requant/transcendental.hpp"

#include "requant/primitives.hpp"

namespace q8::requant {
namespace {

// Fixed-point constants: round(value * 2^31) for Q0.31, round(value * 2^29) for Q2.29.
constexpr int32_t kExpMinusOneEighth = 1895147668;  // exp(-1/8)
constexpr int32_t kOneThird = 715827883;            // 1/3
constexpr int32_t kOneEighth = 1 << 28;             // 1/8
constexpr int32_t kQ2One = 1 << 29;                 // 1 in Q2.29
constexpr int32_t kQ2FortyEightSeventeenths = 1515870810;       // 48/17: Newton-Raphson start
constexpr int32_t kQ2MinusThirtyTwoSeventeenths = -1010580540;  // -32/17
// exp(-2^k) for k = -2 .. 4: multiplied in for each bit of the whole-quarters part of |x|.
constexpr int32_t kExpMinusPow2[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
constexpr int kLowestPow2 = -2;
// Inputs at or below -32 give 0 (exp(-32) * 2^31 < 1e-4); from 6 integer bits on they are cut off
// first, and the rest computed in 5 integer bits (Q5.26), where gemmlowp's barrel ends at exp(-16).
constexpr int kMaxDirectIntegerBits = 5;

inline int32_t srdhm(int32_t a, int32_t b) noexcept { return sat_rounding_doubling_high_mul(a, b); }

// (a + b) / 2 to nearest, ties away from zero (gemmlowp RoundingHalfSum, ARM VRHADD-like).
inline int32_t rounding_half_sum(int32_t a, int32_t b) noexcept {
  const int64_t s = int64_t(a) + b;
  return static_cast<int32_t>((s + (s >= 0 ? 1 : -1)) / 2);
}

// exp(a) for a in [-1/4, 0), Q0.31 in and out: the Taylor polynomial of degree 4 around -1/8,
// exp(-1/8) * (1 + y + y^2/2 + y^3/6 + y^4/24) with y = a + 1/8 in [-1/8, 1/8), the last three
// terms formed as ((y^4/4 + y^3) / 3 + y^2) / 2.
int32_t exp_on_quarter_interval(int32_t a) noexcept {
  const int32_t y = a + kOneEighth;
  const int32_t y2 = srdhm(y, y);
  const int32_t y3 = srdhm(y2, y);
  const int32_t y4 = srdhm(y2, y2);
  const int32_t cubic_quartic_over_three = srdhm(rounding_divide_by_pot(y4, 2) + y3, kOneThird);
  const int32_t higher_terms = rounding_divide_by_pot(cubic_quartic_over_three + y2, 1);
  return wrapping_add(kExpMinusOneEighth, srdhm(kExpMinusOneEighth, y + higher_terms));
}

// Newton-Raphson for 2 / (1 + a), a in [0, 1] in Q0.31; the result is in Q2.29 (about [1, 2]).
// d = (1 + a) / 2 in [1/2, 1]; start at 48/17 - 32/17 * d; three steps x += x * (1 - d * x).
int32_t two_over_one_plus(int32_t a) noexcept {
  const int32_t d = rounding_half_sum(a, kInt32Max);  // Q0.31
  int32_t x = wrapping_add(kQ2FortyEightSeventeenths, srdhm(d, kQ2MinusThirtyTwoSeventeenths));
  for (int i = 0; i < 3; ++i) {
    const int32_t residual = wrapping_sub(kQ2One, srdhm(d, x));  // Q2.29
    // x * residual is Q4.27; back to Q2.29 is a saturating doubling twice.
    x = wrapping_add(x, saturating_left_shift(srdhm(x, residual), 2));
  }
  return x;
}

}  // namespace

int32_t exp_on_negative_values(int32_t x, int integer_bits) noexcept {
  if (x >= 0) return kInt32Max;  // exp(0) = 1, saturated; positive inputs are outside the domain
  int ib = integer_bits < 0 ? 0 : integer_bits > 31 ? 31 : integer_bits;
  if (ib > kMaxDirectIntegerBits) {
    // -32 in Q(ib) is -2^(36 - ib); anything below gives 0 (as gemmlowp's clamp). The rest fits
    // Q5.26 exactly: shifting left appends zero fractional bits.
    if (int64_t(x) < -(int64_t(1) << (36 - ib))) return 0;
    x = static_cast<int32_t>(static_cast<uint32_t>(x) << (ib - kMaxDirectIntegerBits));
    ib = kMaxDirectIntegerBits;
  }
  const int frac = 31 - ib;
  const int32_t quarter = int32_t(1) << (frac - 2);
  // x = r - m with r = (x mod 1/4) - 1/4 in [-1/4, 0) and m >= 0 a whole number of quarters.
  const int32_t r = (x & (quarter - 1)) - quarter;
  const int32_t m = static_cast<int32_t>(int64_t(r) - x);  // <= 2^31 - 1
  // exp(r) with r rescaled to Q0.31 (exact: |r| <= 1/4).
  int32_t result = exp_on_quarter_interval(saturating_left_shift(r, ib));
  // exp(-m) as a product over the set bits of m: bit (frac + k) stands for 2^k.
  for (int k = kLowestPow2; k < ib; ++k)
    if (m & (int32_t(1) << (frac + k))) result = srdhm(result, kExpMinusPow2[k - kLowestPow2]);
  return result;
}

int32_t logistic(int32_t x, int integer_bits) noexcept {
  if (x == 0) return int32_t(1) << 30;  // 1/2
  // logistic(|x|) = 1 / (1 + exp(-|x|)); logistic(-|x|) = 1 - logistic(|x|). gemmlowp negates
  // with wrap-around, so INT32_MIN reaches exp as itself: exactly -|x|.
  const int32_t minus_abs = x > 0 ? wrapping_neg(x) : x;
  const int32_t positive = saturating_left_shift(two_over_one_plus(exp_on_negative_values(minus_abs, integer_bits)), 1);
  return x > 0 ? positive : kInt32Max - positive;  // gemmlowp's "One" is INT32_MAX
}

int32_t tanh(int32_t x, int integer_bits) noexcept {
  if (x == 0) return 0;
  const int ib = integer_bits < 0 ? 0 : integer_bits > 30 ? 30 : integer_bits;
  const int32_t minus_abs = x < 0 ? x : wrapping_neg(x);
  // tanh(|x|) = (1 - e) / (1 + e) = 2 / (1 + e) - 1 with e = exp(-2|x|): the same raw bits read
  // with one more integer bit are -2|x|.
  const int32_t e = exp_on_negative_values(minus_abs, ib + 1);
  const int32_t t = saturating_left_shift(wrapping_sub(two_over_one_plus(e), kQ2One), 2);
  return x < 0 ? wrapping_neg(t) : t;
}

}  // namespace q8::requant
