// q8_partition_* and q8_pipeline_* entry points: argument checks around src/partition/.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "capi/caller_memory.hpp"
#include "capi/guard.hpp"
#include "format/atomic_file.hpp"
#include "partition/pipeline.hpp"
#include "partition/plan.hpp"
#include "q8/partition.h"

using namespace q8;

namespace {

const partition::Plan &deref_plan(const q8_partition_plan *p) {
  if (!p) fail(Q8_ERR_INVALID_ARGUMENT, "plan is NULL");
  return p->plan;
}

const partition::Part &part_at(const q8_partition_plan *p, size_t index) {
  const partition::Plan &plan = deref_plan(p);
  if (index >= plan.parts.size())
    fail(Q8_ERR_INVALID_ARGUMENT, "partition index " + std::to_string(index) + " is out of range (the plan has " +
                                      std::to_string(plan.parts.size()) + ")");
  return plan.parts[index];
}

const char *name_at(const std::vector<std::string> &names, size_t i, const char *what) {
  if (i >= names.size())
    fail(Q8_ERR_INVALID_ARGUMENT, std::string(what) + " " + std::to_string(i) + " is out of range (the partition has " +
                                      std::to_string(names.size()) + ")");
  return names[i].c_str();
}

}  // namespace

extern "C" {

q8_status q8_partition_options_init(q8_partition_options *options) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    *options = q8_partition_options{};
    options->struct_size = sizeof *options;
    options->balance = Q8_PARTITION_BY_BYTES;
    options->batch = 1;
  });
}

q8_status q8_partition_plan_create(const q8_model *model, const q8_partition_options *options,
                                   q8_partition_plan **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(options);
    Q8_CHECK_NOT_NULL(out);
    q8_partition_options d;
    q8_partition_options_init(&d);
    const q8_partition_options o =
        read_versioned(*options, sizeof(q8_partition_options), d, "options", "q8_partition_options_init");
    const int balance = enum_bits(o.balance);
    Q8_CHECK_ARG(balance == Q8_PARTITION_BY_BYTES || balance == Q8_PARTITION_BY_FLOPS,
                 "options->balance = " + std::to_string(balance) + " is not a q8_partition_balance");
    partition::Options po;
    po.count = o.count;
    po.max_bytes = o.max_bytes;
    po.balance = static_cast<q8_partition_balance>(balance);
    po.batch = o.batch;
    auto p = std::make_unique<q8_partition_plan>();
    p->plan = partition::make_plan(*model, po);
    *out = p.release();
  });
}

void q8_partition_plan_destroy(q8_partition_plan *plan) { delete plan; }

q8_status q8_partition_plan_count(const q8_partition_plan *plan, size_t *count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(count);
    *count = deref_plan(plan).parts.size();
  });
}

q8_status q8_partition_plan_info(const q8_partition_plan *plan, size_t index, q8_partition_info *info) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(info);
    Q8_CHECK_ARG(info->struct_size >= sizeof info->struct_size && info->struct_size <= 4096,
                 "info->struct_size = " + std::to_string(info->struct_size) + " is not a known size (set it to sizeof)");
    const partition::Part &p = part_at(plan, index);
    q8_partition_info s{};
    s.struct_size = info->struct_size;
    s.first_node = p.first;
    s.node_count = p.count;
    s.weight_bytes = p.weight_bytes;
    s.flops = p.flops;
    s.input_count = p.inputs.size();
    s.output_count = p.outputs.size();
    std::memcpy(info, &s, std::min(info->struct_size, sizeof s));
  });
}

q8_status q8_partition_plan_input(const q8_partition_plan *plan, size_t index, size_t i, const char **name) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(name);
    *name = name_at(part_at(plan, index).inputs, i, "input");
  });
}

q8_status q8_partition_plan_output(const q8_partition_plan *plan, size_t index, size_t i, const char **name) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(name);
    *name = name_at(part_at(plan, index).outputs, i, "output");
  });
}

q8_status q8_partition_plan_model(const q8_partition_plan *plan, size_t index, q8_model **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(out);
    const partition::Part &p = part_at(plan, index);
    *out = new q8_model{p.model->graph};  // a copy of the graph; constants share their bytes
  });
}

q8_status q8_partition_plan_describe(const q8_partition_plan *plan, int json, char **text) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(text);
    const partition::Plan &p = deref_plan(plan);
    *text = capi::caller_string(json ? partition::to_json(p) : partition::describe_text(p));
  });
}

q8_status q8_partition_plan_save(const q8_partition_plan *plan, const char *path) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(path);
    const std::string json = partition::to_json(deref_plan(plan));
    format::write_file_atomic(path, "save", [&](const format::WriteFn &write) { write(json.data(), json.size()); });
  });
}

q8_status q8_partition_plan_load(const q8_model *model, const char *path, q8_partition_plan **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_NOT_NULL(path);
    Q8_CHECK_NOT_NULL(out);
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(Q8_ERR_IO, std::string("cannot open '") + path + "': " + std::strerror(errno));
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) fail(Q8_ERR_IO, std::string("cannot read '") + path + "'");
    auto p = std::make_unique<q8_partition_plan>();
    p->plan = partition::from_json(*model, bytes.data(), bytes.size());
    *out = p.release();
  });
}

q8_status q8_partition_plan_load_bytes(const q8_model *model, const void *json, size_t size, q8_partition_plan **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(model);
    Q8_CHECK_ARG(json != nullptr || size == 0, "json is NULL");
    Q8_CHECK_NOT_NULL(out);
    auto p = std::make_unique<q8_partition_plan>();
    p->plan = partition::from_json(*model, json ? json : "", size);
    *out = p.release();
  });
}

q8_status q8_pipeline_options_init(q8_pipeline_options *options) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    *options = q8_pipeline_options{};
    options->struct_size = sizeof *options;
    options->replicas = 1;
  });
}

q8_status q8_pipeline_create(const q8_partition_plan *plan, int64_t batch, const q8_pipeline_options *options,
                             q8_pipeline **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(out);
    const partition::Plan &p = deref_plan(plan);
    q8_pipeline_options o;
    q8_pipeline_options_init(&o);
    if (options)
      o = read_versioned(*options, offsetof(q8_pipeline_options, threads) + sizeof(size_t), o, "options",
                         "q8_pipeline_options_init");
    partition::PipelineOptions po;
    po.micro_batch = o.micro_batch;
    po.replicas = o.replicas;
    po.max_in_flight = o.max_in_flight;
    po.threads = o.threads;
    po.serial_stages = o.serial_stages != 0;
    *out = new q8_pipeline(p, batch, po);
  });
}

void q8_pipeline_destroy(q8_pipeline *pipeline) { delete pipeline; }

q8_status q8_pipeline_run(q8_pipeline *pipeline, const q8_tensor *const *inputs, size_t count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(pipeline);
    pipeline->pipeline.run(inputs, count);
  });
}

q8_status q8_pipeline_output_count(const q8_pipeline *pipeline, size_t *count) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(pipeline);
    Q8_CHECK_NOT_NULL(count);
    *count = pipeline->pipeline.output_count();
  });
}

q8_status q8_pipeline_output(const q8_pipeline *pipeline, size_t index, const q8_tensor **out) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(pipeline);
    Q8_CHECK_NOT_NULL(out);
    *out = &pipeline->pipeline.output(index);
  });
}

}  // extern "C"
