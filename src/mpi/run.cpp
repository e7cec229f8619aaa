// q8-mpi run: a pipeline over the ranks. Every rank builds the same partition plan (count = the
// number of ranks; plans are deterministic) and keeps partition r. Micro-batches stream through:
// rank r receives from rank r - 1 the tensors its partition and the later ones need (rank 0 cuts
// them from the data), runs its partition with a session, and sends on what the later partitions
// and the graph outputs need (name, dtype, shape, qparams, bytes: activations.hpp). Sends are
// non-blocking, so rank r already runs micro-batch j + 1 while rank r + 1 runs j. The last rank
// collects the model outputs and writes them (raw bytes) atomically; --single writes the same
// file from a whole-model session: the reference, byte for byte (rows do not depend on the batch
// or micro-batch they are computed in, FP32 included).
#include <climits>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <set>

#include "activations.hpp"
#include "atomic_write.hpp"
#include "collective.hpp"
#include "commands.hpp"
#include "model_io.hpp"

namespace q8mpi {

using namespace q8cli;

namespace {

void help() {
  std::printf(
      "usage: mpirun -np N q8-mpi run IN.onnx|IN.q8 --data DATA [-o OUT.bin] [options]\n"
      "  Runs the model as an N-stage pipeline, partition r of an N-way plan on rank r, and\n"
      "  writes the model outputs (output 0 for every row, then output 1, ...; raw bytes) to OUT\n"
      "  from the last rank, printing their FNV-1a checksum. Rows: all by default.\n"
      "  --batch B          rows per batch (default 64); also the batch for --by flops\n"
      "  --micro-batch M    rows per micro-batch inside a batch (default B)\n"
      "  --by bytes|flops   balance the partitions by weight bytes or work (default flops)\n"
      "  --single           one process, the whole model in one session: the reference the\n"
      "                     pipeline matches byte for byte (at any batch and micro-batch)\n");
  std::printf(kDataHelp);
}

struct PlanDeleter {
  void operator()(q8_partition_plan *p) const { q8_partition_plan_destroy(p); }
};
using Plan = std::unique_ptr<q8_partition_plan, PlanDeleter>;

struct Outputs {
  std::vector<std::vector<unsigned char>> bytes;  // per model output, rows appended in order
  void append(std::size_t k, const q8_tensor *t) {
    size_t n = 0;
    void *p = nullptr;
    Q8_CHECK(q8_tensor_nbytes(t, &n));
    Q8_CHECK(q8_tensor_data(t, &p));
    const auto *c = static_cast<const unsigned char *>(p);
    if (n) bytes[k].insert(bytes[k].end(), c, c + n);
  }
  // Writes them (if a path is given) and prints a summary with the checksum.
  void finish(const std::string &path, std::size_t rows, const char *how) const {
    uint64_t h = 0xcbf29ce484222325ull, total = 0;
    for (const auto &b : bytes) {
      // FNV-1a over the concatenation: continue the hash across pieces.
      for (unsigned char c : b) h = (h ^ c) * 0x100000001b3ull;
      total += b.size();
    }
    if (!path.empty()) write_atomic(path, bytes);
    std::printf("%s: %zu rows, %zu outputs, %llu bytes, fnv1a %016llx\n", how, rows, bytes.size(),
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(h));
  }
};

std::vector<std::string> output_names(const q8_model *m) {
  size_t n = 0;
  Q8_CHECK(q8_model_output_count(m, &n));
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    const char *name = nullptr;
    Q8_CHECK(q8_model_output_name(m, i, &name));
    out.emplace_back(name);
  }
  return out;
}

// Rows of each micro-batch: batches of B rows, each cut into pieces of M.
std::vector<std::size_t> schedule(std::size_t rows, std::size_t batch, std::size_t micro) {
  std::vector<std::size_t> sizes;
  for (std::size_t first = 0; first < rows; first += batch) {
    const std::size_t n = std::min(batch, rows - first);
    for (std::size_t at = 0; at < n; at += micro) sizes.push_back(std::min(micro, n - at));
  }
  return sizes;
}

// The reference: the whole model in one session per micro-batch size, over the same micro-batches
// as the pipeline (FP32 kernels may round differently at other row counts; docs/DISTRIBUTED.md).
void run_single(const q8_model *m, const Dataset &d, const std::vector<std::size_t> &sizes, const std::string &path) {
  const InputSpec spec = input_spec(m);
  Outputs out;
  out.bytes.resize(output_names(m).size());
  std::map<std::size_t, Session> sessions;
  std::size_t first = 0;
  for (const std::size_t n : sizes) {
    auto &s = sessions[n];
    if (!s) {
      q8_session *ps = nullptr;
      Q8_CHECK(q8_session_create(m, static_cast<int64_t>(n), &ps));
      s.reset(ps);
    }
    Tensor x = batch_tensor(d, spec, first, n);
    const q8_tensor *in = x.get();
    Q8_CHECK(q8_session_run(s.get(), &in, 1));
    first += n;
    for (std::size_t k = 0; k < out.bytes.size(); ++k) {
      const q8_tensor *y = nullptr;
      Q8_CHECK(q8_session_output(s.get(), k, &y));
      out.append(k, y);
    }
  }
  out.finish(path, d.rows, "single process");
}

// Sends that are still in flight, with their buffers; at most `window` at once.
class Sender {
 public:
  explicit Sender(int to) : to_(to) {}
  ~Sender() { wait_all(); }
  void send(std::vector<unsigned char> bytes, int tag) {
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
      throw CliError{"an activation message of " + std::to_string(bytes.size()) + " bytes exceeds MPI's int count (smaller --micro-batch)", kExitError};
    while (pending_.size() >= kWindow) wait_oldest();
    pending_.push_back({std::move(bytes), MPI_REQUEST_NULL});
    auto &p = pending_.back();
    Q8MPI(MPI_Isend(p.bytes.data(), int(p.bytes.size()), MPI_BYTE, to_, tag, MPI_COMM_WORLD, &p.request));
  }
  void wait_all() {
    while (!pending_.empty()) wait_oldest();
  }

 private:
  static constexpr std::size_t kWindow = 2;
  struct Pending {
    std::vector<unsigned char> bytes;
    MPI_Request request;
  };
  void wait_oldest() {
    MPI_Wait(&pending_.front().request, MPI_STATUS_IGNORE);
    pending_.pop_front();
  }
  int to_;
  std::deque<Pending> pending_;
};

std::vector<unsigned char> receive(int from, int tag) {
  MPI_Status st;
  Q8MPI(MPI_Probe(from, tag, MPI_COMM_WORLD, &st));
  int n = 0;
  Q8MPI(MPI_Get_count(&st, MPI_BYTE, &n));
  std::vector<unsigned char> bytes(static_cast<std::size_t>(n));
  Q8MPI(MPI_Recv(bytes.data(), n, MPI_BYTE, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
  return bytes;
}

}  // namespace

int cmd_run(const Comm &comm, int argc, char **argv) {
  Args a("run", argc, argv, {"--data", "--rows", "--input-scale", "--batch", "--micro-batch", "--by", "--output"},
         {"--single"});
  if (a.help()) {
    if (comm.rank == 0) help();
    return 0;
  }
  if (a.positional().size() != 1) usage_error("run: give exactly one model");
  if (!a.has("--data")) usage_error("run: --data DATA is required");
  if (a.has("--single") && comm.size != 1) usage_error("run: --single runs in one process (mpirun -np 1, or no mpirun)");
  const std::size_t batch = static_cast<std::size_t>(a.get_int("--batch", 64, 1, 1 << 20));
  const std::size_t micro = static_cast<std::size_t>(a.get_int("--micro-batch", (long long)batch, 1, 1 << 20));
  const std::string by = a.get("--by", "flops");
  if (by != "bytes" && by != "flops") usage_error("run: --by must be bytes or flops, not '" + by + "'");
  const std::string path = a.get("--output");

  Model m = load_model(a.positional()[0]);
  const InputSpec spec = input_spec(m.get());
  // Only rank 0 reads the data; the others need just its row count.
  Dataset d;
  if (comm.rank == 0) {
    d = load_dataset(a.get("--data"), a.get("--rows", "all"), spec.features, a.get_double("--input-scale", 1.0));
    if (d.rows == 0) throw CliError{"run: the data set has no rows", kExitError};
  }
  if (a.has("--single")) {
    run_single(m.get(), d, schedule(d.rows, batch, micro), path);
    return 0;
  }
  uint64_t rows = d.rows;
  Q8MPI(MPI_Bcast(&rows, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));

  q8_partition_options po;
  Q8_CHECK(q8_partition_options_init(&po));
  po.count = std::size_t(comm.size);
  po.balance = by == "bytes" ? Q8_PARTITION_BY_BYTES : Q8_PARTITION_BY_FLOPS;
  po.batch = static_cast<int64_t>(batch);
  q8_partition_plan *p = nullptr;
  Q8_CHECK(q8_partition_plan_create(m.get(), &po, &p));
  Plan plan(p);
  const std::size_t r = std::size_t(comm.rank), last = std::size_t(comm.size - 1);
  q8_model *pm = nullptr;
  Q8_CHECK(q8_partition_plan_model(plan.get(), r, &pm));
  Model part(pm);

  // What must leave this rank: the tensors any later partition reads, and the graph outputs.
  const std::vector<std::string> graph_outputs = output_names(m.get());
  std::set<std::string> needed(graph_outputs.begin(), graph_outputs.end());
  for (std::size_t k = r + 1; k <= last; ++k) {
    q8_partition_info info{};
    info.struct_size = sizeof info;
    Q8_CHECK(q8_partition_plan_info(plan.get(), k, &info));
    for (std::size_t i = 0; i < info.input_count; ++i) {
      const char *name = nullptr;
      Q8_CHECK(q8_partition_plan_input(plan.get(), k, i, &name));
      needed.insert(name);
    }
  }
  q8_partition_info mine{};
  mine.struct_size = sizeof mine;
  Q8_CHECK(q8_partition_plan_info(plan.get(), r, &mine));
  std::set<std::string> produced;
  for (std::size_t i = 0; i < mine.output_count; ++i) {
    const char *name = nullptr;
    Q8_CHECK(q8_partition_plan_output(plan.get(), r, i, &name));
    produced.insert(name);
  }
  size_t part_inputs = 0;
  Q8_CHECK(q8_model_input_count(part.get(), &part_inputs));
  const char *graph_input = nullptr;
  Q8_CHECK(q8_model_input_name(m.get(), 0, &graph_input));

  std::map<std::size_t, Session> sessions;  // by micro-batch rows
  Sender sender(comm.rank + 1);
  Outputs out;
  out.bytes.resize(graph_outputs.size());
  const std::vector<std::size_t> sizes = schedule(rows, batch, micro);
  std::size_t first = 0;
  for (std::size_t j = 0; j < sizes.size(); ++j) {
    const std::size_t n = sizes[j];
    const int tag = int(j % 32768);
    // The tensors arriving here, by name.
    std::map<std::string, const q8_tensor *> live;
    std::vector<std::pair<std::string, Tensor>> received;
    Tensor x;
    if (r == 0) {
      x = batch_tensor(d, spec, first, n);
      live[graph_input] = x.get();
    } else {
      received = unpack(receive(comm.rank - 1, tag));
      for (const auto &[name, t] : received) live[name] = t.get();
    }
    first += n;
    auto &s = sessions[n];
    if (!s) {
      q8_session *ps = nullptr;
      Q8_CHECK(q8_session_create(part.get(), static_cast<int64_t>(n), &ps));
      s.reset(ps);
    }
    std::vector<const q8_tensor *> in(part_inputs);
    for (size_t i = 0; i < part_inputs; ++i) {
      const char *name = nullptr;
      Q8_CHECK(q8_model_input_name(part.get(), i, &name));
      const auto it = live.find(name);
      if (it == live.end())
        throw CliError{std::string("partition ") + std::to_string(r) + " reads '" + name + "', which rank " +
                           std::to_string(r) + " did not receive",
                       kExitError};
      in[i] = it->second;
    }
    Q8_CHECK(q8_session_run(s.get(), in.data(), in.size()));
    // Onward: this partition's outputs and what passed through, in name order.
    std::map<std::string, const q8_tensor *> onward;
    for (const std::string &name : needed) {
      if (produced.count(name)) {
        const q8_tensor *t = nullptr;
        Q8_CHECK(q8_session_tensor(s.get(), name.c_str(), &t));
        onward[name] = t;
      } else if (live.count(name)) {
        onward[name] = live[name];
      }
    }
    if (r < last) {
      sender.send(pack(Named(onward.begin(), onward.end())), tag);
    } else {
      for (std::size_t k = 0; k < graph_outputs.size(); ++k) {
        const auto it = onward.find(graph_outputs[k]);
        if (it == onward.end()) throw CliError{"the pipeline lost graph output '" + graph_outputs[k] + "'", kExitError};
        out.append(k, it->second);
      }
    }
  }
  sender.wait_all();
  if (r == last) {
    const std::string how = std::to_string(comm.size) + "-rank pipeline, " + std::to_string(sizes.size()) + " micro-batches";
    out.finish(path, std::size_t(rows), how.c_str());
  }
  return 0;
}

}  // namespace q8mpi
