// Calibration: run the FP32 model batch by batch and let one observer per activation see it.
#include <memory>
#include <string>

#include "core/error.hpp"
#include "ptq/ptq.hpp"
#include "ptq/util.hpp"

namespace q8::ptq {

namespace {
struct ObserverDeleter {
  void operator()(q8_observer *o) const { q8_observer_destroy(o); }
};
}  // namespace

Calibration calibrate(const q8_model &model, const Options &opt, const q8_tensor *const *batches,
                      size_t batch_count) {
  const model::Graph &g = model.graph;
  const size_t n_in = g.inputs.size();
  if (batch_count == 0) fail(Q8_ERR_INVALID_ARGUMENT, "static quantization needs calibration batches (batch_count is 0)");
  if (!batches) fail(Q8_ERR_INVALID_ARGUMENT, "batches is NULL");
  if (n_in == 0) fail(Q8_ERR_INVALID_ARGUMENT, "the model has no inputs to calibrate");

  // Every f32 activation produced by a node gets an observer.
  q8_observer_options oo;
  check(q8_observer_options_init(&oo), "q8_observer_options_init");
  oo.kind = opt.observer;
  oo.scheme = opt.activation_scheme;
  oo.percentile = opt.percentile;
  std::map<int, std::unique_ptr<q8_observer, ObserverDeleter>> observers;
  for (const model::Node &n : g.nodes)
    for (int id : n.outputs)
      if (id >= 0 && g.values[id].dtype == Q8_DTYPE_F32 && !observers.count(id)) {
        q8_observer *o = nullptr;
        check(q8_observer_create(&oo, &o), "creating an observer");
        observers[id].reset(o);
      }
  // Graph inputs too: the first quantized op may read one directly.
  for (int id : g.inputs)
    if (g.values[id].dtype == Q8_DTYPE_F32 && !observers.count(id)) {
      q8_observer *o = nullptr;
      check(q8_observer_create(&oo, &o), "creating an observer");
      observers[id].reset(o);
    }

  run_batches(model, batches, batch_count, "calibration", [&](q8_session *session, size_t b) {
    for (auto &kv : observers) {
      const q8_tensor *t = nullptr;
      check(q8_session_tensor(session, g.values[kv.first].name.c_str(), &t), "reading activation");
      check(q8_observer_update(kv.second.get(), t), "observing '" + g.values[kv.first].name + "'");
    }
    if (opt.progress && opt.progress(opt.progress_user, "calibrate", b + 1, batch_count))
      fail(Q8_ERR_STATE, "cancelled by the progress callback during calibration");
  });

  Calibration calib;
  for (auto &kv : observers) {
    size_t channels = 0;
    if (q8_observer_channels(kv.second.get(), &channels) != Q8_OK) {
      // Never saw a finite value (e.g. an empty tensor): a harmless default range.
      calib[kv.first] = ActivationParams{};
      continue;
    }
    ActivationParams p;
    check(q8_observer_qparams(kv.second.get(), &p.scale, &p.zero_point, 1), "observer parameters");
    calib[kv.first] = p;
  }
  return calib;
}

}  // namespace q8::ptq
