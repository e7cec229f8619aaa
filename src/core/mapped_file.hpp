// A whole regular file mapped read-only (MAP_PRIVATE, never written), for the readers that borrow
// from their input instead of copying it: .q8 models, safetensors checkpoints, ONNX external data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace q8 {

class MappedFile {
 public:
  // Opens and maps `path`. Errors are Q8_ERR_IO: "<lead>cannot open <name>: <strerror>",
  // "<lead>cannot stat <name>: ...", "<lead><name> is not a regular file", "<lead>cannot map
  // <name>: ...", with `name` as the caller shows the file (e.g. quoted) and `lead` what it is for.
  MappedFile(const std::string &path, const std::string &name, const std::string &lead = "");
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  // Never null: an empty file maps nothing and points at a static byte.
  const uint8_t *data() const { return data_; }
  std::size_t size() const { return size_; }
  // Which file this is (device, inode), for readers that map each file once.
  uint64_t device() const { return device_; }
  uint64_t inode() const { return inode_; }

 private:
  const uint8_t *data_ = nullptr;
  std::size_t size_ = 0;
  uint64_t device_ = 0, inode_ = 0;
};

}  // namespace q8
