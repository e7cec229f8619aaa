// Pruning options: the C struct read safely, and the ranges every entry point relies on.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "capi/guard.hpp"
#include "prune/prune.hpp"

namespace q8::prune {

Options read_options(const q8_prune_options &c) {
  // Every field of this (first) version is required; a newer, longer struct is cut to what we know.
  Q8_CHECK_ARG(c.struct_size >= offsetof(q8_prune_options, norm) + sizeof(int) && c.struct_size <= 4096,
               "options->struct_size = " + std::to_string(c.struct_size) +
                   " is not a known size (use q8_prune_options_init)");
  q8_prune_options full;
  std::memset(&full, 0, sizeof full);
  std::memcpy(&full, &c, std::min(c.struct_size, sizeof full));
  // The enums hold whatever int the caller stored: check the bits before loading them as enums.
  const int pattern = enum_bits(full.pattern), norm = enum_bits(full.norm);
  Q8_CHECK_ARG(pattern >= Q8_PRUNE_UNSTRUCTURED && pattern <= Q8_PRUNE_CHANNEL,
               "options->pattern = " + std::to_string(pattern) + " is not a q8_prune_pattern");
  Q8_CHECK_ARG(norm == Q8_PRUNE_NORM_L2 || norm == Q8_PRUNE_NORM_L1,
               "options->norm = " + std::to_string(norm) + " is not a q8_prune_norm");
  Options o;
  o.pattern = static_cast<q8_prune_pattern>(pattern);
  o.sparsity = full.sparsity;
  o.n = full.n;
  o.m = full.m;
  o.block_rows = full.block_rows;
  o.block_cols = full.block_cols;
  o.norm = static_cast<q8_prune_norm>(norm);
  validate(o);
  return o;
}

void validate(const Options &o) {
  // Written so that NaN fails the test.
  Q8_CHECK_ARG(o.sparsity >= 0.0 && o.sparsity <= 1.0,
               "sparsity = " + std::to_string(o.sparsity) + " is not in [0, 1]");
  Q8_CHECK_ARG(o.m >= 1 && o.m <= 64, "m = " + std::to_string(o.m) + " is not in [1, 64]");
  Q8_CHECK_ARG(o.n >= 1 && o.n <= o.m,
               "n = " + std::to_string(o.n) + " is not in [1, m = " + std::to_string(o.m) + "]");
  Q8_CHECK_ARG(o.block_rows >= 1, "block_rows = " + std::to_string(o.block_rows) + " is not >= 1");
  Q8_CHECK_ARG(o.block_cols >= 1, "block_cols = " + std::to_string(o.block_cols) + " is not >= 1");
}

}  // namespace q8::prune
