// The C options, validated into the pass's own struct.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "capi/guard.hpp"
#include "ptq/ptq.hpp"

namespace q8::ptq {

std::set<std::string> read_names(const char *const *names, size_t count, const std::string &what) {
  if (count > 0 && !names) fail(Q8_ERR_INVALID_ARGUMENT, what + " is NULL but its count is " + std::to_string(count));
  std::set<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    if (!names[i]) fail(Q8_ERR_INVALID_ARGUMENT, what + "[" + std::to_string(i) + "] is NULL");
    out.insert(names[i]);
  }
  return out;
}

Options read_options(const q8_ptq_options *c) {
  Options o;
  if (!c) return o;
  if (c->struct_size < offsetof(q8_ptq_options, mode) + sizeof(int))
    fail(Q8_ERR_INVALID_ARGUMENT, "options->struct_size is " + std::to_string(c->struct_size) +
                                      ": fill the options with q8_ptq_options_init");
  // Fields past the caller's struct_size keep their defaults.
  q8_ptq_options full;
  q8_ptq_options_init(&full);
  std::memcpy(&full, c, std::min(c->struct_size, sizeof full));
  const int mode = enum_bits(full.mode);
  if (mode < Q8_PTQ_DYNAMIC || mode > Q8_PTQ_WEIGHT_ONLY)
    fail(Q8_ERR_INVALID_ARGUMENT, "options->mode " + std::to_string(mode) + " is not a q8_ptq_mode");
  o.mode = static_cast<q8_ptq_mode>(mode);
  o.per_channel = full.per_channel != 0;
  const int ws = enum_bits(full.weight_scheme);
  if (ws != Q8_SCHEME_SYMMETRIC_NARROW && ws != Q8_SCHEME_SYMMETRIC && ws != Q8_SCHEME_ASYMMETRIC_S8)
    fail(ws == Q8_SCHEME_ASYMMETRIC_U8 ? Q8_ERR_UNSUPPORTED : Q8_ERR_INVALID_ARGUMENT,
         "options->weight_scheme " + std::to_string(ws) + ": weights must be s8 (a symmetric or ASYMMETRIC_S8 scheme)");
  o.weight_scheme = static_cast<q8_scheme>(ws);
  const int as = enum_bits(full.activation_scheme);
  if (as < Q8_SCHEME_SYMMETRIC_NARROW || as > Q8_SCHEME_ASYMMETRIC_S8)
    fail(Q8_ERR_INVALID_ARGUMENT, "options->activation_scheme " + std::to_string(as) + " is not a q8_scheme");
  o.activation_scheme = static_cast<q8_scheme>(as);
  const int ob = enum_bits(full.observer);
  if (ob < Q8_OBSERVER_MINMAX || ob > Q8_OBSERVER_MSE)
    fail(Q8_ERR_INVALID_ARGUMENT, "options->observer " + std::to_string(ob) + " is not a q8_observer_kind");
  o.observer = static_cast<q8_observer_kind>(ob);
  if (!(full.percentile > 50.0 && full.percentile <= 100.0))
    fail(Q8_ERR_INVALID_ARGUMENT, "options->percentile must be in (50, 100]");
  o.percentile = full.percentile;
  o.keep_fp32 = read_names(full.keep_fp32, full.keep_fp32_count, "options->keep_fp32");
  o.progress = full.progress;
  o.progress_user = full.progress_user;
  if (full.prune) {
    // The caller's prune options may be older and shorter: copy what it knows over the defaults.
    if (full.prune->struct_size < offsetof(q8_prune_options, pattern) + sizeof(int))
      fail(Q8_ERR_INVALID_ARGUMENT, "options->prune->struct_size is " + std::to_string(full.prune->struct_size) +
                                        ": fill it with q8_prune_options_init");
    q8_prune_options_init(&o.prune_options);
    std::memcpy(&o.prune_options, full.prune, std::min(full.prune->struct_size, sizeof o.prune_options));
    o.prune_options.struct_size = sizeof o.prune_options;
    o.prune = true;
    o.prune_global = full.prune_global != 0;
    o.prune_keep_dense = read_names(full.prune_keep_dense, full.prune_keep_dense_count, "options->prune_keep_dense");
  }
  return o;
}

}  // namespace q8::ptq
