// q8_gemm_* entry points: argument checks with messages that name the argument, then the driver
// (src/gemm/). Nothing here computes.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/guard.hpp"
#include "core/runtime.hpp"
#include "gemm/gemm.hpp"

struct q8_gemm_packed {
  q8::gemm::Packed impl;
};

using namespace q8;
using std::to_string;

namespace {

void check_dim(int64_t v, const char *name) {
  if (v < 0) fail(Q8_ERR_SHAPE, std::string(name) + " = " + to_string(v) + " is negative");
}

bool read_transpose(const q8_transpose &t, const char *name) {
  const int v = enum_bits(t);
  Q8_CHECK_ARG(v == Q8_NO_TRANSPOSE || v == Q8_TRANSPOSE,
               std::string(name) + " = " + to_string(v) + " is not a q8_transpose");
  return v == Q8_TRANSPOSE;
}

// A matrix stored as `rows` rows of `cols` elements of `elem` bytes, `ld` elements apart: the
// leading dimension must hold a row, the extent must be addressable, and the pointer non-NULL
// unless the matrix is empty.
void check_matrix(const void *p, const char *name, int64_t rows, int64_t cols, int64_t ld,
                  const char *ld_name, size_t elem) {
  const int64_t min_ld = cols > 1 ? cols : 1;
  if (ld < min_ld)
    fail(Q8_ERR_SHAPE, std::string(ld_name) + " = " + to_string(ld) + " is less than " + to_string(min_ld) +
                           ", the length of " + name + "'s stored rows");
  if (rows == 0 || cols == 0) return;
  int64_t extent, bytes;
  if (__builtin_mul_overflow(rows - 1, ld, &extent) || __builtin_add_overflow(extent, cols, &extent) ||
      __builtin_mul_overflow(extent, int64_t(elem), &bytes) || bytes > int64_t(PTRDIFF_MAX))
    fail(Q8_ERR_SHAPE, std::string(name) + ": " + to_string(rows) + " rows of " + to_string(ld) +
                           " elements do not fit in the address space");
  if (!p) fail(Q8_ERR_INVALID_ARGUMENT, std::string(name) + " is NULL");
}

void check_zero_points_b(const int32_t *zb, size_t count, int64_t n) {
  if (count == 0) return;
  Q8_CHECK_ARG(count == 1 || count == size_t(n),
               "b_zero_point_count = " + to_string(count) + " must be 0, 1 or n = " + to_string(n));
  Q8_CHECK_ARG(zb != nullptr, "b_zero_points is NULL but b_zero_point_count = " + to_string(count));
  for (size_t j = 0; j < count; ++j)
    Q8_CHECK_ARG(zb[j] >= -128 && zb[j] <= 127,
                 "b_zero_points[" + to_string(j) + "] = " + to_string(zb[j]) + " is outside [-128, 127]");
}

void check_zero_point_a(int32_t za, bool is_signed) {
  const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  Q8_CHECK_ARG(za >= lo && za <= hi, "a_zero_point = " + to_string(za) + " is outside [" + to_string(lo) +
                                         ", " + to_string(hi) + "]");
}

// Validates the caller's epilogue (NULL = defaults) for N output columns.
gemm::Epilogue read_epilogue(const q8_gemm_epilogue *in, int64_t n) {
  q8_gemm_epilogue o;
  q8_gemm_epilogue_init(&o);
  if (in) {
    Q8_CHECK_ARG(in->struct_size >= offsetof(q8_gemm_epilogue, qmax) + sizeof(int32_t) &&
                     in->struct_size <= 4096,
                 "epilogue->struct_size = " + to_string(in->struct_size) +
                     " is not a known size (use q8_gemm_epilogue_init)");
    std::memcpy(&o, in, std::min(in->struct_size, sizeof o));
  }
  const int kind = enum_bits(o.kind), out = enum_bits(o.output_dtype);
  Q8_CHECK_ARG(kind >= Q8_GEMM_EPILOGUE_S32 && kind <= Q8_GEMM_EPILOGUE_DEQUANTIZE,
               "epilogue->kind = " + to_string(kind) + " is not a q8_gemm_epilogue_kind");
  gemm::Epilogue e;
  e.kind = q8_gemm_epilogue_kind(kind);
  const bool requant = kind == Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED || kind == Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT;
  const char *want = kind == Q8_GEMM_EPILOGUE_S32 ? "Q8_DTYPE_S32"
                     : requant                    ? "Q8_DTYPE_U8 or Q8_DTYPE_S8"
                                                  : "Q8_DTYPE_F32";
  const bool dtype_ok = kind == Q8_GEMM_EPILOGUE_S32 ? out == Q8_DTYPE_S32
                        : requant                    ? (out == Q8_DTYPE_U8 || out == Q8_DTYPE_S8)
                                                     : out == Q8_DTYPE_F32;
  if (!dtype_ok)
    fail(Q8_ERR_DTYPE, "epilogue->output_dtype = " + to_string(out) + " does not go with epilogue->kind = " +
                           to_string(kind) + " (wants " + want + ")");
  e.out = q8_dtype(out);
  e.bias = o.bias;
  if (kind == Q8_GEMM_EPILOGUE_S32) return e;
  Q8_CHECK_ARG(o.channels == 1 || o.channels == size_t(n),
               "epilogue->channels = " + to_string(o.channels) + " must be 1 or n = " + to_string(n));
  const size_t ch = o.channels;
  auto expand = [&](auto *src, auto &dst) {
    dst.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) dst[size_t(j)] = src[ch == 1 ? 0 : j];
  };
  if (kind == Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED) {
    Q8_CHECK_ARG(o.multiplier != nullptr, "epilogue->multiplier is NULL");
    Q8_CHECK_ARG(o.shift != nullptr, "epilogue->shift is NULL");
    for (size_t c = 0; c < ch; ++c) {
      Q8_CHECK_ARG(o.multiplier[c] >= 0, "epilogue->multiplier[" + to_string(c) + "] = " +
                                             to_string(o.multiplier[c]) + " is negative");
      Q8_CHECK_ARG(o.shift[c] >= -31 && o.shift[c] <= 30, "epilogue->shift[" + to_string(c) + "] = " +
                                                              to_string(o.shift[c]) + " is outside [-31, 30]");
    }
    expand(o.multiplier, e.multiplier);
    expand(o.shift, e.shift);
  } else {
    Q8_CHECK_ARG(o.scale != nullptr, "epilogue->scale is NULL");
    for (size_t c = 0; c < ch; ++c)
      Q8_CHECK_ARG(std::isfinite(o.scale[c]) && o.scale[c] > 0.0f,
                   "epilogue->scale[" + to_string(c) + "] = " + std::to_string(o.scale[c]) +
                       " is not finite and > 0");
    expand(o.scale, e.scale);
  }
  if (!requant) return e;
  const int32_t lo = out == Q8_DTYPE_U8 ? 0 : -128, hi = out == Q8_DTYPE_U8 ? 255 : 127;
  Q8_CHECK_ARG(o.zero_point >= lo && o.zero_point <= hi,
               "epilogue->zero_point = " + to_string(o.zero_point) + " is outside the output type's range [" +
                   to_string(lo) + ", " + to_string(hi) + "]");
  e.zero_point = o.zero_point;
  e.qmin = std::max(o.qmin, lo);
  e.qmax = std::min(o.qmax, hi);
  Q8_CHECK_ARG(o.qmin <= o.qmax && e.qmin <= e.qmax,
               "epilogue->qmin = " + to_string(o.qmin) + ", qmax = " + to_string(o.qmax) +
                   " leave no value of the output type's range [" + to_string(lo) + ", " + to_string(hi) + "]");
  return e;
}

gemm::AView read_a(const void *a, int64_t lda, bool trans, bool is_signed, int32_t za, int64_t m, int64_t k) {
  check_zero_point_a(za, is_signed);
  check_matrix(a, "a", trans ? k : m, trans ? m : k, lda, "lda", 1);
  gemm::AView v;
  v.a = static_cast<const uint8_t *>(a);
  v.lda = lda;
  v.trans = trans;
  v.is_signed = is_signed;
  v.zero_point = za;
  return v;
}

void gemm_unpacked(const q8_transpose &trans_a, const q8_transpose &trans_b, int64_t m, int64_t n, int64_t k,
                   const void *a, int64_t lda, int32_t a_zero_point, bool a_signed, const int8_t *b,
                   int64_t ldb, const int32_t *b_zero_points, size_t b_zero_point_count,
                   const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  const bool ta = read_transpose(trans_a, "trans_a"), tb = read_transpose(trans_b, "trans_b");
  check_dim(m, "m");
  check_dim(n, "n");
  check_dim(k, "k");
  const gemm::AView av = read_a(a, lda, ta, a_signed, a_zero_point, m, k);
  check_matrix(b, "b", tb ? n : k, tb ? k : n, ldb, "ldb", 1);
  check_zero_points_b(b_zero_points, b_zero_point_count, n);
  const gemm::Epilogue e = read_epilogue(epilogue, n);
  check_matrix(c, "c", m, n, ldc, "ldc", q8_dtype_size(e.out));
  if (m == 0 || n == 0) return;
  if (active_isa() == Q8_ISA_SCALAR) {  // the oracle itself, on the caller's layouts
    std::vector<int32_t> zb(size_t(n), 0);
    for (int64_t j = 0; j < n; ++j)
      zb[size_t(j)] = b_zero_point_count == 0 ? 0 : b_zero_points[b_zero_point_count == 1 ? 0 : j];
    gemm::reference(av, m, n, k, b, ldb, tb, zb.data(), e, c, ldc);
    return;
  }
  gemm::Packed p;
  gemm::pack_b(p, tb, k, n, b, ldb, b_zero_points, b_zero_point_count);
  gemm::run(av, m, p, e, c, ldc);
}

void gemm_packed(const q8_transpose &trans_a, int64_t m, const void *a, int64_t lda, int32_t a_zero_point,
                 bool a_signed, const q8_gemm_packed *b, const q8_gemm_epilogue *epilogue, void *c,
                 int64_t ldc) {
  const bool ta = read_transpose(trans_a, "trans_a");
  check_dim(m, "m");
  Q8_CHECK_NOT_NULL(b);
  const int64_t n = b->impl.n, k = b->impl.k;
  const gemm::AView av = read_a(a, lda, ta, a_signed, a_zero_point, m, k);
  const gemm::Epilogue e = read_epilogue(epilogue, n);
  check_matrix(c, "c", m, n, ldc, "ldc", q8_dtype_size(e.out));
  gemm::run(av, m, b->impl, e, c, ldc);
}

}  // namespace

extern "C" {

q8_status q8_gemm_epilogue_init(q8_gemm_epilogue *epilogue) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(epilogue);
    std::memset(epilogue, 0, sizeof *epilogue);
    epilogue->struct_size = sizeof *epilogue;
    epilogue->kind = Q8_GEMM_EPILOGUE_S32;
    epilogue->output_dtype = Q8_DTYPE_S32;
    epilogue->bias = nullptr;
    epilogue->channels = 1;
    epilogue->multiplier = nullptr;
    epilogue->shift = nullptr;
    epilogue->scale = nullptr;
    epilogue->zero_point = 0;
    epilogue->qmin = INT32_MIN;
    epilogue->qmax = INT32_MAX;
  });
}

q8_status q8_gemm_u8s8(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k,
                       const uint8_t *a, int64_t lda, int32_t a_zero_point, const int8_t *b, int64_t ldb,
                       const int32_t *b_zero_points, size_t b_zero_point_count,
                       const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  return guard(__func__, [&] {
    gemm_unpacked(trans_a, trans_b, m, n, k, a, lda, a_zero_point, false, b, ldb, b_zero_points,
                  b_zero_point_count, epilogue, c, ldc);
  });
}

q8_status q8_gemm_s8s8(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k,
                       const int8_t *a, int64_t lda, int32_t a_zero_point, const int8_t *b, int64_t ldb,
                       const int32_t *b_zero_points, size_t b_zero_point_count,
                       const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  return guard(__func__, [&] {
    gemm_unpacked(trans_a, trans_b, m, n, k, a, lda, a_zero_point, true, b, ldb, b_zero_points,
                  b_zero_point_count, epilogue, c, ldc);
  });
}

q8_status q8_gemm_pack_b(q8_transpose trans_b, int64_t k, int64_t n, const int8_t *b, int64_t ldb,
                         const int32_t *b_zero_points, size_t b_zero_point_count, q8_gemm_packed **out) {
  return guard(__func__, [&] {
    const bool tb = read_transpose(trans_b, "trans_b");
    check_dim(k, "k");
    check_dim(n, "n");
    check_matrix(b, "b", tb ? n : k, tb ? k : n, ldb, "ldb", 1);
    check_zero_points_b(b_zero_points, b_zero_point_count, n);
    Q8_CHECK_NOT_NULL(out);
    // The packed size, (N rounded up to 32) x (K rounded up to 4) bytes, must be addressable.
    int64_t bytes;
    if (__builtin_mul_overflow((n + gemm::kNR - 1) / gemm::kNR * gemm::kNR, (k + 3) / 4 * 4, &bytes) ||
        bytes > int64_t(PTRDIFF_MAX) / 2)
      fail(Q8_ERR_SHAPE, "k = " + to_string(k) + ", n = " + to_string(n) + ": the packed matrix is too large");
    auto h = std::make_unique<q8_gemm_packed>();
    gemm::pack_b(h->impl, tb, k, n, b, ldb, b_zero_points, b_zero_point_count);
    *out = h.release();
  });
}

void q8_gemm_packed_destroy(q8_gemm_packed *packed) { delete packed; }

q8_status q8_gemm_packed_shape(const q8_gemm_packed *packed, int64_t *k, int64_t *n) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(packed);
    if (k) *k = packed->impl.k;
    if (n) *n = packed->impl.n;
  });
}

q8_status q8_gemm_u8s8_packed(q8_transpose trans_a, int64_t m, const uint8_t *a, int64_t lda,
                              int32_t a_zero_point, const q8_gemm_packed *b,
                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  return guard(__func__, [&] {
    gemm_packed(trans_a, m, a, lda, a_zero_point, false, b, epilogue, c, ldc);
  });
}

q8_status q8_gemm_s8s8_packed(q8_transpose trans_a, int64_t m, const int8_t *a, int64_t lda,
                              int32_t a_zero_point, const q8_gemm_packed *b,
                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc) {
  return guard(__func__, [&] {
    gemm_packed(trans_a, m, a, lda, a_zero_point, true, b, epilogue, c, ldc);
  });
}

}  // extern "C"
