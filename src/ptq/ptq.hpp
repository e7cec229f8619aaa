// Post-training quantization: graph rewrites from an FP32 graph to q8's quantized operators.
//
//   calibrate()  runs the FP32 model over calibration batches and keeps an observer per
//                activation, giving each f32 value its scale and zero point.
//   quantize()   rewrites the graph for one mode: static (QLinearConv / QGemm / QLinearMatMul /
//                QLinearAdd / ... with Quantize/DequantizeLinear only where the INT8 region starts
//                and ends), dynamic (ai.q8 DynamicGemm / DynamicConv), weight-only (INT8 constants
//                behind DequantizeLinear, folded by the session).
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "calibration/stats.hpp"
#include "model/graph.hpp"
#include "q8/model.h"

namespace q8::ptq {

struct ActivationParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// Value id (in the FP32 graph) -> parameters of that activation.
using Calibration = std::map<int, ActivationParams>;

struct Options {
  q8_ptq_mode mode = Q8_PTQ_STATIC;
  bool per_channel = true;
  q8_scheme weight_scheme = Q8_SCHEME_SYMMETRIC_NARROW;
  q8_scheme activation_scheme = Q8_SCHEME_ASYMMETRIC_U8;
  q8_observer_kind observer = Q8_OBSERVER_MINMAX;
  double percentile = 99.99;
  std::set<std::string> keep_fp32;  // node names
  int (*progress)(void *, const char *, size_t, size_t) = nullptr;
  void *progress_user = nullptr;
  bool prune = false;               // prune the FP32 weights before calibrating
  q8_prune_options prune_options{};  // a full copy (validated by the prune calls themselves)
  bool prune_global = false;
  std::set<std::string> prune_keep_dense;  // node names
};

// A set of node names from a C array (count entries, none NULL); `what` names it in errors.
std::set<std::string> read_names(const char *const *names, size_t count, const std::string &what);

// Validated copy of the C options (NULL = defaults).
Options read_options(const q8_ptq_options *c);

// Runs `model` over the batches (batch b's input i is batches[b * inputs + i]): params(observe()).
Calibration calibrate(const q8_model &model, const Options &opt, const q8_tensor *const *batches,
                      size_t batch_count);

// What calibrate() observes: statistics of every f32 activation (node outputs in graph order,
// then graph inputs), which combine exactly with those of other batches (q8/calibration.h).
calibration::Statistics observe(const q8_model &model, const Options &opt, const q8_tensor *const *batches,
                                size_t batch_count);
// The settings observe() uses for `opt`.
calibration::Settings settings(const Options &opt);
// Parameters for the activations of `g` from statistics observed on it.
Calibration params(const model::Graph &g, const calibration::Statistics &stats);

// `model`, or a pruned copy of it (kept in `holder`) when opt asks for pruning: what calibration
// and quantization work on.
const q8_model &prepared(const q8_model &model, const Options &opt, std::unique_ptr<q8_model> &holder);

// The nodes quantize() would turn into INT8 (by name), in graph order, ignoring keep_fp32.
std::vector<std::string> quantizable_nodes(const model::Graph &g, const Options &opt);

// A new graph. `calib` is needed (and complete) for static mode only.
model::Graph quantize(const model::Graph &g, const Options &opt, const Calibration &calib);

}  // namespace q8::ptq
