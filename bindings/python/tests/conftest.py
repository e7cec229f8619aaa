"""Shared fixtures: the bundled digits data and models (Q8_TEST_DATA, set by meson test)."""
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def data_dir():
    return os.environ.get("Q8_TEST_DATA") or os.path.join(ROOT, "tests", "data")


class Digits:
    """sklearn digits as tests/test_ptq.c reads them: pixels / 16, rows i % 4 == 0 held out."""

    def __init__(self, path):
        with gzip.open(path, "rt") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.float64)
        assert rows.shape == (1797, 65)
        x = (rows[:, :64] / 16.0).astype(np.float32)
        y = rows[:, 64].astype(np.int64)
        test = np.arange(len(rows)) % 4 == 0
        self.x_test, self.y_test = x[test], y[test]
        self.x_train, self.y_train = x[~test], y[~test]
        assert len(self.x_test) == 450


@pytest.fixture(scope="session")
def digits():
    return Digits(os.path.join(data_dir(), "digits.csv.gz"))


@pytest.fixture(scope="session")
def models_dir():
    return os.path.join(data_dir(), "models")


@pytest.fixture(scope="session")
def fp32_accuracy(models_dir):
    """Held-out FP32 accuracy in percent, per model ("mlp", "cnn")."""
    with open(os.path.join(models_dir, "fp32_accuracy.json")) as f:
        info = json.load(f)
    return {name: 100.0 * m["correct"] / m["test_rows"] for name, m in info["models"].items()}


def accuracy(logits, labels):
    return 100.0 * float(np.mean(np.argmax(logits, axis=1) == labels))


def skip_unless_torch_loads():
    """Skips the calling test module when torch cannot be imported under the ASan preload (it may
    not load at all, or crash the process: found out in a separate process)."""
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):
        return
    probe = subprocess.run([sys.executable, "-c", "import torch, onnx"], capture_output=True, text=True)
    if probe.returncode != 0:
        tail = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
        pytest.skip(f"torch cannot be imported under the ASan preload (exit {probe.returncode}: {tail})",
                    allow_module_level=True)
