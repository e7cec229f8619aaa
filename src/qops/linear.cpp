// GEMM/conv epilogues from quantization parameters.
#include "qops/qops.hpp"

namespace q8::qops {

gemm::Epilogue make_epilogue(q8_dtype out, float alpha, float sa, const float *sb, std::size_t sb_count,
                             Affine y, const int32_t *bias, int64_t n) {
  gemm::Epilogue e;
  e.out = out;
  e.bias = bias;
  if (out == Q8_DTYPE_S32) {
    e.kind = Q8_GEMM_EPILOGUE_S32;
    return e;
  }
  const float as = alpha * sa;  // ONNX Runtime's order: ((alpha * sa) * sb[j]) / sy, each in f32
  e.scale.resize(std::size_t(n));
  for (int64_t j = 0; j < n; ++j) {
    const float s = as * sb[sb_count == 1 ? 0 : j];
    e.scale[std::size_t(j)] = out == Q8_DTYPE_F32 ? s : s / y.scale;
  }
  if (out == Q8_DTYPE_F32) {
    e.kind = Q8_GEMM_EPILOGUE_DEQUANTIZE;
    return e;
  }
  e.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT;
  e.zero_point = y.zero_point;
  e.qmin = out == Q8_DTYPE_U8 ? 0 : -128;
  e.qmax = out == Q8_DTYPE_U8 ? 255 : 127;
  return e;
}

}  // namespace q8::qops
