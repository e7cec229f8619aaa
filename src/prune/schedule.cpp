// Gradual pruning (Zhu & Gupta 2017, "To prune, or not to prune"): the target sparsity rises fast
// while the network has redundant weights to lose, then levels off as it approaches `final`.
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "prune/prune.hpp"

namespace q8::prune {

double schedule_cubic(double initial, double final, int64_t begin, int64_t end, int64_t frequency,
                      int64_t step) {
  // Comparisons written so that NaN fails them.
  if (!(initial >= 0.0 && initial <= 1.0))
    fail(Q8_ERR_INVALID_ARGUMENT, "initial = " + std::to_string(initial) + " is not in [0, 1]");
  if (!(final >= initial && final <= 1.0))
    fail(Q8_ERR_INVALID_ARGUMENT, "final = " + std::to_string(final) + " is not in [initial = " +
                                      std::to_string(initial) + ", 1]");
  if (begin < 0) fail(Q8_ERR_INVALID_ARGUMENT, "begin = " + std::to_string(begin) + " is negative");
  if (end <= begin)
    fail(Q8_ERR_INVALID_ARGUMENT, "end = " + std::to_string(end) + " is not greater than begin = " +
                                      std::to_string(begin));
  if (frequency < 1) fail(Q8_ERR_INVALID_ARGUMENT, "frequency = " + std::to_string(frequency) + " is not >= 1");
  // The ends are returned as given (the formula could be an ulp off), and `end` is always reached.
  if (step >= end) return final;
  const int64_t t = step <= begin ? begin : step - (step - begin) % frequency;
  if (t == begin) return initial;
  const double left = 1.0 - static_cast<double>(t - begin) / static_cast<double>(end - begin);
  return final + (initial - final) * (left * left * left);
}

}  // namespace q8::prune
