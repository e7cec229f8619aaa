// q8 quantize: post-training quantization of a model into a .q8 file.
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "commands.hpp"
#include "model_io.hpp"
#include "prune_args.hpp"

namespace q8cli {

namespace {

void help() {
  std::printf(
      "usage: q8 quantize IN.onnx|IN.q8 -o OUT.q8 [options]\n"
      "  --mode static|dynamic|weight   static (default): INT8 activations calibrated on --calib;\n"
      "                                 dynamic: INT8 weights, activations quantized per batch;\n"
      "                                 weight: INT8 weights only, f32 compute\n"
      "  --calib DATA                   calibration CSV (static mode; rows: train by default)\n"
      "  --per-channel | --per-tensor   weight granularity (default per channel)\n"
      "  --observer minmax|moving-average|percentile|entropy|mse   (default minmax)\n"
      "  --percentile P                 for --observer percentile (default 99.99)\n"
      "  --activations u8|s8            asymmetric u8 (default) or symmetric s8 activations\n"
      "  --keep-fp32 NODE[,NODE...]     leave these nodes in FP32\n"
      "  --sensitivity                  before quantizing, rank nodes by the error each causes alone\n"
      "  --quiet                        no progress bar\n");
  std::printf("%s", kPruneHelp);
  std::printf(kDataHelp);
}

struct Progress {
  bool tty = false;
  std::string last_stage;
};

int on_progress(void *user, const char *stage, size_t done, size_t total) {
  auto *p = static_cast<Progress *>(user);
  if (!p->tty) return 0;
  const int width = 30;
  const int fill = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r%-12s [%.*s%*s] %zu/%zu", stage, fill, "##############################", width - fill, "",
               done, total);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
  return 0;
}

std::vector<std::string> split_commas(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int cmd_quantize(int argc, char **argv) {
  Args a("quantize", argc, argv,
         {"--output", "--mode", "--calib", "--observer", "--percentile", "--activations", "--keep-fp32",
          "--rows", "--input-scale", "--batch", Q8CLI_PRUNE_VALUES},
         {"--per-channel", "--per-tensor", "--quiet", "--sensitivity", Q8CLI_PRUNE_FLAGS});
  if (a.help()) {
    help();
    return 0;
  }
  if (a.positional().size() != 1) usage_error("quantize: give exactly one input model");
  if (!a.has("--output")) usage_error("quantize: -o OUT.q8 is required");
  if (a.has("--per-channel") && a.has("--per-tensor")) usage_error("quantize: --per-channel and --per-tensor exclude each other");

  q8_ptq_options o;
  Q8_CHECK(q8_ptq_options_init(&o));
  const std::string mode = a.get("--mode", "static");
  if (mode == "static") o.mode = Q8_PTQ_STATIC;
  else if (mode == "dynamic") o.mode = Q8_PTQ_DYNAMIC;
  else if (mode == "weight") o.mode = Q8_PTQ_WEIGHT_ONLY;
  else usage_error("quantize: --mode must be static, dynamic or weight, not '" + mode + "'");
  o.per_channel = a.has("--per-tensor") ? 0 : 1;
  const std::string obs = a.get("--observer", "minmax");
  if (obs == "minmax") o.observer = Q8_OBSERVER_MINMAX;
  else if (obs == "moving-average") o.observer = Q8_OBSERVER_MOVING_AVERAGE_MINMAX;
  else if (obs == "percentile") o.observer = Q8_OBSERVER_PERCENTILE;
  else if (obs == "entropy") o.observer = Q8_OBSERVER_ENTROPY;
  else if (obs == "mse") o.observer = Q8_OBSERVER_MSE;
  else usage_error("quantize: unknown --observer '" + obs + "'");
  o.percentile = a.get_double("--percentile", 99.99);
  const std::string act = a.get("--activations", "u8");
  if (act == "u8") o.activation_scheme = Q8_SCHEME_ASYMMETRIC_U8;
  else if (act == "s8") o.activation_scheme = Q8_SCHEME_SYMMETRIC;
  else usage_error("quantize: --activations must be u8 or s8");
  const std::vector<std::string> keep = split_commas(a.get("--keep-fp32"));
  std::vector<const char *> keep_c;
  for (const auto &k : keep) keep_c.push_back(k.c_str());
  o.keep_fp32 = keep_c.data();
  o.keep_fp32_count = keep_c.size();
  PruneArgs prune;
  if (read_prune_options(a, prune)) {
    o.prune = &prune.options;
    o.prune_global = prune.global ? 1 : 0;
    o.prune_keep_dense = prune.skip_c.data();
    o.prune_keep_dense_count = prune.skip_c.size();
  }
  Progress prog;
  prog.tty = !a.has("--quiet") && isatty(STDERR_FILENO);
  o.progress = on_progress;
  o.progress_user = &prog;

  Model m = load_model(a.positional()[0]);
  const std::size_t batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));
  Dataset calib;
  std::vector<Tensor> owned;
  std::vector<const q8_tensor *> batches;
  if (o.mode == Q8_PTQ_STATIC || a.has("--sensitivity")) {
    if (!a.has("--calib")) usage_error("quantize: static mode (and --sensitivity) needs --calib DATA");
    const InputSpec spec = input_spec(m.get());
    calib = load_dataset(a.get("--calib"), a.get("--rows", "train"), spec.features, a.get_double("--input-scale", 1.0));
    for (std::size_t first = 0; first < calib.rows; first += batch) {
      owned.push_back(batch_tensor(calib, spec, first, std::min(batch, calib.rows - first)));
      batches.push_back(owned.back().get());
    }
  }
  if (a.has("--sensitivity")) {
    q8_sensitivity *s = nullptr;
    Q8_CHECK(q8_model_sensitivity(m.get(), &o, batches.data(), batches.size(), &s));
    size_t n = 0;
    Q8_CHECK(q8_sensitivity_count(s, &n));
    std::printf("sensitivity (static, one node at a time; relative MSE at output 0, worst first):\n");
    for (size_t i = 0; i < n; ++i) {
      const char *node = nullptr;
      double e = 0;
      Q8_CHECK(q8_sensitivity_get(s, i, &node, &e));
      std::printf("  %-32s %.3e\n", node, e);
    }
    q8_sensitivity_destroy(s);
  }
  q8_model *q = nullptr;
  Q8_CHECK(q8_model_quantize(m.get(), &o, batches.data(), batches.size(), &q));
  Model qm(q);
  Q8_CHECK(q8_model_save(qm.get(), a.get("--output").c_str()));
  size_t before = 0, after = 0;
  Q8_CHECK(q8_model_weight_bytes(m.get(), &before));
  Q8_CHECK(q8_model_weight_bytes(qm.get(), &after));
  std::printf("%s -> %s: %s, weights %s -> %s (%.3fx)%s\n", a.positional()[0].c_str(), a.get("--output").c_str(),
              mode.c_str(), human_bytes(double(before)).c_str(), human_bytes(double(after)).c_str(),
              before ? double(after) / double(before) : 0.0,
              o.mode == Q8_PTQ_STATIC ? (", calibrated on " + std::to_string(calib.rows) + " rows").c_str() : "");
  if (o.prune) {
    double sparsity = 0;
    size_t n = 0;
    Q8_CHECK(q8_model_weight_sparsity(qm.get(), &sparsity, &n));
    std::printf("pruned before quantizing: weight sparsity %.1f %% of %zu weights (q8 inspect shows each layer)\n",
                100.0 * sparsity, n);
  }
  return 0;
}

}  // namespace q8cli
