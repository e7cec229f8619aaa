#!/usr/bin/python3
"""Writes the ONNX models with external data that tests/test_onnx_external.c and
tests/test_checkpoint_onnx.c load (tests/data/onnx_external/), and one fuzz seed. Run with the
Python that has onnx and numpy:

    /usr/bin/python3 scripts/make_onnx_external_fixtures.py

Deterministic: weights come from a seeded generator and onnx writes the external file in
initializer order, so rerunning it rewrites identical bytes.

- mlp.onnx (inline) and mlp_ext.onnx + mlp_ext.bin (every initializer external, saved by onnx's
  own save_model(save_as_external_data=True)): the same model, MatMul / Add / Relu / Gemm
  (transB=1) / Gemm (transB=0) / Reshape with an external int64 shape.
- mlp_odd.onnx + mlp_odd.bin: the same bytes one byte further into the file (explicit offsets,
  no f32 aligned in the mapping).
- mlp_bad_*.onnx: mlp_ext.onnx with W1's external_data entries broken in one way each.
- linear_ext.onnx + linear_ext.bin: MatMul [64, 96], Gemm transB=1 [47, 96], Gemm transB=0
  [47, 40], for streaming weight-only quantization; edges_ext.onnx + edges_ext.bin: MatMul
  [7, 1], [1, 65], Gemm transB=1 [63, 65], MatMul [63, 1] (one channel, depth 1, odd sizes).
- stream.onnx: the same network with W1 [1000, 1030], W2 [517, 1030], W3 [517, 999] in stream.bin,
  and rss.onnx: with three 4096 x 4096 weights in rss.bin (201 MB), both written by the tests
  themselves (the fixtures hold offsets and lengths only: each tensor in initializer order at the
  next multiple of 64 bytes).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "onnx_external")
CORPUS = os.path.join(ROOT, "fuzz", "corpus", "onnx")
F = TensorProto.FLOAT


def make(nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="q8-fixtures")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def io(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def write(m, name):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(m.SerializeToString())


def set_external(t, location, offset=None, length=None, raw=None):
    del t.external_data[:]
    t.data_location = TensorProto.EXTERNAL
    t.ClearField("raw_data")
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)


def mlp():
    rng = np.random.default_rng(7)
    w = lambda *s: (rng.standard_normal(s) * 0.25).astype(np.float32)
    inits = [numpy_helper.from_array(w(16, 32), "W1"), numpy_helper.from_array(w(32), "b1"),
             numpy_helper.from_array(w(8, 32), "W2"), numpy_helper.from_array(w(8), "b2"),
             numpy_helper.from_array(w(8, 6), "W3"), numpy_helper.from_array(w(6), "b3"),
             numpy_helper.from_array(np.array([-1, 6], dtype=np.int64), "shape")]
    nodes = [helper.make_node("MatMul", ["X", "W1"], ["h1"]), helper.make_node("Add", ["h1", "b1"], ["h2"]),
             helper.make_node("Relu", ["h2"], ["h3"]),
             helper.make_node("Gemm", ["h3", "W2", "b2"], ["h4"], transB=1),
             helper.make_node("Gemm", ["h4", "W3", "b3"], ["h5"]),
             helper.make_node("Reshape", ["h5", "shape"], ["Y"])]
    return make(nodes, [io("X", ["N", 16])], [io("Y", ["N", 6])], inits)


def linear(rows):
    """MatMul W1 [K0, K1], Gemm transB=1 W2 [K2, K1], Gemm transB=0 W3 [K2, K3] (rows = K0..K3)."""
    k0, k1, k2, k3 = rows
    nodes = [helper.make_node("MatMul", ["X", "W1"], ["h1"]), helper.make_node("Add", ["h1", "b1"], ["h2"]),
             helper.make_node("Relu", ["h2"], ["h3"]),
             helper.make_node("Gemm", ["h3", "W2", "b2"], ["h4"], transB=1),
             helper.make_node("Relu", ["h4"], ["h5"]),
             helper.make_node("Gemm", ["h5", "W3", "b3"], ["Y"])]
    shapes = [("W1", (k0, k1)), ("b1", (k1,)), ("W2", (k2, k1)), ("b2", (k2,)), ("W3", (k2, k3)), ("b3", (k3,))]
    return nodes, shapes


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    m = mlp()
    write(m, "mlp.onnx")
    ext = onnx.ModelProto()
    ext.CopyFrom(m)
    onnx.save_model(ext, os.path.join(OUT, "mlp_ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="mlp_ext.bin", size_threshold=0)
    ext = onnx.load(os.path.join(OUT, "mlp_ext.onnx"), load_external_data=False)
    with open(os.path.join(OUT, "mlp_ext.bin"), "rb") as f:
        data = f.read()

    # One byte further: every offset odd, every length given.
    with open(os.path.join(OUT, "mlp_odd.bin"), "wb") as f:
        f.write(b"\x00" + data)
    odd = onnx.ModelProto()
    odd.CopyFrom(ext)
    for t in odd.graph.initializer:
        entries = {e.key: e.value for e in t.external_data}
        set_external(t, "mlp_odd.bin", int(entries.get("offset", 0)) + 1, entries["length"])
    write(odd, "mlp_odd.onnx")

    w1 = next(t for t in ext.graph.initializer if t.name == "W1")
    w1_offset = int({e.key: e.value for e in w1.external_data}.get("offset", 0))
    bad = {
        "absolute": dict(location="/etc/passwd"),
        "dotdot": dict(location="sub/../mlp_ext.bin"),
        "missing": dict(location="missing.bin"),
        "directory": dict(location="."),
        "offset_past_end": dict(location="mlp_ext.bin", offset=len(data) + 1),
        "too_short": dict(location="mlp_ext.bin", offset=len(data) - 100),
        "wrong_length": dict(location="mlp_ext.bin", offset=w1_offset, length=16 * 32 * 4 - 4),
        "length_past_end": dict(location="mlp_ext.bin", offset=w1_offset + 4, length=len(data)),
        "bad_offset": dict(location="mlp_ext.bin", offset="12a"),
        "negative_offset": dict(location="mlp_ext.bin", offset=-4),
        "empty_location": dict(location=""),
    }
    for name, entries in bad.items():
        b = onnx.ModelProto()
        b.CopyFrom(ext)
        t = next(t for t in b.graph.initializer if t.name == "W1")
        set_external(t, **entries)
        write(b, "mlp_bad_%s.onnx" % name)
    b = onnx.ModelProto()
    b.CopyFrom(ext)
    t = next(t for t in b.graph.initializer if t.name == "W1")
    del t.external_data[:]
    e = t.external_data.add()
    e.key, e.value = "offset", "0"
    write(b, "mlp_bad_no_location.onnx")
    # Bytes cannot reach external data: a seed for the bytes fuzzer.
    with open(os.path.join(CORPUS, "external_data.onnx"), "wb") as f:
        f.write(ext.SerializeToString())

    # Streaming quantization: a small model, all external.
    rng = np.random.default_rng(11)
    nodes, shapes = linear((64, 96, 47, 40))
    inits = [numpy_helper.from_array((rng.standard_normal(s) * 0.1).astype(np.float32), n) for n, s in shapes]
    lin = make(nodes, [io("X", ["N", 64])], [io("Y", ["N", 40])], inits)
    onnx.save_model(lin, os.path.join(OUT, "linear_ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="linear_ext.bin", size_threshold=0)

    # Edge shapes: one output channel, depth 1, odd sizes around 64.
    rng = np.random.default_rng(13)
    w = lambda *sh: (rng.standard_normal(sh) * 0.3).astype(np.float32)
    inits = [numpy_helper.from_array(w(7, 1), "E1"), numpy_helper.from_array(w(1, 65), "E2"),
             numpy_helper.from_array(w(63, 65), "E3"), numpy_helper.from_array(w(63, 1), "E4")]
    nodes = [helper.make_node("MatMul", ["X", "E1"], ["e1"]), helper.make_node("MatMul", ["e1", "E2"], ["e2"]),
             helper.make_node("Gemm", ["e2", "E3"], ["e3"], transB=1), helper.make_node("MatMul", ["e3", "E4"], ["Y"])]
    edges = make(nodes, [io("X", ["N", 7])], [io("Y", ["N", 1])], inits)
    onnx.save_model(edges, os.path.join(OUT, "edges_ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="edges_ext.bin", size_threshold=0)

    # Models whose weights the tests write, at 64-byte aligned offsets.
    for name, rows in (("stream", (1000, 1030, 517, 999)), ("rss", (4096, 4096, 4096, 4096))):
        nodes, shapes = linear(rows)
        inits, offset = [], 0
        for n, s in shapes:
            t = TensorProto()
            t.name, t.data_type = n, F
            t.dims.extend(s)
            size = int(np.prod(s)) * 4
            set_external(t, name + ".bin", offset, size)
            inits.append(t)
            offset += (size + 63) // 64 * 64
        graph = helper.make_graph(nodes, "g", [io("X", ["N", rows[0]])], [io("Y", ["N", rows[3]])], inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="q8-fixtures")
        m.ir_version = 8
        write(m, name + ".onnx")

if __name__ == "__main__":
    main()
