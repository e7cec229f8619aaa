// libFuzzer target for ONNX external-data references (src/onnx/external_data.cpp, compiled in
// directly: it is internal). The input is text: a first line with the byte count the tensor needs,
// then one "key=value" line per external_data entry (a line without '=' is a key with an empty
// value). They are resolved against a scratch directory holding data.bin (4096 bytes) and
// sub/d.bin (100 bytes). A reference that resolves must name a relative location without a '..'
// component, and its bytes must lie inside the mapped file (all of them are read, so ASan sees any
// overreach). A rejected one must fail with Q8_ERR_FORMAT or Q8_ERR_IO and a message naming the
// tensor; anything else is a bug.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.hpp"
#include "onnx/external_data.hpp"

namespace {

char g_dir[] = "/tmp/q8-fuzz-external-XXXXXX";

void remove_dir() {
  const std::string d = g_dir;
  unlink((d + "/data.bin").c_str());
  unlink((d + "/sub/d.bin").c_str());
  rmdir((d + "/sub").c_str());
  rmdir(g_dir);
}

std::string make_dir() {
  if (!mkdtemp(g_dir)) __builtin_trap();
  std::atexit(remove_dir);
  const std::string d = g_dir;
  if (mkdir((d + "/sub").c_str(), 0700) != 0) __builtin_trap();
  const struct { const char *name; std::size_t size; } files[] = {{"/data.bin", 4096}, {"/sub/d.bin", 100}};
  for (const auto &f : files) {
    FILE *out = std::fopen((d + f.name).c_str(), "wb");
    if (!out) __builtin_trap();
    for (std::size_t i = 0; i < f.size; ++i) std::fputc(static_cast<int>(i * 7), out);
    std::fclose(out);
  }
  return d + "/";
}

bool escapes(const std::string &loc) {
  if (loc.empty() || loc[0] == '/') return true;
  for (std::size_t at = 0; at <= loc.size();) {
    const std::size_t end = std::min(loc.find('/', at), loc.size());
    if (end - at == 2 && loc.compare(at, 2, "..") == 0) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string dir = make_dir();
  const std::string text(reinterpret_cast<const char *>(data), size);
  std::size_t at = text.find('\n');
  if (at == std::string::npos) return 0;
  const uint64_t want = std::strtoull(text.substr(0, at).c_str(), nullptr, 10) % (uint64_t{1} << 20);
  q8::onnx::ExternalData::Entries entries;
  std::string location;
  for (++at; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, end - at);
    const std::size_t eq = line.find('=');
    entries.emplace_back(line.substr(0, eq), eq == std::string::npos ? "" : line.substr(eq + 1));
    if (entries.back().first == "location") location = entries.back().second;
    at = end + 1;
  }
  q8::onnx::ExternalData files(dir);
  try {
    const q8::onnx::ExternalRef ref = files.resolve(entries, "initializer 'w'");
    const q8::model::Bytes b = q8::onnx::ExternalData::bytes(ref, want, "initializer 'w'");
    if (escapes(location)) __builtin_trap();
    const uint8_t *begin = ref.file->data(), *end = begin + ref.file->size();
    if (b.size != want || b.data < begin || b.data + b.size > end) __builtin_trap();
    unsigned sum = 0;
    for (std::size_t i = 0; i < b.size; ++i) sum += b.data[i];
    if (sum == 0xFFFFFFFFu) std::abort();  // keeps the reads
  } catch (const q8::Error &e) {
    if (e.status() != Q8_ERR_FORMAT && e.status() != Q8_ERR_IO) __builtin_trap();
    if (std::string(e.what()).find("initializer 'w'") == std::string::npos) __builtin_trap();
  }
  return 0;
}
