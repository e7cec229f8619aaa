/* Measuring helpers for the q8 benchmarks: a memcpy peer on 1 or 2 threads, paired rounds
 * (memcpy, op, memcpy, op, ...) with medians, how busy the rest of the machine was, buffers with
 * their pages touched up front. The approach is bench_quantize's (see docs/BENCHMARKS.md); new
 * benchmarks use these functions instead of their own copies. */
#ifndef Q8_BENCH_COMMON_H
#define Q8_BENCH_COMMON_H

#include <stddef.h>

#define BENCH_KIB ((size_t)1 << 10)
#define BENCH_MIB ((size_t)1 << 20)

double bench_now(void); /* monotonic seconds */

/* A 64-byte-aligned buffer with every page written (no first-touch faults inside a timing);
 * exits the program when memory runs out. Free with free(). */
void *bench_alloc(size_t bytes);

/* The L3 size this core sees (sysfs first: a VM's CPUID may report a whole socket). */
long bench_l3_bytes(void);

/* memcpy on `threads` (1 or 2) threads: at 2 the caller copies the first half and a helper
 * pthread the second. bench_copy_start() before the first 2-thread copy, bench_copy_stop() at the
 * end. */
void bench_copy_start(void);
void bench_copy_stop(void);
void bench_copy(int threads, void *dst, const void *src, size_t bytes);

double bench_median(double *v, size_t n); /* sorts v */

/* Seconds per call of op(ctx): calls it until at least min_s seconds have passed. */
double bench_seconds_per_call(void (*op)(void *ctx), void *ctx, double min_s);

typedef struct {
  double op_gbps, memcpy_gbps, ratio; /* medians; ratio = median of per-round op/memcpy */
  size_t rounds;
  double others; /* cores other processes (or the hypervisor) kept busy meanwhile */
} bench_result;

/* Times op(ctx), which moves `moved` bytes per call, against a memcpy of moved / 2 bytes from
 * copy_src to copy_dst on the same number of threads: warm-up, then rounds alternating memcpy and
 * op (each round >= ~2 ms of calls) for `seconds` (at least min_rounds rounds). */
bench_result bench_pair(void (*op)(void *ctx), void *ctx, double moved, void *copy_dst,
                        const void *copy_src, int threads, double seconds, size_t min_rounds);

/* bench_pair again (after a pause) while other processes kept more than `noisy` cores busy, up to
 * `retries` times; returns the quietest measurement. */
bench_result bench_pair_quiet(void (*op)(void *ctx), void *ctx, double moved, void *copy_dst,
                              const void *copy_src, int threads, double seconds, size_t min_rounds,
                              double noisy, int retries);

/* 1 when `name` starts with one of the comma-separated prefixes in `filter` (or filter is NULL). */
int bench_filter_match(const char *filter, const char *name);

/* "384 KiB", "12 MiB" */
const char *bench_size_label(size_t bytes, char *buf, size_t cap);


/* How busy the rest of the machine is: bench_load_begin() before a measurement, then
 * bench_load_others() gives the cores other processes (or the hypervisor) kept busy since, on
 * average (this process's own CPU time excluded). */
typedef struct {
  double busy, cpu, wall;
} bench_load_mark;
bench_load_mark bench_load_begin(void);
double bench_load_others(bench_load_mark mark);

/* Read-only bandwidth in GB/s: sums `bytes` of buf (64-byte aligned, pages touched) on `threads`
 * (1 or 2) threads, each its half, `reps` times; returns the best pass (the machine is shared). */
double bench_read_gbps(const void *buf, size_t bytes, int threads, int reps);

#endif
