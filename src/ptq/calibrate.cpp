// Calibration: run the FP32 model batch by batch and let one observer per activation see it.
// The observers' state is a calibration::Statistics, so that it can also be kept, combined with
// other batches' and turned into parameters later (q8/calibration.h); q8_model_quantize and
// q8_model_quantize_calibrated share every step below.
#include <string>

#include "calibration/fingerprint.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"
#include "ptq/prune.hpp"
#include "ptq/ptq.hpp"
#include "ptq/util.hpp"
#include "quant/params.hpp"

namespace q8::ptq {

calibration::Settings settings(const Options &opt) {
  q8_observer_options oo;
  check(q8_observer_options_init(&oo), "q8_observer_options_init");
  calibration::Settings s;
  s.kind = opt.observer;
  s.scheme = opt.activation_scheme;
  s.percentile = opt.percentile;
  s.bins = oo.bins;
  s.averaging = oo.averaging_constant;
  return s;
}

calibration::Statistics observe(const q8_model &model, const Options &opt, const q8_tensor *const *batches,
                                size_t batch_count) {
  const model::Graph &g = model.graph;
  if (batch_count == 0) fail(Q8_ERR_INVALID_ARGUMENT, "static quantization needs calibration batches (batch_count is 0)");
  if (!batches) fail(Q8_ERR_INVALID_ARGUMENT, "batches is NULL");
  if (g.inputs.empty()) fail(Q8_ERR_INVALID_ARGUMENT, "the model has no inputs to calibrate");

  calibration::Statistics st;
  st.settings = settings(opt);
  st.fingerprint = calibration::fingerprint(g);
  // Every f32 activation produced by a node, then the graph inputs (the first quantized op may
  // read one directly).
  std::vector<bool> taken(g.values.size(), false);
  const auto take = [&](int id) {
    if (id < 0 || g.values[id].dtype != Q8_DTYPE_F32 || taken[id]) return;
    taken[id] = true;
    st.names.push_back(g.values[id].name);
    st.tensors.emplace_back(st.settings);
  };
  for (const model::Node &n : g.nodes)
    for (int id : n.outputs) take(id);
  for (int id : g.inputs) take(id);

  run_batches(model, batches, batch_count, "calibration", [&](q8_session *session, size_t b) {
    for (std::size_t k = 0; k < st.names.size(); ++k) {
      const q8_tensor *t = nullptr;
      check(q8_session_tensor(session, st.names[k].c_str(), &t), "reading activation");
      st.tensors[k].add(*t, st.settings);
    }
    if (opt.progress && opt.progress(opt.progress_user, "calibrate", b + 1, batch_count))
      fail(Q8_ERR_STATE, "cancelled by the progress callback during calibration");
  });
  return st;
}

Calibration params(const model::Graph &g, const calibration::Statistics &stats) {
  const std::size_t n = stats.names.size();
  std::vector<int> ids(n);
  for (std::size_t k = 0; k < n; ++k) {
    ids[k] = g.find(stats.names[k]);
    if (ids[k] < 0) fail(Q8_ERR_INVALID_ARGUMENT, "the calibration's activation '" + stats.names[k] + "' is not in the model");
  }
  // Range searches are independent per activation, so the result does not depend on the threads.
  std::vector<ActivationParams> p(n);
  parallel_for(n, 1, 2, [&](std::size_t b, std::size_t e) {
    for (std::size_t k = b; k < e; ++k) {
      if (!stats.tensors[k].seen()) continue;  // never a finite value (e.g. empty): a harmless default
      const observe::Range r = stats.tensors[k].range(stats.settings);
      const quant::Affine a = quant::qparams_from_range(stats.settings.scheme, r.min, r.max);
      p[k] = ActivationParams{a.scale, a.zero_point};
    }
  });
  Calibration calib;
  for (std::size_t k = 0; k < n; ++k) calib[ids[k]] = p[k];
  return calib;
}

Calibration calibrate(const q8_model &model, const Options &opt, const q8_tensor *const *batches,
                      size_t batch_count) {
  return params(model.graph, observe(model, opt, batches, batch_count));
}

const q8_model &prepared(const q8_model &model, const Options &opt, std::unique_ptr<q8_model> &holder) {
  if (!opt.prune) return model;
  // Pruning comes first, so calibration sees the activations of the pruned model.
  holder = std::make_unique<q8_model>();
  holder->graph = prune(model.graph, &opt.prune_options, opt.prune_global, opt.prune_keep_dense);
  return *holder;
}

}  // namespace q8::ptq
