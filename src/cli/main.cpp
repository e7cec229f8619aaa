// q8 — the command-line tool. Uses only the public C API, as any user program would.
#include <q8/q8.h>

#include <cstdio>
#include <new>
#include <string>

#include "commands.hpp"
#include "common.hpp"

#ifndef Q8_DEFAULT_CSV
#define Q8_DEFAULT_CSV "tests/data/digits.csv.gz"
#endif

namespace q8cli {

void print_usage(FILE *f) {
  std::fprintf(f,
               "usage: q8 <command> [options]     (q8 <command> --help for one command)\n"
               "\n"
               "commands:\n"
               "  quantize IN -o OUT.q8 [--calib DATA] [--mode static|dynamic|weight] ...\n"
               "      Post-training quantization of an FP32 ONNX (or .q8) model into a .q8 file.\n"
               "  quantize IN.safetensors -o OUT.q8 [--weights int8|int4] [--group 32|64|128]\n"
               "           [--max-memory 512M] [--threads N] [--keep NAME]... [--report]\n"
               "      Weight-only quantization of a checkpoint larger than memory, streamed.\n"
               "  prune IN -o OUT.q8 --prune S [--prune-pattern 2:4|block4x4|unstructured|channel]\n"
               "      Magnitude pruning of the FP32 weights (quantize --prune does it before PTQ).\n"
               "  run MODEL --data DATA [-o OUT.csv] [--plan PLAN.json [--micro-batch M] [--replicas R]]\n"
               "      Run a model (through a pipeline with --plan); print or write output 0.\n"
               "  eval MODEL --data DATA                 Top-1 accuracy against the labels.\n"
               "  bench MODEL [--against MODEL2] [--data DATA]\n"
               "      Latency per batch, model bytes and peak memory (and accuracy with DATA),\n"
               "      side by side with a second model, e.g. INT8 against its FP32 original.\n"
               "  bench MODEL --plan PLAN.json [--micro-batch M] [--replicas R] [--max-in-flight N]\n"
               "      The model's pipeline against the whole model: same outputs (memcmp), rows/s, ratio.\n"
               "  inspect MODEL [--json]                 Operators, tensors, sizes, parameters.\n"
               "  export MODEL OUT.onnx                  The model as ONNX opset 13 in QDQ form.\n"
               "  partition MODEL [--count N] [--max-bytes 64M] [--by bytes|flops] [-o PLAN.json]\n"
               "      Cut a model into partitions (run them as a pipeline: run --plan PLAN.json).\n"
               "  compare FP32 INT8 --data DATA          Per-tensor error of INT8 against FP32.\n"
               "  calibrate [--csv PATH] [--rows train|test|all]\n"
               "      Compare observers and schemes on a CSV of features (default %s).\n"
               "  version                                Tool and library versions, ISA path.\n"
               "\n"
               "MODEL is an .onnx file or a .q8 file. DATA is a CSV (.gz read transparently): one\n"
               "row per sample with the model input's features in C order, optionally followed by\n"
               "an integer label. Rows with index i %% 4 == 0 are the test split, the rest train.\n"
               "exit status: 0 success, 1 error (the message says which call failed), 2 bad usage\n",
               Q8_DEFAULT_CSV);
}

}  // namespace q8cli

using namespace q8cli;

namespace {

int version() {
  const unsigned lib = q8_version();
  std::printf("q8 %d.%d.%d (library %s, ISA %s)\n", Q8_VERSION_MAJOR, Q8_VERSION_MINOR, Q8_VERSION_PATCH,
              q8_version_string(), q8_isa_name(q8_runtime_isa()));
  if (lib / 10000 != Q8_VERSION_MAJOR) {
    std::fprintf(stderr, "q8: warning: library major version %u differs from the header's %d\n",
                 lib / 10000, Q8_VERSION_MAJOR);
    return kExitError;
  }
  return 0;
}

int run(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return kExitUsage;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    print_usage(stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    if (argc > 2) usage_error("version takes no arguments");
    return version();
  }
  const struct {
    const char *name;
    int (*fn)(int, char **);
  } commands[] = {{"calibrate", cmd_calibrate}, {"quantize", cmd_quantize}, {"run", cmd_run},
                  {"eval", cmd_eval},           {"bench", cmd_bench},       {"inspect", cmd_inspect},
                  {"compare", cmd_compare},     {"prune", cmd_prune},       {"export", cmd_export},
                  {"partition", cmd_partition}};
  for (const auto &c : commands)
    if (cmd == c.name) return c.fn(argc - 2, argv + 2);
  usage_error("unknown command '" + cmd + "'");
}

}  // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const CliError &e) {
    if (!e.message.empty()) {
      std::fprintf(stderr, "q8: %s\n", e.message.c_str());
      if (e.exit_code == kExitUsage) std::fprintf(stderr, "Try 'q8 --help'.\n");
    }
    return e.exit_code;
  } catch (const Q8Failure &f) {
    std::fprintf(stderr, "q8: %s failed: %s: %s\n", f.call, q8_status_string(f.status), f.detail.c_str());
    return kExitError;
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "q8: out of memory\n");
    return kExitError;
  }
}
