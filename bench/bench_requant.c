/* bench_requant: q8_fixed_requantize_s8 (int32 accumulators -> s8, the epilogue of every INT8
 * layer) per tensor and per channel, against memcpy of the same bytes, measured in one process.
 *
 *   bench_requant [--quick] [--isa scalar|avx2|avx512] [--size l2,l3,dram] [--seconds S]
 *                 [--filter per_tensor,per_channel]
 *
 * GB/s = 1e9 bytes moved per second; a requantize of n elements moves 5n bytes (4 read, 1 written),
 * the memcpy peer copies 5n/2 bytes (read + written = 5n) out of the accumulator buffer. Rounds
 * alternate memcpy and q8; each line shows the median GB/s of both and the median of the per-round
 * ratios q8 / memcpy (neighbouring rounds share the machine's noise). At 2 threads the memcpy is
 * split in halves, one on a helper thread. "others" is how many cores other processes kept busy
 * meanwhile (from /proc/stat); a line above 0.25 is marked noisy.
 * Machine-readable lines: csv,op,isa,threads,bytes,q8_gbps,memcpy_gbps,ratio (bytes = int32 input).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <q8/q8.h>

#define CHANNELS 256
#define MAX_ROUNDS 2048

static double wall_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double own_cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds all cores spent neither idle nor in iowait. */
static double machine_cpu_s(void) {
  FILE *f = fopen("/proc/stat", "r");
  unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iow = 0, irq = 0, sirq = 0, steal = 0;
  int got = 0;
  if (f) {
    got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iow, &irq, &sirq,
                 &steal);
    fclose(f);
  }
  return got == 8 ? (double)(user + nice + sys + irq + sirq + steal) / (double)sysconf(_SC_CLK_TCK) : 0;
}

static void check(q8_status st, const char *what) {
  if (st != Q8_OK) {
    fprintf(stderr, "bench_requant: %s: %s\n", what, q8_last_error());
    exit(1);
  }
}

/* ---- a helper thread for the two-thread memcpy ----------------------------------------------- */

static struct {
  pthread_mutex_t mu;
  pthread_cond_t wake;
  atomic_ulong job, done;
  atomic_int stop;
  char *dst;
  const char *src;
  size_t n;
} g_copy = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0};

static void *copier(void *unused) {
  (void)unused;
  unsigned long seen = 0;
  for (;;) {
    /* Spin briefly (copies come back to back within a round), then sleep: an idle helper must not
     * take a core from q8's own threads during q8's rounds. */
    const double t0 = wall_s();
    while (atomic_load(&g_copy.job) == seen && !atomic_load(&g_copy.stop) && wall_s() - t0 < 50e-6) {
    }
    pthread_mutex_lock(&g_copy.mu);
    while (atomic_load(&g_copy.job) == seen && !atomic_load(&g_copy.stop)) pthread_cond_wait(&g_copy.wake, &g_copy.mu);
    pthread_mutex_unlock(&g_copy.mu);
    if (atomic_load(&g_copy.stop)) return NULL;
    seen = atomic_load(&g_copy.job);
    memcpy(g_copy.dst, g_copy.src, g_copy.n);
    atomic_store(&g_copy.done, seen);
  }
}

static void copy(int threads, char *dst, const char *src, size_t n) {
  if (threads < 2) {
    memcpy(dst, src, n);
    return;
  }
  const size_t half = (n / 2) & ~(size_t)63;
  g_copy.dst = dst + half, g_copy.src = src + half, g_copy.n = n - half;
  pthread_mutex_lock(&g_copy.mu);
  const unsigned long job = atomic_load(&g_copy.job) + 1;
  atomic_store(&g_copy.job, job);
  pthread_cond_signal(&g_copy.wake);
  pthread_mutex_unlock(&g_copy.mu);
  memcpy(dst, src, half);
  while (atomic_load(&g_copy.done) != job) {
  }
}

/* ---- one configuration ------------------------------------------------------------------------- */

typedef struct {
  int32_t *acc;
  int8_t *out;
  char *copy_dst;
  size_t n;
  size_t channels;
  const int32_t *bias, *mult, *shift;
} work;

static void requantize(const work *w) {
  check(q8_fixed_requantize_s8(w->acc, w->n, w->bias, w->mult, w->shift, w->channels, -5, -128, 127, w->out),
        "q8_fixed_requantize_s8");
}

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, by_value);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
  double q8, mem, ratio, others;
  size_t rounds;
} result;

static result measure(const work *w, int threads, double seconds) {
  const double bytes = 5.0 * (double)w->n;
  const size_t copy_bytes = (size_t)(bytes / 2);
  /* warm-up, and repetitions per round so that a round lasts >= 2 ms */
  double tq = 1, tm = 1;
  for (int i = 0; i < 3; ++i) {
    const double t0 = wall_s();
    copy(threads, w->copy_dst, (const char *)w->acc, copy_bytes);
    const double t1 = wall_s();
    requantize(w);
    const double t2 = wall_s();
    tm = t1 - t0, tq = t2 - t1;
  }
  const size_t rq = tq >= 2e-3 ? 1 : (size_t)(2e-3 / (tq > 1e-9 ? tq : 1e-9)) + 1;
  const size_t rm = tm >= 2e-3 ? 1 : (size_t)(2e-3 / (tm > 1e-9 ? tm : 1e-9)) + 1;
  static double q8[MAX_ROUNDS], mem[MAX_ROUNDS], ratio[MAX_ROUNDS];
  size_t r = 0;
  const double busy0 = machine_cpu_s(), own0 = own_cpu_s(), start = wall_s();
  while (r < MAX_ROUNDS && (wall_s() - start < seconds || r < 5)) {
    const double t0 = wall_s();
    for (size_t k = 0; k < rm; ++k) copy(threads, w->copy_dst, (const char *)w->acc, copy_bytes);
    const double t1 = wall_s();
    for (size_t k = 0; k < rq; ++k) requantize(w);
    const double t2 = wall_s();
    mem[r] = bytes * (double)rm / (t1 - t0) * 1e-9;
    q8[r] = bytes * (double)rq / (t2 - t1) * 1e-9;
    ratio[r] = q8[r] / mem[r];
    ++r;
  }
  const double wall = wall_s() - start;
  const double others = (machine_cpu_s() - busy0 - (own_cpu_s() - own0)) / wall;
  result res = {median(q8, r), median(mem, r), median(ratio, r), others > 0 ? others : 0, r};
  return res;
}

/* ---- driver ------------------------------------------------------------------------------------ */

static void *page_touched(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  if (!p) {
    fprintf(stderr, "bench_requant: out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  memset(p, 1, bytes);
  return p;
}

static long l3_cache_bytes(void) {
  long v = 0;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
  if (f) {
    char unit = 0;
    if (fscanf(f, "%ld%c", &v, &unit) >= 1) v *= unit == 'K' ? 1024 : unit == 'M' ? 1048576 : 1;
    fclose(f);
  }
  return v > 0 ? v : 32L << 20;
}

static int listed(const char *list, const char *name) {
  if (!list) return 1;
  const size_t len = strlen(name);
  for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0')) return 1;
  return 0;
}

int main(int argc, char **argv) {
  int quick = 0;
  const char *isa_only = NULL, *sizes_only = NULL, *filter = NULL;
  double seconds = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick"))
      quick = 1;
    else if (!strcmp(argv[i], "--isa") && i + 1 < argc)
      isa_only = argv[++i];
    else if (!strcmp(argv[i], "--size") && i + 1 < argc)
      sizes_only = argv[++i];
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
      filter = argv[++i];
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else {
      fprintf(stderr,
              "usage: bench_requant [--quick] [--isa scalar|avx2|avx512] [--size l2,l3,dram] [--seconds S]\n"
              "                     [--filter per_tensor,per_channel]\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (!(seconds > 0)) seconds = quick ? 0.1 : 0.4;

  /* int32 input sizes: in L2; in L3 with room for both working sets; well beyond L3 */
  const long l3 = l3_cache_bytes();
  size_t l3_size = 1 << 20;
  while (l3_size < (16u << 20) && 2 * l3_size * 2 <= (size_t)l3 / 2) l3_size *= 2;
  size_t dram = 256u << 20;
  while (dram < 4 * (size_t)l3) dram *= 2;
  const size_t sizes[3] = {quick ? 64u << 10 : 256u << 10, quick ? 2u << 20 : l3_size, quick ? 64u << 20 : dram};
  static const char *const kLevel[3] = {"l2", "l3", "dram"};

  const q8_isa all[3] = {Q8_ISA_SCALAR, Q8_ISA_AVX2, Q8_ISA_AVX512};
  q8_isa isas[3];
  size_t n_isa = 0;
  for (int i = 0; i < 3; ++i)
    if (q8_runtime_isa_supported(all[i]) && (!isa_only || !strcmp(isa_only, q8_isa_name(all[i]))))
      isas[n_isa++] = all[i];
  if (!n_isa) {
    fprintf(stderr, "bench_requant: no ISA selected\n");
    return 2;
  }

  int32_t bias[CHANNELS], mult[CHANNELS], shift[CHANNELS];
  uint64_t s = 0x243F6A8885A308D3ull;
  for (int c = 0; c < CHANNELS; ++c) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    bias[c] = (int32_t)(s >> 52) - 2048;
    mult[c] = (1 << 30) + (int32_t)((s >> 20) & 0x3FFFFFFF);
    shift[c] = -(int32_t)((s >> 8) % 8) - 6;
  }

  pthread_t helper;
  if (pthread_create(&helper, NULL, copier, NULL) != 0) {
    fprintf(stderr, "bench_requant: pthread_create failed\n");
    return 1;
  }
  printf("q8 %s; L3 %ld MiB; GB/s = 1e9 bytes moved (4 read + 1 written per element) per second\n",
         q8_version_string(), l3 >> 20);
  printf("%-25s %-7s %3s %9s %-5s %9s %11s %7s %6s\n", "op", "isa", "thr", "int32 in", "where", "q8 GB/s",
         "memcpy GB/s",
         "ratio", "others");
  char csv[256][96];
  size_t n_csv = 0;
  for (int si = 0; si < 3; ++si) {
    if (sizes_only && !listed(sizes_only, kLevel[si])) continue;
    work w;
    w.n = sizes[si] / sizeof(int32_t);
    w.acc = page_touched(w.n * sizeof(int32_t));
    w.out = page_touched(w.n);
    w.copy_dst = page_touched(w.n * 5 / 2 + 64);
    for (size_t i = 0; i < w.n; ++i) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      w.acc[i] = (int32_t)(s >> 40) - (1 << 23); /* +-2^23: typical conv accumulators */
    }
    for (int op = 0; op < 2; ++op) {
      const char *name = op ? "per_channel" : "per_tensor";
      if (!listed(filter, name)) continue;
      w.channels = op ? CHANNELS : 1;
      w.bias = bias, w.mult = mult, w.shift = shift;
      for (size_t k = 0; k < n_isa; ++k)
        for (int threads = 1; threads <= 2; ++threads) {
          check(q8_runtime_set_isa(isas[k]), "set_isa");
          check(q8_runtime_set_threads(threads), "set_threads");
          result r = measure(&w, threads, seconds);
          for (int retry = 0; retry < 3 && r.others > 0.25; ++retry) { /* a neighbour was busy */
            sleep(1);
            const result again = measure(&w, threads, seconds);
            if (again.others < r.others) r = again;
          }
          char label[32];
          snprintf(label, sizeof label, "requantize_s8_%s", name);
          char size[16];
          snprintf(size, sizeof size, sizes[si] >= (1u << 20) ? "%zu MiB" : "%zu KiB",
                   sizes[si] >= (1u << 20) ? sizes[si] >> 20 : sizes[si] >> 10);
          printf("%-25s %-7s %3d %9s %-5s %9.2f %11.2f %7.3f %6.2f%s\n", label, q8_isa_name(isas[k]), threads, size,
                 si == 0 ? "L2" : si == 1 ? "L3" : (size_t)l3 < sizes[si] ? "DRAM" : "L3", r.q8, r.mem, r.ratio,
                 r.others, r.others > 0.25 ? " noisy" : "");
          fflush(stdout);
          if (n_csv < 256)
            snprintf(csv[n_csv++], sizeof csv[0], "csv,%s,%s,%d,%zu,%.3f,%.3f,%.4f", label, q8_isa_name(isas[k]),
                     threads, sizes[si], r.q8, r.mem, r.ratio);
        }
    }
    free(w.acc);
    free(w.out);
    free(w.copy_dst);
  }
  pthread_mutex_lock(&g_copy.mu);
  atomic_store(&g_copy.stop, 1);
  pthread_cond_signal(&g_copy.wake);
  pthread_mutex_unlock(&g_copy.mu);
  pthread_join(helper, NULL);
  check(q8_runtime_set_isa(Q8_ISA_AUTO), "set_isa");
  check(q8_runtime_set_threads(0), "set_threads");
  printf("\n");
  for (size_t i = 0; i < n_csv; ++i) printf("%s\n", csv[i]);
  return 0;
}
