// q8 calibrate: observers and schemes compared on the bundled digits data.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "csv.hpp"

#ifndef Q8_DEFAULT_CSV
#define Q8_DEFAULT_CSV "tests/data/digits.csv.gz"
#endif

namespace q8cli {
namespace {

// ---- calibrate --------------------------------------------------------------------------------

constexpr std::size_t kPixels = 64, kColumns = kPixels + 1, kBatchRows = 64;
// Standardizing divides by the train std, floored at one intensity level (pixels are 0..16): with a
// tiny floor, a pixel that is nearly always blank in train turns a test stroke into a z-score in the
// hundreds, and those few values alone would decide every SQNR in the table.
constexpr double kStdFloor = 1.0;

enum class Rows { Train, Test, All };

struct CalibrateArgs {
  std::string csv = Q8_DEFAULT_CSV;
  Rows rows = Rows::Test;
};

// One matrix of features, row-major [rows, kPixels].
struct Matrix {
  std::size_t rows = 0;
  std::vector<float> v;
};

struct Case {
  const char *tensor;
  Matrix *train, *eval;  // non-const: q8_tensor_wrap takes a writable pointer
  int32_t axis;  // -1 per-tensor, 1 per-channel over the 64 features
};

struct Cell {
  double sqnr_db = 0, max_abs_err = 0;
  std::size_t clipped = 0, f32_bytes = 0, q_bytes = 0;
};

Cell run_case(const Case &c, q8_scheme scheme, q8_observer_kind kind) {
  Cell cell;
  q8_observer_options o;
  Q8_CHECK(q8_observer_options_init(&o));
  o.kind = kind;
  o.scheme = scheme;
  o.axis = c.axis;
  q8_observer *raw = nullptr;
  Q8_CHECK(q8_observer_create(&o, &raw));
  Observer obs(raw);
  // A calibration loop: the train rows in batches, as a data loader would hand them over.
  std::vector<float> &train = c.train->v;
  for (std::size_t r = 0; r < c.train->rows; r += kBatchRows) {
    const std::size_t n = std::min(kBatchRows, c.train->rows - r);
    Tensor batch = wrap_f32(train.data() + r * kPixels, n, kPixels);
    Q8_CHECK(q8_observer_update(obs.get(), batch.get()));
  }

  q8_dtype dt;
  Q8_CHECK(q8_scheme_dtype(scheme, &dt));
  const std::size_t rows = c.eval->rows;
  std::vector<float> &eval = c.eval->v;
  Tensor x = wrap_f32(eval.data(), rows, kPixels);
  Tensor q = create(dt, rows, kPixels);
  Tensor back = create(Q8_DTYPE_F32, rows, kPixels);
  Q8_CHECK(q8_observer_apply(obs.get(), q.get()));
  Q8_CHECK(q8_quantize(x.get(), q.get()));
  Q8_CHECK(q8_dequantize(q.get(), back.get()));
  void *p = nullptr;
  Q8_CHECK(q8_tensor_data(back.get(), &p));
  const float *y = static_cast<const float *>(p);
  double signal = 0, noise = 0, max_err = 0;
  for (std::size_t i = 0; i < rows * kPixels; ++i) {
    const double e = double(eval[i]) - double(y[i]);
    signal += double(eval[i]) * double(eval[i]);
    noise += e * e;
    max_err = std::max(max_err, std::fabs(e));
  }
  std::size_t channels = 0;
  int32_t axis = -1;
  Q8_CHECK(q8_tensor_qparams_layout(q.get(), &axis, &channels));
  std::vector<float> scales(channels);
  Q8_CHECK(q8_tensor_get_qparams(q.get(), scales.data(), nullptr, channels));
  // Saturated: the error exceeds the half step that rounding alone can leave (0.1% slack for
  // values that sit exactly on the grid's edge, as the symmetric scheme's max does).
  for (std::size_t i = 0; i < rows * kPixels; ++i) {
    const std::size_t ch = axis < 0 ? 0 : axis == 1 ? i % kPixels : i / kPixels;
    if (std::fabs(double(eval[i]) - double(y[i])) > 0.5005 * double(scales[ch])) ++cell.clipped;
  }
  cell.sqnr_db = noise > 0 ? 10.0 * std::log10(signal / noise) : INFINITY;
  cell.max_abs_err = max_err;
  cell.f32_bytes = rows * kPixels * sizeof(float);
  cell.q_bytes = rows * kPixels + channels * (sizeof(float) + 1);  // data + f32 scale, 8-bit zp
  return cell;
}

CalibrateArgs parse_calibrate(int argc, char **argv) {
  CalibrateArgs a;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char *name) -> std::string {
      const std::string eq = std::string(name) + "=";
      if (arg.compare(0, eq.size(), eq) == 0) return arg.substr(eq.size());
      if (i + 1 >= argc) usage_error(std::string(name) + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      throw CliError{"", 0};
    } else if (arg == "--csv" || arg.rfind("--csv=", 0) == 0) {
      a.csv = value("--csv");
      if (a.csv.empty()) usage_error("--csv needs a non-empty path");
    } else if (arg == "--rows" || arg.rfind("--rows=", 0) == 0) {
      const std::string v = value("--rows");
      if (v == "train") a.rows = Rows::Train;
      else if (v == "test") a.rows = Rows::Test;
      else if (v == "all") a.rows = Rows::All;
      else usage_error("--rows must be train, test or all, not '" + v + "'");
    } else {
      usage_error("calibrate: unknown argument '" + arg + "'");
    }
  }
  return a;
}

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

int cmd_calibrate(int argc, char **argv) {
  const CalibrateArgs args = parse_calibrate(argc, argv);
  q8cli::Table table;
  std::string err;
  if (!q8cli::read_csv_file(args.csv, kColumns, table, err))
    throw CliError{err, kExitError};

  // The project-wide split: i % 4 == 0 is test, the rest train.
  Matrix train, eval;
  for (std::size_t i = 0; i < table.rows; ++i) {
    const bool is_test = i % 4 == 0;
    const float *row = table.values.data() + i * kColumns;
    if (!is_test) {
      train.v.insert(train.v.end(), row, row + kPixels);
      ++train.rows;
    }
    if (args.rows == Rows::All || (args.rows == Rows::Test) == is_test) {
      eval.v.insert(eval.v.end(), row, row + kPixels);
      ++eval.rows;
    }
  }
  if (train.rows == 0) throw CliError{args.csv + ": no training rows (needs at least 2 rows)", kExitError};
  if (eval.rows == 0) throw CliError{args.csv + ": no evaluation rows", kExitError};

  // z-score per feature with train statistics; the std floor keeps almost-constant pixels finite,
  // which leaves them as the heavy tail of the standardized tensor.
  std::vector<double> mean(kPixels, 0.0), sd(kPixels, 0.0);
  for (std::size_t r = 0; r < train.rows; ++r)
    for (std::size_t j = 0; j < kPixels; ++j) mean[j] += train.v[r * kPixels + j];
  for (double &m : mean) m /= double(train.rows);
  for (std::size_t r = 0; r < train.rows; ++r)
    for (std::size_t j = 0; j < kPixels; ++j) {
      const double d = train.v[r * kPixels + j] - mean[j];
      sd[j] += d * d;
    }
  for (double &s : sd) s = std::max(std::sqrt(s / double(train.rows)), kStdFloor);
  auto standardize = [&](const Matrix &m) {
    Matrix z = m;
    for (std::size_t r = 0; r < m.rows; ++r)
      for (std::size_t j = 0; j < kPixels; ++j)
        z.v[r * kPixels + j] = float((m.v[r * kPixels + j] - mean[j]) / sd[j]);
    return z;
  };
  Matrix train_z = standardize(train), eval_z = standardize(eval);

  const char *rows_name = args.rows == Rows::Test ? "test" : args.rows == Rows::Train ? "train" : "all";
  std::printf("q8 %s calibrate: %s\n", q8_version_string(), args.csv.c_str());
  std::printf("%zu rows; calibrate on %zu train rows (batches of %zu), evaluate on %zu %s rows; ISA %s\n\n",
              table.rows, train.rows, kBatchRows, eval.rows, rows_name, q8_isa_name(q8_runtime_isa()));

  const Case cases[] = {
      {"pixels", &train, &eval, -1},
      {"pixels_z", &train_z, &eval_z, -1},
      {"pixels_z", &train_z, &eval_z, 1},
  };
  const q8_scheme schemes[] = {Q8_SCHEME_SYMMETRIC_NARROW, Q8_SCHEME_SYMMETRIC, Q8_SCHEME_ASYMMETRIC_U8,
                               Q8_SCHEME_ASYMMETRIC_S8};
  const struct {
    q8_observer_kind kind;
    const char *name;
  } observers[] = {{Q8_OBSERVER_MINMAX, "minmax"},
                   {Q8_OBSERVER_MOVING_AVERAGE_MINMAX, "moving_average_minmax"},
                   {Q8_OBSERVER_PERCENTILE, "percentile"},
                   {Q8_OBSERVER_ENTROPY, "entropy"},
                   {Q8_OBSERVER_MSE, "mse"}};

  std::printf("%-9s %-11s %-16s %-21s %8s %10s %7s %7s %6s\n", "tensor", "granularity", "scheme", "observer",
              "SQNR dB", "max |err|", "clipped", "f32 B", "q B");
  for (const Case &c : cases) {
    const std::string gran = c.axis < 0 ? "per-tensor" : "axis " + std::to_string(c.axis);
    for (q8_scheme s : schemes) {
      for (const auto &ob : observers) {
        const Cell cell = run_case(c, s, ob.kind);
        std::printf("%-9s %-11s %-16s %-21s ", c.tensor, gran.c_str(), q8_scheme_name(s), ob.name);
        std::printf("%8s %10s %7zu %7zu %6zu\n", fmt("%.2f", cell.sqnr_db).c_str(),
                    fmt("%.4g", cell.max_abs_err).c_str(), cell.clipped, cell.f32_bytes, cell.q_bytes);
      }
    }
  }
  std::printf("\nSQNR = 10 log10(sum x^2 / sum (x - dequantize(quantize(x)))^2) over the evaluation rows;\n"
              "clipped = values whose error exceeds half a step, i.e. saturated at the grid's ends;\n"
              "pixels_z = (pixel - train mean) / max(train std, %g) per feature (train statistics);\n"
              "q B = int8 data plus one f32 scale and one 8-bit zero point per channel.\n"
              "Observers use their default options (percentile 99.99, 2048 bins, averaging 0.01).\n",
              kStdFloor);
  return 0;
}


}  // namespace q8cli
