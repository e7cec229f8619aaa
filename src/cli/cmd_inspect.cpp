// q8 inspect (what a model holds) and q8 compare (where INT8 departs from FP32, tensor by tensor).
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "commands.hpp"
#include "model_io.hpp"

namespace q8cli {

int cmd_inspect(int argc, char **argv) {
  Args a("inspect", argc, argv, {}, {"--json"});
  if (a.help()) {
    std::printf("usage: q8 inspect MODEL [--json]\n"
                "  Inputs, outputs, every operator with its compute precision and tensors (dtype,\n"
                "  shape, quantization parameters of constants), and the weight bytes.\n"
                "  (q8 export MODEL OUT.onnx writes the model itself as QDQ ONNX for other runtimes.)\n");
    return 0;
  }
  if (a.positional().size() != 1) usage_error("inspect: give exactly one model");
  Model m = load_model(a.positional()[0]);
  char *text = nullptr;
  Q8_CHECK(q8_model_describe(m.get(), a.has("--json") ? 1 : 0, &text));
  std::fputs(text, stdout);
  if (a.has("--json")) std::fputs("\n", stdout);
  q8_free(text);
  return 0;
}

namespace {

struct Err {
  double signal = 0, noise = 0, max_abs = 0;
  std::size_t count = 0;
  std::string form;  // how the INT8 model holds it
};

}  // namespace

int cmd_compare(int argc, char **argv) {
  Args a("compare", argc, argv, {"--data", "--rows", "--input-scale", "--batch"}, {});
  if (a.help()) {
    std::printf("usage: q8 compare FP32_MODEL INT8_MODEL --data DATA\n"
                "  For every tensor the FP32 model computes that the INT8 model also holds (as f32,\n"
                "  or quantized as NAME_quantized), the SQNR and max |error| of the INT8 value over\n"
                "  the data (rows: test by default), in graph order.\n");
    std::printf(kDataHelp);
    return 0;
  }
  if (a.positional().size() != 2) usage_error("compare: give the FP32 model and the INT8 model");
  if (!a.has("--data")) usage_error("compare: --data DATA is required");
  Model ref = load_model(a.positional()[0]);
  Model q = load_model(a.positional()[1]);
  const InputSpec spec = input_spec(ref.get());
  const Dataset d = load_dataset(a.get("--data"), a.get("--rows", "test"), spec.features, a.get_double("--input-scale", 1.0));
  const std::size_t batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));

  // The FP32 model's computed tensors, in graph order.
  std::vector<std::string> names;
  size_t nodes = 0;
  Q8_CHECK(q8_model_node_count(ref.get(), &nodes));
  for (size_t k = 0; k < nodes; ++k) {
    size_t outs = 0;
    Q8_CHECK(q8_model_node_info(ref.get(), k, nullptr, nullptr, nullptr, nullptr, &outs));
    for (size_t j = 0; j < outs; ++j) {
      const char *t = nullptr;
      Q8_CHECK(q8_model_node_output(ref.get(), k, j, &t));
      if (t) names.push_back(t);
    }
  }
  std::map<std::string, Err> errs;
  std::map<std::string, std::vector<float>> ref_batch;
  // Run both on the same batches; the reference values of one batch are kept until q has run.
  Session sr, sq;
  std::size_t cur = 0;
  for (std::size_t first = 0; first < d.rows; first += batch) {
    const std::size_t n = std::min(batch, d.rows - first);
    if (n != cur) {
      q8_session *p = nullptr;
      Q8_CHECK(q8_session_create(ref.get(), static_cast<int64_t>(n), &p));
      sr.reset(p);
      Q8_CHECK(q8_session_create(q.get(), static_cast<int64_t>(n), &p));
      sq.reset(p);
      cur = n;
    }
    Tensor x = batch_tensor(d, spec, first, n);
    const q8_tensor *in = x.get();
    Q8_CHECK(q8_session_run(sr.get(), &in, 1));
    Q8_CHECK(q8_session_run(sq.get(), &in, 1));
    for (const std::string &name : names) {
      const q8_tensor *rt = nullptr, *qt = nullptr;
      if (q8_session_tensor(sr.get(), name.c_str(), &rt) != Q8_OK) continue;
      std::string form = "f32";
      if (q8_session_tensor(sq.get(), (name + "_quantized").c_str(), &qt) == Q8_OK) form = "int8";
      else if (q8_session_tensor(sq.get(), name.c_str(), &qt) != Q8_OK) continue;
      const std::vector<float> r = as_f32(rt), v = as_f32(qt);
      if (r.size() != v.size()) continue;
      Err &e = errs[name];
      e.form = form;
      for (std::size_t i = 0; i < r.size(); ++i) {
        const double diff = double(v[i]) - double(r[i]);
        e.signal += double(r[i]) * double(r[i]);
        e.noise += diff * diff;
        e.max_abs = std::max(e.max_abs, std::fabs(diff));
      }
      e.count += r.size();
    }
  }
  std::printf("%-36s %-5s %10s %12s\n", "tensor", "form", "SQNR dB", "max |err|");
  for (const std::string &name : names) {
    auto it = errs.find(name);
    if (it == errs.end()) continue;
    const Err &e = it->second;
    const double sqnr = e.noise > 0 ? 10.0 * std::log10(e.signal / e.noise) : INFINITY;
    std::printf("%-36s %-5s %10.2f %12.4g\n", name.c_str(), e.form.c_str(), sqnr, e.max_abs);
  }
  std::printf("(%zu rows; SQNR = 10 log10(sum ref^2 / sum (int8 - ref)^2); int8 values dequantized)\n", d.rows);
  return 0;
}

}  // namespace q8cli
