// placeholder: being written
#include "sparse/gemm.hpp"
namespace q8::sparse {
bool gemm_bcsr_vnni(const GemmArgs &) { return false; }
}  // namespace q8::sparse
