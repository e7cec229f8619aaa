// Model-level pruning: take each layer's weight (model/weights.hpp), view it as [rows = output
// channels, cols = reduction], mask it with prune.h's public calls, and write the pruned weight
// back as a new constant.
#include "ptq/prune.hpp"

#include <cstring>
#include <memory>

#include "model/weights.hpp"
#include "ptq/util.hpp"
#include "q8/prune.h"

namespace q8::ptq {
namespace {

using model::Graph;
using model::Value;
using model::WeightRef;
using model::weights_of;

struct Owned {
  q8_tensor *t = nullptr;
  ~Owned() { q8_tensor_destroy(t); }
};

// [rows, cols] copy of the weight in the pruning view (transposed back from [K, N] if needed).
std::vector<float> view_of(const Value &v, const WeightRef &w) {
  const float *src = reinterpret_cast<const float *>(v.data.data);
  std::vector<float> out(std::size_t(w.rows * w.cols));
  if (!w.transposed) {
    std::memcpy(out.data(), src, out.size() * sizeof(float));
  } else {
    for (int64_t k = 0; k < w.cols; ++k)
      for (int64_t n = 0; n < w.rows; ++n) out[std::size_t(n * w.cols + k)] = src[k * w.rows + n];
  }
  return out;
}

// The view written back in the stored layout.
model::Bytes stored_bytes(const std::vector<float> &view, const WeightRef &w) {
  std::vector<uint8_t> bytes(view.size() * sizeof(float));
  float *dst = reinterpret_cast<float *>(bytes.data());
  if (!w.transposed) {
    std::memcpy(dst, view.data(), bytes.size());
  } else {
    for (int64_t k = 0; k < w.cols; ++k)
      for (int64_t n = 0; n < w.rows; ++n) dst[k * w.rows + n] = view[std::size_t(n * w.cols + k)];
  }
  return model::Bytes::take(std::move(bytes));
}

void wrap(std::vector<float> &view, const WeightRef &w, Owned &t) {
  const int64_t shape[2] = {w.rows, w.cols};
  check(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, view.data(), view.size() * sizeof(float), &t.t),
        "weight '" + w.node + "'");
}

}  // namespace

Graph prune(const Graph &g, const q8_prune_options *options, bool global, const std::set<std::string> &keep_dense) {
  Graph out = g;
  std::vector<WeightRef> refs;
  for (const WeightRef &w : weights_of(g, true))
    if (!keep_dense.count(w.node)) refs.push_back(w);
  std::vector<std::vector<float>> views;
  for (const WeightRef &w : refs) views.push_back(view_of(g.values[std::size_t(w.value)], w));
  std::vector<std::unique_ptr<Owned>> tensors, masks;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    tensors.push_back(std::make_unique<Owned>());
    wrap(views[i], refs[i], *tensors.back());
    masks.push_back(std::make_unique<Owned>());
  }
  if (global) {
    std::vector<const q8_tensor *> ts;
    std::vector<q8_tensor *> ms(refs.size(), nullptr);
    for (auto &t : tensors) ts.push_back(t->t);
    check(q8_prune_global_masks(ts.data(), ts.size(), options, ms.data()), "global pruning");
    for (std::size_t i = 0; i < refs.size(); ++i) masks[i]->t = ms[i];
  } else {
    for (std::size_t i = 0; i < refs.size(); ++i) {
      const q8_status s = q8_prune_mask(tensors[i]->t, options, &masks[i]->t);
      // The pattern does not fit this layer's shape: it stays dense (describe shows it).
      if (s == Q8_ERR_SHAPE) continue;
      check(s, "pruning the weight of node '" + refs[i].node + "'");
    }
  }
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (!masks[i]->t) continue;
    check(q8_prune_apply(tensors[i]->t, masks[i]->t), "pruning the weight of node '" + refs[i].node + "'");
    out.values[std::size_t(refs[i].value)].data = stored_bytes(views[i], refs[i]);
  }
  out.producer = g.producer + (g.producer.empty() ? "" : ", ") + "pruned by q8";
  return out;
}

}  // namespace q8::ptq
