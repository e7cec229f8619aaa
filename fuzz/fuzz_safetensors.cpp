// libFuzzer target for the safetensors header parser (src/checkpoint/safetensors.cpp, compiled in
// directly like fuzz_csv: the parser is internal). The input is a whole file. A header that
// parses must describe tensors inside the data section, in file order, without overlaps, each as
// long as its dtype and shape say; widening every float tensor reads only those bytes. A rejected
// file must fail with Q8_ERR_FORMAT or Q8_ERR_UNSUPPORTED and a message; anything else is a bug.
#include <cstdint>
#include <vector>

#include "checkpoint/safetensors.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace q8::ckpt;
  Header h;
  try {
    h = parse_header(data, size);
  } catch (const q8::Error &e) {
    if ((e.status() != Q8_ERR_FORMAT && e.status() != Q8_ERR_UNSUPPORTED) || e.what()[0] == '\0') __builtin_trap();
    return 0;
  }
  if (h.data_offset > size) __builtin_trap();
  const uint64_t data_size = size - h.data_offset;
  uint64_t reach = 0;
  const TensorInfo *prev = nullptr;
  std::vector<float> out;
  for (const TensorInfo &t : h.tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    if (t.name.empty() || numel != t.numel || t.end < t.begin || t.end > data_size ||
        t.bytes() != t.numel * dtype_size(t.dtype))
      __builtin_trap();
    if (prev && (t.begin < prev->begin || (t.begin == prev->begin && !(prev->name < t.name)))) __builtin_trap();
    if (t.bytes() != 0) {
      if (t.begin < reach) __builtin_trap();  // overlaps an earlier tensor
      reach = t.end;
    }
    prev = &t;
    if (is_float(t.dtype) && t.numel <= (1u << 16)) {
      out.resize(t.numel);
      widen_to_f32(t.dtype, data + h.data_offset + t.begin, out.data(), t.numel);
    }
  }
  return 0;
}
