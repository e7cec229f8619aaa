// The fixed header of a .q8 file, shared by the reader and the writer. Every field is
// little-endian; docs/FORMAT.md has the table and the reasons.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <zlib.h>

namespace q8::format {

// PNG's trick: a non-ASCII first byte, then CR LF, ^Z, LF, so text-mode transfers and 7-bit
// channels break the magic instead of silently corrupting weights.
inline constexpr uint8_t kMagic[8] = {0x89, 'Q', '8', 'M', 0x0D, 0x0A, 0x1A, 0x0A};
inline constexpr uint16_t kVersionMajor = 1;
inline constexpr uint16_t kVersionMinor = 0;
inline constexpr std::size_t kHeaderSize = 64;
// Alignment of the metadata block, the data section and every constant of 64 bytes or more.
inline constexpr std::size_t kAlign = 64;
// Smaller constants (scales, zero points, short biases) sit 8-byte aligned: no SIMD load of a
// whole vector reads them, and 64-byte slots would make them a visible share of small models.
inline constexpr std::size_t kSmallAlign = 8;
inline constexpr std::size_t constant_alignment(std::size_t bytes) { return bytes < kAlign ? kSmallAlign : kAlign; }

// Byte offsets of the header fields.
enum HeaderField : std::size_t {
  kOffMagic = 0,
  kOffVersionMajor = 8,
  kOffVersionMinor = 10,
  kOffHeaderSize = 12,
  kOffMetaOffset = 16,
  kOffMetaSize = 24,
  kOffDataOffset = 32,
  kOffDataSize = 40,
  kOffMetaCrc = 48,
  kOffDataCrc = 52,
  kOffReserved = 56,
  kOffHeaderCrc = 60,  // CRC-32 of bytes [0, 60)
};

struct Header {
  uint16_t version_major = kVersionMajor;
  uint16_t version_minor = kVersionMinor;
  uint32_t header_size = kHeaderSize;
  uint64_t meta_offset = 0, meta_size = 0;
  uint64_t data_offset = 0, data_size = 0;
  uint32_t meta_crc = 0, data_crc = 0;
};

inline uint64_t load_le(const uint8_t *p, std::size_t n) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}
inline void store_le(uint8_t *p, uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// zlib's CRC-32 over any length (crc32_z takes a size_t).
inline uint32_t crc32_of(uint32_t crc, const void *p, std::size_t n) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef *>(p), n));
}

inline void encode_header(const Header &h, uint8_t out[kHeaderSize]) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out + kOffMagic, kMagic, sizeof kMagic);
  store_le(out + kOffVersionMajor, h.version_major, 2);
  store_le(out + kOffVersionMinor, h.version_minor, 2);
  store_le(out + kOffHeaderSize, h.header_size, 4);
  store_le(out + kOffMetaOffset, h.meta_offset, 8);
  store_le(out + kOffMetaSize, h.meta_size, 8);
  store_le(out + kOffDataOffset, h.data_offset, 8);
  store_le(out + kOffDataSize, h.data_size, 8);
  store_le(out + kOffMetaCrc, h.meta_crc, 4);
  store_le(out + kOffDataCrc, h.data_crc, 4);
  store_le(out + kOffHeaderCrc, crc32_of(0, out, kOffHeaderCrc), 4);
}

}  // namespace q8::format
