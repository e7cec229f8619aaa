// Data movement for any dtype (f32, u8, s8, s32), passing the input's qparams on: Flatten,
// Reshape, Identity and Dropout (inference) copy the bytes; Transpose permutes; Concat joins
// inputs that share a dtype and, when quantized, their qparams.
#include <algorithm>
#include <cstring>

#include "core/dtype.hpp"
#include "core/runtime.hpp"
#include "runtime/kernels_float_util.hpp"

namespace q8::rt {
namespace {

// Flatten, Reshape, Identity, Dropout: the output is the input's bytes under a new shape.
class CopyKernel : public Kernel {
 public:
  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    if (x.nbytes()) std::memcpy(ctx.out[0]->data, x.data, x.nbytes());
    pass_qparams_reshaped(ctx, x, ctx.out[0]);
  }
};

class Identity final : public CopyKernel {
 public:
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "input");
    if (ctx.node.op == "Dropout") {
      if (ctx.node.get_int("training_mode", 0) != 0) node_error(ctx.node, Q8_ERR_UNSUPPORTED, "training_mode is not supported");
      reject_output(ctx, 1, "the mask output is not supported");
    }
    set_output(output(ctx, 0, "output"), x.dtype, dims(x));
  }
};

class Flatten final : public CopyKernel {
 public:
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "input");
    const int64_t r = static_cast<int64_t>(x.rank), axis = ctx.node.get_int("axis", 1);
    if (axis < -r || axis > r)
      node_error(ctx.node, Q8_ERR_SHAPE, "axis " + std::to_string(axis) + " is out of range for " + shape_string(x));
    const int64_t a = axis < 0 ? axis + r : axis;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < r; ++i) (i < a ? outer : inner) *= x.shape[i];
    set_output(output(ctx, 0, "output"), x.dtype, {outer, inner});
  }
};

// Reshape with its "shape" attribute (the importer folds the shape input into it): 0 copies the
// input's dimension (unless allowzero = 1, where it is a real 0), one -1 takes what is left.
class Reshape final : public CopyKernel {
 public:
  void prepare(NodeContext &ctx) override {
    const model::Node &n = ctx.node;
    const q8_tensor &x = input(ctx, 0, "data");
    if (!n.has("shape")) node_error(n, Q8_ERR_FORMAT, "attribute shape is missing");
    std::vector<int64_t> shape = n.get_ints("shape");
    const bool allowzero = n.get_int("allowzero", 0) != 0;
    int infer = -1;
    bool has_zero = false;
    int64_t known = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 0 && !allowzero) {
        if (i >= x.rank)
          node_error(n, Q8_ERR_SHAPE, "shape[" + std::to_string(i) + "] = 0 copies a dimension " + shape_string(x) +
                                          " does not have");
        shape[i] = x.shape[i];
      } else if (shape[i] == -1) {
        if (infer >= 0) node_error(n, Q8_ERR_SHAPE, "shape has more than one -1");
        infer = static_cast<int>(i);
        continue;
      } else if (shape[i] < -1) {
        node_error(n, Q8_ERR_SHAPE, "shape[" + std::to_string(i) + "] = " + std::to_string(shape[i]) + " is invalid");
      }
      if (shape[i] == 0) has_zero = true;
      if (shape[i] != 0 && known > INT64_MAX / shape[i]) node_error(n, Q8_ERR_SHAPE, "shape overflows");
      known *= shape[i];
    }
    const int64_t numel = static_cast<int64_t>(x.numel);
    if (infer >= 0) {
      if (has_zero) node_error(n, Q8_ERR_SHAPE, "shape has both -1 and a literal 0 (allowzero = 1)");
      if (known == 0 || numel % known != 0)
        node_error(n, Q8_ERR_SHAPE, "cannot infer the -1 of shape for input " + shape_string(x));
      shape[infer] = numel / known;
    } else if (known != numel) {
      node_error(n, Q8_ERR_SHAPE, "shape holds " + std::to_string(known) + " elements, input " + shape_string(x) +
                                      " has " + std::to_string(numel));
    }
    set_output(output(ctx, 0, "reshaped"), x.dtype, shape);
  }
};

class Transpose final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const q8_tensor &x = input(ctx, 0, "data");
    const std::size_t r = x.rank;
    std::vector<int64_t> perm(r);
    for (std::size_t i = 0; i < r; ++i) perm[i] = static_cast<int64_t>(r - 1 - i);
    perm = ctx.node.get_ints("perm", perm);
    std::vector<char> seen(r, 0);
    if (perm.size() != r) node_error(ctx.node, Q8_ERR_SHAPE, "perm does not match rank " + std::to_string(r));
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(r) || seen[p]) node_error(ctx.node, Q8_ERR_FORMAT, "perm is not a permutation");
      seen[p] = 1;
    }
    perm_ = perm;
    std::vector<int64_t> out(r);
    for (std::size_t i = 0; i < r; ++i) out[i] = x.shape[perm[i]];
    set_output(output(ctx, 0, "transposed"), x.dtype, out);
  }

  void run(NodeContext &ctx) override {
    const q8_tensor &x = *ctx.in[0].t;
    q8_tensor *y = ctx.out[0];
    switch (dtype_size(x.dtype)) {
      case 1: permute<uint8_t>(x, y); break;
      case 4: permute<uint32_t>(x, y); break;
      default: node_error(ctx.node, Q8_ERR_DTYPE, "unsupported element size");
    }
    if (x.qp.present() && x.qp.axis >= 0) {
      const int64_t a = std::find(perm_.begin(), perm_.end(), x.qp.axis) - perm_.begin();
      y->qp = x.qp;
      y->qp.axis = static_cast<int32_t>(a);
    } else {
      y->qp = x.qp;
    }
  }

 private:
  // Output rows (the last output dimension) in parallel; each element reads the input through
  // the permuted strides.
  template <class T>
  void permute(const q8_tensor &x, q8_tensor *y) const {
    const std::size_t r = x.rank;
    if (y->numel == 0) return;
    const T *src = static_cast<const T *>(x.data);
    T *dst = static_cast<T *>(y->data);
    if (r == 0) {
      dst[0] = src[0];
      return;
    }
    std::vector<int64_t> in_stride(r), stride(r);  // stride[i]: input stride of output dim i
    for (std::size_t i = r, s = 1; i-- > 0;) {
      in_stride[i] = static_cast<int64_t>(s);
      s *= static_cast<std::size_t>(x.shape[i]);
    }
    for (std::size_t i = 0; i < r; ++i) stride[i] = in_stride[perm_[i]];
    const int64_t inner = y->shape[r - 1], rows = static_cast<int64_t>(y->numel) / inner;
    const std::size_t grain = std::max<std::size_t>(1, kGrain / static_cast<std::size_t>(inner));
    parallel_for(static_cast<std::size_t>(rows), grain, kInlineBelow / static_cast<std::size_t>(inner) + 1,
                 [&](std::size_t r0, std::size_t r1) {
                   for (std::size_t row = r0; row < r1; ++row) {
                     int64_t rem = static_cast<int64_t>(row), off = 0;
                     for (std::size_t i = r - 1; i-- > 0;) {
                       off += (rem % y->shape[i]) * stride[i];
                       rem /= y->shape[i];
                     }
                     T *d = dst + static_cast<int64_t>(row) * inner;
                     const int64_t s = stride[r - 1];
                     for (int64_t j = 0; j < inner; ++j) d[j] = src[off + j * s];
                   }
                 });
  }

  std::vector<int64_t> perm_;
};

bool same_qparams(const QParams &a, const QParams &b) {
  return a.axis == b.axis && a.scales == b.scales && a.zero_points == b.zero_points;
}

class Concat final : public Kernel {
 public:
  void prepare(NodeContext &ctx) override {
    const model::Node &n = ctx.node;
    if (ctx.in.empty()) node_error(n, Q8_ERR_FORMAT, "Concat has no inputs");
    if (!n.has("axis")) node_error(n, Q8_ERR_FORMAT, "attribute axis is missing");
    const q8_tensor &first = input(ctx, 0, "0");
    const int64_t r = static_cast<int64_t>(first.rank), axis = n.get_int("axis", 0);
    if (r == 0 || axis < -r || axis >= r)
      node_error(n, Q8_ERR_SHAPE, "axis " + std::to_string(axis) + " is out of range for " + shape_string(first));
    axis_ = static_cast<std::size_t>(axis < 0 ? axis + r : axis);
    std::vector<int64_t> out = dims(first);
    out[axis_] = 0;
    for (std::size_t i = 0; i < ctx.in.size(); ++i) {
      const q8_tensor &t = input(ctx, i, std::to_string(i).c_str());
      if (t.dtype != first.dtype)
        node_error(n, Q8_ERR_DTYPE, "input " + std::to_string(i) + " is " + dtype_name(t.dtype) + ", input 0 is " +
                                        dtype_name(first.dtype));
      bool ok = t.rank == first.rank;
      for (std::size_t d = 0; ok && d < t.rank; ++d) ok = d == axis_ || t.shape[d] == first.shape[d];
      if (!ok)
        node_error(n, Q8_ERR_SHAPE, "input " + std::to_string(i) + " " + shape_string(t) + " does not fit input 0 " +
                                        shape_string(first) + " along axis " + std::to_string(axis_));
      out[axis_] += t.shape[axis_];
    }
    set_output(output(ctx, 0, "concat_result"), first.dtype, out);
  }

  void run(NodeContext &ctx) override {
    const q8_tensor &first = *ctx.in[0].t;
    q8_tensor *y = ctx.out[0];
    for (std::size_t i = 1; i < ctx.in.size(); ++i)
      if (!same_qparams(ctx.in[i].t->qp, first.qp))
        node_error(ctx.node, Q8_ERR_UNSUPPORTED, "input " + std::to_string(i) +
                                                     " has other quantization parameters than input 0 (requantize first)");
    const std::size_t es = dtype_size(first.dtype);
    std::size_t outer = 1;
    for (std::size_t d = 0; d < axis_; ++d) outer *= static_cast<std::size_t>(first.shape[d]);
    const std::size_t out_row = y->inner(static_cast<int32_t>(axis_)) * static_cast<std::size_t>(y->shape[axis_]) * es;
    std::size_t at = 0;  // byte offset of this input's block inside an output row
    for (const Operand &op : ctx.in) {
      const q8_tensor &t = *op.t;
      const std::size_t row = t.inner(static_cast<int32_t>(axis_)) * static_cast<std::size_t>(t.shape[axis_]) * es;
      if (row)
        for (std::size_t o = 0; o < outer; ++o)
          std::memcpy(static_cast<uint8_t *>(y->data) + o * out_row + at, static_cast<const uint8_t *>(t.data) + o * row, row);
      at += row;
    }
    pass_qparams(ctx, first, y);
  }

 private:
  std::size_t axis_ = 0;
};

}  // namespace

void register_layout_kernels() {
  register_kernel("", "Identity", make_kernel<Identity>);
  register_kernel("", "Dropout", make_kernel<Identity>);
  register_kernel("", "Flatten", make_kernel<Flatten>);
  register_kernel("", "Reshape", make_kernel<Reshape>);
  register_kernel("", "Transpose", make_kernel<Transpose>);
  register_kernel("", "Concat", make_kernel<Concat>);
}

}  // namespace q8::rt
