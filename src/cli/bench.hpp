// Shared pieces of `q8 bench` (cmd_bench.cpp: model against model; bench_plan.cpp: a pipeline
// over a partition plan against the whole model): the input batch, paired timing rounds and peak
// memory in a child process.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model_io.hpp"

namespace q8cli {

// What both modes take from the command line: --batch, --rounds, --reps, --threads (applied to
// the run time here), and the batch of input rows: --data's first rows, repeated as needed, or
// a fixed pseudo-random batch in [0, 1).
struct BenchSetup {
  InputSpec spec;  // the model's input
  std::size_t batch = 64;
  int rounds = 15, reps = 20;
  Dataset rows;  // exactly `batch` rows, no labels: what every timed run reads
  Dataset data;  // --data as loaded (labels for accuracy); empty without --data
};
BenchSetup bench_setup(const Args &a, const InputSpec &spec);

// Times each side `reps` times per round for `rounds` rounds, the sides in turn within a round
// (A, B, A, B ...: the shared machine's drift hits all alike). Returns each side's median
// seconds per call.
std::vector<double> paired_medians(int rounds, int reps, const std::vector<std::function<void()>> &sides);

// Peak RSS while `work` runs in a forked child, and the child's RSS before it (bytes); -1 for a
// peak that could not be measured (the work failed). One subject's pages never count against
// another's.
struct RssPeak {
  double base = 0, peak = -1;
};
RssPeak peak_rss(const std::function<void()> &work);
// peak_rss of loading the model at `path` and running one batch of b.rows on a session.
RssPeak session_rss(const std::string &path, const BenchSetup &b);

// "q8 bench: batch 64, all cores, ISA ..., 15 paired rounds x 20 batches".
void print_bench_header(const BenchSetup &b);
std::string ms_text(double seconds);

// q8 bench MODEL --plan PLAN.json: bench_plan.cpp.
int bench_plan(const Args &a, const std::string &model_path, const q8_model *m, const BenchSetup &b);

}  // namespace q8cli
