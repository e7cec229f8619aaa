// MPI helpers for q8-mpi: errors that end every rank, and all-reductions of arrays of any length
// (MPI counts are int).
#pragma once
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace q8mpi {

struct Comm {
  int rank = 0, size = 1;
};

// Checks an MPI call; MPI's default handler aborts on error anyway, this names the call if a
// handler that returns is installed.
void mpi_check(int rc, const char *call);
#define Q8MPI(call) ::q8mpi::mpi_check((call), #call)

// In place, in chunks below INT_MAX elements.
void allreduce(float *data, std::size_t n, MPI_Op op);
void allreduce(uint64_t *data, std::size_t n, MPI_Op op);

// FNV-1a of bytes: ranks compare what they built by all-reducing it with MIN and MAX.
uint64_t fnv1a(const void *p, std::size_t n);
// True when every rank passed the same value.
bool all_equal(uint64_t v);

}  // namespace q8mpi
