// Batched GEMM scheduling (batched.cpp) and the OpenBLAS FP32 path (f32.cpp).
#pragma once
#include <cstdint>
#include <functional>

namespace q8::gemm {

// Runs body(i) for i < count: in parallel across batches when one product costs fewer
// multiply-adds than the driver's inline threshold, else in order (each product then runs
// parallel inside). body must make item i's result independent of everything but i.
void for_each_batch(int64_t count, double ops_per_item, const std::function<void(int64_t)> &body);

// cblas_sgemm, row-major; arguments already validated and within int range.
void sgemm_f32(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

// "OpenBLAS <version> <core>", computed once.
const char *f32_backend() noexcept;

}  // namespace q8::gemm
