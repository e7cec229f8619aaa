#include "core/runtime.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.hpp"

namespace q8 {
namespace {

bool cpu_has(q8_isa isa) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  switch (isa) {
    case Q8_ISA_SCALAR: return true;
    case Q8_ISA_AVX2: return avx2;
    case Q8_ISA_AVX512: return avx512;
    case Q8_ISA_AVX512_VNNI: return avx512 && __builtin_cpu_supports("avx512vnni");
    default: return false;
  }
#elif defined(__aarch64__)
  return isa == Q8_ISA_SCALAR || isa == Q8_ISA_NEON;
#else
  return isa == Q8_ISA_SCALAR;
#endif
}

q8_isa isa_from_env() noexcept {
  const char *v = std::getenv("Q8_ISA");
  if (!v) return best_isa();
  const struct { const char *name; q8_isa isa; } names[] = {
      {"scalar", Q8_ISA_SCALAR}, {"avx2", Q8_ISA_AVX2}, {"avx512", Q8_ISA_AVX512},
      {"avx512_vnni", Q8_ISA_AVX512_VNNI}, {"neon", Q8_ISA_NEON}};
  for (const auto &n : names)
    if (std::strcmp(v, n.name) == 0 && cpu_has(n.isa)) return n.isa;
  return best_isa();
}

std::atomic<int> g_isa{-2};  // -2: not read from the environment yet

std::mutex g_arena_mutex;
int g_threads = 0;
std::unique_ptr<oneapi::tbb::task_arena> g_arena;

oneapi::tbb::task_arena &arena() {
  std::lock_guard<std::mutex> lock(g_arena_mutex);
  if (!g_arena)  // the default constructor means "all cores"
    g_arena = g_threads > 0 ? std::make_unique<oneapi::tbb::task_arena>(g_threads)
                            : std::make_unique<oneapi::tbb::task_arena>();
  return *g_arena;
}

}  // namespace

bool isa_supported(q8_isa isa) noexcept { return isa != Q8_ISA_AUTO && cpu_has(isa); }

q8_isa best_isa() noexcept {
  for (q8_isa isa : {Q8_ISA_AVX512_VNNI, Q8_ISA_AVX512, Q8_ISA_AVX2, Q8_ISA_NEON})
    if (cpu_has(isa)) return isa;
  return Q8_ISA_SCALAR;
}

q8_isa active_isa() noexcept {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v == -2) {
    v = isa_from_env();
    g_isa.store(v, std::memory_order_relaxed);
  }
  return static_cast<q8_isa>(v);
}

void set_isa(q8_isa isa) {
  if (isa == Q8_ISA_AUTO) {
    g_isa.store(best_isa());
    return;
  }
  if (isa < Q8_ISA_SCALAR || isa > Q8_ISA_NEON)
    fail(Q8_ERR_INVALID_ARGUMENT, "isa = " + std::to_string(int(isa)) + " is not a q8_isa");
  if (!cpu_has(isa))
    fail(Q8_ERR_UNSUPPORTED, "isa = " + std::to_string(int(isa)) + ": this CPU or build cannot run that ISA path");
  g_isa.store(isa);
}

void set_threads(int threads) {
  if (threads < 0) fail(Q8_ERR_INVALID_ARGUMENT, "threads = " + std::to_string(threads) + " is negative");
  std::lock_guard<std::mutex> lock(g_arena_mutex);
  g_threads = threads;
  g_arena.reset();
}

int threads() noexcept {
  std::lock_guard<std::mutex> lock(g_arena_mutex);
  return g_threads;
}

namespace {
thread_local int t_serial = 0;  // SerialKernels scopes open on this thread
}

SerialKernels::SerialKernels() noexcept { ++t_serial; }
SerialKernels::~SerialKernels() { --t_serial; }

void parallel_for(std::size_t n, std::size_t grain, std::size_t inline_below,
                  const std::function<void(std::size_t, std::size_t)> &body) {
  if (n == 0) return;
  if (n < inline_below || grain >= n) {
    body(0, n);
    return;
  }
  const std::size_t chunks = (n + grain - 1) / grain;
  auto run_chunks = [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) body(c * grain, std::min(n, (c + 1) * grain));
  };
  if (t_serial > 0) return run_chunks(0, chunks);
  arena().execute([&] {
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::size_t>(0, chunks, 1),
                              [&](const oneapi::tbb::blocked_range<std::size_t> &r) { run_chunks(r.begin(), r.end()); });
  });
}

}  // namespace q8
