#!/usr/bin/python3
"""Writes the MLP bench_pipeline measures: LAYERS Gemm layers of WIDTH x WIDTH (transB = 1), each
but the last followed by Relu, input [N, WIDTH] f32, random weights (seed 0) scaled like a trained
layer's (1 / sqrt(fan_in)). Equal layers so that 2 partitions can hold equal work.

    /usr/bin/python3 bench/make_mlp.py OUT.onnx [LAYERS=8] [WIDTH=1024]
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main() -> None:
    out = sys.argv[1]
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    width = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "input"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        b = (0.01 * rng.standard_normal(width)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        y = "logits" if i == layers - 1 else f"gemm{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], name=f"gemm{i}", transB=1))
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", width])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="q8 bench/make_mlp.py")
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
