// The streaming checkpoint quantizer. Its input is a set of named tensors over memory (a mapped
// safetensors file, or an ONNX model's initializers borrowed from their external-data mappings)
// plus the output graph. Everything about the output is decided before any tensor byte is read:
// the graph (which tensors are quantized, the constants each becomes) and with it,
// through format::layout(), the offset of every constant in the .q8 file. Work is then cut into
// units (row blocks of one tensor) that each know where their bytes go, so blocks finish in any
// order, are written with pwrite at their final offsets, and the data CRC is assembled at the end
// from per-piece CRCs with crc32_combine. The header, which holds that CRC, is written last.
//
// Output channels along the columns (MatMul's B [K, N]) take more than one pass or a transposed
// store; see Axis below.
//
// Memory: a unit holds its input pages (touched in the mapping), its f32 copy when the input is
// F16/BF16 or misaligned, and its output buffers; `bytes` counts all of them. The limiter admits
// at most `tokens` units, and tokens x the largest unit <= max_memory, so the bytes in flight stay
// under max_memory. A written unit releases its input pages (MADV_DONTNEED) and frees its buffers
// before its token is returned.
#include "checkpoint/stream.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <iterator>
#include <map>
#include <memory>
#include <set>

#include "checkpoint/safetensors.hpp"
#include "checkpoint/weight_quant.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"
#include "format/atomic_file.hpp"
#include "format/format.hpp"
#include "model/graph.hpp"
#include "onnx/import.hpp"

namespace q8::ckpt {
namespace {

namespace flow = oneapi::tbb::flow;

// Units stay small enough that the second pass over a block (quantize after calibrate) hits the
// cache, and plentiful enough to keep every thread busy; the limiter allows a few per thread.
constexpr uint64_t kMaxUnitBytes = uint64_t{16} << 20;
constexpr std::size_t kMaxTokens = 64;

// One input tensor: its bytes in memory; `mapped` when they are pages of a read-only file
// mapping, which units prefetch and hand back (MADV_DONTNEED) as they pass.
struct Source {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t numel = 0;
  const uint8_t *data = nullptr;
  bool mapped = false;
  uint64_t bytes() const { return numel * dtype_size(dtype); }
};

enum class Kind { kInt8, kInt4, kKeep };

// Where the output channels of a quantized W [rows, cols] (as stored) are.
enum class Axis {
  kRows,        // rows (PyTorch Linear, Gemm with transB = 1): per row, INT4 groups along a row
  kColumns,     // INT8, columns (MatMul's and Gemm's B [K, N]): scales from a first pass over all
                // rows (the column maxima), codes in the second; DequantizeLinear axis 1
  kTransposed,  // INT4, columns: units of whole groups of rows, stored as W^T [cols, rows] so
                // groups run along K; DequantizeBlockwise then Transpose
};

// One input tensor in the output.
struct Item {
  Source t;
  Kind kind = Kind::kKeep;
  Axis axis = Axis::kRows;
  uint64_t rows = 1, cols = 0;  // quantized: W [rows, cols] as stored; kept: one row of numel elements
  uint64_t group = 0;           // INT4: values per group
  uint64_t groups = 0;          // INT4: groups per output channel
  bool copy_in = false;         // the input needs an f32 copy (F16/BF16, or F32 not 4-byte aligned)
  int value[3] = {-1, -1, -1};  // constants: codes, scales, zero points (kept: value[0] only)
  uint64_t out[3] = {};         // their offsets in the output file
  std::vector<float> col_max;   // kColumns: the first pass's column maxima, then the scales
  std::vector<int32_t> col_zero_points;  // kColumns: zeros for the kernel
  std::vector<uint8_t> col_zero_bytes;   // kColumns: the stored zero points

  // Output channels and the length each is quantized along.
  uint64_t channels() const { return axis == Axis::kRows ? rows : cols; }
  uint64_t depth() const { return axis == Axis::kRows ? cols : rows; }
  uint64_t packed_depth() const { return kind == Kind::kInt4 ? (depth() + 1) / 2 : depth(); }
};

// A contiguous run of output bytes and its CRC-32.
struct Piece {
  const void *data = nullptr;
  uint64_t offset = 0, size = 0;
  uint32_t crc = 0;
};

// A block of rows (quantized) or elements (kept) of one item, and its buffers between stages.
struct Unit {
  std::size_t item = 0;
  uint64_t first = 0, count = 0;
  uint64_t bytes = 0;  // memory held in flight
  bool stats = false;  // kColumns' first pass: column maxima only
  std::vector<float> f32, transposed;
  std::vector<float> scales;
  std::vector<uint8_t> codes, zero_points, scratch;
  std::vector<Piece> pieces;
};

std::string quoted(const std::string &s) { return "'" + s + "'"; }

struct Plan {
  model::Graph graph;
  format::Layout layout;
  std::vector<Item> items;
  std::vector<Unit> stats_units, units;
  std::size_t tokens = 1;
  uint64_t max_unit = 0;
};

int add_value(model::Graph &g, const std::string &name, q8_dtype dt, std::vector<int64_t> shape, bool constant,
              const std::string &tensor) {
  if (g.find(name) >= 0)
    fail(Q8_ERR_UNSUPPORTED, "tensor " + quoted(tensor) + ": the output needs a tensor named " + quoted(name) +
                                 ", which another tensor of the input already uses");
  model::Value v;
  v.name = name;
  v.dtype = dt;
  v.has_shape = true;
  v.shape = std::move(shape);
  v.is_const = constant;
  if (constant) {
    std::size_t n = q8_dtype_size(dt);
    for (int64_t d : v.shape) n *= static_cast<std::size_t>(d);
    v.data.size = n;  // bytes not present: the layout needs only the size
  }
  return g.add_value(std::move(v));
}

q8_dtype kept_dtype(DType d) {
  switch (d) {
    case DType::I8: return Q8_DTYPE_S8;
    case DType::U8: return Q8_DTYPE_U8;
    case DType::I32: return Q8_DTYPE_S32;
    default: return Q8_DTYPE_F32;
  }
}

// The item's quantized constants and the node(s) that turn them into the f32 value `result`
// (shape [rows, cols]), appended to `nodes`.
void add_quantized(model::Graph &g, Item &it, int result, const Options &o, std::vector<model::Node> &nodes) {
  const std::string &name = it.t.name;
  const bool int8 = it.kind == Kind::kInt8;
  const int64_t ch = static_cast<int64_t>(it.channels()), groups = static_cast<int64_t>(it.groups);
  const std::vector<int64_t> params = int8 ? std::vector<int64_t>{ch} : std::vector<int64_t>{ch, groups};
  const std::vector<int64_t> codes =
      it.axis == Axis::kColumns ? std::vector<int64_t>{static_cast<int64_t>(it.rows), ch}
                                : std::vector<int64_t>{ch, static_cast<int64_t>(it.packed_depth())};
  it.value[0] = add_value(g, name + "_quantized", int8 ? Q8_DTYPE_S8 : Q8_DTYPE_U8, codes, true, name);
  it.value[1] = add_value(g, name + "_scale", Q8_DTYPE_F32, params, true, name);
  it.value[2] = add_value(g, name + "_zero_point", int8 ? Q8_DTYPE_S8 : Q8_DTYPE_U8, params, true, name);
  model::Node n;
  n.name = name + "_dequantize";
  n.inputs = {it.value[0], it.value[1], it.value[2]};
  n.outputs = {result};
  model::Attr a;
  if (int8) {
    n.op = "DequantizeLinear";
    a.i = it.axis == Axis::kColumns ? 1 : 0;
    n.attrs["axis"] = a;
    nodes.push_back(std::move(n));
    return;
  }
  n.domain = "ai.q8";
  n.op = "DequantizeBlockwise";
  a.i = 4;
  n.attrs["bits"] = a;
  a.i = static_cast<int64_t>(o.group);
  n.attrs["block_size"] = a;
  a.i = static_cast<int64_t>(it.depth());
  n.attrs["cols"] = a;
  if (it.axis == Axis::kRows) {
    nodes.push_back(std::move(n));
    return;
  }
  // W^T [cols, rows] dequantized, then transposed back into W.
  const int t = add_value(g, name + "_transposed", Q8_DTYPE_F32, {ch, static_cast<int64_t>(it.rows)}, false, name);
  n.outputs = {t};
  nodes.push_back(std::move(n));
  model::Node tr;
  tr.name = name + "_transpose";
  tr.op = "Transpose";
  tr.inputs = {t};
  tr.outputs = {result};
  a.kind = model::Attr::INTS;
  a.ints = {1, 0};
  tr.attrs["perm"] = a;
  nodes.push_back(std::move(tr));
}

// A 2-D float tensor to quantize: sets kind, rows, cols and groups.
void set_quantized(Item &it, Axis axis, const Options &o) {
  it.kind = o.format == Format::kInt8PerChannel ? Kind::kInt8 : Kind::kInt4;
  it.axis = it.kind == Kind::kInt4 && axis == Axis::kColumns ? Axis::kTransposed : axis;
  it.rows = static_cast<uint64_t>(it.t.shape[0]);
  it.cols = static_cast<uint64_t>(it.t.shape[1]);
  it.group = o.group;
  it.groups = (it.depth() + o.group - 1) / o.group;
}

bool quantizable(const Source &t, const Options &o, const std::set<std::string> &keep) {
  return is_float(t.dtype) && t.shape.size() == 2 && t.numel != 0 && t.numel >= o.min_elements && !keep.count(t.name);
}

std::set<std::string> keep_set(const Options &o, const std::function<bool(const std::string &)> &exists,
                               const char *what) {
  std::set<std::string> keep(o.keep.begin(), o.keep.end());
  for (const std::string &k : keep)
    if (!exists(k)) fail(Q8_ERR_INVALID_ARGUMENT, "keep_fp32 names " + quoted(k) + ", which is not " + what);
  return keep;
}

std::string producer(const Options &o) {
  return o.format == Format::kInt8PerChannel ? "q8 checkpoint int8 per channel" : "q8 checkpoint int4 group " + std::to_string(o.group);
}

// Safetensors: a graph with no inputs and one output per tensor, in file order.
void plan_safetensors(const File &file, const Options &o, Plan &p) {
  const Header &h = file.header();
  const auto keep = keep_set(
      o, [&](const std::string &k) { return std::any_of(h.tensors.begin(), h.tensors.end(), [&](const TensorInfo &t) { return t.name == k; }); },
      "a tensor of the checkpoint");
  model::Graph &g = p.graph;
  g.producer = producer(o);
  for (const TensorInfo &ti : h.tensors) {
    Item it;
    it.t = Source{ti.name, ti.dtype, ti.shape, ti.numel, file.data(ti), true};
    if (quantizable(it.t, o, keep)) {
      set_quantized(it, Axis::kRows, o);
      const int y = add_value(g, ti.name, Q8_DTYPE_F32, ti.shape, false, ti.name);
      add_quantized(g, it, y, o, g.nodes);
      g.outputs.push_back(y);
    } else {
      it.cols = ti.numel;
      it.value[0] = add_value(g, ti.name, kept_dtype(ti.dtype), ti.shape, true, ti.name);
      g.outputs.push_back(it.value[0]);
    }
    p.items.push_back(std::move(it));
  }
}

// Where the output channels of constant `id` are, if every use of it is the weight operand of a
// MatMul (input 1, B [K, N]: columns) or a Gemm (input 1: columns, rows with transB = 1) that
// agree; false otherwise (other uses, a graph output, disagreeing Gemms), and it stays as it is.
bool weight_axis(const model::Graph &g, int id, const std::vector<std::vector<std::pair<int, std::size_t>>> &uses,
                 Axis &axis) {
  if (std::find(g.outputs.begin(), g.outputs.end(), id) != g.outputs.end()) return false;
  const auto &u = uses[static_cast<std::size_t>(id)];
  if (u.empty()) return false;
  for (std::size_t k = 0; k < u.size(); ++k) {
    const model::Node &n = g.nodes[static_cast<std::size_t>(u[k].first)];
    if (!n.domain.empty() || u[k].second != 1) return false;
    Axis a;
    if (n.op == "MatMul") a = Axis::kColumns;
    else if (n.op == "Gemm") a = n.get_int("transB", 0) != 0 ? Axis::kRows : Axis::kColumns;
    else return false;
    if (k != 0 && a != axis) return false;
    axis = a;
  }
  return true;
}

DType source_dtype(q8_dtype d) {
  switch (d) {
    case Q8_DTYPE_S8: return DType::I8;
    case Q8_DTYPE_U8: return DType::U8;
    case Q8_DTYPE_S32: return DType::I32;
    default: return DType::F32;
  }
}

// ONNX: the model's own graph, each weight to quantize turned from a constant into the output of
// its dequantization nodes (placed first), every other constant kept.
void plan_onnx(const q8_model &m, const std::vector<std::shared_ptr<const onnx::MappedFile>> &files, const Options &o,
               Plan &p) {
  model::Graph &g = p.graph;
  g = m.graph;
  const auto keep = keep_set(
      o, [&](const std::string &k) { const int id = g.find(k); return id >= 0 && g.values[static_cast<std::size_t>(id)].is_const; },
      "an initializer of the model");
  g.producer = (g.producer.empty() ? "" : g.producer + "; ") + producer(o);
  std::vector<std::vector<std::pair<int, std::size_t>>> uses(g.values.size());
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    for (std::size_t i = 0; i < g.nodes[k].inputs.size(); ++i)
      if (g.nodes[k].inputs[i] >= 0) uses[static_cast<std::size_t>(g.nodes[k].inputs[i])].emplace_back(static_cast<int>(k), i);
  auto mapped = [&](const uint8_t *d) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(d);
    return std::any_of(files.begin(), files.end(), [&](const std::shared_ptr<const onnx::MappedFile> &f) {
      const uintptr_t b = reinterpret_cast<uintptr_t>(f->data());
      return f->size() != 0 && a >= b && a - b < f->size();
    });
  };
  std::vector<model::Node> dequantize;
  const std::size_t nv = g.values.size();
  for (std::size_t id = 0; id < nv; ++id) {
    model::Value &v = g.values[id];
    if (!v.is_const) continue;
    Item it;
    uint64_t numel = 1;
    for (int64_t d : v.shape) numel *= static_cast<uint64_t>(d);
    it.t = Source{v.name, source_dtype(v.dtype), v.shape, numel, v.data.data, mapped(v.data.data)};
    Axis axis = Axis::kRows;
    if (quantizable(it.t, o, keep) && weight_axis(g, static_cast<int>(id), uses, axis)) {
      set_quantized(it, axis, o);
      v.is_const = false;  // now the dequantization's output
      v.data = model::Bytes();
      add_quantized(g, it, static_cast<int>(id), o, dequantize);
    } else {
      it.cols = numel;
      it.value[0] = static_cast<int>(id);
    }
    p.items.push_back(std::move(it));
  }
  g.nodes.insert(g.nodes.begin(), dequantize.begin(), dequantize.end());
}

// Bytes a unit of `count` rows (elements, for kept tensors) of `it` holds in flight.
uint64_t unit_bytes(const Item &it, uint64_t count, bool stats) {
  const uint64_t in = dtype_size(it.t.dtype) + (it.copy_in ? 4 : 0);
  if (it.kind == Kind::kKeep) return count * in;
  if (stats) return count * it.cols * in + it.cols * 4;  // + the partial column maxima
  switch (it.axis) {
    case Axis::kRows: {
      uint64_t row = it.cols * in + it.packed_depth();
      row += it.kind == Kind::kInt8 ? 4 + 1 : it.groups * 5;
      return count * row + (it.kind == Kind::kInt4 ? it.cols : 0);  // + one row of unpacked codes
    }
    case Axis::kColumns: return count * it.cols * (in + 1);
    case Axis::kTransposed: {
      // + the transposed f32 block, codes and group parameters per column, one column of scratch
      const uint64_t groups = (count + it.group - 1) / it.group;
      // and the unit's three pieces per column.
      return count * it.cols * (in + 4) + it.cols * ((count + 1) / 2 + groups * 5 + 3 * sizeof(Piece)) + count;
    }
  }
  return 0;
}

// Cuts `total` rows (elements) of item i into near-equal units of at most `cap` bytes: at least
// one row, and whole groups of rows for kTransposed (all but the last unit).
void cut(Plan &p, std::size_t i, bool stats, uint64_t cap, const Options &o, std::vector<Unit> &out) {
  const Item &it = p.items[i];
  const uint64_t total = it.kind == Kind::kKeep ? it.cols : it.rows;
  if (total == 0) return;
  const uint64_t step = !stats && it.axis == Axis::kTransposed ? it.group : 1;
  // unit_bytes is linear in whole steps up to rounding that only lowers it, so `per` bounds a step.
  const uint64_t fixed = unit_bytes(it, 0, stats), per = unit_bytes(it, step, stats) - fixed;
  const uint64_t most = (cap > fixed ? std::max<uint64_t>(1, (cap - fixed) / per) : 1) * step;
  const uint64_t n = (total + most - 1) / most;
  const uint64_t each = ((total + n - 1) / n + step - 1) / step * step;
  for (uint64_t first = 0; first < total; first += each) {
    Unit u;
    u.item = i;
    u.first = first;
    u.count = std::min(each, total - first);
    u.stats = stats;
    u.bytes = unit_bytes(it, u.count, stats);
    p.max_unit = std::max(p.max_unit, u.bytes);
    if (u.bytes > o.max_memory)
      fail(Q8_ERR_INVALID_ARGUMENT, "max_memory = " + std::to_string(o.max_memory) + " bytes is too small for tensor " +
                                        quoted(it.t.name) + ": one " + (step > 1 ? "group of rows" : "row") + " needs " +
                                        std::to_string(u.bytes) + " bytes");
    out.push_back(std::move(u));
  }
}

// The layout of the output, each item's offsets, the units.
void finish_plan(Plan &p, const Options &o) {
  p.graph.validate();
  p.layout = format::layout(p.graph);
  const uint64_t data_at = p.layout.head.size();
  for (Item &it : p.items) {
    // An F32 input not 4-byte aligned is widened (copied) like F16 and BF16.
    it.copy_in = it.t.dtype == DType::F16 || it.t.dtype == DType::BF16 ||
                 (it.t.dtype == DType::F32 && reinterpret_cast<uintptr_t>(it.t.data) % 4 != 0);
    for (int k = 0; k < 3; ++k)
      if (it.value[k] >= 0) it.out[k] = data_at + p.layout.offsets[static_cast<std::size_t>(it.value[k])];
    if (it.axis == Axis::kColumns) {
      it.col_max.assign(it.cols, 0.0f);
      it.col_zero_points.assign(it.cols, 0);
      it.col_zero_bytes.assign(it.cols, 0);
    }
  }
  p.tokens = std::min(kMaxTokens, 2 * o.threads + 2);
  const uint64_t cap = std::min(kMaxUnitBytes, o.max_memory / p.tokens);
  for (std::size_t i = 0; i < p.items.size(); ++i) {
    if (p.items[i].axis == Axis::kColumns) cut(p, i, true, cap, o, p.stats_units);
    // A transposed unit writes three pieces per column whatever its height: taller units mean
    // fewer writes (one pwrite each), so they take all the budget allows.
    cut(p, i, false, p.items[i].axis == Axis::kTransposed ? o.max_memory / p.tokens : cap, o, p.units);
  }
  if (p.max_unit != 0) p.tokens = std::max<std::size_t>(1, std::min<uint64_t>(p.tokens, o.max_memory / p.max_unit));
}

// Pages of a read-only file mapping, rounded out to whole pages: they stay inside the mapping,
// whose length the kernel rounds up to whole pages too.
std::pair<void *, std::size_t> pages(const uint8_t *p, std::size_t n) noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n + page - 1) / page * page;
  return {reinterpret_cast<void *>(begin), end - begin};
}

// Maps the pages in one call (MADV_POPULATE_READ, Linux 5.14+) instead of one fault per few pages.
// Only a speed-up: failure is ignored.
void prefetch(const Source &t, const uint8_t *p, std::size_t n) noexcept {
#ifdef MADV_POPULATE_READ
  if (!t.mapped || n == 0) return;
  const auto r = pages(p, n);
  ::madvise(r.first, r.second, MADV_POPULATE_READ);
#else
  (void)t;
  (void)p;
  (void)n;
#endif
}

// Drops the process's pages of the range so they no longer count as its resident memory (touched
// again, they fault back in from the page cache). Advice: a failure only leaves pages resident.
void release(const Source &t, const uint8_t *p, std::size_t n) noexcept {
  if (!t.mapped || n == 0) return;
  const auto r = pages(p, n);
  ::madvise(r.first, r.second, MADV_DONTNEED);
}

// Runs units through the flow graph, writing into `fd`.
class Runner {
 public:
  Runner(Plan &plan, const Options &o, int fd, const std::string &name) : plan_(plan), o_(o), fd_(fd), name_(name) {
    for (const Unit &u : plan.stats_units) total_ += input_size(u);
    for (const Unit &u : plan.units) total_ += input_size(u);
  }

  void run(std::vector<Unit> &units, std::size_t threads) {
    // More threads than cores add nothing (and oneTBB warns when asked for them).
    const int cores = oneapi::tbb::info::default_concurrency();
    oneapi::tbb::task_arena arena(static_cast<int>(std::min<std::size_t>(threads, static_cast<std::size_t>(cores))));
    arena.execute([&] {
      flow::graph g;
      std::size_t next = 0;
      flow::input_node<Unit *> source(g, [&](oneapi::tbb::flow_control &fc) -> Unit * {
        if (next == units.size() || stop_.load()) {
          fc.stop();
          return nullptr;
        }
        return &units[next++];
      });
      flow::limiter_node<Unit *> limiter(g, plan_.tokens);
      flow::function_node<Unit *, Unit *> calibrate(g, flow::unlimited, [&](Unit *u) {
        admit(*u);
        prefetch(plan_.items[u->item].t, input(*u), input_size(*u));
        guarded([&] { this->calibrate(*u); });
        return u;
      });
      flow::function_node<Unit *, Unit *> quantize(g, flow::unlimited, [&](Unit *u) {
        guarded([&] { this->quantize(*u); });
        return u;
      });
      flow::function_node<Unit *, flow::continue_msg> write(g, flow::serial, [&](Unit *u) {
        guarded([&] { this->write(*u); });
        retire(*u);
        return flow::continue_msg();
      });
      flow::make_edge(source, limiter);
      flow::make_edge(limiter, calibrate);
      flow::make_edge(calibrate, quantize);
      flow::make_edge(quantize, write);
      flow::make_edge(write, limiter.decrementer());
      source.activate();
      g.wait_for_all();
    });
    if (error_) std::rethrow_exception(error_);
    if (cancelled_) fail(Q8_ERR_STATE, "cancelled by the progress callback");
  }

  // The CRC-32 of the whole data section: the pieces in file order, zeros in the gaps.
  uint32_t data_crc() {
    static const uint8_t zeros[64] = {};
    const uint64_t begin = plan_.layout.head.size(), end = begin + plan_.layout.data_size;
    uint32_t crc = 0;
    uint64_t at = begin;
    for (const auto &kv : pieces_) {
      const Piece &p = kv.second;
      if (p.offset < at || p.offset - at > sizeof zeros) fail(Q8_ERR_INTERNAL, "checkpoint: output pieces do not tile the data section");
      crc = format::crc32_of(crc, zeros, p.offset - at);
      crc = static_cast<uint32_t>(crc32_combine(crc, p.crc, static_cast<z_off_t>(p.size)));
      at = p.offset + p.size;
    }
    if (at > end || end - at > sizeof zeros) fail(Q8_ERR_INTERNAL, "checkpoint: output pieces do not tile the data section");
    return format::crc32_of(crc, zeros, end - at);
  }

  uint64_t peak() const { return peak_.load(); }

 private:
  // Kept tensors are cut into element ranges, quantized ones into row blocks.
  uint64_t stride(const Item &it) const { return (it.kind == Kind::kKeep ? 1 : it.cols) * dtype_size(it.t.dtype); }
  const uint8_t *input(const Unit &u) const { return plan_.items[u.item].t.data + u.first * stride(plan_.items[u.item]); }
  uint64_t input_size(const Unit &u) const { return u.count * stride(plan_.items[u.item]); }

  void admit(const Unit &u) {
    const uint64_t now = in_flight_.fetch_add(u.bytes) + u.bytes;
    uint64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
  }

  // Any failure stops the run; the first one is reported. Units already admitted still pass
  // through (doing nothing) so that every token comes back and the graph drains.
  template <class F>
  void guarded(F &&f) {
    if (stop_.load()) return;
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
      stop_.store(true);
    }
  }

  // The f32 rows of a quantized unit: in place in the mapping when aligned F32, else copied.
  const float *rows_f32(Unit &u) {
    const Item &it = plan_.items[u.item];
    if (!it.copy_in) return reinterpret_cast<const float *>(input(u));
    if (u.f32.empty()) {
      u.f32.resize(u.count * it.cols);
      widen_to_f32(it.t.dtype, input(u), u.f32.data(), u.f32.size());
    }
    return u.f32.data();
  }

  [[noreturn]] void not_finite(const Item &it, uint64_t channel) const {
    const char *what = it.axis == Axis::kRows ? ": row " : ": column ";
    fail(Q8_ERR_INVALID_ARGUMENT, "tensor " + quoted(it.t.name) + what + std::to_string(channel) +
                                      (it.kind == Kind::kInt4 ? " holds NaN or an infinity, or a group too wide for a finite scale"
                                                              : " holds NaN or an infinity") +
                                      "; keep the tensor unquantized (keep_fp32) or fix its values");
  }

  // Row scales (INT8), group scales and zero points (INT4), or partial column maxima.
  void calibrate(Unit &u) {
    const Item &it = plan_.items[u.item];
    if (it.kind == Kind::kKeep || (it.axis == Axis::kColumns && !u.stats)) return;
    const float *x = rows_f32(u);
    if (u.stats) {
      u.scales.assign(it.cols, 0.0f);
      if (!fold_column_abs_max(x, u.count, it.cols, u.scales.data()))
        for (uint64_t j = 0; j < it.cols; ++j)  // name the first column holding the bad value
          for (uint64_t r = 0; r < u.count; ++r)
            if (!(std::fabs(x[r * it.cols + j]) <= FLT_MAX)) not_finite(it, j);
      return;
    }
    if (it.kind == Kind::kInt8) {
      u.scales.resize(u.count);
      for (uint64_t r = 0; r < u.count; ++r) {
        const float m = row_abs_max(x + r * it.cols, it.cols);
        if (m < 0) not_finite(it, u.first + r);
        u.scales[r] = int8_scale(m);
      }
      return;
    }
    // INT4: the unit's rows of W^T (or W) are the channels' stretches of `count` (`cols`) values.
    const uint64_t n = it.axis == Axis::kRows ? u.count : it.cols;
    const uint64_t len = it.axis == Axis::kRows ? it.cols : u.count;
    const uint64_t gu = (len + it.group - 1) / it.group;
    if (it.axis == Axis::kTransposed) {
      u.transposed.resize(u.count * it.cols);
      transpose(x, u.count, it.cols, u.transposed.data());
      x = u.transposed.data();
    }
    u.scales.resize(n * gu);
    u.zero_points.resize(n * gu);
    for (uint64_t r = 0; r < n; ++r)
      if (!int4_params(x + r * len, len, it.group, u.scales.data() + r * gu, u.zero_points.data() + r * gu))
        not_finite(it, it.axis == Axis::kRows ? u.first + r : r);
  }

  void add_piece(Unit &u, const void *data, uint64_t offset, uint64_t size) {
    u.pieces.push_back(Piece{data, offset, size, format::crc32_of(0, data, size)});
  }

  // Codes, and the CRC of every piece the unit writes.
  void quantize(Unit &u) {
    const Item &it = plan_.items[u.item];
    if (u.stats) return;
    if (it.kind == Kind::kKeep) {
      const uint64_t esize = dtype_size(it.t.dtype);
      if (it.copy_in) {
        u.f32.resize(u.count);
        widen_to_f32(it.t.dtype, input(u), u.f32.data(), u.count);
        add_piece(u, u.f32.data(), it.out[0] + u.first * 4, u.count * 4);
      } else {
        add_piece(u, input(u), it.out[0] + u.first * esize, u.count * esize);
      }
      return;
    }
    if (it.axis == Axis::kColumns) {
      const float *x = rows_f32(u);
      u.codes.resize(u.count * it.cols);
      for (uint64_t r = 0; r < u.count; ++r)
        int8_codes_per_column(x + r * it.cols, it.cols, it.col_max.data(), it.col_zero_points.data(),
                              reinterpret_cast<int8_t *>(u.codes.data() + r * it.cols));
      add_piece(u, u.codes.data(), it.out[0] + u.first * it.cols, u.codes.size());
      if (u.first == 0) {  // the scales and zero points, once
        add_piece(u, it.col_max.data(), it.out[1], it.cols * 4);
        add_piece(u, it.col_zero_bytes.data(), it.out[2], it.cols);
      }
      return;
    }
    if (it.axis == Axis::kTransposed) {
      // Channel j's codes, scales and zero points for rows [first, first + count) of W: a stretch
      // of row j of each W^T constant (first is a whole number of groups, so of bytes).
      const uint64_t pc = (u.count + 1) / 2, gu = (u.count + it.group - 1) / it.group;
      const uint64_t row_codes = it.packed_depth(), g0 = u.first / it.group;
      u.codes.resize(it.cols * pc);
      u.scratch.resize(u.count);
      u.pieces.reserve(3 * it.cols);
      for (uint64_t j = 0; j < it.cols; ++j) {
        int4_codes(u.transposed.data() + j * u.count, u.count, it.group, u.scales.data() + j * gu,
                   u.zero_points.data() + j * gu, u.scratch.data(), u.codes.data() + j * pc);
        add_piece(u, u.codes.data() + j * pc, it.out[0] + j * row_codes + u.first / 2, pc);
        add_piece(u, u.scales.data() + j * gu, it.out[1] + (j * it.groups + g0) * 4, gu * 4);
        add_piece(u, u.zero_points.data() + j * gu, it.out[2] + j * it.groups + g0, gu);
      }
      return;
    }
    const float *x = rows_f32(u);
    const uint64_t pc = it.packed_depth();
    u.codes.resize(u.count * pc);
    if (it.kind == Kind::kInt8) {
      for (uint64_t r = 0; r < u.count; ++r)
        int8_codes(x + r * it.cols, it.cols, u.scales[r], reinterpret_cast<int8_t *>(u.codes.data() + r * pc));
      u.zero_points.assign(u.count, 0);
    } else {
      u.scratch.resize(it.cols);
      for (uint64_t r = 0; r < u.count; ++r)
        int4_codes(x + r * it.cols, it.cols, it.group, u.scales.data() + r * it.groups,
                   u.zero_points.data() + r * it.groups, u.scratch.data(), u.codes.data() + r * pc);
    }
    const uint64_t params = it.kind == Kind::kInt8 ? 1 : it.groups;  // per row
    add_piece(u, u.codes.data(), it.out[0] + u.first * pc, u.codes.size());
    add_piece(u, u.scales.data(), it.out[1] + u.first * params * 4, u.scales.size() * 4);
    add_piece(u, u.zero_points.data(), it.out[2] + u.first * params, u.zero_points.size());
  }

  // Serial: pwrite at the pieces' offsets (or, first pass, fold the column maxima), progress.
  void write(Unit &u) {
    if (u.stats) {
      std::vector<float> &m = plan_.items[u.item].col_max;
      for (std::size_t j = 0; j < m.size(); ++j) m[j] = std::max(m[j], u.scales[j]);
    }
    for (const Piece &p : u.pieces) {
      format::pwrite_all(fd_, p.data, p.size, p.offset, name_);
      record(p);
    }
    done_ += input_size(u);
    if (o_.progress && !o_.progress(done_, total_)) {
      cancelled_ = true;
      stop_.store(true);
    }
  }

  // Keeps the piece's place and CRC for the data CRC, merged with the pieces written right before
  // and after it (crc32_combine), so the record stays small when units write many short pieces
  // (kTransposed: three per column) and is one piece per contiguous run in the end.
  void record(const Piece &p) {
    Piece merged{nullptr, p.offset, p.size, p.crc};
    auto next = pieces_.lower_bound(p.offset);
    if (next != pieces_.begin()) {
      auto prev = std::prev(next);
      if (prev->second.offset + prev->second.size == p.offset) {
        merged.offset = prev->second.offset;
        merged.size += prev->second.size;
        merged.crc = static_cast<uint32_t>(crc32_combine(prev->second.crc, p.crc, static_cast<z_off_t>(p.size)));
        pieces_.erase(prev);
      }
    }
    if (next != pieces_.end() && next->first == p.offset + p.size) {
      merged.crc = static_cast<uint32_t>(crc32_combine(merged.crc, next->second.crc, static_cast<z_off_t>(next->second.size)));
      merged.size += next->second.size;
      pieces_.erase(next);
    }
    pieces_.emplace(merged.offset, merged);
  }

  // Gives the unit's memory back (input pages and buffers), whatever happened to it.
  void retire(Unit &u) {
    release(plan_.items[u.item].t, input(u), input_size(u));
    // (v = {} would keep the capacity: it assigns an empty initializer list.)
    std::vector<float>().swap(u.f32);
    std::vector<float>().swap(u.transposed);
    std::vector<float>().swap(u.scales);
    std::vector<uint8_t>().swap(u.codes);
    std::vector<uint8_t>().swap(u.zero_points);
    std::vector<uint8_t>().swap(u.scratch);
    std::vector<Piece>().swap(u.pieces);
    in_flight_.fetch_sub(u.bytes);
  }

  Plan &plan_;
  const Options &o_;
  int fd_;
  const std::string &name_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> in_flight_{0}, peak_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  bool cancelled_ = false;          // written by the serial write stage only
  uint64_t done_ = 0, total_ = 0;   // input bytes (the first pass's count too)
  std::map<uint64_t, Piece> pieces_;  // the bytes written, by offset: runs of merged pieces
};

std::size_t thread_count(std::size_t requested) {
  if (requested != 0) return requested;
  const int t = q8::threads();
  return t > 0 ? static_cast<std::size_t>(t) : static_cast<std::size_t>(oneapi::tbb::info::default_concurrency());
}

// ONNX by its extension, or by its first byte when it is not a safetensors file: a ModelProto
// starts with field 1 (ir_version, a varint), tag 0x08; safetensors with its header length.
bool is_onnx(const std::string &path) {
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0) return true;
  FILE *f = std::fopen(path.c_str(), "rbe");
  if (!f) return false;  // the safetensors reader reports it
  unsigned char b[9];
  const std::size_t n = std::fread(b, 1, sizeof b, f);
  std::fclose(f);
  const bool safetensors = n == sizeof b && b[8] == '{';
  return n >= 1 && b[0] == 0x08 && !safetensors;
}

}  // namespace

Report quantize_file(const std::string &input, const std::string &output, const Options &o) {
  Options eff = o;
  eff.threads = thread_count(o.threads);
  // The input stays mapped (and the ONNX model alive, its constants borrowing the mappings)
  // until the run ends.
  std::unique_ptr<File> file;
  std::unique_ptr<q8_model> model;
  std::vector<std::shared_ptr<const onnx::MappedFile>> files;
  Plan plan;
  if (is_onnx(input)) {
    model = onnx::import_onnx_file(input, &files);
    plan_onnx(*model, files, eff, plan);
  } else {
    file = std::make_unique<File>(input);
    plan_safetensors(*file, eff, plan);
  }
  finish_plan(plan, eff);

  Report r;
  r.tensors = plan.items.size();
  for (const Item &it : plan.items) {
    r.input_bytes += it.t.bytes();
    r.quantized_tensors += it.kind != Kind::kKeep;
  }
  r.output_bytes = plan.layout.head.size() + plan.layout.data_size;

  format::write_file_atomic_at(output, "write", [&](int fd) {
    // Reserve the whole file at once: no ENOSPC halfway, and one extent allocation instead of one
    // per written page (much faster on ext4). File systems without fallocate get a sparse file.
    if (::fallocate(fd, 0, 0, static_cast<off_t>(r.output_bytes)) != 0 &&
        (errno != EOPNOTSUPP || ::ftruncate(fd, static_cast<off_t>(r.output_bytes)) != 0))
      fail(Q8_ERR_IO, "cannot size '" + output + "' to " + std::to_string(r.output_bytes) + " bytes: " + std::strerror(errno));
    Runner runner(plan, eff, fd, output);
    if (!plan.stats_units.empty()) {
      // Column maxima first; they become the scales the second pass quantizes with.
      runner.run(plan.stats_units, eff.threads);
      for (Item &it : plan.items)
        for (std::size_t j = 0; j < it.col_max.size(); ++j) it.col_max[j] = int8_scale(it.col_max[j]);
    }
    runner.run(plan.units, eff.threads);
    format::set_data_crc(plan.layout, runner.data_crc());
    format::pwrite_all(fd, plan.layout.head.data(), plan.layout.head.size(), 0, output);
    r.peak_in_flight_bytes = runner.peak();
  });
  return r;
}

}  // namespace q8::ckpt
