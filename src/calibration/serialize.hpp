// Calibrations as bytes (q8_calibration_save_bytes / _load_bytes). Layout, little-endian:
//   "Q8CALIB\0", u32 version (1), u32 observer kind, u32 scheme, f64 percentile, u32 bins,
//   f32 averaging constant, u64 model fingerprint, u32 activation count, then per activation:
//   u32 name length, name bytes, u8 seen, f32 min, f32 max, and for the histogram kinds
//   u32 first slot, u32 slot count, that many counts as unsigned LEB128 (7 bits a byte, low bits
//   first, at most 8 bytes: counts stay below 2^53; the other slots are 0).
// Loading treats the bytes as untrusted: every field is checked, Q8_ERR_FORMAT names the problem.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "calibration/stats.hpp"

namespace q8::calibration {

std::vector<uint8_t> save(const Statistics &s);
Statistics load(const uint8_t *data, std::size_t size);

}  // namespace q8::calibration
