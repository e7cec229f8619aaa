// The streaming checkpoint quantizer. Everything about the output is decided before any tensor
// byte is read: the graph (which tensors are quantized, the constants each becomes) and with it,
// through format::layout(), the offset of every constant in the .q8 file. Work is then cut into
// units (row blocks of one tensor) that each know where their bytes go, so blocks finish in any
// order, are written with pwrite at their final offsets, and the data CRC is assembled at the end
// from per-piece CRCs with crc32_combine. The header, which holds that CRC, is written last.
//
// Memory: a unit holds its input pages (touched in the mapping), its f32 copy when the input is
// F16/BF16 or misaligned, and its output buffers; `bytes` counts all of them. The limiter admits
// at most `tokens` units, and tokens x the largest unit <= max_memory, so the bytes in flight stay
// under max_memory. A written unit releases its input pages (MADV_DONTNEED) and frees its buffers
// before its token is returned.
#include "checkpoint/stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>

#include "checkpoint/safetensors.hpp"
#include "checkpoint/weight_quant.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"
#include "format/atomic_file.hpp"
#include "format/format.hpp"
#include "model/graph.hpp"

namespace q8::ckpt {
namespace {

namespace flow = oneapi::tbb::flow;

// Units stay small enough that the second pass over a block (quantize after calibrate) hits the
// cache, and plentiful enough to keep every thread busy; the limiter allows a few per thread.
constexpr uint64_t kMaxUnitBytes = uint64_t{16} << 20;
constexpr std::size_t kMaxTokens = 64;

enum class Kind { kInt8, kInt4, kKeep };

// One checkpoint tensor in the output.
struct Item {
  const TensorInfo *t = nullptr;
  Kind kind = Kind::kKeep;
  uint64_t rows = 1, cols = 0;  // quantized: W [rows, cols]; kept: one row of numel elements
  uint64_t groups = 0;          // INT4: groups per row
  bool copy_in = false;         // the input needs an f32 copy (F16/BF16, or F32 not 4-byte aligned)
  int value[3] = {-1, -1, -1};  // constants: codes, scales, zero points (kept: value[0] only)
  uint64_t out[3] = {};         // their offsets in the output file

  uint64_t packed_cols() const { return kind == Kind::kInt4 ? (cols + 1) / 2 : cols; }
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
  std::vector<float> f32;
  std::vector<float> scales;
  std::vector<uint8_t> codes, zero_points, scratch;
  std::array<Piece, 3> pieces;
  std::size_t npieces = 0;
};

std::string quoted(const std::string &s) { return "'" + s + "'"; }

struct Plan {
  model::Graph graph;
  format::Layout layout;
  std::vector<Item> items;
  std::vector<Unit> units;
  std::size_t tokens = 1;
  uint64_t max_unit = 0;
};

int add_value(model::Graph &g, const std::string &name, q8_dtype dt, std::vector<int64_t> shape, bool constant,
              const std::string &tensor) {
  if (g.find(name) >= 0)
    fail(Q8_ERR_UNSUPPORTED, "tensor " + quoted(tensor) + ": the output needs a tensor named " + quoted(name) +
                                 ", which another tensor of the checkpoint already uses");
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

// Bytes a unit of `count` rows (elements, for kept tensors) of `it` holds in flight.
uint64_t unit_bytes(const Item &it, uint64_t count) {
  const uint64_t in = dtype_size(it.t->dtype);
  if (it.kind == Kind::kKeep) return count * (in + (it.copy_in ? 4 : 0));
  uint64_t row = it.cols * (in + (it.copy_in ? 4 : 0)) + it.packed_cols();
  row += it.kind == Kind::kInt8 ? 4 + 1 : it.groups * 5;
  return count * row + (it.kind == Kind::kInt4 ? it.cols : 0);  // + one row of unpacked codes
}

Plan make_plan(const Header &h, const Options &o) {
  Plan p;
  std::set<std::string> keep(o.keep.begin(), o.keep.end());
  for (const std::string &k : keep) {
    const bool found = std::any_of(h.tensors.begin(), h.tensors.end(), [&](const TensorInfo &t) { return t.name == k; });
    if (!found) fail(Q8_ERR_INVALID_ARGUMENT, "keep_fp32 names " + quoted(k) + ", which is not a tensor of the checkpoint");
  }
  model::Graph &g = p.graph;
  g.producer = o.format == Format::kInt8PerChannel ? "q8 checkpoint int8 per channel"
                                                   : "q8 checkpoint int4 group " + std::to_string(o.group);
  for (const TensorInfo &t : h.tensors) {
    Item it;
    it.t = &t;
    const bool quantize = is_float(t.dtype) && t.shape.size() == 2 && t.numel != 0 &&
                          t.numel >= o.min_elements && !keep.count(t.name);
    if (quantize) {
      it.kind = o.format == Format::kInt8PerChannel ? Kind::kInt8 : Kind::kInt4;
      it.rows = static_cast<uint64_t>(t.shape[0]);
      it.cols = static_cast<uint64_t>(t.shape[1]);
      it.groups = (it.cols + o.group - 1) / o.group;
    } else {
      it.cols = t.numel;
    }
    it.copy_in = t.dtype == DType::F16 || t.dtype == DType::BF16 || (t.dtype == DType::F32 && (h.data_offset + t.begin) % 4 != 0);

    const int64_t rows = static_cast<int64_t>(it.rows), cols = static_cast<int64_t>(it.cols);
    if (it.kind == Kind::kKeep) {
      const int c = add_value(g, t.name, kept_dtype(t.dtype), t.shape, true, t.name);
      it.value[0] = c;
      g.outputs.push_back(c);
    } else {
      const bool int8 = it.kind == Kind::kInt8;
      const int64_t groups = static_cast<int64_t>(it.groups);
      it.value[0] = add_value(g, t.name + "_quantized", int8 ? Q8_DTYPE_S8 : Q8_DTYPE_U8,
                              {rows, static_cast<int64_t>(it.packed_cols())}, true, t.name);
      it.value[1] = add_value(g, t.name + "_scale", Q8_DTYPE_F32, int8 ? std::vector<int64_t>{rows} : std::vector<int64_t>{rows, groups},
                              true, t.name);
      it.value[2] = add_value(g, t.name + "_zero_point", int8 ? Q8_DTYPE_S8 : Q8_DTYPE_U8,
                              int8 ? std::vector<int64_t>{rows} : std::vector<int64_t>{rows, groups}, true, t.name);
      const int y = add_value(g, t.name, Q8_DTYPE_F32, {rows, cols}, false, t.name);
      model::Node n;
      n.name = t.name + "_dequantize";
      n.inputs = {it.value[0], it.value[1], it.value[2]};
      n.outputs = {y};
      model::Attr a;
      if (int8) {
        n.op = "DequantizeLinear";
        a.i = 0;
        n.attrs["axis"] = a;
      } else {
        n.domain = "ai.q8";
        n.op = "DequantizeBlockwise";
        a.i = 4;
        n.attrs["bits"] = a;
        a.i = static_cast<int64_t>(o.group);
        n.attrs["block_size"] = a;
        a.i = cols;
        n.attrs["cols"] = a;
      }
      g.nodes.push_back(std::move(n));
      g.outputs.push_back(y);
    }
    p.items.push_back(it);
  }
  g.validate();
  p.layout = format::layout(g);
  const uint64_t data_at = p.layout.head.size();
  for (Item &it : p.items)
    for (int k = 0; k < 3; ++k)
      if (it.value[k] >= 0) it.out[k] = data_at + p.layout.offsets[static_cast<std::size_t>(it.value[k])];

  // Units: each item cut into near-equal blocks of at most `cap` bytes (at least one row).
  p.tokens = std::min(kMaxTokens, 2 * o.threads + 2);
  const uint64_t cap = std::min(kMaxUnitBytes, o.max_memory / p.tokens);
  for (std::size_t i = 0; i < p.items.size(); ++i) {
    const Item &it = p.items[i];
    const uint64_t total = it.kind == Kind::kKeep ? it.cols : it.rows;
    if (total == 0) continue;
    const uint64_t fixed = unit_bytes(it, 0), per = unit_bytes(it, 1) - fixed;
    const uint64_t most = cap > fixed ? std::max<uint64_t>(1, (cap - fixed) / per) : 1;
    const uint64_t n = (total + most - 1) / most, each = (total + n - 1) / n;
    for (uint64_t first = 0; first < total; first += each) {
      Unit u;
      u.item = i;
      u.first = first;
      u.count = std::min(each, total - first);
      u.bytes = unit_bytes(it, u.count);
      p.max_unit = std::max(p.max_unit, u.bytes);
      if (u.bytes > o.max_memory)
        fail(Q8_ERR_INVALID_ARGUMENT, "max_memory = " + std::to_string(o.max_memory) + " bytes is too small for tensor " +
                                          quoted(it.t->name) + ": one row needs " + std::to_string(u.bytes) + " bytes");
      p.units.push_back(std::move(u));
    }
  }
  if (p.max_unit != 0) p.tokens = std::max<std::size_t>(1, std::min<uint64_t>(p.tokens, o.max_memory / p.max_unit));
  return p;
}

// Runs the plan's units through the flow graph, writing into `fd`.
class Runner {
 public:
  Runner(const File &file, Plan &plan, const Options &o, int fd, const std::string &name)
      : file_(file), plan_(plan), o_(o), fd_(fd), name_(name) {
    for (const Unit &u : plan.units) total_ += input_size(u);
  }

  void run(std::size_t threads) {
    // More threads than cores add nothing (and oneTBB warns when asked for them).
    const int cores = oneapi::tbb::info::default_concurrency();
    oneapi::tbb::task_arena arena(static_cast<int>(std::min<std::size_t>(threads, static_cast<std::size_t>(cores))));
    arena.execute([&] {
      flow::graph g;
      std::size_t next = 0;
      flow::input_node<Unit *> source(g, [&](oneapi::tbb::flow_control &fc) -> Unit * {
        if (next == plan_.units.size() || stop_.load()) {
          fc.stop();
          return nullptr;
        }
        return &plan_.units[next++];
      });
      flow::limiter_node<Unit *> limiter(g, plan_.tokens);
      flow::function_node<Unit *, Unit *> calibrate(g, flow::unlimited, [&](Unit *u) {
        admit(*u);
        file_.prefetch(input(*u), input_size(*u));
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
    std::sort(pieces_.begin(), pieces_.end(), [](const Piece &a, const Piece &b) { return a.offset < b.offset; });
    const uint64_t begin = plan_.layout.head.size(), end = begin + plan_.layout.data_size;
    uint32_t crc = 0;
    uint64_t at = begin;
    for (const Piece &p : pieces_) {
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
  const uint8_t *input(const Unit &u) const {
    const Item &it = plan_.items[u.item];
    return file_.data(*it.t) + u.first * it.cols * dtype_size(it.t->dtype);
  }
  uint64_t input_size(const Unit &u) const {
    const Item &it = plan_.items[u.item];
    return u.count * (it.kind == Kind::kKeep ? 1 : it.cols) * dtype_size(it.t->dtype);
  }

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
      widen_to_f32(it.t->dtype, input(u), u.f32.data(), u.f32.size());
    }
    return u.f32.data();
  }

  [[noreturn]] void not_finite(const Item &it, uint64_t row) const {
    fail(Q8_ERR_INVALID_ARGUMENT, "tensor " + quoted(it.t->name) + ": row " + std::to_string(row) +
                                      (it.kind == Kind::kInt4 ? " holds NaN or an infinity, or a group too wide for a finite scale"
                                                              : " holds NaN or an infinity") +
                                      "; keep the tensor unquantized (keep_fp32) or fix its values");
  }

  // Row scales (INT8) or group scales and zero points (INT4).
  void calibrate(Unit &u) {
    const Item &it = plan_.items[u.item];
    if (it.kind == Kind::kKeep) return;
    const float *x = rows_f32(u);
    if (it.kind == Kind::kInt8) {
      u.scales.resize(u.count);
      for (uint64_t r = 0; r < u.count; ++r) {
        const float m = row_abs_max(x + r * it.cols, it.cols);
        if (m < 0) not_finite(it, u.first + r);
        u.scales[r] = int8_scale(m);
      }
    } else {
      u.scales.resize(u.count * it.groups);
      u.zero_points.resize(u.count * it.groups);
      for (uint64_t r = 0; r < u.count; ++r)
        if (!int4_params(x + r * it.cols, it.cols, o_.group, u.scales.data() + r * it.groups,
                         u.zero_points.data() + r * it.groups))
          not_finite(it, u.first + r);
    }
  }

  void add_piece(Unit &u, const void *data, uint64_t offset, uint64_t size) {
    Piece &p = u.pieces[u.npieces++];
    p.data = data;
    p.offset = offset;
    p.size = size;
    p.crc = format::crc32_of(0, data, size);
  }

  // Codes, and the CRC of every piece the unit writes.
  void quantize(Unit &u) {
    const Item &it = plan_.items[u.item];
    if (it.kind == Kind::kKeep) {
      const uint64_t esize = dtype_size(it.t->dtype);
      if (it.copy_in) {
        u.f32.resize(u.count);
        widen_to_f32(it.t->dtype, input(u), u.f32.data(), u.count);
        add_piece(u, u.f32.data(), it.out[0] + u.first * 4, u.count * 4);
      } else {
        add_piece(u, input(u), it.out[0] + u.first * esize, u.count * esize);
      }
      return;
    }
    const float *x = rows_f32(u);
    const uint64_t pc = it.packed_cols();
    u.codes.resize(u.count * pc);
    if (it.kind == Kind::kInt8) {
      for (uint64_t r = 0; r < u.count; ++r)
        int8_codes(x + r * it.cols, it.cols, u.scales[r], reinterpret_cast<int8_t *>(u.codes.data() + r * pc));
      u.zero_points.assign(u.count, 0);
    } else {
      u.scratch.resize(it.cols);
      for (uint64_t r = 0; r < u.count; ++r)
        int4_codes(x + r * it.cols, it.cols, o_.group, u.scales.data() + r * it.groups,
                   u.zero_points.data() + r * it.groups, u.scratch.data(), u.codes.data() + r * pc);
    }
    const uint64_t params = it.kind == Kind::kInt8 ? 1 : it.groups;  // per row
    add_piece(u, u.codes.data(), it.out[0] + u.first * pc, u.codes.size());
    add_piece(u, u.scales.data(), it.out[1] + u.first * params * 4, u.scales.size() * 4);
    add_piece(u, u.zero_points.data(), it.out[2] + u.first * params, u.zero_points.size());
  }

  // Serial: pwrite at the pieces' offsets, progress.
  void write(Unit &u) {
    for (std::size_t i = 0; i < u.npieces; ++i) {
      const Piece &p = u.pieces[i];
      format::pwrite_all(fd_, p.data, p.size, p.offset, name_);
      pieces_.push_back(Piece{nullptr, p.offset, p.size, p.crc});
    }
    done_ += input_size(u);
    if (o_.progress && !o_.progress(done_, total_)) {
      cancelled_ = true;
      stop_.store(true);
    }
  }

  // Gives the unit's memory back (input pages and buffers), whatever happened to it.
  void retire(Unit &u) {
    file_.release(input(u), input_size(u));
    // (v = {} would keep the capacity: it assigns an empty initializer list.)
    std::vector<float>().swap(u.f32);
    std::vector<float>().swap(u.scales);
    std::vector<uint8_t>().swap(u.codes);
    std::vector<uint8_t>().swap(u.zero_points);
    std::vector<uint8_t>().swap(u.scratch);
    u.npieces = 0;
    in_flight_.fetch_sub(u.bytes);
  }

  const File &file_;
  Plan &plan_;
  const Options &o_;
  int fd_;
  const std::string &name_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> in_flight_{0}, peak_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  bool cancelled_ = false;          // written by the serial write stage only
  uint64_t done_ = 0, total_ = 0;   // input bytes
  std::vector<Piece> pieces_;       // every piece written, for the data CRC
};

std::size_t thread_count(std::size_t requested) {
  if (requested != 0) return requested;
  const int t = q8::threads();
  return t > 0 ? static_cast<std::size_t>(t) : static_cast<std::size_t>(oneapi::tbb::info::default_concurrency());
}

}  // namespace

Report quantize_file(const std::string &input, const std::string &output, const Options &o) {
  const File file(input);
  const Header &h = file.header();
  Options eff = o;
  eff.threads = thread_count(o.threads);
  Plan plan = make_plan(h, eff);

  Report r;
  r.tensors = h.tensors.size();
  for (const Item &it : plan.items) {
    r.input_bytes += it.t->bytes();
    r.quantized_tensors += it.kind != Kind::kKeep;
  }
  r.output_bytes = plan.layout.head.size() + plan.layout.data_size;

  format::write_file_atomic_at(output, "write", [&](int fd) {
    // Reserve the whole file at once: no ENOSPC halfway, and one extent allocation instead of one
    // per written page (much faster on ext4). File systems without fallocate get a sparse file.
    if (::fallocate(fd, 0, 0, static_cast<off_t>(r.output_bytes)) != 0 &&
        (errno != EOPNOTSUPP || ::ftruncate(fd, static_cast<off_t>(r.output_bytes)) != 0))
      fail(Q8_ERR_IO, "cannot size '" + output + "' to " + std::to_string(r.output_bytes) + " bytes: " + std::strerror(errno));
    Runner runner(file, plan, eff, fd, output);
    runner.run(eff.threads);
    format::set_data_crc(plan.layout, runner.data_crc());
    format::pwrite_all(fd, plan.layout.head.data(), plan.layout.head.size(), 0, output);
    r.peak_in_flight_bytes = runner.peak();
  });
  return r;
}

}  // namespace q8::ckpt
