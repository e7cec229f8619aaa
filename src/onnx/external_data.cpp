// External data of ONNX initializers: the entries' checks, the mapping, borrowed constants.
#include "onnx/external_data.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace q8::onnx {
namespace {

std::string quoted(const std::string &s) { return "'" + s + "'"; }

// A decimal count: digits only (no sign, no spaces), below 2^64.
bool parse_count(const std::string &s, uint64_t &out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v)) return false;
  }
  out = v;
  return true;
}

// The location must stay under the model's directory by its spelling: relative, no ".."
// component (symbolic links are followed as the file system has them).
void check_location(const std::string &loc, const std::string &what) {
  if (loc.empty()) fail(Q8_ERR_FORMAT, what + ": the external data location is empty");
  if (loc.find('\0') != std::string::npos)
    fail(Q8_ERR_FORMAT, what + ": the external data location contains a NUL byte");
  if (loc[0] == '/')
    fail(Q8_ERR_FORMAT, what + ": the external data location " + quoted(loc) +
                            " is an absolute path; it must be relative to the model's directory");
  for (std::size_t at = 0; at <= loc.size();) {
    const std::size_t end = std::min(loc.find('/', at), loc.size());
    if (loc.compare(at, end - at, "..") == 0 && end - at == 2)
      fail(Q8_ERR_FORMAT, what + ": the external data location " + quoted(loc) +
                              " has a '..' component; it must stay inside the model's directory");
    at = end + 1;
  }
}

}  // namespace

ExternalRef ExternalData::resolve(const Entries &entries, const std::string &what) {
  if (dir_.empty())
    fail(Q8_ERR_UNSUPPORTED, what + " keeps its data in an external file, which a model given as bytes cannot "
                                    "reach; load it from its file (q8_model_load_onnx)");
  std::string location;
  bool has_location = false, has_offset = false;
  ExternalRef ref;
  for (const auto &e : entries) {
    const std::string &key = e.first;
    if (key != "location" && key != "offset" && key != "length") continue;  // checksum, basepath: not used
    const bool seen = key == "location" ? has_location : key == "offset" ? has_offset : ref.has_length;
    if (seen) fail(Q8_ERR_FORMAT, what + ": external data key " + quoted(key) + " is given twice");
    if (key == "location") {
      location = e.second;
      has_location = true;
    } else if (key == "offset") {
      if (!parse_count(e.second, ref.offset))
        fail(Q8_ERR_FORMAT, what + ": external data offset " + quoted(e.second) + " is not a decimal byte count");
      has_offset = true;
    } else {
      if (!parse_count(e.second, ref.length))
        fail(Q8_ERR_FORMAT, what + ": external data length " + quoted(e.second) + " is not a decimal byte count");
      ref.has_length = true;
    }
  }
  if (!has_location) fail(Q8_ERR_FORMAT, what + ": external data has no \"location\"");
  check_location(location, what);

  const std::string path = dir_ + location;
  auto known = by_path_.find(path);
  if (known != by_path_.end()) {
    ref.file = known->second;
  } else {
    auto mapped = std::make_shared<const MappedFile>(path, "its external data " + quoted(path), what + ": ");
    auto [at, fresh] = by_inode_.emplace(std::make_pair(mapped->device(), mapped->inode()), mapped);
    if (fresh) files_.push_back(mapped);  // else the same file under another spelling: keep the first mapping
    ref.file = at->second;
    by_path_.emplace(path, ref.file);
  }
  const uint64_t size = ref.file->size();
  if (ref.offset > size)
    fail(Q8_ERR_FORMAT, what + ": external data offset " + std::to_string(ref.offset) + " is past the end of " +
                            quoted(location) + " (" + std::to_string(size) + " bytes)");
  if (ref.has_length && ref.length > size - ref.offset)
    fail(Q8_ERR_FORMAT, what + ": external data [offset " + std::to_string(ref.offset) + ", length " +
                            std::to_string(ref.length) + "] ends past the end of " + quoted(location) + " (" +
                            std::to_string(size) + " bytes)");
  return ref;
}

model::Bytes ExternalData::bytes(const ExternalRef &ref, uint64_t want, const std::string &what) {
  if (ref.has_length && ref.length != want)
    fail(Q8_ERR_FORMAT, what + ": external data length " + std::to_string(ref.length) + " bytes does not match its shape and type, which need " +
                            std::to_string(want));
  if (want > ref.file->size() - ref.offset)
    fail(Q8_ERR_FORMAT, what + ": needs " + std::to_string(want) + " bytes of external data from offset " +
                            std::to_string(ref.offset) + ", past the end of its file (" +
                            std::to_string(ref.file->size()) + " bytes)");
  model::Bytes b;
  b.keeper = ref.file;
  b.data = ref.file->data() + ref.offset;
  b.size = static_cast<std::size_t>(want);
  return b;
}

}  // namespace q8::onnx
