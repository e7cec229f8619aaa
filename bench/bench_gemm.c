/* bench_gemm: q8's INT8 GEMM (u8 x s8 -> s32, packed weights) against OpenBLAS sgemm (f32) in one
 * process, paired rounds (q8 then sgemm, round after round, so both see the same machine load),
 * 1 and 2 threads. Prints GOPS (2*M*N*K per second), the median per-round ratio, and CSV lines.
 *
 *   bench_gemm [--quick] [--rounds R] [--threads T]
 *
 * Shapes are M x K x N. OpenBLAS reports its kernel set (openblas_get_corename); if it is one of
 * its old SSE fallbacks, the bench restarts itself with OPENBLAS_CORETYPE=SkylakeX, since such a
 * baseline is not a fair one. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "q8/q8.h"

/* OpenBLAS, declared here so the bench needs no BLAS header path. */
char *openblas_get_corename(void);
void openblas_set_num_threads(int n);
void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
enum { kRowMajor = 101, kNoTrans = 111 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
  int64_t m, k, n;
  const char *kind;
} shape;

static const shape kShapes[] = {
    {256, 256, 256, "square"},     {512, 512, 512, "square"},     {1024, 1024, 1024, "square"},
    {2048, 2048, 2048, "square"},  {1, 4096, 4096, "llm"},        {8, 4096, 4096, "llm"},
    {32, 4096, 4096, "llm"},       {128, 4096, 4096, "llm"},      {3136, 576, 64, "conv"},
    {784, 1152, 128, "conv"},      {196, 2304, 256, "conv"},
};

typedef struct {
  const shape *s;
  uint8_t *a;
  q8_gemm_packed *pb;
  int32_t *c;
  float *af, *bf, *cf;
} problem;

static void run_q8(const problem *p) {
  if (q8_gemm_u8s8_packed(Q8_NO_TRANSPOSE, p->s->m, p->a, p->s->k, 3, p->pb, NULL, p->c, p->s->n) != Q8_OK) {
    fprintf(stderr, "q8_gemm_u8s8_packed: %s\n", q8_last_error());
    exit(1);
  }
}

static void run_sgemm(const problem *p) {
  cblas_sgemm(kRowMajor, kNoTrans, kNoTrans, (int)p->s->m, (int)p->s->n, (int)p->s->k, 1.0f, p->af,
              (int)p->s->k, p->bf, (int)p->s->n, 0.0f, p->cf, (int)p->s->n);
}

/* Seconds per call: repeats until at least `min_s` passed. */
static double time_call(void (*f)(const problem *), const problem *p, double min_s) {
  int reps = 0;
  const double t0 = now();
  double t;
  do {
    f(p);
    ++reps;
    t = now() - t0;
  } while (t < min_s);
  return t / reps;
}

int main(int argc, char **argv) {
  int rounds = 5, quick = 0, only_threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) only_threads = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--quick] [--rounds R] [--threads T]\n", argv[0]);
      return 2;
    }
  }
  if (rounds < 1 || rounds > 100) rounds = 5;
  const char *core = openblas_get_corename();
  static const char *fallbacks[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai",
                                    "Coppermine", "Northwood", "Banias", "Atom", "Unknown"};
  for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; ++i)
    if (!getenv("OPENBLAS_CORETYPE") && !strcmp(core, fallbacks[i])) {
      fprintf(stderr, "OpenBLAS chose the %s fallback: restarting with OPENBLAS_CORETYPE=SkylakeX\n", core);
      setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
      execv("/proc/self/exe", argv);
      perror("execv");
      return 1;
    }
  printf("q8 %s, isa %s; OpenBLAS core %s%s\n", q8_version_string(), q8_isa_name(q8_runtime_isa()), core,
         getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE set)" : "");
  printf("%-6s %5s %5s %5s %3s | %9s %9s | %7s\n", "kind", "M", "K", "N", "thr", "q8 GOPS", "sgemm GF",
         "q8/sgemm");
  const double min_s = quick ? 0.01 : 0.04;
  char csv[64][160];
  int n_csv = 0;
  for (size_t si = 0; si < sizeof kShapes / sizeof kShapes[0]; ++si) {
    const shape *s = &kShapes[si];
    if (quick && s->m * s->n * s->k > (int64_t)1 << 31) continue;
    problem p;
    p.s = s;
    const size_t mk = (size_t)(s->m * s->k), kn = (size_t)(s->k * s->n), mn = (size_t)(s->m * s->n);
    p.a = malloc(mk);
    int8_t *b = malloc(kn);
    p.c = malloc(mn * sizeof(int32_t));
    p.af = malloc(mk * sizeof(float));
    p.bf = malloc(kn * sizeof(float));
    p.cf = malloc(mn * sizeof(float));
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < mk; ++i) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      p.a[i] = (uint8_t)x;
      p.af[i] = (float)p.a[i];
    }
    for (size_t i = 0; i < kn; ++i) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      b[i] = (int8_t)(uint8_t)x;
      p.bf[i] = (float)b[i];
    }
    const int32_t zb = 0;
    if (q8_gemm_pack_b(Q8_NO_TRANSPOSE, s->k, s->n, b, s->n, &zb, 1, &p.pb) != Q8_OK) {
      fprintf(stderr, "pack: %s\n", q8_last_error());
      return 1;
    }
    for (int threads = 1; threads <= 2; ++threads) {
      if (only_threads && threads != only_threads) continue;
      q8_runtime_set_threads(threads);
      openblas_set_num_threads(threads);
      run_q8(&p);  /* warm up both */
      run_sgemm(&p);
      double tq[100], tf[100], ratio[100];
      for (int r = 0; r < rounds; ++r) {
        tq[r] = time_call(run_q8, &p, min_s);
        tf[r] = time_call(run_sgemm, &p, min_s);
        ratio[r] = tf[r] / tq[r];
      }
      const double ops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
      const double gq = ops / median(tq, rounds) * 1e-9, gf = ops / median(tf, rounds) * 1e-9;
      const double rt = median(ratio, rounds);
      printf("%-6s %5lld %5lld %5lld %3d | %9.1f %9.1f | %7.2f\n", s->kind, (long long)s->m,
             (long long)s->k, (long long)s->n, threads, gq, gf, rt);
      fflush(stdout);
      if (n_csv < 64)
        snprintf(csv[n_csv++], sizeof csv[0], "gemm,%s,%lld,%lld,%lld,%d,%.2f,%.2f,%.3f,%s", s->kind,
                 (long long)s->m, (long long)s->k, (long long)s->n, threads, gq, gf, rt, core);
    }
    q8_gemm_packed_destroy(p.pb);
    free(p.a); free(b); free(p.c); free(p.af); free(p.bf); free(p.cf);
  }
  printf("\ncsv: bench,kind,m,k,n,threads,q8_gops,sgemm_gflops,q8_over_sgemm,openblas_core\n");
  for (int i = 0; i < n_csv; ++i) printf("csv: %s\n", csv[i]);
  return 0;
}
