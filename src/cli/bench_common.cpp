// Shared pieces of q8 bench: input batch, paired rounds, peak memory in a child process.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench.hpp"

namespace q8cli {

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double max_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) * 1024.0;
}

}  // namespace

BenchSetup bench_setup(const Args &a, const InputSpec &spec) {
  if (a.has("--threads")) Q8_CHECK(q8_runtime_set_threads(static_cast<int>(a.get_int("--threads", 0, 0, 1024))));
  BenchSetup b;
  b.spec = spec;
  b.batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));
  b.rounds = static_cast<int>(a.get_int("--rounds", 15, 1, 100000));
  b.reps = static_cast<int>(a.get_int("--reps", 20, 1, 1000000));
  b.rows.rows = b.batch;
  b.rows.features = spec.features;
  b.rows.x.resize(b.batch * spec.features);
  if (a.has("--data")) {
    b.data = load_dataset(a.get("--data"), a.get("--rows", "test"), spec.features, a.get_double("--input-scale", 1.0));
    for (std::size_t i = 0; i < b.rows.x.size(); ++i) b.rows.x[i] = b.data.x[i % b.data.x.size()];
  } else {
    uint32_t state = 12345;
    for (float &v : b.rows.x) {
      state = state * 1664525u + 1013904223u;
      v = float(state >> 8) / float(1u << 24);
    }
  }
  return b;
}

std::vector<double> paired_medians(int rounds, int reps, const std::vector<std::function<void()>> &sides) {
  std::vector<std::vector<double>> times(sides.size());
  for (int r = 0; r < rounds; ++r)
    for (std::size_t s = 0; s < sides.size(); ++s) {
      const double t0 = now();
      for (int k = 0; k < reps; ++k) sides[s]();
      times[s].push_back((now() - t0) / reps);
    }
  std::vector<double> medians;
  for (std::vector<double> &t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

RssPeak peak_rss(const std::function<void()> &work) {
  int fd[2];
  if (pipe(fd) != 0) throw CliError{"pipe failed", kExitError};
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw CliError{"fork failed", kExitError};
  if (pid == 0) {
    close(fd[0]);
    double r[2] = {max_rss_bytes(), -1};
    try {
      work();
      r[1] = max_rss_bytes();
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
  RssPeak p;
  if (got == sizeof r) {
    p.base = r[0];
    p.peak = r[1];
  }
  return p;
}

RssPeak session_rss(const std::string &path, const BenchSetup &b) {
  return peak_rss([&] {
    Model m = load_model(path);
    q8_session *p = nullptr;
    Q8_CHECK(q8_session_create(m.get(), static_cast<int64_t>(b.batch), &p));
    Session s(p);
    Tensor x = batch_tensor(b.rows, b.spec, 0, b.batch);
    const q8_tensor *in = x.get();
    Q8_CHECK(q8_session_run(s.get(), &in, 1));
  });
}

void print_bench_header(const BenchSetup &b) {
  const int threads = q8_runtime_threads();
  const std::string thread_text =
      threads > 0 ? std::to_string(threads) + (threads == 1 ? " thread" : " threads") : std::string("all cores");
  std::printf("q8 bench: batch %zu, %s, ISA %s, %d paired rounds x %d batches\n", b.batch, thread_text.c_str(),
              q8_isa_name(q8_runtime_isa()), b.rounds, b.reps);
}

std::string ms_text(double seconds) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f ms", seconds * 1e3);
  return b;
}

}  // namespace q8cli
