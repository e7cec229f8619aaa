// q8 quantize: post-training quantization of a model into a .q8 file, or streaming weight-only
// quantization of a safetensors checkpoint (detected by its content or extension) or of an ONNX
// model (when --weights or --max-memory asks for it).
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "commands.hpp"
#include "model_io.hpp"
#include "prune_args.hpp"

namespace q8cli {

namespace {

void help() {
  std::printf(
      "usage: q8 quantize IN.onnx|IN.q8 -o OUT.q8 [options]\n"
      "  --mode static|dynamic|weight   static (default): INT8 activations calibrated on --calib;\n"
      "                                 dynamic: INT8 weights, activations quantized per batch;\n"
      "                                 weight: INT8 weights only, f32 compute\n"
      "  --calib DATA                   calibration CSV (static mode; rows: train by default)\n"
      "  --per-channel | --per-tensor   weight granularity (default per channel)\n"
      "  --observer minmax|moving-average|percentile|entropy|mse   (default minmax)\n"
      "  --percentile P                 for --observer percentile (default 99.99)\n"
      "  --activations u8|s8            asymmetric u8 (default) or symmetric s8 activations\n"
      "  --keep-fp32 NODE[,NODE...]     leave these nodes in FP32\n"
      "  --sensitivity                  before quantizing, rank nodes by the error each causes alone\n"
      "  --quiet                        no progress bar\n");
  std::printf("%s", kPruneHelp);
  std::printf(kDataHelp);
}

struct Progress {
  bool tty = false;
  std::string last_stage;
};

int on_progress(void *user, const char *stage, size_t done, size_t total) {
  auto *p = static_cast<Progress *>(user);
  if (!p->tty) return 0;
  const int width = 30;
  const int fill = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r%-12s [%.*s%*s] %zu/%zu", stage, fill, "##############################", width - fill, "",
               done, total);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
  return 0;
}

// ---- safetensors checkpoints: streaming weight-only quantization (include/q8/checkpoint.h) ----

void checkpoint_help() {
  std::printf(
      "usage: q8 quantize IN.safetensors -o OUT.q8 [options]\n"
      "       q8 quantize IN.onnx -o OUT.q8 --weights int8|int4 | --max-memory SIZE [options]\n"
      "  Weight-only quantization of a checkpoint or ONNX model far larger than memory: the tensors\n"
      "  stream through in row blocks, the .q8 output is written as they finish (docs/CHECKPOINTS.md).\n"
      "  ONNX (external data welcome): each 2-D weight of MatMul / Gemm (input B) is quantized per\n"
      "  output channel and dequantized in front of its consumer; the output runs like the model.\n"
      "  --weights int8|int4     int8 per channel (default) or int4 grouped asymmetric\n"
      "  --group 32|64|128       int4 group size (default 64)\n"
      "  --max-memory SIZE       bytes in flight, e.g. 512M (default), 2G, at least 16M\n"
      "  --threads N             worker threads (default: all cores)\n"
      "  --min-elements N        smaller 2-D tensors stay f32 (default 4096)\n"
      "  --keep NAME             keep this tensor (initializer) unquantized (repeatable)\n"
      "  --report                print the run's figures as name value lines\n"
      "  --quiet                 no progress bar\n");
}

// A safetensors file starts with its header length (8 bytes, little-endian) and the JSON's '{'.
bool is_safetensors(const std::string &path) {
  if (path.size() > 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0) return true;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char b[9];
  const std::size_t n = std::fread(b, 1, sizeof b, f);
  std::fclose(f);
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= uint64_t{b[i]} << (8 * i);
  return n == sizeof b && b[8] == '{' && len >= 2 && len <= (uint64_t{100} << 20);
}

// "512M", "2G", "65536": a byte count with an optional binary K/M/G suffix.
uint64_t parse_size(const std::string &s) {
  char *end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  int shift = 0;
  if (end && *end && !end[1]) shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 : *end == 'G' || *end == 'g' ? 30 : -1;
  if (errno || end == s.c_str() || shift < 0 || (end && *end && end[1]) || (v >> (63 - shift)) != 0)
    usage_error("quantize: --max-memory must be a byte count like 512M or 2G, not '" + s + "'");
  return uint64_t{v} << shift;
}

// Peak resident memory of this process (VmHWM), in bytes; 0 if unknown.
uint64_t peak_rss() {
  uint64_t kb = 0;
  if (FILE *f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "VmHWM:", 6) == 0) kb = std::strtoull(line + 6, nullptr, 10);
    std::fclose(f);
  }
  return kb * 1024;
}

int quantize_checkpoint(int argc, char **argv) {
  Args a("quantize", argc, argv, {"--output", "--weights", "--group", "--max-memory", "--threads", "--min-elements", "--keep"},
         {"--report", "--quiet"});
  if (a.help()) {
    checkpoint_help();
    return 0;
  }
  if (a.positional().size() != 1) usage_error("quantize: give exactly one input checkpoint or ONNX model");
  if (!a.has("--output")) usage_error("quantize: -o OUT.q8 is required");
  // --keep repeats, and Args keeps one value per option: collect them all here.
  std::vector<std::string> keep;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--keep" && i + 1 < argc) keep.push_back(argv[++i]);
    else if (arg.rfind("--keep=", 0) == 0) keep.push_back(arg.substr(7));
  }
  std::vector<const char *> keep_c;
  for (const auto &k : keep) keep_c.push_back(k.c_str());

  q8_checkpoint_options o;
  Q8_CHECK(q8_checkpoint_options_init(&o));
  const std::string weights = a.get("--weights", "int8");
  if (weights == "int8") o.format = Q8_WEIGHTS_INT8_PER_CHANNEL;
  else if (weights == "int4") o.format = Q8_WEIGHTS_INT4_GROUPED;
  else usage_error("quantize: --weights must be int8 or int4, not '" + weights + "'");
  o.group_size = static_cast<uint32_t>(a.get_int("--group", 64, 1, 1 << 20));
  if (a.has("--max-memory")) o.max_memory = parse_size(a.get("--max-memory"));
  o.threads = static_cast<size_t>(a.get_int("--threads", 0, 0, 4096));
  o.min_elements = static_cast<uint64_t>(a.get_int("--min-elements", 4096, 0, INT64_MAX));
  o.keep_fp32 = keep_c.data();
  o.keep_fp32_count = keep_c.size();
  Progress prog;
  prog.tty = !a.has("--quiet") && isatty(STDERR_FILENO);
  o.progress = on_progress;
  o.progress_user = &prog;

  q8_checkpoint_report r;
  r.struct_size = sizeof r;
  const std::string in = a.positional()[0], out = a.get("--output");
  Q8_CHECK(q8_checkpoint_quantize(in.c_str(), out.c_str(), &o, &r));
  const double gb = 1e9, rate = r.seconds > 0 ? double(r.input_bytes) / gb / r.seconds : 0.0;
  const uint64_t rss = peak_rss();
  std::printf("%s -> %s: %zu tensors (%zu quantized, %s), %.3f GB -> %.3f GB in %.2f s (%.2f GB/s of input), "
              "peak in flight %s, peak RSS %s\n",
              in.c_str(), out.c_str(), r.tensors, r.quantized_tensors, weights.c_str(), double(r.input_bytes) / gb,
              double(r.output_bytes) / gb, r.seconds, rate, human_bytes(double(r.peak_in_flight_bytes)).c_str(),
              human_bytes(double(rss)).c_str());
  if (a.has("--report"))
    std::printf("tensors %zu\nquantized_tensors %zu\ninput_bytes %llu\noutput_bytes %llu\nseconds %.6f\n"
                "input_gb_per_s %.4f\npeak_in_flight_bytes %llu\npeak_rss_bytes %llu\n",
                r.tensors, r.quantized_tensors, (unsigned long long)r.input_bytes, (unsigned long long)r.output_bytes,
                r.seconds, rate, (unsigned long long)r.peak_in_flight_bytes, (unsigned long long)rss);
  return 0;
}

// --weights and --max-memory belong to the streaming quantizer only: with them, an ONNX input
// streams too.
bool wants_streaming(int argc, char **argv) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    for (const char *opt : {"--weights", "--max-memory"})
      if (arg == opt || arg.rfind(std::string(opt) + "=", 0) == 0) return true;
  }
  return false;
}

}  // namespace

int cmd_quantize(int argc, char **argv) {
  if (wants_streaming(argc, argv)) return quantize_checkpoint(argc, argv);
  for (int i = 0; i < argc; ++i)
    if (argv[i][0] != '-' && is_safetensors(argv[i])) return quantize_checkpoint(argc, argv);
  Args a("quantize", argc, argv,
         {"--output", "--mode", "--calib", "--observer", "--percentile", "--activations", "--keep-fp32",
          "--rows", "--input-scale", "--batch", Q8CLI_PRUNE_VALUES},
         {"--per-channel", "--per-tensor", "--quiet", "--sensitivity", Q8CLI_PRUNE_FLAGS});
  if (a.help()) {
    help();
    checkpoint_help();
    return 0;
  }
  if (a.positional().size() != 1) usage_error("quantize: give exactly one input model");
  if (!a.has("--output")) usage_error("quantize: -o OUT.q8 is required");
  if (a.has("--per-channel") && a.has("--per-tensor")) usage_error("quantize: --per-channel and --per-tensor exclude each other");

  PtqArgs ptq;
  read_ptq_options(a, "quantize", ptq);
  q8_ptq_options &o = ptq.options;
  const std::string mode = a.get("--mode", "static");
  if (mode == "static") o.mode = Q8_PTQ_STATIC;
  else if (mode == "dynamic") o.mode = Q8_PTQ_DYNAMIC;
  else if (mode == "weight") o.mode = Q8_PTQ_WEIGHT_ONLY;
  else usage_error("quantize: --mode must be static, dynamic or weight, not '" + mode + "'");
  Progress prog;
  prog.tty = !a.has("--quiet") && isatty(STDERR_FILENO);
  o.progress = on_progress;
  o.progress_user = &prog;

  Model m = load_model(a.positional()[0]);
  const std::size_t batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));
  Dataset calib;
  std::vector<Tensor> owned;
  std::vector<const q8_tensor *> batches;
  if (o.mode == Q8_PTQ_STATIC || a.has("--sensitivity")) {
    if (!a.has("--calib")) usage_error("quantize: static mode (and --sensitivity) needs --calib DATA");
    const InputSpec spec = input_spec(m.get());
    calib = load_dataset(a.get("--calib"), a.get("--rows", "train"), spec.features, a.get_double("--input-scale", 1.0));
    for (std::size_t first = 0; first < calib.rows; first += batch) {
      owned.push_back(batch_tensor(calib, spec, first, std::min(batch, calib.rows - first)));
      batches.push_back(owned.back().get());
    }
  }
  if (a.has("--sensitivity")) {
    q8_sensitivity *s = nullptr;
    Q8_CHECK(q8_model_sensitivity(m.get(), &o, batches.data(), batches.size(), &s));
    size_t n = 0;
    Q8_CHECK(q8_sensitivity_count(s, &n));
    std::printf("sensitivity (static, one node at a time; relative MSE at output 0, worst first):\n");
    for (size_t i = 0; i < n; ++i) {
      const char *node = nullptr;
      double e = 0;
      Q8_CHECK(q8_sensitivity_get(s, i, &node, &e));
      std::printf("  %-32s %.3e\n", node, e);
    }
    q8_sensitivity_destroy(s);
  }
  q8_model *q = nullptr;
  Q8_CHECK(q8_model_quantize(m.get(), &o, batches.data(), batches.size(), &q));
  Model qm(q);
  Q8_CHECK(q8_model_save(qm.get(), a.get("--output").c_str()));
  size_t before = 0, after = 0;
  Q8_CHECK(q8_model_weight_bytes(m.get(), &before));
  Q8_CHECK(q8_model_weight_bytes(qm.get(), &after));
  std::printf("%s -> %s: %s, weights %s -> %s (%.3fx)%s\n", a.positional()[0].c_str(), a.get("--output").c_str(),
              mode.c_str(), human_bytes(double(before)).c_str(), human_bytes(double(after)).c_str(),
              before ? double(after) / double(before) : 0.0,
              o.mode == Q8_PTQ_STATIC ? (", calibrated on " + std::to_string(calib.rows) + " rows").c_str() : "");
  if (o.prune) {
    double sparsity = 0;
    size_t n = 0;
    Q8_CHECK(q8_model_weight_sparsity(qm.get(), &sparsity, &n));
    std::printf("pruned before quantizing: weight sparsity %.1f %% of %zu weights (q8 inspect shows each layer)\n",
                100.0 * sparsity, n);
  }
  return 0;
}

}  // namespace q8cli
