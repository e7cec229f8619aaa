// Batched GEMM scheduling: independent products either side by side on q8's arena (each small
// enough that the driver would run it inline anyway) or one after the other with the driver's
// own parallelism inside each. Each product is computed exactly as a single call, so C's bits
// never depend on which of the two happens or on the thread count.
#include <algorithm>

#include "core/runtime.hpp"
#include "gemm/batched.hpp"

namespace q8::gemm {

void for_each_batch(int64_t count, double ops_per_item, const std::function<void(int64_t)> &body) {
  if (count <= 0) return;
  constexpr double kSmall = double(int64_t(1) << 21);  // the driver's inline threshold
  if (ops_per_item >= kSmall) {
    for (int64_t i = 0; i < count; ++i) body(i);
    return;
  }
  // Chunks of about kSmall multiply-adds; the whole batch inline when it is that small.
  const size_t grain = size_t(std::max(1.0, kSmall / std::max(ops_per_item, 1.0)));
  parallel_for(size_t(count), grain, double(count) * ops_per_item < kSmall ? SIZE_MAX : 2,
               [&](size_t i0, size_t i1) {
                 for (size_t i = i0; i < i1; ++i) body(int64_t(i));
               });
}

}  // namespace q8::gemm
