// Sensitivity analysis: quantize one node at a time and measure what it costs at the output.
#include <algorithm>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "ptq/ptq.hpp"
#include "ptq/sensitivity.hpp"
#include "ptq/util.hpp"

namespace q8::ptq {

namespace {
// Output 0 of `m` for every batch, concatenated.
std::vector<float> outputs(const q8_model &m, const q8_tensor *const *batches, size_t batch_count) {
  std::vector<float> all;
  run_batches(m, batches, batch_count, "sensitivity", [&](q8_session *s, size_t) {
    const q8_tensor *y = nullptr;
    check(q8_session_output(s, 0, &y), "sensitivity output");
    if (y->dtype != Q8_DTYPE_F32) fail(Q8_ERR_DTYPE, "sensitivity analysis needs an f32 first output");
    const float *d = static_cast<const float *>(y->data);
    all.insert(all.end(), d, d + y->numel);
  });
  return all;
}
}  // namespace

std::vector<std::pair<std::string, double>> sensitivity(const q8_model &m, const Options &base,
                                                        const q8_tensor *const *batches,
                                                        size_t batch_count) {
  Options opt = base;
  opt.mode = Q8_PTQ_STATIC;
  const Calibration calib = calibrate(m, opt, batches, batch_count);
  const std::vector<float> ref = outputs(m, batches, batch_count);
  double ref_power = 0;
  for (float v : ref) ref_power += static_cast<double>(v) * v;
  ref_power = std::max(ref_power / std::max<size_t>(ref.size(), 1), 1e-30);

  const std::vector<std::string> nodes = quantizable_nodes(m.graph, opt);
  std::vector<std::pair<std::string, double>> result;
  size_t done = 0;
  for (const std::string &name : nodes) {
    if (base.keep_fp32.count(name)) continue;
    Options one = opt;
    one.progress = nullptr;
    for (const std::string &other : nodes)
      if (other != name) one.keep_fp32.insert(other);
    q8_model qm;
    qm.graph = quantize(m.graph, one, calib);
    const std::vector<float> got = outputs(qm, batches, batch_count);
    double err = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      const double d = static_cast<double>(got[i]) - ref[i];
      err += d * d;
    }
    result.emplace_back(name, err / std::max<size_t>(ref.size(), 1) / ref_power);
    if (base.progress && base.progress(base.progress_user, "sensitivity", ++done, nodes.size()))
      fail(Q8_ERR_STATE, "cancelled by the progress callback during sensitivity analysis");
  }
  std::stable_sort(result.begin(), result.end(), [](const auto &a, const auto &b) { return a.second > b.second; });
  return result;
}

}  // namespace q8::ptq
