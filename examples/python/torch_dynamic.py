"""Dynamic INT8 quantization of a PyTorch model with q8.torch: every nn.Linear runs q8's INT8
GEMM on INT8 weights. The model is the bundled digits MLP, rebuilt in torch from its ONNX file.

    PYTHONPATH=build/bindings/python LD_LIBRARY_PATH=build/src python3 examples/python/torch_dynamic.py
"""
import gzip
import os
import sys

import numpy as np

try:
    import onnx
    import torch
    from onnx import numpy_helper
    from torch import nn
except ImportError as e:  # exit status 77: meson counts the example as skipped, visibly
    print(f"skipped: {e} (apt-get install python3-torch python3-onnx)")
    sys.exit(77)

import q8.torch

data = os.environ.get("Q8_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data")
with gzip.open(os.path.join(data, "digits.csv.gz"), "rt") as f:
    rows = np.loadtxt(f, delimiter=",")
held_out = np.arange(len(rows)) % 4 == 0
x = torch.from_numpy((rows[held_out, :64] / 16).astype(np.float32))
y = torch.from_numpy(rows[held_out, 64].astype(np.int64))

# The MLP's ONNX initializers are named like this Sequential's parameters ("0.weight", ...).
model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
weights = onnx.load(os.path.join(data, "models", "digits_mlp.onnx")).graph.initializer
model.load_state_dict({i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in weights})
model.eval()

qmodel = q8.torch.quantize_dynamic(model)  # a copy with q8.torch.Linear layers
print(qmodel)
with torch.no_grad():
    fp32_logits, int8_logits = model(x), qmodel(x)
acc32 = (fp32_logits.argmax(1) == y).float().mean().item() * 100
acc8 = (int8_logits.argmax(1) == y).float().mean().item() * 100
int8_bytes, fp32_bytes = q8.torch.weight_bytes(qmodel)
print(f"accuracy FP32 {acc32:.2f} % -> q8 INT8 {acc8:.2f} %, max |logit diff| "
      f"{(int8_logits - fp32_logits).abs().max().item():.4f}")
print(f"weights {int8_bytes} bytes in INT8 vs {fp32_bytes} in FP32 ({int8_bytes / fp32_bytes:.2f}x)")
assert abs(acc8 - acc32) <= 0.5
