// q8_checkpoint_quantize: option checks and the report around src/checkpoint/stream.cpp.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>

#include "capi/guard.hpp"
#include "checkpoint/stream.hpp"
#include "q8/checkpoint.h"

using namespace q8;

namespace {

constexpr uint64_t kMinMemory = uint64_t{16} << 20;

ckpt::Options read_options(const q8_checkpoint_options *in) {
  q8_checkpoint_options o;
  q8_checkpoint_options_init(&o);
  if (in)
    o = read_versioned(*in, offsetof(q8_checkpoint_options, progress_user) + sizeof(void *), o, "options",
                       "q8_checkpoint_options_init");
  ckpt::Options c;
  const int format = enum_bits(o.format);
  Q8_CHECK_ARG(format == Q8_WEIGHTS_INT8_PER_CHANNEL || format == Q8_WEIGHTS_INT4_GROUPED,
               "options->format = " + std::to_string(format) + " is not a q8_weight_format");
  c.format = format == Q8_WEIGHTS_INT8_PER_CHANNEL ? ckpt::Format::kInt8PerChannel : ckpt::Format::kInt4Grouped;
  Q8_CHECK_ARG(o.group_size == 32 || o.group_size == 64 || o.group_size == 128,
               "options->group_size = " + std::to_string(o.group_size) + " (32, 64 or 128)");
  c.group = o.group_size;
  Q8_CHECK_ARG(o.max_memory >= kMinMemory,
               "options->max_memory = " + std::to_string(o.max_memory) + " bytes is below the 16 MiB minimum");
  c.max_memory = o.max_memory;
  Q8_CHECK_ARG(o.threads <= 4096, "options->threads = " + std::to_string(o.threads) + " is above 4096");
  c.threads = o.threads;
  c.min_elements = o.min_elements;
  Q8_CHECK_ARG(o.keep_fp32_count == 0 || o.keep_fp32 != nullptr, "options->keep_fp32 is NULL but keep_fp32_count is " +
                                                                     std::to_string(o.keep_fp32_count));
  for (std::size_t i = 0; i < o.keep_fp32_count; ++i) {
    Q8_CHECK_ARG(o.keep_fp32[i] != nullptr, "options->keep_fp32[" + std::to_string(i) + "] is NULL");
    c.keep.emplace_back(o.keep_fp32[i]);
  }
  if (o.progress) {
    const auto fn = o.progress;
    void *user = o.progress_user;
    c.progress = [fn, user](uint64_t done, uint64_t total) {
      return fn(user, "quantize", static_cast<size_t>(done), static_cast<size_t>(total)) == 0;
    };
  }
  return c;
}

}  // namespace

extern "C" {

q8_status q8_checkpoint_options_init(q8_checkpoint_options *options) {
  return guard(__func__, [&] {
    Q8_CHECK_NOT_NULL(options);
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->format = Q8_WEIGHTS_INT8_PER_CHANNEL;
    options->group_size = 64;
    options->max_memory = uint64_t{512} << 20;
    options->threads = 0;
    options->min_elements = 4096;
  });
}

q8_status q8_checkpoint_quantize(const char *input, const char *output, const q8_checkpoint_options *options,
                                 q8_checkpoint_report *report) {
  return guard(__func__, [&] {
    const auto start = std::chrono::steady_clock::now();
    Q8_CHECK_NOT_NULL(input);
    Q8_CHECK_NOT_NULL(output);
    Q8_CHECK_ARG(!report || (report->struct_size >= sizeof(size_t) && report->struct_size <= 4096),
                 "report->struct_size = " + std::to_string(report ? report->struct_size : 0) +
                     " is not a known size (set it to sizeof(q8_checkpoint_report))");
    const ckpt::Options o = read_options(options);
    const ckpt::Report r = ckpt::quantize_file(input, output, o);
    if (report) {
      q8_checkpoint_report full;
      full.struct_size = report->struct_size;
      full.input_bytes = r.input_bytes;
      full.output_bytes = r.output_bytes;
      full.tensors = r.tensors;
      full.quantized_tensors = r.quantized_tensors;
      full.peak_in_flight_bytes = r.peak_in_flight_bytes;
      full.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::memcpy(report, &full, std::min(report->struct_size, sizeof full));
    }
  });
}

}  // extern "C"
