// Portable kernels: the reference every SIMD path is tested against.
#include "quant/kernels/kernels.hpp"
#include "quant/kernels/reference.hpp"

namespace q8::quant {
namespace {

template <class Q, int32_t QMIN, int32_t QMAX>
void quantize(const float *x, Q *y, std::size_t n, float scale, int32_t zp) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<Q>(quantize_one<QMIN, QMAX>(x[i], scale, zp));
}

template <class Q, int32_t QMIN, int32_t QMAX>
void quantize_vec(const float *x, Q *y, std::size_t n, const float *scales, const int32_t *zps) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<Q>(quantize_one<QMIN, QMAX>(x[i], scales[i], zps[i]));
}

template <class Q>
void dequantize(const Q *q, float *y, std::size_t n, float scale, int32_t zp) {
  for (std::size_t i = 0; i < n; ++i) y[i] = dequantize_one(q[i], scale, zp);
}

template <class Q>
void dequantize_vec(const Q *q, float *y, std::size_t n, const float *scales, const int32_t *zps) {
  for (std::size_t i = 0; i < n; ++i) y[i] = dequantize_one(q[i], scales[i], zps[i]);
}

}  // namespace

const Kernels kScalarKernels = {
    quantize<int8_t, -128, 127>,     quantize<uint8_t, 0, 255>,
    quantize_vec<int8_t, -128, 127>, quantize_vec<uint8_t, 0, 255>,
    dequantize<int8_t>,              dequantize<uint8_t>,
    dequantize_vec<int8_t>,          dequantize_vec<uint8_t>,
};

}  // namespace q8::quant
