"""q8.torch quantization-aware training: FakeQuantize and FoldBatchNorm against q8's math and
finite differences, the QAT modules, prepare_qat / convert, and the bit-for-bit check that the
converted model, `q8 quantize` of its ONNX file and the QAT modules hold the same integers."""
import os
import subprocess

import numpy as np
import pytest

import q8
from conftest import accuracy, skip_unless_torch_loads

skip_unless_torch_loads()

torch = pytest.importorskip("torch", reason="python3-torch is not installed")
onnx = pytest.importorskip("onnx", reason="python3-onnx is not installed")
from onnx import numpy_helper  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import q8.torch as q8t  # noqa: E402
from test_qat import central, surrogate  # noqa: E402
from test_torch import BUILD, build_mlp  # noqa: E402

torch.set_num_threads(1)


def q8_cli():
    """The q8 tool of this build (Q8_CLI, set by meson), or None."""
    path = os.environ.get("Q8_CLI")
    if path:
        return path
    for d in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        candidate = os.path.join(d, "cli", "q8")
        if d and os.path.exists(candidate):
            return candidate
    return None


def initializers(model: q8.Model, path) -> dict:
    """Every constant of a q8 model (its ONNX export), by name."""
    model.export_onnx(path)
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def observe(model, x, batch=64):
    """Training-mode forwards without gradients (the activation observers see x)."""
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            model(x[i:i + batch])
    return model


# ---- FakeQuantize --------------------------------------------------------------------------------

def test_fake_quantize_forward_is_q8_bit_for_bit():
    torch.manual_seed(0)
    x = torch.randn(7, 5, 3) * 3
    s = torch.tensor([0.02])
    z = torch.tensor([100.0])
    y = q8t.FakeQuantize.apply(x, s, z, 0, 255, None, None)
    with q8.quantize(x.numpy(), "asymmetric_u8", scale=0.02, zero_point=100) as t:
        np.testing.assert_array_equal(y.numpy(), q8.dequantize(t))
    w = torch.randn(6, 4, 3, 3)
    sw = (w.abs().amax((1, 2, 3)) / 7).contiguous()
    y = q8t.FakeQuantize.apply(w, sw, None, -7, 7, 0, None)
    ref, _ = q8.qat.fake_quantize(w.numpy(), sw.numpy(), qmin=-7, qmax=7, axis=0)
    np.testing.assert_array_equal(y.numpy(), ref)
    assert len(np.unique(y.numpy()[0])) <= 15
    # float64 in, float64 out (same values)
    np.testing.assert_array_equal(q8t.FakeQuantize.apply(w.double(), sw, None, -7, 7, 0, None).numpy(), ref)


def test_fake_quantize_ste_backward():
    torch.manual_seed(1)
    x = (torch.randn(200) * 4).requires_grad_()
    y = q8t.FakeQuantize.apply(x, torch.tensor([0.02]), torch.tensor([128.0]), 0, 255, None, None)
    dy = torch.randn(200)
    y.backward(dy)
    _, mask = q8.qat.fake_quantize(x.detach().numpy(), 0.02, 128.0, qmin=0, qmax=255)
    assert 0 < mask.sum() < 200
    np.testing.assert_array_equal(x.grad.numpy(), dy.numpy() * mask)


@pytest.mark.parametrize("axis", [None, 0])
def test_fake_quantize_lsq_backward_matches_central_differences(axis):
    torch.manual_seed(2)
    channels = 1 if axis is None else 4
    x = (torch.randn(4, 30) * 6).requires_grad_()  # wide enough that some values clip
    s = (0.05 + 0.05 * torch.rand(channels)).requires_grad_()
    z = (60 + 80 * torch.rand(channels)).requires_grad_()
    y = q8t.FakeQuantize.apply(x, s, z, 0, 255, axis, 1.0)
    dy = torch.randn_like(x)
    y.backward(dy)
    x0, s0, z0, d = x.detach().numpy(), s.detach().numpy(), z.detach().numpy(), dy.numpy()
    sur_axis = None if axis is None else 0

    def at(xv=x0, sv=s0, zv=z0):
        return float(np.sum(d * surrogate(xv, sv, zv, 0, 255, sur_axis, x0, s0, z0)))

    np.testing.assert_allclose(s.grad.numpy(), central(lambda p: at(sv=p), s0, 1e-4), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z.grad.numpy(), central(lambda p: at(zv=p), z0, 1e-2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), central(lambda p: at(xv=p), x0, 1e-3), rtol=1e-5, atol=1e-5)
    assert np.any(z.grad.numpy() != 0) and np.any(s.grad.numpy() != 0)


def test_fake_quantize_default_grad_scale_is_lsq():
    torch.manual_seed(3)
    x = torch.randn(8, 16)
    s1 = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.1, 0.2, 0.3, 0.4], requires_grad=True)
    s2 = s1.detach().clone().requires_grad_()
    q8t.FakeQuantize.apply(x, s1, None, -7, 7, 0, None).sum().backward()
    q8t.FakeQuantize.apply(x, s2, None, -7, 7, 0, 1.0).sum().backward()
    np.testing.assert_allclose(s1.grad.numpy(), s2.grad.numpy() / np.sqrt(16 * 7), rtol=1e-6)


# ---- BatchNorm fold ------------------------------------------------------------------------------

def test_fold_batchnorm_matches_torch_eval_batchnorm():
    torch.manual_seed(4)
    conv, bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.2, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_()
    conv.eval(), bn.eval()
    x = torch.randn(2, 3, 6, 6)
    wf, bf = q8t.FoldBatchNorm.apply(conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean,
                                     bn.running_var, bn.eps)
    with torch.no_grad():
        ref = bn(conv(x))
        got = F.conv2d(x, wf, bf, padding=1)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    # its backward against autograd of the same formula in float64
    dwf, dbf = torch.randn_like(wf), torch.randn_like(bf)
    torch.autograd.backward([wf, bf], [dwf, dbf])
    params = [p.detach().double().requires_grad_() for p in (conv.weight, conv.bias, bn.weight, bn.bias)]
    f = params[2] / torch.sqrt(bn.running_var.double() + bn.eps)
    ((params[0] * f[:, None, None, None] * dwf.double()).sum() +
     (((params[1] - bn.running_mean.double()) * f + params[3]) * dbf.double()).sum()).backward()
    for mine, ref in zip((conv.weight, conv.bias, bn.weight, bn.bias), params):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_qatconv2d_with_batchnorm_trains_gamma_and_beta():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    model[1].eval()
    qat = q8t.prepare_qat(model, bits=8)
    assert isinstance(qat[0], q8t.QATConv2d) and qat[0].bn is not None and isinstance(qat[1], nn.Identity)
    x = torch.rand(5, 1, 6, 6)
    observe(qat, x)
    qat.eval()
    with torch.no_grad():  # the QAT forward is the folded conv of the quantized input and weights
        ref = model(x)
        got = qat(x)
    assert float((got - ref).abs().max()) < 0.05 * float(ref.abs().max())
    qat.train()
    qat(x).sum().backward()
    assert qat[0].bn.weight.grad is not None and qat[0].bn.bias.grad is not None
    assert qat[0].weight.grad is not None and qat[0].weight_scale.grad is not None
    mean = qat[0].bn.running_mean.clone()
    qat(x * 3)
    assert torch.equal(qat[0].bn.running_mean, mean)  # statistics stay frozen


# ---- modules -------------------------------------------------------------------------------------

def test_qat_linear_and_conv_shapes_and_gradients():
    torch.manual_seed(6)
    lin = q8t.QATLinear.from_float(nn.Linear(12, 5), bits=4)
    x = torch.randn(3, 7, 12)
    lin.train()
    y = lin(x)
    assert y.shape == (3, 7, 5)
    y.square().sum().backward()
    for p in (lin.weight, lin.bias, lin.weight_scale):
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert lin.input_quant.scale.grad is None  # observing: the scale is the observer's
    lin.input_quant.freeze()
    assert lin.input_quant.observer.frozen and lin.input_quant.scale.requires_grad
    lin.zero_grad()
    lin(x).square().sum().backward()
    assert lin.input_quant.scale.grad is not None and lin.input_quant.scale.grad.abs() > 0
    w = lin.quantized_weight()[0].detach()
    codes, scales, _ = lin.int8_weight()
    assert codes.min() >= -7 and codes.max() <= 7
    np.testing.assert_array_equal(w.numpy(), codes.astype(np.float32) * scales[:, None])

    conv = q8t.QATConv2d.from_float(nn.Conv2d(3, 6, 3, stride=2, padding=1), bits=8)
    xc = torch.randn(2, 3, 9, 9, requires_grad=True)
    out = conv(xc)
    assert out.shape == (2, 6, 5, 5)
    out.sum().backward()
    assert xc.grad is not None and conv.weight.grad.abs().sum() > 0 and conv.weight_scale.grad is not None
    assert "4-bit" in repr(lin) and "8-bit" in repr(conv)


def test_observers_freeze_and_keep_their_range():
    torch.manual_seed(7)
    qat = q8t.prepare_qat(nn.Sequential(nn.Linear(4, 3)), freeze_observers_after=2)
    qat.train()
    aq = qat[0].input_quant
    qat(torch.randn(8, 4))
    assert not aq.observer.frozen
    qat(torch.randn(8, 4))
    assert aq.observer.frozen and bool(aq.frozen)
    scale = aq.scale.detach().clone()
    with torch.no_grad():
        qat(torch.randn(8, 4) * 100)
    assert torch.equal(aq.scale.detach(), scale)
    q8t.freeze_observers(qat, False)
    with torch.no_grad():
        qat(torch.randn(8, 4) * 100)
    assert aq.scale.item() > scale.item()
    with pytest.raises(RuntimeError, match="observed no batch"):
        q8t.prepare_qat(nn.Linear(2, 2)).eval()(torch.randn(1, 2))


def test_copies_and_state_dict():
    torch.manual_seed(8)
    qat = observe(q8t.prepare_qat(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), bits=4),
                  torch.randn(32, 6))
    q8t.freeze_observers(qat).eval()
    import copy
    twin = copy.deepcopy(qat)
    x = torch.randn(5, 6)
    with torch.no_grad():
        assert torch.equal(twin(x), qat(x))
    assert twin[0].input_quant.observer.frozen and twin[0].input_quant.observer is not qat[0].input_quant.observer
    fresh = q8t.prepare_qat(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), bits=4)
    fresh.load_state_dict(qat.state_dict())
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(fresh(x), qat(x))
    assert fresh[2].input_quant.observer.frozen


# ---- prepare_qat / convert -----------------------------------------------------------------------

def tiny_cnn():
    torch.manual_seed(9)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                          nn.Linear(6 * 4 * 4, 10), nn.ReLU(), nn.Dropout(0.1), nn.Linear(10, 3))
    with torch.no_grad():
        model[1].running_mean.normal_(0, 0.1)
        model[1].running_var.uniform_(0.5, 1.5)
    return model.eval()


def test_prepare_and_convert_a_tiny_model(tmp_path):
    model = tiny_cnn()
    qat = q8t.prepare_qat(model, bits=4)
    kinds = [type(m) for m in qat]
    assert kinds[0] is q8t.QATConv2d and kinds[1] is nn.Identity and kinds[4] is q8t.QATConv2d
    assert kinds[7] is q8t.QATLinear and kinds[10] is q8t.QATLinear
    assert type(model[0]) is nn.Conv2d  # a copy
    x = torch.rand(40, 2, 8, 8)
    observe(qat, x)
    q8t.freeze_observers(qat).eval()
    path = tmp_path / "tiny.onnx"
    with q8t.convert(qat, path) as int8:
        assert path.exists()
        text = int8.describe()
        assert text.count(": QLinearConv [int8]") == 2 and text.count(": com.microsoft.QGemm [int8]") == 2
        with torch.no_grad():
            ref = qat(x).numpy()
        with int8.session(len(x)) as s:
            (got,) = s.run(x.numpy())
    assert got.shape == ref.shape == (40, 3)
    assert float(np.abs(got - ref).max()) < 0.02 * float(np.abs(ref).max()) + 1e-4
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 13
    assert {n.op_type for n in proto.graph.node} == {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm", "MaxPool",
                                                     "Flatten"}


def test_convert_with_nonzero_zero_points():
    """A ReLU on a tensor whose zero point is not 0 runs as DQ -> Relu -> Q on the integers; a
    layer fed negative values gets an asymmetric zero point; LSQ+ zero points train."""
    torch.manual_seed(11)
    qat = q8t.prepare_qat(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 12), nn.Linear(12, 3)),
                          learn_activation_zero_point=True)
    x = torch.randn(64, 8)
    observe(qat, x)
    q8t.freeze_observers(qat)
    assert qat[3].input_quant.zero_point.requires_grad and qat[3].input_quant.export_params()[1] > 0
    qat(x).sum().backward()
    assert qat[3].input_quant.zero_point.grad is not None
    with torch.no_grad():
        qat[2].input_quant.zero_point.fill_(4.4)  # after the ReLU: zero point 4, not 0
    qat.eval()
    proto = q8t.to_onnx(qat)
    assert [n.op_type for n in proto.graph.node].count("Relu") == 1
    with q8t.convert(qat) as int8, int8.session(64) as s:
        assert "Relu [int8]" in int8.describe()
        (got,) = s.run(x.numpy())
    with torch.no_grad():
        ref = qat(x).numpy()
    assert float(np.abs(got - ref).max()) < 0.02 * float(np.abs(ref).max()) + 1e-4


def test_convert_refuses_what_it_cannot_export():
    qat = q8t.prepare_qat(nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 2)))
    observe(qat, torch.randn(8, 4))
    with pytest.raises(q8.UnsupportedError, match="Sigmoid"):
        q8t.convert(qat)
    with pytest.raises(q8.UnsupportedError, match="prepare_qat"):
        q8t.convert(nn.Sequential(nn.Linear(4, 2)))

    class Branchy(nn.Module):
        def forward(self, x):
            return x
    with pytest.raises(q8.UnsupportedError, match="sequential"):
        q8t.convert(Branchy())
    with pytest.raises(RuntimeError, match="observed no batch"):
        q8t.convert(q8t.prepare_qat(nn.Sequential(nn.Linear(4, 2))))


def test_per_tensor_weights_convert(tmp_path):
    torch.manual_seed(10)
    qat = observe(q8t.prepare_qat(nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 2)), bits=4,
                                  per_channel=False), torch.randn(64, 8))
    q8t.freeze_observers(qat).eval()
    assert qat[0].weight_scale.shape == (1,)
    x = torch.randn(16, 8)
    with q8t.convert(qat) as int8, int8.session(16) as s:
        (got,) = s.run(x.numpy())
        consts = initializers(int8, tmp_path / "pt.onnx")
    with torch.no_grad():
        ref = qat(x).numpy()
    assert float(np.abs(got - ref).max()) < 0.02 * float(np.abs(ref).max()) + 1e-4
    codes, scale, _ = qat[0].int8_weight()
    np.testing.assert_array_equal(consts["0.weight_quantized"], codes)
    assert consts["0.weight_scale"].shape == () and np.float32(consts["0.weight_scale"]) == scale[0]


# ---- the digits MLP: bit for bit -----------------------------------------------------------------

def fine_tune(qat, x, y, epochs=1, batch=32, seed=0):
    """A short fine-tune (Adam), observers frozen after the first epoch's worth of batches."""
    params, qparams = q8t.qat_parameters(qat)
    opt = torch.optim.Adam([{"params": params, "lr": 1e-4}, {"params": qparams, "lr": 1e-3}])
    g = torch.Generator().manual_seed(seed)
    qat.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(qat(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return qat.eval()


@pytest.fixture(scope="module")
def digits_qat(digits, models_dir):
    """The digits MLP, QAT at 4 bits for one epoch (observers frozen after 30 batches)."""
    torch.manual_seed(0)
    qat = q8t.prepare_qat(build_mlp(models_dir), bits=4, freeze_observers_after=30)
    return fine_tune(qat, torch.from_numpy(digits.x_train), torch.from_numpy(digits.y_train))


def test_converted_weights_and_scales_are_the_trained_ones(digits_qat, tmp_path):
    """The INT8 weights, weight scales, activation scales / zero points and int32 biases inside
    the converted q8 model are those q8's fake quantization trained with, bit for bit."""
    qat = digits_qat
    assert all(m.input_quant.observer.frozen for m in qat if isinstance(m, q8t.QATLinear))
    with q8t.convert(qat) as int8:
        consts = initializers(int8, tmp_path / "converted.onnx")
    for name in ("0", "2", "4"):
        layer = qat[int(name)]
        codes, scales, bias = layer.int8_weight()
        w_fq = layer.quantized_weight()[0].detach().numpy()
        np.testing.assert_array_equal(codes.astype(np.float32) * scales[:, None], w_fq)  # what trained
        got_codes = consts[f"{name}.weight_quantized"]
        assert got_codes.dtype == np.int8 and np.abs(got_codes).max() <= 7
        np.testing.assert_array_equal(got_codes, codes)
        np.testing.assert_array_equal(consts[f"{name}.weight_scale"], scales)
        assert consts[f"{name}.weight_scale"].dtype == np.float32
        sx, zx = layer.input_quant.export_params()
        assert np.float32(consts[f"{name}.input_scale"]) == np.float32(layer.input_quant.scale.item()) == sx
        assert int(consts[f"{name}.input_zero_point"]) == zx
        # int32 bias at x_scale * w_scale: the values BiasQuantize trained with
        b_trained = q8t.BiasQuantize.apply(layer.bias, layer.input_quant.scale, layer.weight_scale).detach().numpy()
        b_codes = consts[f"{name}.bias_quantized"]
        assert b_codes.dtype == np.int32
        np.testing.assert_array_equal(b_codes.astype(np.float32) * (np.float32(sx) * scales), b_trained)


def cli_keeps(qat, x_test, tmp_path, input_shape=None):
    """`q8 quantize model.onnx -o x.q8 --calib digits.csv.gz --input-scale 0.0625` of the
    converted model: (number of constants, number of logits), after checking that every constant
    (weights, scales, zero points, biases) and every held-out logit is the converted model's,
    bit for bit."""
    cli = q8_cli()
    if cli is None:
        pytest.skip("the q8 tool was not found (Q8_CLI)")
    path = tmp_path / "qat.onnx"
    converted = q8t.convert(qat, path, input_shape=input_shape)
    out = tmp_path / "x.q8"
    data = os.path.join(os.environ.get("Q8_TEST_DATA", ""), "digits.csv.gz")
    run = subprocess.run([cli, "quantize", str(path), "-o", str(out), "--calib", data, "--input-scale", "0.0625",
                          "--quiet"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with converted, q8.Model.load(out) as cli_model:
        a = initializers(converted, tmp_path / "a.onnx")
        b = initializers(cli_model, tmp_path / "b.onnx")
        assert sorted(a) == sorted(b)
        for k in a:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k
        # the same operators (the first line names the producer, which differs)
        assert converted.describe().split("\n", 1)[1] == cli_model.describe().split("\n", 1)[1]
        with converted.session(len(x_test)) as sa, cli_model.session(len(x_test)) as sb:
            (la,) = sa.run(x_test)
            (lb,) = sb.run(x_test)
    assert la.tobytes() == lb.tobytes()
    return len(a), la.size


def test_q8_quantize_cli_keeps_the_qat_model_bit_for_bit(digits_qat, digits, tmp_path):
    """The static quantizer leaves the already-quantized operators of a QAT model alone."""
    constants, logits = cli_keeps(digits_qat, digits.x_test, tmp_path)
    print(f"\nMLP: q8 quantize kept all {constants} constants and the {logits} held-out logits bit for bit")


def test_q8_quantize_cli_keeps_the_cnn_bit_for_bit(digits, models_dir, tmp_path):
    """The same for the CNN (QLinearConv with folded BatchNorms, integer MaxPool and Flatten)."""
    build, shape = BUILD["cnn"]
    qat = q8t.prepare_qat(build(models_dir), bits=4, observer="minmax")
    observe(qat, torch.from_numpy(np.ascontiguousarray(digits.x_train[:256].reshape(shape))))
    q8t.freeze_observers(qat).eval()
    x_test = np.ascontiguousarray(digits.x_test.reshape(shape))
    constants, logits = cli_keeps(qat, x_test, tmp_path, input_shape=(1, 8, 8))
    print(f"\nCNN: q8 quantize kept all {constants} constants and the {logits} held-out logits bit for bit")


def test_runtime_computes_the_integers_the_qat_model_trained(digits_qat, digits):
    """q8's INT8 runtime and the QAT model's eval forward compute the same integers: every u8
    activation equal (a rare requantization tie may land one step apart, never more), and each
    logit within one accumulator step (x_scale * w_scale) of torch's where the last layer's
    input integers agree, within one input step times |w| per differing input elsewhere."""
    qat = digits_qat
    x = torch.from_numpy(digits.x_test)
    captured = {}
    hooks = [qat[i].input_quant.register_forward_hook(lambda m, inp, out, i=i: captured.__setitem__(i, out.numpy()))
             for i in (2, 4)]
    with q8t.convert(qat) as int8:
        with torch.no_grad():
            ref = qat(x).numpy()
        for h in hooks:
            h.remove()
        with int8.session(len(x)) as s:
            (got,) = s.run(digits.x_test)
            ints = {2: s.tensor("0.output_quantized"), 4: s.tensor("2.output_quantized")}
    equal = total = 0
    for i in (2, 4):
        sx, zx = qat[i].input_quant.export_params()
        mine = np.rint(captured[i] / sx) + zx
        diff = ints[i].astype(np.int64) - mine.astype(np.int64)
        assert np.abs(diff).max() <= 1
        equal += int((diff == 0).sum())
        total += diff.size
    assert equal / total >= 0.999
    sx, zx = qat[4].input_quant.export_params()
    codes, sw, _ = qat[4].int8_weight()
    step = np.float32(sx) * sw.astype(np.float64)
    differing = (ints[4].astype(np.int64) != np.rint(captured[4] / sx) + zx).astype(np.float64)
    bound = (1.0 + differing @ np.abs(codes.astype(np.float64)).T) * step   # [rows, 10]
    assert np.all(np.abs(got.astype(np.float64) - ref) <= bound)
    same_rows = differing.sum(1) == 0
    assert same_rows.mean() > 0.9
    acc_torch, acc_q8 = accuracy(ref, digits.y_test), accuracy(got, digits.y_test)
    print(f"\nQAT 4-bit MLP: {equal}/{total} activations equal ({100 * equal / total:.3f} %), "
          f"{same_rows.sum()}/{len(same_rows)} rows with equal last-layer inputs, max |logit diff| "
          f"{np.abs(got - ref).max():.5f}; torch eval {acc_torch:.2f} %, q8 INT8 {acc_q8:.2f} %")
    assert abs(acc_torch - acc_q8) <= 0.5


def test_qat_accuracy_smoke(digits_qat, digits, fp32_accuracy):
    """One epoch at 4 bits keeps the MLP within a point of FP32 in q8's INT8 runtime."""
    with q8t.convert(digits_qat) as int8, int8.session(len(digits.x_test)) as s:
        (logits,) = s.run(digits.x_test)
    acc = accuracy(logits, digits.y_test)
    print(f"\nMLP QAT 4-bit (1 epoch) in q8 INT8: {acc:.2f} % (FP32 {fp32_accuracy['mlp']:.2f} %)")
    assert acc >= fp32_accuracy["mlp"] - 1.0


def test_cnn_with_batchnorm_converts(digits, models_dir, fp32_accuracy):
    """The bundled CNN has Conv -> BatchNorm pairs: folded through q8's fold, then converted."""
    build, shape = BUILD["cnn"]
    qat = q8t.prepare_qat(build(models_dir), bits=8, observer="minmax")
    assert sum(isinstance(m, q8t.QATConv2d) and m.bn is not None for m in qat) == 2
    x = np.ascontiguousarray(digits.x_train.reshape(shape))
    observe(qat, torch.from_numpy(x))
    q8t.freeze_observers(qat).eval()
    xe = np.ascontiguousarray(digits.x_test.reshape(shape))
    with q8t.convert(qat) as int8, int8.session(len(xe)) as s:
        assert "BatchNormalization" not in int8.describe() and int8.describe().count("QLinearConv [int8]") == 3
        (logits,) = s.run(xe)
    acc = accuracy(logits, digits.y_test)
    print(f"\nCNN 8-bit PTQ through convert (BatchNorm folded by q8): {acc:.2f} % (FP32 {fp32_accuracy['cnn']:.2f} %)")
    assert acc >= fp32_accuracy["cnn"] - 1.0
