// The native .q8 model file (docs/FORMAT.md): a fixed little-endian header, FlatBuffers metadata
// (q8model.fbs) and a data section with every constant 64-byte aligned.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "format/layout.hpp"
#include "model/graph.hpp"

namespace q8::format {

// Parses and fully verifies a .q8 image of `size` bytes. With a `keeper` (which keeps `data`
// alive), constants whose bytes lie 64-byte aligned in memory borrow them in place; without one,
// the data section is copied once into aligned storage. Q8_ERR_FORMAT names what is wrong;
// Q8_ERR_UNSUPPORTED for a newer major format version.
std::unique_ptr<q8_model> read(const void *data, std::size_t size, std::shared_ptr<const void> keeper);

// Maps `path` read-only and reads it with the mapping as the keeper (Q8_ERR_IO if it cannot be
// opened or mapped).
std::unique_ptr<q8_model> read_file(const char *path);

// The file image of `g`: the same graph always gives the same bytes.
std::vector<uint8_t> write(const model::Graph &g);

// Where write() puts everything, computed from the constants' sizes alone (their bytes are not
// read, and may be absent): a streaming writer fills the data section itself, at these offsets.
struct Layout {
  Header header;
  std::vector<uint8_t> head;         // header, metadata, zero padding up to the data section
  std::vector<std::size_t> offsets;  // per value: a constant's offset in the data section
  std::size_t data_size = 0;
};
Layout layout(const model::Graph &g);
// Sets the CRC-32 of the whole data section (padding included) in the header of `head`.
void set_data_crc(Layout &layout, uint32_t crc);

// Writes the image of `g` to `path` atomically (temporary file in the same directory, fsync,
// rename, fsync of the directory). On failure the temporary is removed and `path` is untouched;
// Q8_ERR_IO carries strerror.
void save_file(const model::Graph &g, const char *path);

}  // namespace q8::format
