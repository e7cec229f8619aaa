#include "requant/requantize.hpp"

#include <cstdint>
#include <vector>

#include "core/runtime.hpp"
#include "requant/kernels/kernels.hpp"
#include "requant/primitives.hpp"

namespace q8::requant {
namespace {

// Work is split into chunks of this many elements (a multiple of every SIMD width) once an array
// is large enough for threads to pay off; chunking never changes an element's result.
constexpr std::size_t kGrain = 1 << 16;
constexpr std::size_t kInlineBelow = 1 << 17;

constexpr std::size_t kAlignInts = 64 / sizeof(int32_t);

// The epilogue's parameters in the form the kernels read (see Epilogue in kernels.hpp).
struct Prepared {
  Epilogue e;
  std::vector<int32_t> storage;
};

void prepare(Prepared &p, const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
             std::size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax, int32_t type_min,
             int32_t type_max) {
  Epilogue &e = p.e;
  e.channels = channels;
  e.zero_point = zero_point;
  e.qmin = qmin;
  e.qmax = qmax;
  e.lo = qmin - zero_point;  // both inside [-255, 255]: no overflow
  e.hi = qmax - zero_point;
  // Per tensor: period 1, single values. Per channel: the smallest multiple of `channels`
  // that is at least kMaxLanes, plus the padding that lets a vector load run past the cursor.
  std::size_t period = 1, len = 1;
  if (channels > 1) {
    period = channels;
    while (period < Epilogue::kMaxLanes) period += channels;
    len = period + Epilogue::kTilePad;
  }
  e.period = period;
  // Each array starts on a 64-byte boundary, so that when the channel count is a multiple of 16 the
  // vector loads at the cursor never split a cache line (a split load costs two).
  len = (len + kAlignInts - 1) / kAlignInts * kAlignInts;
  p.storage.resize(7 * len + kAlignInts);
  int32_t *b = p.storage.data();
  b += (kAlignInts - reinterpret_cast<uintptr_t>(b) / sizeof(int32_t) % kAlignInts) % kAlignInts;
  int32_t *m = b + len, *s = m + len, *l = s + len, *r = l + len, *mk = r + len, *h = mk + len;
  int32_t min_right = 31;
  for (std::size_t j = 0, c = 0; j < len; ++j) {
    b[j] = bias ? bias[c] : 0;
    m[j] = multiplier[c];
    s[j] = clamp_shift(shift[c]);
    l[j] = s[j] > 0 ? s[j] : 0;
    r[j] = s[j] > 0 ? 0 : -s[j];
    mk[j] = static_cast<int32_t>((int64_t(1) << r[j]) - 1);
    h[j] = mk[j] >> 1;
    e.any_left_shift |= s[j] > 0;
    e.any_min_multiplier |= m[j] == kInt32Min;
    e.any_bias |= b[j] != 0;
    min_right = r[j] < min_right ? r[j] : min_right;
    if (++c == channels) c = 0;
  }
  e.narrowing_clamps = qmin == type_min && qmax == type_max && min_right >= 1;
  e.bias = b;
  e.multiplier = m;
  e.shift = s;
  e.left = l;
  e.right = r;
  e.mask = mk;
  e.half = h;
}

template <class Q, class Kernel>
void run(int32_t type_min, int32_t type_max, const int32_t *acc, std::size_t n, const int32_t *bias,
         const int32_t *multiplier, const int32_t *shift, std::size_t channels, int32_t zero_point, int32_t qmin,
         int32_t qmax, Q *dst, Kernel Kernels::*which) {
  Prepared p;
  prepare(p, bias, multiplier, shift, channels, zero_point, qmin, qmax, type_min, type_max);
  const Kernel kernel = active_kernels().*which;
  const Epilogue &e = p.e;
  parallel_for(n, kGrain, kInlineBelow, [&](std::size_t begin, std::size_t end) {
    kernel(acc + begin, dst + begin, end - begin, e, channels > 1 ? begin % channels : 0);
  });
}

}  // namespace

void requantize_s8(const int32_t *acc, std::size_t n, const int32_t *bias, const int32_t *multiplier,
                   const int32_t *shift, std::size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax,
                   int8_t *dst) {
  run(-128, 127, acc, n, bias, multiplier, shift, channels, zero_point, qmin, qmax, dst, &Kernels::requantize_s8);
}

void requantize_u8(const int32_t *acc, std::size_t n, const int32_t *bias, const int32_t *multiplier,
                   const int32_t *shift, std::size_t channels, int32_t zero_point, int32_t qmin, int32_t qmax,
                   uint8_t *dst) {
  run(0, 255, acc, n, bias, multiplier, shift, channels, zero_point, qmin, qmax, dst, &Kernels::requantize_u8);
}

}  // namespace q8::requant
