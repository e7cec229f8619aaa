/* bench_f32_gemm: q8's ordered FP32 GEMM (one FMA chain per element, batch-invariant bits: what
 * q8's FP32 runtime runs) against OpenBLAS cblas_sgemm in the same process, in two forms: with B
 * packed once (q8_gemm_f32_ordered_packed; the runtime packs constant weights in prepare) and
 * with B as stored (q8_gemm_f32_ordered, which repacks it on every call).
 *
 *   bench_f32_gemm [--rounds R] [--threads T] [--filter name,...]
 *
 * Shapes are M x K x N (C = A · op(B), op(B) K x N; "wT" means B is stored N x K, transposed, as
 * ONNX Gemm/Linear weights usually are). For each shape and thread count both sides are warmed
 * up and checked against each other (f32 rounding; the two q8 forms bit for bit), then R rounds
 * each time the three back to back (>= 30 ms of calls each, the order rotating), so all see the
 * same machine load. GFLOPS are medians over rounds; ratios are medians of per-round q8 / OpenBLAS.
 * All run on the same number of threads (q8_runtime_set_threads, openblas_set_num_threads). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "bench_openblas.h"
#include "q8/q8.h"

typedef struct {
  const char *name;
  int64_t m, k, n;
  int trans_b;
} shape;

static const shape kShapes[] = {
    {"gemv 1x4096x4096 wT", 1, 4096, 4096, 1},    {"batch8 8x1024x1024 wT", 8, 1024, 1024, 1},
    {"digits 64x64x256 wT", 64, 64, 256, 1},      {"batch64 64x1024x1024 wT", 64, 1024, 1024, 1},
    {"batch256 256x1024x4096 wT", 256, 1024, 4096, 1}, {"square 1024x1024x1024", 1024, 1024, 1024, 0},
    {"conv 32x144x784", 32, 144, 784, 0},         {"conv 64x288x196", 64, 288, 196, 0},
    {"logits 450x128x10 wT", 450, 128, 10, 1},
};

typedef struct {
  const shape *s;
  const float *a, *b;
  const q8_gemm_f32_packed *packed;
  float *c;
} call;

static void check(q8_status st, const char *what) {
  if (st != Q8_OK) {
    fprintf(stderr, "%s: %s\n", what, q8_last_error());
    exit(1);
  }
}

static void run_packed(void *ctx) {
  const call *x = ctx;
  const shape *s = x->s;
  check(q8_gemm_f32_ordered_packed(Q8_NO_TRANSPOSE, s->m, 1.0f, x->a, s->k, x->packed, 0.0f, x->c, s->n),
        "q8_gemm_f32_ordered_packed");
}

static void run_q8(void *ctx) {
  const call *x = ctx;
  const shape *s = x->s;
  check(q8_gemm_f32_ordered(Q8_NO_TRANSPOSE, s->trans_b ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, s->m, s->n, s->k, 1.0f,
                            x->a, s->k, x->b, s->trans_b ? s->k : s->n, 0.0f, x->c, s->n),
        "q8_gemm_f32_ordered");
}

static void run_blas(void *ctx) {
  const call *x = ctx;
  const shape *s = x->s;
  cblas_sgemm(kRowMajor, kNoTrans, s->trans_b ? kTrans : kNoTrans, (int)s->m, (int)s->n, (int)s->k, 1.0f, x->a,
              (int)s->k, x->b, s->trans_b ? (int)s->k : (int)s->n, 0.0f, x->c, (int)s->n);
}

int main(int argc, char **argv) {
  int rounds = 7, only_threads = 0;
  const char *filter = NULL;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      only_threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
      filter = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--rounds R] [--threads T] [--filter name,...]\n", argv[0]);
      return 2;
    }
  }
  if (rounds < 1 || rounds > 100) rounds = 7;
  const char *core = bench_openblas_fair_core(argv);
  printf("q8 %s, isa %s; OpenBLAS core %s%s; %d rounds\n", q8_version_string(), q8_isa_name(q8_runtime_isa()), core,
         getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE set)" : "", rounds);
  printf("%-27s %3s %14s %12s %11s %7s %8s %9s %6s\n", "shape (M x K x N)", "thr", "q8 packed GF/s", "q8 call GF/s",
         "BLAS GF/s", "packed/", "call/", "max rel", "others");
  printf("%-27s %3s %14s %12s %11s %7s %8s %9s %6s\n", "", "", "", "", "", "BLAS", "BLAS", "vs BLAS", "");
  for (size_t si = 0; si < sizeof kShapes / sizeof kShapes[0]; ++si) {
    const shape *s = &kShapes[si];
    if (!bench_filter_match(filter, s->name)) continue;
    const size_t na = (size_t)(s->m * s->k), nb = (size_t)(s->k * s->n), nc = (size_t)(s->m * s->n);
    float *a = bench_alloc(na * 4), *b = bench_alloc(nb * 4), *c0 = bench_alloc(nc * 4), *c1 = bench_alloc(nc * 4),
          *c2 = bench_alloc(nc * 4);
    uint64_t st = 0x9E3779B97F4A7C15ull ^ si;
    for (size_t i = 0; i < na + nb; ++i) {
      st = st * 6364136223846793005ull + 1442695040888963407ull;
      const float v = (float)((double)(st >> 40) / (double)(1 << 24) - 0.5);
      if (i < na)
        a[i] = v;
      else
        b[i - na] = v;
    }
    q8_gemm_f32_packed *packed = NULL;
    check(q8_gemm_f32_pack_b(s->trans_b ? Q8_TRANSPOSE : Q8_NO_TRANSPOSE, s->k, s->n, b, s->trans_b ? s->k : s->n,
                             &packed),
          "q8_gemm_f32_pack_b");
    call p = {s, a, b, packed, c0}, q = {s, a, b, packed, c1}, o = {s, a, b, packed, c2};
    for (int threads = 1; threads <= 2; ++threads) {
      if (only_threads && threads != only_threads) continue;
      q8_runtime_set_threads(threads);
      openblas_set_num_threads(threads);
      run_packed(&p);
      run_q8(&q);
      run_blas(&o);
      if (memcmp(c0, c1, nc * 4) != 0) {
        fprintf(stderr, "%s: packed and per-call results differ\n", s->name);
        return 1;
      }
      double max_rel = 0;
      for (size_t i = 0; i < nc; ++i) {
        const double d = fabs((double)c1[i] - c2[i]) / (fabs((double)c2[i]) + 1e-3);
        if (d > max_rel) max_rel = d;
      }
      void (*const fns[3])(void *) = {run_packed, run_q8, run_blas};
      call *args[3] = {&p, &q, &o};
      double t[3][100], rp[100], rq[100];
      const bench_load_mark mark = bench_load_begin();
      for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < 3; ++i) t[(r + i) % 3][r] = bench_seconds_per_call(fns[(r + i) % 3], args[(r + i) % 3], 0.03);
        rp[r] = t[2][r] / t[0][r];
        rq[r] = t[2][r] / t[1][r];
      }
      const double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
      double med[3];
      for (int i = 0; i < 3; ++i) med[i] = flops / bench_median(t[i], (size_t)rounds) * 1e-9;
      printf("%-27s %3d %14.1f %12.1f %11.1f %7.2f %8.2f %9.1e %6.2f\n", s->name, threads, med[0], med[1], med[2],
             bench_median(rp, (size_t)rounds), bench_median(rq, (size_t)rounds), max_rel, bench_load_others(mark));
      fflush(stdout);
    }
    q8_gemm_f32_packed_destroy(packed);
    free(a);
    free(b);
    free(c0);
    free(c1);
    free(c2);
  }
  return 0;
}
