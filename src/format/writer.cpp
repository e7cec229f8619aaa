// Writing .q8 files: lay out the data section, build the metadata FlatBuffer, then emit header,
// metadata and data through one sink, so the in-memory image and the streamed file are the same
// bytes. Deterministic: the layout depends only on the graph (values in index order, attributes
// in name order, zero padding, no timestamps), and only on the constants' sizes, so the streaming
// checkpoint writer (src/checkpoint) places constants that do not exist yet where write() would.
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "format/atomic_file.hpp"
#include "format/format.hpp"
#include "format/layout.hpp"
#include "format/q8model_generated.h"

namespace q8::format {
namespace {

namespace fbs = flatbuffers;

std::size_t align_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

const uint8_t kZeros[kAlign] = {};

fbs::Offset<fb::Attr> build_attr(fbs::FlatBufferBuilder &b, const std::string &key,
                                 const model::Attr &a) {
  const auto name = b.CreateString(key);
  fb::AttrValue type = fb::AttrValue::NONE;
  fbs::Offset<void> value;
  switch (a.kind) {
    case model::Attr::INT:
      type = fb::AttrValue::IntAttr;
      value = fb::CreateIntAttr(b, a.i).Union();
      break;
    case model::Attr::FLOAT:
      type = fb::AttrValue::FloatAttr;
      value = fb::CreateFloatAttr(b, a.f).Union();
      break;
    case model::Attr::INTS:
      type = fb::AttrValue::IntsAttr;
      value = fb::CreateIntsAttr(b, b.CreateVector(a.ints)).Union();
      break;
    case model::Attr::FLOATS:
      type = fb::AttrValue::FloatsAttr;
      value = fb::CreateFloatsAttr(b, b.CreateVector(a.floats)).Union();
      break;
    case model::Attr::STRING:
      type = fb::AttrValue::StringAttr;
      value = fb::CreateStringAttr(b, b.CreateString(a.s)).Union();
      break;
  }
  if (type == fb::AttrValue::NONE) fail(Q8_ERR_INTERNAL, "attribute '" + key + "' has an unknown kind");
  return fb::CreateAttr(b, name, type, value);
}

}  // namespace

Layout layout(const model::Graph &g) {
  Layout img;
  std::vector<std::size_t> &offsets = img.offsets;
  offsets.assign(g.values.size(), 0);
  for (std::size_t i = 0; i < g.values.size(); ++i) {
    const model::Value &v = g.values[i];
    if (!v.is_const) continue;
    const std::size_t a = constant_alignment(v.data.size);
    offsets[i] = (img.data_size + a - 1) / a * a;
    img.data_size = offsets[i] + v.data.size;
  }

  fbs::FlatBufferBuilder b(4096);
  std::vector<fbs::Offset<fb::Value>> values;
  values.reserve(g.values.size());
  for (std::size_t i = 0; i < g.values.size(); ++i) {
    const model::Value &v = g.values[i];
    const auto name = b.CreateString(v.name);
    const auto shape = v.shape.empty() ? 0 : b.CreateVector(v.shape);
    fbs::Offset<fb::QParams> qp = 0;
    if (v.qp.present())
      qp = fb::CreateQParams(b, v.qp.axis, b.CreateVector(v.qp.scales),
                             b.CreateVector(v.qp.zero_points));
    values.push_back(fb::CreateValue(b, name, static_cast<fb::DType>(v.dtype), v.has_shape, shape,
                                     v.is_const, qp, offsets[i], v.is_const ? v.data.size : 0));
  }
  std::vector<fbs::Offset<fb::Node>> nodes;
  nodes.reserve(g.nodes.size());
  for (const model::Node &n : g.nodes) {
    const auto name = n.name.empty() ? 0 : b.CreateString(n.name);
    const auto domain = n.domain.empty() ? 0 : b.CreateString(n.domain);
    const auto op = b.CreateString(n.op);
    const auto inputs = b.CreateVector(n.inputs);
    const auto outputs = b.CreateVector(n.outputs);
    std::vector<fbs::Offset<fb::Attr>> attrs;
    for (const auto &kv : n.attrs) attrs.push_back(build_attr(b, kv.first, kv.second));  // map: sorted
    nodes.push_back(fb::CreateNode(b, name, domain, op, inputs, outputs,
                                   attrs.empty() ? 0 : b.CreateVector(attrs)));
  }
  const auto producer = g.producer.empty() ? 0 : b.CreateString(g.producer);
  const auto root = fb::CreateModel(b, producer, b.CreateVector(values), b.CreateVector(nodes),
                                    b.CreateVector(g.inputs), b.CreateVector(g.outputs));
  fb::FinishModelBuffer(b, root);

  Header &h = img.header;
  h.meta_offset = kHeaderSize;
  h.meta_size = b.GetSize();
  h.data_offset = align_up(kHeaderSize + b.GetSize());
  h.data_size = img.data_size;
  h.meta_crc = crc32_of(0, b.GetBufferPointer(), b.GetSize());

  img.head.assign(h.data_offset, 0);
  encode_header(h, img.head.data());
  std::memcpy(img.head.data() + kHeaderSize, b.GetBufferPointer(), b.GetSize());
  return img;
}

void set_data_crc(Layout &img, uint32_t crc) {
  img.header.data_crc = crc;
  encode_header(img.header, img.head.data());
}

namespace {

// Calls sink(pointer, bytes) over the data section in order: each constant after its padding.
template <class Sink>
void for_each_data(const model::Graph &g, const Layout &img, Sink &&sink) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.values.size(); ++i) {
    const model::Value &v = g.values[i];
    if (!v.is_const) continue;
    sink(kZeros, img.offsets[i] - at);
    sink(v.data.data, v.data.size);
    at = img.offsets[i] + v.data.size;
  }
}

// The layout with its data checksum, ready to emit.
Layout checked_layout(const model::Graph &g) {
  Layout img = layout(g);
  uint32_t crc = 0;
  for_each_data(g, img, [&](const void *p, std::size_t n) { crc = crc32_of(crc, p, n); });
  set_data_crc(img, crc);
  return img;
}

}  // namespace

std::vector<uint8_t> write(const model::Graph &g) {
  const Layout img = checked_layout(g);
  std::vector<uint8_t> out;
  out.reserve(img.head.size() + img.data_size);
  const auto append = [&](const void *p, std::size_t n) {
    if (n != 0) out.insert(out.end(), static_cast<const uint8_t *>(p), static_cast<const uint8_t *>(p) + n);
  };
  append(img.head.data(), img.head.size());
  for_each_data(g, img, append);
  return out;
}

void save_file(const model::Graph &g, const char *path) {
  const Layout img = checked_layout(g);
  write_file_atomic(path, "save", [&](const WriteFn &write) {
    write(img.head.data(), img.head.size());
    for_each_data(g, img, write);
  });
}

}  // namespace q8::format
