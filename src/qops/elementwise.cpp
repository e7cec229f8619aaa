// Element-wise quantized operators. Inputs are 8-bit, so each operand is dequantized through a
// 256-entry f32 table (the same float q8_dequantize returns) and unary operators are one byte
// table: the per-element work is a lookup, and the bits are those of the scalar definition.
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/runtime.hpp"
#include "qops/qops.hpp"
#include "quant/kernels/reference.hpp"

namespace q8::qops {
namespace {

constexpr std::size_t kGrain = 1 << 14;
constexpr std::size_t kInlineBelow = 1 << 16;

// Value of the byte at index v (u8: v; s8: v - 128), i.e. index = byte ^ 0x80 for s8.
int32_t value_of_index(q8_dtype dt, int v) { return dt == Q8_DTYPE_S8 ? v - 128 : v; }
uint8_t flip_of(q8_dtype dt) { return dt == Q8_DTYPE_S8 ? 0x80 : 0x00; }

void dequant_table(q8_dtype dt, Affine p, float table[256]) {
  for (int v = 0; v < 256; ++v) table[v] = quant::dequantize_one(value_of_index(dt, v), p.scale, p.zero_point);
}

}  // namespace

uint8_t quantize_byte(float x, q8_dtype dtype, Affine p) {
  if (dtype == Q8_DTYPE_S8) return uint8_t(int8_t(quant::quantize_one<-128, 127>(x, p.scale, p.zero_point)));
  return uint8_t(quant::quantize_one<0, 255>(x, p.scale, p.zero_point));
}

std::vector<int64_t> broadcast_shape(const int64_t *a, std::size_t ra, const int64_t *b, std::size_t rb,
                                     const char *what) {
  const std::size_t r = ra > rb ? ra : rb;
  std::vector<int64_t> out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
    const int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
    if (da != db && da != 1 && db != 1)
      fail(Q8_ERR_SHAPE, std::string(what) + ": dimension " + std::to_string(i) + " of the aligned shapes is " +
                             std::to_string(da) + " and " + std::to_string(db) + ", which do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void binary(Binary op, const q8_tensor &a, Affine pa, const q8_tensor &b, Affine pb, q8_tensor &y, Affine py) {
  if (y.numel == 0) return;
  float ta[256], tb[256];
  dequant_table(a.dtype, pa, ta);
  dequant_table(b.dtype, pb, tb);
  const uint8_t fa = flip_of(a.dtype), fb = flip_of(b.dtype);
  // Strides of a and b in y's coordinates (0 along broadcast dimensions).
  const std::size_t r = y.rank;
  std::vector<int64_t> sa(r, 0), sb(r, 0);
  int64_t st = 1;
  for (std::size_t i = a.rank; i-- > 0;) {
    if (a.shape[i] != 1) sa[r - a.rank + i] = st;
    st *= a.shape[i];
  }
  st = 1;
  for (std::size_t i = b.rank; i-- > 0;) {
    if (b.shape[i] != 1) sb[r - b.rank + i] = st;
    st *= b.shape[i];
  }
  const int64_t inner = r == 0 ? 1 : y.shape[r - 1];
  const int64_t ia = r == 0 ? 0 : sa[r - 1], ib = r == 0 ? 0 : sb[r - 1];
  const std::size_t rows = y.numel / std::size_t(inner);
  const uint8_t *pa8 = static_cast<const uint8_t *>(a.data), *pb8 = static_cast<const uint8_t *>(b.data);
  uint8_t *out = static_cast<uint8_t *>(y.data);
  const std::size_t grain = std::max<std::size_t>(1, kGrain / std::size_t(inner));
  parallel_for(rows, grain, std::max<std::size_t>(1, kInlineBelow / std::size_t(inner)), [&](std::size_t r0, std::size_t r1) {
    for (std::size_t row = r0; row < r1; ++row) {
      // Offsets of this row's first element in a and b.
      int64_t oa = 0, ob = 0, rem = int64_t(row);
      for (std::size_t d = r > 0 ? r - 1 : 0; d-- > 0;) {
        const int64_t idx = rem % y.shape[d];
        rem /= y.shape[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      const uint8_t *xa = pa8 + oa, *xb = pb8 + ob;
      uint8_t *dst = out + row * std::size_t(inner);
      if (op == Binary::kAdd) {
        for (int64_t j = 0; j < inner; ++j)
          dst[j] = quantize_byte(ta[xa[j * ia] ^ fa] + tb[xb[j * ib] ^ fb], y.dtype, py);
      } else {
        for (int64_t j = 0; j < inner; ++j)
          dst[j] = quantize_byte(ta[xa[j * ia] ^ fa] * tb[xb[j * ib] ^ fb], y.dtype, py);
      }
    }
  });
}

void build_table(Unary f, float c, q8_dtype in, Affine pin, q8_dtype out, Affine pout, uint8_t table[256]) {
  for (int v = 0; v < 256; ++v) {
    const float x = quant::dequantize_one(value_of_index(in, v), pin.scale, pin.zero_point);
    float fx = 0.0f;
    switch (f) {
      case Unary::kIdentity: fx = x; break;
      case Unary::kRelu: fx = x > 0.0f ? x : 0.0f; break;
      // In double, rounded once to f32: glibc's exp and tanh are the same on every x86-64 path.
      case Unary::kSigmoid: fx = float(1.0 / (1.0 + std::exp(-double(x)))); break;
      case Unary::kTanh: fx = float(std::tanh(double(x))); break;
      case Unary::kScale: fx = x * c; break;
    }
    table[v] = quantize_byte(fx, out, pout);
  }
}

void apply_table(const uint8_t table[256], const q8_tensor &x, q8_tensor &y) {
  const uint8_t fl = flip_of(x.dtype);
  const uint8_t *in = static_cast<const uint8_t *>(x.data);
  uint8_t *out = static_cast<uint8_t *>(y.data);
  parallel_for(x.numel, kGrain, kInlineBelow, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) out[i] = table[in[i] ^ fl];
  });
}

Affine dynamic_qparams(const float *x, std::size_t n, const char *what) {
  float lo = 0.0f, hi = 0.0f;  // the range always includes 0
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (std::isnan(v)) continue;
    if (std::isinf(v))
      fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + ": element " + std::to_string(i) +
                                        " is infinite; its quantization range is undefined");
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  Affine p;
  p.scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  if (!std::isfinite(p.scale))
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + ": the range [" + std::to_string(lo) + ", " +
                                      std::to_string(hi) + "] is too wide for an f32 scale");
  float z = 0.0f - lo / p.scale;
  z = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
  p.zero_point = int32_t(std::nearbyint(z));
  return p;
}

}  // namespace q8::qops
