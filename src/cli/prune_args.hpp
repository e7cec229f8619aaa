// The pruning options shared by q8 prune and q8 quantize --prune, and the calibration options
// shared by q8 quantize and q8-mpi quantize.
#pragma once
#include <q8/q8.h>

#include <string>
#include <vector>

#include "args.hpp"

namespace q8cli {

// Option names to add to a command's value / flag lists.
#define Q8CLI_PRUNE_VALUES "--prune", "--prune-pattern", "--prune-norm", "--prune-skip"
#define Q8CLI_PRUNE_FLAGS "--prune-global"

extern const char *const kPruneHelp;

struct PruneArgs {
  q8_prune_options options;
  bool global = false;
  std::vector<std::string> skip;        // --prune-skip NODE[,NODE...]
  std::vector<const char *> skip_c;     // the same as C strings (point into skip)
};

// From --prune S --prune-pattern unstructured|N:M|blockRxC|channel --prune-norm l2|l1
// --prune-global --prune-skip; false when --prune is absent. Bad values are usage errors.
bool read_prune_options(const Args &a, PruneArgs &p);

// Static-quantization options from --per-tensor, --observer minmax|moving-average|percentile|
// entropy|mse, --percentile P, --activations u8|s8, --keep-fp32 NODE[,NODE...] and the --prune
// family; `command` prefixes usage errors. `options` points into the struct: keep it alive.
struct PtqArgs {
  q8_ptq_options options;
  std::vector<std::string> keep;
  std::vector<const char *> keep_c;
  PruneArgs prune;
};
void read_ptq_options(const Args &a, const char *command, PtqArgs &p);

}  // namespace q8cli
