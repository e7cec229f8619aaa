// Partition plans and pipelines for the q8 tool's commands (q8 partition, q8 run --plan,
// q8 bench --plan): owned handles, loading a plan for a model, preparing a pipeline.
#pragma once
#include <q8/q8.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common.hpp"

namespace q8cli {

struct PlanDeleter {
  void operator()(q8_partition_plan *p) const { q8_partition_plan_destroy(p); }
};
struct PipelineDeleter {
  void operator()(q8_pipeline *p) const { q8_pipeline_destroy(p); }
};
using Plan = std::unique_ptr<q8_partition_plan, PlanDeleter>;
using Pipeline = std::unique_ptr<q8_pipeline, PipelineDeleter>;

// The plan saved at `path` for `m` (q8_partition_plan_load checks that it fits the model).
Plan load_plan(const q8_model *m, const std::string &path);

// How a pipeline runs; 0 in any field means the library's default (q8_pipeline_options).
struct PipelineSettings {
  int64_t micro_batch = 0;
  std::size_t replicas = 1, max_in_flight = 0, threads = 0;
  bool serial_stages = false;
};

// A pipeline over `plan`'s partitions prepared for `batch` rows.
Pipeline make_pipeline(const q8_partition_plan *plan, int64_t batch, const PipelineSettings &s);

}  // namespace q8cli
