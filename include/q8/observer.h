/* q8 calibration observers: fed f32 batches one at a time, they choose the range (and so the
 * scale and zero point) that a tensor is quantized with. */
#ifndef Q8_OBSERVER_H
#define Q8_OBSERVER_H

#include "q8/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum q8_observer_kind {
  Q8_OBSERVER_MINMAX = 0,                /* the running min and max */
  Q8_OBSERVER_MOVING_AVERAGE_MINMAX = 1, /* exponential moving average of each batch's min/max */
  Q8_OBSERVER_PERCENTILE = 2,            /* histogram; clip at a percentile of the data */
  Q8_OBSERVER_ENTROPY = 3,               /* histogram; range minimising KL divergence (TensorRT) */
  Q8_OBSERVER_MSE = 4                    /* histogram; range minimising expected squared error */
} q8_observer_kind;

/* Options; fill with q8_observer_options_init, then change what you need. New fields are only
 * appended, and `struct_size` tells the library which fields the caller knows. */
typedef struct q8_observer_options {
  size_t struct_size;          /* sizeof(q8_observer_options), set by q8_observer_options_init */
  q8_observer_kind kind;       /* default Q8_OBSERVER_MINMAX */
  q8_scheme scheme;            /* default Q8_SCHEME_ASYMMETRIC_U8 */
  int32_t axis;                /* channel axis for per-channel, or -1 for per-tensor (default);
                                  per-channel needs a non-negative axis */
  float averaging_constant;    /* moving average weight of the new batch, (0, 1]; default 0.01 */
  double percentile;           /* percentile observer, in (50, 100]; default 99.99 */
  uint32_t bins;               /* histogram bins per channel, 128 to 65536; default 2048 */
} q8_observer_options;

/* Defaults as listed above. */
Q8_API q8_status q8_observer_options_init(q8_observer_options *options);

typedef struct q8_observer q8_observer; /* opaque */

/* The options are copied. */
Q8_API q8_status q8_observer_create(const q8_observer_options *options, q8_observer **out);
Q8_API void q8_observer_destroy(q8_observer *obs);

/* Feed one f32 batch. Per-channel observers need the axis to exist, and the same channel count in
 * every batch. NaN values are ignored; infinities are ignored too (they cannot set a finite range;
 * quantize saturates them). An empty batch is accepted and changes nothing. */
Q8_API q8_status q8_observer_update(q8_observer *obs, const q8_tensor *batch);

/* Number of channels (1 for per-tensor); Q8_ERR_STATE before the first non-empty update. */
Q8_API q8_status q8_observer_channels(const q8_observer *obs, size_t *count);

/* The chosen range per channel (`count` as from q8_observer_channels). */
Q8_API q8_status q8_observer_range(const q8_observer *obs, float *mins, float *maxs, size_t count);

/* The range turned into parameters with the observer's scheme (see q8_qparams_from_range). */
Q8_API q8_status q8_observer_qparams(const q8_observer *obs, float *scales, int32_t *zero_points,
                                     size_t count);

/* Set those parameters on `t` (per-tensor, or per-axis on the observer's axis); t's dtype must be
 * the scheme's dtype. */
Q8_API q8_status q8_observer_apply(const q8_observer *obs, q8_tensor *t);

/* Forget everything seen; the options stay. */
Q8_API q8_status q8_observer_reset(q8_observer *obs);

/* Freeze (non-zero) or unfreeze the observer: while frozen, q8_observer_update checks its batch
 * but changes nothing, so the range (and the parameters) stay what they were (QAT freezes
 * activation observers after a few epochs). q8_observer_reset keeps the frozen state. */
Q8_API q8_status q8_observer_set_frozen(q8_observer *obs, int frozen);
Q8_API q8_status q8_observer_frozen(const q8_observer *obs, int *frozen);

#ifdef __cplusplus
}
#endif
#endif /* Q8_OBSERVER_H */
