// Reading .q8 files. Nothing in the image is trusted: the header, both checksums and the
// FlatBuffer structure are verified before anything is read through them, then every index, enum,
// count and range is checked while the graph is built, and finally the graph itself is validated.

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/mapped_file.hpp"
#include "format/format.hpp"
#include "format/layout.hpp"
#include "format/q8model_generated.h"
#include "runtime/kernel.hpp"

namespace q8::format {
namespace {

namespace fbs = flatbuffers;

[[noreturn]] void bad(const std::string &msg) { fail(Q8_ERR_FORMAT, msg); }

std::string str(const fbs::String *s) { return s ? std::string(s->data(), s->size()) : std::string(); }

std::string quoted(const std::string &s) { return "'" + s + "'"; }

// The verifier checks a vector's alignment only for its 4-byte length, yet the accessors read
// 8-byte elements in place: a [long] must be checked here (the block itself is 8-byte aligned).
// An empty one has nothing to read, and the builder does not align it.
void check_aligned(const fbs::Vector<int64_t> *v, const std::string &who) {
  if (v->size() != 0 && reinterpret_cast<uintptr_t>(v->data()) % alignof(int64_t) != 0)
    bad(who + " is not 8-byte aligned in the metadata");
}

// A union's type may be set while its value is absent (the verifier accepts that).
template <class T>
const T &present(const T *p, const std::string &who) {
  if (!p) bad(who + ": the value is missing");
  return *p;
}

// Builds the graph from verified metadata. FlatBuffers lets many offsets point at one table or
// vector, so a small file could make a naive reader copy the same big vector again and again.
// A canonical file (what the writer makes) stores each element once, so everything copied out is
// charged against the metadata's size, which bounds the work and memory by the file's size.
class Builder {
 public:
  Builder(const fb::Model &m, std::size_t meta_size, const uint8_t *data, std::size_t data_size,
          std::shared_ptr<const void> keeper)
      : m_(m), budget_(meta_size), data_(data), data_size_(data_size), keeper_(std::move(keeper)) {}

  std::unique_ptr<q8_model> build() {
    auto out = std::make_unique<q8_model>();
    model::Graph &g = out->graph;
    g.producer = take(m_.producer());
    const auto *values = m_.values();
    nv_ = values ? values->size() : 0;
    if (nv_ > static_cast<std::size_t>(INT_MAX)) bad("metadata lists too many values");
    if (values)
      for (fbs::uoffset_t i = 0; i < values->size(); ++i) g.add_value(value(*values->Get(i), i));
    if (const auto *nodes = m_.nodes()) {
      charge(nodes->size(), sizeof(model::Node));
      g.nodes.reserve(nodes->size());
      for (fbs::uoffset_t i = 0; i < nodes->size(); ++i) g.nodes.push_back(node(*nodes->Get(i), i));
    }
    g.inputs = indices(m_.inputs(), "graph input", false);
    g.outputs = indices(m_.outputs(), "graph output", false);
    g.validate();
    // A well-formed file from a newer q8 may use operators this build cannot run.
    for (const model::Node &n : g.nodes)
      if (!rt::has_kernel(n.domain, n.op))
        fail(Q8_ERR_UNSUPPORTED, "node " + quoted(n.name) + ": operator " +
                                     (n.domain.empty() ? n.op : n.domain + "." + n.op) +
                                     " is not supported by this build of q8");
    return out;
  }

 private:
  void charge(std::size_t count, std::size_t unit) {
    // Each element takes at least one byte of metadata, so this is a loose bound for honest files.
    if (count > budget_ || count * std::min<std::size_t>(unit, 4) > budget_)
      bad("metadata refers to the same data more than once (it would expand past its " +
          std::to_string(budget_) + " remaining bytes)");
    budget_ -= count * std::min<std::size_t>(unit, 4);
  }

  std::string take(const fbs::String *s) {
    if (!s) return {};
    charge(s->size(), 1);
    return str(s);
  }

  std::vector<int> indices(const fbs::Vector<int32_t> *v, const std::string &what, bool optional) {
    std::vector<int> out;
    if (!v) return out;
    charge(v->size(), sizeof(int32_t));
    out.reserve(v->size());
    for (fbs::uoffset_t i = 0; i < v->size(); ++i) {
      const int32_t id = v->Get(i);
      if (id == -1) {
        if (!optional) bad(what + " " + std::to_string(i) + ": value index -1 is not allowed here");
      } else if (id < 0 || static_cast<std::size_t>(id) >= nv_) {
        bad(what + " " + std::to_string(i) + ": value index " + std::to_string(id) +
            " is out of range (the model has " + std::to_string(nv_) + " values)");
      }
      out.push_back(id);
    }
    return out;
  }

  model::Value value(const fb::Value &fv, std::size_t index) {
    model::Value v;
    v.name = take(fv.name());
    const std::string who = "value " + std::to_string(index) + " " + quoted(v.name);
    // Range-checked as an int: q8_dtype cannot hold other values without undefined behaviour.
    const int dt = static_cast<int>(fv.dtype());
    if (dt < Q8_DTYPE_F32 || dt > Q8_DTYPE_S32) bad(who + ": unknown dtype " + std::to_string(dt));
    v.dtype = static_cast<q8_dtype>(dt);
    v.has_shape = fv.has_shape();
    v.is_const = fv.is_const();

    if (const auto *shape = fv.shape()) {
      if (!v.has_shape) bad(who + ": has a shape but has_shape is false");
      if (shape->size() > Q8_MAX_RANK)
        bad(who + ": rank " + std::to_string(shape->size()) + " is above " + std::to_string(Q8_MAX_RANK));
      check_aligned(shape, who + ": the shape");
      charge(shape->size(), sizeof(int64_t));
      for (fbs::uoffset_t d = 0; d < shape->size(); ++d) {
        const int64_t dim = shape->Get(d);
        if (dim < -1 || (dim == -1 && v.is_const))
          bad(who + ": dimension " + std::to_string(d) + " is " + std::to_string(dim));
        v.shape.push_back(dim);
      }
    }

    const uint64_t off = fv.data_offset(), size = fv.data_size();
    if (v.is_const) {
      if (!v.has_shape) bad(who + ": a constant without a shape");
      const std::size_t esize = dtype_size(v.dtype);
      uint64_t bytes = esize;
      for (int64_t dim : v.shape) {
        if (dim != 0 && bytes > UINT64_MAX / static_cast<uint64_t>(dim))
          bad(who + ": the shape's byte count overflows");
        bytes *= static_cast<uint64_t>(dim);
      }
      if (bytes != size)
        bad(who + ": holds " + std::to_string(size) + " bytes, its shape needs " + std::to_string(bytes));
      const std::size_t align = constant_alignment(static_cast<std::size_t>(size));
      if (off % align != 0)
        bad(who + ": data offset " + std::to_string(off) + " is not a multiple of " + std::to_string(align));
      if (off > data_size_ || size > data_size_ - off)
        bad(who + ": data range " + std::to_string(off) + "+" + std::to_string(size) +
            " past the data section (" + std::to_string(data_size_) + " bytes)");
      v.data.size = static_cast<std::size_t>(size);
      if (size != 0) {
        v.data.data = data_ + off;
        v.data.keeper = keeper_;
      }
    } else if (off != 0 || size != 0) {
      bad(who + ": not a constant but has data (" + std::to_string(off) + "+" + std::to_string(size) + ")");
    }

    if (const auto *qp = fv.qparams()) qparams(*qp, v, who);
    return v;
  }

  void qparams(const fb::QParams &fq, model::Value &v, const std::string &who) {
    const auto *scales = fq.scales();
    const auto *zps = fq.zero_points();
    const std::size_t count = scales ? scales->size() : 0;
    if (count == 0) bad(who + ": quantization parameters without scales");
    if (!zps || zps->size() != count)
      bad(who + ": " + std::to_string(count) + " scales but " + std::to_string(zps ? zps->size() : 0) +
          " zero points");
    if (!dtype_is_integer(v.dtype)) bad(who + ": an f32 value with quantization parameters");
    const int32_t axis = fq.axis();
    if (axis == -1) {
      if (count != 1) bad(who + ": per-tensor quantization with " + std::to_string(count) + " scales");
    } else {
      if (!v.has_shape || axis < 0 || static_cast<std::size_t>(axis) >= v.shape.size())
        bad(who + ": quantization axis " + std::to_string(axis) + " is not an axis of the value");
      if (v.shape[axis] < 0 || static_cast<uint64_t>(v.shape[axis]) != count)
        bad(who + ": " + std::to_string(count) + " scales for axis " + std::to_string(axis) +
            " of length " + std::to_string(v.shape[axis]));
    }
    charge(count, 8);
    const IntRange r = dtype_range(v.dtype);
    const bool s32 = v.dtype == Q8_DTYPE_S32;
    v.qp.axis = axis;
    for (std::size_t i = 0; i < count; ++i) {
      const float s = scales->Get(static_cast<fbs::uoffset_t>(i));
      const int32_t z = zps->Get(static_cast<fbs::uoffset_t>(i));
      if (!(std::isfinite(s) && s > 0.0f))
        bad(who + ": scale " + std::to_string(i) + " = " + std::to_string(s) + " is not finite and > 0");
      if (s32 ? z != 0 : (z < r.min || z > r.max))
        bad(who + ": zero point " + std::to_string(i) + " = " + std::to_string(z) + " is outside the " +
            dtype_name(v.dtype) + " range" + (s32 ? " (s32 needs 0)" : ""));
      v.qp.scales.push_back(s);
      v.qp.zero_points.push_back(z);
    }
  }

  model::Node node(const fb::Node &fn, std::size_t index) {
    model::Node n;
    n.name = take(fn.name());
    n.domain = take(fn.domain());
    n.op = take(fn.op());
    const std::string who = "node " + std::to_string(index) + " " + quoted(n.name) + " (" + n.op + ")";
    if (n.op.empty()) bad(who + ": empty operator type");
    n.inputs = indices(fn.inputs(), who + ": input", true);
    n.outputs = indices(fn.outputs(), who + ": output", true);
    if (const auto *attrs = fn.attrs()) {
      charge(attrs->size(), sizeof(model::Attr));
      const std::string *prev = nullptr;
      for (fbs::uoffset_t i = 0; i < attrs->size(); ++i) {
        const fb::Attr &fa = *attrs->Get(i);
        std::string key = take(fa.name());
        if (key.empty()) bad(who + ": attribute " + std::to_string(i) + " has an empty name");
        if (prev && !(*prev < key))
          bad(who + ": attribute " + quoted(key) + " is out of order or repeated");
        const auto it = n.attrs.emplace(key, attr(fa, who + ": attribute " + quoted(key))).first;
        prev = &it->first;
      }
    }
    return n;
  }

  model::Attr attr(const fb::Attr &fa, const std::string &who) {
    model::Attr a;
    switch (fa.value_type()) {
      case fb::AttrValue::IntAttr:
        a.kind = model::Attr::INT;
        a.i = present(fa.value_as_IntAttr(), who).v();
        break;
      case fb::AttrValue::FloatAttr:
        a.kind = model::Attr::FLOAT;
        a.f = present(fa.value_as_FloatAttr(), who).v();
        break;
      case fb::AttrValue::IntsAttr:
        a.kind = model::Attr::INTS;
        if (const auto *v = present(fa.value_as_IntsAttr(), who).v()) {
          check_aligned(v, who);
          charge(v->size(), sizeof(int64_t));
          a.ints.assign(v->begin(), v->end());
        }
        break;
      case fb::AttrValue::FloatsAttr:
        a.kind = model::Attr::FLOATS;
        if (const auto *v = present(fa.value_as_FloatsAttr(), who).v()) {
          charge(v->size(), sizeof(float));
          a.floats.assign(v->begin(), v->end());
        }
        break;
      case fb::AttrValue::StringAttr:
        a.kind = model::Attr::STRING;
        a.s = take(present(fa.value_as_StringAttr(), who).v());
        break;
      default:
        bad(who + ": no value or an unknown kind (" + std::to_string(static_cast<int>(fa.value_type())) + ")");
    }
    return a;
  }

  const fb::Model &m_;
  std::size_t budget_;
  const uint8_t *data_;
  std::size_t data_size_;
  std::shared_ptr<const void> keeper_;
  std::size_t nv_ = 0;
};

std::string range(uint64_t off, uint64_t size) { return std::to_string(off) + "+" + std::to_string(size); }

}  // namespace

std::unique_ptr<q8_model> read(const void *data, std::size_t size, std::shared_ptr<const void> keeper) {
  const auto *p = static_cast<const uint8_t *>(data);
  if (size < sizeof kMagic || std::memcmp(p, kMagic, sizeof kMagic) != 0)
    bad("not a .q8 file (the magic bytes are wrong)");
  if (size < kHeaderSize)
    bad("the file is " + std::to_string(size) + " bytes, shorter than the " +
        std::to_string(kHeaderSize) + "-byte header");

  Header h;
  h.version_major = static_cast<uint16_t>(load_le(p + kOffVersionMajor, 2));
  h.version_minor = static_cast<uint16_t>(load_le(p + kOffVersionMinor, 2));
  const std::string version = std::to_string(h.version_major) + "." + std::to_string(h.version_minor);
  // The version comes before the header checksum: a later major version may lay its header out
  // differently, and deserves "unsupported", not "corrupt".
  if (h.version_major > kVersionMajor)
    fail(Q8_ERR_UNSUPPORTED, "format version " + version + " is newer than this library reads (" +
                                 std::to_string(kVersionMajor) + ".x)");
  if (h.version_major == 0) bad("format version " + version + " does not exist");
  const uint32_t header_crc = static_cast<uint32_t>(load_le(p + kOffHeaderCrc, 4));
  if (crc32_of(0, p, kOffHeaderCrc) != header_crc) bad("header checksum mismatch (the header is corrupt)");
  if (load_le(p + kOffReserved, 4) != 0) bad("reserved header bytes 56-59 are not zero");

  h.header_size = static_cast<uint32_t>(load_le(p + kOffHeaderSize, 4));
  h.meta_offset = load_le(p + kOffMetaOffset, 8);
  h.meta_size = load_le(p + kOffMetaSize, 8);
  h.data_offset = load_le(p + kOffDataOffset, 8);
  h.data_size = load_le(p + kOffDataSize, 8);
  h.meta_crc = static_cast<uint32_t>(load_le(p + kOffMetaCrc, 4));
  h.data_crc = static_cast<uint32_t>(load_le(p + kOffDataCrc, 4));

  if (h.header_size < kHeaderSize || h.header_size > size)
    bad("header size " + std::to_string(h.header_size) + " is outside [" + std::to_string(kHeaderSize) +
        ", file size " + std::to_string(size) + "]");
  if (h.meta_offset < h.header_size || h.meta_offset % 8 != 0)
    bad("metadata offset " + std::to_string(h.meta_offset) + " overlaps the header or is not 8-byte aligned");
  if (h.meta_offset > size || h.meta_size > size - h.meta_offset)
    bad("metadata range " + range(h.meta_offset, h.meta_size) + " is past the end of the file (" +
        std::to_string(size) + " bytes)");
  if (h.meta_size >= FLATBUFFERS_MAX_BUFFER_SIZE)
    bad("metadata block of " + std::to_string(h.meta_size) + " bytes is too large");
  if (h.data_offset % kAlign != 0 || h.data_offset < h.meta_offset + h.meta_size)
    bad("data offset " + std::to_string(h.data_offset) + " is not a multiple of " + std::to_string(kAlign) +
        " after the metadata (which ends at " + std::to_string(h.meta_offset + h.meta_size) + ")");
  if (h.data_offset > size || h.data_size > size - h.data_offset)
    bad("data range " + range(h.data_offset, h.data_size) + " is past the end of the file (" +
        std::to_string(size) + " bytes)");
  if (h.data_offset + h.data_size != size)
    bad(std::to_string(size - h.data_offset - h.data_size) + " unexpected bytes after the data section");

  const uint8_t *meta = p + h.meta_offset;
  const uint8_t *dat = p + h.data_offset;
  if (crc32_of(0, meta, h.meta_size) != h.meta_crc) bad("metadata checksum mismatch (the metadata is corrupt)");
  if (crc32_of(0, dat, h.data_size) != h.data_crc) bad("data checksum mismatch (the weights are corrupt)");

  // FlatBuffers reads scalars in place, so the block must sit 8-byte aligned in memory.
  std::vector<uint64_t> meta_copy;
  if (reinterpret_cast<uintptr_t>(meta) % 8 != 0) {
    meta_copy.resize((h.meta_size + 7) / 8);
    std::memcpy(meta_copy.data(), meta, h.meta_size);
    meta = reinterpret_cast<const uint8_t *>(meta_copy.data());
  }
  // At most one table per 4 bytes: bounds the verifier's work on tables shared many times.
  fbs::Verifier verifier(meta, h.meta_size, 64, static_cast<fbs::uoffset_t>(h.meta_size / 4 + 1));
  if (!fb::VerifyModelBuffer(verifier))
    bad("the metadata block (" + range(h.meta_offset, h.meta_size) +
        ") is not a valid q8 FlatBuffer (wrong identifier, an offset out of bounds or a missing required field)");

  // Constants are borrowed in place when the bytes outlive the model and sit aligned for SIMD
  // loads; otherwise the data section is copied once into aligned storage.
  if (h.data_size != 0 && (!keeper || reinterpret_cast<uintptr_t>(dat) % kAlign != 0)) {
    std::shared_ptr<uint8_t> copy(static_cast<uint8_t *>(aligned_zalloc(h.data_size)), aligned_free);
    std::memcpy(copy.get(), dat, h.data_size);
    dat = copy.get();
    keeper = std::move(copy);
  }
  return Builder(*fb::GetModel(meta), h.meta_size, dat, h.data_size, std::move(keeper)).build();
}

std::unique_ptr<q8_model> read_file(const char *path) {
  const std::string name(path);
  auto mapped = std::make_shared<const MappedFile>(name, "'" + name + "'");
  try {
    // The model's constants borrow from the mapping, which they keep alive.
    return read(mapped->data(), mapped->size(), std::shared_ptr<const void>(mapped, mapped->data()));
  } catch (const Error &e) {
    fail(e.status(), "'" + name + "': " + e.what());
  }
}

}  // namespace q8::format
