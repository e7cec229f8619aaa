// q8_gemm_* entry points: argument checks with messages that name the argument, then the driver
// (src/gemm/). Nothing here computes.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/gemm_checks.hpp"
#include "capi/guard.hpp"
#include "core/runtime.hpp"
#include "gemm/f32/ordered.hpp"
#include "gemm/gemm.hpp"

struct q8_gemm_packed {
  q8::gemm::Packed impl;
};

struct q8_gemm_f32_packed {
  q8::gemm::f32::PackedB impl;
};

using namespace q8;
using std::to_string;

namespace q8::capi {

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

}  // namespace q8::capi

using capi::check_matrix;

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
  if (in)
    o = read_versioned(*in, offsetof(q8_gemm_epilogue, qmax) + sizeof(int32_t), o, "epilogue",
                       "q8_gemm_epilogue_init");
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

// ---- shared with other entry points (capi/gemm_checks.hpp) ------------------------------------

namespace q8::capi {

gemm::Epilogue read_gemm_epilogue(const q8_gemm_epilogue *epilogue, int64_t n) {
  return read_epilogue(epilogue, n);
}

}  // namespace q8::capi

// ---- batched forms and the FP32 reference --------------------------------------------------------

#include <climits>
#include <utility>

#include "gemm/batched.hpp"

namespace {

void check_batch_count(int64_t count) {
  if (count < 0) fail(Q8_ERR_SHAPE, "batch_count = " + to_string(count) + " is negative");
}

// Base pointer + stride: every batch's matrix must be addressable (the base is checked as the
// single call would, the last batch's end must fit too).
void check_strided(const void *p, const char *name, int64_t rows, int64_t cols, int64_t ld, const char *ld_name,
                   size_t elem, int64_t stride, const char *stride_name, int64_t count) {
  check_matrix(p, name, rows, cols, ld, ld_name, elem);
  if (stride < 0) fail(Q8_ERR_SHAPE, std::string(stride_name) + " = " + to_string(stride) + " is negative");
  if (count <= 1 || rows == 0 || cols == 0) return;
  int64_t off, bytes;
  if (__builtin_mul_overflow(count - 1, stride, &off) || __builtin_add_overflow(off, (rows - 1) * ld + cols, &off) ||
      __builtin_mul_overflow(off, int64_t(elem), &bytes) || bytes > int64_t(PTRDIFF_MAX))
    fail(Q8_ERR_SHAPE, std::string(name) + ": " + to_string(count) + " matrices " + to_string(stride) +
                           " elements apart do not fit in the address space");
}

template <class T>
T entry(const T *array, int64_t i, const char *name) {
  if (!array[i]) fail(Q8_ERR_INVALID_ARGUMENT, std::string(name) + "[" + to_string(i) + "] is NULL");
  return array[i];
}

// One product on the caller's B, exactly as gemm_unpacked after its checks.
void one_unpacked(const gemm::AView &av, int64_t m, int64_t n, int64_t k, const int8_t *b, int64_t ldb, bool tb,
                  const int32_t *zb, size_t zb_count, const gemm::Epilogue &e, void *c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (active_isa() == Q8_ISA_SCALAR) {
    std::vector<int32_t> z(size_t(n), 0);
    for (int64_t j = 0; j < n; ++j) z[size_t(j)] = zb_count == 0 ? 0 : zb[zb_count == 1 ? 0 : j];
    gemm::reference(av, m, n, k, b, ldb, tb, z.data(), e, c, ldc);
    return;
  }
  gemm::Packed p;
  gemm::pack_b(p, tb, k, n, b, ldb, zb, zb_count);
  gemm::run(av, m, p, e, c, ldc);
}

double ops(int64_t m, int64_t n, int64_t k) { return double(m) * double(n) * double(std::max<int64_t>(k, 1)); }

void batched_unpacked(const q8_transpose &trans_a, const q8_transpose &trans_b, int64_t m, int64_t n, int64_t k,
                      const void *const *a, int64_t lda, int32_t za, bool a_signed, const int8_t *const *b,
                      int64_t ldb, const int32_t *zb, size_t zb_count, const q8_gemm_epilogue *epilogue,
                      void *const *c, int64_t ldc, int64_t count) {
  const bool ta = read_transpose(trans_a, "trans_a"), tb = read_transpose(trans_b, "trans_b");
  check_dim(m, "m");
  check_dim(n, "n");
  check_dim(k, "k");
  check_batch_count(count);
  check_zero_point_a(za, a_signed);
  check_zero_points_b(zb, zb_count, n);
  const gemm::Epilogue e = read_epilogue(epilogue, n);
  if (count == 0) return;
  Q8_CHECK_NOT_NULL(a);
  Q8_CHECK_NOT_NULL(b);
  Q8_CHECK_NOT_NULL(c);
  const bool a_empty = m == 0 || k == 0, b_empty = k == 0 || n == 0, c_empty = m == 0 || n == 0;
  std::vector<gemm::AView> av(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    av[size_t(i)] = read_a(a_empty ? a[i] : entry(a, i, "a"), lda, ta, a_signed, za, m, k);
    check_matrix(b_empty ? b[i] : entry(b, i, "b"), "b", tb ? n : k, tb ? k : n, ldb, "ldb", 1);
    check_matrix(c_empty ? c[i] : entry(c, i, "c"), "c", m, n, ldc, "ldc", q8_dtype_size(e.out));
  }
  gemm::for_each_batch(count, ops(m, n, k), [&](int64_t i) {
    one_unpacked(av[size_t(i)], m, n, k, b[i], ldb, tb, zb, zb_count, e, c[i], ldc);
  });
}

void strided_unpacked(const q8_transpose &trans_a, const q8_transpose &trans_b, int64_t m, int64_t n, int64_t k,
                      const void *a, int64_t lda, int64_t stride_a, int32_t za, bool a_signed, const int8_t *b,
                      int64_t ldb, int64_t stride_b, const int32_t *zb, size_t zb_count,
                      const q8_gemm_epilogue *epilogue, void *c, int64_t ldc, int64_t stride_c, int64_t count) {
  const bool ta = read_transpose(trans_a, "trans_a"), tb = read_transpose(trans_b, "trans_b");
  check_dim(m, "m");
  check_dim(n, "n");
  check_dim(k, "k");
  check_batch_count(count);
  const gemm::AView av0 = read_a(a, lda, ta, a_signed, za, m, k);
  check_strided(a, "a", ta ? k : m, ta ? m : k, lda, "lda", 1, stride_a, "stride_a", count);
  check_strided(b, "b", tb ? n : k, tb ? k : n, ldb, "ldb", 1, stride_b, "stride_b", count);
  check_zero_points_b(zb, zb_count, n);
  const gemm::Epilogue e = read_epilogue(epilogue, n);
  const size_t es = q8_dtype_size(e.out);
  check_strided(c, "c", m, n, ldc, "ldc", es, stride_c, "stride_c", count);
  if (count > 1 && m > 0 && n > 0 && stride_c < (m - 1) * ldc + n)
    fail(Q8_ERR_SHAPE, "stride_c = " + to_string(stride_c) + " is less than (m - 1) * ldc + n = " +
                           to_string((m - 1) * ldc + n) + ": the C matrices would overlap");
  if (count == 0 || m == 0 || n == 0) return;
  auto a_at = [&](int64_t i) {
    gemm::AView v = av0;
    v.a += i * stride_a;
    return v;
  };
  auto c_at = [&](int64_t i) { return static_cast<unsigned char *>(c) + size_t(i * stride_c) * es; };
  if (stride_b == 0 && count > 1 && active_isa() != Q8_ISA_SCALAR) {  // one B: pack it once
    gemm::Packed p;
    gemm::pack_b(p, tb, k, n, b, ldb, zb, zb_count);
    gemm::for_each_batch(count, ops(m, n, k), [&](int64_t i) { gemm::run(a_at(i), m, p, e, c_at(i), ldc); });
    return;
  }
  gemm::for_each_batch(count, ops(m, n, k), [&](int64_t i) {
    one_unpacked(a_at(i), m, n, k, b + i * stride_b, ldb, tb, zb, zb_count, e, c_at(i), ldc);
  });
}

void batched_packed(const q8_transpose &trans_a, int64_t m, const void *const *a, int64_t lda, int32_t za,
                    bool a_signed, const q8_gemm_packed *const *b, const q8_gemm_epilogue *epilogue,
                    void *const *c, int64_t ldc, int64_t count) {
  const bool ta = read_transpose(trans_a, "trans_a");
  check_dim(m, "m");
  check_batch_count(count);
  check_zero_point_a(za, a_signed);
  if (count == 0) return;
  Q8_CHECK_NOT_NULL(a);
  Q8_CHECK_NOT_NULL(b);
  Q8_CHECK_NOT_NULL(c);
  const q8_gemm_packed *b0 = entry(b, 0, "b");
  const int64_t n = b0->impl.n, k = b0->impl.k;
  const gemm::Epilogue e = read_epilogue(epilogue, n);
  const bool a_empty = m == 0 || k == 0, c_empty = m == 0 || n == 0;
  std::vector<gemm::AView> av(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const q8_gemm_packed *bi = entry(b, i, "b");
    if (bi->impl.k != k || bi->impl.n != n)
      fail(Q8_ERR_SHAPE, "b[" + to_string(i) + "] is " + to_string(bi->impl.k) + " x " + to_string(bi->impl.n) +
                             ", b[0] is " + to_string(k) + " x " + to_string(n));
    av[size_t(i)] = read_a(a_empty ? a[i] : entry(a, i, "a"), lda, ta, a_signed, za, m, k);
    check_matrix(c_empty ? c[i] : entry(c, i, "c"), "c", m, n, ldc, "ldc", q8_dtype_size(e.out));
  }
  gemm::for_each_batch(count, ops(m, n, k),
                       [&](int64_t i) { gemm::run(av[size_t(i)], m, b[i]->impl, e, c[i], ldc); });
}

void strided_packed(const q8_transpose &trans_a, int64_t m, const void *a, int64_t lda, int64_t stride_a,
                    int32_t za, bool a_signed, const q8_gemm_packed *b, const q8_gemm_epilogue *epilogue, void *c,
                    int64_t ldc, int64_t stride_c, int64_t count) {
  const bool ta = read_transpose(trans_a, "trans_a");
  check_dim(m, "m");
  check_batch_count(count);
  Q8_CHECK_NOT_NULL(b);
  const int64_t n = b->impl.n, k = b->impl.k;
  const gemm::AView av0 = read_a(a, lda, ta, a_signed, za, m, k);
  check_strided(a, "a", ta ? k : m, ta ? m : k, lda, "lda", 1, stride_a, "stride_a", count);
  const gemm::Epilogue e = read_epilogue(epilogue, n);
  const size_t es = q8_dtype_size(e.out);
  check_strided(c, "c", m, n, ldc, "ldc", es, stride_c, "stride_c", count);
  if (count > 1 && m > 0 && n > 0 && stride_c < (m - 1) * ldc + n)
    fail(Q8_ERR_SHAPE, "stride_c = " + to_string(stride_c) + " is less than (m - 1) * ldc + n = " +
                           to_string((m - 1) * ldc + n) + ": the C matrices would overlap");
  if (count == 0) return;
  gemm::for_each_batch(count, ops(m, n, k), [&](int64_t i) {
    gemm::AView v = av0;
    v.a += i * stride_a;
    gemm::run(v, m, b->impl, e, static_cast<unsigned char *>(c) + size_t(i * stride_c) * es, ldc);
  });
}

void check_int(int64_t v, const char *name) {
  if (v > INT_MAX)
    fail(Q8_ERR_SHAPE, std::string(name) + " = " + to_string(v) + " exceeds OpenBLAS's int range");
}

// The checks both f32 GEMMs make; returns the transposes.
// (Enums by reference: a caller's out-of-range value is read as bits, never loaded as the enum.)
std::pair<bool, bool> check_f32_args(const q8_transpose &trans_a, const q8_transpose &trans_b, int64_t m, int64_t n,
                                     int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                                     const float *c, int64_t ldc) {
  const bool ta = read_transpose(trans_a, "trans_a"), tb = read_transpose(trans_b, "trans_b");
  check_dim(m, "m");
  check_dim(n, "n");
  check_dim(k, "k");
  check_matrix(a, "a", ta ? k : m, ta ? m : k, lda, "lda", sizeof(float));
  check_matrix(b, "b", tb ? n : k, tb ? k : n, ldb, "ldb", sizeof(float));
  check_matrix(c, "c", m, n, ldc, "ldc", sizeof(float));
  return {ta, tb};
}

}  // namespace

extern "C" {

q8_status q8_gemm_u8s8_batched(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k,
                               const uint8_t *const *a, int64_t lda, int32_t a_zero_point, const int8_t *const *b,
                               int64_t ldb, const int32_t *b_zero_points, size_t b_zero_point_count,
                               const q8_gemm_epilogue *epilogue, void *const *c, int64_t ldc, int64_t batch_count) {
  return guard(__func__, [&] {
    batched_unpacked(trans_a, trans_b, m, n, k, reinterpret_cast<const void *const *>(a), lda, a_zero_point, false,
                     b, ldb, b_zero_points, b_zero_point_count, epilogue, c, ldc, batch_count);
  });
}

q8_status q8_gemm_s8s8_batched(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k,
                               const int8_t *const *a, int64_t lda, int32_t a_zero_point, const int8_t *const *b,
                               int64_t ldb, const int32_t *b_zero_points, size_t b_zero_point_count,
                               const q8_gemm_epilogue *epilogue, void *const *c, int64_t ldc, int64_t batch_count) {
  return guard(__func__, [&] {
    batched_unpacked(trans_a, trans_b, m, n, k, reinterpret_cast<const void *const *>(a), lda, a_zero_point, true,
                     b, ldb, b_zero_points, b_zero_point_count, epilogue, c, ldc, batch_count);
  });
}

q8_status q8_gemm_u8s8_strided_batched(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k,
                                       const uint8_t *a, int64_t lda, int64_t stride_a, int32_t a_zero_point,
                                       const int8_t *b, int64_t ldb, int64_t stride_b, const int32_t *b_zero_points,
                                       size_t b_zero_point_count, const q8_gemm_epilogue *epilogue, void *c,
                                       int64_t ldc, int64_t stride_c, int64_t batch_count) {
  return guard(__func__, [&] {
    strided_unpacked(trans_a, trans_b, m, n, k, a, lda, stride_a, a_zero_point, false, b, ldb, stride_b,
                     b_zero_points, b_zero_point_count, epilogue, c, ldc, stride_c, batch_count);
  });
}

q8_status q8_gemm_s8s8_strided_batched(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k,
                                       const int8_t *a, int64_t lda, int64_t stride_a, int32_t a_zero_point,
                                       const int8_t *b, int64_t ldb, int64_t stride_b, const int32_t *b_zero_points,
                                       size_t b_zero_point_count, const q8_gemm_epilogue *epilogue, void *c,
                                       int64_t ldc, int64_t stride_c, int64_t batch_count) {
  return guard(__func__, [&] {
    strided_unpacked(trans_a, trans_b, m, n, k, a, lda, stride_a, a_zero_point, true, b, ldb, stride_b,
                     b_zero_points, b_zero_point_count, epilogue, c, ldc, stride_c, batch_count);
  });
}

q8_status q8_gemm_u8s8_packed_batched(q8_transpose trans_a, int64_t m, const uint8_t *const *a, int64_t lda,
                                      int32_t a_zero_point, const q8_gemm_packed *const *b,
                                      const q8_gemm_epilogue *epilogue, void *const *c, int64_t ldc,
                                      int64_t batch_count) {
  return guard(__func__, [&] {
    batched_packed(trans_a, m, reinterpret_cast<const void *const *>(a), lda, a_zero_point, false, b, epilogue, c,
                   ldc, batch_count);
  });
}

q8_status q8_gemm_s8s8_packed_batched(q8_transpose trans_a, int64_t m, const int8_t *const *a, int64_t lda,
                                      int32_t a_zero_point, const q8_gemm_packed *const *b,
                                      const q8_gemm_epilogue *epilogue, void *const *c, int64_t ldc,
                                      int64_t batch_count) {
  return guard(__func__, [&] {
    batched_packed(trans_a, m, reinterpret_cast<const void *const *>(a), lda, a_zero_point, true, b, epilogue, c,
                   ldc, batch_count);
  });
}

q8_status q8_gemm_u8s8_packed_strided_batched(q8_transpose trans_a, int64_t m, const uint8_t *a, int64_t lda,
                                              int64_t stride_a, int32_t a_zero_point, const q8_gemm_packed *b,
                                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc,
                                              int64_t stride_c, int64_t batch_count) {
  return guard(__func__, [&] {
    strided_packed(trans_a, m, a, lda, stride_a, a_zero_point, false, b, epilogue, c, ldc, stride_c, batch_count);
  });
}

q8_status q8_gemm_s8s8_packed_strided_batched(q8_transpose trans_a, int64_t m, const int8_t *a, int64_t lda,
                                              int64_t stride_a, int32_t a_zero_point, const q8_gemm_packed *b,
                                              const q8_gemm_epilogue *epilogue, void *c, int64_t ldc,
                                              int64_t stride_c, int64_t batch_count) {
  return guard(__func__, [&] {
    strided_packed(trans_a, m, a, lda, stride_a, a_zero_point, true, b, epilogue, c, ldc, stride_c, batch_count);
  });
}

q8_status q8_gemm_f32(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                      int64_t ldc) {
  return guard(__func__, [&] {
    const auto [ta, tb] = check_f32_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    for (auto [v, name] : {std::pair{m, "m"}, {n, "n"}, {k, "k"}, {lda, "lda"}, {ldb, "ldb"}, {ldc, "ldc"}})
      check_int(v, name);
    if (m == 0 || n == 0) return;
    gemm::sgemm_f32(ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
  });
}

q8_status q8_gemm_f32_ordered(q8_transpose trans_a, q8_transpose trans_b, int64_t m, int64_t n, int64_t k,
                              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                              float *c, int64_t ldc) {
  return guard(__func__, [&] {
    const auto [ta, tb] = check_f32_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    gemm::f32::sgemm_ordered(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  });
}

q8_status q8_gemm_f32_pack_b(q8_transpose trans_b, int64_t k, int64_t n, const float *b, int64_t ldb,
                             q8_gemm_f32_packed **out) {
  return guard(__func__, [&] {
    const bool tb = read_transpose(trans_b, "trans_b");
    check_dim(k, "k");
    check_dim(n, "n");
    check_matrix(b, "b", tb ? n : k, tb ? k : n, ldb, "ldb", sizeof(float));
    Q8_CHECK_NOT_NULL(out);
    auto p = std::make_unique<q8_gemm_f32_packed>();
    gemm::f32::pack_b(p->impl, tb, k, n, b, ldb);
    *out = p.release();
  });
}

void q8_gemm_f32_packed_destroy(q8_gemm_f32_packed *packed) { delete packed; }

q8_status q8_gemm_f32_ordered_packed(q8_transpose trans_a, int64_t m, float alpha, const float *a, int64_t lda,
                                     const q8_gemm_f32_packed *b, float beta, float *c, int64_t ldc) {
  return guard(__func__, [&] {
    const bool ta = read_transpose(trans_a, "trans_a");
    Q8_CHECK_NOT_NULL(b);
    const int64_t k = b->impl.k, n = b->impl.n;
    check_dim(m, "m");
    check_matrix(a, "a", ta ? k : m, ta ? m : k, lda, "lda", sizeof(float));
    check_matrix(c, "c", m, n, ldc, "ldc", sizeof(float));
    gemm::f32::sgemm_packed(ta, m, b->impl, alpha, a, lda, beta, c, ldc);
  });
}

const char *q8_gemm_f32_backend(void) { return gemm::f32_backend(); }

}  // extern "C"
