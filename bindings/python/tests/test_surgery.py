"""Model.extract and Model.append (q8_model_extract / q8_model_append) on the digits MLP: features
bit for bit with the full model's tensors (FP32 and static INT8), a cut model with its own last
layer appended back is the full model, a new head on INT8 features, errors and lifetimes. The heads
are ONNX models made here with onnx.helper."""
import os

import numpy as np
import pytest

import q8

onnx = pytest.importorskip("onnx", reason="python3-onnx is not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

FEATURES = "/3/Relu_output_0"  # the MLP's last hidden activation (256 features)


@pytest.fixture(scope="module")
def fp32(models_dir):
    with q8.Model.load_onnx(os.path.join(models_dir, "digits_mlp.onnx")) as m:
        yield m


@pytest.fixture(scope="module")
def int8(fp32, digits):
    calibration = [digits.x_train[i:i + 64] for i in range(0, len(digits.x_train), 64)]
    with fp32.quantize("static", calibration=calibration) as m:
        yield m


def gemm_head(weight, bias, *, inputs=256, name="scores"):
    """Gemm(features [N, inputs], W, B) -> name, as a q8.Model. Its constants and node are named
    like the MLP's first layer, so that appending must rename them."""
    outs = weight.shape[0]
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["features", "0.weight", "0.bias"], [name], name="/0/Gemm", transB=1)],
        "head",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", inputs])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", outs])],
        [numpy_helper.from_array(weight.astype(np.float32), "0.weight"),
         numpy_helper.from_array(bias.astype(np.float32), "0.bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return q8.Model.load_onnx_bytes(model.SerializeToString())


def run(model, x):
    with q8.Session(model, len(x)) as s:
        return s.run(x)


def test_extract_fp32_is_the_full_models_tensor(fp32, digits):
    x = digits.x_test
    with fp32.extract(FEATURES) as body, q8.Session(fp32, len(x)) as s:
        assert body.inputs == ["input"] and body.outputs == [FEATURES]
        assert body.node_count == 4 and body.weight_bytes == 4 * (256 * 64 + 256 + 256 * 256 + 256)
        s.run(x)
        (features,) = run(body, x)
        np.testing.assert_array_equal(features, s.tensor(FEATURES))


def test_extract_int8_by_fp32_name(int8, digits):
    x = digits.x_test
    with q8.Session(int8, len(x)) as s:
        s.run(x)
        with s.tensor_q8(FEATURES + "_quantized") as t:
            ref_u8, ref_f32, qp = t.numpy(), t.dequantize(), t.qparams
    with int8.extract(FEATURES) as body:  # dequantize=True: float32 under the FP32 name
        assert body.outputs == [FEATURES]
        (features,) = run(body, x)
        assert features.dtype == np.float32
        np.testing.assert_array_equal(features, ref_f32)
    with int8.extract(FEATURES, dequantize=False) as body, q8.Session(body, len(x)) as s:
        assert body.outputs == [FEATURES + "_quantized"]
        s.run(x)
        with s.tensor_q8(FEATURES + "_quantized") as t:
            np.testing.assert_array_equal(t.numpy(), ref_u8)
            assert t.dtype == q8.DType.U8 and t.qparams == qp


def test_extract_then_append_the_last_layer_is_the_full_model(fp32, digits, models_dir, fp32_accuracy):
    init = {i.name: numpy_helper.to_array(i)
            for i in onnx.load(os.path.join(models_dir, "digits_mlp.onnx")).graph.initializer}
    x = digits.x_test
    with fp32.extract(FEATURES) as body, gemm_head(init["4.weight"], init["4.bias"], name="logits") as head:
        with body.append(head, FEATURES) as back:
            assert back.outputs == ["logits"] and back.node_count == 5
            assert "/0/Gemm_head" in back.describe() and "0.weight_head" in back.describe()
            (logits,) = run(back, x)
    (ref,) = run(fp32, x)
    np.testing.assert_array_equal(logits, ref)
    accuracy = 100.0 * float(np.mean(logits.argmax(axis=1) == digits.y_test))
    assert accuracy == pytest.approx(fp32_accuracy["mlp"], abs=1e-9)


def test_fp32_head_on_int8_features(int8, digits):
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 256)) * 0.1, rng.standard_normal(3) * 0.1
    x = digits.x_test
    with int8.append(gemm_head(w, b), FEATURES) as model, int8.extract(FEATURES) as body:
        assert model.outputs == ["scores"]
        assert "DequantizeLinear" in model.describe()
        (scores,) = run(model, x)
        (features,) = run(body, x)
    ref = features.astype(np.float64) @ w.astype(np.float32).T.astype(np.float64) + b.astype(np.float32)
    np.testing.assert_allclose(scores, ref, rtol=1e-4, atol=1e-4)


def test_errors_name_the_problem(fp32, int8):
    with pytest.raises(q8.InvalidArgumentError, match="'nope'"):
        fp32.extract("nope")
    with pytest.raises(q8.InvalidArgumentError, match="is a constant"):
        fp32.extract("0.weight")
    head = gemm_head(np.zeros((3, 256)), np.zeros(3))
    with pytest.raises(q8.DTypeError, match="the head takes f32, the tensor is u8"):
        int8.append(head, FEATURES + "_quantized")
    with pytest.raises(q8.ShapeError, match=r"the head takes \[N,256\], the tensor is \[N,64\]"):
        fp32.append(head, "input")
    with pytest.raises(q8.InvalidArgumentError, match="head must be a q8.Model"):
        fp32.append("head.onnx", FEATURES)
    head.close()
    with pytest.raises(q8.StateError):
        fp32.append(head, FEATURES)


def test_result_outlives_its_sources(models_dir, digits):
    """The new model shares the weights and keeps them alive: its sources may close first."""
    x = digits.x_test[:64]
    base = q8.Model.load_onnx(os.path.join(models_dir, "digits_mlp.onnx"))
    head = gemm_head(np.eye(3, 256), np.zeros(3))
    model = base.append(head, FEATURES)
    body = base.extract(FEATURES)
    base.close()
    head.close()
    with model, body:
        (scores,) = run(model, x)
        (features,) = run(body, x)
    np.testing.assert_array_equal(scores, features[:, :3])  # the identity head passes 3 features on
