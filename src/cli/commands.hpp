// The q8 tool's commands: each takes the arguments after its name and returns the exit status,
// or throws CliError / Q8Failure (common.hpp).
#pragma once
#include <cstdio>

namespace q8cli {
void print_usage(FILE *f);
int cmd_calibrate(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_export(int argc, char **argv);
}  // namespace q8cli
