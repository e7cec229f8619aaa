"""q8.fixed against numpy references of the CMSIS-DSP / TFLite definitions."""
import math

import numpy as np
import pytest

import q8.fixed as fx

FORMATS = {"q7": (np.int8, 7), "q15": (np.int16, 15), "q31": (np.int32, 31)}


def saturate(v, dtype):
    info = np.iinfo(dtype)
    return np.clip(v, info.min, info.max).astype(dtype)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_from_and_to_f32(fmt):
    dtype, bits = FORMATS[fmt]
    x = np.float32([0.0, 0.5, -0.5, 0.25, -1.0, 0.999, 1.5, -2.0, 2.0 ** -(bits + 1), 3 * 2.0 ** -(bits + 1),
                    np.nan, np.inf, -np.inf])
    scaled = x.astype(np.float64) * 2.0 ** bits
    finite = np.where(np.isnan(scaled), 0.0, scaled)
    cases = {"nearest_even": np.rint(finite), "toward_zero": np.trunc(finite),
             "nearest_away": np.sign(finite) * np.floor(np.abs(finite) + 0.5)}
    for rounding, expected in cases.items():
        q = fx.from_f32(x, fmt, rounding=rounding)
        assert q.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(q, saturate(expected, dtype), err_msg=rounding)
    q = fx.from_f32(x[:8], fmt)
    back = fx.to_f32(q)
    np.testing.assert_array_equal(back, (q.astype(np.float64) / 2.0 ** bits).astype(np.float32))


def test_qmn_and_out():
    x = np.float32([1.5, -3.25, 100.0])
    out = np.empty(3, np.int16)
    assert fx.from_f32(x, "q15", frac_bits=12, out=out) is out  # Q3.12
    np.testing.assert_array_equal(out, [6144, -13312, 32767])
    np.testing.assert_array_equal(fx.to_f32(out, frac_bits=12), np.float32([1.5, -3.25, 32767 / 4096]))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_add_and_mult(fmt):
    dtype, bits = FORMATS[fmt]
    info = np.iinfo(dtype)
    rng = np.random.default_rng(bits)
    a = rng.integers(info.min, info.max, 1000, endpoint=True).astype(dtype)
    b = rng.integers(info.min, info.max, 1000, endpoint=True).astype(dtype)
    a[:3] = [info.min, info.max, info.min]
    b[:3] = [info.min, info.max, -1]
    np.testing.assert_array_equal(fx.add(a, b), saturate(a.astype(np.int64) + b, dtype))
    # arm_mult: (a * b) >> bits, truncating toward minus infinity, saturated (only MIN * MIN overflows)
    expected = [max(min(int(x) * int(y) >> bits, info.max), info.min) for x, y in zip(a, b)]
    assert fx.mult(a, b).tolist() == expected


def test_mult_q31_exact():
    a = np.int32([2 ** 31 - 1, -2 ** 31, 12345678, -987654321, -2 ** 31])
    b = np.int32([2 ** 31 - 1, 1 << 30, -7654321, -123456789, -2 ** 31])
    expected = [min(int(x) * int(y) >> 31, 2 ** 31 - 1) for x, y in zip(a, b)]
    assert fx.mult(a, b).tolist() == expected


def test_dot_prod_q15():
    rng = np.random.default_rng(3)
    a = rng.integers(-32768, 32768, 4099).astype(np.int16)
    b = rng.integers(-32768, 32768, 4099).astype(np.int16)
    assert fx.dot_prod_q15(a, b) == int(np.dot(a.astype(np.int64), b.astype(np.int64)))


def ref_quantize_multiplier(real):
    """TFLite QuantizeMultiplier: frexp, round half away from zero, 2^31 -> 2^30 with shift + 1."""
    if real == 0:
        return 0, 0
    q, shift = math.frexp(real)
    m = int(math.floor(q * 2 ** 31 + 0.5))
    if m == 2 ** 31:
        m //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return m, shift


@pytest.mark.parametrize("real", [0.0, 0.5, 0.0123, 0.99999999999, 1e-5, 0.75, 1.0 / 3])
def test_quantize_multiplier(real):
    m, shift = fx.quantize_multiplier(real)
    assert (m, shift) == ref_quantize_multiplier(real)
    if real:
        assert abs(m * 2.0 ** (shift - 31) - real) <= 2.0 ** (shift - 32)


def test_scalar_primitives():
    # floor((a * b + 2^30) / 2^31), INT32_MIN * INT32_MIN saturates
    for a, b in [(1 << 30, 1 << 30), (-(1 << 30), 3), (12345, -67890), (-2 ** 31, -2 ** 31)]:
        expected = min((a * b + (1 << 30)) >> 31, 2 ** 31 - 1)
        assert fx.sat_rounding_doubling_high_mul(a, b) == expected
    # x / 2^e rounded to nearest, ties away from zero
    for x, e in [(5, 1), (-5, 1), (7, 2), (-7, 2), (6, 2), (-6, 2)]:
        assert fx.rounding_divide_by_pot(x, e) == int(math.copysign(math.floor(abs(x) / 2 ** e + 0.5), x))
    m, shift = fx.quantize_multiplier(0.3)
    assert abs(fx.multiply_by_quantized_multiplier(1000, m, shift) - 300) <= 1
    assert abs(fx.logistic(0, 4) - 2 ** 30) <= 1  # logistic(0) = 0.5 in Q0.31
    assert fx.tanh(0, 4) == 0
