/* bench_fixed: throughput of the main Q7/Q15/Q31 array operations against memcpy of the same
 * bytes, measured in the same process.
 *
 *   bench_fixed [--quick] [--filter NAME[,NAME...]] [--isa best|all|scalar|avx2|avx512]
 *               [--size l2,l3,dram] [--seconds S]
 *
 * GB/s = 1e9 bytes moved per second, bytes moved = bytes read + bytes written by one call:
 *   f32_to_q15  q8_fixed_from_f32_s16 (frac_bits 15, toward zero)   4 + 2 = 6 bytes per element
 *   q15_add     q8_fixed_add_q15                                    2 + 2 + 2 = 6
 *   q15_mult    q8_fixed_mult_q15                                   6
 *   q31_mult    q8_fixed_mult_q31                                   4 + 4 + 4 = 12
 *   q7_dot      q8_fixed_dot_prod_q7 (result: 4 bytes, not counted) 1 + 1 = 2
 *   q15_to_q7   q8_fixed_q15_to_q7                                  2 + 1 = 3
 * Sizes are bytes moved per call: 384 KiB (q8's and memcpy's working sets together fit L2),
 * 12 MiB (together within 3/4 of L3) and 1 GiB (far beyond L3). The memcpy peer copies half the
 * bytes moved (so it moves the same bytes) between its own two buffers, on the same number of
 * threads (bench_common.c). Rounds alternate memcpy and q8; the table gives medians and the median
 * of per-round ratios q8/memcpy. Machine-readable lines:
 *   csv,op,isa,threads,bytes_moved,q8_gbps,memcpy_gbps,ratio
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <q8/q8.h>

#include "bench_common.h"

static const double kNoisy = 0.25;

static void die(const char *what) {
  fprintf(stderr, "bench_fixed: %s: %s\n", what, q8_last_error());
  exit(1);
}
#define CHECK(call)                  \
  do {                               \
    if ((call) != Q8_OK) die(#call); \
  } while (0)

/* ---- the operations ------------------------------------------------------------------------- */

typedef struct {
  void *a, *b, *d;
  size_t n;
  int64_t sink;
} arrays;

static void run_f32_to_q15(void *p) {
  arrays *x = p;
  CHECK(q8_fixed_from_f32_s16(x->a, x->d, x->n, 15, Q8_ROUND_TOWARD_ZERO));
}
static void run_q15_add(void *p) {
  arrays *x = p;
  CHECK(q8_fixed_add_q15(x->a, x->b, x->d, x->n));
}
static void run_q15_mult(void *p) {
  arrays *x = p;
  CHECK(q8_fixed_mult_q15(x->a, x->b, x->d, x->n));
}
static void run_q31_mult(void *p) {
  arrays *x = p;
  CHECK(q8_fixed_mult_q31(x->a, x->b, x->d, x->n));
}
static void run_q7_dot(void *p) {
  arrays *x = p;
  int32_t r;
  CHECK(q8_fixed_dot_prod_q7(x->a, x->b, x->n, &r));
  x->sink += r;
}
static void run_q15_to_q7(void *p) {
  arrays *x = p;
  CHECK(q8_fixed_q15_to_q7(x->a, x->d, x->n));
}

typedef struct {
  const char *name;
  void (*run)(void *);
  size_t in_a, in_b, out; /* bytes per element of each array (0: absent) */
  int a_is_float;
} op_def;

static const op_def kOps[] = {
    {"f32_to_q15", run_f32_to_q15, 4, 0, 2, 1}, {"q15_add", run_q15_add, 2, 2, 2, 0},
    {"q15_mult", run_q15_mult, 2, 2, 2, 0},     {"q31_mult", run_q31_mult, 4, 4, 4, 0},
    {"q7_dot", run_q7_dot, 1, 1, 0, 0},         {"q15_to_q7", run_q15_to_q7, 2, 0, 1, 0},
};
#define N_OPS (sizeof kOps / sizeof kOps[0])

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void) {
  g_rng ^= g_rng >> 12, g_rng ^= g_rng << 25, g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1Dull;
}

/* Arrays for `op` moving `moved` bytes per call, filled with random values (floats in [-1, 1)). */
static arrays make_arrays(const op_def *op, size_t moved) {
  arrays x = {NULL, NULL, NULL, 0, 0};
  x.n = moved / (op->in_a + op->in_b + op->out) / 64 * 64;
  x.a = bench_alloc(x.n * op->in_a);
  if (op->in_b) x.b = bench_alloc(x.n * op->in_b);
  if (op->out) x.d = bench_alloc(x.n * op->out);
  for (size_t i = 0; i < x.n; ++i) {
    const uint64_t r = next_random();
    if (op->a_is_float)
      ((float *)x.a)[i] = (float)(r >> 40) * (2.0f / 16777216.0f) - 1.0f;
    else
      memcpy((char *)x.a + i * op->in_a, &r, op->in_a);
    if (op->in_b) memcpy((char *)x.b + i * op->in_b, (const char *)&r + 4, op->in_b);
  }
  return x;
}

static void free_arrays(arrays *x) {
  free(x->a);
  free(x->b);
  free(x->d);
}

/* ---- driver -------------------------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_fixed [--quick] [--filter NAME[,NAME...]] [--isa best|all|scalar|avx2|avx512]\n"
          "                   [--size l2,l3,dram] [--seconds S]\n"
          "  --quick     smaller sizes and shorter rounds (a smoke run)\n"
          "  --filter    ops whose name starts with one of the NAMEs; ops:");
  for (size_t i = 0; i < N_OPS; ++i) fprintf(f, " %s", kOps[i].name);
  fprintf(f, "\n  --isa       the best path (default), every path, or one path\n"
             "  --size      only these of the three sizes (in L2, in L3, beyond L3)\n"
             "  --seconds   target time per line (default 0.4, quick 0.1)\n");
}

typedef struct {
  const char *op, *isa;
  int threads;
  size_t moved;
  bench_result r;
} row;

int main(int argc, char **argv) {
  int quick = 0;
  const char *filter = NULL, *isa_arg = "best", *size_only = NULL;
  double seconds = -1;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
      isa_arg = argv[++i];
    } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
      size_only = argv[++i];
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atof(argv[++i]);
      if (!(seconds > 0 && seconds < 600)) {
        fprintf(stderr, "bench_fixed: --seconds wants a number in (0, 600)\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "bench_fixed: unknown or incomplete argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  const double line_s = seconds > 0 ? seconds : quick ? 0.1 : 0.4;
  const size_t min_rounds = quick ? 3 : 5;

  const q8_isa candidates[] = {Q8_ISA_SCALAR, Q8_ISA_AVX2, Q8_ISA_AVX512};
  q8_isa isas[3];
  size_t n_isa = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (!q8_runtime_isa_supported(candidates[i])) continue;
    if (strcmp(isa_arg, "all") == 0 || strcmp(isa_arg, q8_isa_name(candidates[i])) == 0) isas[n_isa++] = candidates[i];
  }
  if (strcmp(isa_arg, "best") == 0) {
    for (size_t i = 0; i < 3; ++i)
      if (q8_runtime_isa_supported(candidates[i])) isas[0] = candidates[i];
    n_isa = 1;
  }
  if (n_isa == 0) {
    fprintf(stderr, "bench_fixed: no ISA path selected (--isa %s not supported?)\n", isa_arg);
    return 2;
  }

  const long l3 = bench_l3_bytes();
  size_t sizes[3] = {384 * BENCH_KIB, 12 * BENCH_MIB, 1024 * BENCH_MIB};
  if (quick) sizes[0] = 96 * BENCH_KIB, sizes[1] = 3 * BENCH_MIB, sizes[2] = 64 * BENCH_MIB;
  if (!quick) /* L3 line: q8's and memcpy's working sets (2 x moved) within 3/4 of the L3 */
    while (sizes[1] > BENCH_MIB && 2 * sizes[1] > (size_t)l3 * 3 / 4) sizes[1] /= 2;
  static const char *const kLevel[3] = {"l2", "l3", "dram"};
  const char *where[3] = {"L2", "L3", sizes[2] > (size_t)l3 ? "DRAM" : "L3"};

  printf("q8 %s, L3 %ld MiB; GB/s = 1e9 bytes (read + written) per s; size = bytes moved per call\n",
         q8_version_string(), l3 / (1024 * 1024));
  printf("rounds alternate memcpy and q8 for ~%.2f s per line; ratio = median of per-round q8/memcpy\n", line_s);
  printf("others = cores that other processes kept busy during the line (re-measured when > %.2f)\n\n", kNoisy);
  printf("%-12s %-7s %3s %9s %-5s %9s %11s %7s %6s\n", "op", "isa", "thr", "size", "where", "q8 GB/s",
         "memcpy GB/s", "ratio", "others");
  fflush(stdout);

  bench_copy_start();
  static row rows[3 * N_OPS * 3 * 2];
  size_t n_rows = 0;
  for (size_t si = 0; si < 3; ++si) {
    if (size_only && !bench_filter_match(size_only, kLevel[si])) continue;
    const size_t moved = sizes[si];
    void *copy_src = bench_alloc(moved / 2), *copy_dst = bench_alloc(moved / 2);
    char label[32];
    bench_size_label(moved, label, sizeof label);
    for (size_t oi = 0; oi < N_OPS; ++oi) {
      const op_def *op = &kOps[oi];
      if (!bench_filter_match(filter, op->name)) continue;
      arrays x = make_arrays(op, moved);
      const double op_moved = (double)(x.n * (op->in_a + op->in_b + op->out));
      for (size_t ii = 0; ii < n_isa; ++ii)
        for (int threads = 1; threads <= 2; ++threads) {
          CHECK(q8_runtime_set_isa(isas[ii]));
          CHECK(q8_runtime_set_threads(threads));
          const bench_result r =
              bench_pair_quiet(op->run, &x, op_moved, copy_dst, copy_src, threads, line_s, min_rounds, kNoisy, 4);
          row *w = &rows[n_rows++];
          w->op = op->name, w->isa = q8_isa_name(isas[ii]), w->threads = threads, w->moved = moved, w->r = r;
          printf("%-12s %-7s %3d %9s %-5s %9.2f %11.2f %7.3f %6.2f%s\n", w->op, w->isa, threads, label, where[si],
                 r.op_gbps, r.memcpy_gbps, r.ratio, r.others, r.others > kNoisy ? " noisy" : "");
          fflush(stdout);
        }
      free_arrays(&x);
    }
    free(copy_src);
    free(copy_dst);
  }
  bench_copy_stop();
  CHECK(q8_runtime_set_isa(Q8_ISA_AUTO));
  CHECK(q8_runtime_set_threads(0));

  printf("\n");
  for (size_t i = 0; i < n_rows; ++i)
    printf("csv,%s,%s,%d,%zu,%.3f,%.3f,%.4f\n", rows[i].op, rows[i].isa, rows[i].threads, rows[i].moved,
           rows[i].r.op_gbps, rows[i].r.memcpy_gbps, rows[i].r.ratio);
  return 0;
}
