/* bench_gemm: q8's INT8 GEMM (u8 x s8 -> s32, packed weights) in one process against
 *   - oneDNN's matmul primitive, u8 src x s8 weights -> s32, weights reordered once into the
 *     primitive's preferred layout (format_tag::any; the reorder is not timed): oneDNN at its best;
 *   - oneDNN's dnnl_gemm_u8s8s32 (row-major; it packs B on every call);
 *   - OpenBLAS sgemm (f32, GFLOPS).
 * oneDNN is optional (Q8_BENCH_HAVE_DNNL, set by meson when libdnnl-dev is found).
 *
 *   bench_gemm [--quick] [--full] [--rounds R] [--threads T] [--filter kind,...]
 *
 * Method: for each shape and thread count (1, 2) every library is warmed up, then R rounds run;
 * each round times every library back to back (>= min_s of calls each, the starting library
 * rotating from round to round), so all four see the same machine load; GOPS are medians over
 * the rounds, ratios are medians of the per-round ratios. The first thread count's warm-up
 * checks that oneDNN's int32 results equal q8's bit for bit (same data, zero points 0) and that
 * sgemm agrees within f32 rounding. The machine's clock, vpdpbusd throughput and read bandwidth
 * are measured in the same run (see measure_clock_hz, measure_vnni_ops_per_cycle). A pass during
 * which other processes kept more than 0.3 cores busy is repeated (up to 3 passes, the quietest
 * kept); lines still measured under such load are marked '*'. With 2 threads the bench sleeps
 * between libraries so that no pool's idle-spinning threads slow the next library.
 *
 * Shapes are M x K x N, row-major. "llm/cold" rows rotate through enough copies of the weights
 * (every library its own) to exceed 3x the L3, so every call streams its weights from DRAM.
 * OpenBLAS reports its kernel set (openblas_get_corename); if it is one of its old SSE fallbacks,
 * the bench restarts itself with OPENBLAS_CORETYPE=SkylakeX, since such a baseline is not fair. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "bench_openblas.h"
#include "q8/q8.h"

#ifdef Q8_BENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif


/* ---- the machine: clock, vpdpbusd throughput ---------------------------------------------------
 * Clock: a chain of 100 dependent `add $1, reg` per loop iteration; an integer add has a latency of
 * one cycle on every x86 core of the last 20 years, so the chain runs at one add per cycle and
 * adds / second is the clock (the loop counter is a separate chain). Best of several passes: a
 * pass can only be slowed (preempted, a neighbour), never sped up. */
static double measure_clock_hz(void) {
  double best = 0;
  for (int pass = 0; pass < 7; ++pass) {
    uint64_t x = 0, n = 200000; /* 2e7 adds, ~7 ms */
    const double t0 = bench_now();
    __asm__ volatile("1:\n\t"
                     ".rept 100\n\t"
                     "addq $1, %0\n\t"
                     ".endr\n\t"
                     "decq %1\n\t"
                     "jnz 1b\n\t"
                     : "+r"(x), "+r"(n)
                     :
                     : "cc");
    const double hz = 2e7 / (bench_now() - t0);
    if (hz > best) best = hz;
  }
  return best;
}

/* vpdpbusd zmm throughput: 28 independent-enough vpdpbusd per iteration into 14 accumulators
 * (a latency of up to 7 cycles is hidden at 2 per cycle). Returns int8 ops per cycle at `hz`
 * (one vpdpbusd zmm = 64 u8 x s8 products and their sums = 128 ops), 0 without VNNI. */
#define Q8_DP(i) "vpdpbusd %%zmm15, %%zmm14, %%zmm" #i "\n\t"
#define Q8_DP14 Q8_DP(0) Q8_DP(1) Q8_DP(2) Q8_DP(3) Q8_DP(4) Q8_DP(5) Q8_DP(6) Q8_DP(7) \
                Q8_DP(8) Q8_DP(9) Q8_DP(10) Q8_DP(11) Q8_DP(12) Q8_DP(13)
static double measure_vnni_ops_per_cycle(double hz) {
  if (!__builtin_cpu_supports("avx512vnni")) return 0;
  double best = 0;
  for (int pass = 0; pass < 7; ++pass) {
    uint64_t n = 100000; /* 2.8e6 vpdpbusd */
    const double t0 = bench_now();
    __asm__ volatile("vpternlogd $0xff, %%zmm14, %%zmm14, %%zmm14\n\t"
                     "vpabsb %%zmm14, %%zmm15\n\t"
                     "1:\n\t" Q8_DP14 Q8_DP14
                     "decq %0\n\t"
                     "jnz 1b\n\t"
                     "vzeroupper\n\t"
                     : "+r"(n)
                     :
                     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    const double ops_per_s = 2.8e6 * 128.0 / (bench_now() - t0);
    if (ops_per_s > best) best = ops_per_s;
  }
  return best / hz;
}

/* ---- shapes and problems ---------------------------------------------------------------------- */

typedef struct {
  int64_t m, k, n;
  const char *kind;
  int cold;  /* rotate through weight copies exceeding the L3 */
  int full;  /* only with --full */
  int quick; /* part of --quick */
} shape;

static const shape kShapes[] = {
    {256, 256, 256, "square", 0, 0, 1},     {512, 512, 512, "square", 0, 0, 1},
    {1024, 1024, 1024, "square", 0, 0, 0},  {2048, 2048, 2048, "square", 0, 0, 0},
    {4096, 4096, 4096, "square", 0, 1, 0},  {1, 4096, 4096, "llm", 0, 0, 1},
    {8, 4096, 4096, "llm", 0, 0, 1},        {1, 4096, 4096, "llm/cold", 1, 0, 0},
    {8, 4096, 4096, "llm/cold", 1, 0, 0},   {32, 4096, 4096, "llm", 0, 0, 0},
    {128, 4096, 4096, "llm", 0, 0, 0},      {512, 4096, 4096, "llm", 0, 0, 0},
    {128, 4096, 11008, "llm", 0, 0, 0},     {3136, 576, 64, "conv", 0, 0, 1},
    {784, 1152, 128, "conv", 0, 0, 1},      {196, 2304, 256, "conv", 0, 0, 1},
};
enum { kNumShapes = sizeof kShapes / sizeof kShapes[0] };

enum { LIB_Q8, LIB_MM, LIB_GEMM, LIB_SGEMM, NLIB };
static const char *const kLibName[NLIB] = {"q8", "dnnl_matmul", "dnnl_gemm", "sgemm"};

typedef struct {
  const shape *s;
  int nw, wi[NLIB]; /* weight copies, the copy each library uses next */
  uint8_t *a;
  int8_t **b;
  q8_gemm_packed **pb;
  int32_t *c[3]; /* q8, matmul, gemm */
  float *af, **bf, *cf;
#ifdef Q8_BENCH_HAVE_DNNL
  dnnl_primitive_t mm;
  dnnl_memory_t mm_src, mm_dst, *mm_w;
#endif
} problem;

static int g_have_dnnl;
#ifdef Q8_BENCH_HAVE_DNNL
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

static void dnnl_check(dnnl_status_t st, const char *what) {
  if (st != dnnl_success) {
    fprintf(stderr, "oneDNN: %s failed (status %d)\n", what, (int)st);
    exit(1);
  }
}
#endif

static int next_w(problem *p, int lib) {
  const int w = p->wi[lib];
  p->wi[lib] = (w + 1) % p->nw;
  return w;
}

static void run_q8(problem *p) {
  const shape *s = p->s;
  if (q8_gemm_u8s8_packed(Q8_NO_TRANSPOSE, s->m, p->a, s->k, 0, p->pb[next_w(p, LIB_Q8)], NULL, p->c[0],
                          s->n) != Q8_OK) {
    fprintf(stderr, "q8_gemm_u8s8_packed: %s\n", q8_last_error());
    exit(1);
  }
}

static void run_sgemm(problem *p) {
  const shape *s = p->s;
  cblas_sgemm(kRowMajor, kNoTrans, kNoTrans, (int)s->m, (int)s->n, (int)s->k, 1.0f, p->af, (int)s->k,
              p->bf[next_w(p, LIB_SGEMM)], (int)s->n, 0.0f, p->cf, (int)s->n);
}

#ifdef Q8_BENCH_HAVE_DNNL
static void run_mm(problem *p) {
  const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, p->mm_src},
                                   {DNNL_ARG_WEIGHTS, p->mm_w[next_w(p, LIB_MM)]},
                                   {DNNL_ARG_DST, p->mm_dst}};
  dnnl_check(dnnl_primitive_execute(p->mm, g_stream, 3, args), "matmul execute");
  dnnl_check(dnnl_stream_wait(g_stream), "stream wait");
}

static void run_gemm(problem *p) {
  const shape *s = p->s;
  const int32_t co = 0;
  dnnl_check(dnnl_gemm_u8s8s32('N', 'N', 'F', s->m, s->n, s->k, 1.0f, p->a, s->k, 0, p->b[next_w(p, LIB_GEMM)],
                               s->n, 0, 0.0f, p->c[2], s->n, &co),
             "dnnl_gemm_u8s8s32");
}

/* The matmul primitive for the current OpenMP thread count, weights in its preferred layout. */
static void mm_create(problem *p, const char **impl) {
  const shape *s = p->s;
  const dnnl_dims_t ad = {s->m, s->k}, bd = {s->k, s->n}, cd = {s->m, s->n};
  dnnl_memory_desc_t a_md, b_user_md, b_any_md, c_md;
  dnnl_check(dnnl_memory_desc_init_by_tag(&a_md, 2, ad, dnnl_u8, dnnl_ab), "md");
  dnnl_check(dnnl_memory_desc_init_by_tag(&b_user_md, 2, bd, dnnl_s8, dnnl_ab), "md");
  dnnl_check(dnnl_memory_desc_init_by_tag(&b_any_md, 2, bd, dnnl_s8, dnnl_format_tag_any), "md");
  dnnl_check(dnnl_memory_desc_init_by_tag(&c_md, 2, cd, dnnl_s32, dnnl_ab), "md");
  dnnl_matmul_desc_t desc;
  dnnl_check(dnnl_matmul_desc_init(&desc, &a_md, &b_any_md, NULL, &c_md), "matmul desc");
  dnnl_primitive_desc_t pd;
  dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, g_engine, NULL), "matmul pd");
  dnnl_check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)impl), "impl");
  const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_check(dnnl_primitive_create(&p->mm, pd), "matmul");
  dnnl_check(dnnl_memory_create(&p->mm_src, &a_md, g_engine, p->a), "src");
  dnnl_check(dnnl_memory_create(&p->mm_dst, &c_md, g_engine, p->c[1]), "dst");
  dnnl_primitive_desc_t rpd;
  dnnl_check(dnnl_reorder_primitive_desc_create(&rpd, &b_user_md, g_engine, w_md, g_engine, NULL), "reorder pd");
  dnnl_primitive_t reorder;
  dnnl_check(dnnl_primitive_create(&reorder, rpd), "reorder");
  p->mm_w = malloc((size_t)p->nw * sizeof *p->mm_w);
  for (int w = 0; w < p->nw; ++w) {
    dnnl_memory_t user;
    dnnl_check(dnnl_memory_create(&user, &b_user_md, g_engine, p->b[w]), "user weights");
    dnnl_check(dnnl_memory_create(&p->mm_w[w], w_md, g_engine, DNNL_MEMORY_ALLOCATE), "weights");
    const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, p->mm_w[w]}};
    dnnl_check(dnnl_primitive_execute(reorder, g_stream, 2, args), "reorder execute");
    dnnl_check(dnnl_stream_wait(g_stream), "stream wait");
    dnnl_memory_destroy(user);
  }
  dnnl_primitive_destroy(reorder);
  dnnl_primitive_desc_destroy(rpd);
  dnnl_primitive_desc_destroy(pd); /* the primitive keeps its own copy */
}

static void mm_destroy(problem *p) {
  for (int w = 0; w < p->nw; ++w) dnnl_memory_destroy(p->mm_w[w]);
  free(p->mm_w);
  dnnl_memory_destroy(p->mm_src);
  dnnl_memory_destroy(p->mm_dst);
  dnnl_primitive_destroy(p->mm);
}
#endif

static void run_lib(problem *p, int lib) {
  switch (lib) {
    case LIB_Q8: run_q8(p); break;
#ifdef Q8_BENCH_HAVE_DNNL
    case LIB_MM: run_mm(p); break;
    case LIB_GEMM: run_gemm(p); break;
#endif
    case LIB_SGEMM: run_sgemm(p); break;
    default: break;
  }
}

/* One library's call on problem p, for bench_seconds_per_call. */
typedef struct {
  problem *p;
  int lib;
} lib_call;

static void run_lib_call(void *ctx) {
  const lib_call *c = ctx;
  run_lib(c->p, c->lib);
}

static double time_lib(problem *p, int lib, double min_s) {
  lib_call c = {p, lib};
  return bench_seconds_per_call(run_lib_call, &c, min_s);
}

/* Exact comparison of the int32 results; sgemm within f32 rounding of the sum's magnitude. */
static const char *verify(const problem *p) {
  const size_t mn = (size_t)(p->s->m * p->s->n);
  size_t bad_mm = 0, bad_gemm = 0, bad_sgemm = 0;
  const double tol = 1e-6 * (double)p->s->k * 255.0 * 128.0;
  for (size_t i = 0; i < mn; ++i) {
    if (g_have_dnnl) {
      bad_mm += p->c[1][i] != p->c[0][i];
      bad_gemm += p->c[2][i] != p->c[0][i];
    }
    bad_sgemm += fabs((double)p->cf[i] - (double)p->c[0][i]) > tol;
  }
  if (bad_mm || bad_gemm || bad_sgemm) {
    fprintf(stderr, "MISMATCH %lldx%lldx%lld: matmul %zu, gemm %zu, sgemm %zu of %zu differ from q8\n",
            (long long)p->s->m, (long long)p->s->k, (long long)p->s->n, bad_mm, bad_gemm, bad_sgemm, mn);
    return "BAD";
  }
  return g_have_dnnl ? "ok" : "ok-sg";
}

/* ---- results ---------------------------------------------------------------------------------- */

typedef struct {
  const shape *s;
  int threads;
  double gops[NLIB], ratio[NLIB]; /* ratio[lib] = q8 / lib, median per round */
  double w_gbps, w_gbps_mm;        /* packed weights streamed per second (q8, matmul) */
  double others;
  const char *check;
} row;

static double g_hz, g_vnni_opc, g_read[3];

static double peak_gops(int threads) { return 256.0 * g_hz * threads * 1e-9; }

static void print_row(const row *r, const row *one_thread) {
  const shape *s = r->s;
  char mm[16] = "-", ge[16] = "-", rmm[16] = "-", rge[16] = "-", rsg[16], sc[16] = "", wb[32] = "";
  if (g_have_dnnl) {
    snprintf(mm, sizeof mm, "%.1f", r->gops[LIB_MM]);
    snprintf(ge, sizeof ge, "%.1f", r->gops[LIB_GEMM]);
    snprintf(rmm, sizeof rmm, "%.2f", r->ratio[LIB_MM]);
    snprintf(rge, sizeof rge, "%.2f", r->ratio[LIB_GEMM]);
  }
  snprintf(rsg, sizeof rsg, "%.2f", r->ratio[LIB_SGEMM]);
  if (one_thread) snprintf(sc, sizeof sc, "%.2f", r->gops[LIB_Q8] / one_thread->gops[LIB_Q8]);
  if (s->m <= 8) snprintf(wb, sizeof wb, "%.1f / %.1f", r->w_gbps, g_read[r->threads]);
  printf("%-8s %5lld %5lld %5lld %2d | %7.1f %5.1f%% | %7s %7s %6.1f | %5s %5s %5s | %5s | %-13s | %-5s%s\n",
         s->kind, (long long)s->m, (long long)s->k, (long long)s->n, r->threads, r->gops[LIB_Q8],
         100.0 * r->gops[LIB_Q8] / peak_gops(r->threads), mm, ge, r->gops[LIB_SGEMM], rmm, rge, rsg, sc, wb,
         r->check, r->others > 0.3 ? " *" : "");
  fflush(stdout);
}

int main(int argc, char **argv) {
  int rounds = 5, quick = 0, full = 0, only_threads = 0;
  const char *filter = NULL;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--full")) full = 1;
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) only_threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--quick] [--full] [--rounds R] [--threads T] [--filter kind,...]\n", argv[0]);
      return 2;
    }
  }
  if (rounds < 1 || rounds > 100) rounds = 5;
  if (quick && rounds > 3) rounds = 3;
  const int attempts = quick ? 1 : 3;
  const char *core = bench_openblas_fair_core(argv);
  printf("q8 %s, isa %s; OpenBLAS core %s%s\n", q8_version_string(), q8_isa_name(q8_runtime_isa()), core,
         getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE set)" : "");
#ifdef Q8_BENCH_HAVE_DNNL
  {
    const dnnl_version_t *v = dnnl_version();
    g_have_dnnl = 1;
    dnnl_check(dnnl_engine_create(&g_engine, dnnl_cpu, 0), "engine");
    dnnl_check(dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags), "stream");
    printf("oneDNN %d.%d.%d, cpu runtime %s: threads set with omp_set_num_threads() to q8's count\n",
           v->major, v->minor, v->patch,
           v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP"
           : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB (follows the TBB arena: not controlled here)"
           : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : "other");
  }
#else
  printf("oneDNN: not built in (libdnnl-dev not found at configure time)\n");
#endif

  /* The machine, measured now. */
  g_hz = measure_clock_hz();
  g_vnni_opc = measure_vnni_ops_per_cycle(g_hz);
  printf("clock %.3f GHz (dependent add chain); VNNI peak assumed 256 int8 ops/cycle/core (two 512-bit "
         "vpdpbusd per cycle) = %.0f GOPS/core; vpdpbusd zmm microloop measures %.1f ops/cycle (%.2f per "
         "cycle)\n",
         g_hz * 1e-9, peak_gops(1), g_vnni_opc, g_vnni_opc / 128.0);
  {
    const size_t bytes = quick ? 256 * BENCH_MIB : 1024 * BENCH_MIB;
    void *buf = bench_alloc(bytes);
    g_read[1] = bench_read_gbps(buf, bytes, 1, quick ? 2 : 4);
    g_read[2] = bench_read_gbps(buf, bytes, 2, quick ? 2 : 4);
    free(buf);
    char l3[32];
    printf("read bandwidth (sum over %zu MiB, best pass): %.1f GB/s 1 thread, %.1f GB/s 2 threads; L3 %s\n",
           bytes / BENCH_MIB, g_read[1], g_read[2], bench_size_label((size_t)bench_l3_bytes(), l3, sizeof l3));
  }
  printf("rounds %d; GOPS = 2*M*N*K / s, median over rounds; ratios = q8 / peer, median per round; "
         "'*' = others kept > 0.3 cores busy\n\n", rounds);
  printf("%-8s %5s %5s %5s %2s | %7s %6s | %7s %7s %6s | %5s %5s %5s | %5s | %-13s | %s\n", "kind", "M", "K",
         "N", "th", "q8 GOPS", "%peak", "mm GOPS", "gemm", "sgemm", "/mm", "/gemm", "/sg", "2t/1t",
         "w GB/s / rd", "check");

  const double min_s = quick ? 0.01 : 0.03;
  row rows[2 * kNumShapes];
  int n_rows = 0;
  const long l3 = bench_l3_bytes();
  for (int si = 0; si < kNumShapes; ++si) {
    const shape *s = &kShapes[si];
    if ((s->full && !full) || (quick && !s->quick) || !bench_filter_match(filter, s->kind)) continue;
    problem p;
    memset(&p, 0, sizeof p);
    p.s = s;
    const size_t mk = (size_t)(s->m * s->k), kn = (size_t)(s->k * s->n), mn = (size_t)(s->m * s->n);
    p.nw = 1;
    if (s->cold) {
      p.nw = (int)((3 * (size_t)l3 + kn - 1) / kn);
      if (p.nw < 2) p.nw = 2;
    }
    p.a = bench_alloc(mk);
    p.af = bench_alloc(mk * sizeof(float));
    p.b = malloc((size_t)p.nw * sizeof *p.b);
    p.bf = malloc((size_t)p.nw * sizeof *p.bf);
    p.pb = malloc((size_t)p.nw * sizeof *p.pb);
    for (int i = 0; i < 3; ++i) p.c[i] = bench_alloc(mn * sizeof(int32_t));
    p.cf = bench_alloc(mn * sizeof(float));
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < mk; ++i) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      p.a[i] = (uint8_t)x;
      p.af[i] = (float)p.a[i];
    }
    for (int w = 0; w < p.nw; ++w) {
      p.b[w] = bench_alloc(kn);
      p.bf[w] = bench_alloc(kn * sizeof(float));
      if (w == 0) {
        for (size_t i = 0; i < kn; ++i) {
          x ^= x << 13; x ^= x >> 7; x ^= x << 17;
          p.b[0][i] = (int8_t)(uint8_t)x;
          p.bf[0][i] = (float)p.b[0][i];
        }
      } else {
        memcpy(p.b[w], p.b[0], kn);
        memcpy(p.bf[w], p.bf[0], kn * sizeof(float));
      }
      const int32_t zb = 0;
      if (q8_gemm_pack_b(Q8_NO_TRANSPOSE, s->k, s->n, p.b[w], s->n, &zb, 1, &p.pb[w]) != Q8_OK) {
        fprintf(stderr, "pack: %s\n", q8_last_error());
        return 1;
      }
    }
    const char *check = NULL;
    const row *first = NULL;
    for (int threads = 1; threads <= 2; ++threads) {
      if (only_threads && threads != only_threads) continue;
      q8_runtime_set_threads(threads);
      openblas_set_num_threads(threads);
      const char *impl = "";
#ifdef Q8_BENCH_HAVE_DNNL
      omp_set_num_threads(threads); /* before the primitive is made: it sizes its work for it */
      mm_create(&p, &impl);
#endif
      for (int lib = 0; lib < NLIB; ++lib) {
        if (!g_have_dnnl && (lib == LIB_MM || lib == LIB_GEMM)) continue;
        run_lib(&p, lib); /* warm-up; the first one also gives the results to compare */
        run_lib(&p, lib);
      }
      if (!check) {
        check = verify(&p);
        if (impl[0]) printf("  (oneDNN matmul implementation for %lldx%lldx%lld: %s)\n", (long long)s->m,
                            (long long)s->k, (long long)s->n, impl);
      }
      double t[NLIB][100], ratio[NLIB][100], others = 0;
      /* Up to `attempts` passes while other processes keep the cores busy; the quietest is kept. */
      for (int attempt = 0; attempt < attempts; ++attempt) {
      double ta[NLIB][100], ra[NLIB][100];
      if (attempt) sleep(2);
      const bench_load_mark mark = bench_load_begin();
      for (int r = 0; r < rounds; ++r) {
        for (int j = 0; j < NLIB; ++j) {
          const int lib = (r + j) % NLIB;
          if (!g_have_dnnl && (lib == LIB_MM || lib == LIB_GEMM)) continue;
          ta[lib][r] = time_lib(&p, lib, min_s);
          /* Idle threads spin after a parallel call (OpenBLAS's ~0.1 s, libgomp's up to
           * GOMP_SPINCOUNT, TBB's briefly) and would slow whichever library runs next: let the
           * machine settle so that every library starts on quiet cores. */
          if (threads > 1) usleep(lib == LIB_SGEMM ? 100000 : 30000);
        }
        for (int lib = 0; lib < NLIB; ++lib) ra[lib][r] = g_have_dnnl || lib == LIB_Q8 || lib == LIB_SGEMM
                                                              ? ta[lib][r] / ta[LIB_Q8][r] : 0;
      }
      const double o = bench_load_others(mark);
      if (attempt == 0 || o < others) {
        others = o;
        memcpy(t, ta, sizeof t);
        memcpy(ratio, ra, sizeof ratio);
      }
      if (others <= 0.3) break;
      }
      row *rw = &rows[n_rows++];
      memset(rw, 0, sizeof *rw);
      rw->s = s;
      rw->threads = threads;
      rw->others = others;
      rw->check = check;
      const double ops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
      for (int lib = 0; lib < NLIB; ++lib) {
        if (!g_have_dnnl && (lib == LIB_MM || lib == LIB_GEMM)) continue;
        const double sec = bench_median(t[lib], (size_t)rounds);
        rw->gops[lib] = ops / sec * 1e-9;
        rw->ratio[lib] = bench_median(ratio[lib], (size_t)rounds);
        if (lib == LIB_Q8) rw->w_gbps = (double)kn / sec * 1e-9;
        if (lib == LIB_MM) rw->w_gbps_mm = (double)kn / sec * 1e-9;
      }
      print_row(rw, threads == 2 ? first : NULL);
      if (threads == 1) first = rw;
#ifdef Q8_BENCH_HAVE_DNNL
      mm_destroy(&p);
#endif
    }
    for (int w = 0; w < p.nw; ++w) {
      q8_gemm_packed_destroy(p.pb[w]);
      free(p.b[w]);
      free(p.bf[w]);
    }
    free(p.pb); free(p.b); free(p.bf); free(p.a); free(p.af); free(p.cf);
    for (int i = 0; i < 3; ++i) free(p.c[i]);
  }

  /* Machine-readable lines. */
  printf("\ncsv: bench,kind,m,k,n,threads,q8_gops,q8_pct_peak,dnnl_matmul_gops,dnnl_gemm_gops,sgemm_gflops,"
         "q8_over_matmul,q8_over_gemm,q8_over_sgemm,q8_weights_gbps,matmul_weights_gbps,read_gbps,clock_ghz,"
         "vnni_ops_per_cycle,others,check,openblas_core\n");
  for (int i = 0; i < n_rows; ++i) {
    const row *r = &rows[i];
    printf("csv: gemm,%s,%lld,%lld,%lld,%d,%.2f,%.2f,%.2f,%.2f,%.2f,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f,%.3f,%.1f,%.2f,%s,%s\n",
           r->s->kind, (long long)r->s->m, (long long)r->s->k, (long long)r->s->n, r->threads, r->gops[LIB_Q8],
           100.0 * r->gops[LIB_Q8] / peak_gops(r->threads), r->gops[LIB_MM], r->gops[LIB_GEMM],
           r->gops[LIB_SGEMM], r->ratio[LIB_MM], r->ratio[LIB_GEMM], r->ratio[LIB_SGEMM], r->w_gbps,
           r->w_gbps_mm, g_read[r->threads], g_hz * 1e-9, g_vnni_opc, r->others, r->check, core);
  }
  (void)kLibName;
#ifdef Q8_BENCH_HAVE_DNNL
  dnnl_stream_destroy(g_stream);
  dnnl_engine_destroy(g_engine);
#endif
  return 0;
}
