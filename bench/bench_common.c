#define _GNU_SOURCE /* sysconf(_SC_LEVEL3_CACHE_SIZE), clock_gettime */
#include "bench_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double process_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds the whole machine spent outside idle and iowait (steal included), from /proc/stat. */
static double machine_busy(void) {
  unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  const int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                         &iowait, &irq, &softirq, &steal);
  fclose(f);
  if (got != 8) return 0;
  return (double)(user + nice + sys + irq + softirq + steal) / (double)sysconf(_SC_CLK_TCK);
}

static void pause_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void *bench_alloc(size_t bytes) {
  const size_t size = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, size ? size : 64);
  if (!p) {
    fprintf(stderr, "bench: cannot allocate %zu bytes\n", size);
    exit(1);
  }
  memset(p, 0x3C, size ? size : 64);
  return p;
}

long bench_l3_bytes(void) {
  long v = 0;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
  if (f) {
    char unit = 0;
    if (fscanf(f, "%ld%c", &v, &unit) >= 1) v *= unit == 'K' ? 1024L : unit == 'M' ? 1048576L : 1L;
    fclose(f);
  }
  if (v <= 0) v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return v > 0 ? v : 32L << 20;
}

/* ---- the second copy thread ------------------------------------------------------------------
 * The caller posts a job (a generation number); the helper spins briefly on it (copies come back
 * to back inside a round), then sleeps on a condition variable so that it never holds a core
 * that q8's workers want. */

static struct {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  atomic_uint posted, done;
  atomic_int quit;
  void *dst;
  const void *src;
  size_t bytes;
  int running;
} g_copier;

static void *copier_main(void *arg) {
  (void)arg;
  unsigned seen = 0;
  for (;;) {
    const double spin_until = bench_now() + 20e-6;
    unsigned job = atomic_load_explicit(&g_copier.posted, memory_order_acquire);
    while (job == seen && !atomic_load(&g_copier.quit) && bench_now() < spin_until) {
      pause_cpu();
      job = atomic_load_explicit(&g_copier.posted, memory_order_acquire);
    }
    if (job == seen) {
      pthread_mutex_lock(&g_copier.mu);
      while ((job = atomic_load(&g_copier.posted)) == seen && !atomic_load(&g_copier.quit))
        pthread_cond_wait(&g_copier.wake, &g_copier.mu);
      pthread_mutex_unlock(&g_copier.mu);
    }
    if (atomic_load(&g_copier.quit)) return NULL;
    seen = job;
    memcpy(g_copier.dst, g_copier.src, g_copier.bytes);
    atomic_store_explicit(&g_copier.done, seen, memory_order_release);
  }
}

void bench_copy_start(void) {
  if (g_copier.running) return;
  pthread_mutex_init(&g_copier.mu, NULL);
  pthread_cond_init(&g_copier.wake, NULL);
  if (pthread_create(&g_copier.thread, NULL, copier_main, NULL) != 0) {
    fprintf(stderr, "bench: pthread_create failed\n");
    exit(1);
  }
  g_copier.running = 1;
}

void bench_copy_stop(void) {
  if (!g_copier.running) return;
  pthread_mutex_lock(&g_copier.mu);
  atomic_store(&g_copier.quit, 1);
  pthread_cond_signal(&g_copier.wake);
  pthread_mutex_unlock(&g_copier.mu);
  pthread_join(g_copier.thread, NULL);
  g_copier.running = 0;
}

void bench_copy(int threads, void *dst, const void *src, size_t bytes) {
  if (threads < 2 || !g_copier.running) {
    memcpy(dst, src, bytes);
    return;
  }
  const size_t first = (bytes / 2) & ~(size_t)63; /* split on a cache line */
  g_copier.dst = (char *)dst + first;
  g_copier.src = (const char *)src + first;
  g_copier.bytes = bytes - first;
  pthread_mutex_lock(&g_copier.mu);
  const unsigned job = atomic_load(&g_copier.posted) + 1;
  atomic_store_explicit(&g_copier.posted, job, memory_order_release);
  pthread_cond_signal(&g_copier.wake);
  pthread_mutex_unlock(&g_copier.mu);
  memcpy(dst, src, first);
  while (atomic_load_explicit(&g_copier.done, memory_order_acquire) != job) pause_cpu();
}

/* ---- statistics and the paired rounds --------------------------------------------------------- */

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_seconds_per_call(void (*op)(void *ctx), void *ctx, double min_s) {
  long calls = 0;
  const double t0 = bench_now();
  double t;
  do {
    op(ctx);
    ++calls;
    t = bench_now() - t0;
  } while (t < min_s);
  return t / (double)calls;
}

double bench_median(double *v, size_t n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, by_value);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

enum { kMaxRounds = 4096 };

bench_result bench_pair(void (*op)(void *ctx), void *ctx, double moved, void *copy_dst,
                        const void *copy_src, int threads, double seconds, size_t min_rounds) {
  const size_t copy_bytes = (size_t)(moved / 2);
  /* Warm caches, TLBs and both thread pools; size rounds to >= 2 ms from the last warm-up. */
  double t_copy = 0, t_op = 0;
  for (int i = 0; i < 3; ++i) {
    const double t0 = bench_now();
    bench_copy(threads, copy_dst, copy_src, copy_bytes);
    const double t1 = bench_now();
    op(ctx);
    const double t2 = bench_now();
    t_copy = t1 - t0, t_op = t2 - t1;
  }
  const double round_s = 2e-3;
  const size_t reps_copy = t_copy >= round_s ? 1 : (size_t)(round_s / (t_copy > 1e-9 ? t_copy : 1e-9)) + 1;
  const size_t reps_op = t_op >= round_s ? 1 : (size_t)(round_s / (t_op > 1e-9 ? t_op : 1e-9)) + 1;

  static double g_op[kMaxRounds], g_copy[kMaxRounds], g_ratio[kMaxRounds];
  size_t r = 0;
  const double busy0 = machine_busy(), cpu0 = process_cpu(), start = bench_now();
  for (;;) {
    const double elapsed = bench_now() - start;
    if (r == kMaxRounds || (elapsed >= seconds && r >= min_rounds) || (elapsed >= 3 * seconds && r >= 3)) break;
    const double t0 = bench_now();
    for (size_t k = 0; k < reps_copy; ++k) bench_copy(threads, copy_dst, copy_src, copy_bytes);
    const double t1 = bench_now();
    for (size_t k = 0; k < reps_op; ++k) op(ctx);
    const double t2 = bench_now();
    g_copy[r] = 1e-9 * moved * (double)reps_copy / (t1 - t0);
    g_op[r] = 1e-9 * moved * (double)reps_op / (t2 - t1);
    g_ratio[r] = g_op[r] / g_copy[r];
    ++r;
  }
  const double wall = bench_now() - start;
  const double others = (machine_busy() - busy0 - (process_cpu() - cpu0)) / wall;
  bench_result res;
  res.op_gbps = bench_median(g_op, r);
  res.memcpy_gbps = bench_median(g_copy, r);
  res.ratio = bench_median(g_ratio, r);
  res.rounds = r;
  res.others = others > 0 ? others : 0;
  return res;
}

bench_result bench_pair_quiet(void (*op)(void *ctx), void *ctx, double moved, void *copy_dst,
                              const void *copy_src, int threads, double seconds, size_t min_rounds,
                              double noisy, int retries) {
  bench_result best = bench_pair(op, ctx, moved, copy_dst, copy_src, threads, seconds, min_rounds);
  for (int i = 0; i < retries && best.others > noisy; ++i) {
    sleep(1); /* let a short neighbour (a compile, a test) finish */
    const bench_result again = bench_pair(op, ctx, moved, copy_dst, copy_src, threads, seconds, min_rounds);
    if (again.others < best.others) best = again;
  }
  return best;
}

int bench_filter_match(const char *filter, const char *name) {
  if (!filter) return 1;
  for (const char *p = filter; *p;) {
    const char *comma = strchr(p, ',');
    const size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len > 0 && strncmp(p, name, len) == 0) return 1;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

const char *bench_size_label(size_t bytes, char *buf, size_t cap) {
  if (bytes >= BENCH_MIB && bytes % BENCH_MIB == 0)
    snprintf(buf, cap, "%zu MiB", bytes / BENCH_MIB);
  else
    snprintf(buf, cap, "%zu KiB", bytes / BENCH_KIB);
  return buf;
}

/* ---- machine load and read bandwidth ---------------------------------------------------------- */

bench_load_mark bench_load_begin(void) {
  bench_load_mark m;
  m.busy = machine_busy();
  m.cpu = process_cpu();
  m.wall = bench_now();
  return m;
}

double bench_load_others(bench_load_mark mark) {
  const double wall = bench_now() - mark.wall;
  if (wall <= 0) return 0;
  const double others = (machine_busy() - mark.busy - (process_cpu() - mark.cpu)) / wall;
  return others > 0 ? others : 0;
}

typedef struct {
  const uint64_t *p;
  size_t words;
  uint64_t sum;
} read_job;

static void *read_sum(void *arg) {
  read_job *job = (read_job *)arg;
  /* Eight independent sums: the loads, not an add chain, limit the loop. */
  uint64_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const uint64_t *p = job->p;
  for (size_t i = 0; i + 8 <= job->words; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + (size_t)j];
  job->sum = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
  return NULL;
}

static volatile uint64_t g_read_sink;

double bench_read_gbps(const void *buf, size_t bytes, int threads, int reps) {
  const size_t words = bytes / 8 / 16 * 16;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    read_job jobs[2] = {{(const uint64_t *)buf, words, 0}, {NULL, 0, 0}};
    pthread_t helper;
    int two = 0;
    const double t0 = bench_now();
    if (threads >= 2) {
      jobs[0].words = words / 2;
      jobs[1].p = (const uint64_t *)buf + words / 2;
      jobs[1].words = words - words / 2;
      two = pthread_create(&helper, NULL, read_sum, &jobs[1]) == 0;
      if (!two) jobs[0].words = words;
    }
    read_sum(&jobs[0]);
    if (two) pthread_join(helper, NULL);
    const double t = bench_now() - t0;
    g_read_sink = jobs[0].sum + jobs[1].sum;
    const double gbps = 1e-9 * (double)(words * 8) / t;
    if (gbps > best) best = gbps;
  }
  return best;
}
