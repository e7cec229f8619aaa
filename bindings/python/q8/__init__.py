"""q8: INT8 quantization for Python: tensors, observers, INT8 GEMM, fixed point, whole models.

    import numpy as np, q8

    w = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32)
    with q8.quantize(w, scheme="symmetric_narrow", axis=0) as wq:   # s8, one scale per row
        print(wq, wq.qparams.scale[:3])
        err = np.abs(q8.dequantize(wq) - w).max()

    x, qx = ..., ...
    y = q8.gemm_u8s8(xq, wq_int8, b_transposed=True, scales=sx * sw)   # numpy in, numpy out

    model = q8.Model.load_onnx("digits_mlp.onnx")
    with model.quantize(calibration=[batch1, batch2]) as int8, q8.Session(int8, batch=64) as s:
        logits, = s.run(x)

Handles (Tensor, Observer, PackedMatrix, DynamicLinear, Model, Session) free their C memory on
close(), at the end of a ``with`` block, or when collected; a closed object raises q8.StateError.
Arrays go in and out as numpy arrays: calls over arrays (GEMM, fixed point, DynamicLinear) read
and write the arrays' own memory; a Tensor holds its own copy. Errors raise q8.Error, or the
subclass of the failing status (ShapeError is also a ValueError, DTypeError a TypeError, ...),
carrying q8's message. ``q8.capi`` is the generated layer (every C function without its q8_
prefix), for what this module does not wrap; ``Tensor.handle`` etc. give it the native handles.
q8.fixed holds the fixed-point calls, q8.qat the quantization-aware-training math (fake quantization,
STE/LSQ gradients, BatchNorm folding); q8.torch (imported on its own) quantizes PyTorch modules and
trains them quantization-aware.
"""
from __future__ import annotations

import enum
import os
import weakref
from typing import Any, Iterable, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._q8native import (DTypeError, Error, FileError, FormatError, InternalError,
                        InvalidArgumentError, OutOfMemoryError, ShapeError, StateError,
                        UnsupportedError)

_n = _native
capi = _native  # the generated layer, public under this name

if _n.version() // 10000 != _n.Q8_VERSION_MAJOR:
    raise ImportError(f"q8: libq8 {_n.version_string()} does not match the binding's headers "
                      f"(major version {_n.Q8_VERSION_MAJOR})")

__version__ = _n.version_string()

__all__ = [
    "Error", "InvalidArgumentError", "ShapeError", "DTypeError", "OutOfMemoryError", "FileError",
    "FormatError", "UnsupportedError", "InternalError", "StateError",
    "Status", "DType", "Scheme", "ObserverKind", "PtqMode", "Rounding", "Isa", "PrunePattern",
    "PruneNorm", "QParams", "Tensor", "Observer", "PackedMatrix", "DynamicLinear", "Model",
    "Session", "Calibration", "PartitionBalance", "PartitionPlan", "Pipeline", "WeightFormat",
    "checkpoint_quantize", "quantize", "dequantize", "requantize", "qparams_from_range", "gemm_u8s8",
    "gemm_s8s8", "gemm_f32", "dynamic_quantize_u8", "prune_mask", "live_handles", "version",
    "set_threads", "threads", "isa", "set_isa", "isa_supported", "capi", "fixed", "qat",
]


# ---- enums -------------------------------------------------------------------------------------

class Status(enum.IntEnum):
    """q8_status: what Error.status holds."""
    OK = _n.Q8_OK
    ERR_INVALID_ARGUMENT = _n.Q8_ERR_INVALID_ARGUMENT
    ERR_SHAPE = _n.Q8_ERR_SHAPE
    ERR_DTYPE = _n.Q8_ERR_DTYPE
    ERR_OUT_OF_MEMORY = _n.Q8_ERR_OUT_OF_MEMORY
    ERR_IO = _n.Q8_ERR_IO
    ERR_FORMAT = _n.Q8_ERR_FORMAT
    ERR_UNSUPPORTED = _n.Q8_ERR_UNSUPPORTED
    ERR_INTERNAL = _n.Q8_ERR_INTERNAL
    ERR_STATE = _n.Q8_ERR_STATE


class DType(enum.IntEnum):
    """Element types of a Tensor; .numpy is the matching numpy dtype."""
    F32 = _n.Q8_DTYPE_F32
    S8 = _n.Q8_DTYPE_S8
    U8 = _n.Q8_DTYPE_U8
    S32 = _n.Q8_DTYPE_S32

    @property
    def numpy(self) -> np.dtype:
        return _NUMPY_OF[self]


_NUMPY_OF = {DType.F32: np.dtype(np.float32), DType.S8: np.dtype(np.int8),
             DType.U8: np.dtype(np.uint8), DType.S32: np.dtype(np.int32)}
_DTYPE_OF = {v: k for k, v in _NUMPY_OF.items()}


class Scheme(enum.IntEnum):
    """How a real range maps to integers (q8_scheme)."""
    SYMMETRIC_NARROW = _n.Q8_SCHEME_SYMMETRIC_NARROW  # s8 in [-127, 127], zero point 0
    SYMMETRIC = _n.Q8_SCHEME_SYMMETRIC                # s8 in [-128, 127], zero point 0
    ASYMMETRIC_U8 = _n.Q8_SCHEME_ASYMMETRIC_U8        # u8 with a zero point
    ASYMMETRIC_S8 = _n.Q8_SCHEME_ASYMMETRIC_S8        # s8 with a zero point

    @property
    def dtype(self) -> DType:
        return DType.U8 if self is Scheme.ASYMMETRIC_U8 else DType.S8


class ObserverKind(enum.IntEnum):
    """Calibration observers (q8_observer_kind)."""
    MINMAX = _n.Q8_OBSERVER_MINMAX
    MOVING_AVERAGE_MINMAX = _n.Q8_OBSERVER_MOVING_AVERAGE_MINMAX
    PERCENTILE = _n.Q8_OBSERVER_PERCENTILE
    ENTROPY = _n.Q8_OBSERVER_ENTROPY
    MSE = _n.Q8_OBSERVER_MSE


class PtqMode(enum.IntEnum):
    """Post-training quantization modes (q8_ptq_mode)."""
    DYNAMIC = _n.Q8_PTQ_DYNAMIC
    STATIC = _n.Q8_PTQ_STATIC
    WEIGHT_ONLY = _n.Q8_PTQ_WEIGHT_ONLY


class Rounding(enum.IntEnum):
    """Rounding of reals to fixed point (q8_rounding)."""
    TOWARD_ZERO = _n.Q8_ROUND_TOWARD_ZERO
    NEAREST_AWAY = _n.Q8_ROUND_NEAREST_AWAY
    NEAREST_EVEN = _n.Q8_ROUND_NEAREST_EVEN


class Isa(enum.IntEnum):
    """Kernel instruction sets (q8_isa); results are identical on every one."""
    AUTO = _n.Q8_ISA_AUTO
    SCALAR = _n.Q8_ISA_SCALAR
    AVX2 = _n.Q8_ISA_AVX2
    AVX512 = _n.Q8_ISA_AVX512
    AVX512_VNNI = _n.Q8_ISA_AVX512_VNNI
    NEON = _n.Q8_ISA_NEON


class PrunePattern(enum.IntEnum):
    """Which weights a pruning mask removes (q8_prune_pattern)."""
    UNSTRUCTURED = _n.Q8_PRUNE_UNSTRUCTURED
    N_M = _n.Q8_PRUNE_N_M
    BLOCK = _n.Q8_PRUNE_BLOCK
    CHANNEL = _n.Q8_PRUNE_CHANNEL


class PruneNorm(enum.IntEnum):
    """How blocks and channels are scored for pruning (q8_prune_norm)."""
    L2 = _n.Q8_PRUNE_NORM_L2
    L1 = _n.Q8_PRUNE_NORM_L1


class PartitionBalance(enum.IntEnum):
    """What a partition plan equalizes (q8_partition_balance)."""
    BYTES = _n.Q8_PARTITION_BY_BYTES
    FLOPS = _n.Q8_PARTITION_BY_FLOPS


class WeightFormat(enum.IntEnum):
    """Weight-only formats of checkpoint quantization (q8_weight_format)."""
    INT8_PER_CHANNEL = _n.Q8_WEIGHTS_INT8_PER_CHANNEL
    INT4_GROUPED = _n.Q8_WEIGHTS_INT4_GROUPED


_ERROR_CLASS = {Status.ERR_INVALID_ARGUMENT: InvalidArgumentError, Status.ERR_SHAPE: ShapeError,
                Status.ERR_DTYPE: DTypeError, Status.ERR_OUT_OF_MEMORY: OutOfMemoryError,
                Status.ERR_IO: FileError, Status.ERR_FORMAT: FormatError,
                Status.ERR_UNSUPPORTED: UnsupportedError, Status.ERR_INTERNAL: InternalError,
                Status.ERR_STATE: StateError}


def _error(status: Status, message: str) -> Error:
    """The exception the C layer would raise for `status` (same class, attributes and text)."""
    name = _n.status_string(int(status))
    e = _ERROR_CLASS.get(status, Error)(f"{name}: {message}")
    e.status, e.status_name, e.message = int(status), name, message
    return e


def _enum(cls, value, what: str):
    """An enum member from itself, its value or its name (any case: "symmetric_narrow")."""
    if isinstance(value, cls):
        return value
    try:
        if isinstance(value, str):
            return cls[value.upper()]
        return cls(value)
    except (KeyError, ValueError):
        names = ", ".join(m.name.lower() for m in cls)
        raise _error(Status.ERR_INVALID_ARGUMENT, f"{what} {value!r} is not one of: {names}") from None


def _dtype(value) -> DType:
    """A DType from a DType, its name ("s8"), or anything numpy takes as a dtype."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str) and value.upper() in DType.__members__:
        return DType[value.upper()]
    try:
        return _DTYPE_OF[np.dtype(value)]
    except (TypeError, KeyError):
        raise _error(Status.ERR_DTYPE,
                     f"dtype {value!r} is not one of f32, s8, u8, s32 (float32, int8, uint8, int32)") from None


# ---- arrays ------------------------------------------------------------------------------------

def _contiguous(a: np.ndarray) -> np.ndarray:
    """`a` itself when C-contiguous, else a C-ordered copy (keeps 0-d arrays 0-d)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _array(x, dtype, what: str, ndim: Optional[int] = None) -> np.ndarray:
    """x as a C-contiguous array of `dtype`, without copying when it already is one.

    Floating targets take any real numbers; integer targets take integers whose values fit
    (checked: never a silent wrap), floats are refused."""
    dtype = np.dtype(dtype)
    a = np.asarray(x)
    if a.dtype != dtype:
        if dtype.kind == "f" and a.dtype.kind in "fiub":
            a = a.astype(dtype)
        elif dtype.kind in "iu" and a.dtype.kind in "iub":
            info = np.iinfo(dtype)
            if a.size and (a.min() < info.min or a.max() > info.max):
                raise _error(Status.ERR_INVALID_ARGUMENT,
                             f"{what} holds values outside {dtype.name}'s [{info.min}, {info.max}]")
            a = a.astype(dtype)
        else:
            raise _error(Status.ERR_DTYPE, f"{what} must be {dtype.name}, not {a.dtype.name}")
    if ndim is not None and a.ndim != ndim:
        raise _error(Status.ERR_SHAPE, f"{what} must be {ndim}-D, not of shape {a.shape}")
    return _contiguous(a)


def _optional(x, dtype, what: str) -> np.ndarray:
    """An optional vector argument: empty when None, 1-D otherwise."""
    if x is None:
        return np.empty(0, dtype)
    return _array(x, dtype, what).reshape(-1)


def _output(out, shape, dtype, what: str = "out") -> np.ndarray:
    """The caller's output array, checked (q8 writes into it), or a new one."""
    dtype = np.dtype(dtype)
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise _error(Status.ERR_DTYPE, f"{what} must be a numpy array, not {type(out).__name__}")
    if out.dtype != dtype:
        raise _error(Status.ERR_DTYPE, f"{what} must be {dtype.name}, not {out.dtype.name}")
    if tuple(out.shape) != tuple(shape):
        raise _error(Status.ERR_SHAPE, f"{what} must have shape {tuple(shape)}, not {out.shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise _error(Status.ERR_INVALID_ARGUMENT, f"{what} must be C-contiguous and writable")
    return out


def _shape(shape) -> Tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


# ---- handles -----------------------------------------------------------------------------------

class _Handle:
    """A native q8 object owned by this wrapper; close() frees it, at most once."""
    __slots__ = ("_h", "__weakref__")
    _kind = "object"

    def _live(self):
        h = getattr(self, "_h", None)
        if h is None:
            raise _error(Status.ERR_STATE, f"{self._kind} is closed")
        return h

    @property
    def closed(self) -> bool:
        return getattr(self, "_h", None) is None

    @property
    def handle(self):
        """The native object, for the calls of q8.capi (it reads as closed once this is)."""
        return self._live()

    def close(self) -> None:
        """Frees the native object now. Closing again does nothing; other calls then raise."""
        h = getattr(self, "_h", None)
        self._h = None
        if h is not None:
            type(h).__swig_destroy__(h)  # also clears the pointer in h

    def __enter__(self):
        self._live()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # the safety net; with and close() are the deterministic ways
        self.close()

    @classmethod
    def _adopt(cls, h):
        obj = cls.__new__(cls)
        obj._h = h
        return obj


class QParams(NamedTuple):
    """Quantization parameters: floats per tensor (axis None), or numpy arrays along `axis`."""
    scale: Any
    zero_point: Any
    axis: Optional[int] = None


class Tensor(_Handle):
    """A q8 tensor: dense, row-major, f32/s8/u8/s32, rank 0 to 8, with optional quantization
    parameters. It owns its storage: from_numpy() and numpy() copy once.

        t = q8.Tensor((2, 3), "s8")              # zero-filled
        t = q8.Tensor.from_numpy(a, scale=0.1)   # a copy of a, with per-tensor parameters
    """
    __slots__ = ()
    _kind = "Tensor"

    def __init__(self, shape: Union[int, Sequence[int]] = (), dtype="f32"):
        self._h = _n.Tensor(int(_dtype(dtype)), _shape(shape))

    @classmethod
    def from_numpy(cls, array, dtype=None, *, scale=None, zero_point=0,
                   axis: Optional[int] = None) -> "Tensor":
        """A tensor holding a copy of `array` (float arrays become f32 unless `dtype` says
        otherwise), with quantization parameters if `scale` is given (see set_qparams)."""
        a = np.asarray(array)
        if dtype is not None:
            target = _dtype(dtype).numpy
        elif a.dtype.kind == "f":
            target = np.dtype(np.float32)
        else:
            target = _dtype(a.dtype).numpy
        a = _array(array, target, "array")
        make = {DType.F32: _n.Tensor.fromF32, DType.S8: _n.Tensor.fromS8,
                DType.U8: _n.Tensor.fromU8, DType.S32: _n.Tensor.fromS32}[_DTYPE_OF[a.dtype]]
        t = cls._adopt(make(a, a.shape))
        if scale is not None:
            try:
                t.set_qparams(scale, zero_point, axis)
            except BaseException:
                t.close()
                raise
        return t

    @property
    def dtype(self) -> DType:
        return DType(self._live().dtype())

    @property
    def shape(self) -> Tuple[int, ...]:
        h = self._live()
        return tuple(h.dim(i) for i in range(h.rank()))

    @property
    def ndim(self) -> int:
        return self._live().rank()

    @property
    def size(self) -> int:
        """Number of elements."""
        return self._live().numel()

    @property
    def nbytes(self) -> int:
        return self._live().nbytes()

    def numpy(self) -> np.ndarray:
        """A numpy copy of the elements (dtype float32, int8, uint8 or int32)."""
        h = self._live()
        dtype = DType(h.dtype())
        out = np.empty(self.shape, dtype.numpy)
        {DType.F32: h.copyToF32, DType.S8: h.copyToS8, DType.U8: h.copyToU8,
         DType.S32: h.copyToS32}[dtype](out)
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def copy_from(self, array) -> None:
        """Overwrites the elements with `array` (this tensor's dtype, as many elements)."""
        h = self._live()
        dtype = DType(h.dtype())
        a = _array(array, dtype.numpy, "array")
        {DType.F32: h.copyFromF32, DType.S8: h.copyFromS8, DType.U8: h.copyFromU8,
         DType.S32: h.copyFromS32}[dtype](a)

    @property
    def qparams(self) -> Optional[QParams]:
        """None, QParams(scale, zero_point) per tensor, or arrays along .axis."""
        h = self._live()
        n = h.qparamsCount()
        if n == 0:
            return None
        axis = h.qparamsAxis()
        if axis < 0:
            return QParams(h.scale(0), h.zeroPoint(0))
        scales, zero_points = np.empty(n, np.float32), np.empty(n, np.int32)
        h.copyScales(scales)
        h.copyZeroPoints(zero_points)
        return QParams(scales, zero_points, axis)

    def set_qparams(self, scale, zero_point=0, axis: Optional[int] = None) -> None:
        """Per tensor (scalars), or per index of `axis` (arrays of that axis' length; a scalar
        zero point applies to every index)."""
        h = self._live()
        if axis is None:
            h.setQParams(float(scale), int(zero_point))
            return
        s = _optional(scale, np.float32, "scale")
        z = np.full(s.shape, zero_point) if np.ndim(zero_point) == 0 else zero_point
        h.setQParamsPerAxis(int(axis), s, _optional(z, np.int32, "zero_point"))

    def clear_qparams(self) -> None:
        self._live().clearQParams()

    def reshape_(self, shape: Sequence[int]) -> "Tensor":
        """Gives the tensor a new shape of the same element count, in place; returns it."""
        self._live().reshape(_shape(shape))
        return self

    def clone(self) -> "Tensor":
        """A deep copy (own storage, parameters included)."""
        return Tensor._adopt(self._live().clone())

    __copy__ = clone

    def __deepcopy__(self, memo) -> "Tensor":
        return self.clone()

    def dequantize(self) -> np.ndarray:
        """The f32 values this quantized tensor stands for."""
        return dequantize(self)

    def __repr__(self) -> str:
        if self.closed:
            return "q8.Tensor(closed)"
        q = self.qparams
        if q is None:
            params = ""
        elif q.axis is None:
            params = f", scale={q.scale:.6g}, zero_point={q.zero_point}"
        else:
            params = f", per-axis qparams on axis {q.axis} ({len(q.scale)} scales)"
        return f"q8.Tensor({self.dtype.name.lower()}, shape={self.shape}{params})"


def _tensor_arg(x, what: str = "x") -> Tuple[Tensor, bool]:
    """(a Tensor for x, whether it is a temporary to close): Tensors pass through."""
    if isinstance(x, Tensor):
        x._live()
        return x, False
    return Tensor.from_numpy(x), True


# ---- quantization ------------------------------------------------------------------------------

def quantize(x, scheme: Union[Scheme, str] = Scheme.ASYMMETRIC_U8, axis: Optional[int] = None, *,
             scale=None, zero_point=0, dtype=None) -> Tensor:
    """Quantizes x (a float array or an f32 Tensor) into a new Tensor carrying its parameters.

    Without `scale`, the parameters come from x's own min/max under `scheme`, per tensor or one
    per index of `axis`. With `scale` (and `zero_point`; arrays along `axis`), they are used as
    given, and the dtype is `dtype` or the scheme's. Exactly ONNX QuantizeLinear's numbers:
    q = clamp(round_half_to_even(x / scale) + zero_point)."""
    scheme = _enum(Scheme, scheme, "scheme")
    t, temporary = _tensor_arg(x)
    try:
        if scale is None:
            return Tensor._adopt(_n.quantize_tensor(t._live(), int(scheme), -1 if axis is None else int(axis)))
        y = Tensor(t.shape, scheme.dtype if dtype is None else dtype)
        try:
            y.set_qparams(scale, zero_point, axis)
            _n.quantize(t._live(), y._live())
        except BaseException:
            y.close()
            raise
        return y
    finally:
        if temporary:
            t.close()


def dequantize(q: Tensor) -> np.ndarray:
    """The f32 values of a quantized Tensor: (q - zero_point) * scale, as a numpy array."""
    if not isinstance(q, Tensor):
        raise _error(Status.ERR_DTYPE, f"dequantize takes a q8.Tensor, not {type(q).__name__}")
    with Tensor._adopt(_n.dequantize_tensor(q._live())) as y:
        return y.numpy()


def requantize(q: Tensor, scale, zero_point=0, dtype=None, axis: Optional[int] = None) -> Tensor:
    """A new quantized Tensor with other parameters (and maybe dtype): exactly
    quantize(dequantize(q)) element by element."""
    y = Tensor(q.shape, q.dtype if dtype is None else dtype)
    try:
        y.set_qparams(scale, zero_point, axis)
        _n.requantize(q._live(), y._live())
    except BaseException:
        y.close()
        raise
    return y


def qparams_from_range(min: float, max: float,
                       scheme: Union[Scheme, str] = Scheme.ASYMMETRIC_U8) -> QParams:
    """Scale and zero point for the real range [min, max] under `scheme`."""
    p = _n.qparams_from_range(int(_enum(Scheme, scheme, "scheme")), float(min), float(max))
    return QParams(p.scale, p.zero_point)


class Observer(_Handle):
    """A calibration observer: feed it batches with update(), then read qparams or apply() them.

        obs = q8.Observer("percentile", "asymmetric_u8", percentile=99.9)
        for batch in batches: obs.update(batch)
        q = obs.quantize(x)
    """
    __slots__ = ("_scheme", "_axis")
    _kind = "Observer"

    def __init__(self, kind: Union[ObserverKind, str] = ObserverKind.MINMAX,
                 scheme: Union[Scheme, str] = Scheme.ASYMMETRIC_U8, axis: Optional[int] = None, *,
                 averaging_constant: Optional[float] = None, percentile: Optional[float] = None,
                 bins: Optional[int] = None):
        options = _n.ObserverOptions()
        self._scheme = _enum(Scheme, scheme, "scheme")
        self._axis = None if axis is None else int(axis)
        options.kind = int(_enum(ObserverKind, kind, "observer kind"))
        options.scheme = int(self._scheme)
        options.axis = -1 if axis is None else self._axis
        if averaging_constant is not None:
            options.averaging_constant = float(averaging_constant)
        if percentile is not None:
            options.percentile = float(percentile)
        if bins is not None:
            options.bins = int(bins)
        self._h = _n.Observer(options)

    def update(self, batch) -> None:
        """Feeds one f32 batch (array or Tensor)."""
        h = self._live()
        t, temporary = _tensor_arg(batch, "batch")
        try:
            h.update(t._live())
        finally:
            if temporary:
                t.close()

    @property
    def channels(self) -> int:
        return self._live().channels()

    def range(self) -> Tuple[Any, Any]:
        """(min, max) chosen so far: floats per tensor, arrays per channel."""
        h = self._live()
        n = h.channels()
        lo, hi = np.empty(n, np.float32), np.empty(n, np.float32)
        h.copyMins(lo)
        h.copyMaxs(hi)
        return (float(lo[0]), float(hi[0])) if self._axis is None else (lo, hi)

    @property
    def qparams(self) -> QParams:
        """The chosen parameters: floats per tensor, arrays per channel (with .axis)."""
        h = self._live()
        n = h.channels()
        if self._axis is None:
            return QParams(h.scale(0), h.zeroPoint(0))
        scales, zero_points = np.empty(n, np.float32), np.empty(n, np.int32)
        h.copyScales(scales)
        h.copyZeroPoints(zero_points)
        return QParams(scales, zero_points, self._axis)

    def apply(self, tensor: Tensor) -> None:
        """Sets the chosen parameters on `tensor` (of the scheme's dtype)."""
        self._live().apply(tensor._live())

    def quantize(self, x) -> Tensor:
        """x quantized with the chosen parameters, into a new Tensor."""
        t, temporary = _tensor_arg(x)
        try:
            y = Tensor(t.shape, self._scheme.dtype)
            try:
                self._live().apply(y._live())
                _n.quantize(t._live(), y._live())
            except BaseException:
                y.close()
                raise
            return y
        finally:
            if temporary:
                t.close()

    def reset(self) -> None:
        """Forgets every batch seen; the options stay (and so does the frozen state)."""
        self._live().reset()

    @property
    def frozen(self) -> bool:
        """While frozen, update() checks its batch but changes nothing (QAT freezes activation
        ranges after the first steps): q8_observer_set_frozen."""
        return self._live().frozen()

    @frozen.setter
    def frozen(self, value: bool) -> None:
        self._live().setFrozen(bool(value))

    def freeze(self, frozen: bool = True) -> None:
        """Same as ``observer.frozen = frozen``."""
        self.frozen = frozen

    def __repr__(self) -> str:
        if self.closed:
            return "q8.Observer(closed)"
        where = "per tensor" if self._axis is None else f"axis={self._axis}"
        return f"q8.Observer({self._scheme.name.lower()}, {where})"


# ---- GEMM --------------------------------------------------------------------------------------

def _gemm_shapes(a: np.ndarray, b: np.ndarray, b_transposed: bool) -> Tuple[int, int, int]:
    m, k = a.shape
    n, kb = (b.shape[0], b.shape[1]) if b_transposed else (b.shape[1], b.shape[0])
    if kb != k:
        layout = "[n, k]" if b_transposed else "[k, n]"
        raise _error(Status.ERR_SHAPE, f"a is {a.shape} (k = {k}) but b {layout} is {b.shape}")
    return m, n, k


def gemm_u8s8(a, b, *, a_zero_point: int = 0, b_zero_point: int = 0, b_transposed: bool = False,
              bias=None, scales=None, out=None) -> np.ndarray:
    """INT8 matrix product: C = (A - a_zero_point) @ (B - b_zero_point) + bias.

    a: uint8 [m, k]; b: int8 [k, n], or [n, k] with b_transposed (a Linear weight); bias: None or
    int32 [n]. Returns int32 [m, n], or float32 (C * scales, scales of 1 or n entries) when
    `scales` is given: the dequantizing epilogue. `out` (optional) receives the result in place."""
    a = _array(a, np.uint8, "a", 2)
    b = _array(b, np.int8, "b", 2)
    m, n, k = _gemm_shapes(a, b, b_transposed)
    bias = _optional(bias, np.int32, "bias")
    if scales is None:
        out = _output(out, (m, n), np.int32)
        _n.gemm_u8s8_s32(m, n, k, a, int(a_zero_point), b, bool(b_transposed), int(b_zero_point), bias, out)
    else:
        out = _output(out, (m, n), np.float32)
        _n.gemm_u8s8_f32(m, n, k, a, int(a_zero_point), b, bool(b_transposed), int(b_zero_point), bias,
                         _optional(scales, np.float32, "scales"), out)
    return out


def gemm_s8s8(a, b, *, a_zero_point: int = 0, b_zero_point: int = 0, b_transposed: bool = False,
              bias=None, out=None) -> np.ndarray:
    """As gemm_u8s8 with an int8 A; returns int32 [m, n]."""
    a = _array(a, np.int8, "a", 2)
    b = _array(b, np.int8, "b", 2)
    m, n, k = _gemm_shapes(a, b, b_transposed)
    out = _output(out, (m, n), np.int32)
    _n.gemm_s8s8_s32(m, n, k, a, int(a_zero_point), b, bool(b_transposed), int(b_zero_point),
                     _optional(bias, np.int32, "bias"), out)
    return out


def gemm_f32(a, b, *, b_transposed: bool = False, out=None) -> np.ndarray:
    """FP32 C = A @ B (OpenBLAS): the reference an INT8 product is compared with."""
    a = _array(a, np.float32, "a", 2)
    b = _array(b, np.float32, "b", 2)
    m, n, k = _gemm_shapes(a, b, b_transposed)
    out = _output(out, (m, n), np.float32)
    _n.gemm_f32(m, n, k, a, b, bool(b_transposed), out)
    return out


class PackedMatrix(_Handle):
    """An int8 B packed once for many products (weights): [k, n], or [n, k] with b_transposed.
    zero_points: None (0), one, or n."""
    __slots__ = ()
    _kind = "PackedMatrix"

    def __init__(self, b, *, b_transposed: bool = False, zero_points=None):
        b = _array(b, np.int8, "b", 2)
        k, n = (b.shape[1], b.shape[0]) if b_transposed else b.shape
        self._h = _n.PackedMatrix(k, n, b, bool(b_transposed), _optional(zero_points, np.int32, "zero_points"))

    @property
    def k(self) -> int:
        return self._live().k()

    @property
    def n(self) -> int:
        return self._live().n()

    def multiply(self, a, *, a_zero_point: int = 0, bias=None, scales=None, out=None) -> np.ndarray:
        """(A - a_zero_point) @ B + bias for a uint8 A [m, k]: int32, or float32 times `scales`."""
        h = self._live()
        a = _array(a, np.uint8, "a", 2)
        if a.shape[1] != h.k():
            raise _error(Status.ERR_SHAPE, f"a is {a.shape} but the packed matrix has k = {h.k()}")
        m, n = a.shape[0], h.n()
        bias = _optional(bias, np.int32, "bias")
        if scales is None:
            out = _output(out, (m, n), np.int32)
            h.multiplyS32(m, a, int(a_zero_point), bias, out)
        else:
            out = _output(out, (m, n), np.float32)
            h.multiplyF32(m, a, int(a_zero_point), bias, _optional(scales, np.float32, "scales"), out)
        return out

    def __repr__(self) -> str:
        return "q8.PackedMatrix(closed)" if self.closed else f"q8.PackedMatrix(k={self.k}, n={self.n})"


def dynamic_quantize_u8(x) -> Tuple[np.ndarray, QParams]:
    """x (float) quantized to uint8 with its own range widened to include 0 (ONNX
    DynamicQuantizeLinear): (the uint8 array of x's shape, its QParams)."""
    x = _array(x, np.float32, "x")
    q = np.empty(x.shape, np.uint8)
    p = _n.dynamic_quantize_u8(x, q)
    return q, QParams(p.scale, p.zero_point)


class DynamicLinear(_Handle):
    """A Linear layer with INT8 weights (symmetric, one scale per output feature, packed once)
    whose forward quantizes its input per call to uint8 and multiplies in INT8:
    y = (x_q - zx) W_q^T * (sx * sw[o]) + bias. What PyTorch's dynamic quantization makes."""
    __slots__ = ("_bias",)
    _kind = "DynamicLinear"

    def __init__(self, weight, bias=None):
        w = _array(weight, np.float32, "weight", 2)
        self._bias = None if bias is None else _optional(bias, np.float32, "bias").copy()
        self._h = _n.DynamicLinear(w.shape[0], w.shape[1], w,
                                   np.empty(0, np.float32) if self._bias is None else self._bias)

    @property
    def in_features(self) -> int:
        return self._live().inFeatures()

    @property
    def out_features(self) -> int:
        return self._live().outFeatures()

    @property
    def weight_bytes(self) -> int:
        """Bytes kept for the weights: INT8 values, f32 scales and bias."""
        return self._live().weightBytes()

    @property
    def bias(self) -> Optional[np.ndarray]:
        return None if self._bias is None else self._bias.copy()

    def int8_weight(self) -> np.ndarray:
        """The stored INT8 weights, int8 [out_features, in_features]."""
        h = self._live()
        out = np.empty((h.outFeatures(), h.inFeatures()), np.int8)
        h.weights(out)
        return out

    def weight_scales(self) -> np.ndarray:
        """One float32 scale per output feature."""
        h = self._live()
        out = np.empty(h.outFeatures(), np.float32)
        h.weightScales(out)
        return out

    def forward(self, x, out=None) -> np.ndarray:
        """y [..., out_features] for x [..., in_features] (any leading dimensions)."""
        h = self._live()
        x = _array(x, np.float32, "x")
        if x.ndim == 0 or x.shape[-1] != h.inFeatures():
            raise _error(Status.ERR_SHAPE, f"x has shape {x.shape}; its last dimension must be "
                                           f"in_features = {h.inFeatures()}")
        rows = x.size // h.inFeatures() if h.inFeatures() else int(np.prod(x.shape[:-1]))
        out = _output(out, x.shape[:-1] + (h.outFeatures(),), np.float32)
        h.forward(rows, x, out)
        return out

    __call__ = forward

    def __deepcopy__(self, memo) -> "DynamicLinear":
        # The INT8 weights times their scales quantize back to the same INT8 weights.
        return DynamicLinear(self.int8_weight() * self.weight_scales()[:, None], self._bias)

    def __copy__(self) -> "DynamicLinear":
        return self.__deepcopy__({})

    def __repr__(self) -> str:
        if self.closed:
            return "q8.DynamicLinear(closed)"
        return (f"q8.DynamicLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self._bias is not None})")


# ---- pruning -----------------------------------------------------------------------------------

def prune_mask(weights, pattern: Union[PrunePattern, str] = PrunePattern.UNSTRUCTURED, *,
               sparsity: float = 0.5, n: int = 2, m: int = 4, block: Tuple[int, int] = (4, 4),
               norm: Union[PruneNorm, str] = PruneNorm.L2) -> np.ndarray:
    """The keep (1) / prune (0) uint8 mask of float weights by magnitude (q8_prune_mask): rows are
    dimension 0, the reduction the rest; N:M keeps n of every m along it."""
    options = _n.PruneOptions()
    options.pattern = int(_enum(PrunePattern, pattern, "pattern"))
    options.sparsity = float(sparsity)
    options.n, options.m = int(n), int(m)
    options.block_rows, options.block_cols = int(block[0]), int(block[1])
    options.norm = int(_enum(PruneNorm, norm, "norm"))
    t, temporary = _tensor_arg(weights, "weights")
    try:
        with Tensor._adopt(_n.prune_mask(t._live(), options)) as mask:
            return mask.numpy()
    finally:
        if temporary:
            t.close()


# ---- models ------------------------------------------------------------------------------------

def _tensor_list(groups: Iterable[Sequence[Any]]):
    """A native TensorList of copies of every array (or Tensor) in `groups`, in order."""
    tl = _n.TensorList()
    try:
        for group in groups:
            for x in group:
                t, temporary = _tensor_arg(x)
                try:
                    tl.add(t._live())
                finally:
                    if temporary:
                        t.close()
    except BaseException:
        type(tl).__swig_destroy__(tl)
        raise
    return tl


def _ptq_options(mode, per_channel, weight_scheme, activation_scheme, observer, percentile):
    options = _n.PtqOptions()
    options.mode = int(_enum(PtqMode, mode, "mode"))
    options.per_channel = 1 if per_channel else 0
    if weight_scheme is not None:
        options.weight_scheme = int(_enum(Scheme, weight_scheme, "weight scheme"))
    if activation_scheme is not None:
        options.activation_scheme = int(_enum(Scheme, activation_scheme, "activation scheme"))
    if observer is not None:
        options.observer = int(_enum(ObserverKind, observer, "observer"))
    if percentile is not None:
        options.percentile = float(percentile)
    return options


def _run(h, inputs) -> None:
    """Runs a native Session or Pipeline on one array (or Tensor) per model input."""
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    if len(inputs) == 1:
        t, temporary = _tensor_arg(inputs[0])
        try:
            h.runOne(t._live())
        finally:
            if temporary:
                t.close()
    else:
        tl = _tensor_list([inputs])
        try:
            h.run(tl)
        finally:
            type(tl).__swig_destroy__(tl)


def _batches(calibration):
    """A TensorList of calibration batches: a list or tuple is one batch of a multi-input model,
    anything else one input's batch."""
    return _tensor_list([tuple(b) if isinstance(b, (list, tuple)) else (b,) for b in calibration or ()])


class Model(_Handle):
    """A whole model: an FP32 or quantized ONNX model, or a .q8 file.

        fp32 = q8.Model.load_onnx("digits_cnn.onnx")
        int8 = fp32.quantize(calibration=[x0, x1])      # static, per-channel s8 weights, u8 activations
        int8.save("digits_cnn.q8")

    Sessions keep their model alive; closing a model with open sessions frees it once the last
    of them closes."""
    __slots__ = ("_sessions", "_closing")
    _kind = "Model"

    def __init__(self, *args, **kwargs):
        raise TypeError("use q8.Model.load_onnx(path), load_onnx_bytes(data), load(path) or load_bytes(data)")

    @classmethod
    def _adopt(cls, h) -> "Model":
        m = super()._adopt(h)
        m._sessions = weakref.WeakSet()
        m._closing = False
        return m

    @classmethod
    def load_onnx(cls, path: Union[str, os.PathLike]) -> "Model":
        """An ONNX file (FP32, QDQ or QOperator)."""
        return cls._adopt(_n.Model.loadOnnx(os.fsdecode(path)))

    @classmethod
    def load_onnx_bytes(cls, data) -> "Model":
        return cls._adopt(_n.Model.loadOnnxBytes(data))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Model":
        """A .q8 file (memory-mapped, every offset and checksum verified)."""
        return cls._adopt(_n.Model.load(os.fsdecode(path)))

    @classmethod
    def load_bytes(cls, data) -> "Model":
        return cls._adopt(_n.Model.loadBytes(data))

    def _live(self):
        if getattr(self, "_closing", False):
            raise _error(Status.ERR_STATE, "Model is closed")
        return super()._live()

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes a .q8 file atomically."""
        self._live().save(os.fsdecode(path))

    def export_onnx(self, path: Union[str, os.PathLike]) -> None:
        """Writes the model as ONNX (opset 13, quantized operators in QDQ form), atomically
        (q8_model_export_onnx)."""
        self._live().exportOnnx(os.fsdecode(path))

    @property
    def inputs(self) -> list:
        h = self._live()
        return [h.inputName(i) for i in range(h.inputCount())]

    @property
    def outputs(self) -> list:
        h = self._live()
        return [h.outputName(i) for i in range(h.outputCount())]

    @property
    def node_count(self) -> int:
        return self._live().nodeCount()

    @property
    def weight_bytes(self) -> int:
        """Bytes of weights as stored."""
        return self._live().weightBytes()

    @property
    def weight_sparsity(self) -> float:
        return self._live().weightSparsity()

    def describe(self, json: bool = False) -> str:
        """One line per operator (precision, tensors, parameters) and totals; or JSON."""
        return self._live().describe(bool(json))

    def quantize(self, mode: Union[PtqMode, str] = PtqMode.STATIC, calibration=None, *,
                 per_channel: bool = True, weight_scheme=None, activation_scheme=None,
                 observer=None, percentile: Optional[float] = None) -> "Model":
        """A quantized copy. Static mode calibrates on `calibration`: an iterable of batches, each
        an array (single-input models) or a sequence of arrays, one per input."""
        h = self._live()
        options = _ptq_options(mode, per_channel, weight_scheme, activation_scheme, observer, percentile)
        tl = _batches(calibration)
        try:
            return Model._adopt(h.quantize(options, tl))
        finally:
            type(tl).__swig_destroy__(tl)

    def calibrate(self, calibration, *, activation_scheme=None, observer=None,
                  percentile: Optional[float] = None) -> "Calibration":
        """The activation statistics static quantization gathers on `calibration` (batches as
        for quantize), to merge with other calibrations (other data, other processes) and
        quantize later with quantize_calibrated: merging is exact, so the result equals
        calibrating on all the data at once."""
        options = _ptq_options(PtqMode.STATIC, True, None, activation_scheme, observer, percentile)
        tl = _batches(calibration)
        try:
            return Calibration._adopt(self._live().calibrate(options, tl))
        finally:
            type(tl).__swig_destroy__(tl)

    def quantize_calibrated(self, calibration: "Calibration", *, per_channel: bool = True,
                            weight_scheme=None, activation_scheme=None, observer=None,
                            percentile: Optional[float] = None) -> "Model":
        """Static quantization with the parameters of `calibration` (activation_scheme, observer
        and percentile must be those it was made with)."""
        if not isinstance(calibration, Calibration):
            raise _error(Status.ERR_INVALID_ARGUMENT, f"calibration must be a q8.Calibration, not {type(calibration).__name__}")
        options = _ptq_options(PtqMode.STATIC, per_channel, weight_scheme, activation_scheme, observer, percentile)
        return Model._adopt(self._live().quantizeCalibrated(options, calibration._live()))

    def extract(self, name: str, dequantize: bool = True) -> "Model":
        """A new model that computes only tensor `name` and what it needs (feature extraction;
        q8_model_extract). On a statically quantized model the FP32 model's activation names
        work too; with `dequantize` an INT8 tensor comes out as float32, else as its integers.

            features = int8.extract("/3/Relu_output_0")    # the INT8 backbone, f32 features
        """
        return Model._adopt(self._live().extract(str(name), bool(dequantize)))

    def append(self, head: "Model", connect: str) -> "Model":
        """A new model: `head` (a single-input Model) fed from this model's tensor `connect`, with
        the head's outputs (q8_model_append). An FP32 head fits an INT8 model: connected by the
        FP32 name of an INT8 activation, it reads it dequantized. Weights are shared, so either
        model may be closed afterwards."""
        if not isinstance(head, Model):
            raise _error(Status.ERR_INVALID_ARGUMENT, f"head must be a q8.Model, not {type(head).__name__}")
        return Model._adopt(self._live().append(head._live(), str(connect)))

    def session(self, batch: int = 1) -> "Session":
        return Session(self, batch)

    def _attach(self, session: "Session") -> None:
        self._sessions.add(session)

    def _detach(self, session: "Session") -> None:
        self._sessions.discard(session)
        if self._closing and not self._sessions:
            super().close()

    def close(self) -> None:
        """Frees the model now, or when its last open session closes."""
        if getattr(self, "_h", None) is None:
            return
        self._closing = True
        if not self._sessions:
            super().close()

    @property
    def closed(self) -> bool:
        return getattr(self, "_closing", True) or getattr(self, "_h", None) is None

    def __repr__(self) -> str:
        if self.closed:
            return "q8.Model(closed)"
        return (f"q8.Model(inputs={self.inputs}, outputs={self.outputs}, nodes={self.node_count}, "
                f"weight_bytes={self.weight_bytes})")


class Session(_Handle):
    """A model prepared for one batch size (weights packed once). run() returns numpy arrays.

        with q8.Session(model, batch=64) as s:
            logits, = s.run(x)          # x: [64, ...] float32
    """
    __slots__ = ("_model", "_outputs", "batch")
    _kind = "Session"

    def __init__(self, model: Model, batch: int = 1):
        if not isinstance(model, Model):
            raise _error(Status.ERR_INVALID_ARGUMENT, f"Session takes a q8.Model, not {type(model).__name__}")
        self._model = model
        self._outputs = len(model.outputs)
        self.batch = int(batch)
        self._h = _n.Session(model._live(), self.batch)
        model._attach(self)

    @property
    def model(self) -> Model:
        return self._model

    def run(self, *inputs) -> list:
        """Runs the model on one array (or Tensor) per model input, in order; returns every
        output as a numpy array."""
        h = self._live()
        _run(h, inputs)
        return [self.output(i) for i in range(self._outputs)]

    def output(self, index: int = 0) -> np.ndarray:
        """Output `index` of the last run."""
        with Tensor._adopt(self._live().output(int(index))) as t:
            return t.numpy()

    def tensor(self, name: str) -> np.ndarray:
        """Any named tensor of the last run (an intermediate activation), as stored (a quantized
        one as its integers: see tensor_q8 for its parameters)."""
        with self.tensor_q8(name) as t:
            return t.numpy()

    def tensor_q8(self, name: str) -> Tensor:
        """A copy of a named tensor of the last run as a Tensor, quantization parameters included."""
        return Tensor._adopt(self._live().tensor(str(name)))

    def close(self) -> None:
        had = getattr(self, "_h", None) is not None
        super().close()
        if had:
            self._model._detach(self)

    def __repr__(self) -> str:
        return "q8.Session(closed)" if self.closed else f"q8.Session(batch={self.batch})"


class Calibration(_Handle):
    """Activation statistics from Model.calibrate. merge() adds another calibration's data
    exactly (any split of the batches, merged in any order, gives the same quantized model)."""
    __slots__ = ()
    _kind = "Calibration"

    def __init__(self, *args, **kwargs):
        raise TypeError("use model.calibrate(batches)")

    def merge(self, other: "Calibration") -> "Calibration":
        if not isinstance(other, Calibration):
            raise _error(Status.ERR_INVALID_ARGUMENT, f"can only merge a q8.Calibration, not {type(other).__name__}")
        self._live().merge(other._live())
        return self

    def to_bytes(self) -> bytes:
        """Its serialized form (to send to another process, e.g. an MPI rank, or to store)."""
        with Tensor._adopt(self._live().toBytes()) as t:
            return t.numpy().tobytes()

    @classmethod
    def from_bytes(cls, data) -> "Calibration":
        """A calibration from to_bytes() output (checked: q8.Error FORMAT names what is wrong)."""
        return cls._adopt(_n.Calibration.loadBytes(data))

    @property
    def activations(self) -> list:
        """Names of the activations it holds statistics for."""
        h = self._live()
        return [h.activationName(i) for i in range(h.activationCount())]

    def __repr__(self) -> str:
        return "q8.Calibration(closed)" if self.closed else f"q8.Calibration({len(self.activations)} activations)"


class PartitionPlan(_Handle):
    """A model cut into contiguous partitions, by count and/or a memory budget (bytes of
    weights per partition), balanced by bytes or FLOPs. It keeps what it needs of the model.

        plan = q8.PartitionPlan(model, count=2, balance="flops")
        print(plan.describe()); plan.save("plan.json")
    """
    __slots__ = ()
    _kind = "PartitionPlan"

    def __init__(self, model: "Model", count: int = 0, max_bytes: int = 0,
                 balance: Union[PartitionBalance, str] = PartitionBalance.BYTES, batch: int = 1):
        if not isinstance(model, Model):
            raise _error(Status.ERR_INVALID_ARGUMENT, f"PartitionPlan takes a q8.Model, not {type(model).__name__}")
        options = _n.PartitionOptions()
        options.count = int(count)
        options.max_bytes = int(max_bytes)
        options.balance = int(_enum(PartitionBalance, balance, "balance"))
        options.batch = int(batch)
        self._h = _n.PartitionPlan.create(model._live(), options)

    @classmethod
    def load(cls, model: "Model", path: Union[str, os.PathLike]) -> "PartitionPlan":
        """A plan saved (as JSON) for `model`."""
        return cls._adopt(_n.PartitionPlan.load(model._live(), os.fsdecode(path)))

    @classmethod
    def load_bytes(cls, model: "Model", data) -> "PartitionPlan":
        return cls._adopt(_n.PartitionPlan.loadBytes(model._live(), data))

    def __len__(self) -> int:
        return self._live().count()

    def info(self, index: int) -> dict:
        """Partition `index`: first node index, node count, weight bytes, FLOPs, input and output names."""
        h, i = self._live(), int(index)
        return {"first_node": h.firstNode(i), "nodes": h.nodeCount(i), "weight_bytes": h.weightBytes(i),
                "flops": h.flops(i), "inputs": [h.inputName(i, j) for j in range(h.inputCount(i))],
                "outputs": [h.outputName(i, j) for j in range(h.outputCount(i))]}

    def model(self, index: int) -> "Model":
        """Partition `index` as a model of its own (weights shared)."""
        return Model._adopt(self._live().model(int(index)))

    def describe(self, json: bool = False) -> str:
        return self._live().describe(bool(json))

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the plan as JSON, atomically."""
        self._live().save(os.fsdecode(path))

    def __repr__(self) -> str:
        return "q8.PartitionPlan(closed)" if self.closed else f"q8.PartitionPlan({len(self)} partitions)"


class Pipeline(_Handle):
    """The partitions of a plan run as a oneTBB flow graph: micro-batches flow through the
    partitions (pipeline parallel), each partition runs up to `replicas` micro-batches at once
    (data parallel). Outputs equal one session on the whole model, bit for bit (except for
    dynamically quantized models, whose activation ranges come from each micro-batch).

        with q8.Pipeline(plan, batch=512, micro_batch=64, threads=2) as p:
            logits, = p.run(x)
    """
    __slots__ = ("_outputs", "batch")
    _kind = "Pipeline"

    def __init__(self, plan: PartitionPlan, batch: int, *, micro_batch: int = 0, replicas: int = 1,
                 max_in_flight: int = 0, threads: int = 0, serial_stages: bool = False):
        if not isinstance(plan, PartitionPlan):
            raise _error(Status.ERR_INVALID_ARGUMENT, f"Pipeline takes a q8.PartitionPlan, not {type(plan).__name__}")
        options = _n.PipelineOptions()
        options.micro_batch = int(micro_batch)
        options.replicas = int(replicas)
        options.max_in_flight = int(max_in_flight)
        options.threads = int(threads)
        options.serial_stages = 1 if serial_stages else 0
        self.batch = int(batch)
        self._h = _n.Pipeline(plan._live(), self.batch, options)
        self._outputs = self._h.outputCount()

    def run(self, *inputs) -> list:
        """Runs the batch (one array or Tensor per model input); returns every model output."""
        h = self._live()
        _run(h, inputs)
        outputs = []
        for i in range(self._outputs):
            with Tensor._adopt(h.output(i)) as t:
                outputs.append(t.numpy())
        return outputs

    def __repr__(self) -> str:
        return "q8.Pipeline(closed)" if self.closed else f"q8.Pipeline(batch={self.batch})"


def checkpoint_quantize(input: Union[str, os.PathLike], output: Union[str, os.PathLike], *,
                        weights: Union[WeightFormat, str] = WeightFormat.INT8_PER_CHANNEL,
                        group_size: int = 64, max_memory: int = 512 << 20, threads: int = 0,
                        min_elements: int = 4096, keep_fp32=()) -> dict:
    """Streams a safetensors checkpoint into a weight-only quantized .q8 file (atomic), holding
    at most `max_memory` bytes in flight; returns the run's report as a dict."""
    options = _n.CheckpointOptions()
    options.format = int(_enum(WeightFormat, weights, "weight format"))
    options.group_size = int(group_size)
    options.max_memory = int(max_memory)
    options.threads = int(threads)
    options.min_elements = int(min_elements)
    names = [str(n) for n in keep_fp32]
    if any("\n" in n for n in names):
        raise _error(Status.ERR_INVALID_ARGUMENT, "a keep_fp32 name contains a newline")
    r = _n.checkpoint_quantize(os.fsdecode(input), os.fsdecode(output), options, "\n".join(names))
    return {"input_bytes": r.input_bytes, "output_bytes": r.output_bytes, "tensors": r.tensors,
            "quantized_tensors": r.quantized_tensors, "peak_in_flight_bytes": r.peak_in_flight_bytes,
            "seconds": r.seconds}


# ---- runtime -----------------------------------------------------------------------------------

def live_handles() -> int:
    """Native objects made through the bindings and not yet freed (0 once everything is closed
    or collected): a leak check."""
    return _n.live_handles()


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _n.version_string()


def set_threads(threads: int) -> None:
    """Upper bound on q8's worker threads (0 = all cores). Results never depend on it."""
    _n.runtime_set_threads(int(threads))


def threads() -> int:
    return _n.runtime_threads()


def isa() -> Isa:
    """The instruction set q8's kernels use now."""
    return Isa(_n.runtime_isa())


def set_isa(value: Union[Isa, str]) -> None:
    """Forces a kernel path ("scalar", "avx2", ..., or "auto"); UnsupportedError if the CPU
    cannot run it."""
    _n.runtime_set_isa(int(_enum(Isa, value, "isa")))


def isa_supported(value: Union[Isa, str]) -> bool:
    return bool(_n.runtime_isa_supported(int(_enum(Isa, value, "isa"))))


from . import fixed  # noqa: E402  (uses the names above)
from . import qat  # noqa: E402
