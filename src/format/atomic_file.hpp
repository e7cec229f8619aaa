// Replacing a file atomically: the bytes go to a temporary file in the target's directory, which
// is flushed and renamed over the target, so readers see the old file or the new one, never a
// torn one. Shared by .q8 saving (writer.cpp), ONNX export (src/onnx/export.cpp) and the
// streaming checkpoint writer (src/checkpoint/stream.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace q8::format {

// Appends `n` bytes at `p` to the file being written.
using WriteFn = std::function<void(const void *p, std::size_t n)>;

// Writes `path` atomically: `produce(write)` streams the content through `write`; then the
// temporary is fsynced, renamed over `path` (keeping an existing regular file's mode, else the
// umask's default) and the directory fsynced. On any failure, including an exception thrown by
// `produce`, the temporary is removed and `path` is untouched. `what` names the content in
// messages ("save", "export"); errors are Q8_ERR_IO with strerror.
void write_file_atomic(const std::string &path, const char *what,
                       const std::function<void(const WriteFn &write)> &produce);

// The same for writers that place bytes at offsets: `produce(fd)` writes the temporary through
// its descriptor (pwrite_all below, in any order); holes it leaves read as zeros.
void write_file_atomic_at(const std::string &path, const char *what, const std::function<void(int fd)> &produce);

// Writes all `n` bytes at `offset` of `fd` (retrying short writes and EINTR); Q8_ERR_IO naming
// `name` with strerror.
void pwrite_all(int fd, const void *p, std::size_t n, uint64_t offset, const std::string &name);

}  // namespace q8::format
