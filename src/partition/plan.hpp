// Partition plans (include/q8/partition.h): contiguous runs of a model's nodes in topological
// order, each with its cost, the tensors it reads and hands on, and a model of its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/graph.hpp"
#include "q8/partition.h"

namespace q8::partition {

// A graph input or output of the whole model: the pipeline slices it along dim 0.
struct Endpoint {
  std::string name;
  q8_dtype dtype = Q8_DTYPE_F32;
  std::vector<int64_t> shape;  // -1 where the dimension follows the batch
};

struct Part {
  std::size_t first = 0, count = 0;  // node range [first, first + count)
  uint64_t weight_bytes = 0;         // distinct constants its nodes read
  uint64_t flops = 0;                // at the plan's batch
  std::vector<std::string> inputs;   // non-constant tensors it reads and does not produce
  std::vector<std::string> outputs;  // tensors it produces for later partitions or the graph
  std::shared_ptr<const q8_model> model;  // its sub-model; constants share the source's bytes
};

struct Plan {
  std::vector<std::string> node_names;  // the model's nodes, in order
  q8_partition_balance balance = Q8_PARTITION_BY_BYTES;
  int64_t batch = 1;
  std::vector<Part> parts;
  std::vector<Endpoint> inputs, outputs;  // of the whole model
};

struct Options {
  std::size_t count = 0;
  uint64_t max_bytes = 0;  // 0: no budget
  q8_partition_balance balance = Q8_PARTITION_BY_BYTES;
  int64_t batch = 1;
};

// The split the options ask for (partition.h), then its parts. Throws Q8_ERR_SHAPE when the count
// or the budget cannot be met (naming the node whose constants alone exceed the budget),
// Q8_ERR_INVALID_ARGUMENT for options that ask nothing or a batch out of range.
Plan make_plan(const q8_model &model, const Options &options);

// The parts for given first nodes (firsts[0] == 0, strictly increasing, all < node count).
Plan plan_from_firsts(const q8_model &model, const std::vector<std::size_t> &firsts,
                      q8_partition_balance balance, int64_t batch);

std::string describe_text(const Plan &plan);
std::string to_json(const Plan &plan);
// Parses and checks a plan saved for `model` (docs/PARTITIONS.md); Q8_ERR_FORMAT names the
// problem.
Plan from_json(const q8_model &model, const void *bytes, std::size_t size);

}  // namespace q8::partition

struct q8_partition_plan {
  q8::partition::Plan plan;
};
