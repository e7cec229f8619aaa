/* q8 calibration as a value: observe a model's activations over some batches, keep what the
 * observers saw, combine it with what other batches (other threads, processes or machines) saw,
 * save it, and quantize from it later.
 *
 *   q8_calibration  the activation statistics of one FP32 model under one set of observer
 *                   settings (q8_ptq_options' observer, activation_scheme and percentile): per
 *                   activation the min and max of its finite values, and for the histogram
 *                   observers (PERCENTILE, ENTROPY, MSE) a histogram of them.
 *
 * Exactness. Merging is exact and order-free: calibrating batches {0..n-1} in one call, or any
 * split of them in pieces merged in any order, gives the same calibration, and
 * q8_model_quantize_calibrated then gives the model q8_model_quantize(model, options, all
 * batches) gives, bit for bit. Min and max combine by min and max; a histogram's bins lie on a
 * grid that depends only on its range (width a power of two, docs/CALIBRATION.md), so histograms
 * move onto their union's grid without splitting a count, and then add. The one exception is
 * Q8_OBSERVER_MOVING_AVERAGE_MINMAX, whose result depends on the order of the batches: it
 * calibrates and quantizes, but merging it fails with Q8_ERR_UNSUPPORTED.
 *
 * Across processes with plain collective reductions (MPI_Allreduce; q8-mpi does this,
 * docs/DISTRIBUTED.md): each process calibrates its share of the batches, then
 *   1. q8_calibration_ranges, all-reduce mins with MIN and maxs with MAX (float),
 *   2. q8_calibration_widen with the results: every process now has the same ranges, so its
 *      histograms lie on the same grids,
 *   3. q8_calibration_histograms, all-reduce the counts with SUM (uint64), then
 *      q8_calibration_set_histograms;
 * every process then holds the merge of all of them. Step 3 is empty (size 0) for MINMAX.
 *
 * Activations are every f32 tensor a node of the (pruned, if the options prune) model computes,
 * in graph order, then its f32 graph inputs; activation i is the same tensor in every
 * calibration of the same model and options.
 */
#ifndef Q8_CALIBRATION_H
#define Q8_CALIBRATION_H

#include "q8/common.h"
#include "q8/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct q8_calibration q8_calibration; /* opaque */

/* Runs `model` (FP32) over the batches as static q8_model_quantize would (batch b's input i is
 * batches[b * input_count + i]; batch_count >= 1) and keeps the statistics. From `options`: the
 * observer, activation_scheme, percentile, progress (stage "calibrate") and the prune fields (the
 * model is pruned first, as q8_model_quantize does); the mode and the weight fields are not used
 * here. The calibration remembers a fingerprint of the model it observed. */
Q8_API q8_status q8_model_calibrate(const q8_model *model, const q8_ptq_options *options,
                                    const q8_tensor *const *batches, size_t batch_count,
                                    q8_calibration **out);

/* `into` becomes the calibration of both data sets (`other` may be `into`: its data counts twice).
 * Q8_ERR_INVALID_ARGUMENT naming what differs if they come from different models (fingerprint or
 * activations) or settings (observer, scheme, percentile); Q8_ERR_UNSUPPORTED for moving-average
 * min-max. On failure `into` is unchanged. */
Q8_API q8_status q8_calibration_merge(q8_calibration *into, const q8_calibration *other);

/* Static quantization of `model` with the activation parameters of `calibration`: the model
 * q8_model_quantize(model, options, batches) makes when `calibration` holds exactly those batches.
 * options->mode must be Q8_PTQ_STATIC. The calibration must come from this model with the same
 * observer, activation_scheme, percentile and prune options (Q8_ERR_INVALID_ARGUMENT names what
 * differs); the other fields (per_channel, weight_scheme, keep_fp32, ...) are free. */
Q8_API q8_status q8_model_quantize_calibrated(const q8_model *model, const q8_ptq_options *options,
                                              const q8_calibration *calibration, q8_model **out);

/* Number of activations, and the name of activation `index` (owned by the calibration). */
Q8_API q8_status q8_calibration_activation_count(const q8_calibration *calibration, size_t *count);
Q8_API q8_status q8_calibration_activation_name(const q8_calibration *calibration, size_t index,
                                                const char **name);

/* Min and max of the finite values each activation has seen (`count` = the activation count).
 * An activation that has seen none reads min = +INFINITY, max = -INFINITY, which MIN/MAX
 * reductions ignore. */
Q8_API q8_status q8_calibration_ranges(const q8_calibration *calibration, float *mins, float *maxs,
                                       size_t count);

/* Widens activation i's range to cover [mins[i], maxs[i]] (finite, mins[i] <= maxs[i]; or
 * +INFINITY, -INFINITY for "nothing") and moves its histogram onto the grid of the new range,
 * exactly; no count is added. Meant for step 2 above: the range then is no longer only what this
 * calibration has seen, so set the summed counts (step 3) before quantizing. Q8_ERR_UNSUPPORTED
 * for moving-average min-max. On failure the calibration is unchanged. */
Q8_API q8_status q8_calibration_widen(q8_calibration *calibration, const float *mins,
                                      const float *maxs, size_t count);

/* The histogram counts of all activations as one flat array of *size values: activation i's
 * slots at [i * s, (i + 1) * s), s = 2048 for the asymmetric activation schemes and 4096 for the
 * symmetric ones; *size is 0 for min-max kinds. An activation whose range is [0, 0] has its
 * count (of zeros) in its first slot. */
Q8_API q8_status q8_calibration_histogram_size(const q8_calibration *calibration, size_t *size);
Q8_API q8_status q8_calibration_histograms(const q8_calibration *calibration, uint64_t *counts,
                                           size_t size);
/* Replaces the counts (same layout). Q8_ERR_INVALID_ARGUMENT naming the activation if a count
 * lies in a bin its range does not reach, or a count or an activation's total exceeds 2^53. On
 * failure the calibration is unchanged. */
Q8_API q8_status q8_calibration_set_histograms(q8_calibration *calibration, const uint64_t *counts,
                                               size_t size);

/* Serializes into a buffer the library allocates (free it with q8_free); the format is q8's own,
 * little-endian, versioned (docs/DISTRIBUTED.md). */
Q8_API q8_status q8_calibration_save_bytes(const q8_calibration *calibration, void **data, size_t *size);
/* Reads bytes from q8_calibration_save_bytes (untrusted: every field is checked;
 * Q8_ERR_FORMAT names what is wrong). */
Q8_API q8_status q8_calibration_load_bytes(const void *data, size_t size, q8_calibration **out);

Q8_API void q8_calibration_destroy(q8_calibration *calibration);

#ifdef __cplusplus
}
#endif

#endif /* Q8_CALIBRATION_H */
