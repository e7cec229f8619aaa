// q8 bench: latency, bytes and peak memory of a model, side by side with a second one (e.g. the
// INT8 model against its FP32 original). Latency is measured in paired rounds in this process
// (A, B, A, B ...: the shared machine's drift hits both alike); peak memory in a forked child per
// model, so one model's pages never count against the other.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "commands.hpp"
#include "model_io.hpp"

namespace q8cli {

namespace {

struct Subject {
  std::string path;
  Model model;
  Session session;
  std::vector<double> times;  // seconds per batch, one per round
  double file_bytes = 0, weight_bytes = 0, peak_rss = 0, base_rss = 0, accuracy = -1;
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double max_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) * 1024.0;
}

// Peak RSS of loading `path` and running one batch, measured in a child process.
void measure_memory(Subject &s, const std::vector<float> &input, const InputSpec &spec, std::size_t batch) {
  int fd[2];
  if (pipe(fd) != 0) throw CliError{"pipe failed", kExitError};
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw CliError{"fork failed", kExitError};
  if (pid == 0) {
    close(fd[0]);
    double r[2] = {max_rss_bytes(), -1};
    try {
      Model m = load_model(s.path);
      q8_session *p = nullptr;
      if (q8_session_create(m.get(), static_cast<int64_t>(batch), &p) == Q8_OK) {
        Session ss(p);
        Dataset d;
        d.rows = batch;
        d.features = spec.features;
        d.x = input;
        Tensor x = batch_tensor(d, spec, 0, batch);
        const q8_tensor *in = x.get();
        if (q8_session_run(ss.get(), &in, 1) == Q8_OK) r[1] = max_rss_bytes();
      }
    } catch (...) {
    }
    ssize_t w = write(fd[1], r, sizeof r);
    _exit(w == sizeof r ? 0 : 1);
  }
  close(fd[1]);
  double r[2] = {0, -1};
  ssize_t got = read(fd[0], r, sizeof r);
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got == sizeof r) {
    s.base_rss = r[0];
    s.peak_rss = r[1];
  }
}

}  // namespace

int cmd_bench(int argc, char **argv) {
  Args a("bench", argc, argv, {"--against", "--data", "--rows", "--input-scale", "--batch", "--rounds", "--reps", "--threads"},
         {"--json"});
  if (a.help()) {
    std::printf("usage: q8 bench MODEL [--against MODEL2] [--data DATA] [options]\n"
                "  Latency per batch (median of paired rounds), file and weight bytes, peak RSS (a\n"
                "  child process per model: load + one batch), and top-1 accuracy when DATA has\n"
                "  labels (rows: test by default). With --against, the ratios MODEL / MODEL2.\n"
                "  --rounds N    paired rounds (default 15)   --reps N   batches per round (default 20)\n"
                "  --threads N   q8 worker threads (default: all cores)\n"
                "  --json        one JSON object instead of the table\n");
    std::printf(kDataHelp);
    return 0;
  }
  if (a.positional().size() != 1) usage_error("bench: give exactly one model (and --against for a second)");
  if (a.has("--threads")) Q8_CHECK(q8_runtime_set_threads(static_cast<int>(a.get_int("--threads", 0, 0, 1024))));
  const std::size_t batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));
  const int rounds = static_cast<int>(a.get_int("--rounds", 15, 1, 100000));
  const int reps = static_cast<int>(a.get_int("--reps", 20, 1, 1000000));

  std::vector<Subject> subjects(a.has("--against") ? 2 : 1);
  subjects[0].path = a.positional()[0];
  if (subjects.size() == 2) subjects[1].path = a.get("--against");
  for (Subject &s : subjects) s.model = load_model(s.path);
  const InputSpec spec = input_spec(subjects[0].model.get());

  Dataset d;
  std::vector<float> input(batch * spec.features);
  if (a.has("--data")) {
    d = load_dataset(a.get("--data"), a.get("--rows", "test"), spec.features, a.get_double("--input-scale", 1.0));
    for (std::size_t i = 0; i < input.size(); ++i) input[i] = d.x[i % d.x.size()];
  } else {
    uint32_t state = 12345;
    for (float &v : input) {
      state = state * 1664525u + 1013904223u;
      v = float(state >> 8) / float(1u << 24);
    }
  }
  Dataset one;
  one.rows = batch;
  one.features = spec.features;
  one.x = input;
  Tensor x = batch_tensor(one, spec, 0, batch);
  const q8_tensor *in = x.get();

  for (Subject &s : subjects) {
    struct stat st{};
    if (stat(s.path.c_str(), &st) == 0) s.file_bytes = double(st.st_size);
    size_t wb = 0;
    Q8_CHECK(q8_model_weight_bytes(s.model.get(), &wb));
    s.weight_bytes = double(wb);
    q8_session *p = nullptr;
    Q8_CHECK(q8_session_create(s.model.get(), static_cast<int64_t>(batch), &p));
    s.session.reset(p);
    for (int w = 0; w < 3; ++w) Q8_CHECK(q8_session_run(s.session.get(), &in, 1));
    if (!d.labels.empty()) s.accuracy = accuracy(s.model.get(), d, batch);
  }
  for (int r = 0; r < rounds; ++r)
    for (Subject &s : subjects) {
      const double t0 = now();
      for (int k = 0; k < reps; ++k) Q8_CHECK(q8_session_run(s.session.get(), &in, 1));
      s.times.push_back((now() - t0) / reps);
    }
  for (Subject &s : subjects) {
    std::sort(s.times.begin(), s.times.end());
    measure_memory(s, input, spec, batch);
  }

  auto med = [](const Subject &s) { return s.times[s.times.size() / 2]; };
  if (a.has("--json")) {
    std::printf("{\"batch\":%zu,\"threads\":%d,\"isa\":\"%s\",\"models\":[", batch, q8_runtime_threads(),
                q8_isa_name(q8_runtime_isa()));
    for (std::size_t i = 0; i < subjects.size(); ++i) {
      const Subject &s = subjects[i];
      std::printf("%s{\"path\":\"%s\",\"latency_s\":%.9g,\"file_bytes\":%.0f,\"weight_bytes\":%.0f,"
                  "\"peak_rss\":%.0f,\"base_rss\":%.0f,\"accuracy\":%.6f}",
                  i ? "," : "", s.path.c_str(), med(s), s.file_bytes, s.weight_bytes, s.peak_rss, s.base_rss, s.accuracy);
    }
    std::printf("]}\n");
    return 0;
  }
  const int threads = q8_runtime_threads();
  const std::string thread_text = threads > 0 ? std::to_string(threads) + " threads" : std::string("all cores");
  std::printf("q8 bench: batch %zu, %s, ISA %s, %d paired rounds x %d batches\n", batch, thread_text.c_str(),
              q8_isa_name(q8_runtime_isa()), rounds, reps);
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
  auto ms = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f ms", v * 1e3);
    return std::string(b);
  };
  auto bytes = [](double v) { return v < 0 ? std::string("n/a") : human_bytes(v); };
  if (!d.labels.empty()) {
    std::printf("%-22s", "top-1 accuracy");
    for (const Subject &s : subjects) std::printf(" %21.2f%%", 100.0 * s.accuracy);
    if (subjects.size() == 2) std::printf(" %+7.2f pt", 100.0 * (subjects[0].accuracy - subjects[1].accuracy));
    std::printf("\n");
  }
  row("file bytes", [](const Subject &s) { return s.file_bytes; }, bytes, true);
  row("weight bytes", [](const Subject &s) { return s.weight_bytes; }, bytes, true);
  row("latency / batch", med, ms, true);
  row("peak RSS", [](const Subject &s) { return s.peak_rss; }, bytes, true);
  row("peak RSS - baseline", [](const Subject &s) { return s.peak_rss < 0 ? -1.0 : s.peak_rss - s.base_rss; }, bytes, true);
  std::printf("(latency: median over rounds; peak RSS: a child that loads the model and runs one batch;\n"
              " baseline: the child's RSS before loading)\n");
  return 0;
}

}  // namespace q8cli
