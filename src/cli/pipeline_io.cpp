// Partition plans and pipelines for the q8 tool's commands.
#include "pipeline_io.hpp"

namespace q8cli {

Plan load_plan(const q8_model *m, const std::string &path) {
  q8_partition_plan *p = nullptr;
  // The library's message says what does not fit; the file it came from is the tool's to add.
  if (q8_partition_plan_load(m, path.c_str(), &p) != Q8_OK) throw CliError{path + ": " + q8_last_error(), kExitError};
  return Plan(p);
}

Pipeline make_pipeline(const q8_partition_plan *plan, int64_t batch, const PipelineSettings &s) {
  q8_pipeline_options o;
  Q8_CHECK(q8_pipeline_options_init(&o));
  o.micro_batch = s.micro_batch;
  o.replicas = s.replicas;
  o.max_in_flight = s.max_in_flight;
  o.threads = s.threads;
  o.serial_stages = s.serial_stages ? 1 : 0;
  q8_pipeline *p = nullptr;
  Q8_CHECK(q8_pipeline_create(plan, batch, &o, &p));
  return Pipeline(p);
}

}  // namespace q8cli
