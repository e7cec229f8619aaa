"""Tensors: creation, numpy round trips, quantization parameters, copies."""
import copy

import numpy as np
import pytest

import q8


def test_create_zero_filled():
    with q8.Tensor((2, 3), "s8") as t:
        assert t.dtype is q8.DType.S8
        assert t.shape == (2, 3)
        assert t.ndim == 2 and t.size == 6 and t.nbytes == 6
        assert t.qparams is None
        a = t.numpy()
        assert a.dtype == np.int8 and a.shape == (2, 3) and not a.any()


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.int32])
def test_numpy_round_trip(dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    with q8.Tensor.from_numpy(a) as t:
        assert t.dtype.numpy == np.dtype(dtype)
        assert t.shape == (2, 3, 4)
        b = t.numpy()
        assert b.dtype == a.dtype and np.array_equal(a, b)
        assert np.array_equal(np.asarray(t), a)


def test_rank_0_and_empty():
    with q8.Tensor.from_numpy(np.float32(2.5)) as t:
        assert t.shape == () and t.size == 1
        assert t.numpy() == np.float32(2.5)
    with q8.Tensor.from_numpy(np.zeros((0, 4), np.float32)) as t:
        assert t.shape == (0, 4) and t.size == 0
        assert t.numpy().shape == (0, 4)


def test_from_numpy_converts_floats_and_strided():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]  # float64, not contiguous
    with q8.Tensor.from_numpy(a) as t:
        assert t.dtype is q8.DType.F32
        assert np.array_equal(t.numpy(), a.astype(np.float32))
    with q8.Tensor.from_numpy([1, 2, 300], dtype="s32") as t:
        assert t.numpy().tolist() == [1, 2, 300]


def test_qparams_per_tensor_and_per_axis():
    with q8.Tensor.from_numpy(np.zeros((3, 2), np.int8), scale=0.5, zero_point=-3) as t:
        assert t.qparams == q8.QParams(0.5, -3)
        t.set_qparams([0.1, 0.2, 0.4], [1, 2, 3], axis=0)
        q = t.qparams
        assert q.axis == 0
        np.testing.assert_array_equal(q.scale, np.float32([0.1, 0.2, 0.4]))
        np.testing.assert_array_equal(q.zero_point, [1, 2, 3])
        t.set_qparams([0.25, 0.5], 0, axis=1)
        assert t.qparams.axis == 1 and t.qparams.zero_point.tolist() == [0, 0]
        t.clear_qparams()
        assert t.qparams is None
        assert "s8" in repr(t) and "(3, 2)" in repr(t)


def test_reshape_clone_copy_from():
    with q8.Tensor.from_numpy(np.arange(6, dtype=np.float32)) as t:
        assert t.reshape_((2, 3)) is t and t.shape == (2, 3)
        with t.clone() as c, copy.deepcopy(t) as d:
            t.copy_from(np.ones(6, np.float32))
            assert np.array_equal(c.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
            assert np.array_equal(d.numpy(), c.numpy())
            assert np.array_equal(t.numpy(), np.ones((2, 3), np.float32))
