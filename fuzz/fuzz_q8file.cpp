// libFuzzer target for the .q8 reader (q8_model_load_bytes). Random mutations almost never keep
// three CRC-32s valid, so the harness recomputes them whenever the header's ranges allow: the
// mutations then reach the FlatBuffer verifier and the semantic checks behind the checksums.
// A model that loads must describe itself, save, and reload to the same bytes.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "q8/model.h"

namespace {

uint64_t le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}
void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t crc(const uint8_t *p, uint64_t n) { return static_cast<uint32_t>(crc32_z(0, p, n)); }

// Header offsets as in docs/FORMAT.md.
void fix_crcs(std::vector<uint8_t> &b) {
  if (b.size() < 64) return;
  uint8_t *p = b.data();
  const uint64_t n = b.size(), moff = le(p + 16, 8), msize = le(p + 24, 8);
  const uint64_t doff = le(p + 32, 8), dsize = le(p + 40, 8);
  if (moff <= n && msize <= n - moff) put_le(p + 48, crc(p + moff, msize), 4);
  if (doff <= n && dsize <= n - doff) put_le(p + 52, crc(p + doff, dsize), 4);
  put_le(p + 60, crc(p, 60), 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  fix_crcs(bytes);
  q8_model *m = nullptr;
  const q8_status st = q8_model_load_bytes(bytes.data(), bytes.size(), &m);
  if (st != Q8_OK) {
    // Malformed bytes are a format error (or a newer version), never anything else.
    if (st != Q8_ERR_FORMAT && st != Q8_ERR_UNSUPPORTED) __builtin_trap();
    if (m != nullptr || q8_last_error()[0] == '\0') __builtin_trap();
    return 0;
  }
  for (int json = 0; json < 2; ++json) {
    char *text = nullptr;
    if (q8_model_describe(m, json, &text) != Q8_OK) __builtin_trap();
    q8_free(text);
  }
  void *a = nullptr, *b = nullptr;
  size_t na = 0, nb = 0;
  if (q8_model_save_bytes(m, &a, &na) != Q8_OK) __builtin_trap();
  q8_model *m2 = nullptr;
  if (q8_model_load_bytes(a, na, &m2) != Q8_OK) __builtin_trap();
  if (q8_model_save_bytes(m2, &b, &nb) != Q8_OK) __builtin_trap();
  if (na != nb || std::memcmp(a, b, na) != 0) __builtin_trap();  // saving is canonical
  q8_free(a);
  q8_free(b);
  q8_model_destroy(m2);
  q8_model_destroy(m);
  return 0;
}
