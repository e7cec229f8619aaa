// Models and data sets for the q8 tool's model commands.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "args.hpp"
#include "common.hpp"

namespace q8cli {

struct ModelDeleter {
  void operator()(q8_model *m) const { q8_model_destroy(m); }
};
struct SessionDeleter {
  void operator()(q8_session *s) const { q8_session_destroy(s); }
};
using Model = std::unique_ptr<q8_model, ModelDeleter>;
using Session = std::unique_ptr<q8_session, SessionDeleter>;

// An .onnx file through the ONNX importer, anything else as a .q8 file.
Model load_model(const std::string &path);

// Elements per sample of the model's single input (its dims after the batch).
struct InputSpec {
  std::vector<int64_t> dims;  // without the batch dimension
  std::size_t features = 1;
};
InputSpec input_spec(const q8_model *m);

// Rows of a CSV: `features` values each (times `input_scale`), plus labels when the file has one
// more column. `rows`: "train" (i % 4 != 0), "test" (i % 4 == 0) or "all".
struct Dataset {
  std::size_t rows = 0, features = 0;
  std::vector<float> x;
  std::vector<int> labels;  // empty: the file has no label column
};
Dataset load_dataset(const std::string &path, const std::string &rows, std::size_t features,
                     double input_scale);

// Options shared by commands that read data: --data/--calib, --rows, --input-scale, --batch.
extern const char *const kDataHelp;

// Runs `m` over the data set in batches of `batch` rows (the last may be smaller); calls `fn`
// with the session after each run, the first row and the row count.
void for_each_batch(const q8_model *m, const Dataset &d, std::size_t batch,
                    const std::function<void(q8_session *, std::size_t, std::size_t)> &fn);

// The f32 input tensor for rows [first, first + n) (borrowing d's storage).
Tensor batch_tensor(const Dataset &d, const InputSpec &spec, std::size_t first, std::size_t n);

// An f32 copy of any tensor (dequantized with its own parameters when quantized).
std::vector<float> as_f32(const q8_tensor *t);

// Top-1 accuracy (fraction) of output 0 against the labels.
double accuracy(const q8_model *m, const Dataset &d, std::size_t batch);

std::string human_bytes(double bytes);

}  // namespace q8cli
