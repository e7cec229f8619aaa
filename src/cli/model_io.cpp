// Loading models and CSV data sets, batching, accuracy.
#include "model_io.hpp"

#include <cmath>
#include <cstring>

#include "csv.hpp"

namespace q8cli {

const char *const kDataHelp =
    "  --rows train|test|all   which rows of DATA (i %% 4 == 0 is test; default: see above)\n"
    "  --input-scale S         multiply every feature by S (the bundled digits models take\n"
    "                          pixel / 16: --input-scale 0.0625)\n"
    "  --batch N               rows per batch (default 64)\n";

Model load_model(const std::string &path) {
  q8_model *m = nullptr;
  const bool onnx = path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
  if (onnx)
    check(q8_model_load_onnx(path.c_str(), &m), "q8_model_load_onnx");
  else
    check(q8_model_load(path.c_str(), &m), "q8_model_load");
  return Model(m);
}

InputSpec input_spec(const q8_model *m) {
  size_t count = 0;
  Q8_CHECK(q8_model_input_count(m, &count));
  if (count != 1) throw CliError{"the tool feeds models with exactly one input; this one has " + std::to_string(count), kExitError};
  q8_dtype dt;
  int64_t shape[8];
  size_t rank = 0;
  Q8_CHECK(q8_model_input_info(m, 0, &dt, shape, 8, &rank));
  if (dt != Q8_DTYPE_F32) throw CliError{"the model's input is not f32", kExitError};
  if (rank < 1) throw CliError{"the model's input has no batch dimension", kExitError};
  InputSpec s;
  for (size_t i = 1; i < rank; ++i) {
    if (shape[i] < 0) throw CliError{"the model's input has a dynamic dimension besides the batch", kExitError};
    s.dims.push_back(shape[i]);
    s.features *= static_cast<std::size_t>(shape[i]);
  }
  return s;
}

Dataset load_dataset(const std::string &path, const std::string &rows, std::size_t features,
                     double input_scale) {
  if (rows != "train" && rows != "test" && rows != "all")
    usage_error("--rows must be train, test or all, not '" + rows + "'");
  Table t;
  std::string err;
  if (!read_csv_file(path, 0, t, err)) throw CliError{err, kExitError};
  if (t.cols != features && t.cols != features + 1)
    throw CliError{path + ": " + std::to_string(t.cols) + " columns, but the model takes " +
                       std::to_string(features) + " features per sample (plus an optional label)",
                   kExitError};
  Dataset d;
  d.features = features;
  const bool labelled = t.cols == features + 1;
  for (std::size_t i = 0; i < t.rows; ++i) {
    const bool test = i % 4 == 0;
    if (rows == "train" && test) continue;
    if (rows == "test" && !test) continue;
    const float *r = t.values.data() + i * t.cols;
    for (std::size_t j = 0; j < features; ++j) d.x.push_back(static_cast<float>(r[j] * input_scale));
    if (labelled) {
      const float l = r[features];
      if (l != std::floor(l) || l < 0 || l > 1e6)
        throw CliError{path + ": row " + std::to_string(i + 1) + ": label " + std::to_string(l) + " is not a class index", kExitError};
      d.labels.push_back(static_cast<int>(l));
    }
    ++d.rows;
  }
  if (d.rows == 0) throw CliError{path + ": no " + rows + " rows", kExitError};
  return d;
}

Tensor batch_tensor(const Dataset &d, const InputSpec &spec, std::size_t first, std::size_t n) {
  std::vector<int64_t> shape = {static_cast<int64_t>(n)};
  shape.insert(shape.end(), spec.dims.begin(), spec.dims.end());
  q8_tensor *t = nullptr;
  Q8_CHECK(q8_tensor_wrap(Q8_DTYPE_F32, shape.data(), shape.size(),
                          const_cast<float *>(d.x.data() + first * d.features), n * d.features * sizeof(float), &t));
  return Tensor(t);
}

void for_each_batch(const q8_model *m, const Dataset &d, std::size_t batch,
                    const std::function<void(q8_session *, std::size_t, std::size_t)> &fn) {
  const InputSpec spec = input_spec(m);
  Session s;
  std::size_t cur = 0;
  for (std::size_t first = 0; first < d.rows; first += batch) {
    const std::size_t n = std::min(batch, d.rows - first);
    if (n != cur) {
      q8_session *p = nullptr;
      Q8_CHECK(q8_session_create(m, static_cast<int64_t>(n), &p));
      s.reset(p);
      cur = n;
    }
    Tensor x = batch_tensor(d, spec, first, n);
    const q8_tensor *in = x.get();
    Q8_CHECK(q8_session_run(s.get(), &in, 1));
    fn(s.get(), first, n);
  }
}

// An f32 copy of any tensor (dequantized when quantized).
std::vector<float> as_f32(const q8_tensor *t) {
  size_t n = 0;
  Q8_CHECK(q8_tensor_numel(t, &n));
  q8_dtype dt;
  Q8_CHECK(q8_tensor_dtype(t, &dt));
  std::vector<float> out(n);
  void *p = nullptr;
  if (dt == Q8_DTYPE_F32) {
    Q8_CHECK(q8_tensor_data(t, &p));
    if (n) std::memcpy(out.data(), p, n * sizeof(float));
    return out;
  }
  size_t rank = 0;
  Q8_CHECK(q8_tensor_rank(t, &rank));
  int64_t shape[8];
  Q8_CHECK(q8_tensor_shape(t, shape, 8));
  q8_tensor *f = nullptr;
  Q8_CHECK(q8_tensor_wrap(Q8_DTYPE_F32, shape, rank, n ? out.data() : nullptr, n * sizeof(float), &f));
  Tensor ft(f);
  Q8_CHECK(q8_dequantize(t, ft.get()));
  return out;
}

double accuracy(const q8_model *m, const Dataset &d, std::size_t batch) {
  if (d.labels.empty()) throw CliError{"the data has no label column", kExitError};
  std::size_t correct = 0;
  for_each_batch(m, d, batch, [&](q8_session *s, std::size_t first, std::size_t n) {
    const q8_tensor *y = nullptr;
    Q8_CHECK(q8_session_output(s, 0, &y));
    size_t numel = 0;
    Q8_CHECK(q8_tensor_numel(y, &numel));
    if (numel % n) throw CliError{"output 0 does not split into one row per sample", kExitError};
    const std::size_t classes = numel / n;
    const std::vector<float> v = as_f32(y);
    for (std::size_t r = 0; r < n; ++r) {
      std::size_t best = 0;
      for (std::size_t c = 1; c < classes; ++c)
        if (v[r * classes + c] > v[r * classes + best]) best = c;
      if (static_cast<int>(best) == d.labels[first + r]) ++correct;
    }
  });
  return static_cast<double>(correct) / static_cast<double>(d.rows);
}

std::string human_bytes(double b) {
  const char *u[] = {"B", "KiB", "MiB", "GiB"};
  int i = 0;
  while (b >= 1024 && i < 3) {
    b /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i ? "%.1f %s" : "%.0f %s", b, u[i]);
  return buf;
}

}  // namespace q8cli
