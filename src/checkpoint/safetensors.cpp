// The safetensors reader: header checks (nlohmann/json with a callback that rejects repeated
// keys, which the library itself would silently overwrite), exact F16/BF16 widening, the mapping.
#include "checkpoint/safetensors.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "q8/tensor.h"

namespace q8::ckpt {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string &msg) { fail(Q8_ERR_FORMAT, msg); }

std::string quoted(const std::string &s) { return "'" + s + "'"; }

// Safetensors dtypes that are valid but that q8 does not read.
bool known_unsupported(const std::string &s) {
  static const char *const names[] = {"BOOL", "U16", "I16", "U32", "I64", "U64", "F64", "C64",
                                      "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"};
  for (const char *n : names)
    if (s == n) return true;
  return false;
}

DType parse_dtype(const json &j, const std::string &who) {
  if (!j.is_string()) bad(who + ": \"dtype\" is not a string");
  const std::string &s = j.get_ref<const std::string &>();
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "I8") return DType::I8;
  if (s == "U8") return DType::U8;
  if (s == "I32") return DType::I32;
  if (known_unsupported(s))
    fail(Q8_ERR_UNSUPPORTED, who + ": dtype " + s + " is not supported (F32, F16, BF16, I8, U8 and I32 are)");
  bad(who + ": unknown dtype " + quoted(s));
}

// A JSON integer in [0, 2^64): nlohmann keeps non-negative integers as unsigned.
uint64_t parse_count(const json &j, const std::string &who) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) bad(who + " is negative (" + j.dump() + ")");
  bad(who + " is not an integer (" + j.dump() + ")");
}

TensorInfo parse_tensor(const std::string &name, const json &j, uint64_t data_size) {
  const std::string who = "tensor " + quoted(name);
  if (name.empty()) bad("a tensor has an empty name");
  if (!j.is_object()) bad(who + ": the entry is not a JSON object");
  TensorInfo t;
  t.name = name;
  const auto dtype = j.find("dtype"), shape = j.find("shape"), offsets = j.find("data_offsets");
  if (dtype == j.end()) bad(who + ": no \"dtype\"");
  if (shape == j.end()) bad(who + ": no \"shape\"");
  if (offsets == j.end()) bad(who + ": no \"data_offsets\"");
  t.dtype = parse_dtype(*dtype, who);

  if (!shape->is_array()) bad(who + ": \"shape\" is not an array");
  if (shape->size() > Q8_MAX_RANK)
    fail(Q8_ERR_UNSUPPORTED, who + ": rank " + std::to_string(shape->size()) + " is above q8's " +
                                 std::to_string(Q8_MAX_RANK));
  bool overflow = false;
  for (std::size_t d = 0; d < shape->size(); ++d) {
    const uint64_t dim = parse_count((*shape)[d], who + ": dimension " + std::to_string(d));
    if (dim > static_cast<uint64_t>(INT64_MAX)) bad(who + ": dimension " + std::to_string(d) + " is too large");
    t.shape.push_back(static_cast<int64_t>(dim));
    overflow = overflow || __builtin_mul_overflow(t.numel, dim, &t.numel);
  }
  uint64_t bytes = 0;
  if (overflow || __builtin_mul_overflow(t.numel, dtype_size(t.dtype), &bytes))
    bad(who + ": the element count of shape " + shape->dump() + " overflows");

  if (!offsets->is_array() || offsets->size() != 2) bad(who + ": \"data_offsets\" is not [begin, end]");
  t.begin = parse_count((*offsets)[0], who + ": data_offsets[0]");
  t.end = parse_count((*offsets)[1], who + ": data_offsets[1]");
  const std::string range = "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  if (t.end < t.begin) bad(who + ": data_offsets " + range + " end before they begin");
  if (t.end - t.begin != bytes)
    bad(who + ": data_offsets " + range + " hold " + std::to_string(t.end - t.begin) + " bytes, but " +
        std::to_string(t.numel) + " " + dtype_name(t.dtype) + " elements need " + std::to_string(bytes));
  if (t.end > data_size)
    bad(who + ": data_offsets " + range + " end past the data section (" + std::to_string(data_size) +
        " bytes)");
  return t;
}

}  // namespace

std::size_t dtype_size(DType d) noexcept {
  switch (d) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::I8: case DType::U8: return 1;
  }
  return 0;
}

const char *dtype_name(DType d) noexcept {
  switch (d) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::I32: return "I32";
  }
  return "?";
}

Header parse_header(const uint8_t *file, std::size_t size) {
  if (size < 8) bad("the file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{file[i]} << (8 * i);
  if (n > kMaxHeaderBytes)
    bad("header length " + std::to_string(n) + " is above the " + std::to_string(kMaxHeaderBytes) + "-byte limit");
  if (n > size - 8)
    bad("header length " + std::to_string(n) + " is past the end of the file (" + std::to_string(size) + " bytes)");
  if (n == 0 || file[8] != '{') bad("the header does not start with '{' (not a safetensors file)");

  // nlohmann keeps the last of repeated keys; a checkpoint with two tensors of one name is
  // ambiguous, so any repeated key in any object is an error.
  std::vector<std::set<std::string>> open;  // keys seen in each open object
  std::string repeated;
  const json::parser_callback_t watch = [&](int, json::parse_event_t ev, json &parsed) {
    if (ev == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (ev == json::parse_event_t::key && !open.empty() && repeated.empty()) {
      const std::string &k = parsed.get_ref<const std::string &>();
      if (!open.back().insert(k).second) repeated = (open.size() == 1 ? "tensor name " : "key ") + quoted(k);
    }
    return true;
  };
  json root;
  try {
    root = json::parse(file + 8, file + 8 + n, watch);
  } catch (const json::exception &e) {
    bad(std::string("the header is not valid JSON: ") + e.what());
  }
  if (!repeated.empty()) bad("the header repeats " + repeated);
  // It starts with '{', so it is an object.

  Header h;
  h.data_offset = 8 + n;
  const uint64_t data_size = size - h.data_offset;
  for (const auto &kv : root.items()) {
    if (kv.key() == "__metadata__") {
      if (!kv.value().is_object()) bad("\"__metadata__\" is not an object");
      for (const auto &m : kv.value().items()) {
        if (!m.value().is_string()) bad("\"__metadata__\" entry " + quoted(m.key()) + " is not a string");
        h.metadata.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    h.tensors.push_back(parse_tensor(kv.key(), kv.value(), data_size));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo &a, const TensorInfo &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.name < b.name;
  });
  const TensorInfo *last = nullptr;  // the non-empty tensor reaching furthest so far
  for (const TensorInfo &t : h.tensors) {
    if (t.bytes() == 0) continue;
    if (last && t.begin < last->end)
      bad("tensors " + quoted(last->name) + " and " + quoted(t.name) + " overlap (bytes " +
          std::to_string(t.begin) + " to " + std::to_string(std::min(t.end, last->end)) + ")");
    if (!last || t.end > last->end) last = &t;
  }
  return h;
}

void widen_to_f32(DType d, const uint8_t *src, float *dst, std::size_t n) noexcept {
  if (n == 0) return;  // an empty tensor's buffers may be null, which memcpy must never see
  if (d == DType::F32) {
    std::memcpy(dst, src, n * 4);
  } else if (d == DType::BF16) {
    // bfloat16 is the top half of an f32.
    for (std::size_t i = 0; i < n; ++i) {
      const uint32_t bits = (uint32_t{src[2 * i]} | uint32_t{src[2 * i + 1]} << 8) << 16;
      std::memcpy(dst + i, &bits, 4);
    }
  } else {
    // binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Normal numbers rebias the
    // exponent (+112); subnormals (m * 2^-24) and zeros are exact as an f32 product; exponent 31
    // (infinities, NaN) maps to exponent 255 keeping the payload.
    for (std::size_t i = 0; i < n; ++i) {
      const uint32_t h = uint32_t{src[2 * i]} | uint32_t{src[2 * i + 1]} << 8;
      const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
      uint32_t bits;
      if (exp == 0) {
        const float f = static_cast<float>(mant) * 0x1p-24f;
        std::memcpy(&bits, &f, 4);
        bits |= sign;
      } else if (exp == 31) {
        bits = sign | 0x7f800000u | mant << 13;
      } else {
        bits = sign | (exp + 112) << 23 | mant << 13;
      }
      std::memcpy(dst + i, &bits, 4);
    }
  }
}

File::File(const std::string &path) : path_(path), map_(path, quoted(path)) {
  // Tensors are read front to back once: read ahead (stream.cpp drops pages behind).
  if (map_.size() != 0) ::madvise(const_cast<uint8_t *>(map_.data()), map_.size(), MADV_SEQUENTIAL);
  try {
    header_ = parse_header(map_.data(), map_.size());
  } catch (const Error &e) {
    fail(e.status(), quoted(path) + ": " + e.what());
  }
}

}  // namespace q8::ckpt
