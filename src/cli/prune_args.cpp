#include "prune_args.hpp"

#include <cstdio>
#include <sstream>
#include <string>

#include "common.hpp"

namespace q8cli {

const char *const kPruneHelp =
    "  --prune S                      prune the FP32 weights of Conv/Gemm/MatMul to sparsity S\n"
    "                                 (0..1) before quantizing, by magnitude, no retraining\n"
    "  --prune-pattern P              unstructured (default), N:M along the reduction (2:4,\n"
    "                                 4:8; S is then 1 - N/M), blockRxC (block4x4, block1x4,\n"
    "                                 block8x1), or channel (whole output channels)\n"
    "  --prune-norm l2|l1             score of a block or channel (default l2)\n"
    "  --prune-global                 one magnitude ranking over all layers (unstructured)\n"
    "  --prune-skip NODE[,NODE...]    leave these nodes' weights dense (e.g. a first conv)\n";

bool read_prune_options(const Args &a, PruneArgs &p) {
  q8_prune_options &o = p.options;
  Q8_CHECK(q8_prune_options_init(&o));
  const bool global = p.global = a.has("--prune-global");
  const std::string pattern = a.get("--prune-pattern", "unstructured");
  if (!a.has("--prune")) {
    if (a.has("--prune-pattern") || a.has("--prune-norm") || a.has("--prune-skip") || global)
      usage_error("--prune-pattern, --prune-norm, --prune-skip and --prune-global need --prune S");
    return false;
  }
  std::stringstream ss(a.get("--prune-skip"));
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) p.skip.push_back(item);
  for (const std::string &name : p.skip) p.skip_c.push_back(name.c_str());
  o.sparsity = a.get_double("--prune", 0.5);
  if (!(o.sparsity >= 0.0 && o.sparsity <= 1.0)) usage_error("--prune S needs 0 <= S <= 1");
  int n = 0, m = 0;
  long long r = 0, c = 0;
  char tail = 0;
  if (pattern == "unstructured") {
    o.pattern = Q8_PRUNE_UNSTRUCTURED;
  } else if (pattern == "channel") {
    o.pattern = Q8_PRUNE_CHANNEL;
  } else if (std::sscanf(pattern.c_str(), "%d:%d%c", &n, &m, &tail) == 2) {
    o.pattern = Q8_PRUNE_N_M;
    o.n = n;
    o.m = m;
  } else if (std::sscanf(pattern.c_str(), "block%lldx%lld%c", &r, &c, &tail) == 2) {
    o.pattern = Q8_PRUNE_BLOCK;
    o.block_rows = r;
    o.block_cols = c;
  } else {
    usage_error("--prune-pattern must be unstructured, N:M (e.g. 2:4), blockRxC (e.g. block4x4) or channel, not '" +
                pattern + "'");
  }
  const std::string norm = a.get("--prune-norm", "l2");
  if (norm == "l2") o.norm = Q8_PRUNE_NORM_L2;
  else if (norm == "l1") o.norm = Q8_PRUNE_NORM_L1;
  else usage_error("--prune-norm must be l2 or l1");
  if (global && o.pattern != Q8_PRUNE_UNSTRUCTURED) usage_error("--prune-global works with unstructured pruning only");
  return true;
}

namespace {
std::vector<std::string> split_commas(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}
}  // namespace

void read_ptq_options(const Args &a, const char *command, PtqArgs &p) {
  const std::string cmd = command;
  q8_ptq_options &o = p.options;
  Q8_CHECK(q8_ptq_options_init(&o));
  o.per_channel = a.has("--per-tensor") ? 0 : 1;
  const std::string obs = a.get("--observer", "minmax");
  if (obs == "minmax") o.observer = Q8_OBSERVER_MINMAX;
  else if (obs == "moving-average") o.observer = Q8_OBSERVER_MOVING_AVERAGE_MINMAX;
  else if (obs == "percentile") o.observer = Q8_OBSERVER_PERCENTILE;
  else if (obs == "entropy") o.observer = Q8_OBSERVER_ENTROPY;
  else if (obs == "mse") o.observer = Q8_OBSERVER_MSE;
  else usage_error(cmd + ": --observer must be minmax, moving-average, percentile, entropy or mse, not '" + obs + "'");
  o.percentile = a.get_double("--percentile", 99.99);
  const std::string act = a.get("--activations", "u8");
  if (act == "u8") o.activation_scheme = Q8_SCHEME_ASYMMETRIC_U8;
  else if (act == "s8") o.activation_scheme = Q8_SCHEME_SYMMETRIC;
  else usage_error(cmd + ": --activations must be u8 or s8");
  p.keep = split_commas(a.get("--keep-fp32"));
  for (const auto &k : p.keep) p.keep_c.push_back(k.c_str());
  o.keep_fp32 = p.keep_c.data();
  o.keep_fp32_count = p.keep_c.size();
  if (read_prune_options(a, p.prune)) {
    o.prune = &p.prune.options;
    o.prune_global = p.prune.global ? 1 : 0;
    o.prune_keep_dense = p.prune.skip_c.data();
    o.prune_keep_dense_count = p.prune.skip_c.size();
  }
}

}  // namespace q8cli
