"""q8.qat: the exact quantization math of quantization-aware training (q8/qat.h), over numpy arrays.

q8 is not a training framework: it computes the forward fake quantization, the straight-through
(STE) and LSQ / LSQ+ gradients and BatchNorm folding, so that what a training loop trains is bit
for bit what q8's INT8 runtime later runs. The framework owns the parameters and the optimizer
(q8.torch wraps these calls into torch.autograd.Function and nn.Modules).

    import numpy as np, q8
    qmin, qmax = q8.qat.qrange(4)                        # (-7, 7): 4-bit symmetric narrow
    w = np.random.default_rng(0).standard_normal((16, 32)).astype(np.float32)
    scales, _ = q8.qat.qparams(w.min(axis=1), w.max(axis=1), qmin, qmax)
    y, mask = q8.qat.fake_quantize(w, scales, qmin=qmin, qmax=qmax, axis=0)
    dx, dscales, _ = q8.qat.lsq_backward(w, np.ones_like(w), scales, None, qmin, qmax, axis=0)

Fake quantization of x with scale s > 0 and zero point z (a real number; the forward uses
zi = round_half_even(z) clamped to [qmin, qmax]):
    q = round_half_even(x / s) + zi,   y = (clamp(q, qmin, qmax) - zi) * s
which is exactly q8.dequantize(q8.quantize(x)) with the same parameters; mask = 1 where
qmin <= q <= qmax. Gradients: STE dx = dy * mask; LSQ ds = g * sum dy * (inside ? round(x/s) -
x/s : clipped - zi); LSQ+ dz = g * sum dy * (inside ? 0 : -s).

`axis` names the channel axis of x (one scale and zero point per index of it); None is per
tensor. Arrays are read and written in place (float32, C-contiguous: others are converted once);
`out=` arrays receive results without a copy.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import Status, _Handle, _array, _error, _n, _output

__all__ = ["qrange", "qparams", "FakeQuantizer", "fake_quantize", "ste_backward", "lsq_backward",
           "BatchNormFold", "fold_batchnorm", "fold_batchnorm_backward"]


def qrange(bits: int = 8, symmetric: bool = True, narrow: bool = True) -> Tuple[int, int]:
    """(qmin, qmax) of a bit width in [2, 8] (q8_qat_range): symmetric narrow [-(2^(b-1) - 1),
    2^(b-1) - 1] (INT8 weights: [-127, 127]; 4 bits: [-7, 7]), symmetric full [-2^(b-1),
    2^(b-1) - 1], asymmetric (unsigned) [0, 2^b - 1]."""
    r = _n.qat_range(int(bits), bool(symmetric), bool(narrow))
    return r.qmin, r.qmax


def qparams(mins, maxs, qmin: int, qmax: int):
    """Scales and (real) zero points for the ranges [mins[c], maxs[c]] on [qmin, qmax]
    (q8_qat_qparams): symmetric when qmin == -qmax. Scalars give (float, float), arrays give two
    float32 arrays."""
    if np.ndim(mins) == 0 and np.ndim(maxs) == 0:
        p = _n.qat_qparams(float(mins), float(maxs), int(qmin), int(qmax))
        return p.scale, p.zero_point
    lo = _array(mins, np.float32, "mins").reshape(-1)
    hi = _array(maxs, np.float32, "maxs").reshape(-1)
    if lo.shape != hi.shape:
        raise _error(Status.ERR_SHAPE, f"mins has {lo.size} entries but maxs {hi.size}")
    with FakeQuantizer(max(lo.size, 1), qmin, qmax) as fq:
        if lo.size == 0:
            return np.empty(0, np.float32), np.empty(0, np.float32)
        fq.set_range(lo, hi)
        z = fq.zero_points
        return fq.scales, (np.zeros(lo.size, np.float32) if z is None else z)


def _layout(shape: Tuple[int, ...], axis: Optional[int], channels: int) -> Tuple[int, int]:
    """(outer, inner) of an array of `shape` with `channels` parameters along `axis`."""
    size = int(np.prod(shape, dtype=np.int64))
    if axis is None:
        if channels != 1:
            raise _error(Status.ERR_SHAPE, f"{channels} channels of parameters need an axis")
        return 1, size
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise _error(Status.ERR_SHAPE, f"axis {axis} is outside an array of shape {tuple(shape)}")
    axis %= ndim
    if shape[axis] != channels:
        raise _error(Status.ERR_SHAPE, f"axis {axis} of shape {tuple(shape)} has {shape[axis]} "
                                       f"entries, but there are {channels} channels of parameters")
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return outer, inner


class FakeQuantizer(_Handle):
    """Fake quantization on [qmin, qmax] with one scale and zero point per channel: the forward
    and its STE / LSQ / LSQ+ gradients, exactly as q8's INT8 runtime rounds.

        fq = q8.qat.FakeQuantizer(channels=16, qmin=-7, qmax=7)
        fq.set_params(scales)                      # or fq.set_range(mins, maxs)
        y, mask = fq.forward(w, axis=0)
        dx, dscales, dzero_points = fq.lsq_backward(w, dy, axis=0)
    """
    __slots__ = ()
    _kind = "FakeQuantizer"

    def __init__(self, channels: int = 1, qmin: int = -127, qmax: int = 127):
        self._h = _n.FakeQuantizer(int(channels), int(qmin), int(qmax))

    @property
    def channels(self) -> int:
        return self._live().channels()

    @property
    def qmin(self) -> int:
        return self._live().qmin()

    @property
    def qmax(self) -> int:
        return self._live().qmax()

    def set_params(self, scales, zero_points=None) -> "FakeQuantizer":
        """Scales (one per channel, finite and > 0) and zero points (None: all 0; real numbers,
        rounded half to even and clamped to [qmin, qmax] by the forward)."""
        h = self._live()
        s = _array(scales, np.float32, "scales").reshape(-1)
        z = np.empty(0, np.float32) if zero_points is None else \
            _array(zero_points, np.float32, "zero_points").reshape(-1)
        h.setParams(s, z)
        return self

    def set_range(self, mins, maxs) -> "FakeQuantizer":
        """Parameters for the ranges [mins[c], maxs[c]] (q8_qat_qparams)."""
        self._live().setRange(_array(mins, np.float32, "mins").reshape(-1),
                              _array(maxs, np.float32, "maxs").reshape(-1))
        return self

    @property
    def scales(self) -> np.ndarray:
        h = self._live()
        out = np.empty(h.channels(), np.float32)
        h.scales(out)
        return out

    @property
    def zero_points(self) -> Optional[np.ndarray]:
        """The real zero points, or None when there are none (all 0)."""
        h = self._live()
        if not h.hasZeroPoints():
            return None
        out = np.empty(h.channels(), np.float32)
        h.zeroPoints(out)
        return out

    def forward(self, x, axis: Optional[int] = None, *, out=None, mask=True):
        """(y, mask) for x with the channels along `axis` (None: per tensor). mask=True makes a
        uint8 mask array (1 = not clipped), False skips it (None is returned), an array
        receives it."""
        h = self._live()
        x = _array(x, np.float32, "x")
        outer, inner = _layout(x.shape, axis, h.channels())
        y = _output(out, x.shape, np.float32)
        if mask is True:
            m = np.empty(x.shape, np.uint8)
        elif mask is False or mask is None:
            m = None
        else:
            m = _output(mask, x.shape, np.uint8, "mask")
        h.forward(outer, inner, x, y, np.empty(0, np.uint8) if m is None else m)
        return y, m

    __call__ = forward

    def ste_backward(self, dy, mask, *, out=None) -> np.ndarray:
        """dx = dy * mask (the straight-through estimator)."""
        h = self._live()
        dy = _array(dy, np.float32, "dy")
        mask = _array(mask, np.uint8, "mask")
        if mask.shape != dy.shape:
            raise _error(Status.ERR_SHAPE, f"mask has shape {mask.shape} but dy {dy.shape}")
        dx = _output(out, dy.shape, np.float32)
        h.steBackward(dy, mask, dx)
        return dx

    def lsq_backward(self, x, dy, axis: Optional[int] = None, *, grad_scale: float = 1.0,
                     out=None, dx: bool = True):
        """(dx, dscales, dzero_points) at x for the loss gradient dy: dx by the STE (None with
        dx=False), the LSQ scale gradients and the LSQ+ zero point gradients per channel, both
        times grad_scale (LSQ's 1 / sqrt(elements per channel * qmax); 1 for none)."""
        h = self._live()
        x = _array(x, np.float32, "x")
        dy = _array(dy, np.float32, "dy")
        if dy.shape != x.shape:
            raise _error(Status.ERR_SHAPE, f"dy has shape {dy.shape} but x {x.shape}")
        outer, inner = _layout(x.shape, axis, h.channels())
        g = _output(out, x.shape, np.float32) if dx else np.empty(0, np.float32)
        h.lsqBackward(outer, inner, x, dy, float(grad_scale), g)
        ds = np.empty(h.channels(), np.float32)
        dz = np.empty(h.channels(), np.float32)
        h.scaleGrads(ds)
        h.zeroPointGrads(dz)
        return (g if dx else None), ds, dz

    def __repr__(self) -> str:
        if self.closed:
            return "q8.qat.FakeQuantizer(closed)"
        return f"q8.qat.FakeQuantizer(channels={self.channels}, qmin={self.qmin}, qmax={self.qmax})"


def _channels_of(scale) -> int:
    return int(np.size(scale))


def fake_quantize(x, scale, zero_point=None, *, qmin: int = -127, qmax: int = 127,
                  axis: Optional[int] = None, out=None, mask=True):
    """(y, mask): x fake-quantized with `scale` and `zero_point` (scalars, or arrays along
    `axis`) on [qmin, qmax]. See FakeQuantizer.forward."""
    with FakeQuantizer(_channels_of(scale), qmin, qmax) as fq:
        fq.set_params(np.atleast_1d(scale), None if zero_point is None else np.atleast_1d(zero_point))
        return fq.forward(x, axis, out=out, mask=mask)


def ste_backward(dy, mask, *, out=None) -> np.ndarray:
    """dx = dy * mask (q8_qat_ste_backward)."""
    with FakeQuantizer(1, 0, 255) as fq:
        return fq.ste_backward(dy, mask, out=out)


def lsq_backward(x, dy, scale, zero_point=None, qmin: int = -127, qmax: int = 127, *,
                 axis: Optional[int] = None, grad_scale: float = 1.0, out=None, dx: bool = True):
    """(dx, dscales, dzero_points) of fake_quantize at x (q8_qat_lsq_backward); see
    FakeQuantizer.lsq_backward. Per tensor, dscales and dzero_points hold one entry."""
    with FakeQuantizer(_channels_of(scale), qmin, qmax) as fq:
        fq.set_params(np.atleast_1d(scale), None if zero_point is None else np.atleast_1d(zero_point))
        return fq.lsq_backward(x, dy, axis, grad_scale=grad_scale, out=out, dx=dx)


class BatchNormFold(_Handle):
    """BatchNorm folded into the layer before it, per output channel c (q8_qat_fold_batchnorm):
    f = gamma / sqrt(var + eps), w' = w * f, b' = (b - mean) * f + beta, in double, stored f32
    (what q8's ONNX import does), and its gradients (mean and var are constants).

        bn = q8.qat.BatchNormFold(channels=32, per_channel=9, eps=1e-5)
        bn.set_affine(gamma, beta); bn.set_statistics(running_mean, running_var)
        w2, b2 = bn.fold(w, b)                          # w: [32, ...] (9 per channel)
        dw, db, dgamma, dbeta = bn.backward(dw2, db2)   # for the w and b of the last fold
    """
    __slots__ = ()
    _kind = "BatchNormFold"

    def __init__(self, channels: int, per_channel: int, eps: float = 1e-5):
        self._h = _n.BatchNormFold(int(channels), int(per_channel), float(eps))

    @property
    def channels(self) -> int:
        return self._live().channels()

    @property
    def per_channel(self) -> int:
        return self._live().perChannel()

    @property
    def eps(self) -> float:
        return self._live().eps()

    def set_affine(self, gamma, beta) -> "BatchNormFold":
        self._live().setAffine(_array(gamma, np.float32, "gamma").reshape(-1),
                               _array(beta, np.float32, "beta").reshape(-1))
        return self

    def set_statistics(self, mean, var) -> "BatchNormFold":
        self._live().setStatistics(_array(mean, np.float32, "mean").reshape(-1),
                                   _array(var, np.float32, "var").reshape(-1))
        return self

    def fold(self, weights, bias=None, *, out=None) -> Tuple[np.ndarray, np.ndarray]:
        """(folded weights of weights' shape, folded bias [channels]); bias None is 0."""
        h = self._live()
        w = _array(weights, np.float32, "weights")
        b = np.empty(0, np.float32) if bias is None else _array(bias, np.float32, "bias").reshape(-1)
        wf = _output(out, w.shape, np.float32)
        h.fold(w, b, wf)
        bf = np.empty(h.channels(), np.float32)
        h.foldedBias(bf)
        return wf, bf

    def backward(self, dfolded_weights, dfolded_bias, *, out=None, dweights: bool = True):
        """(dweights, dbias, dgamma, dbeta) from the gradients at the folded weights and bias of
        the last fold() (dweights None with dweights=False)."""
        h = self._live()
        dfw = _array(dfolded_weights, np.float32, "dfolded_weights")
        dfb = _array(dfolded_bias, np.float32, "dfolded_bias").reshape(-1)
        dw = _output(out, dfw.shape, np.float32) if dweights else np.empty(0, np.float32)
        h.backward(dfw, dfb, dw)
        n = h.channels()
        db, dg, dbeta = np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, np.float32)
        h.biasGrads(db)
        h.gammaGrads(dg)
        h.betaGrads(dbeta)
        return (dw if dweights else None), db, dg, dbeta

    def __repr__(self) -> str:
        if self.closed:
            return "q8.qat.BatchNormFold(closed)"
        return (f"q8.qat.BatchNormFold(channels={self.channels}, per_channel={self.per_channel}, "
                f"eps={self.eps:g})")


def _bn(weights, gamma, mean, var, eps) -> BatchNormFold:
    w = np.asarray(weights)
    channels = int(np.size(gamma))
    if w.ndim == 0 or w.shape[0] != channels:
        raise _error(Status.ERR_SHAPE, f"weights of shape {w.shape} do not have {channels} output "
                                       "channels along axis 0")
    return BatchNormFold(channels, w.size // channels if channels else 0, eps)


def fold_batchnorm(weights, bias, gamma, beta, mean, var, eps: float = 1e-5):
    """(folded weights, folded bias) of a layer whose output channels (axis 0 of weights) feed a
    BatchNorm (q8_qat_fold_batchnorm). bias None is 0."""
    with _bn(weights, gamma, mean, var, eps) as bn:
        bn.set_affine(gamma, beta).set_statistics(mean, var)
        return bn.fold(weights, bias)


def fold_batchnorm_backward(weights, bias, gamma, mean, var, eps, dfolded_weights, dfolded_bias):
    """(dweights, dbias, dgamma, dbeta) of fold_batchnorm (q8_qat_fold_batchnorm_backward)."""
    with _bn(weights, gamma, mean, var, eps) as bn:
        bn.set_affine(gamma, np.zeros(np.size(gamma), np.float32)).set_statistics(mean, var)
        bn.fold(weights, bias)
        return bn.backward(dfolded_weights, dfolded_bias)
