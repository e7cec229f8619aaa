// q8 run and q8 eval: a model over a data set.
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "model_io.hpp"

namespace q8cli {

namespace {
struct FileCloser {
  void operator()(FILE *f) const {
    if (f) std::fclose(f);
  }
};
}  // namespace

int cmd_run(int argc, char **argv) {
  Args a("run", argc, argv,
         {"--data", "--output", "--rows", "--input-scale", "--batch", "--plan", "--micro-batch", "--replicas"}, {});
  if (a.help()) {
    std::printf("usage: q8 run MODEL --data DATA [-o OUT.csv] [--plan PLAN.json [--micro-batch M] [--replicas R]]\n"
                "  Runs MODEL on every selected row and writes output 0, one row per sample, as CSV\n"
                "  (to stdout without -o). Rows: all by default. With --plan (from q8 partition), all rows\n"
                "  go through one pipeline run in micro-batches of M rows (default: all in one), R sessions\n"
                "  per partition (default 1); the output is the same as without.\n");
    std::printf(kDataHelp);
    return 0;
  }
  if (a.positional().size() != 1) usage_error("run: give exactly one model");
  if (!a.has("--data")) usage_error("run: --data DATA is required");
  Model m = load_model(a.positional()[0]);
  const InputSpec spec = input_spec(m.get());
  const Dataset d = load_dataset(a.get("--data"), a.get("--rows", "all"), spec.features, a.get_double("--input-scale", 1.0));
  std::unique_ptr<FILE, FileCloser> file;
  FILE *out = stdout;
  if (a.has("--output")) {
    file.reset(std::fopen(a.get("--output").c_str(), "w"));
    if (!file) throw CliError{a.get("--output") + ": cannot open for writing", kExitError};
    out = file.get();
  }
  auto print = [&](const q8_tensor *y, std::size_t n) {
    size_t numel = 0;
    Q8_CHECK(q8_tensor_numel(y, &numel));
    const std::size_t per = numel / n;
    const std::vector<float> v = as_f32(y);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < per; ++c) std::fprintf(out, c + 1 < per ? "%.9g," : "%.9g\n", v[r * per + c]);
  };
  if (a.has("--plan")) {
    if (d.rows == 0) throw CliError{"run: the data set has no rows", kExitError};
    run_with_plan(m.get(), a.get("--plan"), d, a.get_int("--micro-batch", 0, 1, 1 << 30),
                  static_cast<std::size_t>(a.get_int("--replicas", 1, 1, 1024)),
                  [&](const q8_tensor *y) { print(y, d.rows); });
  } else {
    const std::size_t batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));
    for_each_batch(m.get(), d, batch, [&](q8_session *s, std::size_t, std::size_t n) {
      const q8_tensor *y = nullptr;
      Q8_CHECK(q8_session_output(s, 0, &y));
      print(y, n);
    });
  }
  if (file && std::fclose(file.release()) != 0) throw CliError{a.get("--output") + ": write failed", kExitError};
  return 0;
}

int cmd_eval(int argc, char **argv) {
  Args a("eval", argc, argv, {"--data", "--rows", "--input-scale", "--batch"}, {});
  if (a.help()) {
    std::printf("usage: q8 eval MODEL --data DATA\n"
                "  Top-1 accuracy of output 0 against DATA's last column (rows: test by default).\n");
    std::printf(kDataHelp);
    return 0;
  }
  if (a.positional().size() != 1) usage_error("eval: give exactly one model");
  if (!a.has("--data")) usage_error("eval: --data DATA is required");
  Model m = load_model(a.positional()[0]);
  const InputSpec spec = input_spec(m.get());
  const Dataset d = load_dataset(a.get("--data"), a.get("--rows", "test"), spec.features, a.get_double("--input-scale", 1.0));
  const double acc = accuracy(m.get(), d, static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20)));
  std::printf("%s: top-1 accuracy %.2f%% (%zu rows)\n", a.positional()[0].c_str(), 100.0 * acc, d.rows);
  return 0;
}

}  // namespace q8cli
