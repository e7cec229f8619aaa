// Writing a result file atomically, as libq8 does for models: a temporary file in the target's
// directory, fsynced, renamed over the target, the directory fsynced. On failure the target is
// untouched and the temporary removed.
#pragma once
#include <string>
#include <vector>

namespace q8mpi {

// The pieces, concatenated, become `path`. A failure is a CliError naming the path and errno.
void write_atomic(const std::string &path, const std::vector<std::vector<unsigned char>> &pieces);

}  // namespace q8mpi
