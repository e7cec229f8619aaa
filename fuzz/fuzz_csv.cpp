// libFuzzer target for the CSV reader of the q8 tool (untrusted files). The first byte picks the
// expected column count (0 = let the first line decide); the rest is the file's text.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const std::size_t expected = data[0] % 4 == 0 ? 0 : data[0] % 70;
  const std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
  q8cli::Table table;
  std::string error;
  if (q8cli::parse_csv(text, expected, table, error)) {
    // A parsed table is rectangular, of the width asked for, and holds finite values only.
    if (table.values.size() != table.rows * table.cols) __builtin_trap();
    if (expected != 0 && table.rows != 0 && table.cols != expected) __builtin_trap();
    for (float v : table.values)
      if (!std::isfinite(v)) __builtin_trap();
  } else if (error.rfind("line ", 0) != 0) {
    __builtin_trap();  // every failure names its line
  }
  return 0;
}
