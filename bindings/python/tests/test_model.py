"""Whole models on the bundled digits data: load, quantize (static with calibration rows, and
dynamic), run, keep accuracy, save and load back bit for bit."""
import os

import numpy as np
import pytest

import q8
from conftest import accuracy

SHAPES = {"mlp": (-1, 64), "cnn": (-1, 1, 8, 8)}


def run_all(model, x, batch=64):
    """Logits of every row: sessions of `batch` rows, and one for the remainder."""
    out = []
    sessions = {}
    try:
        for first in range(0, len(x), batch):
            rows = x[first:first + batch]
            if len(rows) not in sessions:
                sessions[len(rows)] = q8.Session(model, len(rows))
            (logits,) = sessions[len(rows)].run(rows)
            out.append(logits)
    finally:
        for s in sessions.values():
            s.close()
    return np.concatenate(out)


def calibration(digits, shape):
    return [digits.x_train[i:i + 64].reshape(shape) for i in range(0, len(digits.x_train), 64)]


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_static_int8_keeps_accuracy(name, digits, models_dir, fp32_accuracy, tmp_path):
    shape = SHAPES[name]
    x = digits.x_test.reshape(shape)
    with q8.Model.load_onnx(os.path.join(models_dir, f"digits_{name}.onnx")) as fp32:
        assert fp32.inputs == ["input"] and fp32.outputs == ["logits"]
        acc32 = accuracy(run_all(fp32, x), digits.y_test)
        assert acc32 == pytest.approx(fp32_accuracy[name], abs=1e-9)
        with fp32.quantize("static", calibration=calibration(digits, shape)) as int8:
            logits = run_all(int8, x)
            acc8 = accuracy(logits, digits.y_test)
            print(f"\n{name}: FP32 {acc32:.2f} % -> static INT8 {acc8:.2f} % on {len(x)} held-out rows; "
                  f"weights {fp32.weight_bytes} -> {int8.weight_bytes} bytes")
            assert abs(acc8 - acc32) <= 1.0
            assert int8.weight_bytes < fp32.weight_bytes / 3
            assert "QLinear" in int8.describe() or "QGemm" in int8.describe()
            path = tmp_path / f"{name}.q8"
            int8.save(path)
            with q8.Model.load(path) as back:
                np.testing.assert_array_equal(run_all(back, x), logits)
            with q8.Model.load_bytes(path.read_bytes()) as back:
                np.testing.assert_array_equal(run_all(back, x[:64]), logits[:64])


def test_dynamic_and_weight_only_modes(digits, models_dir, fp32_accuracy):
    path = os.path.join(models_dir, "digits_mlp.onnx")
    with open(path, "rb") as f:
        data = f.read()
    with q8.Model.load_onnx_bytes(data) as fp32:
        for mode in ("dynamic", q8.PtqMode.WEIGHT_ONLY):
            with fp32.quantize(mode) as q:
                acc = accuracy(run_all(q, digits.x_test), digits.y_test)
                print(f"\nmlp {getattr(mode, 'name', mode).lower()}: {acc:.2f} %")
                assert abs(acc - fp32_accuracy["mlp"]) <= 1.0


def test_intermediate_tensors(digits, models_dir):
    with q8.Model.load_onnx(os.path.join(models_dir, "digits_mlp.onnx")) as m, q8.Session(m, 3) as s:
        s.run(digits.x_test[:3])
        hidden = s.tensor("/1/Relu_output_0")
        assert hidden.shape == (3, 256) and (hidden >= 0).all()
        with s.tensor_q8("logits") as t:
            assert t.dtype is q8.DType.F32
        assert "nodes=5" in repr(m)
