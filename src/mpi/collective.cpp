#include "collective.hpp"

#include <algorithm>
#include <climits>

#include "common.hpp"

namespace q8mpi {

void mpi_check(int rc, const char *call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw q8cli::CliError{std::string(call) + " failed: " + std::string(text, std::size_t(len)), q8cli::kExitError};
}

namespace {
template <class T>
void allreduce_chunks(T *data, std::size_t n, MPI_Datatype type, MPI_Op op) {
  for (std::size_t at = 0; at < n;) {
    const std::size_t k = std::min<std::size_t>(n - at, INT_MAX);
    Q8MPI(MPI_Allreduce(MPI_IN_PLACE, data + at, int(k), type, op, MPI_COMM_WORLD));
    at += k;
  }
}
}  // namespace

void allreduce(float *data, std::size_t n, MPI_Op op) { allreduce_chunks(data, n, MPI_FLOAT, op); }
void allreduce(uint64_t *data, std::size_t n, MPI_Op op) { allreduce_chunks(data, n, MPI_UINT64_T, op); }

uint64_t fnv1a(const void *p, std::size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto *b = static_cast<const unsigned char *>(p);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

bool all_equal(uint64_t v) {
  uint64_t lo = v, hi = v;
  allreduce(&lo, 1, MPI_MIN);
  allreduce(&hi, 1, MPI_MAX);
  return lo == hi;
}

}  // namespace q8mpi
