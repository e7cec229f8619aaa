// Model-level pruning: take each layer's weight (model/weights.hpp), view it as [rows = output
// channels, cols = reduction], mask it with prune.h's public calls, and write the pruned weight
// back as a new constant.
#include "ptq/prune.hpp"


#include "model/weights.hpp"
#include "ptq/util.hpp"
#include "q8/prune.h"

namespace q8::ptq {
namespace {

using model::Graph;
using model::Value;
using model::WeightRef;
using model::weights_of;

// [rows, cols] copy of the weight in the pruning view.
std::vector<float> view_of(const Value &v, const WeightRef &w) {
  std::vector<float> out(std::size_t(w.rows * w.cols));
  model::to_view(reinterpret_cast<const float *>(v.data.data), w, out.data());
  return out;
}

// The view written back in the stored layout.
model::Bytes stored_bytes(const std::vector<float> &view, const WeightRef &w) {
  std::vector<uint8_t> bytes(view.size() * sizeof(float));
  model::from_view(view.data(), w, reinterpret_cast<float *>(bytes.data()));
  return model::Bytes::take(std::move(bytes));
}

TensorPtr wrap(std::vector<float> &view, const WeightRef &w) {
  const int64_t shape[2] = {w.rows, w.cols};
  q8_tensor *t = nullptr;
  check(q8_tensor_wrap(Q8_DTYPE_F32, shape, 2, view.data(), view.size() * sizeof(float), &t),
        "weight '" + w.node + "'");
  return TensorPtr(t);
}

}  // namespace

Graph prune(const Graph &g, const q8_prune_options *options, bool global, const std::set<std::string> &keep_dense) {
  Graph out = g;
  std::vector<WeightRef> refs;
  for (const WeightRef &w : weights_of(g, true))
    if (!keep_dense.count(w.node)) refs.push_back(w);
  std::vector<std::vector<float>> views;
  for (const WeightRef &w : refs) views.push_back(view_of(g.values[std::size_t(w.value)], w));
  std::vector<TensorPtr> tensors, masks(refs.size());
  std::vector<const q8_tensor *> ts;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    tensors.push_back(wrap(views[i], refs[i]));
    ts.push_back(tensors.back().get());
  }
  std::vector<q8_tensor *> ms(refs.size(), nullptr);
  if (global) {
    check(q8_prune_global_masks(ts.data(), ts.size(), options, ms.data()), "global pruning");
    for (std::size_t i = 0; i < refs.size(); ++i) masks[i].reset(ms[i]);
  } else {
    for (std::size_t i = 0; i < refs.size(); ++i) {
      const q8_status s = q8_prune_mask(ts[i], options, &ms[i]);
      masks[i].reset(ms[i]);
      // The pattern does not fit this layer's shape: it stays dense (describe shows it).
      if (s == Q8_ERR_SHAPE) continue;
      check(s, "pruning the weight of node '" + refs[i].node + "'");
    }
  }
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (!masks[i]) continue;
    check(q8_prune_apply(tensors[i].get(), masks[i].get()), "pruning the weight of node '" + refs[i].node + "'");
    out.values[std::size_t(refs[i].value)].data = stored_bytes(views[i], refs[i]);
  }
  out.producer = g.producer + (g.producer.empty() ? "" : ", ") + "pruned by q8";
  return out;
}

}  // namespace q8::ptq
