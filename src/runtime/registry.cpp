// The kernel registry, keyed by (domain, op), and the helpers every kernel shares (kernel.hpp).
#include <map>
#include <mutex>
#include <utility>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "runtime/kernel.hpp"
#include "runtime/kernels_float_util.hpp"

namespace q8::rt {
namespace {

using Key = std::pair<std::string, std::string>;

std::map<Key, KernelFactory> &table() {
  static std::map<Key, KernelFactory> t;
  return t;
}

// ONNX's default domain has two spellings.
std::string normal_domain(const std::string &domain) { return domain == "ai.onnx" ? std::string() : domain; }

// Registration happens once, on first lookup, so that no kernel file depends on static
// initialisation order; after that the table is only read, so lookups need no lock.
void ensure_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_float_kernels();
    register_quantized_kernels();
  });
}

}  // namespace

void register_kernel(const std::string &domain, const std::string &op, KernelFactory factory) {
  if (!factory) fail(Q8_ERR_INTERNAL, "register_kernel: no factory for " + op);
  if (!table().emplace(Key(normal_domain(domain), op), factory).second)
    fail(Q8_ERR_INTERNAL, "register_kernel: " + (domain.empty() ? std::string() : domain + ".") + op +
                              " is registered twice");
}

KernelFactory find_kernel(const std::string &domain, const std::string &op) {
  ensure_registered();
  auto it = table().find(Key(normal_domain(domain), op));
  return it == table().end() ? nullptr : it->second;
}

bool has_kernel(const std::string &domain, const std::string &op) { return find_kernel(domain, op) != nullptr; }

void register_float_kernels() {
  register_float_gemm_kernels();
  register_float_conv_kernels();
  register_float_elementwise_kernels();
  register_float_pool_kernels();
  register_float_normalization_kernels();
  register_layout_kernels();
}

void set_output(q8_tensor *t, q8_dtype dtype, const std::vector<int64_t> &shape) {
  if (!t) fail(Q8_ERR_INTERNAL, "set_output: no tensor");
  if (!dtype_valid(dtype)) fail(Q8_ERR_INTERNAL, "set_output: unknown dtype");
  const std::size_t n = checked_numel(shape.data(), shape.size(), dtype_size(dtype), "output shape");
  void *data = aligned_zalloc(n * dtype_size(dtype));
  if (t->owned) aligned_free(t->data);
  t->data = data;
  t->owned = true;
  t->dtype = dtype;
  t->rank = shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) t->shape[i] = shape[i];
  t->numel = n;
  t->qp = QParams{};
}

void node_error(const model::Node &node, q8_status status, const std::string &message) {
  throw Error(status, "node '" + node.name + "' (" + node.op + "): " + message);
}

}  // namespace q8::rt
