// q8_prune_* entry points: C arguments checked and handed to src/prune, masks returned as tensors.
#include "q8/prune.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/guard.hpp"
#include "core/dtype.hpp"
#include "core/tensor.hpp"
#include "prune/prune.hpp"

using namespace q8;

namespace {

// An F32 tensor as prune::Weights (the rank is checked by the prune calls).
prune::Weights f32_weights(const q8_tensor *t, const std::string &what) {
  const q8_tensor &w = deref(t, what.c_str());
  if (w.dtype != Q8_DTYPE_F32)
    fail(Q8_ERR_DTYPE, what + " is " + dtype_name(w.dtype) + " but pruning scores f32 weights");
  return {static_cast<const float *>(w.data), std::vector<int64_t>(w.shape, w.shape + w.rank)};
}

// A new owned u8 tensor of `like`'s shape holding `bits`, without quantization parameters.
std::unique_ptr<q8_tensor> mask_tensor(const q8_tensor &like, const std::vector<uint8_t> &bits) {
  auto t = std::make_unique<q8_tensor>();
  t->dtype = Q8_DTYPE_U8;
  t->rank = like.rank;
  std::copy(like.shape, like.shape + like.rank, t->shape);
  t->numel = bits.size();
  t->data = aligned_zalloc(bits.size());
  t->owned = true;
  if (!bits.empty()) std::memcpy(t->data, bits.data(), bits.size());
  return t;
}

}  // namespace

extern "C" {

q8_status q8_prune_options_init(q8_prune_options *options) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->pattern = Q8_PRUNE_UNSTRUCTURED;
    options->sparsity = 0.5;
    options->n = 2;
    options->m = 4;
    options->block_rows = 4;
    options->block_cols = 4;
    options->norm = Q8_PRUNE_NORM_L2;
  });
}

q8_status q8_prune_mask(const q8_tensor *weights, const q8_prune_options *options, q8_tensor **mask) {
  return guard(__func__, [&] {
    const prune::Weights w = f32_weights(weights, "weights");
    Q8_CHECK_NOT_NULL(options);
    Q8_CHECK_NOT_NULL(mask);
    const prune::Options o = prune::read_options(*options);
    *mask = mask_tensor(*weights, prune::mask(w.data, w.shape, o)).release();
  });
}

q8_status q8_prune_global_masks(const q8_tensor *const *weights, size_t count,
                                const q8_prune_options *options, q8_tensor **masks) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    const prune::Options o = prune::read_options(*options);
    if (count == 0) return;
    Q8_CHECK_NOT_NULL(weights);
    Q8_CHECK_NOT_NULL(masks);
    std::vector<prune::Weights> ws;
    for (size_t i = 0; i < count; ++i) ws.push_back(f32_weights(weights[i], "weights[" + std::to_string(i) + "]"));
    const std::vector<std::vector<uint8_t>> bits = prune::global_masks(ws, o);
    // All or none: every tensor is built before any is handed out.
    std::vector<std::unique_ptr<q8_tensor>> out;
    for (size_t i = 0; i < count; ++i) out.push_back(mask_tensor(*weights[i], bits[i]));
    for (size_t i = 0; i < count; ++i) masks[i] = out[i].release();
  });
}

q8_status q8_prune_apply(q8_tensor *weights, const q8_tensor *mask) {
  return guard(__func__, [&] { prune::apply(deref(weights, "weights"), deref(mask, "mask")); });
}

q8_status q8_prune_mask_and(q8_tensor *dst, const q8_tensor *src) {
  return guard(__func__, [&] { prune::mask_and(deref(dst, "dst"), deref(src, "src")); });
}

q8_status q8_prune_mask_or(q8_tensor *dst, const q8_tensor *src) {
  return guard(__func__, [&] { prune::mask_or(deref(dst, "dst"), deref(src, "src")); });
}

q8_status q8_prune_sparsity(const q8_tensor *tensor, double *sparsity) {
  return guard(__func__, [&] {
    const q8_tensor &t = deref(tensor, "tensor");
    Q8_CHECK_NOT_NULL(sparsity);
    *sparsity = prune::sparsity(t);
  });
}

q8_status q8_prune_schedule_cubic(double initial, double final, int64_t begin, int64_t end,
                                  int64_t frequency, int64_t step, double *sparsity) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(sparsity);
    *sparsity = prune::schedule_cubic(initial, final, begin, end, frequency, step);
  });
}

}  // extern "C"
