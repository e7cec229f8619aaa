#!/usr/bin/python3
"""Writes the small ONNX models that tests/test_onnx_import.c loads (tests/data/onnx/*.onnx) and
the fuzz seed corpus (fuzz/corpus/onnx/). Run with the Python that has onnx and numpy:

    /usr/bin/python3 scripts/make_onnx_fixtures.py

Weights and inputs follow closed formulas (w_value, x_value below) that the C test repeats, so the
test can compute reference results without reading the files itself. The output is deterministic:
rerunning it rewrites identical bytes.
"""
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "onnx")
CORPUS = os.path.join(ROOT, "fuzz", "corpus", "onnx")
F = TensorProto.FLOAT


def w_value(i, salt):
    """Weight formula shared with the C test: multiples of 1/16 in [-0.5, 0.5]."""
    return ((i * 37 + salt * 11) % 17 - 8) / 16.0


def w_array(shape, salt):
    n = int(np.prod(shape))
    return np.array([w_value(i, salt) for i in range(n)], dtype=np.float64).astype(np.float32).reshape(shape)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def model(nodes, inputs, outputs, inits=(), opset=13, extra_opsets=(), check=True, value_info=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=list(value_info))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="q8-fixtures")
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m)
    return m


def io(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def save(m, name):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def bn_params(c, salt):
    o = np.arange(c, dtype=np.float64)
    return [
        init("gamma%d" % salt, (0.5 + 0.25 * o).astype(np.float32)),
        init("beta%d" % salt, (0.1 - 0.05 * o).astype(np.float32)),
        init("mean%d" % salt, (0.2 * o - 0.1).astype(np.float32)),
        init("var%d" % salt, (0.5 + 0.5 * o).astype(np.float32)),
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    saved = []

    # Gemm (transB = 1) + bias -> Relu, batch dynamic.
    saved.append(save(model(
        [helper.make_node("Gemm", ["x", "W", "b"], ["h"], name="fc", transB=1),
         helper.make_node("Relu", ["h"], ["y"], name="relu")],
        [io("x", ["N", 4])], [io("y", ["N", 3])],
        [init("W", w_array([3, 4], 1)), init("b", w_array([3], 2))]), "gemm_relu.onnx"))

    # Conv 3x3 pad 1 -> BatchNormalization -> Relu (BN folds into the Conv).
    saved.append(save(model(
        [helper.make_node("Conv", ["x", "W", "b"], ["c"], name="conv", pads=[1, 1, 1, 1],
                          kernel_shape=[3, 3]),
         helper.make_node("BatchNormalization", ["c", "gamma0", "beta0", "mean0", "var0"], ["n"],
                          name="bn", epsilon=1e-3),
         helper.make_node("Relu", ["n"], ["y"], name="relu")],
        [io("x", ["N", 2, 5, 5])], [io("y", ["N", 3, 5, 5])],
        [init("W", w_array([3, 2, 3, 3], 3)), init("b", w_array([3], 4))] + bn_params(3, 0)),
        "conv_bn.onnx"))

    # Gemm (alpha, beta, transB 0 and 1) -> BatchNormalization, twice, on a [N, 4] input.
    saved.append(save(model(
        [helper.make_node("Gemm", ["x", "W1", "c1"], ["g1"], name="fc1", alpha=0.5, beta=2.0),
         helper.make_node("BatchNormalization", ["g1", "gamma0", "beta0", "mean0", "var0"], ["n1"],
                          name="bn1"),
         helper.make_node("Gemm", ["n1", "W2"], ["g2"], name="fc2", transB=1),
         helper.make_node("BatchNormalization", ["g2", "gamma1", "beta1", "mean1", "var1"], ["y"],
                          name="bn2", epsilon=1e-2)],
        [io("x", ["N", 4])], [io("y", ["N", 3])],
        [init("W1", w_array([4, 3], 5)), init("c1", w_array([3], 6)), init("W2", w_array([3, 3], 7))]
        + bn_params(3, 0) + bn_params(3, 1)), "gemm_bn.onnx"))

    # BN whose input is also read elsewhere: it must not fold (node count stays).
    saved.append(save(model(
        [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", kernel_shape=[1, 1]),
         helper.make_node("BatchNormalization", ["c", "gamma0", "beta0", "mean0", "var0"], ["n"], name="bn"),
         helper.make_node("Add", ["n", "c"], ["y"], name="add")],
        [io("x", ["N", 2, 3, 3])], [io("y", ["N", 3, 3, 3])],
        [init("W", w_array([3, 2, 1, 1], 8))] + bn_params(3, 0)), "conv_bn_shared.onnx"))

    # Identity and Dropout (opset 13: ratio input) around a Gemm; the last one is a graph output.
    saved.append(save(model(
        [helper.make_node("Identity", ["x"], ["x1"]),
         helper.make_node("Gemm", ["x1", "W", "b"], ["h"], transB=1),
         helper.make_node("Dropout", ["h", "ratio"], ["d"]),
         helper.make_node("Identity", ["d"], ["y"])],
        [io("x", ["N", 4])], [io("y", ["N", 3])],
        [init("W", w_array([3, 4], 1)), init("b", w_array([3], 2)),
         init("ratio", np.array(0.25, dtype=np.float32))]), "identity_dropout.onnx"))

    # An Identity from a graph input straight to a graph output: it has to stay.
    saved.append(save(model(
        [helper.make_node("Identity", ["x"], ["y"], name="copy")],
        [io("x", ["N", 3])], [io("y", ["N", 3])]), "identity_passthrough.onnx"))

    # Reshape with an int64 initializer, and a Constant node (value_ints) for a second one.
    saved.append(save(model(
        [helper.make_node("Reshape", ["x", "shape"], ["r"], name="flat"),
         helper.make_node("Constant", [], ["shape2"], value_ints=[0, 3, 2]),
         helper.make_node("Reshape", ["r", "shape2"], ["y"], name="unflat")],
        [io("x", ["N", 2, 3])], [io("y", ["N", 3, 2])],
        [init("shape", np.array([-1, 6], dtype=np.int64))]), "reshape.onnx"))

    # Clip with min/max inputs (opset 13), and one with max only.
    saved.append(save(model(
        [helper.make_node("Clip", ["x", "lo", "hi"], ["c"], name="clip"),
         helper.make_node("Clip", ["c", "", "hi2"], ["y"], name="clip_max")],
        [io("x", ["N", 5])], [io("y", ["N", 5])],
        [init("lo", np.array(-0.5, dtype=np.float32)), init("hi", np.array(1.0, dtype=np.float32)),
         init("hi2", np.array(0.75, dtype=np.float32))]), "clip.onnx"))

    # A valid ONNX operator q8 has no kernel for.
    saved.append(save(model(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("Erf", ["r"], ["y"], name="my_erf")],
        [io("x", ["N", 3])], [io("y", ["N", 3])]), "unsupported_op.onnx"))

    # Opset 10 and 18 are outside 11..17.
    m = model([helper.make_node("Relu", ["x"], ["y"])], [io("x", ["N", 3])], [io("y", ["N", 3])],
              opset=10)
    save(m, "opset10.onnx")

    # An int64 constant feeding an ordinary input.
    saved.append(save(model(
        [helper.make_node("Add", ["x", "k"], ["y"], name="add_i64")],
        [io("x", ["N", 3])], [io("y", ["N", 3])],
        [init("k", np.array([1, 2, 3], dtype=np.int64))]), "int64_input.onnx"))

    # Initializer whose raw bytes do not match its dims ([3, 4] f32 = 48 bytes; 40 given).
    bad = TensorProto()
    bad.name = "W"
    bad.data_type = F
    bad.dims.extend([3, 4])
    bad.raw_data = np.zeros(10, dtype=np.float32).tobytes()
    save(model([helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)], [io("x", ["N", 4])],
               [io("y", ["N", 3])], [bad], check=False), "bad_initializer.onnx")

    # Initializer kept in an external file.
    ext = TensorProto()
    ext.name = "W"
    ext.data_type = F
    ext.dims.extend([3, 4])
    ext.data_location = TensorProto.EXTERNAL
    e = ext.external_data.add()
    e.key, e.value = "location", "weights.bin"
    save(model([helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)], [io("x", ["N", 4])],
               [io("y", ["N", 3])], [ext], check=False), "external_data.onnx")

    # Nodes out of order (the checker rejects it).
    save(model([helper.make_node("Relu", ["r"], ["y"]), helper.make_node("Relu", ["x"], ["r"])],
               [io("x", ["N", 3])], [io("y", ["N", 3])], check=False), "unsorted.onnx")

    # QDQ: x -> Q -> DQ, W int8 per output channel -> DQ, bias int32 -> DQ, Conv -> Q -> DQ.
    # Fuses to QLinearConv. x_value/w_value in the C test rebuild the same numbers.
    xs, xzp = 0.02, 128
    wq = np.array([((i * 29) % 41) - 20 for i in range(3 * 2 * 3 * 3)], dtype=np.int8).reshape(3, 2, 3, 3)
    ws = np.array([0.01, 0.02, 0.015], dtype=np.float32)
    bq = np.array([100, -200, 50], dtype=np.int32)
    bs = (np.float32(xs) * ws).astype(np.float32)
    ys, yzp = 0.05, 100

    def qdq_conv(name, share_dq):
        nodes = [
            helper.make_node("QuantizeLinear", ["x", "xs", "xzp"], ["xq"], name="qx"),
            helper.make_node("DequantizeLinear", ["xq", "xs", "xzp"], ["xd"], name="dqx"),
            helper.make_node("DequantizeLinear", ["wq", "ws"], ["wd"], name="dqw", axis=0),
            helper.make_node("DequantizeLinear", ["bq", "bs"], ["bd"], name="dqb", axis=0),
            helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], name="conv", pads=[1, 1, 1, 1],
                             kernel_shape=[3, 3]),
            helper.make_node("QuantizeLinear", ["c", "ys", "yzp"], ["cq"], name="qy"),
            helper.make_node("DequantizeLinear", ["cq", "ys", "yzp"], ["y"], name="dqy"),
        ]
        outputs = [io("y", ["N", 3, 5, 5])]
        if share_dq:  # the dequantized input is read twice: the pattern stays as it is
            nodes.append(helper.make_node("Relu", ["xd"], ["xr"], name="side"))
            outputs.append(io("xr", ["N", 2, 5, 5]))
        return save(model(nodes, [io("x", ["N", 2, 5, 5])], outputs,
                          [init("xs", np.array(xs, dtype=np.float32)), init("xzp", np.array(xzp, dtype=np.uint8)),
                           init("wq", wq), init("ws", ws), init("bq", bq), init("bs", bs),
                           init("ys", np.array(ys, dtype=np.float32)), init("yzp", np.array(yzp, dtype=np.uint8))]),
                    name)

    saved.append(qdq_conv("qdq_conv.onnx", False))
    saved.append(qdq_conv("qdq_conv_shared.onnx", True))

    # QDQ MatMul and Gemm (f32 bias, quantized by the pass) on [N, 4] x [4, 3].
    wm = np.array([((i * 23) % 31) - 15 for i in range(12)], dtype=np.int8).reshape(4, 3)
    common_inits = [init("xs", np.array(0.03, dtype=np.float32)), init("xzp", np.array(120, dtype=np.uint8)),
                    init("wq", wm), init("ws", np.array(0.02, dtype=np.float32)),
                    init("ys", np.array(0.04, dtype=np.float32)), init("yzp", np.array(128, dtype=np.uint8))]
    head = [helper.make_node("QuantizeLinear", ["x", "xs", "xzp"], ["xq"], name="qx"),
            helper.make_node("DequantizeLinear", ["xq", "xs", "xzp"], ["xd"], name="dqx"),
            helper.make_node("DequantizeLinear", ["wq", "ws"], ["wd"], name="dqw")]
    tail = [helper.make_node("QuantizeLinear", ["m", "ys", "yzp"], ["mq"], name="qy"),
            helper.make_node("DequantizeLinear", ["mq", "ys", "yzp"], ["y"], name="dqy")]
    saved.append(save(model(head + [helper.make_node("MatMul", ["xd", "wd"], ["m"], name="mm")] + tail,
                            [io("x", ["N", 4])], [io("y", ["N", 3])], common_inits), "qdq_matmul.onnx"))
    saved.append(save(model(head + [helper.make_node("Gemm", ["xd", "wd", "gb"], ["m"], name="gemm")] + tail,
                            [io("x", ["N", 4])], [io("y", ["N", 3])],
                            common_inits + [init("gb", np.array([0.1, -0.2, 0.3], dtype=np.float32))]),
                      "qdq_gemm.onnx"))

    # Seed corpus: the valid models above.
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    os.makedirs(CORPUS)
    for p in saved:
        shutil.copy(p, os.path.join(CORPUS, os.path.basename(p)))


if __name__ == "__main__":
    main()
