// The runtime's operator interface. A session (session.cpp) walks the graph once at creation:
// for each node it asks the registry for a kernel, calls prepare() (output shapes and dtypes,
// packing of constant weights, precomputed multipliers) and allocates the outputs; a node whose
// inputs are all constant is run once there and its outputs become constants (constant folding,
// e.g. DequantizeLinear of INT8 weights in weight-only models). run() then does only the math.
//
// At run time every u8/s8 tensor carries its quantization parameters (q8_tensor::qp), set by the
// kernel that produced it; operators that do not change the scale (Relu, MaxPool, Reshape,
// Flatten, Transpose, Identity) pass them on, so they run on quantized tensors as they are.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "model/graph.hpp"

namespace q8::rt {

struct Operand {
  q8_tensor *t = nullptr;  // nullptr: omitted optional input
  bool constant = false;   // data is final already at prepare()
};

struct NodeContext {
  const model::Node &node;
  std::vector<Operand> in;
  std::vector<q8_tensor *> out;  // nullptr: omitted optional output
  model::PackCache *packs = nullptr;  // the model's, for prepared constant weights

  // A prepared form of constant weights shared by every session of the model: make(T &) runs
  // once per (node, what). `what` names the kernel's purpose and the type T.
  template <class T, class Make>
  std::shared_ptr<const T> shared(const std::string &what, Make &&make) const {
    if (!packs) {
      auto own = std::make_shared<T>();
      make(*own);
      return own;
    }
    return packs->get<T>(node.name + '\n' + what, std::forward<Make>(make));
  }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Inputs have their dtypes and shapes (and data when constant). Must give every output its
  // dtype and shape with set_output() (and qparams when they are known already). Throws
  // q8::Error naming the node (node_error below) for inputs it cannot take.
  virtual void prepare(NodeContext &ctx) = 0;
  // Computes the outputs; may run on q8's thread arena. Never reallocates an output.
  virtual void run(NodeContext &ctx) = 0;
};

using KernelFactory = std::unique_ptr<Kernel> (*)(const model::Node &node);

// Registry keyed by (domain, op). Kernel files register in a function called once
// (register_*_kernels below), not by static initialisers, so nothing depends on link order.
void register_kernel(const std::string &domain, const std::string &op, KernelFactory factory);
// nullptr if no kernel is registered.
KernelFactory find_kernel(const std::string &domain, const std::string &op);
// Whether the runtime can run this operator at all (used by importers to reject early).
bool has_kernel(const std::string &domain, const std::string &op);

void register_float_kernels();      // kernels_float*.cpp: f32 operators and layout operators
void register_quantized_kernels();  // kernels_quant*.cpp: the quantized operators

// Gives an output its dtype and shape, allocating (zeroed, aligned) storage; keeps `t`'s
// identity (the session holds the pointer). Clears qparams.
void set_output(q8_tensor *t, q8_dtype dtype, const std::vector<int64_t> &shape);

// q8::Error(status, "node 'NAME' (OP): message").
[[noreturn]] void node_error(const model::Node &node, q8_status status, const std::string &message);

}  // namespace q8::rt
