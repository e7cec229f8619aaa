"""INT8 GEMM (u8s8, s8s8, packed, dequantizing epilogue) bit-exact against an int64 numpy
reference, DynamicLinear against its defining formula, and proof that outputs are written in place."""
import array

import numpy as np
import pytest

import q8

SIZES = [0, 1, 7, 63, 65]


def ref_gemm(a, b, a_zp, b_zp, bias=None):
    c = (a.astype(np.int64) - a_zp) @ (b.astype(np.int64) - b_zp)
    if bias is not None:
        c = c + bias
    return c


def operands(rng, m, n, k, a_dtype):
    lo, hi = (0, 256) if a_dtype == np.uint8 else (-128, 128)
    a = rng.integers(lo, hi, (m, k)).astype(a_dtype)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    return a, b


@pytest.mark.parametrize("m", SIZES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", SIZES)
def test_u8s8_bit_exact(m, n, k):
    rng = np.random.default_rng(m * 10000 + n * 100 + k)
    a, b = operands(rng, m, n, k, np.uint8)
    bias = rng.integers(-1000, 1000, n).astype(np.int32)
    c = q8.gemm_u8s8(a, b, a_zero_point=128, b_zero_point=3, bias=bias)
    assert c.dtype == np.int32 and c.shape == (m, n)
    np.testing.assert_array_equal(c, ref_gemm(a, b, 128, 3, bias))
    # B stored [n, k] (a Linear weight)
    ct = q8.gemm_u8s8(a, np.ascontiguousarray(b.T), a_zero_point=7, b_transposed=True)
    np.testing.assert_array_equal(ct, ref_gemm(a, b, 7, 0))


@pytest.mark.parametrize("m,n,k", [(s, 65 - s, 63) for s in SIZES] + [(65, 63, 1), (7, 1, 65)])
def test_s8s8_bit_exact(m, n, k):
    rng = np.random.default_rng(m + 7 * n + 31 * k)
    a, b = operands(rng, m, n, k, np.int8)
    np.testing.assert_array_equal(q8.gemm_s8s8(a, b, a_zero_point=-4, b_zero_point=-2),
                                  ref_gemm(a, b, -4, -2))
    np.testing.assert_array_equal(q8.gemm_s8s8(a, np.ascontiguousarray(b.T), b_transposed=True),
                                  ref_gemm(a, b, 0, 0))


def test_extreme_values():
    # every product at its largest magnitude: (255 - 0) * (-128 - 127) summed over k
    k = 300
    a = np.full((2, k), 255, np.uint8)
    b = np.full((k, 3), -128, np.int8)
    np.testing.assert_array_equal(q8.gemm_u8s8(a, b, b_zero_point=127), ref_gemm(a, b, 0, 127))


def test_dequantizing_epilogue():
    rng = np.random.default_rng(5)
    a, b = operands(rng, 9, 17, 40, np.uint8)
    bias = rng.integers(-500, 500, 17).astype(np.int32)
    scales = rng.uniform(1e-4, 1e-2, 17).astype(np.float32)
    c = q8.gemm_u8s8(a, b, a_zero_point=100, bias=bias, scales=scales)
    assert c.dtype == np.float32
    acc = ref_gemm(a, b, 100, 0, bias)
    np.testing.assert_array_equal(c, acc.astype(np.float32) * scales)  # exact int32 -> f32, one multiply
    c1 = q8.gemm_u8s8(a, b, a_zero_point=100, scales=0.5)
    np.testing.assert_array_equal(c1, ref_gemm(a, b, 100, 0).astype(np.float32) * np.float32(0.5))


@pytest.mark.parametrize("transposed", [False, True])
def test_packed_matrix(transposed):
    rng = np.random.default_rng(6)
    a, b = operands(rng, 33, 65, 63, np.uint8)
    stored = np.ascontiguousarray(b.T) if transposed else b
    zps = rng.integers(-3, 4, 65).astype(np.int32)
    with q8.PackedMatrix(stored, b_transposed=transposed, zero_points=zps) as p:
        assert (p.k, p.n) == (63, 65)
        for m in (0, 1, 33):
            c = p.multiply(a[:m], a_zero_point=5)
            ref = (a[:m].astype(np.int64) - 5) @ (b.astype(np.int64) - zps)
            np.testing.assert_array_equal(c, ref)
        f = p.multiply(a, a_zero_point=5, scales=np.float32(0.25))
        np.testing.assert_array_equal(f, ((a.astype(np.int64) - 5) @ (b.astype(np.int64) - zps)).astype(np.float32) * np.float32(0.25))


def test_outputs_are_written_in_place():
    rng = np.random.default_rng(7)
    a, b = operands(rng, 4, 5, 6, np.uint8)
    out = np.full((4, 5), -1, np.int32)
    result = q8.gemm_u8s8(a, b, out=out)
    assert result is out
    np.testing.assert_array_equal(out, ref_gemm(a, b, 0, 0))
    # a row block of a larger array: q8 writes through the view into its base
    big = np.zeros((10, 5), np.int32)
    q8.gemm_u8s8(a, b, out=big[3:7])
    np.testing.assert_array_equal(big[3:7], ref_gemm(a, b, 0, 0))
    assert not big[:3].any() and not big[7:].any()
    # the raw layer: any writable buffer of int32 items is the output itself
    raw = bytearray(4 * 5 * 4)
    q8.capi.gemm_u8s8_s32(4, 5, 6, a, 0, b, False, 0, np.empty(0, np.int32), memoryview(raw).cast("i"))
    np.testing.assert_array_equal(np.frombuffer(raw, np.int32).reshape(4, 5), ref_gemm(a, b, 0, 0))
    # inputs are read in place from bytes, memoryview and array.array as well
    out2 = array.array("i", bytes(len(raw)))
    q8.capi.gemm_u8s8_s32(4, 5, 6, a.tobytes(), 0, memoryview(b.tobytes()).cast("b"), False, 0,
                          array.array("i"), out2)
    assert out2.tobytes() == raw


def test_gemm_f32_reference():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((7, 13)).astype(np.float32)
    b = rng.standard_normal((13, 5)).astype(np.float32)
    np.testing.assert_allclose(q8.gemm_f32(a, b), a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(q8.gemm_f32(a, np.ascontiguousarray(b.T), b_transposed=True), a @ b,
                               rtol=1e-5, atol=1e-5)


def test_dynamic_quantize_u8():
    x = np.float32([[-1.0, 0.5], [2.0, 3.0]])
    q, p = q8.dynamic_quantize_u8(x)
    assert q.shape == x.shape and q.dtype == np.uint8
    assert p == q8.qparams_from_range(-1.0, 3.0, "asymmetric_u8")
    expected = np.clip(np.rint(x / np.float32(p.scale)) + p.zero_point, 0, 255)
    np.testing.assert_array_equal(q, expected)


def test_dynamic_linear_matches_its_formula():
    rng = np.random.default_rng(9)
    w = rng.standard_normal((10, 32)).astype(np.float32)
    bias = rng.standard_normal(10).astype(np.float32)
    x = rng.standard_normal((3, 4, 32)).astype(np.float32)  # any leading shape
    with q8.DynamicLinear(w, bias) as layer:
        assert (layer.in_features, layer.out_features) == (32, 10)
        assert layer.weight_bytes == 10 * 32 + 4 * (10 + 10)
        wq, sw = layer.int8_weight(), layer.weight_scales()
        np.testing.assert_array_equal(sw, np.abs(w).max(axis=1) / np.float32(127))
        assert np.abs(wq).max() <= 127
        y = layer(x)
        assert y.shape == (3, 4, 10)
        xq, px = q8.dynamic_quantize_u8(x.reshape(12, 32))
        acc = (xq.astype(np.int64) - px.zero_point) @ wq.astype(np.int64).T
        expected = acc.astype(np.float32) * (np.float32(px.scale) * sw) + bias
        np.testing.assert_array_equal(y.reshape(12, 10), expected)
        ref = x @ w.T + bias
        assert np.abs(y - ref).max() <= 0.05 * np.abs(ref).max()
