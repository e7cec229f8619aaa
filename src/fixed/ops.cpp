#include "fixed/ops.hpp"

#include <algorithm>
#include <vector>

#include "core/runtime.hpp"
#include "fixed/kernels/kernels.hpp"
#include "fixed/kernels/reference.hpp"

namespace q8::fixed {
namespace {

// Chunks of 256 KiB of the widest array (a multiple of every block size): big enough that a
// chunk's work dwarfs handing it to a thread, small enough to spread an L2-sized array over two
// cores. Arrays below two chunks run on the calling thread.
constexpr std::size_t kChunkBytes = std::size_t(1) << 18;

std::size_t grain_for(std::size_t widest) { return kChunkBytes / widest; }

template <class Body>
void map(std::size_t n, std::size_t widest, Body body) {
  const std::size_t grain = grain_for(widest);
  parallel_for(n, grain, 2 * grain, [&](std::size_t b, std::size_t e) { body(b, e - b); });
}

// The wrapped sum of part(begin, count) over the chunks of [0, n). Partial sums are kept per chunk
// and added in chunk order (any order gives the same bits: modular addition is associative).
template <class U, class Part>
U sum(std::size_t n, std::size_t widest, Part part) {
  const std::size_t grain = grain_for(widest);
  if (n < 2 * grain) return part(0, n);
  std::vector<U> parts((n + grain - 1) / grain);
  parallel_for(n, grain, 2 * grain, [&](std::size_t b, std::size_t e) { parts[b / grain] = part(b, e - b); });
  U total = 0;
  for (U p : parts) total += p;
  return total;
}

const FixedKernels &k() noexcept { return active_fixed_kernels(); }

}  // namespace

#define Q8_FIXED_FROM(name, S, D)                                                                  \
  void name(const S *src, D *dst, std::size_t n, int frac_bits, q8_rounding r) {                 \
    const auto fn = k().name;                                                                      \
    map(n, std::max(sizeof(S), sizeof(D)), [&](std::size_t b, std::size_t c) {                     \
      fn(src + b, dst + b, c, frac_bits, r);                                                       \
    });                                                                                            \
  }
Q8_FIXED_FROM(from_f32_s8, float, int8_t)
Q8_FIXED_FROM(from_f32_s16, float, int16_t)
Q8_FIXED_FROM(from_f32_s32, float, int32_t)
Q8_FIXED_FROM(from_f64_s8, double, int8_t)
Q8_FIXED_FROM(from_f64_s16, double, int16_t)
Q8_FIXED_FROM(from_f64_s32, double, int32_t)
#undef Q8_FIXED_FROM

#define Q8_FIXED_TO(name, S, D)                                                                    \
  void name(const S *src, D *dst, std::size_t n, int frac_bits) {                                \
    const auto fn = k().name;                                                                      \
    map(n, std::max(sizeof(S), sizeof(D)), [&](std::size_t b, std::size_t c) {                     \
      fn(src + b, dst + b, c, frac_bits);                                                          \
    });                                                                                            \
  }
Q8_FIXED_TO(to_f32_s8, int8_t, float)
Q8_FIXED_TO(to_f32_s16, int16_t, float)
Q8_FIXED_TO(to_f32_s32, int32_t, float)
Q8_FIXED_TO(to_f64_s8, int8_t, double)
Q8_FIXED_TO(to_f64_s16, int16_t, double)
Q8_FIXED_TO(to_f64_s32, int32_t, double)
#undef Q8_FIXED_TO

#define Q8_FIXED_MAP1(name, S, D)                                                                  \
  void name(const S *src, D *dst, std::size_t n) {                                               \
    const auto fn = k().name;                                                                      \
    map(n, std::max(sizeof(S), sizeof(D)), [&](std::size_t b, std::size_t c) { fn(src + b, dst + b, c); }); \
  }
Q8_FIXED_MAP1(q7_to_q15, int8_t, int16_t)
Q8_FIXED_MAP1(q7_to_q31, int8_t, int32_t)
Q8_FIXED_MAP1(q15_to_q7, int16_t, int8_t)
Q8_FIXED_MAP1(q15_to_q31, int16_t, int32_t)
Q8_FIXED_MAP1(q31_to_q7, int32_t, int8_t)
Q8_FIXED_MAP1(q31_to_q15, int32_t, int16_t)
Q8_FIXED_MAP1(negate_q7, int8_t, int8_t)
Q8_FIXED_MAP1(negate_q15, int16_t, int16_t)
Q8_FIXED_MAP1(negate_q31, int32_t, int32_t)
Q8_FIXED_MAP1(abs_q7, int8_t, int8_t)
Q8_FIXED_MAP1(abs_q15, int16_t, int16_t)
Q8_FIXED_MAP1(abs_q31, int32_t, int32_t)
#undef Q8_FIXED_MAP1

#define Q8_FIXED_MAP2(name, T)                                                                     \
  void name(const T *a, const T *b, T *dst, std::size_t n) {                                     \
    const auto fn = k().name;                                                                      \
    map(n, sizeof(T), [&](std::size_t i, std::size_t c) { fn(a + i, b + i, dst + i, c); });        \
  }
Q8_FIXED_MAP2(add_q7, int8_t)
Q8_FIXED_MAP2(add_q15, int16_t)
Q8_FIXED_MAP2(add_q31, int32_t)
Q8_FIXED_MAP2(sub_q7, int8_t)
Q8_FIXED_MAP2(sub_q15, int16_t)
Q8_FIXED_MAP2(sub_q31, int32_t)
Q8_FIXED_MAP2(mult_q7, int8_t)
Q8_FIXED_MAP2(mult_q15, int16_t)
Q8_FIXED_MAP2(mult_q31, int32_t)
#undef Q8_FIXED_MAP2

#define Q8_FIXED_SHIFT(name, T)                                                                    \
  void name(const T *src, int shift, T *dst, std::size_t n) {                                    \
    const auto fn = k().name;                                                                      \
    map(n, sizeof(T), [&](std::size_t b, std::size_t c) { fn(src + b, shift, dst + b, c); });      \
  }
Q8_FIXED_SHIFT(shift_q7, int8_t)
Q8_FIXED_SHIFT(shift_q15, int16_t)
Q8_FIXED_SHIFT(shift_q31, int32_t)
#undef Q8_FIXED_SHIFT

#define Q8_FIXED_SCALE(name, T)                                                                    \
  void name(const T *src, T scale_fract, int shift, T *dst, std::size_t n) {                     \
    const auto fn = k().name;                                                                      \
    map(n, sizeof(T), [&](std::size_t b, std::size_t c) { fn(src + b, scale_fract, shift, dst + b, c); }); \
  }
Q8_FIXED_SCALE(scale_q7, int8_t)
Q8_FIXED_SCALE(scale_q15, int16_t)
Q8_FIXED_SCALE(scale_q31, int32_t)
#undef Q8_FIXED_SCALE

int32_t dot_prod_q7(const int8_t *a, const int8_t *b, std::size_t n) {
  const auto fn = k().dot_q7;
  return wrap32(sum<uint32_t>(n, 1, [&](std::size_t i, std::size_t c) { return fn(a + i, b + i, c); }));
}
int64_t dot_prod_q15(const int16_t *a, const int16_t *b, std::size_t n) {
  const auto fn = k().dot_q15;
  return wrap64(sum<uint64_t>(n, 2, [&](std::size_t i, std::size_t c) { return fn(a + i, b + i, c); }));
}
int64_t dot_prod_q31(const int32_t *a, const int32_t *b, std::size_t n) {
  const auto fn = k().dot_q31;
  return wrap64(sum<uint64_t>(n, 4, [&](std::size_t i, std::size_t c) { return fn(a + i, b + i, c); }));
}

int8_t add_q7_scalar(int8_t a, int8_t b) noexcept { return add_one(a, b); }
int16_t add_q15_scalar(int16_t a, int16_t b) noexcept { return add_one(a, b); }
int32_t add_q31_scalar(int32_t a, int32_t b) noexcept { return add_one(a, b); }
int8_t sub_q7_scalar(int8_t a, int8_t b) noexcept { return sub_one(a, b); }
int16_t sub_q15_scalar(int16_t a, int16_t b) noexcept { return sub_one(a, b); }
int32_t sub_q31_scalar(int32_t a, int32_t b) noexcept { return sub_one(a, b); }
int8_t negate_q7_scalar(int8_t x) noexcept { return negate_one(x); }
int16_t negate_q15_scalar(int16_t x) noexcept { return negate_one(x); }
int32_t negate_q31_scalar(int32_t x) noexcept { return negate_one(x); }
int8_t abs_q7_scalar(int8_t x) noexcept { return abs_one(x); }
int16_t abs_q15_scalar(int16_t x) noexcept { return abs_one(x); }
int32_t abs_q31_scalar(int32_t x) noexcept { return abs_one(x); }
int8_t mult_q7_scalar(int8_t a, int8_t b) noexcept { return mult_one(a, b); }
int16_t mult_q15_scalar(int16_t a, int16_t b) noexcept { return mult_one(a, b); }
int32_t mult_q31_scalar(int32_t a, int32_t b) noexcept { return mult_one(a, b); }
int8_t shift_q7_scalar(int8_t x, int shift) noexcept { return shift_one(x, shift); }
int16_t shift_q15_scalar(int16_t x, int shift) noexcept { return shift_one(x, shift); }
int32_t shift_q31_scalar(int32_t x, int shift) noexcept { return shift_one(x, shift); }
int32_t mac_q7_scalar(int32_t acc, int8_t a, int8_t b) noexcept { return mac_q7_one(acc, a, b); }
int64_t mac_q15_scalar(int64_t acc, int16_t a, int16_t b) noexcept { return mac_q15_one(acc, a, b); }
int64_t mac_q31_scalar(int64_t acc, int32_t a, int32_t b) noexcept { return mac_q31_one(acc, a, b); }

}  // namespace q8::fixed
