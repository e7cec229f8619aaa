// q8_sparse_set_policy / q8_sparse_get_policy: the runtime's sparse-or-dense setting.
#include "capi/guard.hpp"
#include "q8/sparse.h"
#include "sparse/choose.hpp"

using namespace q8;

extern "C" {

q8_status q8_sparse_set_policy(q8_sparse_policy policy) {
  return guard(__func__, [&] {
    const int p = enum_bits(policy);
    if (p < Q8_SPARSE_POLICY_AUTO || p > Q8_SPARSE_POLICY_SPARSE)
      fail(Q8_ERR_INVALID_ARGUMENT, "policy " + std::to_string(p) + " is not a q8_sparse_policy");
    sparse::set_policy(static_cast<q8_sparse_policy>(p));
  });
}

q8_sparse_policy q8_sparse_get_policy(void) { return sparse::policy(); }

}  // extern "C"
