"""Failures raise q8.Error subclasses carrying the status and q8's message, from the library,
the facade, the typemaps and the Python layer alike."""
import os

import numpy as np
import pytest

import q8


def test_hierarchy():
    assert issubclass(q8.Error, RuntimeError)
    assert issubclass(q8.ShapeError, q8.Error) and issubclass(q8.ShapeError, ValueError)
    assert issubclass(q8.DTypeError, TypeError)
    assert issubclass(q8.FileError, OSError)
    assert issubclass(q8.UnsupportedError, NotImplementedError)
    assert issubclass(q8.StateError, q8.Error)
    assert q8.Error.__module__ == "q8"


def test_status_failure_from_the_c_api():
    # q8_tensor_set_qparams through the generated layer: a q8_status turned into an exception
    with q8.Tensor((4,), "s8") as t:
        with pytest.raises(q8.InvalidArgumentError) as e:
            q8.capi.tensor_set_qparams(t.handle, -1.0, 0)
    err = e.value
    assert err.status == q8.Status.ERR_INVALID_ARGUMENT and err.status_name == "Q8_ERR_INVALID_ARGUMENT"
    assert "scale" in err.message
    assert str(err) == "Q8_ERR_INVALID_ARGUMENT: " + err.message
    assert err.message == q8.capi.last_error()  # q8_last_error()'s own text


def test_bad_dtype_names_the_problem():
    with q8.Tensor.from_numpy(np.zeros(4, np.int8)) as t:
        with pytest.raises(q8.DTypeError) as e:
            q8.quantize(t)  # needs f32
    assert "f32" in e.value.message and e.value.status == q8.Status.ERR_DTYPE
    with pytest.raises(q8.DTypeError, match="uint8"):
        q8.gemm_u8s8(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.int8))
    with pytest.raises(q8.DTypeError):
        q8.Tensor((2,), "f64")
    # the raw layer checks each buffer's element type
    with pytest.raises(q8.DTypeError, match="float32.*format 'd'"):
        q8.capi.Tensor.fromF32(np.zeros(3), [3])
    with pytest.raises(q8.DTypeError, match="not list"):
        q8.capi.Tensor.fromF32([1.0, 2.0], [2])


def test_out_of_range_integers_are_refused():
    with pytest.raises(q8.InvalidArgumentError, match="outside"):
        q8.gemm_u8s8(np.array([[256]]), np.zeros((1, 1), np.int8))


def test_short_output():
    a, b = np.zeros((2, 3), np.uint8), np.zeros((3, 4), np.int8)
    with pytest.raises(q8.ShapeError):
        q8.gemm_u8s8(a, b, out=np.zeros((2, 3), np.int32))
    # the facade's own length check, through the raw layer
    with pytest.raises(q8.ShapeError) as e:
        q8.capi.gemm_u8s8_s32(2, 4, 3, a, 0, b, False, 0, np.empty(0, np.int32), np.zeros(7, np.int32))
    assert "c holds 7 elements; expected 8" in e.value.message
    with q8.Tensor((2, 2)) as t, pytest.raises(q8.ShapeError, match="holds 3 elements"):
        t.handle.copyToF32(np.zeros(3, np.float32))


def test_wrong_shape():
    with pytest.raises(q8.ShapeError, match="k = 3"):
        q8.gemm_s8s8(np.zeros((2, 3), np.int8), np.zeros((4, 5), np.int8))
    with q8.Tensor((2, 3)) as t:
        with pytest.raises(q8.ShapeError):
            t.reshape_((4, 2))
        with pytest.raises(q8.ShapeError):
            q8.Tensor((1,) * 9)
        with pytest.raises(q8.ShapeError, match="dimension 1"):
            q8.capi.Tensor(0, [2, "x"])


def test_unwritable_or_strided_buffers():
    a, b = np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.int8)
    out = np.zeros((2, 2), np.int32)
    out.flags.writeable = False
    with pytest.raises(q8.InvalidArgumentError, match="writable"):
        q8.capi.gemm_u8s8_s32(2, 2, 2, a, 0, b, False, 0, np.empty(0, np.int32), out)
    with pytest.raises(q8.InvalidArgumentError, match="C-contiguous"):
        q8.capi.gemm_u8s8_s32(2, 2, 2, np.zeros((2, 4), np.uint8)[:, ::2], 0, b, False, 0,
                              np.empty(0, np.int32), np.zeros((2, 2), np.int32))
    with pytest.raises(q8.InvalidArgumentError):
        q8.capi.gemm_u8s8_s32(2, 2, 2, a, 0, b, False, 0, np.empty(0, np.int32), bytes(16))


def test_bad_file(tmp_path):
    with pytest.raises(q8.FileError) as e:
        q8.Model.load_onnx(tmp_path / "missing.onnx")
    assert "missing.onnx" in e.value.message
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not an ONNX model")
    with pytest.raises(q8.FormatError):
        q8.Model.load_onnx(bad)
    with pytest.raises(q8.FormatError):
        q8.Model.load_bytes(b"\0" * 64)
    with pytest.raises(q8.FormatError):
        q8.Model.load_onnx_bytes(bytearray(b"garbage"))


def test_bad_enum_and_session_state(models_dir):
    with pytest.raises(q8.InvalidArgumentError, match="symmetric_narrow"):
        q8.quantize(np.zeros(3), "no_such_scheme")
    with q8.Model.load_onnx(os.path.join(models_dir, "digits_mlp.onnx")) as m:
        with pytest.raises(q8.InvalidArgumentError):
            m.quantize("static", calibration=[])  # static mode needs calibration data
        with q8.Session(m, 4) as s:
            with pytest.raises(q8.StateError):
                s.output(0)  # before the first run
            with pytest.raises(q8.ShapeError, match="input"):
                s.run(np.zeros((3, 64), np.float32))  # batch 3 on a batch-4 session
            s.run(np.zeros((4, 64), np.float32))
            with pytest.raises(q8.InvalidArgumentError, match="no such tensor"):
                s.tensor("no such tensor")


def test_unsupported_isa_or_threads():
    assert q8.isa_supported("scalar")
    with pytest.raises(q8.InvalidArgumentError):
        q8.set_threads(-1)
