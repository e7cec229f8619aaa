// Exact contiguous splits (split.hpp). A part's cost never drops when it grows by a node (FLOPs
// add up; constant bytes are a union), so for a bound B the greedy split that extends each part
// while it stays within B uses the fewest parts any split within B can; and a split into fewer
// than `count` parts becomes one of exactly `count` by cutting parts further, which only lowers
// their costs. The best bound is therefore the smallest B whose greedy split needs <= count parts,
// found by binary search over the integers between the costliest node and the whole model.
#include "partition/split.hpp"

#include <algorithm>
#include <limits>

#include "core/error.hpp"
#include "partition/cost.hpp"

namespace q8::partition {
namespace {

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// One greedy pass. A part takes the next node while its cost by `balance` stays <= bound, its
// bytes <= max_bytes and (count > 0) enough nodes remain to give each later part one.
class Greedy {
 public:
  explicit Greedy(const NodeCosts &c) : c_(c), stamp_(c.const_bytes.size(), kNone) {}

  std::vector<std::size_t> run(uint64_t bound, uint64_t max_bytes, q8_partition_balance balance, std::size_t count) {
    const std::size_t n = c_.flops.size();
    std::vector<std::size_t> firsts;
    for (std::size_t j = 0; j < n; ++j) {
      bool extend = !firsts.empty();
      if (extend && count > 0) extend = n - j - 1 >= count - std::min(count, firsts.size());
      if (extend) {
        const uint64_t bytes = add_sat(bytes_, new_bytes(j, firsts.size() - 1));
        const uint64_t flops = add_sat(flops_, c_.flops[j]);
        extend = bytes <= max_bytes && (balance == Q8_PARTITION_BY_BYTES ? bytes : flops) <= bound;
      }
      if (!extend) {
        firsts.push_back(j);
        bytes_ = flops_ = 0;
      }
      bytes_ = add_sat(bytes_, take(j, firsts.size() - 1));
      flops_ = add_sat(flops_, c_.flops[j]);
    }
    std::fill(stamp_.begin(), stamp_.end(), kNone);
    return firsts;
  }

 private:
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

  // Bytes node j adds to part `part` (constants the part does not read yet).
  uint64_t new_bytes(std::size_t j, std::size_t part) const {
    uint64_t b = 0;
    for (int id : c_.consts[j])
      if (stamp_[static_cast<std::size_t>(id)] != part) b = add_sat(b, c_.const_bytes[static_cast<std::size_t>(id)]);
    return b;
  }
  uint64_t take(std::size_t j, std::size_t part) {
    const uint64_t b = new_bytes(j, part);
    for (int id : c_.consts[j]) stamp_[static_cast<std::size_t>(id)] = part;
    return b;
  }

  const NodeCosts &c_;
  std::vector<std::size_t> stamp_;  // by value id: the last part that counted it
  uint64_t bytes_ = 0, flops_ = 0;
};

}  // namespace

uint64_t part_bytes(const NodeCosts &costs, std::size_t first, std::size_t last) {
  std::vector<int> seen;
  uint64_t b = 0;
  for (std::size_t j = first; j < last; ++j)
    for (int id : costs.consts[j])
      if (std::find(seen.begin(), seen.end(), id) == seen.end()) {
        seen.push_back(id);
        b = add_sat(b, costs.const_bytes[static_cast<std::size_t>(id)]);
      }
  return b;
}

std::vector<std::size_t> split(const NodeCosts &costs, std::size_t count, uint64_t max_bytes,
                               q8_partition_balance balance) {
  const std::size_t n = costs.flops.size();
  if (n == 0) fail(Q8_ERR_SHAPE, "the model has no nodes to partition");
  if (count > n)
    fail(Q8_ERR_SHAPE, "count = " + std::to_string(count) + " partitions, but the model has only " +
                           std::to_string(n) + " node" + (n == 1 ? "" : "s"));
  const uint64_t budget = max_bytes == 0 ? kNoLimit : max_bytes;
  // Each node fits alone, or no split can hold it; the costliest node bounds any split below.
  uint64_t lo = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const uint64_t bytes = part_bytes(costs, j, j + 1);
    if (bytes > budget)
      fail(Q8_ERR_SHAPE, "node '" + costs.names[j] + "' alone reads " + std::to_string(bytes) +
                             " bytes of constants, above max_bytes = " + std::to_string(max_bytes));
    lo = std::max(lo, balance == Q8_PARTITION_BY_BYTES ? bytes : costs.flops[j]);
  }
  Greedy greedy(costs);
  if (count == 0) count = greedy.run(kNoLimit, budget, balance, 0).size();
  uint64_t hi = 0;  // the whole model's cost: always enough without a budget
  if (balance == Q8_PARTITION_BY_BYTES) {
    hi = part_bytes(costs, 0, n);
  } else {
    for (uint64_t f : costs.flops) hi = add_sat(hi, f);
  }
  const std::size_t fewest = greedy.run(hi, budget, balance, 0).size();
  if (fewest > count)
    fail(Q8_ERR_SHAPE, std::to_string(count) + " partition" + (count == 1 ? "" : "s") + " cannot each hold at most " +
                           std::to_string(max_bytes) + " bytes of constants: at least " + std::to_string(fewest) +
                           " are needed");
  while (lo < hi) {  // the smallest bound whose greedy split needs <= count parts
    const uint64_t mid = lo + (hi - lo) / 2;
    if (greedy.run(mid, budget, balance, 0).size() <= count)
      hi = mid;
    else
      lo = mid + 1;
  }
  std::vector<std::size_t> firsts = greedy.run(lo, budget, balance, count);
  if (firsts.size() != count)
    fail(Q8_ERR_INTERNAL, "split: the final pass made " + std::to_string(firsts.size()) + " parts, not " +
                              std::to_string(count));
  return firsts;
}

}  // namespace q8::partition
