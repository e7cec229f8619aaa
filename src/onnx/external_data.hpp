// ONNX external data: initializers whose bytes live in files next to the model (data_location =
// EXTERNAL, keys "location", "offset", "length"), as every ONNX model above protobuf's 2 GiB must
// keep them. Each file is mapped read-only once and the constants borrow from the mapping, so a
// large model loads without copying its weights (its pages are read when first used).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/mapped_file.hpp"
#include "model/graph.hpp"

namespace q8::onnx {

using q8::MappedFile;

// Where an external tensor's bytes are: checked against the file when the tensor is registered,
// against the tensor's shape when it is decoded.
struct ExternalRef {
  std::shared_ptr<const MappedFile> file;
  uint64_t offset = 0;
  bool has_length = false;
  uint64_t length = 0;
};

// The external files of one model, each mapped once (files are told apart by device and inode).
class ExternalData {
 public:
  // `dir` is the model file's directory, ending in '/'; empty when the model came as bytes, where every
  // external reference fails (Q8_ERR_UNSUPPORTED: there is nothing to resolve it against).
  explicit ExternalData(std::string dir) : dir_(std::move(dir)) {}

  using Entries = std::vector<std::pair<std::string, std::string>>;

  // Reads a tensor's external_data entries (key, value): "location" (relative, no "..", required), "offset" and
  // "length" (decimal, optional); other keys ("checksum", ...) are ignored. Maps the file and
  // checks that [offset, offset + length) lies inside it. Q8_ERR_FORMAT naming `what` for bad
  // entries, Q8_ERR_IO with strerror for a file that cannot be opened or mapped.
  ExternalRef resolve(const Entries &entries, const std::string &what);

  // The tensor's bytes, borrowed from the mapping: exactly `want` bytes (numel x element size),
  // which must equal "length" when given and fit in the file after "offset".
  static model::Bytes bytes(const ExternalRef &ref, uint64_t want, const std::string &what);

  const std::vector<std::shared_ptr<const MappedFile>> &files() const { return files_; }

 private:
  std::string dir_;
  std::map<std::string, std::shared_ptr<const MappedFile>> by_path_;  // as the entries spell it
  std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<const MappedFile>> by_inode_;
  std::vector<std::shared_ptr<const MappedFile>> files_;
};

}  // namespace q8::onnx
