/* bench_quantize: q8_quantize / q8_dequantize bandwidth against memcpy, measured in the same run.
 *
 *   bench_quantize [--quick] [--filter NAME[,NAME...]] [--isa scalar|avx2|avx512]
 *                  [--size l2,l3,dram] [--seconds S]
 *
 * Every figure is GB/s (1e9 bytes/s) of bytes moved = bytes read + bytes written: a quantize of n
 * floats moves 5n bytes, a dequantize to f32 5n, a memcpy of S bytes 2S. The memcpy peer copies
 * S = (q8's bytes moved) / 2 bytes, from the same input buffer, so both move the same bytes and touch
 * a working set of the same size. Rounds alternate memcpy, q8, memcpy, q8, ...; the table shows
 * median GB/s of each and the median of the per-round ratios q8/memcpy (the machine is shared and
 * noisy: a pair of neighbouring rounds sees the same noise). At 2 threads the memcpy is split in
 * two halves, the second on one helper pthread, as q8's oneTBB arena splits its work.
 * Machine-readable lines: csv,op,isa,threads,bytes,q8_gbps,memcpy_gbps,ratio where bytes is the f32
 * tensor size (the "size" column).
 */
#define _GNU_SOURCE /* sysconf(_SC_LEVEL2_CACHE_SIZE) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <q8/q8.h>

#include "bench_common.h"

#define KIB BENCH_KIB
#define MIB BENCH_MIB
#define CHANNELS 256   /* per-channel benchmarks: channel count of the quantized axis */
static const double kNoisy = 0.25;

static void die(const char *what) {
  fprintf(stderr, "bench_quantize: %s: %s\n", what, q8_last_error());
  exit(1);
}
#define CHECK(call) do { if ((call) != Q8_OK) die(#call); } while (0)

/* ---- the operations ------------------------------------------------------------------------ */

typedef struct {
  const char *name;
  int quantize;  /* 1: f32 -> 8 bit, 0: s8 -> f32 */
  q8_dtype dt;   /* the 8-bit side */
  int axis;      /* -1 per-tensor; 0 or 1 on a [rows, cols] tensor (1 = the last axis) */
} op_def;

static const op_def kOps[] = {
    {"quantize_s8", 1, Q8_DTYPE_S8, -1},        {"quantize_u8", 1, Q8_DTYPE_U8, -1},
    {"quantize_s8_chlast", 1, Q8_DTYPE_S8, 1},  {"quantize_u8_chlast", 1, Q8_DTYPE_U8, 1},
    {"quantize_s8_ch0", 1, Q8_DTYPE_S8, 0},     {"quantize_u8_ch0", 1, Q8_DTYPE_U8, 0},
    {"dequantize_s8", 0, Q8_DTYPE_S8, -1},
};
#define N_OPS (sizeof kOps / sizeof kOps[0])

typedef struct {
  float *x;       /* f32 input of quantize; memcpy source */
  void *q;        /* 8-bit output of quantize, input of dequantize */
  float *xo;      /* f32 output of dequantize; memcpy destination */
  size_t n;       /* elements */
} buffers;

/* A wrapped [rows, cols] pair of tensors with parameters set for `op`. */
typedef struct {
  q8_tensor *f, *q;
} op_tensors;

static op_tensors make_op(const op_def *op, const buffers *b) {
  op_tensors t;
  const size_t rows = op->axis == 1 ? b->n / CHANNELS : op->axis == 0 ? CHANNELS : 1;
  const int64_t shape[2] = {(int64_t)rows, (int64_t)(b->n / rows)};
  float *f = op->quantize ? b->x : b->xo;
  CHECK(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, f, b->n * sizeof(float), &t.f));
  CHECK(q8_tensor_wrap(op->dt, shape, 2, b->q, b->n, &t.q));
  /* Data lie in [-4, 4): s8 uses the symmetric scale, u8 the asymmetric one with zero point 128. */
  const int s8 = op->dt == Q8_DTYPE_S8;
  const float base = s8 ? 4.0f / 127.0f : 8.0f / 255.0f;
  if (op->axis < 0) {
    CHECK(q8_tensor_set_qparams(t.q, base, s8 ? 0 : 128));
  } else {
    float scales[CHANNELS];
    int32_t zps[CHANNELS];
    for (int c = 0; c < CHANNELS; ++c) {
      scales[c] = base * (1.0f + (float)c / CHANNELS);
      zps[c] = s8 ? c % 7 - 3 : 128 + c % 7 - 3;
    }
    CHECK(q8_tensor_set_qparams_per_axis(t.q, op->axis, scales, zps, CHANNELS));
  }
  return t;
}

static void run_op(const op_def *op, const op_tensors *t) {
  if (op->quantize)
    CHECK(q8_quantize(t->f, t->q));
  else
    CHECK(q8_dequantize(t->q, t->f));
}

typedef struct {
  const op_def *op;
  const op_tensors *t;
} op_ctx;

static void run_ctx(void *ctx) {
  const op_ctx *c = ctx;
  run_op(c->op, c->t);
}

typedef struct {
  double seconds; /* target time per configuration */
  size_t min_rounds;
} budget;

/* Paired rounds against a memcpy moving the same bytes (5 per element: 4 on the f32 side, 1 on
 * the 8-bit side), measured again while other processes keep the cores busy. */
static bench_result measure(const op_def *op, const op_tensors *t, const buffers *b, int threads,
                            budget bud) {
  op_ctx c = {op, t};
  return bench_pair_quiet(run_ctx, &c, (double)b->n * 5.0, b->xo, b->x, threads, bud.seconds,
                          bud.min_rounds, kNoisy, 4);
}

/* ---- driver -------------------------------------------------------------------------------- */

static void fill(buffers *b) {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < b->n; ++i) {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    const uint64_t r = s * 0x2545F4914F6CDD1Dull;
    b->x[i] = (float)(r >> 40) * (8.0f / 16777216.0f) - 4.0f; /* [-4, 4) */
    ((int8_t *)b->q)[i] = (int8_t)(r >> 8);
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_quantize [--quick] [--filter NAME[,NAME...]] [--isa scalar|avx2|avx512]\n"
          "                      [--size l2,l3,dram] [--seconds S]\n"
          "  --quick     smaller sizes and shorter rounds (a smoke run)\n"
          "  --filter    ops whose name starts with one of the NAMEs; ops:");
  for (size_t i = 0; i < N_OPS; ++i) fprintf(f, " %s", kOps[i].name);
  fprintf(f, "\n  --isa       only this ISA path (default: every path the CPU supports)\n"
             "  --size      only these of the three sizes (in L2, in L3, beyond L3)\n"
             "  --seconds   target time per configuration (default 0.4, quick 0.1)\n");
}

typedef struct {
  const char *op, *isa;
  int threads;
  size_t bytes;
  bench_result r;
} row;

int main(int argc, char **argv) {
  int quick = 0;
  const char *filter = NULL, *isa_only = NULL, *size_only = NULL;
  double seconds = -1;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
      isa_only = argv[++i];
    } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
      size_only = argv[++i];
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atof(argv[++i]);
      if (!(seconds > 0 && seconds < 600)) {
        fprintf(stderr, "bench_quantize: --seconds wants a number in (0, 600)\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "bench_quantize: unknown or incomplete argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  budget bud = {seconds > 0 ? seconds : quick ? 0.1 : 0.4, quick ? 3 : 5};

  const q8_isa all_isas[] = {Q8_ISA_SCALAR, Q8_ISA_AVX2, Q8_ISA_AVX512};
  q8_isa isas[3];
  size_t n_isa = 0;
  for (size_t i = 0; i < 3; ++i)
    if (q8_runtime_isa_supported(all_isas[i]) &&
        (!isa_only || strcmp(isa_only, q8_isa_name(all_isas[i])) == 0))
      isas[n_isa++] = all_isas[i];
  if (n_isa == 0) {
    fprintf(stderr, "bench_quantize: no ISA path selected (--isa %s not supported?)\n", isa_only);
    return 2;
  }
  const q8_isa best = isas[n_isa - 1];

  /* Sizes of the f32 tensor: in L2; in L3 with room for q8's and memcpy's working sets together
   * (both are touched every round pair, 2.5 x the f32 bytes); well beyond L3. */
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), l3 = bench_l3_bytes();
  size_t l3_size = 1 * MIB;
  while (l3_size < 16 * MIB && (l3_size * 2) * 5 / 2 <= (size_t)l3 * 3 / 4) l3_size *= 2;
  size_t big = 512 * MIB;
  while (big < 2 * (size_t)l3) big *= 2;
  size_t sizes[3] = {256 * KIB, l3_size, big};
  if (quick) {
    sizes[0] = 64 * KIB;
    sizes[1] = 2 * MIB;
    sizes[2] = 64 * MIB;
  }
  const char *where[3] = {"L2", "L3", (size_t)l3 <= sizes[2] ? "DRAM" : "L3"};

  printf("q8 %s, best ISA %s, L2 %ld KiB, L3 %ld MiB; GB/s = 1e9 bytes (read + written) per s\n",
         q8_version_string(), q8_isa_name(q8_runtime_isa()), l2 / 1024, l3 / (1024 * 1024));
  printf("rounds alternate memcpy and q8 for ~%.2f s per line; ratio = median of per-round q8/memcpy\n",
         bud.seconds);
  printf("others = cores that other processes kept busy during the line (re-measured when > %.2f)\n\n",
         kNoisy);
  printf("%-20s %-7s %3s %9s %-5s %9s %11s %7s %6s\n", "op", "isa", "thr", "size", "where", "q8 GB/s",
         "memcpy GB/s", "ratio", "others");
  fflush(stdout);

  bench_copy_start();
  static row rows[3 * N_OPS * 3 * 2];
  size_t n_rows = 0;
  static const char *const kLevel[3] = {"l2", "l3", "dram"};
  int warmed = 0;
  for (size_t si = 0; si < 3; ++si) {
    if (size_only && !bench_filter_match(size_only, kLevel[si])) continue;
    buffers b;
    b.n = sizes[si] / sizeof(float);
    b.x = bench_alloc(b.n * sizeof(float));
    b.q = bench_alloc(b.n);
    b.xo = bench_alloc(b.n * sizeof(float));
    fill(&b);
    if (!warmed) { /* before the first line: wake the cores up (clock ramp, helper) */
      warmed = 1;
      const double t0 = bench_now();
      while (bench_now() - t0 < 0.3) {
        bench_copy(1, b.xo, b.x, b.n * sizeof(float));
        bench_copy(2, b.xo, b.x, b.n * sizeof(float));
      }
    }
    char lbl[32];
    bench_size_label(sizes[si], lbl, sizeof lbl);
    for (size_t oi = 0; oi < N_OPS; ++oi) {
      const op_def *op = &kOps[oi];
      if (!bench_filter_match(filter, op->name)) continue;
      op_tensors t = make_op(op, &b);
      for (size_t ii = 0; ii < n_isa; ++ii) {
        for (int threads = 1; threads <= 2; ++threads) {
          CHECK(q8_runtime_set_isa(isas[ii]));
          CHECK(q8_runtime_set_threads(threads));
          /* Other developers' jobs share these cores: bench_pair_quiet measures again (up to 4
           * times) while they keep more than a quarter of a core busy, and keeps the quietest. */
          const bench_result r = measure(op, &t, &b, threads, bud);
          row *w = &rows[n_rows++];
          w->op = op->name;
          w->isa = q8_isa_name(isas[ii]);
          w->threads = threads;
          w->bytes = sizes[si];
          w->r = r;
          printf("%-20s %-7s %3d %9s %-5s %9.2f %11.2f %7.3f %6.2f%s\n", op->name, w->isa, threads, lbl,
                 where[si], r.op_gbps, r.memcpy_gbps, r.ratio, r.others, r.others > kNoisy ? " noisy" : "");
          fflush(stdout);
        }
      }
      q8_tensor_destroy(t.f);
      q8_tensor_destroy(t.q);
    }
    free(b.x);
    free(b.q);
    free(b.xo);
  }
  bench_copy_stop();
  CHECK(q8_runtime_set_isa(Q8_ISA_AUTO));
  CHECK(q8_runtime_set_threads(0));

  printf("\n");
  for (size_t i = 0; i < n_rows; ++i)
    printf("csv,%s,%s,%d,%zu,%.3f,%.3f,%.4f\n", rows[i].op, rows[i].isa, rows[i].threads,
           rows[i].bytes, rows[i].r.op_gbps, rows[i].r.memcpy_gbps, rows[i].r.ratio);

  /* Headline: f32 -> s8 per-tensor on the best path against the target. */
  printf("\nheadline: quantize_s8 (f32 -> s8, per-tensor) on %s, target ratio >= 0.80\n",
         q8_isa_name(best));
  int shown = 0;
  for (size_t i = 0; i < n_rows; ++i) {
    if (strcmp(rows[i].op, "quantize_s8") != 0 || strcmp(rows[i].isa, q8_isa_name(best)) != 0) continue;
    char lbl[32];
    printf("  %9s %d thread%s: %6.2f GB/s vs memcpy %6.2f GB/s = %.3f %s%s\n",
           bench_size_label(rows[i].bytes, lbl, sizeof lbl), rows[i].threads, rows[i].threads > 1 ? "s" : " ",
           rows[i].r.op_gbps, rows[i].r.memcpy_gbps, rows[i].r.ratio,
           rows[i].r.ratio >= 0.80 ? "meets" : "BELOW target", rows[i].r.others > kNoisy ? " (noisy)" : "");
    shown = 1;
  }
  if (!shown) printf("  (quantize_s8 filtered out)\n");
  return 0;
}
