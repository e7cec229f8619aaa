/* Pipelines against running the same partitions one after another, and data parallelism against
 * one thread (include/q8/partition.h, docs/PARTITIONS.md).
 *
 * Model: argv[1], statically quantized (calibrated on synthetic rows in [0, 1]), at a batch of
 * 1024 rows, cut in 2 partitions by FLOPs; the headline model is 8 equal 1024 x 1024 Gemm layers,
 * written by bench/make_mlp.py (two partitions can then hold equal work), and without argv[1] the
 * digits CNN (tests/data/models/digits_cnn.onnx), whose 2-way FLOP split is 62/38 %. argv[2]:
 * rounds (default 15). In each round, interleaved:
 *   A   the 2 partitions one after another on 1 thread: q8_runtime_set_threads(1), a pipeline with
 *       threads 1 and the whole batch as one micro-batch;
 *   B   the pipeline on 2 threads, micro-batches of 64 rows, kernels single-threaded
 *       (q8_runtime_set_threads(1): the two stages are the parallelism);
 *   B'  the same with q8_runtime_set_threads(2): each stage's kernels also split their work on q8's
 *       arena (nested in the pipeline's);
 *   S   one session over the whole model with q8_runtime_set_threads(2) (intra-op only: the peer a
 *       pipeline has to beat on one machine);
 *   D   1 partition, 2 replicas, 2 threads, micro-batches of 64 (data parallel), kernels 1 thread;
 *   Bs  B's pipeline with q8_runtime_set_threads(2) left alone and serial_stages = 1: the option
 *       that gives B without touching the process-wide setting.
 * Prints rows/s per configuration (medians over rounds) and the median per-round ratios to A.
 * Every configuration's output is checked bit for bit against A's first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "q8/q8.h"

#ifndef Q8_BENCH_CNN
#define Q8_BENCH_CNN "tests/data/models/digits_cnn.onnx"
#endif

#define CHECK(call)                                                                                        \
  do {                                                                                                     \
    const q8_status st_ = (call);                                                                          \
    if (st_ != Q8_OK) {                                                                                    \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, q8_status_string(st_), q8_last_error()); \
      exit(1);                                                                                             \
    }                                                                                                      \
  } while (0)

enum { BATCH = 1024, MICRO = 64, CONFIGS = 6 };
static const char *const kNames[CONFIGS] = {"A  2 partitions in turn, 1 thread", "B  pipeline, 2 threads",
                                            "B' pipeline, 2 threads + intra-op", "S  one session, 2 threads intra-op",
                                            "D  1 partition x 2 replicas",       "Bs pipeline, 2 threads, serial_stages"};
static const int kRuntimeThreads[CONFIGS] = {1, 1, 2, 2, 1, 2};

/* rows of m's input 0 (its first dimension is the batch), uniform in [0, 1]. */
static q8_tensor *input_of(const q8_model *m, int64_t rows, unsigned seed) {
  int64_t shape[8];
  size_t rank = 0, numel = 0;
  q8_dtype dt;
  CHECK(q8_model_input_info(m, 0, &dt, shape, 8, &rank));
  shape[0] = rows;
  q8_tensor *t = NULL;
  CHECK(q8_tensor_create(Q8_DTYPE_F32, shape, rank, &t));
  float *x = NULL;
  CHECK(q8_tensor_data(t, (void **)&x));
  CHECK(q8_tensor_numel(t, &numel));
  srand(seed);
  for (size_t i = 0; i < numel; ++i) x[i] = (float)rand() / (float)RAND_MAX;
  return t;
}

static q8_partition_plan *plan_of(const q8_model *m, size_t count) {
  q8_partition_options o;
  CHECK(q8_partition_options_init(&o));
  o.count = count;
  o.balance = Q8_PARTITION_BY_FLOPS;
  o.batch = BATCH;
  q8_partition_plan *p = NULL;
  CHECK(q8_partition_plan_create(m, &o, &p));
  return p;
}

static q8_pipeline *pipeline_of(const q8_partition_plan *p, int64_t micro, size_t replicas, size_t threads,
                                int serial_stages) {
  q8_pipeline_options o;
  CHECK(q8_pipeline_options_init(&o));
  o.micro_batch = micro;
  o.replicas = replicas;
  o.threads = threads;
  o.serial_stages = serial_stages;
  q8_pipeline *pl = NULL;
  CHECK(q8_pipeline_create(p, BATCH, &o, &pl));
  return pl;
}

typedef struct {
  q8_pipeline *pipeline; /* or */
  q8_session *session;
} subject;

static const q8_tensor *run_once(subject *s, const q8_tensor *in) {
  const q8_tensor *y = NULL;
  if (s->pipeline) {
    CHECK(q8_pipeline_run(s->pipeline, &in, 1));
    CHECK(q8_pipeline_output(s->pipeline, 0, &y));
  } else {
    CHECK(q8_session_run(s->session, &in, 1));
    CHECK(q8_session_output(s->session, 0, &y));
  }
  return y;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : Q8_BENCH_CNN;
  const int rounds = argc > 2 ? atoi(argv[2]) : 15;
  q8_model *fp32 = NULL, *m = NULL;
  CHECK(q8_model_load_onnx(path, &fp32));
  q8_tensor *calib[4];
  for (int i = 0; i < 4; ++i) calib[i] = input_of(fp32, 64, 100 + (unsigned)i);
  q8_ptq_options po;
  CHECK(q8_ptq_options_init(&po));
  CHECK(q8_model_quantize(fp32, &po, (const q8_tensor *const *)calib, 4, &m));
  for (int i = 0; i < 4; ++i) q8_tensor_destroy(calib[i]);
  q8_model_destroy(fp32);

  q8_partition_plan *two = plan_of(m, 2), *one = plan_of(m, 1);
  char *text = NULL;
  CHECK(q8_partition_plan_describe(two, 0, &text));
  printf("%s: static INT8, batch %d, micro-batches of %d, ISA %s\n%s\n", path, BATCH, MICRO,
         q8_isa_name(q8_runtime_isa()), text);
  q8_free(text);
  subject subjects[CONFIGS] = {{pipeline_of(two, 0, 1, 1, 0), NULL},     {pipeline_of(two, MICRO, 1, 2, 0), NULL},
                               {pipeline_of(two, MICRO, 1, 2, 0), NULL}, {NULL, NULL},
                               {pipeline_of(one, MICRO, 2, 2, 0), NULL}, {pipeline_of(two, MICRO, 1, 2, 1), NULL}};
  CHECK(q8_session_create(m, BATCH, &subjects[3].session));
  q8_tensor *in = input_of(m, BATCH, 1);

  /* Warm-up, and every configuration's bits against A's. */
  size_t nbytes = 0;
  CHECK(q8_runtime_set_threads(1));
  CHECK(q8_tensor_nbytes(run_once(&subjects[0], in), &nbytes));
  void *want = malloc(nbytes), *got = NULL;
  CHECK(q8_tensor_data(run_once(&subjects[0], in), &got));
  memcpy(want, got, nbytes);
  for (int c = 1; c < CONFIGS; ++c) {
    CHECK(q8_runtime_set_threads(kRuntimeThreads[c]));
    CHECK(q8_tensor_data(run_once(&subjects[c], in), &got));
    if (memcmp(want, got, nbytes) != 0) {
      fprintf(stderr, "%s: output differs from A's\n", kNames[c]);
      return 1;
    }
  }

  double *rate[CONFIGS], *ratio[CONFIGS];
  for (int c = 0; c < CONFIGS; ++c) {
    rate[c] = calloc((size_t)rounds, sizeof(double));
    ratio[c] = calloc((size_t)rounds, sizeof(double));
  }
  const bench_load_mark load = bench_load_begin();
  for (int r = 0; r < rounds; ++r)
    for (int c = 0; c < CONFIGS; ++c) {
      CHECK(q8_runtime_set_threads(kRuntimeThreads[c]));
      run_once(&subjects[c], in);
      int calls = 0;
      const double t0 = bench_now();
      double t = t0;
      do {
        run_once(&subjects[c], in);
        ++calls;
        t = bench_now();
      } while (t - t0 < 0.15);
      rate[c][r] = (double)calls * BATCH / (t - t0);
    }
  const double others = bench_load_others(load);
  for (int r = 0; r < rounds; ++r)
    for (int c = 0; c < CONFIGS; ++c) ratio[c][r] = rate[c][r] / rate[0][r];
  printf("%-38s %12s %10s\n", "configuration", "rows/s", "x A");
  for (int c = 0; c < CONFIGS; ++c)
    printf("%-38s %12.0f %10.2f\n", kNames[c], bench_median(rate[c], (size_t)rounds),
           bench_median(ratio[c], (size_t)rounds));
  printf("(%d rounds interleaved A,B,B',S,D,Bs; medians; other processes kept %.2f cores busy)\n", rounds, others);
  printf("headline: pipeline B / A = %.2f (target >= 1.7 on 2 cores)\n", bench_median(ratio[1], (size_t)rounds));

  for (int c = 0; c < CONFIGS; ++c) {
    q8_pipeline_destroy(subjects[c].pipeline);
    free(rate[c]);
    free(ratio[c]);
  }
  q8_session_destroy(subjects[3].session);
  q8_tensor_destroy(in);
  free(want);
  q8_partition_plan_destroy(two);
  q8_partition_plan_destroy(one);
  q8_model_destroy(m);
  return 0;
}
