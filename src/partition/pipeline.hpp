// Pipelines (include/q8/partition.h): a plan's partitions on a oneTBB flow graph. Micro-batches
// (row ranges of the batch) enter through a limiter, flow through one function_node per
// partition (each taking a free session from its pool of replicas) and end in a node that copies
// their rows of the graph outputs into the full-batch outputs. docs/PARTITIONS.md has the picture.
#pragma once
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "partition/plan.hpp"
#include "runtime/session.hpp"

namespace q8::partition {

struct PipelineOptions {
  int64_t micro_batch = 0;        // 0 (or >= batch): one micro-batch of the whole batch
  std::size_t replicas = 1;
  std::size_t max_in_flight = 0;  // 0: partitions + replicas
  std::size_t threads = 0;        // 0: q8's run-time setting
  bool serial_stages = false;     // kernels on the stage's own thread (q8::SerialKernels)
};

class Pipeline {
 public:
  // Sessions for every partition at the micro-batch size (replicas each) and at the last
  // micro-batch's size if it is shorter. Throws Q8_ERR_UNSUPPORTED naming a graph input or output
  // whose first dimension is not the batch (the only one micro-batches can slice).
  Pipeline(const Plan &plan, int64_t batch, const PipelineOptions &options);
  Pipeline(const Pipeline &) = delete;
  Pipeline &operator=(const Pipeline &) = delete;

  // As rt::Session::run on the whole model. Throws Q8_ERR_STATE if a run is under way; an error
  // inside the graph stops it and is rethrown here (the first one, as it was thrown).
  void run(const q8_tensor *const *inputs, std::size_t count);
  const q8_tensor &output(std::size_t index) const;
  std::size_t output_count() const noexcept { return results_.size(); }

 private:
  // Where a partition input or a graph output comes from: graph input `index` or the
  // cross-partition tensor `index` of the micro-batch's slot.
  struct Source {
    bool graph_input = false;
    std::size_t index = 0;
  };
  struct Buffer {
    q8_tensor t;
    std::size_t capacity = 0;
  };
  struct Slot {  // the tensors between partitions of one micro-batch in flight
    std::vector<Buffer> tensors;
  };
  struct Stage {
    std::shared_ptr<const q8_model> model;  // keeps the partition's weights alive
    std::vector<Source> inputs;
    std::vector<std::size_t> outputs;  // cross-partition tensor of each sub-model output
    std::vector<std::unique_ptr<rt::Session>> sessions;  // `replicas` at the micro-batch size
    std::unique_ptr<rt::Session> tail;                   // at the last micro-batch's size, if shorter
  };
  struct Work {
    std::size_t micro = 0;
    Slot *slot = nullptr;
  };

  Work run_stage(Stage &stage, std::size_t free_session, Work w, const q8_tensor *const *inputs) const;
  void gather(Work w, const q8_tensor *const *inputs, std::vector<char> &qp_set);
  // A view of rows [micro * micro_, ...) of graph input `index`.
  void slice(const q8_tensor &whole, std::size_t micro, q8_tensor *view) const;
  int64_t rows(std::size_t micro) const;

  std::vector<Endpoint> inputs_, outputs_;
  std::vector<Source> output_sources_;
  std::vector<Stage> stages_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<q8_tensor>> results_;  // the full-batch graph outputs
  int64_t batch_, micro_;
  std::size_t micro_count_, replicas_;
  bool serial_stages_;
  tbb::task_arena arena_;
  std::atomic<bool> running_{false};
  bool ran_ = false;
};

}  // namespace q8::partition

struct q8_pipeline {
  q8_pipeline(const q8::partition::Plan &plan, int64_t batch, const q8::partition::PipelineOptions &o)
      : pipeline(plan, batch, o) {}
  q8::partition::Pipeline pipeline;
};
