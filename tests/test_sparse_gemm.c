/* q8_sparse_gemm_*: the SIMD kernels (CSR, BCSR, 2_4, BITMAP) bit for bit against
 *   (a) the dense q8_gemm_u8s8 / q8_gemm_s8s8 with trans_b on q8_sparse_to_dense's matrix, and
 *   (b) the same sparse call on the scalar path (the reference),
 * over every format and block shape, densities from empty to full, edge shapes around the kernels'
 * tiles (16 / 32 rows of A, 16-row panels, groups of 4, K chunks, 16- and 32-bit indices), u8 and
 * s8 activations with extreme zero points, every epilogue kind (per tensor and per channel), odd
 * leading dimensions, 1 and 2 threads, values that wrap int32, and random cases from a fixed seed.
 * C is pre-filled so that writes outside the M x N elements show up as differences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void restore_runtime(void) {
  q8_runtime_set_isa(Q8_ISA_AUTO);
  q8_runtime_set_threads(0);
}

TestSuite(sparse_gemm, .fini = restore_runtime);

typedef struct {
  q8_sparse_format format;
  int64_t br, bc;
  const char *name;
} layout;

static const layout kLayouts[] = {
    {Q8_SPARSE_CSR, 1, 1, "csr"},        {Q8_SPARSE_BITMAP, 1, 4, "bitmap"},  {Q8_SPARSE_2_4, 1, 4, "2_4"},
    {Q8_SPARSE_BCSR, 1, 4, "bcsr1x4"},   {Q8_SPARSE_BCSR, 4, 4, "bcsr4x4"},   {Q8_SPARSE_BCSR, 8, 1, "bcsr8x1"},
    {Q8_SPARSE_BCSR, 16, 4, "bcsr16x4"}, {Q8_SPARSE_BCSR, 2, 8, "bcsr2x8"}};
#define N_LAYOUTS (sizeof kLayouts / sizeof kLayouts[0])

static int fits(const layout *l, int64_t rows, int64_t cols) {
  if (l->format == Q8_SPARSE_BCSR) return rows % l->br == 0 && cols % l->bc == 0;
  if (l->format == Q8_SPARSE_2_4) return cols % 4 == 0;
  return 1;
}

/* A nonzero weight: random, or -128 (the extreme) when `extreme`. */
static int8_t weight(test_rng *r, int extreme) {
  if (extreme) return -128;
  int8_t v;
  do v = (int8_t)(uint8_t)rng_next(r);
  while (v == 0);
  return v;
}

/* rows x cols weights in the layout's pattern with about `density` percent nonzeros: whole blocks
 * for BCSR (a kept block a quarter zeros unless density is 100), at most 2 of every 4 for 2_4. */
static void fill_weights(int8_t *w, int64_t rows, int64_t cols, int density, const layout *l, test_rng *r,
                         int extreme) {
  const double d = density / 100.0;
  memset(w, 0, (size_t)(rows * cols));
  if (l->format == Q8_SPARSE_BCSR) {
    for (int64_t r0 = 0; r0 < rows; r0 += l->br)
      for (int64_t c0 = 0; c0 < cols; c0 += l->bc) {
        if (density < 100 && rng_uniform(r) >= d) continue;
        for (int64_t i = 0; i < l->br; ++i)
          for (int64_t j = 0; j < l->bc; ++j)
            if (density == 100 || rng_uniform(r) < 0.75) w[(r0 + i) * cols + c0 + j] = weight(r, extreme);
      }
  } else if (l->format == Q8_SPARSE_2_4) {
    for (int64_t i = 0; i < rows * cols; i += 4) {
      const int a = (int)(rng_next(r) % 4), b = (a + 1 + (int)(rng_next(r) % 3)) % 4;
      if (density >= 50 || rng_uniform(r) < 2 * d) w[i + a] = weight(r, extreme);
      if (density >= 50 || rng_uniform(r) < 2 * d) w[i + b] = weight(r, extreme);
    }
  } else {
    for (int64_t i = 0; i < rows * cols; ++i)
      if (density == 100 || (density > 0 && rng_uniform(r) < d)) w[i] = weight(r, extreme);
  }
}

/* One call's setup. */
typedef struct {
  int64_t m, rows, cols, lda, ldc;
  int is_signed;
  int32_t za;
  q8_gemm_epilogue_kind kind;
  int per_channel, bias;
  int threads; /* 0: leave as is */
  int extreme; /* a = 255 (u8 view), w = -128 */
} gemm_case;

typedef struct {
  q8_gemm_epilogue ep;
  int32_t *bias, *mult, *shift;
  float *scale;
} epilogue;

static void make_epilogue(epilogue *e, const gemm_case *gc, test_rng *r) {
  memset(e, 0, sizeof *e);
  q8_gemm_epilogue_init(&e->ep);
  const size_t n = (size_t)gc->rows + 1;
  e->bias = malloc(n * sizeof *e->bias);
  e->mult = malloc(n * sizeof *e->mult);
  e->shift = malloc(n * sizeof *e->shift);
  e->scale = malloc(n * sizeof *e->scale);
  for (size_t j = 0; j < n; ++j) {
    e->bias[j] = (int32_t)(rng_next(r) % 200001) - 100000;
    e->mult[j] = (int32_t)((1u << 30) + (uint32_t)(rng_next(r) % (1u << 30)));
    e->shift[j] = -(int32_t)(8 + rng_next(r) % 8);
    e->scale[j] = (float)(1e-5 + 1e-3 * rng_uniform(r));
  }
  e->ep.kind = gc->kind;
  e->ep.bias = gc->bias ? e->bias : NULL;
  e->ep.channels = gc->per_channel ? (size_t)gc->rows : 1;
  switch (gc->kind) {
    case Q8_GEMM_EPILOGUE_S32: e->ep.output_dtype = Q8_DTYPE_S32; break;
    case Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED:
      e->ep.output_dtype = gc->is_signed ? Q8_DTYPE_S8 : Q8_DTYPE_U8;
      e->ep.multiplier = e->mult;
      e->ep.shift = e->shift;
      e->ep.zero_point = gc->is_signed ? -3 : 5;
      break;
    case Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT:
      e->ep.output_dtype = gc->is_signed ? Q8_DTYPE_S8 : Q8_DTYPE_U8;
      e->ep.scale = e->scale;
      e->ep.zero_point = gc->is_signed ? 4 : 100;
      e->ep.qmin = gc->is_signed ? -100 : 10;
      break;
    case Q8_GEMM_EPILOGUE_DEQUANTIZE:
      e->ep.output_dtype = Q8_DTYPE_F32;
      e->ep.scale = e->scale;
      break;
  }
}

static void free_epilogue(epilogue *e) {
  free(e->bias);
  free(e->mult);
  free(e->shift);
  free(e->scale);
}

static q8_status sparse_call(const gemm_case *gc, const void *a, const q8_sparse *s, const epilogue *e, void *c) {
  return gc->is_signed ? q8_sparse_gemm_s8s8(gc->m, a, gc->lda, gc->za, s, &e->ep, c, gc->ldc)
                       : q8_sparse_gemm_u8s8(gc->m, a, gc->lda, gc->za, s, &e->ep, c, gc->ldc);
}

/* Runs one case for one layout and density; returns 1 if it ran (the layout fits the shape). */
static int check_case(const layout *l, int density, const gemm_case *gc, test_rng *r) {
  if (!fits(l, gc->rows, gc->cols)) return 0;
  const int64_t rows = gc->rows, cols = gc->cols, m = gc->m;
  int8_t *w = malloc((size_t)(rows * cols));
  fill_weights(w, rows, cols, density, l, r, gc->extreme);
  const int64_t shape[2] = {rows, cols};
  q8_tensor *t;
  Q8_OK_OR_FAIL(q8_tensor_wrap(Q8_DTYPE_S8, shape, 2, w, (size_t)(rows * cols), &t));
  q8_sparse *s;
  Q8_OK_OR_FAIL(q8_sparse_from_dense(t, l->format, l->br, l->bc, &s));
  q8_tensor *back;
  Q8_OK_OR_FAIL(q8_sparse_to_dense(s, &back));
  void *wd;
  Q8_OK_OR_FAIL(q8_tensor_data(back, &wd));

  const size_t a_bytes = (size_t)(m > 0 ? m * gc->lda : 1);
  uint8_t *a = malloc(a_bytes);
  for (size_t i = 0; i < a_bytes; ++i)
    a[i] = gc->extreme ? (gc->is_signed ? 0x7F : 0xFF) : (uint8_t)rng_next(r);
  epilogue e;
  make_epilogue(&e, gc, r);
  const size_t osz = q8_dtype_size(e.ep.output_dtype);
  const size_t c_bytes = (size_t)(m > 0 ? m * gc->ldc : 1) * osz;
  unsigned char *cd = malloc(c_bytes), *cs = malloc(c_bytes), *cr = malloc(c_bytes);
  memset(cd, 0xA5, c_bytes);
  memset(cs, 0xA5, c_bytes);
  memset(cr, 0xA5, c_bytes);

  if (gc->is_signed)
    Q8_OK_OR_FAIL(q8_gemm_s8s8(Q8_NO_TRANSPOSE, Q8_TRANSPOSE, m, rows, cols, (const int8_t *)a, gc->lda, gc->za, wd,
                               cols, NULL, 0, &e.ep, cd, gc->ldc));
  else
    Q8_OK_OR_FAIL(q8_gemm_u8s8(Q8_NO_TRANSPOSE, Q8_TRANSPOSE, m, rows, cols, a, gc->lda, gc->za, wd, cols, NULL, 0,
                               &e.ep, cd, gc->ldc));
  if (gc->threads) Q8_OK_OR_FAIL(q8_runtime_set_threads(gc->threads));
  Q8_OK_OR_FAIL(sparse_call(gc, a, s, &e, cs));
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_SCALAR));
  Q8_OK_OR_FAIL(sparse_call(gc, a, s, &e, cr));
  Q8_OK_OR_FAIL(q8_runtime_set_isa(Q8_ISA_AUTO));

  if (memcmp(cs, cd, c_bytes) != 0 || memcmp(cr, cd, c_bytes) != 0) {
    size_t at = 0;
    while (at < c_bytes && cs[at] == cd[at] && cr[at] == cd[at]) ++at;
    cr_assert_fail("%s density %d%%: M %lld rows %lld cols %lld lda %lld ldc %lld %s za %d kind %d per_channel %d "
                   "bias %d threads %d extreme %d: byte %zu (element %zu) differs: dense %02x simd %02x scalar %02x",
                   l->name, density, (long long)m, (long long)rows, (long long)cols, (long long)gc->lda,
                   (long long)gc->ldc, gc->is_signed ? "s8" : "u8", gc->za, (int)gc->kind, gc->per_channel, gc->bias,
                   gc->threads, gc->extreme, at, at / osz, cd[at], cs[at], cr[at]);
  }
  free(cd);
  free(cs);
  free(cr);
  free_epilogue(&e);
  free(a);
  q8_tensor_destroy(back);
  q8_sparse_destroy(s);
  q8_tensor_destroy(t);
  free(w);
  return 1;
}

static gemm_case plain(int64_t m, int64_t rows, int64_t cols) {
  gemm_case gc = {m, rows, cols, cols, rows, 0, 0, Q8_GEMM_EPILOGUE_S32, 0, 0, 0, 0};
  return gc;
}

static const int kDensity[] = {0, 50, 90, 100};
#define N_DENSITY (sizeof kDensity / sizeof kDensity[0])

/* M around the kernels' row tiles (1-8 rows per pass, 16 / 32 rows of A per block), rows around the
 * 16-row panels, cols around groups of 4 and the 64-byte vectors. */
Test(sparse_gemm, edge_shapes) {
  static const int64_t ms[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 33, 63, 65};
  static const int64_t rows[] = {1, 15, 16, 17, 65};
  static const int64_t cols[] = {4, 7, 63, 64, 65, 260};
  test_rng r;
  rng_seed(&r, 11);
  int ran = 0;
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (size_t di = 0; di < N_DENSITY; ++di)
      for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ++ri)
        for (size_t ci = 0; ci < sizeof cols / sizeof cols[0]; ++ci)
          for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; ++mi) {
            gemm_case gc = plain(ms[mi], rows[ri], cols[ci]);
            gc.za = (int32_t)((mi * 37 + ci) % 256);
            ran += check_case(&kLayouts[li], kDensity[di], &gc, &r);
          }
  cr_assert_gt(ran, 3000);
}

/* The 2_4 and BCSR shapes that need rows or cols in multiples of their blocks: rows 16/32/48. */
Test(sparse_gemm, block_multiples) {
  static const int64_t ms[] = {1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 40};
  static const int64_t rows[] = {16, 32, 48};
  static const int64_t cols[] = {8, 64, 136};
  test_rng r;
  rng_seed(&r, 12);
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (size_t di = 0; di < N_DENSITY; ++di)
      for (size_t ri = 0; ri < 3; ++ri)
        for (size_t ci = 0; ci < 3; ++ci)
          for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; ++mi) {
            gemm_case gc = plain(ms[mi], rows[ri], cols[ci]);
            gc.za = 255 - (int32_t)mi;
            check_case(&kLayouts[li], kDensity[di], &gc, &r);
          }
}

/* u8 and s8 activations with extreme zero points, every epilogue kind per tensor and per channel,
 * with and without bias, leading dimensions past the row length. */
Test(sparse_gemm, activations_and_epilogues) {
  static const int32_t za_u8[] = {0, 255, 128, 1}, za_s8[] = {-128, 127, 0, -1};
  static const q8_gemm_epilogue_kind kinds[] = {Q8_GEMM_EPILOGUE_S32, Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED,
                                                Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT, Q8_GEMM_EPILOGUE_DEQUANTIZE};
  static const int64_t ms[] = {3, 20, 40};
  test_rng r;
  rng_seed(&r, 13);
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (int sgn = 0; sgn < 2; ++sgn)
      for (size_t zi = 0; zi < 4; ++zi)
        for (size_t ki = 0; ki < 4; ++ki)
          for (int pc = 0; pc < 2; ++pc) {
            gemm_case gc = plain(ms[(zi + ki) % 3], 48, 136);
            gc.is_signed = sgn;
            gc.za = sgn ? za_s8[zi] : za_u8[zi];
            gc.kind = kinds[ki];
            gc.per_channel = pc;
            gc.bias = (int)((zi + ki + (size_t)pc) % 2);
            gc.lda = 136 + 1 + (int64_t)zi * 5;
            gc.ldc = 48 + 3 + (int64_t)ki;
            check_case(&kLayouts[li], 50 + 40 * pc, &gc, &r);
          }
}

/* 1 and 2 threads: the same bits (the work is cut by rows of W only). */
Test(sparse_gemm, threads) {
  static const int64_t ms[] = {1, 4, 9, 40};
  test_rng r;
  rng_seed(&r, 14);
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (int th = 1; th <= 2; ++th)
      for (size_t mi = 0; mi < 4; ++mi) {
        gemm_case gc = plain(ms[mi], 512, 520);
        gc.threads = th;
        gc.za = 77;
        gc.kind = Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED;
        gc.per_channel = 1;
        check_case(&kLayouts[li], mi % 2 ? 90 : 50, &gc, &r);
      }
}

/* K long enough to cross the kernels' K chunks (the slices of A kept in L1). */
Test(sparse_gemm, long_k) {
  static const int64_t ms[] = {1, 3, 6, 17, 40};
  test_rng r;
  rng_seed(&r, 15);
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (size_t mi = 0; mi < 5; ++mi) {
      gemm_case gc = plain(ms[mi], 48, 4104);
      gc.za = 3;
      check_case(&kLayouts[li], mi % 2 ? 95 : 70, &gc, &r);
    }
}

/* cols past 65536 (CSR's and BITMAP's 32-bit column indices) and past 4 * 65536 (BCSR 1x4's), full
 * density with a = 255 and w = -128: sums that wrap int32 (a saturating vpdpbusds would differ). */
Test(sparse_gemm, wide_indices_and_wrap) {
  static const int64_t ms[] = {1, 5, 20};
  test_rng r;
  rng_seed(&r, 16);
  for (size_t li = 0; li < N_LAYOUTS; ++li)
    for (size_t mi = 0; mi < 3; ++mi) {
      gemm_case gc = plain(ms[mi], 16, 262160);
      gc.extreme = 1;
      gc.is_signed = mi == 1;
      gc.za = gc.is_signed ? -128 : 0;
      check_case(&kLayouts[li], 100, &gc, &r);
    }
}

/* Random shapes, layouts, densities, activations, epilogues and thread counts from a fixed seed. */
Test(sparse_gemm, random_cases) {
  static const q8_gemm_epilogue_kind kinds[] = {Q8_GEMM_EPILOGUE_S32, Q8_GEMM_EPILOGUE_REQUANTIZE_FIXED,
                                                Q8_GEMM_EPILOGUE_REQUANTIZE_FLOAT, Q8_GEMM_EPILOGUE_DEQUANTIZE};
  test_rng r;
  rng_seed(&r, 17);
  int ran = 0;
  while (ran < 300) {
    const layout *l = &kLayouts[rng_next(&r) % N_LAYOUTS];
    const int64_t br = l->format == Q8_SPARSE_BCSR ? l->br : 1, bc = l->format == Q8_SPARSE_BCSR ? l->bc : 1;
    gemm_case gc = plain((int64_t)(rng_next(&r) % 70), br * (1 + (int64_t)(rng_next(&r) % (96 / br))),
                         bc * (1 + (int64_t)(rng_next(&r) % (600 / bc))));
    if (l->format == Q8_SPARSE_2_4) gc.cols = (gc.cols + 3) / 4 * 4;
    gc.is_signed = (int)(rng_next(&r) % 2);
    gc.za = gc.is_signed ? (int32_t)(rng_next(&r) % 256) - 128 : (int32_t)(rng_next(&r) % 256);
    gc.kind = kinds[rng_next(&r) % 4];
    gc.per_channel = (int)(rng_next(&r) % 2);
    gc.bias = (int)(rng_next(&r) % 2);
    gc.lda = gc.cols + (int64_t)(rng_next(&r) % 3);
    gc.ldc = gc.rows + (int64_t)(rng_next(&r) % 3);
    gc.threads = 1 + (int)(rng_next(&r) % 2);
    ran += check_case(l, (int)(rng_next(&r) % 101), &gc, &r);
  }
}
