"""Scaling out from Python: exact calibration merges, partition plans and pipelines, and streaming
checkpoint quantization (include/q8/calibration.h, partition.h, checkpoint.h)."""
import json
import os
import struct

import numpy as np
import pytest

import q8


@pytest.fixture
def cnn(models_dir):
    with q8.Model.load_onnx(os.path.join(models_dir, "digits_cnn.onnx")) as m:
        yield m


def batches(digits, n=4, rows=64):
    return [np.ascontiguousarray(digits.x_train[i * rows:(i + 1) * rows].reshape(-1, 1, 8, 8)) for i in range(n)]


def same_model(a: q8.Model, b: q8.Model, x):
    with a.session(len(x)) as sa, b.session(len(x)) as sb:
        (ya,), (yb,) = sa.run(x), sb.run(x)
    assert ya.tobytes() == yb.tobytes()


@pytest.mark.parametrize("observer", ["minmax", "entropy"])
def test_merged_calibrations_quantize_like_one(cnn, digits, observer):
    data = batches(digits)
    x = np.ascontiguousarray(digits.x_test.reshape(-1, 1, 8, 8))
    with cnn.calibrate(data[:1], observer=observer) as a, cnn.calibrate(data[1:], observer=observer) as b:
        assert a.activations and a.activations == b.activations
        a.merge(b)
        with cnn.quantize_calibrated(a, observer=observer) as merged, \
                cnn.quantize("static", calibration=data, observer=observer) as whole:
            same_model(merged, whole, x)
    with cnn.calibrate(data, observer="minmax") as c, pytest.raises(q8.InvalidArgumentError, match="observer"):
        cnn.quantize_calibrated(c, observer="entropy")


def test_calibration_bytes_travel(cnn, digits):
    """What an MPI rank sends: a piece's bytes, loaded elsewhere and merged, quantize like one call."""
    data = batches(digits)
    x = np.ascontiguousarray(digits.x_test.reshape(-1, 1, 8, 8))
    with cnn.calibrate(data[:2], observer="entropy") as a, cnn.calibrate(data[2:], observer="entropy") as b:
        sent = b.to_bytes()
        assert isinstance(sent, bytes) and len(sent) > 0
        with q8.Calibration.from_bytes(sent) as received:
            assert received.activations == b.activations
            assert received.to_bytes() == sent
            a.merge(received)
        with cnn.quantize_calibrated(a, observer="entropy") as merged, \
                cnn.quantize("static", calibration=data, observer="entropy") as whole:
            same_model(merged, whole, x)
    with pytest.raises(q8.FormatError):
        q8.Calibration.from_bytes(sent[:-3])
    with pytest.raises(q8.FormatError):
        q8.Calibration.from_bytes(b"not a calibration")


def test_partitioned_pipeline_equals_the_whole_model(cnn, digits):
    x = np.ascontiguousarray(digits.x_test.reshape(-1, 1, 8, 8))
    with cnn.quantize("static", calibration=batches(digits)) as int8:
        with int8.session(len(x)) as s:
            (want,) = s.run(x)
        with q8.PartitionPlan(int8, count=2, balance="flops") as plan:
            assert len(plan) == 2
            first, second = plan.info(0), plan.info(1)
            assert first["first_node"] == 0 and second["first_node"] == first["nodes"]
            assert first["outputs"] == second["inputs"]
            saved = json.loads(plan.describe(json=True))
            assert len(saved["partitions"]) == 2
            for micro_batch, replicas, serial in [(0, 1, False), (7, 1, True), (64, 2, False), (7, 2, True)]:
                with q8.Pipeline(plan, len(x), micro_batch=micro_batch, replicas=replicas, threads=2,
                                 serial_stages=serial) as p:
                    (got,) = p.run(x)
                assert got.tobytes() == want.tobytes(), (micro_batch, replicas, serial)
            # Partition by partition through plain sessions: the same logits.
            with plan.model(0) as m0, plan.model(1) as m1, m0.session(len(x)) as s0, m1.session(len(x)) as s1:
                mid = s0.run(x)
                (chained,) = s1.run(*mid)
            assert chained.tobytes() == want.tobytes()
    with pytest.raises(q8.ShapeError):
        q8.PartitionPlan(cnn, count=10_000)


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


@pytest.mark.parametrize("weights", ["int8_per_channel", "int4_grouped"])
def test_checkpoint_quantize(tmp_path, weights):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((96, 130)).astype(np.float32)
    norm = rng.standard_normal(130).astype(np.float32)
    src, dst = tmp_path / "m.safetensors", tmp_path / "m.q8"
    write_safetensors(src, {"layer.weight": w, "layer.norm": norm})
    report = q8.checkpoint_quantize(src, dst, weights=weights, group_size=32, max_memory=16 << 20, min_elements=1)
    assert report["tensors"] == 2 and report["quantized_tensors"] == 1
    assert report["output_bytes"] == os.path.getsize(dst)
    with q8.Model.load(dst) as m, m.session(1) as s:
        names = m.outputs
        outs = dict(zip(names, s.run()))
    assert outs["layer.norm"].tobytes() == norm.tobytes()
    err = np.abs(outs["layer.weight"] - w).max(axis=1)
    step = np.abs(w).max(axis=1) / 127 if weights == "int8_per_channel" else (w.max() - w.min()) / 15
    assert np.all(err <= step * 0.5 + 1e-6)
    with pytest.raises(q8.FormatError, match="bad.safetensors"):
        (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
        q8.checkpoint_quantize(tmp_path / "bad.safetensors", tmp_path / "bad.q8")
    assert not (tmp_path / "bad.q8").exists()
