"""Quantize, dequantize, requantize and observers against numpy references of the documented
formulas (q = clamp(round_half_to_even(x / scale) + zero_point), x = (q - zero_point) * scale)."""
import numpy as np
import pytest

import q8

RANGES = {np.int8: (-128, 127), np.uint8: (0, 255)}


def ref_quantize(x, scale, zero_point, dtype, qmin=None):
    """ONNX QuantizeLinear in numpy: one f32 division, round half to even, saturate."""
    lo, hi = RANGES[dtype]
    lo = lo if qmin is None else qmin
    x = np.asarray(x, np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.rint(x / np.float32(scale)).astype(np.float64) + zero_point
    v = np.where(np.isnan(x), zero_point, v)
    return np.clip(v, lo, hi).astype(dtype)


def ref_dequantize(q, scale, zero_point):
    return (q.astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)


def test_quantize_explicit_params_rounds_half_to_even():
    x = np.float32([0.0, 0.125, 0.375, 0.625, -0.125, -0.375, 1e6, -1e6, np.nan, np.inf, -np.inf, 0.3])
    for dtype, zp in ((np.int8, 0), (np.int8, -5), (np.uint8, 128)):
        with q8.quantize(x, scale=0.25, zero_point=zp, dtype=dtype) as q:
            assert q.dtype.numpy == np.dtype(dtype)
            assert q.qparams == q8.QParams(0.25, zp)
            got = q.numpy()
            np.testing.assert_array_equal(got, ref_quantize(x, 0.25, zp, dtype))
    # halves: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2
    with q8.quantize(np.float32([0.125, 0.375, 0.625, -0.125, -0.375]), scale=0.25, dtype="s8") as q:
        assert q.numpy().tolist() == [0, 2, 2, 0, -2]


@pytest.mark.parametrize("scheme,dtype", [("asymmetric_u8", np.uint8), ("asymmetric_s8", np.int8),
                                          ("symmetric_narrow", np.int8), ("symmetric", np.int8)])
def test_quantize_from_range_matches_reference(scheme, dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((16, 33)) * 3 + 0.5).astype(np.float32)
    with q8.quantize(x, scheme) as q:
        p = q8.qparams_from_range(x.min(), x.max(), scheme)
        assert q.qparams == p
        qmin = -127 if scheme == "symmetric_narrow" else None
        np.testing.assert_array_equal(q.numpy(), ref_quantize(x, p.scale, p.zero_point, dtype, qmin))
        np.testing.assert_array_equal(q8.dequantize(q), ref_dequantize(q.numpy(), p.scale, p.zero_point))
        assert np.abs(q.dequantize() - x).max() <= p.scale / 2 * 1.0001


def test_qparams_from_range_formulas():
    p = q8.qparams_from_range(-1.0, 3.0, q8.Scheme.ASYMMETRIC_U8)
    assert p.scale == np.float32(4.0 / 255) and p.zero_point == 64  # round(1 / (4/255)) = 63.75 -> 64
    p = q8.qparams_from_range(-2.0, 1.0, "symmetric_narrow")
    assert p.scale == np.float32(2.0 / 127) and p.zero_point == 0
    assert q8.qparams_from_range(0.0, 0.0, "asymmetric_u8") == q8.QParams(1.0, 0)


def test_quantize_per_axis():
    rng = np.random.default_rng(2)
    w = (rng.standard_normal((4, 10)) * np.float32([[0.1], [1.0], [10.0], [0.01]])).astype(np.float32)
    with q8.quantize(w, "symmetric_narrow", axis=0) as q:
        p = q.qparams
        assert p.axis == 0 and p.scale.shape == (4,)
        for r in range(4):
            pr = q8.qparams_from_range(w[r].min(), w[r].max(), "symmetric_narrow")
            assert p.scale[r] == np.float32(pr.scale)
            np.testing.assert_array_equal(q.numpy()[r], ref_quantize(w[r], pr.scale, 0, np.int8, -127))
        deq = q8.dequantize(q)
        np.testing.assert_array_equal(deq, ref_dequantize(q.numpy(), p.scale[:, None], 0))


def test_requantize_is_quantize_of_dequantize():
    x = np.linspace(-3, 3, 50, dtype=np.float32)
    with q8.quantize(x, scale=0.05, zero_point=3, dtype="s8") as q, q8.requantize(q, 0.11, 130, "u8") as r:
        expected = ref_quantize(ref_dequantize(q.numpy(), 0.05, 3), 0.11, 130, np.uint8)
        np.testing.assert_array_equal(r.numpy(), expected)
        assert r.qparams == q8.QParams(np.float32(0.11), 130)


def test_observer_minmax_over_batches():
    a = np.float32([[0.5, -1.0], [2.0, 0.25]])
    b = np.float32([[3.0, -0.5], [0.0, 1.0]])
    with q8.Observer("minmax", "asymmetric_u8") as obs:
        obs.update(a)
        obs.update(b)
        assert obs.channels == 1
        assert obs.range() == (-1.0, 3.0)
        assert obs.qparams == q8.qparams_from_range(-1.0, 3.0, "asymmetric_u8")
        with obs.quantize(b) as q:
            p = obs.qparams
            np.testing.assert_array_equal(q.numpy(), ref_quantize(b, p.scale, p.zero_point, np.uint8))
        obs.reset()
        with pytest.raises(q8.StateError):
            obs.channels


def test_observer_per_channel_apply():
    x = np.float32([[1.0, -2.0, 0.5], [4.0, 1.0, -8.0]])
    with q8.Observer(q8.ObserverKind.MINMAX, q8.Scheme.SYMMETRIC_NARROW, axis=0) as obs:
        obs.update(x)
        lo, hi = obs.range()
        np.testing.assert_array_equal(lo, [-2.0, -8.0])
        np.testing.assert_array_equal(hi, [1.0, 4.0])
        np.testing.assert_array_equal(obs.qparams.scale, np.float32([2.0, 8.0]) / np.float32(127))
        with q8.Tensor(x.shape, "s8") as q:
            obs.apply(q)
            assert q.qparams.axis == 0
            assert "axis=0" in repr(obs)


def test_percentile_observer_clips_outliers():
    x = np.concatenate([np.linspace(-1, 1, 10000), [1000.0]]).astype(np.float32)
    with q8.Observer("percentile", "symmetric_narrow", percentile=99.9) as obs:
        obs.update(x)
        assert obs.range()[1] < 10.0  # the outlier is not the range
