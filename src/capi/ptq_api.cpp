// q8_ptq_* / q8_model_quantize / q8_model_sensitivity entry points.
#include <memory>
#include <string>

#include "capi/guard.hpp"
#include "q8/model.h"
#include "model/weights.hpp"
#include "ptq/prune.hpp"
#include "ptq/ptq.hpp"
#include "ptq/sensitivity.hpp"

using namespace q8;

struct q8_sensitivity {
  std::vector<std::pair<std::string, double>> rows;
};

extern "C" {

q8_status q8_ptq_options_init(q8_ptq_options *options) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    *options = q8_ptq_options{};
    options->struct_size = sizeof *options;
    options->mode = Q8_PTQ_STATIC;
    options->per_channel = 1;
    options->weight_scheme = Q8_SCHEME_SYMMETRIC_NARROW;
    options->activation_scheme = Q8_SCHEME_ASYMMETRIC_U8;
    options->observer = Q8_OBSERVER_MINMAX;
    options->percentile = 99.99;
  });
}

q8_status q8_model_quantize(const q8_model *model, const q8_ptq_options *options,
                            const q8_tensor *const *batches, size_t batch_count, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(out);
    const ptq::Options opt = ptq::read_options(options);
    std::unique_ptr<q8_model> pruned;
    const q8_model &src = ptq::prepared(*model, opt, pruned);
    ptq::Calibration calib;
    if (opt.mode == Q8_PTQ_STATIC) calib = ptq::calibrate(src, opt, batches, batch_count);
    auto m = std::make_unique<q8_model>();
    m->graph = ptq::quantize(src.graph, opt, calib);
    *out = m.release();
  });
}

q8_status q8_model_prune(const q8_model *model, const q8_prune_options *options, int global,
                         const char *const *keep_dense, size_t keep_dense_count, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(options);
    Q8_CHECK_NOT_NULL(out);
    const std::set<std::string> keep = ptq::read_names(keep_dense, keep_dense_count, "keep_dense");
    auto m = std::make_unique<q8_model>();
    m->graph = ptq::prune(model->graph, options, global != 0, keep);
    *out = m.release();
  });
}

q8_status q8_model_weight_sparsity(const q8_model *model, double *sparsity, size_t *elements) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(sparsity);
    size_t n = 0;
    const double s = model::weight_sparsity(model->graph, &n);
    *sparsity = s;
    if (elements) *elements = n;
  });
}

q8_status q8_model_sensitivity(const q8_model *model, const q8_ptq_options *options,
                               const q8_tensor *const *batches, size_t batch_count,
                               q8_sensitivity **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(out);
    auto s = std::make_unique<q8_sensitivity>();
    s->rows = ptq::sensitivity(*model, ptq::read_options(options), batches, batch_count);
    *out = s.release();
  });
}

q8_status q8_sensitivity_count(const q8_sensitivity *s, size_t *count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(s);
    Q8_CHECK_NOT_NULL(count);
    *count = s->rows.size();
  });
}

q8_status q8_sensitivity_get(const q8_sensitivity *s, size_t index, const char **node, double *relative_error) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(s);
    if (index >= s->rows.size())
      fail(Q8_ERR_INVALID_ARGUMENT, "index " + std::to_string(index) + " is out of range (" +
                                        std::to_string(s->rows.size()) + " rows)");
    if (node) *node = s->rows[index].first.c_str();
    if (relative_error) *relative_error = s->rows[index].second;
  });
}

void q8_sensitivity_destroy(q8_sensitivity *s) { delete s; }

}  // extern "C"
