"""q8.torch: PyTorch modules with INT8 weights in q8 and q8's INT8 GEMM in their forward.

    import q8.torch
    qmodel = q8.torch.quantize_dynamic(model)          # a copy; nn.Linear and nn.Conv2d replaced
    with torch.no_grad():
        y = qmodel(x)
    int8_bytes, fp32_bytes = q8.torch.weight_bytes(qmodel)

Each nn.Linear becomes q8.torch.Linear: weights quantized once to s8, symmetric, one scale per
output feature, and packed; each call quantizes the input to u8 with its own range (dynamic
quantization), multiplies u8 x s8 -> int32 in q8 and dequantizes in the GEMM's epilogue, then
adds the f32 bias. Each nn.Conv2d with groups=1 becomes q8.torch.Conv2d: im2col with
torch.nn.functional.unfold, then the same INT8 GEMM. Inputs and outputs stay torch tensors and
q8 reads and writes their memory in place.

Limits: inference only (a forward that would need gradients raises); float32 CPU tensors (other
float dtypes are converted); grouped or depthwise convolutions are left in FP32 with a warning.
Importing q8 does not import torch; importing q8.torch does.

Quantization-aware training on q8's exact math: FakeQuantize (a torch.autograd.Function whose
forward is q8's fake quantization and whose backward q8's STE / LSQ / LSQ+ gradients),
FoldBatchNorm, QATLinear, QATConv2d, prepare_qat(model, bits), freeze_observers(model) and
convert(model, path) -> the INT8 q8.Model (via an ONNX QDQ file that `q8 quantize` keeps as it is):

    qat = q8.torch.prepare_qat(model, bits=4).train()
    ...train...
    int8 = q8.torch.convert(qat, "model_qdq.onnx")
"""
from __future__ import annotations

import copy
import warnings
from typing import Iterable, Optional, Tuple

import torch
from torch import nn
import torch.nn.functional as F

from . import DynamicLinear

__all__ = ["Linear", "Conv2d", "quantize_dynamic", "Quantizer", "weight_bytes",
           # quantization-aware training (_torch_qat.py)
           "FakeQuantize", "FoldBatchNorm", "BiasQuantize", "ActivationFakeQuantize", "QATLinear", "QATConv2d",
           "prepare_qat", "freeze_observers", "qat_parameters", "convert", "to_onnx"]


def _check_inference(module: nn.Module, x: torch.Tensor) -> None:
    if torch.is_grad_enabled() and x.requires_grad:
        raise RuntimeError(f"q8.torch.{type(module).__name__} is inference-only (its INT8 forward has no "
                           "autograd): call the model under torch.no_grad() or torch.inference_mode()")


def _as_f32(x: torch.Tensor) -> torch.Tensor:
    if x.device.type != "cpu":
        raise RuntimeError(f"q8.torch runs on the CPU; the input is on {x.device}")
    return x.detach().to(torch.float32).contiguous()


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


class _Q8Module(nn.Module):
    """Holds a q8 DynamicLinear; saves it to state_dicts as weight_int8, weight_scale and bias."""

    def __init__(self, layer: DynamicLinear):
        super().__init__()
        self._layer = layer

    def _get_name(self) -> str:  # repr: q8.torch.Linear, not to be mistaken for nn.Linear
        return f"q8.torch.{type(self).__name__}"

    @property
    def weight_bytes(self) -> int:
        """Bytes q8 keeps for the weights: INT8 values, f32 scales and bias."""
        return self._layer.weight_bytes

    @property
    def fp32_weight_bytes(self) -> int:
        """Bytes the same weights and bias take in FP32."""
        rows, cols = self._layer.out_features, self._layer.in_features
        return 4 * (rows * cols + (0 if self._layer.bias is None else rows))

    def int8_weight(self) -> torch.Tensor:
        """The INT8 weights as q8 stores them (int8 [out_features, in_features])."""
        return torch.from_numpy(self._layer.int8_weight())

    def weight_scale(self) -> torch.Tensor:
        return torch.from_numpy(self._layer.weight_scales())

    def _gemm(self, a: torch.Tensor) -> torch.Tensor:
        """a [rows, K] f32 contiguous -> [rows, out_features], computed by q8 in INT8."""
        y = torch.empty(a.shape[0], self._layer.out_features, dtype=torch.float32)
        self._layer.forward(a.numpy(), out=y.numpy())  # shares both tensors' memory
        return y

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "weight_int8"] = self.int8_weight()
        destination[prefix + "weight_scale"] = self.weight_scale()
        if self._layer.bias is not None:
            destination[prefix + "bias"] = torch.from_numpy(self._layer.bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        keys = ["weight_int8", "weight_scale"] + (["bias"] if self._layer.bias is not None else [])
        missing = [prefix + k for k in keys if prefix + k not in state_dict]
        if missing:
            missing_keys.extend(missing)
            return
        w = state_dict[prefix + "weight_int8"].to(torch.float32) * state_dict[prefix + "weight_scale"][:, None]
        bias = state_dict.get(prefix + "bias")
        if tuple(w.shape) != (self._layer.out_features, self._layer.in_features):
            error_msgs.append(f"size mismatch for {prefix}weight_int8: {tuple(w.shape)} in the state dict, "
                              f"{(self._layer.out_features, self._layer.in_features)} in the module")
            return
        # INT8 values times their scales quantize back to the same INT8 values.
        self._layer = DynamicLinear(w.numpy(), None if bias is None else bias.detach().float().numpy())

    def _bytes_repr(self) -> str:
        return f"q8 INT8 weights {_kib(self.weight_bytes)} (FP32 {_kib(self.fp32_weight_bytes)})"


class Linear(_Q8Module):
    """nn.Linear for inference with INT8 weights and q8's dynamic INT8 GEMM. Accepts any input
    shape nn.Linear accepts ([..., in_features])."""

    def __init__(self, in_features: int, out_features: int, weight: torch.Tensor,
                 bias: Optional[torch.Tensor] = None):
        w = _as_f32(weight)
        if tuple(w.shape) != (out_features, in_features):
            raise ValueError(f"weight is {tuple(w.shape)}, expected {(out_features, in_features)}")
        super().__init__(DynamicLinear(w.numpy(), None if bias is None else _as_f32(bias).numpy()))
        self.in_features = in_features
        self.out_features = out_features

    @classmethod
    def from_float(cls, module: nn.Linear) -> "Linear":
        return cls(module.in_features, module.out_features, module.weight, module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_inference(self, x)
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise RuntimeError(f"q8.torch.Linear: input of shape {tuple(x.shape)} does not end in "
                               f"in_features = {self.in_features}")
        lead = x.shape[:-1]
        y = self._gemm(_as_f32(x).reshape(-1, self.in_features))
        return y.reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self._layer.bias is not None}, {self._bytes_repr()}")


def _conv_padding(module: nn.Conv2d) -> Tuple[int, int, int, int]:
    """(left, right, top, bottom) padding of a Conv2d, resolving 'valid' and 'same'."""
    if isinstance(module.padding, str):
        if module.padding == "valid":
            return (0, 0, 0, 0)
        pads = []
        for k, d in ((module.kernel_size[1], module.dilation[1]), (module.kernel_size[0], module.dilation[0])):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = module.padding
    return (pw, pw, ph, ph)


class Conv2d(_Q8Module):
    """nn.Conv2d (groups=1) for inference: im2col (F.unfold), then q8's dynamic INT8 GEMM with the
    weights viewed as [out_channels, in_channels * kh * kw]. Any stride, dilation, padding and
    padding mode; batched [N, C, H, W] or unbatched [C, H, W] inputs."""

    def __init__(self, module: nn.Conv2d):
        if module.groups != 1:
            raise ValueError("q8.torch.Conv2d handles groups=1 only")
        w = _as_f32(module.weight).reshape(module.out_channels, -1)
        super().__init__(DynamicLinear(w.numpy(), None if module.bias is None else _as_f32(module.bias).numpy()))
        self.in_channels = module.in_channels
        self.out_channels = module.out_channels
        self.kernel_size = tuple(module.kernel_size)
        self.stride = tuple(module.stride)
        self.dilation = tuple(module.dilation)
        self.padding = _conv_padding(module)
        self.padding_mode = module.padding_mode

    @classmethod
    def from_float(cls, module: nn.Conv2d) -> "Conv2d":
        return cls(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_inference(self, x)
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise RuntimeError(f"q8.torch.Conv2d: input of shape {tuple(x.shape)} is not "
                               f"[N, {self.in_channels}, H, W]")
        x = _as_f32(x)
        left, right, top, bottom = self.padding
        if self.padding_mode == "zeros" and left == right and top == bottom:
            unfold_padding = (top, left)
        else:
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, self.padding, mode=mode)
            unfold_padding = (0, 0)
        n, _, h, w = x.shape
        kh, kw = self.kernel_size
        h_out = (h + 2 * unfold_padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        w_out = (w + 2 * unfold_padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=unfold_padding, stride=self.stride)
        # [N, C*kh*kw, L] -> rows = output pixels, K = the weights' (c, ky, kx) order
        a = cols.transpose(1, 2).reshape(n * h_out * w_out, -1)
        y = self._gemm(a.contiguous())
        y = y.view(n, h_out * w_out, self.out_channels).permute(0, 2, 1).reshape(n, self.out_channels, h_out, w_out)
        return y[0] if unbatched else y

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self._layer.bias is not None}, {self._bytes_repr()}")


def _convert(module: nn.Module, kinds: set) -> nn.Module:
    """The q8 replacement of one module, or the module itself."""
    if type(module) is nn.Linear and nn.Linear in kinds:
        return Linear.from_float(module)
    if type(module) is nn.Conv2d and nn.Conv2d in kinds:
        if module.groups != 1:
            warnings.warn(f"q8.torch: {module} has groups={module.groups}; only groups=1 runs on q8's "
                          "INT8 GEMM, so this convolution stays FP32", stacklevel=3)
            return module
        return Conv2d.from_float(module)
    return module


def _swap(module: nn.Module, kinds: set) -> None:
    for name, child in module.named_children():
        replacement = _convert(child, kinds)
        if replacement is not child:
            setattr(module, name, replacement)
        else:
            _swap(child, kinds)


def quantize_dynamic(model: nn.Module, modules: Iterable[type] = (nn.Linear, nn.Conv2d),
                     inplace: bool = False) -> nn.Module:
    """`model` with every nn.Linear and nn.Conv2d (exact types, as torch.ao.quantization's
    dynamic quantization matches them) replaced by its q8 INT8 module. A deep copy unless
    `inplace`. Subclasses of those types (e.g. MultiheadAttention's out_proj) are left alone."""
    kinds = set(modules)
    unknown = kinds - {nn.Linear, nn.Conv2d}
    if unknown:
        raise ValueError(f"q8.torch quantizes nn.Linear and nn.Conv2d, not {sorted(k.__name__ for k in unknown)}")
    if not inplace:
        model = copy.deepcopy(model)
    converted = _convert(model, kinds)
    if converted is not model:
        return converted
    _swap(model, kinds)
    return model


class Quantizer:
    """quantize_dynamic with its options kept: Quantizer().quantize_dynamic(model)."""

    def __init__(self, modules: Iterable[type] = (nn.Linear, nn.Conv2d), inplace: bool = False):
        self.modules = tuple(modules)
        self.inplace = inplace

    def quantize_dynamic(self, model: nn.Module) -> nn.Module:
        return quantize_dynamic(model, self.modules, self.inplace)


def weight_bytes(model: nn.Module) -> Tuple[int, int]:
    """(bytes q8 keeps for the INT8 layers' weights, bytes the same weights take in FP32)."""
    q8_bytes = fp32_bytes = 0
    for m in model.modules():
        if isinstance(m, _Q8Module):
            q8_bytes += m.weight_bytes
            fp32_bytes += m.fp32_weight_bytes
    return q8_bytes, fp32_bytes


from ._torch_qat import (ActivationFakeQuantize, BiasQuantize, FakeQuantize, FoldBatchNorm,  # noqa: E402
                         QATConv2d, QATLinear, convert, freeze_observers, prepare_qat, qat_parameters,
                         to_onnx)
