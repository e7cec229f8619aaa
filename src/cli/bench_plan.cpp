// q8 bench MODEL --plan PLAN.json: the model's pipeline over the plan's partitions against its
// whole-model session at the same batch, in one process. The outputs are compared first and the
// verdict printed either way: a pipeline is meant to compute the whole model's bits
// (include/q8/partition.h says when it cannot), and a speed figure for something that computes
// other numbers must say so.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bench.hpp"
#include "pipeline_io.hpp"

namespace q8cli {

namespace {

struct Layout {
  q8_dtype dtype = Q8_DTYPE_F32;
  std::vector<int64_t> shape;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  int32_t axis = -1;
  bool operator==(const Layout &o) const {
    return dtype == o.dtype && shape == o.shape && axis == o.axis && zero_points == o.zero_points &&
           scales.size() == o.scales.size() &&
           (scales.empty() || std::memcmp(scales.data(), o.scales.data(), scales.size() * sizeof(float)) == 0);
  }
};

// Dtype, shape and quantization parameters of a tensor.
Layout layout_of(const q8_tensor *t) {
  Layout l;
  size_t rank = 0, count = 0;
  Q8_CHECK(q8_tensor_dtype(t, &l.dtype));
  Q8_CHECK(q8_tensor_rank(t, &rank));
  l.shape.resize(rank);
  if (rank) Q8_CHECK(q8_tensor_shape(t, l.shape.data(), rank));
  Q8_CHECK(q8_tensor_qparams_layout(t, &l.axis, &count));
  l.scales.resize(count);
  l.zero_points.resize(count);
  if (count) Q8_CHECK(q8_tensor_get_qparams(t, l.scales.data(), l.zero_points.data(), count));
  return l;
}

// The pipeline's outputs against the session's: every byte, dtype, shape and parameter.
struct OutputCheck {
  std::size_t outputs = 0, values = 0, differing_values = 0;
  double max_abs = 0;                // over the differing values, dequantized; inf if a NaN differs
  std::vector<std::string> differ;  // names of the outputs that differ
  std::string layout_problem;       // an output whose dtype or shape differs
  bool identical() const { return differ.empty(); }
};

OutputCheck compare_outputs(const q8_model *m, const q8_session *whole, const q8_pipeline *pipeline) {
  OutputCheck c;
  size_t count = 0, pipeline_count = 0;
  Q8_CHECK(q8_model_output_count(m, &count));
  Q8_CHECK(q8_pipeline_output_count(pipeline, &pipeline_count));
  if (count != pipeline_count)
    throw CliError{"bench: the pipeline has " + std::to_string(pipeline_count) + " outputs, the model " +
                       std::to_string(count),
                   kExitError};
  c.outputs = count;
  for (size_t i = 0; i < count; ++i) {
    const char *name = nullptr;
    const q8_tensor *a = nullptr, *b = nullptr;
    Q8_CHECK(q8_model_output_name(m, i, &name));
    Q8_CHECK(q8_session_output(whole, i, &a));
    Q8_CHECK(q8_pipeline_output(pipeline, i, &b));
    const Layout la = layout_of(a), lb = layout_of(b);
    size_t na = 0, nb = 0;
    Q8_CHECK(q8_tensor_nbytes(a, &na));
    Q8_CHECK(q8_tensor_nbytes(b, &nb));
    if (la.dtype != lb.dtype || la.shape != lb.shape || na != nb) {
      c.differ.push_back(name);
      c.layout_problem = std::string("output '") + name + "' has another dtype or shape";
      continue;
    }
    void *pa = nullptr, *pb = nullptr;
    Q8_CHECK(q8_tensor_data(a, &pa));
    Q8_CHECK(q8_tensor_data(b, &pb));
    const std::vector<float> va = as_f32(a), vb = as_f32(b);
    c.values += va.size();
    if (la == lb && (na == 0 || std::memcmp(pa, pb, na) == 0)) continue;
    c.differ.push_back(name);
    for (std::size_t k = 0; k < va.size(); ++k) {
      if (std::memcmp(&va[k], &vb[k], sizeof(float)) == 0) continue;
      ++c.differing_values;
      const double d = std::fabs(double(va[k]) - double(vb[k]));
      c.max_abs = std::max(c.max_abs, std::isnan(d) ? INFINITY : d);
    }
  }
  return c;
}

std::string verdict(const OutputCheck &c) {
  char b[256];
  if (c.identical()) {
    std::snprintf(b, sizeof b, "identical (%zu output%s, %zu values: memcmp equal)", c.outputs,
                  c.outputs == 1 ? "" : "s", c.values);
    return b;
  }
  if (!c.layout_problem.empty()) return "differ (" + c.layout_problem + ")";
  std::string names;
  for (const std::string &n : c.differ) names += (names.empty() ? "'" : ", '") + n + "'";
  std::snprintf(b, sizeof b, "differ (max |diff| %.3g; %zu of %zu values differ, in ", c.max_abs, c.differing_values,
                c.values);
  return b + names + ")";
}

std::string rows_per_s(double rows_s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f rows/s", rows_s);
  return b;
}

// JSON has no infinity (a NaN that differs): null.
std::string json_number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return std::isinf(v) ? "null" : b;
}

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      char e[8];
      std::snprintf(e, sizeof e, "\\u%04x", u);
      out += e;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace

int bench_plan(const Args &a, const std::string &model_path, const q8_model *m, const BenchSetup &b) {
  const std::string plan_path = a.get("--plan");
  PipelineSettings settings;
  settings.micro_batch = a.get_int("--micro-batch", 0, 1, 1 << 30);
  settings.replicas = static_cast<std::size_t>(a.get_int("--replicas", 1, 1, 1024));
  settings.max_in_flight = static_cast<std::size_t>(a.get_int("--max-in-flight", 0, 1, 1 << 20));
  settings.threads = static_cast<std::size_t>(a.get_int("--pipeline-threads", 0, 1, 4096));
  settings.serial_stages = a.has("--serial-stages");
  const Plan plan = load_plan(m, plan_path);
  const int64_t batch = static_cast<int64_t>(b.batch);
  // The pipeline's rule (q8_pipeline_options): 0 or more than the batch is one micro-batch.
  const int64_t micro = settings.micro_batch == 0 ? batch : std::min(settings.micro_batch, batch);
  const int64_t micro_count = (batch + micro - 1) / micro;

  Tensor x = batch_tensor(b.rows, b.spec, 0, b.batch);
  const q8_tensor *in = x.get();
  q8_session *p = nullptr;
  Q8_CHECK(q8_session_create(m, batch, &p));
  const Session whole(p);
  const Pipeline pipeline = make_pipeline(plan.get(), batch, settings);
  Q8_CHECK(q8_session_run(whole.get(), &in, 1));
  Q8_CHECK(q8_pipeline_run(pipeline.get(), &in, 1));
  const OutputCheck same = compare_outputs(m, whole.get(), pipeline.get());

  for (int w = 0; w < 3; ++w) {
    Q8_CHECK(q8_session_run(whole.get(), &in, 1));
    Q8_CHECK(q8_pipeline_run(pipeline.get(), &in, 1));
  }
  const std::vector<double> latency = paired_medians(
      b.rounds, b.reps,
      {[&] { Q8_CHECK(q8_session_run(whole.get(), &in, 1)); }, [&] { Q8_CHECK(q8_pipeline_run(pipeline.get(), &in, 1)); }});
  const double whole_rows = double(batch) / latency[0], pipeline_rows = double(batch) / latency[1];
  const RssPeak whole_rss = session_rss(model_path, b);
  const RssPeak pipeline_rss = peak_rss([&] {
    Model mm = load_model(model_path);
    const Plan pp = load_plan(mm.get(), plan_path);
    const Pipeline pl = make_pipeline(pp.get(), batch, settings);
    Q8_CHECK(q8_pipeline_run(pl.get(), &in, 1));
  });

  size_t parts = 0, model_bytes = 0;
  Q8_CHECK(q8_partition_plan_count(plan.get(), &parts));
  Q8_CHECK(q8_model_weight_bytes(m, &model_bytes));
  std::vector<q8_partition_info> info(parts);
  for (size_t i = 0; i < parts; ++i) {
    info[i].struct_size = sizeof info[i];
    Q8_CHECK(q8_partition_plan_info(plan.get(), i, &info[i]));
  }

  if (a.has("--json")) {
    std::printf("{\"batch\":%zu,\"threads\":%d,\"isa\":\"%s\",\"model\":%s,\"plan\":%s,\"micro_batch\":%lld,"
                "\"micro_batches\":%lld,\"replicas\":%zu,\"max_in_flight\":%zu,\"pipeline_threads\":%zu,"
                "\"serial_stages\":%s,"
                "\"outputs_identical\":%s,"
                "\"differing_values\":%zu,\"max_abs_diff\":%s,",
                b.batch, q8_runtime_threads(), q8_isa_name(q8_runtime_isa()), json_string(model_path).c_str(),
                json_string(plan_path).c_str(), static_cast<long long>(micro), static_cast<long long>(micro_count),
                settings.replicas, settings.max_in_flight, settings.threads, settings.serial_stages ? "true" : "false",
                same.identical() ? "true" : "false",
                same.differing_values, json_number(same.max_abs).c_str());
    const char *side = "{\"latency_s\":%.9g,\"rows_per_s\":%.9g,\"peak_rss\":%.0f,\"base_rss\":%.0f}";
    std::printf("\"whole\":");
    std::printf(side, latency[0], whole_rows, whole_rss.peak, whole_rss.base);
    std::printf(",\"pipeline\":");
    std::printf(side, latency[1], pipeline_rows, pipeline_rss.peak, pipeline_rss.base);
    std::printf(",\"ratio\":%.6g,\"weight_bytes\":%zu,\"partitions\":[", pipeline_rows / whole_rows, model_bytes);
    for (size_t i = 0; i < parts; ++i)
      std::printf("%s{\"nodes\":%zu,\"weight_bytes\":%llu,\"flops\":%llu}", i ? "," : "", info[i].node_count,
                  static_cast<unsigned long long>(info[i].weight_bytes), static_cast<unsigned long long>(info[i].flops));
    std::printf("]}\n");
    return 0;
  }

  print_bench_header(b);
  std::printf("plan %s: %zu partitions; pipeline: %lld micro-batch%s of %lld rows, %zu replica%s, in flight %s, "
              "threads %s%s\n",
              plan_path.c_str(), parts, static_cast<long long>(micro_count), micro_count == 1 ? "" : "es",
              static_cast<long long>(micro), settings.replicas, settings.replicas == 1 ? "" : "s",
              settings.max_in_flight ? std::to_string(settings.max_in_flight).c_str() : "default",
              settings.threads ? std::to_string(settings.threads).c_str() : "as --threads",
              settings.serial_stages ? ", serial stages" : "");
  std::printf("outputs: %s\n", verdict(same).c_str());
  std::printf("%-22s %22s %22s %15s\n", "", "whole model", "pipeline", "pipeline/whole");
  std::printf("%-22s %22s %22s\n", "latency / batch", ms_text(latency[0]).c_str(), ms_text(latency[1]).c_str());
  std::printf("%-22s %22s %22s %14.3fx\n", "throughput", rows_per_s(whole_rows).c_str(),
              rows_per_s(pipeline_rows).c_str(), pipeline_rows / whole_rows);
  auto bytes = [](double v) { return v < 0 ? std::string("n/a") : human_bytes(v); };
  std::printf("%-22s %22s %22s\n", "peak RSS", bytes(whole_rss.peak).c_str(), bytes(pipeline_rss.peak).c_str());
  std::printf("%-22s %22s %22s\n", "peak RSS - baseline",
              bytes(whole_rss.peak < 0 ? -1 : whole_rss.peak - whole_rss.base).c_str(),
              bytes(pipeline_rss.peak < 0 ? -1 : pipeline_rss.peak - pipeline_rss.base).c_str());
  uint64_t sum = 0;
  for (size_t i = 0; i < parts; ++i) {
    const char *first = nullptr, *last = nullptr;
    Q8_CHECK(q8_model_node_info(m, info[i].first_node, &first, nullptr, nullptr, nullptr, nullptr));
    Q8_CHECK(q8_model_node_info(m, info[i].first_node + info[i].node_count - 1, &last, nullptr, nullptr, nullptr,
                                nullptr));
    std::printf("partition %-4zu %4zu nodes  %-36s constants %10s\n", i, info[i].node_count,
                (std::string(first) + " .. " + last).c_str(), human_bytes(double(info[i].weight_bytes)).c_str());
    sum += info[i].weight_bytes;
  }
  std::printf("constants: %s over the partitions, %s in the whole model\n", human_bytes(double(sum)).c_str(),
              human_bytes(double(model_bytes)).c_str());
  std::printf("(latency: median over rounds, whole model and pipeline in turn; peak RSS: a child that loads the\n"
              " model (and plan) and runs one batch; constants: each partition's weights as its model holds\n"
              " them, once however many sessions it has)\n");
  return 0;
}

}  // namespace q8cli
