// placeholder: being written
#include "sparse/gemm.hpp"
namespace q8::sparse {
bool gemm_csr_vnni(const GemmArgs &) { return false; }
}  // namespace q8::sparse
