// Replacing a file atomically: the bytes go to a temporary file in the target's directory, which
// is flushed and renamed over the target, so readers see the old file or the new one, never a
// torn one. Shared by .q8 saving (writer.cpp) and ONNX export (src/onnx/export.cpp).
#pragma once
#include <cstddef>
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

}  // namespace q8::format
