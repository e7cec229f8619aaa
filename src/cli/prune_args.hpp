// The pruning options shared by q8 prune and q8 quantize --prune.
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

}  // namespace q8cli
