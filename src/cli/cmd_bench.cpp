// q8 bench: latency, bytes and peak memory of a model, side by side with a second one (e.g. the
// INT8 model against its FP32 original), or with --plan, the model's pipeline over a partition
// plan against its whole-model session (bench_plan.cpp). Latency is measured in paired rounds in
// this process (bench_common.cpp); peak memory in a forked child per subject.
#include <sys/stat.h>

#include <cstdio>
#include <vector>

#include "bench.hpp"
#include "commands.hpp"

namespace q8cli {

namespace {

struct Subject {
  std::string path;
  Model model;
  Session session;
  double latency = 0;  // median seconds per batch
  double file_bytes = 0, weight_bytes = 0, accuracy = -1;
  RssPeak rss;
};

}  // namespace

int cmd_bench(int argc, char **argv) {
  Args a("bench", argc, argv,
         {"--against", "--data", "--rows", "--input-scale", "--batch", "--rounds", "--reps", "--threads", "--plan",
          "--micro-batch", "--replicas", "--max-in-flight", "--pipeline-threads"},
         {"--json", "--serial-stages"});
  if (a.help()) {
    std::printf("usage: q8 bench MODEL [--against MODEL2] [--data DATA] [options]\n"
                "       q8 bench MODEL --plan PLAN.json [--micro-batch M] [--replicas R] [--max-in-flight N]\n"
                "                [--pipeline-threads T] [--serial-stages] [options]\n"
                "  Latency per batch (median of paired rounds), file and weight bytes, peak RSS (a\n"
                "  child process per model: load + one batch), and top-1 accuracy when DATA has\n"
                "  labels (rows: test by default). With --against, the ratios MODEL / MODEL2.\n"
                "  With --plan (from q8 partition), MODEL's pipeline over the plan's partitions against\n"
                "  MODEL's whole-model session at the same batch: first whether their outputs are\n"
                "  identical (memcmp of every output), then latency and rows/s of both with the ratio\n"
                "  pipeline / whole, peak RSS of both, and each partition's constant bytes. M: rows per\n"
                "  micro-batch (default: the whole batch in one); R: sessions per partition (default 1);\n"
                "  N: micro-batches in flight (default: partitions + replicas); T: the pipeline's threads\n"
                "  (default: --threads; --threads 1 --pipeline-threads 2 keeps kernels single-threaded\n"
                "  inside the stages, docs/PARTITIONS.md; --serial-stages does that for the pipeline alone).\n"
                "  DATA only supplies rows.\n"
                "  --rounds N    paired rounds (default 15)   --reps N   batches per round (default 20)\n"
                "  --threads N   q8 worker threads (default: all cores)\n"
                "  --json        one JSON object instead of the table\n");
    std::printf(kDataHelp);
    return 0;
  }
  if (a.positional().size() != 1) usage_error("bench: give exactly one model (and --against for a second)");
  if (a.has("--plan") && a.has("--against"))
    usage_error("bench: --plan compares MODEL's pipeline with MODEL itself; it takes no --against");
  for (const char *o : {"--micro-batch", "--replicas", "--max-in-flight", "--pipeline-threads", "--serial-stages"})
    if (a.has(o) && !a.has("--plan")) usage_error(std::string("bench: ") + o + " needs --plan PLAN.json");

  std::vector<Subject> subjects(a.has("--against") ? 2 : 1);
  subjects[0].path = a.positional()[0];
  if (subjects.size() == 2) subjects[1].path = a.get("--against");
  for (Subject &s : subjects) s.model = load_model(s.path);
  const BenchSetup b = bench_setup(a, input_spec(subjects[0].model.get()));
  if (a.has("--plan")) return bench_plan(a, subjects[0].path, subjects[0].model.get(), b);

  Tensor x = batch_tensor(b.rows, b.spec, 0, b.batch);
  const q8_tensor *in = x.get();
  std::vector<std::function<void()>> sides;
  for (Subject &s : subjects) {
    struct stat st{};
    if (stat(s.path.c_str(), &st) == 0) s.file_bytes = double(st.st_size);
    size_t wb = 0;
    Q8_CHECK(q8_model_weight_bytes(s.model.get(), &wb));
    s.weight_bytes = double(wb);
    q8_session *p = nullptr;
    Q8_CHECK(q8_session_create(s.model.get(), static_cast<int64_t>(b.batch), &p));
    s.session.reset(p);
    for (int w = 0; w < 3; ++w) Q8_CHECK(q8_session_run(s.session.get(), &in, 1));
    if (!b.data.labels.empty()) s.accuracy = accuracy(s.model.get(), b.data, b.batch);
    sides.push_back([&s, &in] { Q8_CHECK(q8_session_run(s.session.get(), &in, 1)); });
  }
  const std::vector<double> medians = paired_medians(b.rounds, b.reps, sides);
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    subjects[i].latency = medians[i];
    subjects[i].rss = session_rss(subjects[i].path, b);
  }

  if (a.has("--json")) {
    std::printf("{\"batch\":%zu,\"threads\":%d,\"isa\":\"%s\",\"models\":[", b.batch, q8_runtime_threads(),
                q8_isa_name(q8_runtime_isa()));
    for (std::size_t i = 0; i < subjects.size(); ++i) {
      const Subject &s = subjects[i];
      std::printf("%s{\"path\":\"%s\",\"latency_s\":%.9g,\"file_bytes\":%.0f,\"weight_bytes\":%.0f,"
                  "\"peak_rss\":%.0f,\"base_rss\":%.0f,\"accuracy\":%.6f}",
                  i ? "," : "", s.path.c_str(), s.latency, s.file_bytes, s.weight_bytes, s.rss.peak, s.rss.base,
                  s.accuracy);
    }
    std::printf("]}\n");
    return 0;
  }
  print_bench_header(b);
  std::printf("%-22s", "");
  for (const Subject &s : subjects) std::printf(" %22s", s.path.size() > 22 ? s.path.substr(s.path.size() - 22).c_str() : s.path.c_str());
  if (subjects.size() == 2) std::printf(" %9s", "ratio");
  std::printf("\n");
  auto row = [&](const char *label, auto value, auto show, bool ratio) {
    std::printf("%-22s", label);
    for (const Subject &s : subjects) std::printf(" %22s", show(value(s)).c_str());
    if (subjects.size() == 2 && ratio && value(subjects[1]) > 0)
      std::printf(" %8.3fx", value(subjects[0]) / value(subjects[1]));
    std::printf("\n");
  };
  auto bytes = [](double v) { return v < 0 ? std::string("n/a") : human_bytes(v); };
  if (!b.data.labels.empty()) {
    std::printf("%-22s", "top-1 accuracy");
    for (const Subject &s : subjects) std::printf(" %21.2f%%", 100.0 * s.accuracy);
    if (subjects.size() == 2) std::printf(" %+7.2f pt", 100.0 * (subjects[0].accuracy - subjects[1].accuracy));
    std::printf("\n");
  }
  row("file bytes", [](const Subject &s) { return s.file_bytes; }, bytes, true);
  row("weight bytes", [](const Subject &s) { return s.weight_bytes; }, bytes, true);
  row("latency / batch", [](const Subject &s) { return s.latency; }, ms_text, true);
  row("peak RSS", [](const Subject &s) { return s.rss.peak; }, bytes, true);
  row("peak RSS - baseline", [](const Subject &s) { return s.rss.peak < 0 ? -1.0 : s.rss.peak - s.rss.base; }, bytes, true);
  std::printf("(latency: median over rounds; peak RSS: a child that loads the model and runs one batch;\n"
              " baseline: the child's RSS before loading)\n");
  return 0;
}

}  // namespace q8cli
