"""Quantization-aware training in PyTorch on q8's exact quantization math (q8.qat); imported by
q8.torch, which exports these names.

    import q8.torch
    qat = q8.torch.prepare_qat(model, bits=4)     # Linear/Conv2d -> QATLinear/QATConv2d (a copy)
    qat.train()
    ... the usual training loop (the first steps also observe activation ranges) ...
    q8.torch.freeze_observers(qat)                # activation ranges fixed (then LSQ-learnable)
    int8 = q8.torch.convert(qat, "model_qdq.onnx")  # a q8.Model running the integers trained

The torch side never rounds anything itself: FakeQuantize's forward is q8's fake quantization
and its backward q8's STE / LSQ / LSQ+ gradients; a Conv2d followed by a BatchNorm2d is trained
through q8's BatchNorm fold and its backward.
"""
from __future__ import annotations

import copy
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from . import Model, Observer, ObserverKind, Status, _enum, _error
from . import dequantize as _dequantize
from . import quantize as _quantize
from . import qat as _qat

__all__ = ["FakeQuantize", "FoldBatchNorm", "BiasQuantize", "ActivationFakeQuantize", "QATLinear", "QATConv2d",
           "prepare_qat", "freeze_observers", "qat_parameters", "convert", "to_onnx"]

ACT_QMIN, ACT_QMAX = 0, 255  # activations: asymmetric, 8 bits (u8 with a zero point)


def _f32(t: torch.Tensor) -> torch.Tensor:
    """t detached as a contiguous float32 CPU tensor (t itself when it already is one)."""
    if t.device.type != "cpu":
        raise RuntimeError(f"q8.torch runs on the CPU; a tensor is on {t.device}")
    return t.detach().to(torch.float32).contiguous()


MIN_SCALE = 1e-8  # LSQ can step a scale to 0 or below: it is clamped here before each use


def _clamp_scale_(p: torch.Tensor) -> None:
    with torch.no_grad():
        p.clamp_(min=MIN_SCALE)


def _lsq_grad_scale(elements_per_channel: int, qmax: int) -> float:
    """LSQ's gradient scale 1 / sqrt(elements per channel * qmax) (q8/qat.h)."""
    return 1.0 / math.sqrt(max(elements_per_channel, 1) * max(abs(qmax), 1))


class FakeQuantize(torch.autograd.Function):
    """y = q8's fake quantization of x: (clamp(round_half_even(x / s) + zi, qmin, qmax) - zi) * s
    with zi = round_half_even(z) clamped, one scale (and zero point) per index of `axis` (None:
    per tensor), exactly q8.dequantize(q8.quantize(x)).

        y = FakeQuantize.apply(x, scale, zero_point, qmin, qmax, axis, grad_scale)

    scale: float tensor of one entry per channel; zero_point: None (0) or the same shape.
    Backward (q8's, not torch's): the straight-through estimator for x (dy where the value was
    not clipped, else 0); when scale requires grad, LSQ's scale gradient, and when zero_point
    requires grad, LSQ+'s, each times grad_scale (None: LSQ's 1 / sqrt(elements per channel *
    qmax)). Forward and backward are one q8 call each over the tensor's memory."""

    @staticmethod
    def forward(ctx, x, scale, zero_point=None, qmin=-127, qmax=127, axis=None, grad_scale=None):
        xs = _f32(x)
        s = _f32(scale).reshape(-1)
        z = None if zero_point is None else _f32(zero_point).reshape(-1)
        lsq = ctx.needs_input_grad[1] or (zero_point is not None and ctx.needs_input_grad[2])
        y = torch.empty_like(xs)
        with _qat.FakeQuantizer(s.numel(), qmin, qmax) as fq:
            fq.set_params(s.numpy(), None if z is None else z.numpy())
            if lsq:
                fq.forward(xs.numpy(), axis, out=y.numpy(), mask=False)
                ctx.save_for_backward(xs, s, z)
            else:
                mask = torch.empty(xs.shape, dtype=torch.uint8)
                fq.forward(xs.numpy(), axis, out=y.numpy(), mask=mask.numpy())
                ctx.save_for_backward(mask)
        ctx.lsq, ctx.qmin, ctx.qmax, ctx.axis, ctx.grad_scale = lsq, qmin, qmax, axis, grad_scale
        ctx.x_dtype = x.dtype
        ctx.scale_shape = scale.shape
        ctx.zero_point_shape = None if zero_point is None else zero_point.shape
        return y if x.dtype == torch.float32 else y.to(x.dtype)

    @staticmethod
    def backward(ctx, dy):
        dy = _f32(dy)
        dx = torch.empty_like(dy)
        if not ctx.lsq:
            (mask,) = ctx.saved_tensors
            _qat.ste_backward(dy.numpy(), mask.numpy(), out=dx.numpy())
            return dx.to(ctx.x_dtype), None, None, None, None, None, None
        xs, s, z = ctx.saved_tensors
        channels = s.numel()
        g = ctx.grad_scale
        if g is None:
            g = _lsq_grad_scale(xs.numel() // channels, ctx.qmax)
        with _qat.FakeQuantizer(channels, ctx.qmin, ctx.qmax) as fq:
            fq.set_params(s.numpy(), None if z is None else z.numpy())
            _, ds, dz = fq.lsq_backward(xs.numpy(), dy.numpy(), ctx.axis, grad_scale=float(g), out=dx.numpy())
        dscale = torch.from_numpy(ds).reshape(ctx.scale_shape) if ctx.needs_input_grad[1] else None
        dzero = None
        if ctx.zero_point_shape is not None and ctx.needs_input_grad[2]:
            dzero = torch.from_numpy(dz).reshape(ctx.zero_point_shape)
        return dx.to(ctx.x_dtype), dscale, dzero, None, None, None, None


class FoldBatchNorm(torch.autograd.Function):
    """(w', b') = q8's BatchNorm fold of a layer's weight [out, ...] and bias (None: 0) with a
    BatchNorm's gamma, beta and running statistics (constants), per output channel:
    w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta, computed
    in double and stored f32 as q8's ONNX import folds. Backward: q8's fold backward (gradients
    for w, b, gamma and beta)."""

    @staticmethod
    def forward(ctx, weight, bias, gamma, beta, mean, var, eps):
        w, g, b2 = _f32(weight), _f32(gamma), _f32(beta)
        m, v = _f32(mean), _f32(var)
        b = None if bias is None else _f32(bias)
        channels = w.shape[0]
        wf = torch.empty_like(w)
        with _qat.BatchNormFold(channels, w.numel() // channels, float(eps)) as bn:
            bn.set_affine(g.numpy(), b2.numpy()).set_statistics(m.numpy(), v.numpy())
            _, bf = bn.fold(w.numpy(), None if b is None else b.numpy(), out=wf.numpy())
        ctx.save_for_backward(w, b, g, m, v)
        ctx.eps = float(eps)
        ctx.has_bias = bias is not None
        return wf, torch.from_numpy(bf)

    @staticmethod
    def backward(ctx, dwf, dbf):
        w, b, g, m, v = ctx.saved_tensors
        channels = w.shape[0]
        dwf = torch.zeros_like(w) if dwf is None else _f32(dwf)
        dbf = torch.zeros(channels) if dbf is None else _f32(dbf)
        dw = torch.empty_like(w)
        with _qat.BatchNormFold(channels, w.numel() // channels, ctx.eps) as bn:
            bn.set_affine(g.numpy(), np.zeros(channels, np.float32)).set_statistics(m.numpy(), v.numpy())
            bn.fold(w.numpy(), None if b is None else b.numpy())
            _, db, dg, dbeta = bn.backward(dwf.numpy(), dbf.numpy(), out=dw.numpy())
        need = ctx.needs_input_grad
        return (dw if need[0] else None,
                torch.from_numpy(db) if ctx.has_bias and need[1] else None,
                torch.from_numpy(dg) if need[2] else None,
                torch.from_numpy(dbeta) if need[3] else None,
                None, None, None)


def _bias_scale(x_scale: float, w_scale: np.ndarray) -> np.ndarray:
    """x_scale * w_scale[c], each product in f32 (what q8's import checks a bias scale against)."""
    return (np.float32(x_scale) * np.asarray(w_scale, np.float32)).astype(np.float32)


def _quantize_bias(bias: np.ndarray, scale: np.ndarray):
    """The int32 Tensor of `bias` at `scale` (one entry, or one per channel) by q8_quantize."""
    if scale.size == 1 and bias.size != 1:
        return _quantize(bias, "symmetric", None, scale=float(scale[0]), dtype="s32")
    return _quantize(bias, "symmetric", 0, scale=scale, dtype="s32")


class BiasQuantize(torch.autograd.Function):
    """The bias as the INT8 runtime adds it: quantized to int32 at scale x_scale * w_scale[c]
    (each product in f32) by q8_quantize (round half to even) and dequantized by q8_dequantize.
    Backward: the identity for the bias (the int32 range never clips a real bias), no gradient
    for the scales."""

    @staticmethod
    def forward(ctx, bias, x_scale, w_scale):
        scale = _bias_scale(_f32(x_scale).reshape(-1)[0].item(), _f32(w_scale).numpy())
        with _quantize_bias(_f32(bias).numpy(), scale) as q:
            return torch.from_numpy(_dequantize(q)).to(bias.dtype)

    @staticmethod
    def backward(ctx, dy):
        return dy, None, None


class ActivationFakeQuantize(nn.Module):
    """Fake quantization of an activation to 8-bit asymmetric (u8 with a zero point), per tensor.

    While observing (training mode, not frozen), each forward feeds the batch to a q8 Observer
    (default MOVING_AVERAGE_MINMAX, averaging constant 0.01; the first batch sets the range) and
    takes the scale and zero point of its range from q8_qat_qparams. freeze() freezes the q8
    observer (q8_observer_set_frozen): the parameters then stay, and become learnable when
    `learn_scale` (LSQ) / `learn_zero_point` (LSQ+) are set. `freeze_after` freezes by itself
    after that many observed batches. In eval mode nothing is observed."""

    def __init__(self, observer="moving_average_minmax", averaging_constant: float = 0.01,
                 learn_scale: bool = True, learn_zero_point: bool = False,
                 freeze_after: Optional[int] = None):
        super().__init__()
        self.observer_kind = _enum(ObserverKind, observer, "observer")
        if self.observer_kind not in (ObserverKind.MINMAX, ObserverKind.MOVING_AVERAGE_MINMAX):
            raise _error(Status.ERR_INVALID_ARGUMENT, "QAT activation observers are minmax or "
                                                      f"moving_average_minmax, not {self.observer_kind.name.lower()}")
        self.averaging_constant = float(averaging_constant)
        self.learn_scale = bool(learn_scale)
        self.learn_zero_point = bool(learn_zero_point)
        self.freeze_after = freeze_after
        self.qmin, self.qmax = ACT_QMIN, ACT_QMAX
        self.scale = nn.Parameter(torch.ones(1), requires_grad=False)
        self.zero_point = nn.Parameter(torch.zeros(1), requires_grad=False)
        self.register_buffer("observed_range", torch.zeros(2))
        self.register_buffer("observed_batches", torch.zeros((), dtype=torch.long))
        self.register_buffer("frozen", torch.zeros((), dtype=torch.bool))
        self._make_observer()

    def _make_observer(self) -> None:
        self._observer = Observer(self.observer_kind, "asymmetric_u8",
                                  averaging_constant=self.averaging_constant)

    # An Observer is a native handle: copies and pickles make a new one (a copy that has not been
    # frozen restarts its range from its next batch; the parameters themselves are copied).
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_observer", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._make_observer()
        if bool(self.frozen):
            self._observer.frozen = True

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._apply_frozen(bool(self.frozen))

    @property
    def observer(self) -> Observer:
        return self._observer

    @property
    def initialized(self) -> bool:
        return int(self.observed_batches) > 0

    def _apply_frozen(self, frozen: bool) -> None:
        self._observer.frozen = frozen
        self.frozen.fill_(frozen)
        self.scale.requires_grad_(frozen and self.learn_scale)
        self.zero_point.requires_grad_(frozen and self.learn_zero_point)

    def freeze(self, frozen: bool = True) -> None:
        """Freezes the observer (q8_observer_set_frozen) and makes the parameters learnable as
        configured; freeze(False) observes again."""
        self._apply_frozen(bool(frozen))

    def observe(self, x: torch.Tensor) -> None:
        """Feeds a batch to the observer and sets the parameters from its range."""
        self._observer.update(_f32(x).numpy())
        lo, hi = self._observer.range()
        s, z = _qat.qparams(lo, hi, self.qmin, self.qmax)
        with torch.no_grad():
            self.observed_range.copy_(torch.tensor([lo, hi]))
            self.scale.fill_(s)
            self.zero_point.fill_(z)
        self.observed_batches += 1
        if self.freeze_after is not None and int(self.observed_batches) >= self.freeze_after:
            self.freeze()

    def export_params(self) -> Tuple[np.float32, int]:
        """(scale, integer zero point) exactly as the forward uses them: the f32 scale and
        zi = round_half_even(zero_point) clamped to [0, 255] (q8/qat.h)."""
        if not self.initialized:
            raise RuntimeError("q8.torch: an activation quantizer has observed no batch; run the model "
                               "in training mode on some data before evaluating or converting it")
        _clamp_scale_(self.scale)
        s = np.float32(self.scale.detach().reshape(-1)[0].item())
        z = float(self.zero_point.detach().reshape(-1)[0].item())
        return s, int(np.clip(np.rint(z), self.qmin, self.qmax))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.frozen):
            self.observe(x)
        if not self.initialized:
            raise RuntimeError("q8.torch: an activation quantizer has observed no batch; run the model "
                               "in training mode on some data first")
        _clamp_scale_(self.scale)  # LSQ may have stepped it to 0 or below
        zp = self.zero_point if self.learn_zero_point and bool(self.frozen) else self.zero_point.detach()
        return FakeQuantize.apply(x, self.scale, zp, self.qmin, self.qmax, None, None)

    def extra_repr(self) -> str:
        s, z = (float(self.scale), float(self.zero_point))
        state = "frozen" if bool(self.frozen) else f"observing ({self.observer_kind.name.lower()})"
        return f"u8 [0, 255], scale={s:.6g}, zero_point={z:.4g}, {state}"


class _QATLayer(nn.Module):
    """A Linear / Conv2d with a fake-quantized input (8-bit asymmetric) and fake-quantized weights
    (per output channel, or per tensor, symmetric narrow, `bits` in [2, 8], LSQ-learnable scales)."""

    def _setup(self, bits: int, learn_weight_scale: bool, act_kwargs: dict) -> None:
        self.quantize_bias = bool(act_kwargs.pop("quantize_bias", True))
        self.per_channel = bool(act_kwargs.pop("per_channel", True))
        self.bits = int(bits)
        self.wqmin, self.wqmax = _qat.qrange(self.bits, symmetric=True, narrow=True)
        self.learn_weight_scale = bool(learn_weight_scale)
        self.input_quant = ActivationFakeQuantize(**act_kwargs)
        out = self.weight.shape[0] if self.per_channel else 1
        self.weight_scale = nn.Parameter(torch.ones(out), requires_grad=self.learn_weight_scale)
        self.reset_weight_scale()
        self.input_shape: Optional[Tuple[int, ...]] = None  # last input's shape without the batch

    def folded(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The weight and bias the layer computes with (before weight fake quantization)."""
        return self.weight, self.bias

    def _take_float(self, module: nn.Module) -> "_QATLayer":
        """Copies the float layer's weight and bias, then scales the weights from their range."""
        with torch.no_grad():
            self.weight.copy_(module.weight)
            if module.bias is not None:
                self.bias.copy_(module.bias)
        self.reset_weight_scale()
        return self

    def reset_weight_scale(self) -> None:
        """Weight scales from the (folded) weights' per-channel (or whole) min/max (q8_qat_qparams)."""
        with torch.no_grad():
            w, _ = self.folded()
            flat = _f32(w).reshape(w.shape[0] if self.per_channel else 1, -1)
            s, _ = _qat.qparams(flat.min(1).values.numpy(), flat.max(1).values.numpy(), self.wqmin, self.wqmax)
            self.weight_scale.copy_(torch.from_numpy(s))

    def quantized_weight(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(fake-quantized weight, bias) as the forward uses them: the bias on the int32 grid of
        x_scale * w_scale (BiasQuantize) when `quantize_bias`, as the INT8 runtime adds it."""
        w, b = self.folded()
        _clamp_scale_(self.weight_scale)
        scale = self.weight_scale if self.learn_weight_scale else self.weight_scale.detach()
        wq = FakeQuantize.apply(w, scale, None, self.wqmin, self.wqmax, self._axis, None)
        if b is not None and self.quantize_bias:
            b = BiasQuantize.apply(b, self.input_quant.scale.detach(), self.weight_scale.detach())
        return wq, b

    def int8_weight(self) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """(INT8 weight codes, f32 scales, f32 bias): the integers q8's fake quantization
        produces (weight == codes * scales bit for bit) and the scales it used."""
        _clamp_scale_(self.weight_scale)
        with torch.no_grad():
            w, b = self.folded()
            s = _f32(self.weight_scale).numpy().copy()
            y, _ = _qat.fake_quantize(_f32(w).numpy(), s, qmin=self.wqmin, qmax=self.wqmax, axis=self._axis,
                                      mask=False)
        shape = (-1,) + (1,) * (y.ndim - 1) if self.per_channel else (1,) * y.ndim
        codes = np.rint(y / s.reshape(shape))
        if not np.array_equal(codes.astype(np.float32) * s.reshape(shape), y):
            raise _error(Status.ERR_INTERNAL, "fake-quantized weights are not codes * scales")
        return codes.astype(np.int8), s, None if b is None else _f32(b).numpy().copy()

    @property
    def _axis(self) -> Optional[int]:
        return 0 if self.per_channel else None

    def _quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        self.input_shape = tuple(x.shape[1:])
        return self.input_quant(x)

    def _qat_repr(self) -> str:
        where = "per channel" if self.per_channel else "per tensor"
        return f"weights {self.bits}-bit [{self.wqmin}, {self.wqmax}] {where}, activations u8"


class QATLinear(_QATLayer):
    """nn.Linear trained quantization-aware with q8's math: y = linear(fq_u8(x), fq_w(W), b)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, bits: int = 8,
                 learn_weight_scale: bool = True, **act_kwargs):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        lin = nn.Linear(in_features, out_features, bias)
        with torch.no_grad():
            self.weight.copy_(lin.weight)
            if bias:
                self.bias.copy_(lin.bias)
        self._setup(bits, learn_weight_scale, act_kwargs)

    @classmethod
    def from_float(cls, module: nn.Linear, bits: int = 8, **kwargs) -> "QATLinear":
        m = cls(module.in_features, module.out_features, module.bias is not None, bits=bits, **kwargs)
        return m._take_float(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xq = self._quantize_input(x)  # first: observing sets the input scale the bias uses
        w, b = self.quantized_weight()
        return F.linear(xq, w, b)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, {self._qat_repr()}")


def _pair(v) -> Tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class QATConv2d(_QATLayer):
    """nn.Conv2d (optionally with the BatchNorm2d after it folded in through q8's fold) trained
    quantization-aware with q8's math: y = conv2d(fq_u8(x), fq_w(W'), b'), where (W', b') is the
    BatchNorm fold of (W, b) (BatchNorm's running statistics stay frozen; gamma and beta train
    through the fold's backward) or (W, b) itself."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, *, bn: Optional[nn.BatchNorm2d] = None,
                 bits: int = 8, learn_weight_scale: bool = True, **act_kwargs):
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation, self.groups = conv.padding, conv.dilation, groups
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = nn.Parameter(conv.bias.detach().clone()) if bias else None
        if bn is not None and bn.num_features != out_channels:
            raise ValueError(f"BatchNorm2d has {bn.num_features} features, the convolution {out_channels} channels")
        self.bn = bn
        self._setup(bits, learn_weight_scale, act_kwargs)

    @classmethod
    def from_float(cls, module: nn.Conv2d, bn: Optional[nn.BatchNorm2d] = None, bits: int = 8,
                   **kwargs) -> "QATConv2d":
        if module.padding_mode != "zeros":
            raise ValueError(f"q8.torch.QATConv2d takes padding_mode='zeros', not {module.padding_mode!r}")
        padding = module.padding
        if isinstance(padding, str):
            if padding == "valid":
                padding = (0, 0)
            else:
                raise ValueError("q8.torch.QATConv2d takes numeric padding or 'valid', not 'same'")
        m = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, padding,
                module.dilation, module.groups, module.bias is not None,
                bn=None if bn is None else copy.deepcopy(bn), bits=bits, **kwargs)
        return m._take_float(module)

    def folded(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if self.bn is None:
            return self.weight, self.bias
        bn = self.bn
        gamma = bn.weight if bn.weight is not None else torch.ones(bn.num_features)
        beta = bn.bias if bn.bias is not None else torch.zeros(bn.num_features)
        return FoldBatchNorm.apply(self.weight, self.bias, gamma, beta, bn.running_mean,
                                   bn.running_var, bn.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xq = self._quantize_input(x)  # first: observing sets the input scale the bias uses
        w, b = self.quantized_weight()
        return F.conv2d(xq, w, b, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        bn = ", BatchNorm folded" if self.bn is not None else ""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}{bn}, {self._qat_repr()}")


# ---- preparing and freezing --------------------------------------------------------------------

def _prepare_children(module: nn.Module, kwargs: dict, fold_bn: bool) -> None:
    names = [n for n, _ in module.named_children()]
    sequential = isinstance(module, nn.Sequential)
    skip = set()
    for i, name in enumerate(names):
        if name in skip:
            continue
        child = getattr(module, name)
        if type(child) is nn.Linear:
            setattr(module, name, QATLinear.from_float(child, **kwargs))
        elif type(child) is nn.Conv2d:
            bn = None
            nxt = getattr(module, names[i + 1]) if i + 1 < len(names) else None
            # Only a Sequential runs its children in order, so only there is "the next one" the
            # BatchNorm that reads the convolution's output.
            if fold_bn and sequential and type(nxt) is nn.BatchNorm2d and nxt.track_running_stats \
                    and nxt.running_mean is not None:
                bn = nxt
                setattr(module, names[i + 1], nn.Identity())
                skip.add(names[i + 1])
            setattr(module, name, QATConv2d.from_float(child, bn=bn, **kwargs))
        else:
            _prepare_children(child, kwargs, fold_bn)


def prepare_qat(model: nn.Module, bits: int = 8, *, inplace: bool = False,
                observer="moving_average_minmax", averaging_constant: float = 0.01,
                learn_weight_scale: bool = True, learn_activation_scale: bool = True,
                learn_activation_zero_point: bool = False, freeze_observers_after: Optional[int] = None,
                fold_bn: bool = True, per_channel: bool = True, quantize_bias: bool = True) -> nn.Module:
    """`model` (a deep copy unless `inplace`) with every nn.Linear replaced by QATLinear and every
    nn.Conv2d by QATConv2d (exact types), weights fake-quantized per output channel to `bits`
    (2-8, symmetric narrow: [-7, 7] at 4 bits) with LSQ-learnable scales initialized from min/max,
    inputs fake-quantized to u8 with observed, then frozen (and LSQ/LSQ+-learnable) ranges. In a
    Sequential, a BatchNorm2d right after a Conv2d is folded into it (and replaced by Identity)
    when `fold_bn`. Call model.train() and train as usual."""
    if not inplace:
        model = copy.deepcopy(model)
    kwargs = dict(bits=bits, learn_weight_scale=learn_weight_scale, observer=observer,
                  averaging_constant=averaging_constant, learn_scale=learn_activation_scale,
                  learn_zero_point=learn_activation_zero_point, freeze_after=freeze_observers_after,
                  per_channel=per_channel, quantize_bias=quantize_bias)
    if type(model) is nn.Linear:
        return QATLinear.from_float(model, **kwargs)
    if type(model) is nn.Conv2d:
        return QATConv2d.from_float(model, **kwargs)
    _prepare_children(model, kwargs, fold_bn)
    return model


def freeze_observers(model: nn.Module, frozen: bool = True) -> nn.Module:
    """Freezes (or unfreezes) every activation observer of a QAT model; returns the model."""
    for m in model.modules():
        if isinstance(m, ActivationFakeQuantize):
            m.freeze(frozen)
    return model


def qat_parameters(model: nn.Module) -> Tuple[List[nn.Parameter], List[nn.Parameter]]:
    """(the model's other parameters, its quantization parameters: weight scales and activation
    scales and zero points), for optimizer parameter groups with their own learning rates."""
    quant = []
    for m in model.modules():
        if isinstance(m, _QATLayer):
            quant.append(m.weight_scale)
        elif isinstance(m, ActivationFakeQuantize):
            quant += [m.scale, m.zero_point]
    ids = {id(p) for p in quant}
    return [p for p in model.parameters() if id(p) not in ids], quant



# ---- conversion --------------------------------------------------------------------------------

_PASSTHROUGH = (nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Identity, nn.Dropout)


def _leaves(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The modules a sequential model runs, in order (nested Sequentials flattened)."""
    if isinstance(model, (_QATLayer,) + _PASSTHROUGH):
        return [("", model)]
    if not isinstance(model, nn.Sequential):
        raise _error(Status.ERR_UNSUPPORTED,
                     f"q8.torch.convert handles sequential models (nn.Sequential of QATLinear, QATConv2d, "
                     f"ReLU, MaxPool2d, Flatten, Identity, Dropout); {type(model).__name__} is not one")
    out = []

    def walk(seq: nn.Sequential, prefix: str) -> None:
        for name, child in seq.named_children():
            full = f"{prefix}{name}"
            if isinstance(child, nn.Sequential):
                walk(child, full + ".")
            elif isinstance(child, (_QATLayer,) + _PASSTHROUGH):
                out.append((full, child))
            elif type(child) in (nn.Linear, nn.Conv2d):
                raise _error(Status.ERR_UNSUPPORTED,
                             f"q8.torch.convert: module '{full}' is a plain {type(child).__name__}: "
                             "prepare the model with prepare_qat first")
            else:
                raise _error(Status.ERR_UNSUPPORTED,
                             f"q8.torch.convert: module '{full}' ({type(child).__name__}) is not one of QATLinear, "
                             "QATConv2d, ReLU, MaxPool2d, Flatten, Identity, Dropout")
    walk(model, "")
    return out


def to_onnx(model: nn.Module, input_shape: Optional[Sequence[int]] = None, *, input_name: str = "input",
            output_name: str = "output"):
    """The QAT model as an ONNX QDQ model (onnx.ModelProto, opset 13): per layer, the input's
    QuantizeLinear/DequantizeLinear with the learned u8 scale and zero point, the weights as INT8
    initializers (the codes of q8's fake quantization) behind a DequantizeLinear with the
    learned per-channel scales (axis 0), the bias as int32 at scale x_scale * w_scale[c] behind a
    DequantizeLinear, then Gemm/Conv; between layers ReLU/MaxPool run on the quantized tensor
    (DQ -> op -> Q with the same parameters) and Flatten on the integers, which is what q8's
    ONNX import fuses into QGemm / QLinearConv and integer operators. `input_shape`: the input's
    shape without the batch (default: the last one the first layer saw in training)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    leaves = _leaves(model)
    layers = [i for i, (_, m) in enumerate(leaves) if isinstance(m, _QATLayer)]
    if not layers:
        raise _error(Status.ERR_UNSUPPORTED, "q8.torch.convert: the model has no QATLinear or QATConv2d")
    first = leaves[layers[0]][1]
    if input_shape is None:
        if isinstance(first, QATLinear):
            input_shape = (first.in_features,)
        elif first.input_shape is not None:
            input_shape = first.input_shape
        else:
            raise _error(Status.ERR_INVALID_ARGUMENT, "q8.torch.convert: give input_shape (without the batch): "
                                                      "the first layer has seen no input")
    input_shape = tuple(int(d) for d in input_shape)

    nodes, inits, used = [], [], set()

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    def const(name: str, array: np.ndarray) -> str:
        name = fresh(name)
        inits.append(numpy_helper.from_array(np.array(array, order="C"), name))  # keeps 0-d scalars
        return name

    def node(op: str, inputs: List[str], output: str, name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=fresh(name), **attrs))
        return output

    used.update([input_name])
    # cur: ("f32", name, rank) or ("q", name, rank, scale_name, zero_point_name, zero point)
    cur = ("f32", input_name, 1 + len(input_shape))
    act_params = {}

    def act_qparams(i: int):
        name, m = leaves[i]
        if i not in act_params:
            s, z = m.input_quant.export_params()
            prefix = name or "layer"
            act_params[i] = (const(f"{prefix}.input_scale", np.array(s, np.float32)),
                             const(f"{prefix}.input_zero_point", np.array(z, np.uint8)), z)
        return act_params[i]

    for pos, (name, m) in enumerate(leaves):
        prefix = name or "layer"
        if isinstance(m, _QATLayer):
            s_name, z_name, _ = act_qparams(pos)
            if cur[0] == "f32":
                q = node("QuantizeLinear", [cur[1], s_name, z_name], fresh(f"{prefix}.input_quantized"),
                         f"{prefix}.input_quantize")
                x_q, rank = q, cur[2]
            else:
                if cur[3] != s_name:
                    raise _error(Status.ERR_INTERNAL, "q8.torch.convert: a layer's input is quantized with "
                                                      "another layer's parameters")
                x_q, rank = cur[1], cur[2]
            x_dq = node("DequantizeLinear", [x_q, s_name, z_name], fresh(f"{x_q}_dq"), f"{prefix}.dequantize_input")
            codes, w_scale, bias = m.int8_weight()
            # per channel: 1-D scales and zero points on axis 0; per tensor: scalars
            axis = dict(axis=0) if m.per_channel else {}
            shape = w_scale.shape if m.per_channel else ()
            w_name = const(f"{prefix}.weight_quantized", codes)
            ws_name = const(f"{prefix}.weight_scale", w_scale.reshape(shape))
            wz_name = const(f"{prefix}.weight_zero_point", np.zeros(shape, np.int8))
            w_dq = node("DequantizeLinear", [w_name, ws_name, wz_name], fresh(f"{w_name}_dq"),
                        f"{prefix}.dequantize_weight", **axis)
            inputs = [x_dq, w_dq]
            if bias is not None:
                x_scale, _ = m.input_quant.export_params()
                b_scale = _bias_scale(x_scale, w_scale)
                with _quantize_bias(bias, b_scale) as bq:  # the codes BiasQuantize trains with
                    b_codes = bq.numpy()
                b_name = const(f"{prefix}.bias_quantized", b_codes)
                bs_name = const(f"{prefix}.bias_scale", b_scale.reshape(shape))
                inputs.append(node("DequantizeLinear", [b_name, bs_name], fresh(f"{b_name}_dq"),
                                   f"{prefix}.dequantize_bias", **axis))
            if isinstance(m, QATLinear):
                if rank != 2:
                    raise _error(Status.ERR_UNSUPPORTED, f"q8.torch.convert: QATLinear '{name}' gets a rank-{rank} "
                                                         "input; ONNX Gemm takes [batch, features] (add nn.Flatten)")
                op, attrs = "Gemm", dict(transB=1)
            else:
                if rank != 4:
                    raise _error(Status.ERR_UNSUPPORTED,
                                 f"q8.torch.convert: QATConv2d '{name}' gets a rank-{rank} input")
                ph, pw = _pair(m.padding)
                op, attrs = "Conv", dict(kernel_shape=list(m.kernel_size), strides=list(m.stride),
                                        pads=[ph, pw, ph, pw], dilations=list(m.dilation), group=m.groups)
            nxt = next((j for j in layers if j > pos), None)
            y = node(op, inputs, fresh(f"{prefix}.output"), prefix, **attrs)
            if nxt is None:
                cur = ("f32", y, rank)
            else:
                ns, nz, zp = act_qparams(nxt)
                yq = node("QuantizeLinear", [y, ns, nz], fresh(f"{prefix}.output_quantized"),
                          f"{prefix}.quantize_output")
                cur = ("q", yq, rank, ns, nz, zp)
        elif isinstance(m, nn.ReLU):
            if cur[0] == "f32":
                cur = ("f32", node("Relu", [cur[1]], fresh(f"{prefix}.output"), prefix), cur[2])
            elif cur[5] != 0:  # with zero point 0, max(q, 0) is the identity on u8
                dq = node("DequantizeLinear", [cur[1], cur[3], cur[4]], fresh(f"{cur[1]}_dq"), f"{prefix}.dequantize")
                r = node("Relu", [dq], fresh(f"{prefix}.output"), prefix)
                q = node("QuantizeLinear", [r, cur[3], cur[4]], fresh(f"{prefix}.output_quantized"),
                         f"{prefix}.quantize")
                cur = ("q", q) + cur[2:]
        elif isinstance(m, nn.MaxPool2d):
            if m.return_indices:
                raise _error(Status.ERR_UNSUPPORTED, f"q8.torch.convert: MaxPool2d '{name}' returns indices")
            kh, kw = _pair(m.kernel_size)
            sh, sw = _pair(m.stride if m.stride is not None else m.kernel_size)
            ph, pw = _pair(m.padding)
            attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                         ceil_mode=int(m.ceil_mode))
            if _pair(m.dilation) != (1, 1):
                attrs["dilations"] = list(_pair(m.dilation))
            if cur[0] == "f32":
                cur = ("f32", node("MaxPool", [cur[1]], fresh(f"{prefix}.output"), prefix, **attrs), cur[2])
            else:
                dq = node("DequantizeLinear", [cur[1], cur[3], cur[4]], fresh(f"{cur[1]}_dq"), f"{prefix}.dequantize")
                p = node("MaxPool", [dq], fresh(f"{prefix}.output"), prefix, **attrs)
                q = node("QuantizeLinear", [p, cur[3], cur[4]], fresh(f"{prefix}.output_quantized"),
                         f"{prefix}.quantize")
                cur = ("q", q) + cur[2:]
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise _error(Status.ERR_UNSUPPORTED, f"q8.torch.convert: Flatten '{name}' must flatten dims 1..-1")
            out = node("Flatten", [cur[1]], fresh(f"{prefix}.output" + ("_quantized" if cur[0] == "q" else "")),
                       prefix, axis=1)
            cur = (cur[0], out, 2) + cur[3:]
        # Identity and Dropout (eval): nothing to emit.

    if cur[0] != "f32" or not nodes or nodes[-1].output[0] != cur[1]:
        raise _error(Status.ERR_UNSUPPORTED, "q8.torch.convert: the model must end in a QAT layer (or f32 "
                                             "operators after it)")
    nodes[-1].output[0] = output_name
    batch = ["batch"]
    # The output's shape: one eval-mode forward of a zero batch (observers see nothing then).
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            out_shape = list(model(torch.zeros((1,) + input_shape)).shape[1:])
    finally:
        for m, training in modes:
            m.training = training
    graph = helper.make_graph(
        nodes, "q8_qat", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, batch + list(input_shape))],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, batch + out_shape)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="q8.torch",
                              ir_version=8)
    proto.doc_string = "q8.torch QAT model: weights and activations quantized as trained (QDQ)"
    onnx.checker.check_model(proto)
    return proto


def convert(model: nn.Module, path=None, *, input_shape: Optional[Sequence[int]] = None,
            input_name: str = "input", output_name: str = "output") -> Model:
    """The INT8 q8.Model of a QAT model: to_onnx(model) loaded by q8 (q8.Model.load_onnx_bytes),
    whose import fuses every layer into QGemm / QLinearConv with exactly the trained INT8
    weights, scales and zero points. `path`: also write the ONNX QDQ file there (for
    `q8 quantize`, ONNX Runtime or any ONNX tool)."""
    proto = to_onnx(model, input_shape, input_name=input_name, output_name=output_name)
    data = proto.SerializeToString()
    if path is not None:
        import os
        with open(os.fspath(path), "wb") as f:
            f.write(data)
    return Model.load_onnx_bytes(data)
