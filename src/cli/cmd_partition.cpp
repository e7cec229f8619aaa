// q8 partition: a partition plan for a model, printed as a table and optionally saved as JSON;
// and run_with_plan, which `q8 run --plan` uses to run a data set through a pipeline.
#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "model_io.hpp"
#include "pipeline_io.hpp"

namespace q8cli {

namespace {

struct TextDeleter {
  void operator()(char *p) const { q8_free(p); }
};

// "64M", "1.5G", "4096": bytes (K, M, G are powers of 1024).
uint64_t parse_bytes(const std::string &s) {
  char *end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  double scale = 1;
  if (end && *end) {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(*end)));
    scale = u == 'K' ? 1024.0 : u == 'M' ? 1024.0 * 1024 : u == 'G' ? 1024.0 * 1024 * 1024 : 0;
    if (scale == 0 || end[1] != '\0') scale = 0;
  }
  if (end == s.c_str() || scale == 0 || !(v > 0) || v * scale >= 1.8e19)
    usage_error("partition: --max-bytes must be a positive size such as 4096, 512K or 64M, not '" + s + "'");
  return static_cast<uint64_t>(v * scale);
}

}  // namespace

int cmd_partition(int argc, char **argv) {
  Args a("partition", argc, argv, {"--count", "--max-bytes", "--by", "--batch", "--output"}, {});
  if (a.help()) {
    std::printf("usage: q8 partition MODEL [--count N] [--max-bytes 64M] [--by bytes|flops] [--batch B] [-o PLAN.json]\n"
                "  Cuts MODEL's nodes (in order) into partitions and prints the plan: with --count, exactly N\n"
                "  partitions with the largest as small as possible by --by (default bytes: constant bytes;\n"
                "  flops: arithmetic at --batch rows, default 1); with --max-bytes, the fewest partitions whose\n"
                "  constants fit the budget; with both, N partitions within the budget. -o writes the plan as\n"
                "  JSON, which `q8 run --plan` and `q8 bench --plan` read (docs/PARTITIONS.md).\n");
    return 0;
  }
  if (a.positional().size() != 1) usage_error("partition: give exactly one model");
  if (!a.has("--count") && !a.has("--max-bytes")) usage_error("partition: give --count N, --max-bytes SIZE or both");
  const std::string by = a.get("--by", "bytes");
  if (by != "bytes" && by != "flops") usage_error("partition: --by must be bytes or flops, not '" + by + "'");
  Model m = load_model(a.positional()[0]);
  q8_partition_options o;
  Q8_CHECK(q8_partition_options_init(&o));
  o.count = static_cast<size_t>(a.get_int("--count", 0, 1, 1 << 30));
  o.max_bytes = a.has("--max-bytes") ? parse_bytes(a.get("--max-bytes")) : 0;
  o.balance = by == "flops" ? Q8_PARTITION_BY_FLOPS : Q8_PARTITION_BY_BYTES;
  o.batch = a.get_int("--batch", 1, 1, int64_t(1) << 31);
  q8_partition_plan *p = nullptr;
  Q8_CHECK(q8_partition_plan_create(m.get(), &o, &p));
  Plan plan(p);
  char *t = nullptr;
  Q8_CHECK(q8_partition_plan_describe(plan.get(), 0, &t));
  std::unique_ptr<char, TextDeleter> text(t);
  std::fputs(text.get(), stdout);
  if (a.has("--output")) {
    Q8_CHECK(q8_partition_plan_save(plan.get(), a.get("--output").c_str()));
    std::printf("plan written to %s\n", a.get("--output").c_str());
  }
  return 0;
}

void run_with_plan(const q8_model *m, const std::string &plan_path, const Dataset &d, int64_t micro_batch,
                   std::size_t replicas, const std::function<void(const q8_tensor *)> &fn) {
  const Plan plan = load_plan(m, plan_path);
  PipelineSettings s;
  s.micro_batch = micro_batch;
  s.replicas = replicas;
  const Pipeline pipeline = make_pipeline(plan.get(), static_cast<int64_t>(d.rows), s);
  Tensor x = batch_tensor(d, input_spec(m), 0, d.rows);
  const q8_tensor *in = x.get();
  Q8_CHECK(q8_pipeline_run(pipeline.get(), &in, 1));
  const q8_tensor *y = nullptr;
  Q8_CHECK(q8_pipeline_output(pipeline.get(), 0, &y));
  fn(y);
}

}  // namespace q8cli
