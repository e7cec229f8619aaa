// q8-mpi quantize: static post-training quantization with the calibration batches shared out
// over the ranks. Rank r calibrates batches r, r + size, ... (q8_model_calibrate); the statistics
// are combined with MPI_Allreduce as include/q8/calibration.h describes (ranges MIN/MAX, widen,
// histogram counts SUM); every rank then quantizes the same model, checks that all agree, and
// rank 0 writes it (q8_model_save: atomic). The file equals `q8 quantize`'s, byte for byte.
#include <cstdio>
#include <memory>
#include <sstream>
#include <vector>

#include "collective.hpp"
#include "commands.hpp"
#include "model_io.hpp"
#include "prune_args.hpp"

namespace q8mpi {

using namespace q8cli;

namespace {

void help() {
  std::printf(
      "usage: mpirun -np N q8-mpi quantize IN.onnx|IN.q8 -o OUT.q8 --calib DATA [options]\n"
      "  static quantization; rank r calibrates batches r, r + N, ... of DATA\n"
      "  --calib DATA                   calibration CSV (rows: train by default)\n"
      "  --per-channel | --per-tensor   weight granularity (default per channel)\n"
      "  --observer minmax|percentile|entropy|mse   (default minmax; moving-average depends on\n"
      "                                 the order of the batches and cannot be distributed)\n"
      "  --percentile P                 for --observer percentile (default 99.99)\n"
      "  --activations u8|s8            asymmetric u8 (default) or symmetric s8 activations\n"
      "  --keep-fp32 NODE[,NODE...]     leave these nodes in FP32\n");
  std::printf("%s", kPruneHelp);
  std::printf(kDataHelp);
}

struct CalibrationDeleter {
  void operator()(q8_calibration *c) const { q8_calibration_destroy(c); }
};
using Calibration = std::unique_ptr<q8_calibration, CalibrationDeleter>;

// This rank's calibration turned into the merge of every rank's.
void combine(q8_calibration *c) {
  size_t acts = 0, size = 0;
  Q8_CHECK(q8_calibration_activation_count(c, &acts));
  std::vector<float> mins(acts), maxs(acts);
  Q8_CHECK(q8_calibration_ranges(c, mins.data(), maxs.data(), acts));
  allreduce(mins.data(), acts, MPI_MIN);
  allreduce(maxs.data(), acts, MPI_MAX);
  Q8_CHECK(q8_calibration_widen(c, mins.data(), maxs.data(), acts));
  Q8_CHECK(q8_calibration_histogram_size(c, &size));
  if (size == 0) return;  // min-max: the ranges were everything
  std::vector<uint64_t> counts(size);
  Q8_CHECK(q8_calibration_histograms(c, counts.data(), size));
  allreduce(counts.data(), size, MPI_SUM);
  Q8_CHECK(q8_calibration_set_histograms(c, counts.data(), size));
}

}  // namespace

int cmd_quantize(const Comm &comm, int argc, char **argv) {
  Args a("quantize", argc, argv,
         {"--output", "--calib", "--observer", "--percentile", "--activations", "--keep-fp32", "--rows",
          "--input-scale", "--batch", Q8CLI_PRUNE_VALUES},
         {"--per-channel", "--per-tensor", Q8CLI_PRUNE_FLAGS});
  if (a.help()) {
    if (comm.rank == 0) help();
    return 0;
  }
  if (a.positional().size() != 1) usage_error("quantize: give exactly one input model");
  if (!a.has("--output")) usage_error("quantize: -o OUT.q8 is required");
  if (!a.has("--calib")) usage_error("quantize: --calib DATA is required");
  if (a.has("--per-channel") && a.has("--per-tensor")) usage_error("quantize: --per-channel and --per-tensor exclude each other");

  PtqArgs ptq;
  read_ptq_options(a, "quantize", ptq);
  q8_ptq_options &o = ptq.options;

  Model m = load_model(a.positional()[0]);
  const std::size_t batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));
  const InputSpec spec = input_spec(m.get());
  const Dataset calib = load_dataset(a.get("--calib"), a.get("--rows", "train"), spec.features,
                                     a.get_double("--input-scale", 1.0));
  // The batches `q8 quantize` makes, dealt out round-robin.
  const std::size_t batches = (calib.rows + batch - 1) / batch;
  if (batches < std::size_t(comm.size))
    throw CliError{std::to_string(batches) + " calibration batches of " + std::to_string(batch) + " rows for " +
                       std::to_string(comm.size) + " ranks: every rank needs one (smaller --batch, or fewer ranks)",
                   kExitError};
  std::vector<Tensor> owned;
  std::vector<const q8_tensor *> mine;
  for (std::size_t b = std::size_t(comm.rank); b < batches; b += std::size_t(comm.size)) {
    const std::size_t first = b * batch;
    owned.push_back(batch_tensor(calib, spec, first, std::min(batch, calib.rows - first)));
    mine.push_back(owned.back().get());
  }
  q8_calibration *c = nullptr;
  Q8_CHECK(q8_model_calibrate(m.get(), &o, mine.data(), mine.size(), &c));
  Calibration cal(c);
  combine(cal.get());

  q8_model *q = nullptr;
  Q8_CHECK(q8_model_quantize_calibrated(m.get(), &o, cal.get(), &q));
  Model qm(q);
  void *bytes = nullptr;
  size_t n = 0;
  Q8_CHECK(q8_model_save_bytes(qm.get(), &bytes, &n));
  const uint64_t hash = fnv1a(bytes, n);
  q8_free(bytes);
  if (!all_equal(hash)) throw CliError{"the ranks built different models (a bug: please report it)", kExitError};
  if (comm.rank == 0) {
    Q8_CHECK(q8_model_save(qm.get(), a.get("--output").c_str()));
    std::printf("%s -> %s: static, calibrated on %zu rows in %zu batches over %d ranks (model fnv1a %016llx)\n",
                a.positional()[0].c_str(), a.get("--output").c_str(), calib.rows, batches, comm.size,
                static_cast<unsigned long long>(hash));
  }
  return 0;
}

}  // namespace q8mpi
