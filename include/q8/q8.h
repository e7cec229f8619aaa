/* q8 — INT8 quantization engine. The one header to include.
 *
 *   #include <q8/q8.h>
 *   q8_tensor *x, *y;  int64_t shape[2] = {4, 16};
 *   q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, floats, sizeof floats, &x);   // borrow your data
 *   q8_observer_options o; q8_observer_options_init(&o);                  // min-max, u8
 *   q8_observer *obs; q8_observer_create(&o, &obs);
 *   q8_observer_update(obs, x);                                           // calibrate
 *   q8_tensor_create(Q8_DTYPE_U8, shape, 2, &y);
 *   q8_observer_apply(obs, y);                                            // scale, zero point
 *   if (q8_quantize(x, y) != Q8_OK) puts(q8_last_error());               // f32 -> u8
 *   q8_observer_destroy(obs); q8_tensor_destroy(y); q8_tensor_destroy(x);
 *
 * Headers, simple to advanced: common.h (status, dtypes, versions, run-time settings),
 * tensor.h, quant.h, observer.h, fixed.h (Q7/Q15/Q31 arithmetic and requantization),
 * gemm.h (INT8 matrix multiplication), conv.h (INT8 convolution on the GEMM), qops.h,
 * model.h (whole models), prune.h (pruning masks), sparse.h (sparse INT8 weights and GEMM),
 * qat.h (fake quantization, STE/LSQ gradients, BatchNorm folding for training loops),
 * partition.h (partition plans, pipeline- and data-parallel runs on oneTBB flow graphs),
 * checkpoint.h (streaming weight-only quantization of safetensors checkpoints),
 * calibration.h (calibration as a value: merge across processes, save, quantize from it).
 */
#ifndef Q8_Q8_H
#define Q8_Q8_H
#include "q8/common.h"
#include "q8/tensor.h"
#include "q8/quant.h"
#include "q8/observer.h"
#include "q8/fixed.h"
#include "q8/gemm.h"
#include "q8/conv.h"
#include "q8/qops.h"
#include "q8/model.h"
#include "q8/prune.h"
#include "q8/sparse.h"
#include "q8/qat.h"
#include "q8/partition.h"
#include "q8/checkpoint.h"
#include "q8/calibration.h"
#endif
