#!/usr/bin/python3
"""Writes the single-operator ONNX fixtures of tests/test_quant_ops.c into tests/data/qops/.

Each model holds one quantized operator with constant weights, scales and zero points. Weights
follow a formula the C test repeats (w[i] = ((i * 37 + 11) % 256) - 128 for s8, + 128 for u8), so
no data file is needed beside the model. Run with /usr/bin/python3 (numpy and onnx):
    /usr/bin/python3 scripts/make_quant_op_models.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "qops")
TYPES = {np.float32: TensorProto.FLOAT, np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8,
         np.int32: TensorProto.INT32}


def pattern(shape, dtype):
    n = int(np.prod(shape)) if len(shape) else 1
    v = (np.arange(n, dtype=np.int64) * 37 + 11) % 256 - 128
    if dtype == np.uint8:
        v = v + 128
    return v.astype(dtype).reshape(shape)


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def save(name, nodes, inputs, outputs, inits, domains=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", 13)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="q8 make_quant_op_models.py")
    model.ir_version = 8
    if not domains:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, TYPES[dtype], shape)


def f32(*v):
    return np.array(v, dtype=np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)

    # QuantizeLinear per axis (axis 1, s8 zero points) and with the default zero point (u8).
    save("quantize_per_axis",
         [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1)],
         [vi("x", np.float32, [2, 3, 4])], [vi("y", np.int8, [2, 3, 4])],
         [const("s", f32(0.05, 0.1, 0.025)), const("z", np.array([-3, 0, 7], np.int8))])
    save("quantize_default_zp",
         [helper.make_node("QuantizeLinear", ["x", "s"], ["y"])],
         [vi("x", np.float32, [5, 7])], [vi("y", np.uint8, [5, 7])],
         [const("s", np.float32(0.02))])
    # DequantizeLinear per axis on the last axis (s8), and an s32 input without zero point.
    save("dequantize_per_axis",
         [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], axis=-1)],
         [vi("x", np.int8, [3, 4])], [vi("y", np.float32, [3, 4])],
         [const("s", f32(0.5, 0.25, 0.125, 2.0)), const("z", np.array([1, -2, 0, 5], np.int8))])
    save("dequantize_s32",
         [helper.make_node("DequantizeLinear", ["x", "s"], ["y"])],
         [vi("x", np.int32, [6])], [vi("y", np.float32, [6])], [const("s", np.float32(0.001))])
    save("dynamic_quantize",
         [helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "ys", "yz"])],
         [vi("x", np.float32, [4, 9])],
         [vi("y", np.uint8, [4, 9]), vi("ys", np.float32, []), vi("yz", np.uint8, [])], [])

    # QLinearConv: u8, groups 2, per-channel weights, bias, stride 2, asymmetric pads.
    save("qlinearconv_groups",
         [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                           group=2, strides=[2, 2], pads=[1, 0, 2, 1], kernel_shape=[3, 3])],
         [vi("x", np.uint8, [1, 4, 7, 7])], [vi("y", np.uint8, [1, 6, 4, 3])],
         [const("xs", np.float32(0.05)), const("xz", np.uint8(120)), const("w", pattern([6, 2, 3, 3], np.int8)),
          const("ws", f32(0.01, 0.02, 0.015, 0.005, 0.03, 0.01)), const("wz", np.zeros(6, np.int8)),
          const("ys", np.float32(0.4)), const("yz", np.uint8(128)),
          const("b", np.array([100, -200, 0, 50, -7, 300], np.int32))])
    # Depthwise, s8, dilation 2, SAME_UPPER padding, per-tensor weights with a zero point.
    save("qlinearconv_depthwise_s8",
         [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"],
                           group=4, dilations=[2, 2], auto_pad="SAME_UPPER")],
         [vi("x", np.int8, [2, 4, 6, 5])], [vi("y", np.int8, [2, 4, 6, 5])],
         [const("xs", np.float32(0.03)), const("xz", np.int8(-5)), const("w", pattern([4, 1, 3, 3], np.int8)),
          const("ws", np.float32(0.02)), const("wz", np.int8(3)), const("ys", np.float32(0.5)),
          const("yz", np.int8(2))])

    # QLinearMatMul, N-D a times 2-D b with per-column b parameters; and batched b (broadcast).
    save("qlinearmatmul_nd",
         [helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])],
         [vi("a", np.uint8, [2, 3, 4, 5])], [vi("y", np.uint8, [2, 3, 4, 6])],
         [const("as", np.float32(0.1)), const("az", np.uint8(128)), const("b", pattern([5, 6], np.int8)),
          const("bs", f32(0.01, 0.02, 0.03, 0.01, 0.02, 0.03)), const("bz", np.array([0, 1, -1, 2, 0, 0], np.int8)),
          const("ys", np.float32(2.0)), const("yz", np.uint8(100))])
    save("qlinearmatmul_batched_s8",
         [helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])],
         [vi("a", np.int8, [3, 4, 5])], [vi("y", np.int8, [2, 3, 4, 6])],
         [const("as", np.float32(0.05)), const("az", np.int8(-1)), const("b", pattern([2, 1, 5, 6], np.int8)),
          const("bs", np.float32(0.02)), const("bz", np.int8(0)), const("ys", np.float32(1.5)),
          const("yz", np.int8(-3))])
    # MatMulInteger: s8 A, u8 B with per-column zero points.
    save("matmulinteger",
         [helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])],
         [vi("a", np.int8, [3, 4])], [vi("y", np.int32, [3, 5])],
         [const("b", pattern([4, 5], np.uint8)), const("az", np.int8(2)),
          const("bz", np.array([128, 127, 0, 255, 100], np.uint8))])
    # ConvInteger: u8 x and w, default w zero point, padding.
    save("convinteger",
         [helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"], pads=[1, 1, 1, 1])],
         [vi("x", np.uint8, [1, 3, 5, 5])], [vi("y", np.int32, [1, 2, 5, 5])],
         [const("w", pattern([2, 3, 3, 3], np.uint8)), const("xz", np.uint8(9))])

    ms = ["com.microsoft"]
    # QGemm: transB, alpha, int32 bias, u8 output; and f32 output (no y_scale).
    qgemm_inits = [const("as", np.float32(0.1)), const("az", np.uint8(130)), const("b", pattern([5, 6], np.int8)),
                   const("bs", f32(0.01, 0.02, 0.03, 0.04, 0.05)), const("bz", np.zeros(5, np.int8)),
                   const("c", np.array([10, -20, 30, -40, 50], np.int32))]
    save("qgemm_u8",
         [helper.make_node("QGemm", ["a", "as", "az", "b", "bs", "bz", "c", "ys", "yz"], ["y"],
                           domain="com.microsoft", transB=1, alpha=0.5)],
         [vi("a", np.uint8, [4, 6])], [vi("y", np.uint8, [4, 5])],
         qgemm_inits + [const("ys", np.float32(0.3)), const("yz", np.uint8(120))], ms)
    save("qgemm_f32",
         [helper.make_node("QGemm", ["a", "as", "az", "b", "bs", "bz", "c"], ["y"], domain="com.microsoft", transB=1)],
         [vi("a", np.uint8, [4, 6])], [vi("y", np.float32, [4, 5])], qgemm_inits, ms)

    save("qlinearadd_broadcast",
         [helper.make_node("QLinearAdd", ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["c"], domain="com.microsoft")],
         [vi("a", np.uint8, [2, 3, 4]), vi("b", np.uint8, [3, 1])], [vi("c", np.uint8, [2, 3, 4])],
         [const("as", np.float32(0.05)), const("az", np.uint8(100)), const("bs", np.float32(0.08)),
          const("bz", np.uint8(140)), const("cs", np.float32(0.1)), const("cz", np.uint8(120))], ms)
    save("qlinearmul_s8",
         [helper.make_node("QLinearMul", ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["c"], domain="com.microsoft")],
         [vi("a", np.int8, [5, 6]), vi("b", np.int8, [5, 6])], [vi("c", np.int8, [5, 6])],
         [const("as", np.float32(0.05)), const("az", np.int8(-2)), const("bs", np.float32(0.04)),
          const("bz", np.int8(3)), const("cs", np.float32(0.02)), const("cz", np.int8(1))], ms)
    save("qlinearsigmoid",
         [helper.make_node("QLinearSigmoid", ["x", "xs", "xz", "ys", "yz"], ["y"], domain="com.microsoft")],
         [vi("x", np.uint8, [16, 16])], [vi("y", np.uint8, [16, 16])],
         [const("xs", np.float32(0.06)), const("xz", np.uint8(128)), const("ys", np.float32(1.0 / 256)),
          const("yz", np.uint8(0))], ms)
    save("qlineartanh",
         [helper.make_node("QLinearTanh", ["x", "xs", "xz", "ys", "yz"], ["y"], domain="ai.q8")],
         [vi("x", np.int8, [16, 16])], [vi("y", np.int8, [16, 16])],
         [const("xs", np.float32(0.03)), const("xz", np.int8(0)), const("ys", np.float32(1.0 / 128)),
          const("yz", np.int8(0))], ["ai.q8"])
    save("qlinearconcat",
         [helper.make_node("QLinearConcat", ["ys", "yz", "a", "as", "az", "b", "bs", "bz"], ["y"],
                           domain="com.microsoft", axis=1)],
         [vi("a", np.uint8, [2, 3, 4]), vi("b", np.uint8, [2, 2, 4])], [vi("y", np.uint8, [2, 5, 4])],
         [const("ys", np.float32(0.1)), const("yz", np.uint8(128)), const("as", np.float32(0.1)),
          const("az", np.uint8(128)), const("bs", np.float32(0.07)), const("bz", np.uint8(90))], ms)
    save("qlinearglobalavgpool",
         [helper.make_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"],
                           domain="com.microsoft", channels_last=0)],
         [vi("x", np.uint8, [2, 3, 5, 7])], [vi("y", np.uint8, [2, 3, 1, 1])],
         [const("xs", np.float32(0.05)), const("xz", np.uint8(100)), const("ys", np.float32(0.03)),
          const("yz", np.uint8(110))], ms)
    save("qlinearavgpool",
         [helper.make_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain="com.microsoft",
                           kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)],
         [vi("x", np.int8, [1, 3, 7, 6])], [vi("y", np.int8, [1, 3, 4, 3])],
         [const("xs", np.float32(0.05)), const("xz", np.int8(-4)), const("ys", np.float32(0.04)),
          const("yz", np.int8(6))], ms)

    q8 = ["ai.q8"]
    save("dynamicgemm",
         [helper.make_node("DynamicGemm", ["x", "w", "ws", "wz", "b"], ["y"], domain="ai.q8", transB=1)],
         [vi("x", np.float32, [3, 8])], [vi("y", np.float32, [3, 4])],
         [const("w", pattern([4, 8], np.int8)), const("ws", f32(0.01, 0.02, 0.03, 0.04)),
          const("wz", np.zeros(4, np.int8)), const("b", f32(0.5, -0.25, 1.0, 0.0))], q8)
    save("dynamicconv",
         [helper.make_node("DynamicConv", ["x", "w", "ws", "wz", "b"], ["y"], domain="ai.q8", pads=[1, 1, 1, 1])],
         [vi("x", np.float32, [1, 2, 4, 4])], [vi("y", np.float32, [1, 3, 4, 4])],
         [const("w", pattern([3, 2, 3, 3], np.int8)), const("ws", np.float32(0.02)), const("wz", np.int8(0)),
          const("b", f32(0.1, 0.2, -0.3))], q8)


if __name__ == "__main__":
    main()
