// q8-mpi: q8's jobs spread over MPI ranks, on the public C API only (docs/DISTRIBUTED.md).
#include <mpi.h>

#include <cstdio>
#include <new>
#include <string>

#include "commands.hpp"
#include "common.hpp"

using namespace q8cli;

namespace {

void usage(FILE *f) {
  std::fprintf(f,
               "usage: mpirun -np N q8-mpi <command> [options]   (q8-mpi <command> --help)\n"
               "  quantize IN -o OUT.q8 --calib DATA [...]   static PTQ, calibration batches over the ranks\n"
               "  run IN --data DATA [-o OUT.bin] [...]       pipeline: partition r of an N-way plan on rank r\n"
               "exit status: 0 success, 1 error, 2 bad usage (a failing rank aborts every rank)\n");
}

int run(const q8mpi::Comm &comm, int argc, char **argv) {
  if (argc < 2) {
    if (comm.rank == 0) usage(stderr);
    return kExitUsage;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help") {
    if (comm.rank == 0) usage(stdout);
    return 0;
  }
  if (cmd == "quantize") return q8mpi::cmd_quantize(comm, argc - 2, argv + 2);
  if (cmd == "run") return q8mpi::cmd_run(comm, argc - 2, argv + 2);
  usage_error("unknown command '" + cmd + "'");
}

// An error on one rank would leave the others waiting in a collective: with several ranks, any
// error aborts them all. Usage errors happen on every rank alike, so only rank 0 reports those.
int failed(const q8mpi::Comm &comm, const std::string &message, int code, bool every_rank_alike) {
  if (!every_rank_alike || comm.rank == 0) {
    if (comm.size > 1) std::fprintf(stderr, "q8-mpi (rank %d of %d): %s\n", comm.rank, comm.size, message.c_str());
    else std::fprintf(stderr, "q8-mpi: %s\n", message.c_str());
    std::fflush(stderr);
  }
  if (comm.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  return code;
}

}  // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  q8mpi::Comm comm;
  MPI_Comm_rank(MPI_COMM_WORLD, &comm.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &comm.size);
  int code = 0;
  try {
    code = run(comm, argc, argv);
  } catch (const CliError &e) {
    code = failed(comm, e.message, e.exit_code, e.exit_code == kExitUsage);
  } catch (const Q8Failure &f) {
    code = failed(comm, std::string(f.call) + " failed: " + q8_status_string(f.status) + ": " + f.detail, kExitError, false);
  } catch (const std::bad_alloc &) {
    code = failed(comm, "out of memory", kExitError, false);
  }
  MPI_Finalize();
  return code;
}
