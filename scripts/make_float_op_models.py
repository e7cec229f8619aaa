#!/usr/bin/python3
"""Writes the one-operator (and a few small multi-operator) ONNX fixtures of tests/test_runtime.c
into tests/data/ops/. Weights are graph inputs unless a fixture tests constants, so that the C
test makes every number itself; "N" is the dynamic batch dimension.

Run from the repository root: /usr/bin/python3 scripts/make_float_op_models.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "ops")
F32, U8, S8 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8


def vi(name, shape, elem=F32):
    return helper.make_tensor_value_info(name, elem, shape)


def save(name, nodes, inputs, outputs, inits=(), opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, producer_name="q8 make_float_op_models.py",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    # Outputs declared without a shape get the one ONNX's shape inference finds.
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for out in model.graph.output:
        if not out.type.tensor_type.HasField("shape") and out.name in known:
            out.type.CopyFrom(known[out.name].type)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))


def const(name, array, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def single(name, op, inputs, outputs, opset=13, inits=(), **attrs):
    """One node; `inputs` and `outputs` are (name, shape[, elem]) tuples; '' skips an input."""
    node_inputs = [i if isinstance(i, str) else i[0] for i in inputs]
    graph_inputs = [vi(*i) for i in inputs if not isinstance(i, str)]
    node = helper.make_node(op, node_inputs, [o[0] for o in outputs], name=name + "_node", **attrs)
    save(name, [node], graph_inputs, [vi(*o) for o in outputs], inits, opset)


def gemm():
    single("gemm_bias_n", "Gemm", [("A", ["N", 5]), ("B", [5, 3]), ("C", [3])], [("Y", ["N", 3])])
    single("gemm_trans", "Gemm", [("A", [6, "N"]), ("B", [4, 6]), ("C", [1, 4])], [("Y", ["N", 4])],
           transA=1, transB=1, alpha=0.5, beta=-1.5)
    rng = np.random.default_rng(5)
    single("gemm_const", "Gemm", [("A", ["N", 9]), "W", "c0"], [("Y", ["N", 4])], beta=0.25,
           inits=[const("W", rng.standard_normal((9, 4))), const("c0", 1.75)])
    single("gemm_col_bias", "Gemm", [("A", ["N", 7]), ("B", [7, 3]), ("C", ["N", 1])], [("Y", ["N", 3])])
    single("gemm_noc", "Gemm", [("A", ["N", 17]), ("B", [17, 13])], [("Y", ["N", 13])])


def matmul():
    single("matmul_2d", "MatMul", [("A", ["N", 7]), ("B", [7, 5])], [("Y", ["N", 5])])
    single("matmul_bcast", "MatMul", [("A", ["N", 1, 4, 5]), ("B", [2, 5, 3])], [("Y", ["N", 2, 4, 3])])
    single("matmul_batched", "MatMul", [("A", ["N", 3, 4]), ("B", ["N", 4, 2])], [("Y", ["N", 3, 2])])
    nodes = [helper.make_node("MatMul", ["A", "v"], ["Y1"], name="mv"),
             helper.make_node("MatMul", ["v", "B"], ["Y2"], name="vm")]
    save("matmul_vec", nodes, [vi("A", ["N", 5]), vi("v", [5]), vi("B", ["N", 5, 3])],
         [vi("Y1", ["N"]), vi("Y2", ["N", 3])])


def conv():
    def c(name, x, w, bias=True, **attrs):
        inputs = [("X", ["N"] + x), ("W", w)] + ([("B", [w[0]])] if bias else [])
        single(name, "Conv", inputs, [("Y", None)], **attrs)

    c("conv_basic", [3, 9, 11], [4, 3, 3, 3], pads=[1, 1, 1, 1])
    c("conv_strided", [2, 13, 10], [5, 2, 3, 2], strides=[2, 3], pads=[1, 0, 2, 1], dilations=[2, 1])
    c("conv_group", [4, 8, 7], [6, 2, 3, 3], bias=False, group=2, pads=[0, 1, 1, 0])
    c("conv_depthwise", [3, 7, 9], [6, 1, 3, 3], group=3, strides=[2, 2], pads=[1, 1, 1, 1])
    c("conv_dw_dil", [4, 10, 10], [4, 1, 3, 3], bias=False, group=4, dilations=[2, 2], pads=[2, 2, 2, 2])
    c("conv_same_upper", [2, 7, 8], [3, 2, 4, 3], auto_pad="SAME_UPPER", strides=[2, 2])
    c("conv_same_lower", [2, 7, 8], [3, 2, 4, 4], bias=False, auto_pad="SAME_LOWER")
    c("conv_valid", [3, 9, 8], [2, 3, 3, 3], auto_pad="VALID", strides=[2, 2])
    c("conv_1x1", [5, 6, 7], [8, 5, 1, 1])
    c("conv_1d", [3, 12], [4, 3, 3], strides=[2], pads=[1, 1])
    c("conv_big", [8, 32, 32], [16, 8, 3, 3], pads=[1, 1, 1, 1])
    c("conv_dw_big", [32, 32, 32], [32, 1, 3, 3], group=32, pads=[1, 1, 1, 1])
    rng = np.random.default_rng(7)
    single("conv_const", "Conv", [("X", ["N", 1, 8, 8]), "W", "B"], [("Y", None)], pads=[1, 1, 1, 1],
           inits=[const("W", rng.standard_normal((4, 1, 3, 3))), const("B", rng.standard_normal(4))])


def elementwise():
    single("add_bcast", "Add", [("A", ["N", 3, 1, 5]), ("B", [4, 1])], [("C", ["N", 3, 4, 5])])
    single("mul_bcast", "Mul", [("A", ["N", 4, 6]), ("B", [1, 4, 1])], [("C", ["N", 4, 6])])
    single("add_scalar", "Add", [("A", ["N", 5]), ("B", [])], [("C", ["N", 5])])
    single("mul_same", "Mul", [("A", ["N", 8]), ("B", ["N", 8])], [("C", ["N", 8])])
    single("add_lowrank", "Add", [("B", [3]), ("A", ["N", 2, 3])], [("C", ["N", 2, 3])])
    nodes = [helper.make_node("Relu", ["X"], ["relu"], name="relu"),
             helper.make_node("Sigmoid", ["X"], ["sigmoid"], name="sigmoid"),
             helper.make_node("Tanh", ["X"], ["tanh"], name="tanh"),
             helper.make_node("Clip", ["X", "lo", "hi"], ["clip"], name="clip"),
             helper.make_node("Clip", ["X", "", "hi2"], ["clip_max"], name="clip_max")]
    save("unary", nodes, [vi("X", ["N", 3, 5])],
         [vi(n, ["N", 3, 5]) for n in ("relu", "sigmoid", "tanh", "clip", "clip_max")],
         [const("lo", -0.5), const("hi", 0.75), const("hi2", 0.25)])
    nodes = [helper.make_node("Softmax", ["X"], ["s1"], name="axis1", axis=1),
             helper.make_node("Softmax", ["X"], ["s_last"], name="axis_default"),
             helper.make_node("Softmax", ["X"], ["s0"], name="axis0", axis=0)]
    save("softmax", nodes, [vi("X", ["N", 3, 4])], [vi(n, ["N", 3, 4]) for n in ("s1", "s_last", "s0")])


def pools():
    def p(name, op, x, **attrs):
        single(name, op, [("X", ["N"] + x)], [("Y", None)], **attrs)

    p("maxpool_basic", "MaxPool", [3, 9, 9], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    p("maxpool_ceil", "MaxPool", [2, 10, 9], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    p("maxpool_dil", "MaxPool", [2, 8, 9], kernel_shape=[2, 3], strides=[1, 2], dilations=[2, 1], pads=[0, 1, 1, 0])
    p("maxpool_same", "MaxPool", [2, 7, 7], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER")
    p("avgpool_incl", "AveragePool", [3, 9, 8], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
      count_include_pad=1)
    p("avgpool_excl_ceil", "AveragePool", [2, 10, 9], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
      ceil_mode=1)
    p("avgpool_incl_ceil", "AveragePool", [2, 10, 9], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
      ceil_mode=1, count_include_pad=1)
    p("gap", "GlobalAveragePool", [5, 6, 7])
    rng = np.random.default_rng(11)
    single("batchnorm", "BatchNormalization", [("X", ["N", 4, 3, 5]), "scale", "bias", "mean", "var"],
           [("Y", ["N", 4, 3, 5])], epsilon=1e-3,
           inits=[const("scale", rng.standard_normal(4)), const("bias", rng.standard_normal(4)),
                  const("mean", rng.standard_normal(4)), const("var", rng.uniform(0.2, 2.0, 4))])


def layout():
    nodes = [helper.make_node("Flatten", ["X"], ["f2"], name="flatten2", axis=2),
             helper.make_node("Flatten", ["X"], ["f0"], name="flatten0", axis=0)]
    save("flatten", nodes, [vi("X", ["N", 3, 4, 5])], [vi("f2", None), vi("f0", None)])
    nodes = [helper.make_node("Reshape", ["X", "s1"], ["r1"], name="keep_infer"),
             helper.make_node("Reshape", ["X", "s2"], ["r2"], name="infer_copy")]
    save("reshape", nodes, [vi("X", ["N", 4, 6])], [vi("r1", None), vi("r2", None)],
         [const("s1", [0, -1], np.int64), const("s2", [-1, 2, 0], np.int64)])
    single("reshape_allowzero", "Reshape", [("X", [2, 3, 0]), "s"], [("Y", None)], opset=14, allowzero=1,
           inits=[const("s", [0, 6, 3], np.int64)])
    nodes = [helper.make_node("Transpose", ["X"], ["t1"], name="nhwc", perm=[0, 2, 3, 1]),
             helper.make_node("Transpose", ["X"], ["t2"], name="reverse")]
    save("transpose", nodes, [vi("X", ["N", 3, 4, 5])], [vi("t1", None), vi("t2", None)])
    nodes = [helper.make_node("Concat", ["A", "B", "C"], ["c1"], name="axis1", axis=1),
             helper.make_node("Concat", ["A", "A"], ["c2"], name="last", axis=-1)]
    save("concat", nodes, [vi("A", ["N", 2, 3]), vi("B", ["N", 1, 3]), vi("C", ["N", 4, 3])],
         [vi("c1", None), vi("c2", None)])
    nodes = [helper.make_node("Identity", ["X"], ["i"], name="identity"),
             helper.make_node("Dropout", ["i"], ["Y", "mask"], name="dropout")]
    save("identity", nodes, [vi("X", ["N", 3])], [vi("Y", ["N", 3])])


def quantized():
    # Relu, Clip and MaxPool on integers keep their qparams; the Clip bounds are real values.
    nodes = [helper.make_node("Relu", ["X"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Reshape", ["p", "shape"], ["Y"], name="reshape"),
             helper.make_node("Clip", ["X", "lo", "hi"], ["c"], name="clip")]
    save("quant_u8", nodes, [vi("X", ["N", 2, 4, 4], U8)], [vi("Y", ["N", 8], U8), vi("c", ["N", 2, 4, 4], U8)],
         [const("shape", [0, -1], np.int64), const("lo", -0.3), const("hi", 0.9)])
    nodes = [helper.make_node("Relu", ["X"], ["r"], name="relu"),
             helper.make_node("Transpose", ["r"], ["t"], name="transpose", perm=[0, 2, 3, 1]),
             helper.make_node("Flatten", ["t"], ["Y"], name="flatten"),
             helper.make_node("Clip", ["X", "lo", "hi"], ["c"], name="clip")]
    save("quant_s8", nodes, [vi("X", ["N", 3, 2, 2], S8)], [vi("Y", ["N", 12], S8), vi("c", ["N", 3, 2, 2], S8)],
         [const("lo", -0.3), const("hi", 0.9)])
    # Per-axis parameters on the channel axis follow it through the transpose.
    nodes = [helper.make_node("Relu", ["X"], ["r"], name="relu"),
             helper.make_node("Transpose", ["r"], ["Y"], name="transpose", perm=[0, 2, 3, 1]),
             helper.make_node("Clip", ["X", "lo", "hi"], ["c"], name="clip")]
    save("quant_per_axis", nodes, [vi("X", ["N", 3, 2, 2], S8)],
         [vi("Y", ["N", 2, 2, 3], S8), vi("c", ["N", 3, 2, 2], S8)], [const("lo", -0.3), const("hi", 0.9)])
    single("concat_u8", "Concat", [("A", ["N", 2], U8), ("B", ["N", 3], U8)], [("Y", ["N", 5], U8)], axis=1)


def folding():
    nodes = [helper.make_node("Mul", ["c1", "c2"], ["prod"], name="fold_mul"),
             helper.make_node("Relu", ["prod"], ["prod_relu"], name="fold_relu"),
             helper.make_node("Add", ["X", "prod_relu"], ["Y"], name="add")]
    save("fold", nodes, [vi("X", ["N", 4])], [vi("Y", ["N", 4])],
         [const("c1", [1.5, -2.0, 0.5, 3.0]), const("c2", [2.0, 1.0, -4.0, 0.25])])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for make in (gemm, matmul, conv, elementwise, pools, layout, quantized, folding):
        make()
    print("wrote", len([f for f in os.listdir(OUT) if f.endswith(".onnx")]), "models to", os.path.normpath(OUT))
