/* bench_sparse: the sparse INT8 GEMM (q8_sparse_gemm_u8s8) against its peer, the dense INT8 GEMM
 * with pre-packed weights (q8_gemm_u8s8_packed), on LLM-like shapes: K = cols = 4096, N = rows =
 * 4096 (and 11008), M = 1 .. 32 activation rows.
 *
 *   bench_sparse [--quick] [--rounds R] [--threads T] [--filter fmt,...] [--m M]
 *
 * Method: for every weight matrix and M, paired rounds in one process: each round times the dense
 * call then the sparse call (the order alternating), each repeated for >= min_s; the ratio is the
 * median of the per-round ratios dense time / sparse time (> 1: sparse is faster), times are
 * medians. "hot" calls reuse one matrix (it stays in L2/L3 between calls); "cold" calls cycle
 * through copies (of both the packed dense and the sparse matrix) adding up to more than twice the
 * L3, so each call streams its weights from DRAM: the realistic LLM decoding case. Unstructured
 * matrices have each element nonzero with probability 1 - sparsity; block matrices each block;
 * 2:4 exactly two nonzeros in every group of four. Every sparse result is checked bit for bit
 * against the dense one once per matrix and M.
 *
 * The summary gives each (M, pattern, hot/cold) class's crossover sparsity, the sparsity above
 * which the sparse call beats dense, interpolated linearly between measured sparsities, and the
 * bytes each format holds (q8_sparse_get_info) against the same matrix in FP32. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "q8/q8.h"

static void check(q8_status st, const char *what) {
  if (st != Q8_OK) {
    fprintf(stderr, "%s: %s (%s)\n", what, q8_status_string(st), q8_last_error());
    exit(1);
  }
}

/* ---- weights -------------------------------------------------------------------------------- */

typedef enum { PAT_UNSTRUCTURED, PAT_BLOCK, PAT_2_4 } pattern;

typedef struct {
  const char *name; /* also the filter key */
  q8_sparse_format format;
  pattern pat;
  int br, bc;
  const int *sparsity; /* percent zeros (blocks for PAT_BLOCK); 0-terminated */
} family;

static const int kUnstructured[] = {50, 60, 70, 80, 90, 95, 0};
static const int kBlock[] = {30, 50, 70, 90, 0};
static const int k24[] = {50, 0};
static const family kFamilies[] = {
    {"csr", Q8_SPARSE_CSR, PAT_UNSTRUCTURED, 1, 1, kUnstructured},
    {"bitmap", Q8_SPARSE_BITMAP, PAT_UNSTRUCTURED, 1, 4, kUnstructured},
    {"bcsr4x4", Q8_SPARSE_BCSR, PAT_BLOCK, 4, 4, kBlock},
    {"bcsr1x4", Q8_SPARSE_BCSR, PAT_BLOCK, 1, 4, kBlock},
    {"bcsr16x4", Q8_SPARSE_BCSR, PAT_BLOCK, 16, 4, kBlock},
    {"2:4", Q8_SPARSE_2_4, PAT_2_4, 1, 4, k24},
};
enum { kFamilies_n = sizeof kFamilies / sizeof kFamilies[0] };

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64* */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1Dull;
}
static int8_t rnd_nonzero(void) {
  int8_t v;
  do v = (int8_t)(uint8_t)(rnd() >> 56);
  while (v == 0);
  return v;
}

/* rows x cols s8 weights with the family's pattern at `sparsity` percent. */
static void make_weights(int8_t *w, int64_t rows, int64_t cols, const family *f, int sparsity) {
  const uint64_t keep = (uint64_t)((1.0 - sparsity / 100.0) * 4294967296.0);
  if (f->pat == PAT_UNSTRUCTURED) {
    for (int64_t i = 0; i < rows * cols; ++i) w[i] = (rnd() >> 32) < keep ? rnd_nonzero() : 0;
  } else if (f->pat == PAT_BLOCK) {
    for (int64_t r0 = 0; r0 < rows; r0 += f->br)
      for (int64_t c0 = 0; c0 < cols; c0 += f->bc) {
        const int on = (rnd() >> 32) < keep;
        for (int r = 0; r < f->br; ++r)
          for (int c = 0; c < f->bc; ++c) w[(r0 + r) * cols + c0 + c] = on ? rnd_nonzero() : 0;
      }
  } else {
    static const int pairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    for (int64_t i = 0; i < rows * cols; i += 4) {
      const int *p = pairs[rnd() % 6];
      memset(w + i, 0, 4);
      w[i + p[0]] = rnd_nonzero();
      w[i + p[1]] = rnd_nonzero();
    }
  }
}

/* ---- timing --------------------------------------------------------------------------------- */

typedef struct {
  int64_t m, k, n;
  const uint8_t *a;
  int32_t *c;
  q8_gemm_packed **dense;
  q8_sparse **sparse;
  int n_dense, n_sparse, i_dense, i_sparse; /* copies, and the one used next */
} problem;

static void run_dense(void *ctx) {
  problem *p = ctx;
  const int i = p->i_dense;
  p->i_dense = (i + 1) % p->n_dense;
  check(q8_gemm_u8s8_packed(Q8_NO_TRANSPOSE, p->m, p->a, p->k, 0, p->dense[i], NULL, p->c, p->n), "dense");
}

static void run_sparse(void *ctx) {
  problem *p = ctx;
  const int i = p->i_sparse;
  p->i_sparse = (i + 1) % p->n_sparse;
  check(q8_sparse_gemm_u8s8(p->m, p->a, p->k, 0, p->sparse[i], NULL, p->c, p->n), "sparse");
}

typedef struct {
  double dense_us, sparse_us, ratio;
} pair_result;

static pair_result measure_pair(problem *p, int cold, int rounds, double min_s) {
  const int nd = p->n_dense, ns = p->n_sparse;
  if (!cold) p->n_dense = p->n_sparse = 1;
  p->i_dense = p->i_sparse = 0;
  double td[100], ts[100], r[100];
  run_dense(p); /* warm-up */
  run_sparse(p);
  for (int i = 0; i < rounds; ++i) {
    if (i % 2 == 0) {
      td[i] = bench_seconds_per_call(run_dense, p, min_s);
      ts[i] = bench_seconds_per_call(run_sparse, p, min_s);
    } else {
      ts[i] = bench_seconds_per_call(run_sparse, p, min_s);
      td[i] = bench_seconds_per_call(run_dense, p, min_s);
    }
    r[i] = td[i] / ts[i];
  }
  p->n_dense = nd;
  p->n_sparse = ns;
  pair_result out = {bench_median(td, (size_t)rounds) * 1e6, bench_median(ts, (size_t)rounds) * 1e6,
                     bench_median(r, (size_t)rounds)};
  return out;
}

/* The sparse result equals the dense one bit for bit. */
static int verify(problem *p) {
  const size_t count = (size_t)(p->m * p->n);
  int32_t *ref = malloc(count * sizeof *ref);
  p->i_dense = p->i_sparse = 0;
  run_dense(p);
  memcpy(ref, p->c, count * sizeof *ref);
  memset(p->c, 0, count * sizeof *ref);
  run_sparse(p);
  const int ok = memcmp(ref, p->c, count * sizeof *ref) == 0;
  free(ref);
  return ok;
}

/* ---- results -------------------------------------------------------------------------------- */

enum { kMaxM = 8, kMaxS = 8 };
typedef struct {
  int have;
  double ratio[2]; /* hot, cold */
} cell;
/* [family][M index][sparsity index], for N = 4096 and one thread */
static cell g_cells[kFamilies_n][kMaxM][kMaxS];

/* The sparsity from which the sparse call wins: the first measured sparsity (from the least
 * sparse) with ratio >= 1, interpolated linearly with the one before it; "< s" when the least
 * sparse already wins, "> s" when none does, a trailing '*' when a sparser point loses again. */
static void crossover(const family *f, int mi, int cold, char *out, size_t cap) {
  double sp[kMaxS], r[kMaxS];
  int n = 0;
  for (int i = 0; f->sparsity[i]; ++i) {
    const cell *c = &g_cells[f - kFamilies][mi][i];
    if (!c->have) continue;
    sp[n] = f->sparsity[i];
    r[n++] = c->ratio[cold];
  }
  if (n == 0) {
    snprintf(out, cap, "-");
    return;
  }
  int i = 0;
  while (i < n && r[i] < 1.0) ++i;
  if (i == n) {
    snprintf(out, cap, "> %.0f", sp[n - 1]);
    return;
  }
  int dips = 0;
  for (int j = i + 1; j < n; ++j) dips |= r[j] < 1.0;
  if (i == 0)
    snprintf(out, cap, "< %.0f%s", sp[0], dips ? "*" : "");
  else
    snprintf(out, cap, "%.0f%s", sp[i - 1] + (1.0 - r[i - 1]) / (r[i] - r[i - 1]) * (sp[i] - sp[i - 1]),
             dips ? "*" : "");
}

/* The CPU's model name (Linux), or "unknown CPU". */
static const char *cpu_name(char *buf, size_t cap) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  snprintf(buf, cap, "unknown CPU");
  if (!f) return buf;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    const char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && colon) {
      snprintf(buf, cap, "%s", colon + 2);
      buf[strcspn(buf, "\n")] = 0;
      break;
    }
  }
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  int rounds = 5, quick = 0, only_threads = 0, only_m = 0;
  const char *filter = NULL;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) only_threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--m") && i + 1 < argc) only_m = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--quick] [--rounds R] [--threads T] [--filter fmt,...] [--m M]\n", argv[0]);
      return 2;
    }
  }
  if (rounds < 1 || rounds > 100) rounds = 5;
  if (quick) rounds = rounds > 2 ? 2 : rounds;
  const double min_s = quick ? 0.002 : 0.012;

  char cpu[128];
  printf("q8 %s on %s, isa %s (avx512vbmi %s, avx512vbmi2 %s); FP32 backend %s%s\n", q8_version_string(),
         cpu_name(cpu, sizeof cpu), q8_isa_name(q8_runtime_isa()), __builtin_cpu_supports("avx512vbmi") ? "yes" : "no",
         __builtin_cpu_supports("avx512vbmi2") ? "yes" : "no", q8_gemm_f32_backend(),
         getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE set)" : "");
  const long l3 = bench_l3_bytes();
  char l3s[32];
  printf("L3 %s; rounds %d; ratio = dense packed time / sparse time (median per round, > 1: sparse "
         "faster); times in us, medians; sparsity = %% zeros (of blocks for BCSR)\n",
         bench_size_label((size_t)l3, l3s, sizeof l3s), rounds);
  printf("cold = cycling through copies of the weights totalling > 2x L3 (streamed from DRAM)%s\n\n",
         quick ? "; --quick: K = N = 1024, cold not measured (repeats hot)" : "");

  static const int64_t kM[] = {1, 4, 8, 16, 32};
  const int n_m = quick ? 2 : 5;
  static const int64_t kQuickM[] = {1, 16};
  /* N = 4096 for everything; N = 11008 and 2 threads for a few representative rows. */
  typedef struct {
    int64_t n;
    int threads;
  } config;
  const config configs[] = {{4096, 1}, {11008, 1}, {4096, 2}};
  const int n_configs = quick ? 1 : 3;
  const int64_t k = quick ? 1024 : 4096;

  printf("%5s %6s %2s %-9s %4s | %9s %9s %6s | %9s %9s %6s | %9s %s\n", "M", "N", "th", "format", "spar",
         "hot dense", "sparse", "ratio", "cold dense", "sparse", "ratio", "bytes/f32", "check");
  for (int ci = 0; ci < n_configs; ++ci) {
    const int64_t n = quick ? 1024 : configs[ci].n;
    const int threads = configs[ci].threads;
    if (only_threads && threads != only_threads) continue;
    check(q8_runtime_set_threads(threads), "threads");
    const int extra = ci > 0; /* the representative subset only */

    int8_t *w = bench_alloc((size_t)(n * k));
    uint8_t *a = bench_alloc((size_t)(32 * k));
    int32_t *c = bench_alloc((size_t)(32 * n) * sizeof(int32_t));
    for (int64_t i = 0; i < 32 * k; ++i) a[i] = (uint8_t)(rnd() >> 56);
    const size_t dense_bytes = (size_t)(n * k);
    const int n_dense = (int)((2 * (size_t)l3) / dense_bytes + 1);

    for (int fi = 0; fi < kFamilies_n; ++fi) {
      const family *f = &kFamilies[fi];
      if (!bench_filter_match(filter, f->name)) continue;
      for (int si = 0; f->sparsity[si]; ++si) {
        const int sp = f->sparsity[si];
        if (extra && !(sp == 70 || sp == 90 || f->pat == PAT_2_4)) continue;
        if (extra && f->format == Q8_SPARSE_BCSR && f->br != 4) continue;
        if (quick && !(sp == 50 || sp == 90)) continue;
        make_weights(w, n, k, f, sp);
        const int64_t shape[2] = {n, k};
        q8_tensor *t;
        check(q8_tensor_wrap(Q8_DTYPE_S8, shape, 2, w, (size_t)(n * k), &t), "wrap");
        q8_sparse *first;
        check(q8_sparse_from_dense(t, f->format, f->br, f->bc, &first), "from_dense");
        q8_sparse_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        check(q8_sparse_get_info(first, &info), "info");
        const int copies = quick ? 1 : (int)((2 * (size_t)l3) / info.total_bytes + 1);
        problem p = {0, k, n, a, c, NULL, NULL, quick ? 1 : n_dense, copies, 0, 0};
        p.sparse = malloc((size_t)copies * sizeof *p.sparse);
        p.sparse[0] = first;
        for (int i = 1; i < copies; ++i) check(q8_sparse_from_dense(t, f->format, f->br, f->bc, &p.sparse[i]), "copy");
        p.dense = malloc((size_t)p.n_dense * sizeof *p.dense);
        for (int i = 0; i < p.n_dense; ++i)
          check(q8_gemm_pack_b(Q8_TRANSPOSE, k, n, w, k, NULL, 0, &p.dense[i]), "pack");
        q8_tensor_destroy(t);

        for (int mi = 0; mi < n_m; ++mi) {
          p.m = quick ? kQuickM[mi] : kM[mi];
          if (only_m && p.m != only_m) continue;
          if (extra && !(p.m == 1 || p.m == 8 || p.m == 32)) continue;
          const int ok = verify(&p);
          const pair_result hot = measure_pair(&p, 0, rounds, min_s);
          const pair_result cold = quick ? hot : measure_pair(&p, 1, rounds, min_s);
          printf("%5lld %6lld %2d %-9s %3d%% | %9.1f %9.1f %6.2f | %9.1f %9.1f %6.2f | %9.3f %s\n",
                 (long long)p.m, (long long)n, threads, f->name, sp, hot.dense_us, hot.sparse_us, hot.ratio,
                 cold.dense_us, cold.sparse_us, cold.ratio, (double)info.total_bytes / (4.0 * (double)(n * k)),
                 ok ? "ok" : "MISMATCH");
          fflush(stdout);
          if (ci == 0) {
            cell *cl = &g_cells[fi][mi][si];
            cl->have = 1;
            cl->ratio[0] = hot.ratio;
            cl->ratio[1] = cold.ratio;
          }
        }
        for (int i = 0; i < copies; ++i) q8_sparse_destroy(p.sparse[i]);
        for (int i = 0; i < p.n_dense; ++i) q8_gemm_packed_destroy(p.dense[i]);
        free(p.sparse);
        free(p.dense);
      }
    }
    free(w);
    free(a);
    free(c);
  }

  printf("\ncrossover sparsity (%%; from it on sparse beats dense, '*': a sparser point loses again), N = %lld, "
         "1 thread: hot / cold\n",
         (long long)(quick ? 1024 : 4096));
  printf("%-9s", "M");
  for (int mi = 0; mi < n_m; ++mi) printf(" | %13lld", (long long)(quick ? kQuickM[mi] : kM[mi]));
  printf("\n");
  for (int fi = 0; fi < kFamilies_n; ++fi) {
    const family *f = &kFamilies[fi];
    if (f->pat == PAT_2_4 || !bench_filter_match(filter, f->name)) continue;
    printf("%-9s", f->name);
    for (int mi = 0; mi < n_m; ++mi) {
      char h[16], cd[16];
      crossover(f, mi, 0, h, sizeof h);
      crossover(f, mi, 1, cd, sizeof cd);
      printf(" | %6s/%-6s", h, cd);
    }
    printf("\n");
  }
  q8_runtime_set_threads(0);
  return 0;
}
