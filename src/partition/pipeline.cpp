// Pipelines (pipeline.hpp) on a oneTBB flow graph:
//
//   input_node (micro-batch indices) -> limiter_node (max_in_flight) -> enter (takes a free slot)
//     -> partition 0 -> ... -> partition P-1   (function_nodes, concurrency = replicas)
//     -> gather (copies the rows of the graph outputs, frees the slot) -> limiter's decrementer
//
// A slot holds the tensors one micro-batch hands between partitions, so memory is bounded by
// max_in_flight slots whatever the batch. A partition node copies its session's outputs into the
// slot and returns the session at once; the next partition's session copies them in when it runs.
#include "partition/pipeline.hpp"

#include <oneapi/tbb/flow_graph.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"

namespace q8::partition {
namespace {

namespace flow = oneapi::tbb::flow;

std::string shape_text(const std::vector<int64_t> &s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + (s[i] < 0 ? std::string("N") : std::to_string(s[i]));
  return t + "]";
}

// Micro-batches slice dim 0; any other dynamic dimension would change size with them.
void check_sliceable(const Endpoint &e, const char *what) {
  bool ok = !e.shape.empty() && e.shape[0] == -1;
  for (std::size_t d = 1; ok && d < e.shape.size(); ++d) ok = e.shape[d] >= 0;
  if (!ok)
    fail(Q8_ERR_UNSUPPORTED, std::string(what) + " '" + e.name + "' has shape " + shape_text(e.shape) +
                                 ": a pipeline slices micro-batches along a dynamic first dimension (the batch) only");
}

std::size_t row_bytes(const q8_tensor &t) {
  std::size_t n = dtype_size(t.dtype);
  for (std::size_t d = 1; d < t.rank; ++d) n *= static_cast<std::size_t>(t.shape[d]);
  return n;
}

// Free items handed out under a mutex (a function_node's concurrency bounds how many are taken).
template <class T>
class FreeList {
 public:
  void put(T v) {
    std::lock_guard<std::mutex> lock(mutex_);
    items_.push_back(v);
  }
  T take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (items_.empty()) fail(Q8_ERR_INTERNAL, "pipeline: no free item where the graph guarantees one");
    T v = items_.back();
    items_.pop_back();
    return v;
  }

 private:
  std::mutex mutex_;
  std::vector<T> items_;
};

}  // namespace

Pipeline::Pipeline(const Plan &plan, int64_t batch, const PipelineOptions &o)
    : inputs_(plan.inputs), outputs_(plan.outputs), batch_(batch), replicas_(o.replicas), serial_stages_(o.serial_stages) {
  if (batch < 1) fail(Q8_ERR_INVALID_ARGUMENT, "batch = " + std::to_string(batch) + " must be >= 1");
  if (o.micro_batch < 0) fail(Q8_ERR_INVALID_ARGUMENT, "micro_batch = " + std::to_string(o.micro_batch) + " is negative");
  if (o.replicas < 1) fail(Q8_ERR_INVALID_ARGUMENT, "replicas = 0: each partition needs a session");
  if (o.replicas > 1024 || o.threads > 4096 || o.max_in_flight > (std::size_t(1) << 20))
    fail(Q8_ERR_INVALID_ARGUMENT, "replicas, threads or max_in_flight is absurdly large");
  for (const Endpoint &e : inputs_) check_sliceable(e, "input");
  for (const Endpoint &e : outputs_) check_sliceable(e, "output");
  micro_ = o.micro_batch == 0 || o.micro_batch > batch ? batch : o.micro_batch;
  micro_count_ = static_cast<std::size_t>((batch + micro_ - 1) / micro_);
  const int64_t tail = rows(micro_count_ - 1);

  // Cross-partition tensors get an index; graph inputs are read from the caller's tensors.
  std::map<std::string, Source> sources;
  for (std::size_t i = 0; i < inputs_.size(); ++i) sources[inputs_[i].name] = {true, i};
  std::size_t tensors = 0;
  for (const Part &p : plan.parts) {
    Stage s;
    s.model = p.model;
    for (const std::string &name : p.inputs) {
      auto it = sources.find(name);
      if (it == sources.end()) fail(Q8_ERR_INTERNAL, "pipeline: tensor '" + name + "' is read before it is produced");
      s.inputs.push_back(it->second);
    }
    for (const std::string &name : p.outputs) {
      s.outputs.push_back(tensors);
      sources[name] = {false, tensors++};
    }
    for (std::size_t r = 0; r < replicas_; ++r) s.sessions.push_back(std::make_unique<rt::Session>(*s.model, micro_));
    if (tail != micro_) s.tail = std::make_unique<rt::Session>(*s.model, tail);
    stages_.push_back(std::move(s));
  }
  for (const Endpoint &e : outputs_) {
    auto it = sources.find(e.name);
    if (it == sources.end()) fail(Q8_ERR_INTERNAL, "pipeline: output '" + e.name + "' has no producer");
    output_sources_.push_back(it->second);
    std::vector<int64_t> shape = e.shape;
    shape[0] = batch;
    results_.push_back(std::make_unique<q8_tensor>());
    q8_tensor &t = *results_.back();
    t.dtype = e.dtype;
    t.rank = shape.size();
    std::copy(shape.begin(), shape.end(), t.shape);
    t.numel = checked_numel(shape.data(), shape.size(), dtype_size(e.dtype), e.name.c_str());
    t.data = aligned_zalloc(t.nbytes());
    t.owned = true;
  }
  const std::size_t in_flight = o.max_in_flight ? o.max_in_flight : stages_.size() + replicas_;
  slots_.resize(std::min(in_flight, micro_count_));
  for (Slot &s : slots_) s.tensors.resize(tensors);
  const int threads = o.threads ? static_cast<int>(o.threads) : q8::threads();
  arena_.initialize(threads > 0 ? threads : tbb::task_arena::automatic);
}

int64_t Pipeline::rows(std::size_t micro) const {
  return std::min<int64_t>(micro_, batch_ - static_cast<int64_t>(micro) * micro_);
}

void Pipeline::slice(const q8_tensor &whole, std::size_t micro, q8_tensor *view) const {
  view->dtype = whole.dtype;
  view->rank = whole.rank;
  std::copy(whole.shape, whole.shape + whole.rank, view->shape);
  view->shape[0] = rows(micro);
  view->numel = whole.numel / static_cast<std::size_t>(batch_) * static_cast<std::size_t>(view->shape[0]);
  view->data = static_cast<uint8_t *>(whole.data) + static_cast<std::size_t>(micro) * static_cast<std::size_t>(micro_) * row_bytes(whole);
  view->owned = false;
  view->qp = whole.qp;
}

Pipeline::Work Pipeline::run_stage(Stage &stage, std::size_t free_session, Work w, const q8_tensor *const *inputs) const {
  std::optional<SerialKernels> serial;
  if (serial_stages_) serial.emplace();
  rt::Session &session = rows(w.micro) == micro_ ? *stage.sessions[free_session] : *stage.tail;
  std::vector<q8_tensor> views(stage.inputs.size());
  std::vector<const q8_tensor *> in(stage.inputs.size());
  for (std::size_t i = 0; i < stage.inputs.size(); ++i) {
    const Source &s = stage.inputs[i];
    if (s.graph_input) {
      slice(*inputs[s.index], w.micro, &views[i]);
      in[i] = &views[i];
    } else {
      in[i] = &w.slot->tensors[s.index].t;
    }
  }
  session.run(in.data(), in.size());
  for (std::size_t o = 0; o < stage.outputs.size(); ++o) {
    const q8_tensor &src = session.output(o);
    Buffer &b = w.slot->tensors[stage.outputs[o]];
    const std::size_t need = src.nbytes();
    if (need > b.capacity) {  // grows once to the micro-batch's size; the tail fits in it
      void *data = aligned_zalloc(need);
      if (b.t.owned) aligned_free(b.t.data);
      b.t.data = data;
      b.t.owned = true;
      b.capacity = need;
    }
    b.t.dtype = src.dtype;
    b.t.rank = src.rank;
    std::copy(src.shape, src.shape + src.rank, b.t.shape);
    b.t.numel = src.numel;
    if (need) std::memcpy(b.t.data, src.data, need);
    b.t.qp = src.qp;
  }
  return w;
}

void Pipeline::gather(Work w, const q8_tensor *const *inputs, std::vector<char> &qp_set) {
  for (std::size_t o = 0; o < results_.size(); ++o) {
    q8_tensor &dst = *results_[o];
    q8_tensor view;
    const q8_tensor *src = &view;
    if (output_sources_[o].graph_input)
      slice(*inputs[output_sources_[o].index], w.micro, &view);
    else
      src = &w.slot->tensors[output_sources_[o].index].t;
    if (src->rank != dst.rank || src->shape[0] != rows(w.micro) || !std::equal(dst.shape + 1, dst.shape + dst.rank, src->shape + 1))
      fail(Q8_ERR_INTERNAL, "pipeline: output '" + outputs_[o].name + "' of a micro-batch has an unexpected shape");
    // Rows of one micro-batch share the batch's parameters only where they are calibrated.
    if (!qp_set[o]) {
      dst.qp = src->qp;
      qp_set[o] = 1;
    } else if (dst.qp.axis != src->qp.axis || dst.qp.scales != src->qp.scales || dst.qp.zero_points != src->qp.zero_points) {
      fail(Q8_ERR_UNSUPPORTED, "output '" + outputs_[o].name +
                                   "' is quantized with parameters that differ between micro-batches (computed per "
                                   "run, as dynamic quantization does): run it with micro_batch = 0");
    }
    const std::size_t bytes = src->nbytes();
    if (bytes)
      std::memcpy(static_cast<uint8_t *>(dst.data) + w.micro * static_cast<std::size_t>(micro_) * row_bytes(dst), src->data, bytes);
  }
}

void Pipeline::run(const q8_tensor *const *inputs, std::size_t count) {
  if (running_.exchange(true)) fail(Q8_ERR_STATE, "the pipeline is running already (one run at a time)");
  struct Done {
    std::atomic<bool> &flag;
    ~Done() { flag = false; }
  } done{running_};
  ran_ = false;
  const std::size_t n = inputs_.size();
  if (count != n)
    fail(Q8_ERR_INVALID_ARGUMENT, "count = " + std::to_string(count) + ", the model has " + std::to_string(n) + " inputs");
  if (n > 0 && !inputs) fail(Q8_ERR_INVALID_ARGUMENT, "inputs is NULL");
  for (std::size_t i = 0; i < n; ++i) {
    const q8_tensor *in = inputs[i];
    const Endpoint &e = inputs_[i];
    if (!in) fail(Q8_ERR_INVALID_ARGUMENT, "inputs[" + std::to_string(i) + "] is NULL");
    if (in->dtype != e.dtype)
      fail(Q8_ERR_DTYPE, "input '" + e.name + "' is " + dtype_name(in->dtype) + ", the model takes " + dtype_name(e.dtype));
    std::vector<int64_t> want = e.shape;
    want[0] = batch_;
    if (in->rank != want.size() || !std::equal(want.begin(), want.end(), in->shape))
      fail(Q8_ERR_SHAPE, "input '" + e.name + "' has shape " + shape_text({in->shape, in->shape + in->rank}) +
                             ", the pipeline takes " + shape_text(want));
    if (in->qp.present() && in->qp.axis == 0)
      fail(Q8_ERR_UNSUPPORTED, "input '" + e.name + "' is quantized per row (axis 0), which micro-batches would split");
  }

  // Free lists are rebuilt on every run, so nothing a failed run held stays taken.
  std::vector<FreeList<std::size_t>> sessions(stages_.size());
  for (FreeList<std::size_t> &f : sessions)
    for (std::size_t r = 0; r < replicas_; ++r) f.put(r);
  FreeList<Slot *> slots;
  for (Slot &s : slots_) slots.put(&s);
  std::vector<char> qp_set(results_.size(), 0);
  std::mutex error_mutex;
  std::exception_ptr error;
  // The first failure is the one reported; the graph is cancelled by the exception it rethrows.
  auto guarded = [&](auto &&body) {
    try {
      return body();
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      throw;
    }
  };

  arena_.execute([&] {
    flow::graph g;
    std::size_t next = 0;
    flow::input_node<std::size_t> source(g, [&](oneapi::tbb::flow_control &fc) -> std::size_t {
      if (next == micro_count_) {
        fc.stop();
        return 0;
      }
      return next++;
    });
    flow::limiter_node<std::size_t> limiter(g, slots_.size());
    flow::function_node<std::size_t, Work> enter(g, flow::serial, [&](std::size_t micro) {
      return guarded([&] { return Work{micro, slots.take()}; });
    });
    std::vector<std::unique_ptr<flow::function_node<Work, Work>>> nodes;
    for (std::size_t p = 0; p < stages_.size(); ++p)
      nodes.push_back(std::make_unique<flow::function_node<Work, Work>>(g, replicas_, [&, p](Work w) {
        return guarded([&] {
          const std::size_t r = sessions[p].take();
          struct Return {
            FreeList<std::size_t> &list;
            std::size_t r;
            ~Return() { list.put(r); }
          } back{sessions[p], r};
          return run_stage(stages_[p], r, w, inputs);
        });
      }));
    flow::function_node<Work, flow::continue_msg> finish(g, flow::serial, [&](Work w) {
      return guarded([&] {
        gather(w, inputs, qp_set);
        slots.put(w.slot);
        return flow::continue_msg();
      });
    });
    flow::make_edge(source, limiter);
    flow::make_edge(limiter, enter);
    flow::make_edge(enter, *nodes.front());
    for (std::size_t p = 1; p < nodes.size(); ++p) flow::make_edge(*nodes[p - 1], *nodes[p]);
    flow::make_edge(*nodes.back(), finish);
    flow::make_edge(finish, limiter.decrementer());
    source.activate();
    try {
      g.wait_for_all();
    } catch (...) {
      if (!error) throw;  // not from a node body: oneTBB's own
    }
  });
  if (error) std::rethrow_exception(error);
  ran_ = true;
}

const q8_tensor &Pipeline::output(std::size_t index) const {
  if (!ran_) fail(Q8_ERR_STATE, "the pipeline has not run yet (or its last run failed)");
  if (index >= results_.size())
    fail(Q8_ERR_INVALID_ARGUMENT, "output index " + std::to_string(index) + " is out of range (the model has " +
                                      std::to_string(results_.size()) + ")");
  return *results_[index];
}

}  // namespace q8::partition
