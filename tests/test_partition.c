/* Partition plans and pipelines (include/q8/partition.h) on the bundled digits models, FP32 and
 * static INT8, through the public API: count splits are optimal against a brute force over every
 * split (segment costs read back through plans loaded from JSON); budgets give the fewest
 * partitions; each plan's partitions, run one after another as models of their own, give the whole
 * model's outputs bit for bit, and so do pipelines over every micro-batch size, replica and thread
 * count tried; a dynamic-quantized pipeline equals each micro-batch run alone; plans save, load
 * and reject malformed JSON with a message naming the problem; plans and pipelines outlive what
 * they came from; an error inside the flow graph comes back from q8_pipeline_run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "support.h"

static digits_rows g_train, g_test;

static void load_digits(void) { digits_load_bundled(&g_train, &g_test); }

static const char *const kModels[] = {"mlp", "tiny_cnn", "cnn"};
enum { MODELS = 3, MAX_NODES = 32, MAX_PARTS = MAX_NODES };

static q8_model *fp32(int which) {
  char rel[64];
  snprintf(rel, sizeof rel, "models/digits_%s.onnx", kModels[which]);
  return load_fixture(rel);
}

static q8_model *quantized(const q8_model *m, q8_ptq_mode mode) {
  load_digits();
  q8_ptq_options o;
  Q8_OK_OR_FAIL(q8_ptq_options_init(&o));
  o.mode = mode;
  q8_model *q = NULL;
  DIGITS_OR_FAIL(digits_quantize(m, &o, mode == Q8_PTQ_STATIC ? &g_train : NULL, 8, &q));
  return q;
}

/* Model `i` of the six: FP32 0..2, static INT8 3..5. */
static q8_model *model_at(int i) {
  q8_model *m = fp32(i % MODELS);
  if (i < MODELS) return m;
  q8_model *q = quantized(m, Q8_PTQ_STATIC);
  q8_model_destroy(m);
  return q;
}

static size_t nodes_of(const q8_model *m) {
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_model_node_count(m, &n));
  return n;
}

static const char *node_name(const q8_model *m, size_t k) {
  const char *name = NULL;
  Q8_OK_OR_FAIL(q8_model_node_info(m, k, &name, NULL, NULL, NULL, NULL));
  return name;
}

static q8_partition_plan *plan_of(const q8_model *m, size_t count, uint64_t max_bytes, q8_partition_balance by) {
  q8_partition_options o;
  Q8_OK_OR_FAIL(q8_partition_options_init(&o));
  o.count = count;
  o.max_bytes = max_bytes;
  o.balance = by;
  q8_partition_plan *p = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_create(m, &o, &p));
  return p;
}

static size_t count_of(const q8_partition_plan *p) {
  size_t n = 0;
  Q8_OK_OR_FAIL(q8_partition_plan_count(p, &n));
  return n;
}

static q8_partition_info info_of(const q8_partition_plan *p, size_t i) {
  q8_partition_info info;
  memset(&info, 0xff, sizeof info);
  info.struct_size = sizeof info;
  Q8_OK_OR_FAIL(q8_partition_plan_info(p, i, &info));
  return info;
}

static uint64_t cost_of(const q8_partition_info *info, q8_partition_balance by) {
  return by == Q8_PARTITION_BY_BYTES ? info->weight_bytes : info->flops;
}

/* Partitions tile the nodes in order, none empty. */
static void expect_tiling(const q8_model *m, const q8_partition_plan *p) {
  size_t next = 0;
  for (size_t i = 0; i < count_of(p); ++i) {
    const q8_partition_info info = info_of(p, i);
    cr_assert_eq(info.first_node, next, "partition %zu starts at %zu, not %zu", i, info.first_node, next);
    cr_assert(info.node_count > 0, "partition %zu is empty", i);
    next += info.node_count;
  }
  cr_assert_eq(next, nodes_of(m));
}

/* A plan with the given first nodes, loaded from JSON that states only first and last. */
static q8_partition_plan *plan_at(const q8_model *m, const size_t *firsts, size_t count) {
  const size_t n = nodes_of(m);
  char json[8192];
  int at = snprintf(json, sizeof json, "{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[");
  for (size_t i = 0; i < count; ++i) {
    const size_t last = (i + 1 < count ? firsts[i + 1] : n) - 1;
    at += snprintf(json + at, sizeof json - (size_t)at, "%s{\"first\":\"%s\",\"last\":\"%s\"}", i ? "," : "",
                   node_name(m, firsts[i]), node_name(m, last));
  }
  at += snprintf(json + at, sizeof json - (size_t)at, "]}");
  cr_assert((size_t)at < sizeof json);
  q8_partition_plan *p = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_load_bytes(m, json, (size_t)at, &p));
  return p;
}

/* Cost of every segment [i, j] of m's nodes, as plans report it: seg[i][j]. */
typedef struct {
  size_t n;
  uint64_t bytes[MAX_NODES][MAX_NODES], flops[MAX_NODES][MAX_NODES];
} segments;

static void segment_costs(const q8_model *m, segments *s) {
  s->n = nodes_of(m);
  cr_assert(s->n <= MAX_NODES);
  for (size_t i = 0; i < s->n; ++i)
    for (size_t j = i; j < s->n; ++j) {
      size_t firsts[3], c = 0;
      if (i > 0) firsts[c++] = 0;
      firsts[c++] = i;
      if (j + 1 < s->n) firsts[c++] = j + 1;
      q8_partition_plan *p = plan_at(m, firsts, c);
      const q8_partition_info info = info_of(p, i > 0 ? 1 : 0);
      cr_assert_eq(info.first_node, i);
      cr_assert_eq(info.node_count, j - i + 1);
      s->bytes[i][j] = info.weight_bytes;
      s->flops[i][j] = info.flops;
      q8_partition_plan_destroy(p);
    }
}

/* The largest part cost of the split whose cut positions are the set bits of `mask` (bit c: a cut
 * before node c + 1). */
static uint64_t split_max(const segments *s, uint32_t mask, q8_partition_balance by) {
  uint64_t worst = 0;
  size_t first = 0;
  for (size_t c = 0; c < s->n; ++c)
    if (c + 1 == s->n || (mask >> c) & 1u) {
      const uint64_t v = by == Q8_PARTITION_BY_BYTES ? s->bytes[first][c] : s->flops[first][c];
      if (v > worst) worst = v;
      first = c + 1;
    }
  return worst;
}

static size_t popcount(uint32_t x) { return (size_t)__builtin_popcount(x); }

/* ---- plans --------------------------------------------------------------------------------- */

Test(partition_plan, counts_tile_the_model) {
  for (int i = 0; i < 2 * MODELS; ++i) {
    q8_model *m = model_at(i);
    const size_t n = nodes_of(m);
    const size_t counts[4] = {1, 2, 3, n};
    for (int by = 0; by < 2; ++by)
      for (int c = 0; c < 4; ++c) {
        q8_partition_plan *p = plan_of(m, counts[c], 0, (q8_partition_balance)by);
        cr_assert_eq(count_of(p), counts[c]);
        expect_tiling(m, p);
        if (counts[c] == 1) {
          const q8_partition_info info = info_of(p, 0);
          size_t total = 0;
          Q8_OK_OR_FAIL(q8_model_weight_bytes(m, &total));
          cr_assert_eq(info.weight_bytes, total, "one partition holds every constant once");
          cr_assert_eq(info.input_count, 1);
          cr_assert_eq(info.output_count, 1);
        }
        q8_partition_plan_destroy(p);
      }
    q8_partition_options o;
    Q8_OK_OR_FAIL(q8_partition_options_init(&o));
    o.count = n + 1;
    q8_partition_plan *p = NULL;
    Q8_EXPECT_ERROR(q8_partition_plan_create(m, &o, &p), Q8_ERR_SHAPE, "partitions");
    cr_assert_null(p);
    q8_model_destroy(m);
  }
}

/* The digits MLP by hand: 5 nodes, Gemm 64->256, Relu, Gemm 256->256, Relu, Gemm 256->10. */
Test(partition_plan, mlp_costs_by_hand) {
  q8_model *m = fp32(0);
  q8_partition_plan *p = plan_of(m, 5, 0, Q8_PARTITION_BY_FLOPS);
  const uint64_t bytes[5] = {(256 * 64 + 256) * 4, 0, (256 * 256 + 256) * 4, 0, (10 * 256 + 10) * 4};
  const uint64_t flops[5] = {2 * 64 * 256, 256, 2 * 256 * 256, 256, 2 * 256 * 10};
  for (size_t i = 0; i < 5; ++i) {
    const q8_partition_info info = info_of(p, i);
    cr_assert_eq(info.weight_bytes, bytes[i], "node %zu", i);
    cr_assert_eq(info.flops, flops[i], "node %zu: %llu", i, (unsigned long long)info.flops);
  }
  const char *name = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_input(p, 2, 0, &name));
  cr_assert_str_eq(name, "/1/Relu_output_0");
  Q8_OK_OR_FAIL(q8_partition_plan_output(p, 4, 0, &name));
  cr_assert_str_eq(name, "logits");
  Q8_EXPECT_ERROR(q8_partition_plan_input(p, 2, 1, &name), Q8_ERR_INVALID_ARGUMENT, "out of range");
  Q8_EXPECT_ERROR(q8_partition_plan_output(p, 5, 0, &name), Q8_ERR_INVALID_ARGUMENT, "partition index 5");
  q8_partition_plan_destroy(p);

  /* FLOPs follow the batch: at 32 rows every node does 32 times the work. */
  q8_partition_options o;
  Q8_OK_OR_FAIL(q8_partition_options_init(&o));
  o.count = 5;
  o.batch = 32;
  Q8_OK_OR_FAIL(q8_partition_plan_create(m, &o, &p));
  for (size_t i = 0; i < 5; ++i) cr_assert_eq(info_of(p, i).flops, 32 * flops[i]);
  /* A shorter info struct (an older caller) gets only the fields it has room for. */
  q8_partition_info small;
  memset(&small, 0xab, sizeof small);
  small.struct_size = offsetof(q8_partition_info, weight_bytes);
  Q8_OK_OR_FAIL(q8_partition_plan_info(p, 2, &small));
  cr_assert_eq(small.first_node, 2);
  cr_assert_eq(small.node_count, 1);
  cr_assert_eq(small.weight_bytes, 0xababababababababull);
  q8_partition_plan_destroy(p);
  q8_model_destroy(m);
}

Test(partition_plan, count_split_is_optimal) {
  for (int i = 0; i < 2 * MODELS; ++i) {
    q8_model *m = model_at(i);
    segments *s = malloc(sizeof *s);
    segment_costs(m, s);
    cr_assert(s->n <= 20, "brute force over 2^%zu splits", s->n - 1);
    for (int by = 0; by < 2; ++by)
      for (size_t count = 1; count <= s->n; ++count) {
        uint64_t best = UINT64_MAX;
        for (uint32_t mask = 0; mask < (1u << (s->n - 1)); ++mask)
          if (popcount(mask) == count - 1) {
            const uint64_t v = split_max(s, mask, (q8_partition_balance)by);
            if (v < best) best = v;
          }
        q8_partition_plan *p = plan_of(m, count, 0, (q8_partition_balance)by);
        uint64_t got = 0;
        for (size_t k = 0; k < count; ++k) {
          const q8_partition_info info = info_of(p, k);
          const uint64_t v = cost_of(&info, (q8_partition_balance)by);
          /* The plan's own costs are those of its segments. */
          cr_assert_eq(info.weight_bytes, s->bytes[info.first_node][info.first_node + info.node_count - 1]);
          cr_assert_eq(info.flops, s->flops[info.first_node][info.first_node + info.node_count - 1]);
          if (v > got) got = v;
        }
        cr_assert_eq(got, best, "model %d, %s, count %zu: largest partition %llu, the best split has %llu", i,
                     by ? "flops" : "bytes", count, (unsigned long long)got, (unsigned long long)best);
        q8_partition_plan_destroy(p);
      }
    free(s);
    q8_model_destroy(m);
  }
}

Test(partition_plan, budget_gives_fewest_partitions) {
  for (int i = 0; i < 2 * MODELS; ++i) {
    q8_model *m = model_at(i);
    segments *s = malloc(sizeof *s);
    segment_costs(m, s);
    uint64_t largest = 0;  /* the costliest single node */
    for (size_t k = 0; k < s->n; ++k)
      if (s->bytes[k][k] > largest) largest = s->bytes[k][k];
    const uint64_t total = s->bytes[0][s->n - 1];
    const uint64_t budgets[4] = {largest, largest + (total - largest) / 3, (largest + total) / 2, total};
    for (int b = 0; b < 4; ++b) {
      size_t fewest = SIZE_MAX;
      for (uint32_t mask = 0; mask < (1u << (s->n - 1)); ++mask)
        if (split_max(s, mask, Q8_PARTITION_BY_BYTES) <= budgets[b] && popcount(mask) + 1 < fewest)
          fewest = popcount(mask) + 1;
      for (int by = 0; by < 2; ++by) {
        q8_partition_plan *p = plan_of(m, 0, budgets[b], (q8_partition_balance)by);
        cr_assert_eq(count_of(p), fewest, "model %d, budget %llu: %zu partitions, %zu suffice", i,
                     (unsigned long long)budgets[b], count_of(p), fewest);
        expect_tiling(m, p);
        for (size_t k = 0; k < count_of(p); ++k) cr_assert(info_of(p, k).weight_bytes <= budgets[b]);
        q8_partition_plan_destroy(p);
      }
      /* Count and budget together: the count's optimum among the splits within the budget. */
      for (size_t count = fewest; count <= s->n && count <= fewest + 2; ++count) {
        uint64_t best = UINT64_MAX;
        for (uint32_t mask = 0; mask < (1u << (s->n - 1)); ++mask)
          if (popcount(mask) == count - 1 && split_max(s, mask, Q8_PARTITION_BY_BYTES) <= budgets[b]) {
            const uint64_t v = split_max(s, mask, Q8_PARTITION_BY_FLOPS);
            if (v < best) best = v;
          }
        q8_partition_plan *p = plan_of(m, count, budgets[b], Q8_PARTITION_BY_FLOPS);
        uint64_t got = 0;
        for (size_t k = 0; k < count; ++k) {
          const q8_partition_info info = info_of(p, k);
          cr_assert(info.weight_bytes <= budgets[b]);
          if (info.flops > got) got = info.flops;
        }
        cr_assert_eq(got, best, "model %d, count %zu within %llu bytes", i, count, (unsigned long long)budgets[b]);
        q8_partition_plan_destroy(p);
      }
      if (fewest > 1) {
        q8_partition_options o;
        Q8_OK_OR_FAIL(q8_partition_options_init(&o));
        o.count = fewest - 1;
        o.max_bytes = budgets[b];
        q8_partition_plan *p = NULL;
        Q8_EXPECT_ERROR(q8_partition_plan_create(m, &o, &p), Q8_ERR_SHAPE, "cannot each hold");
      }
    }
    free(s);
    q8_model_destroy(m);
  }
}

Test(partition_plan, bad_options) {
  q8_model *m = fp32(0);
  q8_partition_options o;
  q8_partition_plan *p = NULL;
  Q8_OK_OR_FAIL(q8_partition_options_init(&o));
  cr_assert_eq(o.struct_size, sizeof o);
  cr_assert_eq(o.count, 0);
  cr_assert_eq(o.max_bytes, 0);
  cr_assert_eq(o.balance, Q8_PARTITION_BY_BYTES);
  cr_assert_eq(o.batch, 1);
  Q8_EXPECT_ERROR(q8_partition_plan_create(m, &o, &p), Q8_ERR_INVALID_ARGUMENT, "neither a count nor max_bytes");
  o.max_bytes = 1000; /* /0/Gemm alone reads 66,560 bytes */
  Q8_EXPECT_ERROR(q8_partition_plan_create(m, &o, &p), Q8_ERR_SHAPE, "node '/0/Gemm'");
  o.max_bytes = 0;
  o.count = 2;
  o.batch = 0;
  Q8_EXPECT_ERROR(q8_partition_plan_create(m, &o, &p), Q8_ERR_INVALID_ARGUMENT, "batch");
  o.batch = 1;
  memcpy(&o.balance, &(int){7}, sizeof(int));
  Q8_EXPECT_ERROR(q8_partition_plan_create(m, &o, &p), Q8_ERR_INVALID_ARGUMENT, "balance");
  o.balance = Q8_PARTITION_BY_FLOPS;
  o.struct_size = 8;
  Q8_EXPECT_ERROR(q8_partition_plan_create(m, &o, &p), Q8_ERR_INVALID_ARGUMENT, "struct_size");
  o.struct_size = sizeof o;
  Q8_EXPECT_ERROR(q8_partition_plan_create(NULL, &o, &p), Q8_ERR_INVALID_ARGUMENT, "model");
  Q8_EXPECT_ERROR(q8_partition_plan_create(m, NULL, &p), Q8_ERR_INVALID_ARGUMENT, "options");
  cr_assert_null(p);
  Q8_EXPECT_STATUS(q8_partition_plan_count(NULL, &(size_t){0}), Q8_ERR_INVALID_ARGUMENT);
  q8_partition_plan_destroy(NULL);
  q8_model_destroy(m);
}

/* ---- running the partitions -------------------------------------------------------------- */

/* One session over the whole model at the 450 held-out rows; the caller destroys it. */
static q8_session *whole_run(const q8_model *m, q8_tensor **in) {
  load_digits();
  q8_session *s = NULL;
  Q8_OK_OR_FAIL(q8_session_create(m, (int64_t)g_test.n, &s));
  DIGITS_OR_FAIL(digits_wrap(m, g_test.x, g_test.n, in));
  Q8_OK_OR_FAIL(q8_session_run(s, (const q8_tensor *const *)in, 1));
  return s;
}

/* Runs plan p's partitions one after another at 450 rows, each on the tensors earlier ones
 * produced (looked up by name), and compares the last outputs with the whole model's. */
static void expect_chain_equal(const q8_model *m, const q8_partition_plan *p, const q8_session *whole, q8_tensor *in,
                               const char *what) {
  const size_t parts = count_of(p);
  q8_session *sessions[MAX_PARTS] = {NULL};
  q8_model *models[MAX_PARTS] = {NULL};
  const char *input_name = NULL;
  Q8_OK_OR_FAIL(q8_model_input_name(m, 0, &input_name));
  for (size_t k = 0; k < parts; ++k) {
    Q8_OK_OR_FAIL(q8_partition_plan_model(p, k, &models[k]));
    Q8_OK_OR_FAIL(q8_session_create(models[k], (int64_t)g_test.n, &sessions[k]));
    size_t nin = 0;
    Q8_OK_OR_FAIL(q8_model_input_count(models[k], &nin));
    const q8_tensor *ins[16];
    cr_assert(nin <= 16);
    for (size_t i = 0; i < nin; ++i) {
      const char *name = NULL;
      Q8_OK_OR_FAIL(q8_model_input_name(models[k], i, &name));
      ins[i] = NULL;
      if (strcmp(name, input_name) == 0) ins[i] = in;
      for (size_t j = 0; j < k && !ins[i]; ++j) /* an earlier partition's output of that name */
        if (q8_session_tensor(sessions[j], name, &ins[i]) != Q8_OK) ins[i] = NULL;
      cr_assert_not_null(ins[i], "%s: partition %zu input '%s' comes from nowhere", what, k, name);
    }
    Q8_OK_OR_FAIL(q8_session_run(sessions[k], ins, nin));
  }
  const char *out_name = NULL;
  Q8_OK_OR_FAIL(q8_model_output_name(m, 0, &out_name));
  const q8_tensor *got = NULL, *want = NULL;
  Q8_OK_OR_FAIL(q8_session_tensor(sessions[parts - 1], out_name, &got));
  Q8_OK_OR_FAIL(q8_session_output(whole, 0, &want));
  expect_same_tensor(got, want, what);
  for (size_t k = 0; k < parts; ++k) {
    q8_session_destroy(sessions[k]);
    q8_model_destroy(models[k]);
  }
}

Test(partition_run, chained_partitions_equal_the_whole_model) {
  for (int i = 0; i < 2 * MODELS; ++i) {
    q8_model *m = model_at(i);
    q8_tensor *in = NULL;
    q8_session *whole = whole_run(m, &in);
    const size_t n = nodes_of(m);
    const size_t counts[4] = {1, 2, 3, n};
    for (int by = 0; by < 2; ++by)
      for (int c = 0; c < 4; ++c) {
        q8_partition_plan *p = plan_of(m, counts[c], 0, (q8_partition_balance)by);
        char what[128];
        snprintf(what, sizeof what, "model %d, %zu partitions by %s", i, counts[c], by ? "flops" : "bytes");
        expect_chain_equal(m, p, whole, in, what);
        q8_partition_plan_destroy(p);
      }
    q8_session_destroy(whole);
    q8_tensor_destroy(in);
    q8_model_destroy(m);
  }
}

/* Every partition of the INT8 CNN cut after each node: the u8 tensors between partitions carry
 * their parameters with the data, so each cut still gives the whole model's bits. */
Test(partition_run, every_cut_of_the_int8_cnn) {
  q8_model *m = model_at(MODELS + 2);
  q8_tensor *in = NULL;
  q8_session *whole = whole_run(m, &in);
  const size_t n = nodes_of(m);
  for (size_t cut = 1; cut < n; ++cut) {
    const size_t firsts[2] = {0, cut};
    q8_partition_plan *p = plan_at(m, firsts, 2);
    char what[64];
    snprintf(what, sizeof what, "cut before node %zu", cut);
    expect_chain_equal(m, p, whole, in, what);
    q8_partition_plan_destroy(p);
  }
  q8_session_destroy(whole);
  q8_tensor_destroy(in);
  q8_model_destroy(m);
}

/* ---- pipelines ------------------------------------------------------------------------------ */

static q8_pipeline *pipeline_of(const q8_partition_plan *p, int64_t batch, int64_t micro, size_t replicas,
                                size_t threads, size_t in_flight, int serial_stages) {
  q8_pipeline_options o;
  Q8_OK_OR_FAIL(q8_pipeline_options_init(&o));
  o.micro_batch = micro;
  o.replicas = replicas;
  o.threads = threads;
  o.max_in_flight = in_flight;
  o.serial_stages = serial_stages;
  q8_pipeline *pl = NULL;
  Q8_OK_OR_FAIL(q8_pipeline_create(p, batch, &o, &pl));
  return pl;
}

static const q8_tensor *pipeline_output(const q8_pipeline *pl) {
  const q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_pipeline_output(pl, 0, &t));
  return t;
}

/* Pipelines over plan p at micro-batches of 1, 7, 64 and 450 rows (tails of 2 and 30 rows),
 * replicas 1 and 2, threads 1 and 2, max_in_flight 1 and the default, stages' kernels serial in
 * half of those (each value with each replica count and in-flight limit), against the whole
 * model. */
static void expect_pipelines_equal(const q8_model *m, const q8_partition_plan *p, const int64_t *micros,
                                   size_t micro_count, const char *what) {
  q8_tensor *in = NULL;
  q8_session *whole = whole_run(m, &in);
  const q8_tensor *want = NULL;
  Q8_OK_OR_FAIL(q8_session_output(whole, 0, &want));
  for (size_t mi = 0; mi < micro_count; ++mi)
    for (size_t replicas = 1; replicas <= 2; ++replicas)
      for (size_t threads = 1; threads <= 2; ++threads)
        for (size_t in_flight = 0; in_flight <= 1; ++in_flight) {
          const int serial = (int)((replicas + threads + in_flight) % 2);
          q8_pipeline *pl = pipeline_of(p, (int64_t)g_test.n, micros[mi], replicas, threads, in_flight, serial);
          char w[160];
          snprintf(w, sizeof w, "%s: micro %lld, replicas %zu, threads %zu, in flight %zu, serial stages %d", what,
                   (long long)micros[mi], replicas, threads, in_flight, serial);
          Q8_OK_OR_FAIL(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 1));
          expect_same_tensor(pipeline_output(pl), want, w);
          Q8_OK_OR_FAIL(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 1)); /* runs repeat */
          expect_same_tensor(pipeline_output(pl), want, w);
          q8_pipeline_destroy(pl);
        }
  q8_session_destroy(whole);
  q8_tensor_destroy(in);
}

static const int64_t kMicros[4] = {1, 7, 64, 450};

/* FP32 and INT8 alike: the FP32 runtime's matrix products keep one summation order per element
 * (q8_gemm_f32_ordered), and INT8 accumulates in integers, so a row's bits do not depend on the
 * micro-batch it travels in. */
static void expect_model_pipelines_equal(int first, const char *kind) {
  for (int i = first; i < first + MODELS; ++i) {
    q8_model *m = model_at(i);
    for (size_t count = 1; count <= 3; ++count) {
      q8_partition_plan *p = plan_of(m, count, 0, Q8_PARTITION_BY_FLOPS);
      char what[64];
      snprintf(what, sizeof what, "%s model %d in %zu", kind, i - first, count);
      expect_pipelines_equal(m, p, kMicros, 4, what);
      q8_partition_plan_destroy(p);
    }
    q8_model_destroy(m);
  }
}

Test(partition_pipeline, int8_pipelines_equal_the_whole_model) { expect_model_pipelines_equal(MODELS, "INT8"); }

Test(partition_pipeline, fp32_pipelines_equal_the_whole_model) { expect_model_pipelines_equal(0, "FP32"); }

/* Dynamic quantization measures each run's activation ranges, so a pipeline computes each
 * micro-batch with its own: its rows equal a whole-model session run on that micro-batch alone. */
Test(partition_pipeline, dynamic_quantization_is_per_micro_batch) {
  load_digits();
  for (int which = 0; which < MODELS; ++which) {
    q8_model *f = fp32(which);
    q8_model *m = quantized(f, Q8_PTQ_DYNAMIC);
    q8_model_destroy(f);
    q8_partition_plan *p = plan_of(m, 2, 0, Q8_PARTITION_BY_FLOPS);
    const int64_t micro = 64;
    q8_tensor *in = NULL;
    DIGITS_OR_FAIL(digits_wrap(m, g_test.x, g_test.n, &in));
    q8_pipeline *pl = pipeline_of(p, (int64_t)g_test.n, micro, 2, 2, 0, 1);
    Q8_OK_OR_FAIL(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 1));
    const float *got = tensor_data(pipeline_output(pl));
    int differs_from_whole = 0;
    for (size_t first = 0; first < g_test.n; first += (size_t)micro) {
      const size_t rows = g_test.n - first < (size_t)micro ? g_test.n - first : (size_t)micro;
      float want[64 * DIGITS_CLASSES];
      DIGITS_OR_FAIL(digits_logits(m, g_test.x + first * DIGITS_PIXELS, rows, want)); /* batches of 64 */
      cr_assert(memcmp(got + first * DIGITS_CLASSES, want, rows * DIGITS_CLASSES * sizeof(float)) == 0,
                "model %d: rows %zu.. differ from that micro-batch run alone", which, first);
    }
    /* ... which is not the whole batch's result: the ranges differ. */
    q8_tensor *whole_in = NULL;
    q8_session *whole = whole_run(m, &whole_in);
    const q8_tensor *w = NULL;
    Q8_OK_OR_FAIL(q8_session_output(whole, 0, &w));
    differs_from_whole = memcmp(tensor_data(w), got, g_test.n * DIGITS_CLASSES * sizeof(float)) != 0;
    cr_assert(differs_from_whole, "model %d: per-micro-batch ranges should change some bits", which);
    q8_session_destroy(whole);
    q8_tensor_destroy(whole_in);
    q8_pipeline_destroy(pl);
    q8_tensor_destroy(in);
    q8_partition_plan_destroy(p);
    q8_model_destroy(m);
  }
}

Test(partition_pipeline, outlives_plan_and_model) {
  load_digits();
  q8_model *m = model_at(MODELS + 1);
  q8_tensor *in = NULL;
  q8_session *whole = whole_run(m, &in);
  q8_partition_plan *p = plan_of(m, 3, 0, Q8_PARTITION_BY_FLOPS);
  q8_pipeline *pl = pipeline_of(p, (int64_t)g_test.n, 7, 2, 2, 0, 0);
  q8_partition_plan_destroy(p);
  Q8_OK_OR_FAIL(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 1));
  const q8_tensor *want = NULL;
  Q8_OK_OR_FAIL(q8_session_output(whole, 0, &want));
  expect_same_tensor(pipeline_output(pl), want, "after the plan is gone");
  q8_session_destroy(whole);
  q8_model_destroy(m);
  Q8_OK_OR_FAIL(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 1));
  q8_pipeline_destroy(pl);
  q8_tensor_destroy(in);
}

Test(partition_plan, outlives_its_model) {
  load_digits();
  q8_model *m = model_at(MODELS);
  q8_model *m2 = model_at(MODELS); /* the same model again, to compare against after m is gone */
  q8_tensor *in = NULL;
  q8_session *whole = whole_run(m2, &in);
  q8_partition_plan *p = plan_of(m, 2, 0, Q8_PARTITION_BY_BYTES);
  q8_model_destroy(m);
  expect_chain_equal(m2, p, whole, in, "after the model is gone");
  q8_session_destroy(whole);
  q8_model_destroy(m2);
  q8_partition_plan_destroy(p);
  q8_tensor_destroy(in);
}

Test(partition_pipeline, bad_arguments) {
  load_digits();
  q8_model *m = fp32(0);
  q8_partition_plan *p = plan_of(m, 2, 0, Q8_PARTITION_BY_FLOPS);
  q8_pipeline_options o;
  q8_pipeline *pl = NULL;
  Q8_OK_OR_FAIL(q8_pipeline_options_init(&o));
  cr_assert_eq(o.micro_batch, 0);
  cr_assert_eq(o.replicas, 1);
  cr_assert_eq(o.max_in_flight, 0);
  cr_assert_eq(o.threads, 0);
  cr_assert_eq(o.serial_stages, 0);
  Q8_EXPECT_ERROR(q8_pipeline_create(p, 0, &o, &pl), Q8_ERR_INVALID_ARGUMENT, "batch");
  o.replicas = 0;
  Q8_EXPECT_ERROR(q8_pipeline_create(p, 8, &o, &pl), Q8_ERR_INVALID_ARGUMENT, "replicas");
  o.replicas = 1;
  o.micro_batch = -1;
  Q8_EXPECT_ERROR(q8_pipeline_create(p, 8, &o, &pl), Q8_ERR_INVALID_ARGUMENT, "micro_batch");
  o.micro_batch = 3;
  Q8_EXPECT_ERROR(q8_pipeline_create(NULL, 8, &o, &pl), Q8_ERR_INVALID_ARGUMENT, "plan");
  cr_assert_null(pl);
  Q8_OK_OR_FAIL(q8_pipeline_create(p, 8, NULL, &pl)); /* NULL options: the defaults */
  q8_pipeline_destroy(pl);
  /* A caller built against the first version (no serial_stages) still works; less does not. */
  o.struct_size = offsetof(q8_pipeline_options, serial_stages);
  o.serial_stages = 12345; /* past the caller's struct: never read */
  Q8_OK_OR_FAIL(q8_pipeline_create(p, 8, &o, &pl));
  q8_pipeline_destroy(pl);
  o.struct_size = offsetof(q8_pipeline_options, threads);
  Q8_EXPECT_ERROR(q8_pipeline_create(p, 8, &o, &pl), Q8_ERR_INVALID_ARGUMENT, "struct_size");
  o.struct_size = sizeof o;
  o.serial_stages = 0;
  Q8_OK_OR_FAIL(q8_pipeline_create(p, 8, &o, &pl));
  const q8_tensor *out = NULL;
  size_t outputs = 0;
  Q8_OK_OR_FAIL(q8_pipeline_output_count(pl, &outputs));
  cr_assert_eq(outputs, 1);
  Q8_EXPECT_ERROR(q8_pipeline_output_count(NULL, &outputs), Q8_ERR_INVALID_ARGUMENT, "pipeline");
  Q8_EXPECT_ERROR(q8_pipeline_output(pl, 0, &out), Q8_ERR_STATE, "not run");
  q8_tensor *in = NULL;
  DIGITS_OR_FAIL(digits_wrap(m, g_test.x, 7, &in));
  Q8_EXPECT_ERROR(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 1), Q8_ERR_SHAPE, "input 'input'");
  Q8_EXPECT_ERROR(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 2), Q8_ERR_INVALID_ARGUMENT, "count");
  q8_tensor_destroy(in);
  DIGITS_OR_FAIL(digits_wrap(m, g_test.x, 8, &in));
  Q8_OK_OR_FAIL(q8_pipeline_run(pl, (const q8_tensor *const *)&in, 1));
  Q8_EXPECT_ERROR(q8_pipeline_output(pl, 1, &out), Q8_ERR_INVALID_ARGUMENT, "out of range");
  q8_tensor_destroy(in);
  q8_pipeline_destroy(pl);
  q8_pipeline_destroy(NULL);
  q8_partition_plan_destroy(p);
  q8_model_destroy(m);
}

/* A node that fails while the graph runs (Concat of u8 inputs whose parameters differ, which
 * only the data shows) stops the run; q8_pipeline_run returns its status and message, and the
 * pipeline runs again once the inputs are fixed. */
Test(partition_pipeline, error_inside_the_graph) {
  q8_model *m = load_fixture("ops/concat_u8.onnx");
  q8_partition_plan *p = plan_of(m, 1, 0, Q8_PARTITION_BY_BYTES);
  const int64_t batch = 9, as[2] = {9, 2}, bs[2] = {9, 3};
  q8_tensor *in[2] = {make_tensor(Q8_DTYPE_U8, as, 2), make_tensor(Q8_DTYPE_U8, bs, 2)};
  for (int i = 0; i < 18; ++i) ((uint8_t *)tensor_data(in[0]))[i] = (uint8_t)i;
  for (int i = 0; i < 27; ++i) ((uint8_t *)tensor_data(in[1]))[i] = (uint8_t)(100 + i);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(in[0], 0.5f, 3));
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(in[1], 0.25f, 3));
  q8_pipeline *pl = pipeline_of(p, batch, 2, 2, 2, 0, 1);
  Q8_EXPECT_ERROR(q8_pipeline_run(pl, (const q8_tensor *const *)in, 2), Q8_ERR_UNSUPPORTED, "concat_u8_node");
  cr_assert(strstr(q8_last_error(), "q8_pipeline_run") != NULL, "%s", q8_last_error());
  const q8_tensor *y = NULL;
  Q8_EXPECT_STATUS(q8_pipeline_output(pl, 0, &y), Q8_ERR_STATE);
  Q8_OK_OR_FAIL(q8_tensor_set_qparams(in[1], 0.5f, 3));
  Q8_OK_OR_FAIL(q8_pipeline_run(pl, (const q8_tensor *const *)in, 2));
  Q8_OK_OR_FAIL(q8_pipeline_output(pl, 0, &y));
  const uint8_t *yp = tensor_data(y);
  for (int n = 0; n < batch; ++n)
    for (int j = 0; j < 5; ++j) cr_assert_eq(yp[n * 5 + j], j < 2 ? n * 2 + j : 100 + n * 3 + j - 2);
  q8_pipeline_destroy(pl);
  q8_tensor_destroy(in[0]);
  q8_tensor_destroy(in[1]);
  q8_partition_plan_destroy(p);
  q8_model_destroy(m);
}

/* ---- describe, save, load ------------------------------------------------------------------- */

static char *describe(const q8_partition_plan *p, int json) {
  char *text = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_describe(p, json, &text));
  return text;
}

Test(partition_io, describe_save_load_round_trip) {
  q8_model *m = model_at(MODELS + 2);
  q8_partition_options o;
  Q8_OK_OR_FAIL(q8_partition_options_init(&o));
  o.count = 3;
  o.balance = Q8_PARTITION_BY_FLOPS;
  o.batch = 16;
  q8_partition_plan *p = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_create(m, &o, &p));
  char *text = describe(p, 0), *json = describe(p, 1);
  cr_assert(strstr(text, "3 partitions of") != NULL, "%s", text);
  cr_assert(strstr(text, "balanced by flops (FLOPs at batch 16)") != NULL, "%s", text);
  cr_assert(strstr(json, "\"format\": \"q8-partition-plan\"") != NULL, "%s", json);
  cr_assert(strstr(json, "\"batch\": 16") != NULL, "%s", json);
  char dir[64], path[128];
  make_tmpdir(dir, "q8-partition");
  snprintf(path, sizeof path, "%s/plan.json", dir);
  Q8_OK_OR_FAIL(q8_partition_plan_save(p, path));
  cr_assert_eq(dir_entries(dir), 1, "no temporary file is left behind");
  blob b = read_whole(path);
  cr_assert(b.n == strlen(json) && memcmp(b.p, json, b.n) == 0, "the file is the JSON describe gives");
  free(b.p);
  q8_partition_plan *back = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_load(m, path, &back));
  char *json2 = describe(back, 1), *text2 = describe(back, 0);
  cr_assert_str_eq(json2, json);
  cr_assert_str_eq(text2, text);
  q8_partition_plan *again = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_load_bytes(m, json, strlen(json), &again));
  cr_assert_eq(count_of(again), 3);
  q8_partition_plan_destroy(again);
  again = NULL;
  snprintf(path, sizeof path, "%s/missing.json", dir);
  Q8_EXPECT_ERROR(q8_partition_plan_load(m, path, &again), Q8_ERR_IO, "missing.json");
  snprintf(path, sizeof path, "%s/no/such/dir/plan.json", dir);
  Q8_EXPECT_STATUS(q8_partition_plan_save(p, path), Q8_ERR_IO);
  /* A plan made for one model does not load onto another. */
  q8_model *other = fp32(0);
  Q8_EXPECT_ERROR(q8_partition_plan_load_bytes(other, json, strlen(json), &again), Q8_ERR_FORMAT, "nodes");
  cr_assert_null(again);
  q8_model_destroy(other);
  q8_free(text);
  q8_free(json);
  q8_free(text2);
  q8_free(json2);
  q8_partition_plan_destroy(back);
  q8_partition_plan_destroy(p);
  remove_tree(dir);
  q8_model_destroy(m);
}

/* Each malformed plan for the digits MLP (nodes /0/Gemm /1/Relu /2/Gemm /3/Relu /4/Gemm), and
 * what the message must name. */
Test(partition_io, malformed_plans) {
  q8_model *m = fp32(0);
  static const struct {
    const char *json, *needle;
  } cases[] = {
      {"", "not valid JSON"},
      {"{\"format\":\"q8-partition-plan\",", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {"{\"version\":1,\"partitions\":[]}", "\"format\""},
      {"{\"format\":\"onnx\",\"version\":1}", "\"format\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":2}", "\"version\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1}", "\"partitions\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[]}", "\"partitions\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":{}}", "\"partitions\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"colour\":1,\"partitions\":[]}", "unknown key 'colour'"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"nodes\":7,\"partitions\":[]}", "7 nodes"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"nodes\":\"5\",\"partitions\":[]}", "\"nodes\" is not"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"balance\":\"time\",\"partitions\":[]}", "\"balance\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"batch\":0,\"partitions\":[]}", "\"batch\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"batch\":-3,\"partitions\":[]}", "\"batch\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[3]}", "partition 0 is not an object"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"last\":\"/4/Gemm\"}]}", "\"first\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":4}]}",
       "\"last\""},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/9/Gemm\"}]}",
       "\"/9/Gemm\", which the model does not have"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/4/Gemm\","
       "\"size\":1}]}",
       "partition 0: unknown key 'size'"},
      /* gaps: at the start, between partitions, at the end */
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/1/Relu\",\"last\":\"/4/Gemm\"}]}",
       "nodes 0 .. 0 ('/0/Gemm' .. '/0/Gemm') are in no partition"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/1/Relu\"},"
       "{\"first\":\"/3/Relu\",\"last\":\"/4/Gemm\"}]}",
       "nodes 2 .. 2 ('/2/Gemm' .. '/2/Gemm') are in no partition"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/3/Relu\"}]}",
       "the last one ends before the model does"},
      /* overlap, wrong order inside a partition, partitions out of order */
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/2/Gemm\"},"
       "{\"first\":\"/2/Gemm\",\"last\":\"/4/Gemm\"}]}",
       "partition 1 overlaps partition 0"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/4/Gemm\",\"last\":\"/0/Gemm\"}]}",
       "comes before its first"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/3/Relu\",\"last\":\"/4/Gemm\"},"
       "{\"first\":\"/0/Gemm\",\"last\":\"/2/Gemm\"}]}",
       "are in no partition"},
      /* derived fields that disagree with the model */
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/4/Gemm\","
       "\"nodes\":4}]}",
       "partition 0: \"nodes\" is 4, the model gives 5"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/4/Gemm\","
       "\"weight_bytes\":1}]}",
       "\"weight_bytes\" is 1"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/4/Gemm\","
       "\"flops\":-1}]}",
       "\"flops\" is not a non-negative integer"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/4/Gemm\","
       "\"inputs\":[\"x\"]}]}",
       "\"inputs\" lists [\"x\"], the model gives [\"input\"]"},
      {"{\"format\":\"q8-partition-plan\",\"version\":1,\"partitions\":[{\"first\":\"/0/Gemm\",\"last\":\"/4/Gemm\","
       "\"outputs\":[1]}]}",
       "\"outputs\"[0] is not a string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    q8_partition_plan *p = NULL;
    const q8_status st = q8_partition_plan_load_bytes(m, cases[i].json, strlen(cases[i].json), &p);
    cr_assert_eq(st, Q8_ERR_FORMAT, "case %zu (%s): %s", i, cases[i].json, q8_status_string(st));
    cr_assert(strstr(q8_last_error(), cases[i].needle) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, q8_last_error(),
              cases[i].needle);
    cr_assert_null(p);
  }
  /* The minimal plan loads; its derived fields may be given when they agree. */
  const char *ok =
      "{\"format\":\"q8-partition-plan\",\"version\":1,\"balance\":\"flops\",\"batch\":2,\"partitions\":["
      "{\"first\":\"/0/Gemm\",\"last\":\"/1/Relu\",\"nodes\":2,\"inputs\":[\"input\"],\"outputs\":[\"/1/Relu_output_0\"]},"
      "{\"first\":\"/2/Gemm\",\"last\":\"/4/Gemm\",\"flops\":" /* 2 rows x (2*256*256 + 256 + 2*256*10) */
      "272896}]}";
  q8_partition_plan *p = NULL;
  Q8_OK_OR_FAIL(q8_partition_plan_load_bytes(m, ok, strlen(ok), &p));
  cr_assert_eq(count_of(p), 2);
  q8_partition_plan_destroy(p);
  Q8_EXPECT_ERROR(q8_partition_plan_load_bytes(m, NULL, 3, &p), Q8_ERR_INVALID_ARGUMENT, "json");
  Q8_EXPECT_ERROR(q8_partition_plan_load_bytes(NULL, ok, 3, &p), Q8_ERR_INVALID_ARGUMENT, "model");
  q8_model_destroy(m);
}
