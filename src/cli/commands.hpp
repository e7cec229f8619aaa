// The q8 tool's commands: each takes the arguments after its name and returns the exit status,
// or throws CliError / Q8Failure (common.hpp).
#pragma once
#include <q8/q8.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

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
int cmd_partition(int argc, char **argv);

struct Dataset;
// Every row of `d` through a pipeline over the plan saved at `plan_path` for `m` (cmd_partition.cpp):
// one run at the data set's row count; `fn` gets output 0.
void run_with_plan(const q8_model *m, const std::string &plan_path, const Dataset &d, int64_t micro_batch,
                   std::size_t replicas, const std::function<void(const q8_tensor *)> &fn);
}  // namespace q8cli
