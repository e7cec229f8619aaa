/* q8 — model partitions and parallel runs.
 *
 * A partition plan cuts a model into contiguous runs of nodes (in the model's topological order),
 * each small enough for one device's memory or balanced by work; each partition is a model of its
 * own whose inputs are the graph inputs and earlier partitions' tensors it reads, and whose outputs
 * are the tensors later partitions or the graph need. A pipeline runs the partitions as a oneTBB
 * flow graph: micro-batches flow from partition to partition (pipeline parallelism; each
 * partition's weights are resident once), and each partition may run several micro-batches at
 * once on replicas of its session (data parallelism). Its outputs are bit for bit those of one
 * session on the whole model at the same batch, whenever the model's rows are computed
 * independently of each other (every q8 kernel; not dynamic quantization, whose activation
 * ranges come from the whole batch: a pipeline over a Q8_PTQ_DYNAMIC model computes each
 * micro-batch with its own ranges).
 */
#ifndef Q8_PARTITION_H
#define Q8_PARTITION_H

#include "q8/common.h"
#include "q8/model.h"
#include "q8/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- plans ------------------------------------------------------------------------------- */

typedef enum q8_partition_balance {
  Q8_PARTITION_BY_BYTES = 0, /* equalize constant (weight) bytes per partition */
  Q8_PARTITION_BY_FLOPS = 1  /* equalize arithmetic per partition, counted at `batch` rows */
} q8_partition_balance;

/* Options; fill with q8_partition_options_init. Give a count, a budget, or both:
 *  - count > 0, max_bytes == 0: exactly `count` partitions, balanced by `balance`;
 *  - count == 0, max_bytes > 0: as few partitions as keep every partition's constant bytes
 *    within max_bytes (Q8_ERR_SHAPE naming the node if a single node's constants exceed it);
 *  - both: `count` partitions, each within max_bytes (Q8_ERR_SHAPE if that cannot be done).
 * A model with fewer nodes than `count` fails with Q8_ERR_SHAPE. */
typedef struct q8_partition_options {
  size_t struct_size;
  size_t count;                  /* default 0 */
  uint64_t max_bytes;            /* default 0: no budget */
  q8_partition_balance balance;  /* default Q8_PARTITION_BY_BYTES */
  int64_t batch;                 /* rows for counting FLOPs (dynamic dimensions); default 1 */
} q8_partition_options;

Q8_API q8_status q8_partition_options_init(q8_partition_options *options);

typedef struct q8_partition_plan q8_partition_plan;

/* A plan for `model`. The plan keeps what it needs of the model (weights are shared, not
 * copied), so the model may be destroyed first. */
Q8_API q8_status q8_partition_plan_create(const q8_model *model, const q8_partition_options *options,
                                          q8_partition_plan **out);
Q8_API void q8_partition_plan_destroy(q8_partition_plan *plan);

/* Number of partitions. */
Q8_API q8_status q8_partition_plan_count(const q8_partition_plan *plan, size_t *count);

/* What partition `index` holds. Tensor names are borrowed from the plan. */
typedef struct q8_partition_info {
  size_t struct_size;            /* set by the caller (sizeof); fields past it are not written */
  size_t first_node;             /* index of its first node in the model's node order */
  size_t node_count;
  uint64_t weight_bytes;         /* bytes of the constants its nodes read */
  uint64_t flops;                /* multiply-adds x 2 at the plan's batch */
  size_t input_count;            /* tensors it reads from the graph inputs or earlier partitions */
  size_t output_count;           /* tensors it hands to later partitions or the graph outputs */
} q8_partition_info;

Q8_API q8_status q8_partition_plan_info(const q8_partition_plan *plan, size_t index, q8_partition_info *info);
/* Name of input / output `i` of partition `index` (borrowed from the plan). */
Q8_API q8_status q8_partition_plan_input(const q8_partition_plan *plan, size_t index, size_t i, const char **name);
Q8_API q8_status q8_partition_plan_output(const q8_partition_plan *plan, size_t index, size_t i, const char **name);

/* Partition `index` as a model of its own (weights shared with the plan): run it with a
 * session, save it, send it to another machine. */
Q8_API q8_status q8_partition_plan_model(const q8_partition_plan *plan, size_t index, q8_model **out);

/* The plan as text (a table: partition, nodes, first and last node names, weight bytes, FLOPs,
 * inputs, outputs) or, with `json` non-zero, as the JSON that q8_partition_plan_save writes.
 * *text is allocated by q8; free it with q8_free. */
Q8_API q8_status q8_partition_plan_describe(const q8_partition_plan *plan, int json, char **text);

/* Saves the plan as JSON (atomically: temporary file, fsync, rename). The file names the model's
 * nodes, so a plan can be reviewed, edited by hand (move a boundary) and loaded again. */
Q8_API q8_status q8_partition_plan_save(const q8_partition_plan *plan, const char *path);
/* Loads a plan saved for `model` (the same JSON from memory: q8_partition_plan_load_bytes).
 * Q8_ERR_FORMAT names what is wrong: malformed JSON, a node the model does not have, partitions
 * that are not contiguous or do not cover every node exactly once. */
Q8_API q8_status q8_partition_plan_load(const q8_model *model, const char *path, q8_partition_plan **out);
Q8_API q8_status q8_partition_plan_load_bytes(const q8_model *model, const void *json, size_t size,
                                              q8_partition_plan **out);

/* ---- pipelines --------------------------------------------------------------------------- */

typedef struct q8_pipeline_options {
  size_t struct_size;
  int64_t micro_batch;   /* rows per micro-batch (the last may be shorter); default 0: the whole
                            batch in one (no pipelining) */
  size_t replicas;       /* sessions per partition that may run at once (data parallel);
                            default 1 */
  size_t max_in_flight;  /* micro-batches inside the graph at once (a limiter_node): bounds the
                            activation memory; default 0: partitions + replicas */
  size_t threads;        /* worker threads of the pipeline's task arena; default 0: the
                            run-time setting (q8_runtime_set_threads) */
  /* Appended in 0.1 (session 6); a struct_size without it reads as 0. */
  int serial_stages;     /* non-zero: each stage's kernels run on the thread that runs the stage,
                            so the pipeline's threads are the only ones (no intra-op threads
                            nested inside, which stall a stage when another holds their chunks;
                            docs/PARTITIONS.md); outputs are the same bits either way. Default 0:
                            kernels use q8's run-time thread setting as everywhere else */
} q8_pipeline_options;

Q8_API q8_status q8_pipeline_options_init(q8_pipeline_options *options);

typedef struct q8_pipeline q8_pipeline;

/* Prepares every partition of `plan` for inputs whose dynamic dimension is `batch` (sessions at
 * the micro-batch size, and at the last micro-batch's size if it is shorter). The pipeline keeps
 * the plan's weights alive; the plan may be destroyed first. */
Q8_API q8_status q8_pipeline_create(const q8_partition_plan *plan, int64_t batch,
                                    const q8_pipeline_options *options, q8_pipeline **out);
Q8_API void q8_pipeline_destroy(q8_pipeline *pipeline);

/* Runs the batch: `inputs` as for q8_session_run on the whole model. Not for concurrent calls on
 * one pipeline (Q8_ERR_STATE if one is running). */
Q8_API q8_status q8_pipeline_run(q8_pipeline *pipeline, const q8_tensor *const *inputs, size_t count);
/* The whole model's number of outputs. */
Q8_API q8_status q8_pipeline_output_count(const q8_pipeline *pipeline, size_t *count);
/* Output `index` of the whole model after the last run, borrowed (Q8_ERR_STATE before one). */
Q8_API q8_status q8_pipeline_output(const q8_pipeline *pipeline, size_t index, const q8_tensor **out);

#ifdef __cplusplus
}
#endif

#endif /* Q8_PARTITION_H */
