"""Closing: with blocks and close() free at once, a closed object raises q8.StateError (never
crashes), closing twice is a no-op, sessions keep their model, the collector frees the rest."""
import gc
import os

import numpy as np
import pytest

import q8


def closed_objects(models_dir):
    model = q8.Model.load_onnx(os.path.join(models_dir, "digits_mlp.onnx"))
    session = q8.Session(model, 1)
    objects = [q8.Tensor((2,)), q8.Observer(), q8.PackedMatrix(np.zeros((2, 2), np.int8)),
               q8.DynamicLinear(np.ones((2, 2), np.float32)), session, model]
    for o in objects:
        o.close()
    return objects


def test_use_after_close_raises(models_dir):
    before = q8.live_handles()
    t, obs, packed, layer, session, model = closed_objects(models_dir)
    assert q8.live_handles() == before
    calls = [lambda: t.numpy(), lambda: t.shape, lambda: t.set_qparams(1.0), lambda: obs.update(np.ones(2)),
             lambda: packed.multiply(np.zeros((1, 2), np.uint8)), lambda: layer(np.ones(2, np.float32)),
             lambda: session.run(np.zeros((1, 64), np.float32)), lambda: model.inputs,
             lambda: q8.Session(model, 1), lambda: q8.quantize(t), lambda: q8.dequantize(t)]
    for call in calls:
        with pytest.raises(q8.StateError, match="is closed"):
            call()
    for o in (t, obs, packed, layer, session, model):
        assert o.closed and "closed" in repr(o)
        o.close()  # again: nothing happens
    assert q8.live_handles() == before


def test_enter_closed_raises():
    t = q8.Tensor((1,))
    t.close()
    with pytest.raises(q8.StateError):
        with t:
            pass


def test_raw_handles_read_as_closed():
    # the generated layer guards itself: a deleted native object raises instead of crashing
    t = q8.Tensor((3,), "u8")
    h = t.handle
    t.close()
    with pytest.raises(q8.StateError, match="Tensor is closed"):
        h.numel()
    h.close()  # closing twice is a no-op
    with q8.capi.PackedMatrix(1, 1, np.zeros(1, np.int8), False, np.empty(0, np.int32)) as raw:
        assert raw.k() == 1
    with pytest.raises(q8.StateError, match="PackedMatrix is closed"):
        raw.k()
    opts = q8.capi.ObserverOptions()
    opts.__swig_destroy__(opts)
    with pytest.raises(q8.StateError, match="object is closed"):
        opts.kind


def test_with_blocks_free_at_once():
    before = q8.live_handles()
    with q8.Tensor((4, 4)) as a, q8.quantize(np.ones(4), "symmetric") as b:
        assert q8.live_handles() == before + 2
    assert a.closed and b.closed
    assert q8.live_handles() == before


def test_session_keeps_model_alive(models_dir, digits):
    before = q8.live_handles()
    model = q8.Model.load_onnx(os.path.join(models_dir, "digits_mlp.onnx"))
    session = q8.Session(model, 2)
    del model
    gc.collect()
    (logits,) = session.run(digits.x_test[:2])  # the model is still there
    assert logits.shape == (2, 10)
    # closing the model while a session is open frees it when the session closes
    m = session.model
    m.close()
    assert m.closed
    with pytest.raises(q8.StateError):
        m.inputs
    assert session.run(digits.x_test[:2])[0].shape == (2, 10)
    assert q8.live_handles() == before + 2
    session.close()
    assert q8.live_handles() == before


def test_collector_frees_forgotten_objects(models_dir):
    before = q8.live_handles()
    for _ in range(3):
        model = q8.Model.load_onnx(os.path.join(models_dir, "digits_mlp.onnx"))
        s = model.session(1)
        t = q8.Tensor.from_numpy(np.ones((1, 64)))
        cycle = [s, t]
        cycle.append(cycle)  # a reference cycle: only the cycle collector frees it
        del model, s, t, cycle
    gc.collect()
    assert q8.live_handles() == before


def test_torch_like_copies_are_independent():
    import copy
    layer = q8.DynamicLinear(np.eye(3, dtype=np.float32), np.ones(3, np.float32))
    twin = copy.deepcopy(layer)
    layer.close()
    np.testing.assert_allclose(twin(np.eye(3, dtype=np.float32)), np.eye(3) + 1, atol=1e-6)
    twin.close()
