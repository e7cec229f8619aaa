"""Quantize a Linear layer's weights and activations with q8 and multiply them in INT8.

    PYTHONPATH=build/bindings/python LD_LIBRARY_PATH=build/src python3 examples/python/quantize_and_gemm.py
"""
import numpy as np

import q8

rng = np.random.default_rng(0)
x = rng.standard_normal((32, 256)).astype(np.float32)          # activations [batch, in]
w = (rng.standard_normal((128, 256)) * 0.05).astype(np.float32)  # weights [out, in]

# Weights: s8, symmetric, one scale per output channel. Activations: u8 from their own range.
with q8.quantize(w, "symmetric_narrow", axis=0) as wq, q8.quantize(x, "asymmetric_u8") as xq:
    print(wq)
    print(xq)
    w8, sw = wq.numpy(), wq.qparams.scale
    x8, sx, zx = xq.numpy(), xq.qparams.scale, xq.qparams.zero_point

# u8 x s8 -> int32 accumulators, dequantized in the GEMM's epilogue: y = acc * (sx * sw[o])
y = q8.gemm_u8s8(x8, w8, a_zero_point=zx, b_transposed=True, scales=sx * sw)
ref = x @ w.T
print(f"INT8 GEMM {x8.shape} x {w8.shape}^T: max |error| {np.abs(y - ref).max():.4f} "
      f"(outputs up to {np.abs(ref).max():.2f})")
assert np.abs(y - ref).max() < 0.02 * np.abs(ref).max()

# The integer accumulators, exactly (A - zx) B^T
acc = q8.gemm_u8s8(x8, w8, a_zero_point=zx, b_transposed=True)
assert np.array_equal(acc, (x8.astype(np.int64) - zx) @ w8.T.astype(np.int64))

# Weights packed once for many batches; the result lands in the array passed as out=
out = np.empty((32, 128), np.float32)
with q8.PackedMatrix(w8, b_transposed=True) as packed:
    packed.multiply(x8, a_zero_point=zx, scales=sx * sw, out=out)
assert np.array_equal(out, y)

# The same layer as one object: PyTorch-style dynamic quantization (input range per call)
with q8.DynamicLinear(w) as layer:
    y2 = layer(x)
    print(f"DynamicLinear: {layer.weight_bytes} weight bytes vs {w.nbytes} in FP32, "
          f"max |error| {np.abs(y2 - ref).max():.4f}")

print("live q8 handles:", q8.live_handles())
assert q8.live_handles() == 0
