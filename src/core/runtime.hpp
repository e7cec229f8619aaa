// Process-wide run-time settings: which ISA path the kernels take and how many threads q8 uses.
#pragma once
#include <cstddef>
#include <functional>

#include "q8/common.h"

namespace q8 {

bool isa_supported(q8_isa isa) noexcept;
q8_isa best_isa() noexcept;
// The path kernels take now (never Q8_ISA_AUTO).
q8_isa active_isa() noexcept;
void set_isa(q8_isa isa);  // throws Q8_ERR_UNSUPPORTED / Q8_ERR_INVALID_ARGUMENT

void set_threads(int threads);  // 0 = all cores
int threads() noexcept;         // the limit as set (0 = all cores)

// Runs body(begin, end) over [0, n) in chunks of `grain` or more, on q8's arena. Below
// `inline_below` elements the whole range runs on the calling thread. Chunk boundaries depend
// only on n and grain, so element-wise results never depend on the thread count. Inside a
// SerialKernels scope the same chunks run one after another on the calling thread.
void parallel_for(std::size_t n, std::size_t grain, std::size_t inline_below,
                  const std::function<void(std::size_t, std::size_t)> &body);

// While one lives, parallel_for on this thread runs serially (a pipeline stage whose own thread
// is all the parallelism wanted). Scopes nest.
class SerialKernels {
 public:
  SerialKernels() noexcept;
  ~SerialKernels();
  SerialKernels(const SerialKernels &) = delete;
  SerialKernels &operator=(const SerialKernels &) = delete;
};

}  // namespace q8
