// q8 prune: magnitude pruning of an FP32 model's weights into a .q8 file (still FP32), to measure
// what pruning alone costs before quantizing, or to feed a fine-tune.
#include <cstdio>

#include "commands.hpp"
#include "model_io.hpp"
#include "prune_args.hpp"

namespace q8cli {

int cmd_prune(int argc, char **argv) {
  Args a("prune", argc, argv, {"--output", Q8CLI_PRUNE_VALUES}, {Q8CLI_PRUNE_FLAGS});
  if (a.help()) {
    std::printf("usage: q8 prune IN.onnx|IN.q8 -o OUT.q8 --prune S [options]\n");
    std::printf("%s", kPruneHelp);
    return 0;
  }
  if (a.positional().size() != 1) usage_error("prune: give exactly one input model");
  if (!a.has("--output")) usage_error("prune: -o OUT.q8 is required");
  PruneArgs pa;
  if (!read_prune_options(a, pa)) usage_error("prune: --prune S is required");
  Model m = load_model(a.positional()[0]);
  q8_model *p = nullptr;
  Q8_CHECK(q8_model_prune(m.get(), &pa.options, pa.global ? 1 : 0, pa.skip_c.data(), pa.skip_c.size(), &p));
  Model pm(p);
  Q8_CHECK(q8_model_save(pm.get(), a.get("--output").c_str()));
  double before = 0, after = 0;
  size_t n = 0;
  Q8_CHECK(q8_model_weight_sparsity(m.get(), &before, &n));
  Q8_CHECK(q8_model_weight_sparsity(pm.get(), &after, nullptr));
  std::printf("%s -> %s: weight sparsity %.1f %% -> %.1f %% of %zu weights (q8 inspect shows each layer)\n",
              a.positional()[0].c_str(), a.get("--output").c_str(), 100.0 * before, 100.0 * after, n);
  return 0;
}

}  // namespace q8cli
