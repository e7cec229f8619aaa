// placeholder: being written
#include "sparse/gemm.hpp"
namespace q8::sparse {
bool gemm_panels_vnni(const GemmArgs &) { return false; }
}  // namespace q8::sparse
