"""Fixed point (Q7 / Q15 / Q31 and Qm.n) with exactly CMSIS-DSP's and gemmlowp/TFLite's bits.

Storage follows the format: Q7 is int8, Q15 int16, Q31 int32 (frac_bits 7, 15, 31 by default;
fewer fractional bits make Qm.n in the same storage). Array calls take and return numpy arrays
and write into `out` when given (no copy).

    q = q8.fixed.from_f32([0.5, -0.25], "q15")          # int16 [16384, -8192]
    p = q8.fixed.mult(q, q)                               # arm_mult_q15
    q8.fixed.to_f32(p)                                    # [0.25, 0.0625]
    m, shift = q8.fixed.quantize_multiplier(0.0123)       # TFLite QuantizeMultiplier
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from . import Rounding, Status, _array, _enum, _error, _n, _output

__all__ = ["Rounding", "from_f32", "to_f32", "add", "mult", "dot_prod_q15", "quantize_multiplier",
           "sat_rounding_doubling_high_mul", "rounding_divide_by_pot",
           "multiply_by_quantized_multiplier", "multiply_by_quantized_multiplier_single_round",
           "exp_on_negative_values", "logistic", "tanh"]

# format -> (storage, default fractional bits)
_FORMATS = {"q7": (np.dtype(np.int8), 7), "q15": (np.dtype(np.int16), 15), "q31": (np.dtype(np.int32), 31)}
_BY_STORAGE = {dtype: (name, bits) for name, (dtype, bits) in _FORMATS.items()}


def _format(fmt: str) -> Tuple[np.dtype, int]:
    try:
        return _FORMATS[fmt.lower()]
    except (KeyError, AttributeError):
        raise _error(Status.ERR_INVALID_ARGUMENT, f"format {fmt!r} is not one of q7, q15, q31") from None


def _storage(a: np.ndarray, what: str) -> Tuple[str, int]:
    try:
        return _BY_STORAGE[a.dtype]
    except KeyError:
        raise _error(Status.ERR_DTYPE, f"{what} must be int8 (Q7), int16 (Q15) or int32 (Q31), "
                                       f"not {a.dtype.name}") from None


def _fixed_array(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype not in _BY_STORAGE:
        _storage(a, what)
    return _array(a, a.dtype, what)


def from_f32(x, fmt: str = "q15", *, frac_bits: Optional[int] = None,
             rounding: Union[Rounding, str] = Rounding.NEAREST_EVEN, out=None) -> np.ndarray:
    """Reals to fixed point: saturate(round(x * 2^frac_bits)) in the format's storage.
    NaN -> 0, +-Inf saturate; Rounding.TOWARD_ZERO gives arm_float_to_q7/q15/q31."""
    storage, bits = _format(fmt)
    x = _array(x, np.float32, "x")
    out = _output(out, x.shape, storage)
    call = {np.int8: _n.fixed_from_f32_s8, np.int16: _n.fixed_from_f32_s16,
            np.int32: _n.fixed_from_f32_s32}[storage.type]
    call(x, out, bits if frac_bits is None else int(frac_bits), int(_enum(Rounding, rounding, "rounding")))
    return out


def to_f32(q, *, frac_bits: Optional[int] = None, out=None) -> np.ndarray:
    """Fixed point to reals: q / 2^frac_bits (frac_bits 7, 15 or 31 by q's dtype unless given)."""
    q = _fixed_array(q, "q")
    _, bits = _storage(q, "q")
    out = _output(out, q.shape, np.float32)
    call = {np.int8: _n.fixed_to_f32_s8, np.int16: _n.fixed_to_f32_s16,
            np.int32: _n.fixed_to_f32_s32}[q.dtype.type]
    call(q, out, bits if frac_bits is None else int(frac_bits))
    return out


def _binary(name: str, a, b, out) -> np.ndarray:
    a = _fixed_array(a, "a")
    fmt, _ = _storage(a, "a")
    b = _array(b, a.dtype, "b")
    if a.shape != b.shape:
        raise _error(Status.ERR_SHAPE, f"a is {a.shape} but b is {b.shape}")
    out = _output(out, a.shape, a.dtype)
    getattr(_n, f"fixed_{name}_{fmt}")(a, b, out)
    return out


def add(a, b, *, out=None) -> np.ndarray:
    """Saturating a + b of two Q7/Q15/Q31 arrays of one dtype (arm_add_q*)."""
    return _binary("add", a, b, out)


def mult(a, b, *, out=None) -> np.ndarray:
    """a * b shifted back to the format, truncated and saturated (arm_mult_q*)."""
    return _binary("mult", a, b, out)


def dot_prod_q15(a, b) -> int:
    """The Q15 dot product as arm_dot_prod_q15: a 64-bit 34.30 accumulator (an int)."""
    a = _array(a, np.int16, "a")
    b = _array(b, np.int16, "b")
    return int(_n.fixed_dot_prod_q15(a, b))


def quantize_multiplier(real: float) -> Tuple[int, int]:
    """A real multiplier as (multiplier, shift) with real = multiplier * 2^(shift - 31), as
    TFLite's QuantizeMultiplier."""
    m = _n.fixed_quantize_multiplier(float(real))
    return m.multiplier, m.shift


# Scalar primitives (total functions: every int32 input has a defined result).
sat_rounding_doubling_high_mul = _n.fixed_sat_rounding_doubling_high_mul
rounding_divide_by_pot = _n.fixed_rounding_divide_by_pot
multiply_by_quantized_multiplier = _n.fixed_multiply_by_quantized_multiplier
multiply_by_quantized_multiplier_single_round = _n.fixed_multiply_by_quantized_multiplier_single_round
exp_on_negative_values = _n.fixed_exp_on_negative_values
logistic = _n.fixed_logistic
tanh = _n.fixed_tanh
