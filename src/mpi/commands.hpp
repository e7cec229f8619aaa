// q8-mpi's commands: each takes the arguments after its name and returns the exit status, or
// throws q8cli::CliError / Q8Failure (src/cli/common.hpp), which main() turns into MPI_Abort.
#pragma once
#include "collective.hpp"

namespace q8mpi {
int cmd_quantize(const Comm &comm, int argc, char **argv);
int cmd_run(const Comm &comm, int argc, char **argv);
}  // namespace q8mpi
