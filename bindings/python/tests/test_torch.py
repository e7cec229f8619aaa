"""q8.torch on the bundled digits models: torch modules rebuilt from the ONNX initializers,
dynamically quantized to q8 INT8, against FP32 and torch.ao.quantization's dynamic quantization."""
import copy
import os
import time
import warnings

import numpy as np
import pytest

import q8
from conftest import accuracy, skip_unless_torch_loads

skip_unless_torch_loads()

torch = pytest.importorskip("torch", reason="python3-torch is not installed")
onnx = pytest.importorskip("onnx", reason="python3-onnx is not installed")
from onnx import numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

import q8.torch as q8t  # noqa: E402


def initializers(path):
    model = onnx.load(path)
    return {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}


def load(module, path):
    """The ONNX initializers are named as the Sequential's state_dict ("0.weight", ...)."""
    state = initializers(path)
    for name, m in module.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    module.load_state_dict(state, strict=True)
    return module.eval()


def build_mlp(models_dir):
    return load(nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10)), os.path.join(models_dir, "digits_mlp.onnx"))


def build_cnn(models_dir):
    return load(nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10)), os.path.join(models_dir, "digits_cnn.onnx"))


BUILD = {"mlp": (build_mlp, (-1, 64)), "cnn": (build_cnn, (-1, 1, 8, 8))}


def logits_of(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_quantize_dynamic_keeps_accuracy(name, digits, models_dir, fp32_accuracy):
    build, shape = BUILD[name]
    fp32 = build(models_dir)
    x = np.ascontiguousarray(digits.x_test.reshape(shape))
    ref = logits_of(fp32, x)
    acc32 = accuracy(ref, digits.y_test)
    assert acc32 == pytest.approx(fp32_accuracy[name], abs=1e-9)  # the rebuilt module is the model

    qmodel = q8t.quantize_dynamic(fp32)
    kinds = {type(m) for m in qmodel.modules()}
    assert nn.Linear not in kinds and nn.Conv2d not in kinds and q8t.Linear in kinds
    assert any(type(m) is nn.Linear for m in fp32.modules())  # the original is untouched
    got = logits_of(qmodel, x)
    acc8 = accuracy(got, digits.y_test)
    diff = float(np.abs(got - ref).max())
    int8_bytes, fp32_bytes = q8t.weight_bytes(qmodel)
    print(f"\n{name}: FP32 {acc32:.2f} % -> q8.torch INT8 {acc8:.2f} % on {len(x)} held-out rows; "
          f"max |logit diff| {diff:.4f} (logits up to {np.abs(ref).max():.1f}); "
          f"weights {int8_bytes} B vs FP32 {fp32_bytes} B ({int8_bytes / fp32_bytes:.3f}x)")
    assert abs(acc8 - acc32) <= 0.5
    assert diff <= 0.02 * np.abs(ref).max()
    assert int8_bytes < fp32_bytes / 3.5
    # the seed's spelling gives the same model
    same = q8t.Quantizer().quantize_dynamic(fp32)
    np.testing.assert_array_equal(logits_of(same, x), got)


def test_versus_torch_dynamic_quantization(digits, models_dir, fp32_accuracy):
    fp32 = build_mlp(models_dir)
    x = digits.x_test
    ours = q8t.quantize_dynamic(fp32)
    theirs = torch.ao.quantization.quantize_dynamic(fp32, {nn.Linear}, dtype=torch.qint8)
    acc_ours = accuracy(logits_of(ours, x), digits.y_test)
    acc_theirs = accuracy(logits_of(theirs, x), digits.y_test)
    batch = torch.from_numpy(np.ascontiguousarray(x[:64]))
    times = {}
    with torch.no_grad():
        for label, model in (("fp32", fp32), ("q8.torch", ours), ("torch.ao", theirs)):
            model(batch)
            start = time.perf_counter()
            for _ in range(50):
                model(batch)
            times[label] = (time.perf_counter() - start) / 50 * 1e3
    print(f"\nmlp held-out accuracy: FP32 {fp32_accuracy['mlp']:.2f} %, q8.torch {acc_ours:.2f} %, "
          f"torch.ao dynamic {acc_theirs:.2f} %")
    print("ms per batch of 64 (informative, shared machine): " +
          ", ".join(f"{k} {v:.3f}" for k, v in times.items()))
    assert abs(acc_ours - fp32_accuracy["mlp"]) <= 0.5


def test_linear_is_int8_compute():
    """The forward is q8's INT8 GEMM on the stored INT8 weights, bit for bit."""
    torch.manual_seed(0)
    lin = nn.Linear(40, 12)
    ql = q8t.Linear.from_float(lin)
    x = torch.randn(5, 40)
    with torch.no_grad():
        y = ql(x).numpy()
    wq, sw = ql.int8_weight().numpy(), ql.weight_scale().numpy()
    xq, px = q8.dynamic_quantize_u8(x.numpy())
    acc = (xq.astype(np.int64) - px.zero_point) @ wq.astype(np.int64).T
    expected = acc.astype(np.float32) * (np.float32(px.scale) * sw) + lin.bias.detach().numpy()
    np.testing.assert_array_equal(y, expected)


def test_linear_batch_shapes_and_grad():
    torch.manual_seed(1)
    lin = nn.Linear(8, 3)
    ql = q8t.Linear.from_float(lin)
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        y = ql(x)
        assert y.shape == (2, 4, 3)
        np.testing.assert_array_equal(y.reshape(8, 3).numpy(), ql(x.reshape(8, 8)).numpy())
        assert ql(torch.randn(8)).shape == (3,)
        assert ql(x.double()).dtype == torch.float32
    with pytest.raises(RuntimeError, match="inference-only"):
        ql(torch.randn(2, 8, requires_grad=True))
    with pytest.raises(RuntimeError, match="in_features"):
        with torch.no_grad():
            ql(torch.randn(2, 7))


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2), dict(dilation=2, padding=2),
                                    dict(padding="same"), dict(padding="valid", bias=False),
                                    dict(padding=(1, 2), padding_mode="reflect"), dict(kernel_size=(2, 4))])
def test_conv2d_variants(kwargs):
    torch.manual_seed(2)
    args = dict(kernel_size=3)
    args.update(kwargs)
    conv = nn.Conv2d(3, 5, **args)
    qc = q8t.Conv2d.from_float(conv)
    x = torch.randn(2, 3, 9, 10)
    with torch.no_grad():
        ref = conv(x)
        got = qc(x)
        assert got.shape == ref.shape
        assert float((got - ref).abs().max()) <= 0.03 * float(ref.abs().max())
        np.testing.assert_array_equal(qc(x[0]).numpy(), qc(x[:1])[0].numpy())  # unbatched input


def test_grouped_conv_stays_fp32():
    model = nn.Sequential(nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(4, 2, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = q8t.quantize_dynamic(model)
    assert type(q[0]) is nn.Conv2d and type(q[1]) is q8t.Conv2d
    assert any("groups=2" in str(w.message) for w in caught)
    only_linear = q8t.quantize_dynamic(model, modules=(nn.Linear,))
    assert type(only_linear[1]) is nn.Conv2d


def test_state_dict_repr_and_copies(models_dir, digits):
    qmodel = q8t.quantize_dynamic(build_mlp(models_dir))
    state = qmodel.state_dict()
    assert state["0.weight_int8"].dtype == torch.int8 and state["0.weight_int8"].shape == (256, 64)
    assert state["0.weight_scale"].dtype == torch.float32 and "0.weight" not in state
    text = repr(qmodel)
    assert "q8 INT8 weights" in text and "FP32" in text
    other = q8t.quantize_dynamic(nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                               nn.Linear(256, 10)))
    other.load_state_dict(state)
    x = digits.x_test[:64]
    np.testing.assert_allclose(logits_of(other, x), logits_of(qmodel, x), rtol=0, atol=1e-4)
    for layer in (0, 2, 4):
        np.testing.assert_array_equal(other[layer].int8_weight().numpy(), qmodel[layer].int8_weight().numpy())
    twin = copy.deepcopy(qmodel)
    np.testing.assert_allclose(logits_of(twin, x), logits_of(qmodel, x), rtol=0, atol=1e-4)
    root = q8t.quantize_dynamic(nn.Linear(4, 2))
    assert isinstance(root, q8t.Linear)
