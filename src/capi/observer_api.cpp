// q8_observer_* entry points.
#include "q8/observer.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "capi/guard.hpp"
#include "core/dtype.hpp"
#include "observer/observer.hpp"
#include "quant/params.hpp"

using namespace q8;

namespace {

const observe::Observer &obs_ref(const q8_observer *o) {
  if (!o) fail(Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
  return *o->impl;
}

void check_count(const observe::Observer &o, size_t count) {
  if (count != o.channels())
    fail(Q8_ERR_SHAPE, "count = " + std::to_string(count) + " but the observer has " +
                           std::to_string(o.channels()) + " channels");
}

struct Params {
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
};

// The observer's ranges turned into parameters with its scheme.
Params params_of(const observe::Observer &o) {
  const auto r = o.ranges();
  Params p{std::vector<float>(r.size()), std::vector<int32_t>(r.size())};
  for (size_t c = 0; c < r.size(); ++c) {
    const quant::Affine a = quant::qparams_from_range(o.options().scheme, r[c].min, r[c].max);
    p.scales[c] = a.scale;
    p.zero_points[c] = a.zero_point;
  }
  return p;
}

}  // namespace

extern "C" {

q8_status q8_observer_options_init(q8_observer_options *options) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->kind = Q8_OBSERVER_MINMAX;
    options->scheme = Q8_SCHEME_ASYMMETRIC_U8;
    options->axis = -1;
    options->averaging_constant = 0.01f;
    options->percentile = 99.99;
    options->bins = 2048;
  });
}

q8_status q8_observer_create(const q8_observer_options *options, q8_observer **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    Q8_CHECK_NOT_NULL(out);
    // Older callers pass a shorter struct: take what they know, defaults for the rest.
    q8_observer_options o;
    q8_observer_options_init(&o);
    o = read_versioned(*options, offsetof(q8_observer_options, bins) + sizeof(uint32_t), o, "options",
                       "q8_observer_options_init");
    o.struct_size = sizeof o;
    // The enum fields hold whatever int the caller stored: check their bits before any use.
    const int kind = enum_bits(o.kind), scheme = enum_bits(o.scheme);
    Q8_CHECK_ARG(kind >= Q8_OBSERVER_MINMAX && kind <= Q8_OBSERVER_MSE,
                 "options->kind = " + std::to_string(kind) + " is not a q8_observer_kind");
    Q8_CHECK_ARG(scheme >= Q8_SCHEME_SYMMETRIC_NARROW && scheme <= Q8_SCHEME_ASYMMETRIC_S8,
                 "options->scheme = " + std::to_string(scheme) + " is not a q8_scheme");
    auto h = std::make_unique<q8_observer>();
    h->impl = observe::make_observer(o);
    *out = h.release();
  });
}

void q8_observer_destroy(q8_observer *obs) { delete obs; }

q8_status q8_observer_update(q8_observer *obs, const q8_tensor *batch) {
  return guard(__func__, [&] {
    if (!obs) fail(Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
    obs->impl->update(deref(batch, "batch"));
  });
}

q8_status q8_observer_channels(const q8_observer *obs, size_t *count) {
  return guard(__func__, [&] {
    const observe::Observer &o = obs_ref(obs);
    Q8_CHECK_NOT_NULL(count);
    *count = o.channels();
  });
}

q8_status q8_observer_range(const q8_observer *obs, float *mins, float *maxs, size_t count) {
  return guard(__func__, [&] {
    const observe::Observer &o = obs_ref(obs);
    Q8_CHECK_NOT_NULL(mins);
    Q8_CHECK_NOT_NULL(maxs);
    check_count(o, count);
    const auto r = o.ranges();
    for (size_t c = 0; c < count; ++c) {
      mins[c] = r[c].min;
      maxs[c] = r[c].max;
    }
  });
}

q8_status q8_observer_qparams(const q8_observer *obs, float *scales, int32_t *zero_points, size_t count) {
  return guard(__func__, [&] {
    const observe::Observer &o = obs_ref(obs);
    Q8_CHECK_NOT_NULL(scales);
    Q8_CHECK_NOT_NULL(zero_points);
    check_count(o, count);
    const Params p = params_of(o);
    std::copy(p.scales.begin(), p.scales.end(), scales);
    std::copy(p.zero_points.begin(), p.zero_points.end(), zero_points);
  });
}

q8_status q8_observer_apply(const q8_observer *obs, q8_tensor *t) {
  return guard(__func__, [&] {
    const observe::Observer &o = obs_ref(obs);
    q8_tensor &x = deref(t, "t");
    const q8_dtype want = quant::scheme_dtype(o.options().scheme);
    if (x.dtype != want)
      fail(Q8_ERR_DTYPE, std::string("t is ") + dtype_name(x.dtype) + " but the observer's scheme " +
                             quant::scheme_name(o.options().scheme) + " quantizes to " + dtype_name(want));
    const Params p = params_of(o);
    const q8_status s = o.options().axis < 0
                            ? q8_tensor_set_qparams(t, p.scales[0], p.zero_points[0])
                            : q8_tensor_set_qparams_per_axis(t, o.options().axis, p.scales.data(),
                                                             p.zero_points.data(), p.scales.size());
    if (s != Q8_OK) fail(s, q8_last_error());
  });
}

q8_status q8_observer_reset(q8_observer *obs) {
  return guard(__func__, [&] {
    if (!obs) fail(Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
    obs->impl->reset();
  });
}

q8_status q8_observer_set_frozen(q8_observer *obs, int frozen) {
  return guard(__func__, [&] {
    if (!obs) fail(Q8_ERR_INVALID_ARGUMENT, "obs is NULL");
    obs->impl->set_frozen(frozen != 0);
  });
}

q8_status q8_observer_frozen(const q8_observer *obs, int *frozen) {
  return guard(__func__, [&] {
    const observe::Observer &o = obs_ref(obs);
    Q8_CHECK_NOT_NULL(frozen);
    *frozen = o.frozen() ? 1 : 0;
  });
}

}  // extern "C"
