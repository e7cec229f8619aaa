// The linear partition problem over a model's nodes in order: where to cut so that every part's
// cost stays within the bounds asked for (docs/PARTITIONS.md has the argument for exactness).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "q8/partition.h"

namespace q8::partition {

struct NodeCosts {
  std::vector<uint64_t> flops;             // by node
  std::vector<std::vector<int>> consts;    // by node: the distinct constants it reads
  std::vector<uint64_t> const_bytes;       // by value id (0 for non-constants)
  std::vector<std::string> names;          // by node, for messages
};

// The first node of each part:
//  - count > 0: exactly `count` parts, each within max_bytes (0: no budget), minimizing the
//    largest part's cost by `balance` (exact: the smallest feasible bound by binary search, each
//    bound checked greedily). Among equally good splits, earlier parts are as long as possible.
//  - count == 0: the fewest parts within max_bytes, then balanced among themselves as above.
// Throws Q8_ERR_SHAPE (count above the node count, a node over the budget by itself, count parts
// that cannot all fit the budget).
std::vector<std::size_t> split(const NodeCosts &costs, std::size_t count, uint64_t max_bytes,
                               q8_partition_balance balance);

// The constant bytes of nodes [first, last): each constant once.
uint64_t part_bytes(const NodeCosts &costs, std::size_t first, std::size_t last);

}  // namespace q8::partition
