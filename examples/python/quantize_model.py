"""Quantize the bundled digits CNN (static INT8, calibrated on training rows), save it as .q8,
load it back and compare its held-out accuracy with FP32.

    PYTHONPATH=build/bindings/python LD_LIBRARY_PATH=build/src python3 examples/python/quantize_model.py
"""
import gzip
import os
import tempfile

import numpy as np

import q8

data = os.environ.get("Q8_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data")
with gzip.open(os.path.join(data, "digits.csv.gz"), "rt") as f:
    rows = np.loadtxt(f, delimiter=",")
x = (rows[:, :64] / 16).astype(np.float32).reshape(-1, 1, 8, 8)  # the model takes pixels / 16
y = rows[:, 64].astype(int)
held_out = np.arange(len(rows)) % 4 == 0


def accuracy(model, batch=64):
    """Held-out accuracy in %, one session per batch size."""
    xs, ys = x[held_out], y[held_out]
    correct = 0
    for first in range(0, len(xs), batch):
        rows_ = xs[first:first + batch]
        with q8.Session(model, len(rows_)) as session:
            (logits,) = session.run(rows_)
        correct += int((logits.argmax(axis=1) == ys[first:first + batch]).sum())
    return 100.0 * correct / len(xs)


with q8.Model.load_onnx(os.path.join(data, "models", "digits_cnn.onnx")) as fp32:
    train = x[~held_out]
    calibration = [train[i:i + 64] for i in range(0, len(train), 64)]
    with fp32.quantize("static", calibration=calibration) as int8, tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digits_cnn.q8")
        int8.save(path)
        with q8.Model.load(path) as loaded:
            acc32, acc8 = accuracy(fp32), accuracy(loaded)
            print(f"FP32 {acc32:.2f} % -> INT8 {acc8:.2f} % on {held_out.sum()} held-out rows")
            print(f"weights {fp32.weight_bytes} -> {loaded.weight_bytes} bytes; "
                  f".q8 file {os.path.getsize(path)} bytes")
            print(loaded.describe().splitlines()[0])
            assert abs(acc8 - acc32) <= 1.0

print("live q8 handles:", q8.live_handles())
assert q8.live_handles() == 0
