// q8_sparse_* entry points: argument checks with messages that name the argument, then
// src/sparse/. Nothing here computes.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/gemm_checks.hpp"
#include "capi/guard.hpp"
#include "core/dtype.hpp"
#include "core/tensor.hpp"
#include "q8/sparse.h"
#include "sparse/gemm.hpp"

using namespace q8;
using std::to_string;

namespace {

// The tensor's scales, if its parameters are of a kind the format keeps: symmetric (zero point
// 0, so an element not stored is real zero), per tensor or per row (axis 0).
std::vector<float> read_scales(const q8_tensor &t) {
  if (!t.qp.present()) return {};
  if (t.qp.axis > 0)
    fail(Q8_ERR_UNSUPPORTED, "dense is quantized per axis " + to_string(t.qp.axis) +
                                 "; a sparse matrix keeps one scale per tensor or per row (axis 0)");
  for (size_t i = 0; i < t.qp.zero_points.size(); ++i)
    if (t.qp.zero_points[i] != 0)
      fail(Q8_ERR_UNSUPPORTED, "dense has zero point " + to_string(t.qp.zero_points[i]) +
                                   (t.qp.axis == 0 ? " at row " + to_string(i) : std::string()) +
                                   "; a sparse matrix needs symmetric parameters (zero point 0)");
  return t.qp.scales;
}

void sparse_gemm(int64_t m, const void *a, int64_t lda, int32_t za, bool is_signed, const q8_sparse *w,
                 const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  if (m < 0) fail(Q8_ERR_SHAPE, "m = " + to_string(m) + " is negative");
  Q8_CHECK_NOT_NULL(w);
  const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  Q8_CHECK_ARG(za >= lo && za <= hi, "a_zero_point = " + to_string(za) + " is outside [" + to_string(lo) +
                                         ", " + to_string(hi) + "]");
  capi::check_matrix(a, "a", m, w->cols, lda, "lda", 1);
  const gemm::Epilogue e = capi::read_gemm_epilogue(epilogue, w->rows);
  capi::check_matrix(c, "c", m, w->rows, ldc, "ldc", q8_dtype_size(e.out));
  gemm::AView av;
  av.a = static_cast<const uint8_t *>(a);
  av.lda = lda;
  av.is_signed = is_signed;
  av.zero_point = za;
  sparse::run(av, m, *w, e, c, ldc);
}

}  // namespace

extern "C" {

q8_status q8_sparse_from_dense(const q8_tensor *dense, q8_sparse_format format, int64_t block_rows,
                               int64_t block_cols, q8_sparse **out) {
  return guard(__func__, [&] {
    const q8_tensor &t = deref(dense, "dense");
    const int f = enum_bits(format);
    Q8_CHECK_ARG(f >= Q8_SPARSE_CSR && f <= Q8_SPARSE_BITMAP,
                 "format = " + to_string(f) + " is not a q8_sparse_format");
    Q8_CHECK_NOT_NULL(out);
    if (t.dtype != Q8_DTYPE_S8)
      fail(Q8_ERR_DTYPE, std::string("dense is ") + dtype_name(t.dtype) + "; sparse matrices hold s8");
    if (t.rank < 2)
      fail(Q8_ERR_SHAPE, "dense has rank " + to_string(t.rank) +
                             "; a sparse matrix needs rank >= 2 (rows = dimension 0, cols = the rest)");
    auto h = std::make_unique<q8_sparse>();
    sparse::from_dense(*h, static_cast<const int8_t *>(t.data), std::vector<int64_t>(t.shape, t.shape + t.rank),
                       read_scales(t), q8_sparse_format(f), block_rows, block_cols);
    h->per_row = t.qp.present() && t.qp.axis == 0;
    *out = h.release();
  });
}

q8_status q8_sparse_to_dense(const q8_sparse *sparse, q8_tensor **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(sparse);
    Q8_CHECK_NOT_NULL(out);
    auto t = std::make_unique<q8_tensor>();
    t->dtype = Q8_DTYPE_S8;
    t->rank = sparse->shape.size();
    std::copy(sparse->shape.begin(), sparse->shape.end(), t->shape);
    t->numel = checked_numel(t->shape, t->rank, 1, "shape");
    t->data = aligned_zalloc(t->nbytes());
    t->owned = true;
    sparse::to_dense(*sparse, static_cast<int8_t *>(t->data));
    if (!sparse->scales.empty()) {
      t->qp.axis = sparse->per_row ? 0 : -1;
      t->qp.scales = sparse->scales;
      t->qp.zero_points.assign(sparse->scales.size(), 0);
    }
    *out = t.release();
  });
}

q8_status q8_sparse_get_info(const q8_sparse *sparse, q8_sparse_info *info) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(sparse);
    Q8_CHECK_NOT_NULL(info);
    // A caller built against a later header passes a longer struct: fill the fields known here.
    Q8_CHECK_ARG(info->struct_size >= sizeof(q8_sparse_info) && info->struct_size <= 4096,
                 "info->struct_size = " + to_string(info->struct_size) +
                     " is not a known size (set it to sizeof(q8_sparse_info))");
    const q8_sparse_info s = sparse::info(*sparse);
    std::memcpy(info, &s, sizeof s);
  });
}

void q8_sparse_destroy(q8_sparse *sparse) { delete sparse; }

q8_status q8_sparse_gemm_u8s8(int64_t m, const uint8_t *a, int64_t lda, int32_t a_zero_point, const q8_sparse *w,
                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  return guard(__func__, [&] { sparse_gemm(m, a, lda, a_zero_point, false, w, epilogue, c, ldc); });
}

q8_status q8_sparse_gemm_s8s8(int64_t m, const int8_t *a, int64_t lda, int32_t a_zero_point, const q8_sparse *w,
                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  return guard(__func__, [&] { sparse_gemm(m, a, lda, a_zero_point, true, w, epilogue, c, ldc); });
}

}  // extern "C"
