// Reading safetensors checkpoints: an 8-byte little-endian length N, N bytes of JSON naming each
// tensor's dtype, shape and byte range, then the raw little-endian tensor bytes. The file is
// mapped read-only and nothing past the header is touched until a caller reads a tensor (the
// streamer hands pages back as it goes, so its resident memory is what it is working on).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/mapped_file.hpp"

namespace q8::ckpt {

// The element types q8 reads (safetensors names F32, F16, BF16, I8, U8, I32).
enum class DType { F32, F16, BF16, I8, U8, I32 };
std::size_t dtype_size(DType d) noexcept;
const char *dtype_name(DType d) noexcept;
inline bool is_float(DType d) noexcept { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t numel = 1;
  uint64_t begin = 0, end = 0;  // byte range in the data section (after the header)
  uint64_t bytes() const { return end - begin; }
};

struct Header {
  std::vector<TensorInfo> tensors;  // in file order: by data offset, then name
  std::map<std::string, std::string> metadata;  // "__metadata__"
  uint64_t data_offset = 0;  // 8 + N: where the data section starts in the file
};

// Largest JSON header accepted (safetensors' own limit).
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

// Parses and checks the header of a safetensors file of `size` bytes whose bytes start at `file`
// (only the first 8 + N are read). Every tensor's range must lie in the data section, ranges may
// not overlap, and the byte count must match dtype and shape. Q8_ERR_FORMAT names the tensor and
// the problem; Q8_ERR_UNSUPPORTED for a valid safetensors dtype q8 does not read (F64, I64, ...)
// or a rank above Q8_MAX_RANK.
Header parse_header(const uint8_t *file, std::size_t size);

// `n` elements of type `d` (F32, F16 or BF16) at `src` as f32, exactly (every F16 and BF16 value,
// subnormals, infinities and NaN payloads included, has an f32 equal to it). `src` may be
// unaligned.
void widen_to_f32(DType d, const uint8_t *src, float *dst, std::size_t n) noexcept;

// A safetensors file mapped read-only, its header parsed.
class File {
 public:
  explicit File(const std::string &path);  // Q8_ERR_IO, or parse_header's errors naming the file

  const Header &header() const { return header_; }
  const std::string &path() const { return path_; }
  // Tensor bytes (unaligned in general: safetensors does not align them).
  const uint8_t *data(const TensorInfo &t) const { return map_.data() + header_.data_offset + t.begin; }

 private:
  std::string path_;
  MappedFile map_;
  Header header_;
};

}  // namespace q8::ckpt
