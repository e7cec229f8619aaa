#!/usr/bin/python3
"""Train the three bundled digits models and export them to ONNX (FP32, opset 13).

Usage (from the repo root; needs torch, onnx and numpy, i.e. /usr/bin/python3 on Debian 12):

    /usr/bin/python3 scripts/train_digits.py [--data tests/data/digits.csv.gz]
                                              [--out tests/data/models]

Writes <out>/digits_mlp.onnx, <out>/digits_cnn.onnx, <out>/digits_tiny_cnn.onnx and <out>/fp32_accuracy.json.

Data: tests/data/digits.csv.gz, 1797 rows of 64 pixels (0..16, an 8x8 image row by row) and the
label. Project-wide split: 0-based row index i % 4 == 0 -> held-out test (450 rows), the rest
(1347) train. Input preprocessing: pixels / 16.0, shape [N,64] (MLP) or [N,1,8,8] (CNNs).

The run is deterministic (fixed seeds, one thread, deterministic algorithms): running it twice
gives the same weights and the same accuracies.
"""
import argparse
import gzip
import hashlib
import json
import os
import sys
import time

if __name__ == "__main__":
    # One core, always (the weights' bits depend on the BLAS thread count). torch.set_num_threads
    # does not reach the OpenBLAS pool that Debian's torch uses for nn.Linear, so pin it here,
    # before numpy or torch loads OpenBLAS.
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import numpy as np
import torch
import torch.nn as nn

import onnx
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240501
OPSET = 13


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
def load_digits(path):
    """Return (x_train, y_train, x_test, y_test); x as float32 pixels/16, shape [n,64]."""
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if data.shape != (1797, 65):
        raise SystemExit(f"{path}: expected 1797x65, got {data.shape}")
    x = data[:, :64].astype(np.float32) / np.float32(16.0)
    y = data[:, 64]
    test = np.arange(len(data)) % 4 == 0
    return x[~test], y[~test], x[test], y[test]


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------
def make_mlp():
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, 10),
    )


def make_cnn(batchnorm=True):
    bn = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), bn(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), bn(64), nn.ReLU(),
        nn.MaxPool2d(2),                                   # -> [N,64,4,4]
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.Flatten(),                                      # -> [N,1024]
        nn.Linear(1024, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def make_tiny_cnn():
    """A microcontroller-sized CNN (about 2,000 parameters): the kind of model whose accuracy
    4-bit post-training quantization actually costs, unlike the two roomy ones above."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(2),                                   # -> [N,8,4,4]
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),                                   # -> [N,16,2,2]
        nn.Flatten(),                                      # -> [N,64]
        nn.Linear(64, 10),
    )


MODELS = {
    # name: (constructor, input shape after the batch dim, epochs, batch size, learning rate)
    "mlp": (make_mlp, (64,), 40, 32, 1e-3),
    "cnn": (make_cnn, (1, 8, 8), 30, 32, 1e-3),
    "tiny_cnn": (make_tiny_cnn, (1, 8, 8), 30, 32, 1e-3),
}


def shaped(x, name):
    return x.reshape((-1,) + MODELS[name][1])


# ----------------------------------------------------------------------------------------------
# Training / evaluation
# ----------------------------------------------------------------------------------------------
def accuracy(model, x, y):
    model.eval()
    with torch.inference_mode():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


def train(name, xtr, ytr, xte, yte):
    make, _, epochs, bs, lr = MODELS[name]
    torch.manual_seed(SEED)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    lossf = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED + 1)
    xt, yt = torch.from_numpy(shaped(xtr, name)), torch.from_numpy(ytr)
    n = len(xt)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            if len(idx) < 2:  # BatchNorm needs more than one sample in training mode
                continue
            opt.zero_grad()
            loss = lossf(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        sched.step()
        if ep % 10 == 9 or ep == epochs - 1:
            print(f"  {name} epoch {ep + 1:3d}/{epochs}: train loss {total / n:.4f}, "
                  f"test acc {accuracy(model, shaped(xte, name), yte):.4f}", flush=True)
    model.eval()
    return model, time.time() - t0


# ----------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------
def export(model, name, path, note):
    model.eval()
    dummy = torch.zeros((1,) + MODELS[name][1])
    common = dict(
        opset_version=OPSET,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
    )
    if name == "mlp":
        torch.onnx.export(model, dummy, path, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL, **common)
    else:
        # We want the BatchNormalization nodes kept (q8's importer folds them itself).
        torch.onnx.export(model, dummy, path, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.EVAL, **common)
        ops = [n.op_type for n in onnx.load(path).graph.node]
        if "BatchNormalization" not in ops:
            # torch 1.13 runs _jit_pass_onnx_eval_peephole whenever training == EVAL, and that
            # pass fuses Conv+BatchNorm regardless of do_constant_folding. TrainingMode.PRESERVE
            # with the module already in eval mode exports the same inference graph without
            # that pass, so the BatchNormalization nodes (training_mode=0) survive.
            note.append("torch %s folded BatchNorm into Conv with TrainingMode.EVAL even with "
                        "do_constant_folding=False (eval peephole pass); re-exported with "
                        "TrainingMode.PRESERVE on the eval-mode module to keep "
                        "BatchNormalization nodes" % torch.__version__)
            torch.onnx.export(model, dummy, path, do_constant_folding=False,
                              training=torch.onnx.TrainingMode.PRESERVE, **common)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


# A tiny numpy interpreter of exactly the ops these graphs use, to check that the exported file
# computes what the torch module computes (onnxruntime is not installed here).
def run_onnx_numpy(m, x):
    env = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    env[m.graph.input[0].name] = x
    for node in m.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Conv":
            X, W = ins[0], ins[1]
            assert a.get("group", 1) == 1 and all(s == 1 for s in a.get("strides", [1, 1]))
            assert all(d == 1 for d in a.get("dilations", [1, 1]))
            p = a.get("pads", [0, 0, 0, 0])
            X = np.pad(X, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
            kh, kw = W.shape[2:]
            oh, ow = X.shape[2] - kh + 1, X.shape[3] - kw + 1
            cols = np.stack([X[:, :, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw)],
                            axis=2)  # [N,C,kh*kw,oh,ow]
            y = np.einsum("nckhw,ock->nohw", cols, W.reshape(W.shape[0], W.shape[1], -1))
            if len(ins) > 2:
                y = y + ins[2][None, :, None, None]
        elif op == "BatchNormalization":
            X, s, b, mean, var = ins
            eps = a.get("epsilon", 1e-5)
            sh = (1, -1, 1, 1)
            y = (X - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * s.reshape(sh) \
                + b.reshape(sh)
        elif op == "MaxPool":
            k, st = a["kernel_shape"], a.get("strides", [1, 1])
            assert k == [2, 2] and st == [2, 2] and not any(a.get("pads", [0]))
            n_, c, h, w = ins[0].shape
            y = ins[0].reshape(n_, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = y.astype(np.float32)
    return env[m.graph.output[0].name]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "tests", "data", "digits.csv.gz"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "models"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    np.random.seed(SEED)

    xtr, ytr, xte, yte = load_digits(args.data)
    print(f"digits: {len(xtr)} train, {len(xte)} held-out test rows; torch {torch.__version__}, "
          f"onnx {onnx.__version__}", flush=True)
    os.makedirs(args.out, exist_ok=True)

    result = {
        "data": "tests/data/digits.csv.gz",
        "split": "0-based row index i % 4 == 0 -> test (450 rows), else train (1347 rows)",
        "preprocessing": "pixel / 16.0; mlp input [N,64], cnn and tiny_cnn input [N,1,8,8]",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "opset": OPSET,
        "models": {},
    }
    for name in MODELS:
        model, secs = train(name, xtr, ytr, xte, yte)
        acc = accuracy(model, shaped(xte, name), yte)
        path = os.path.join(args.out, f"digits_{name}.onnx")
        notes = []
        m = export(model, name, path, notes)
        for n_ in notes:
            print(f"  note: {n_}")

        # Check the exported file: numpy interpretation vs the torch module, and its accuracy.
        xin = shaped(xte, name)
        with torch.inference_mode():
            ref = model(torch.from_numpy(xin)).numpy()
        got = run_onnx_numpy(m, xin)
        diff = float(np.abs(got - ref).max())
        onnx_acc = float((got.argmax(1) == yte).mean())
        ops = [n.op_type for n in m.graph.node]
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        nparams = sum(p.numel() for p in model.parameters())
        print(f"{name}: held-out accuracy {acc:.4f} ({int(round(acc * len(yte)))}/{len(yte)}), "
              f"trained in {secs:.1f} s; {path}: {size} bytes, {nparams} parameters; "
              f"ONNX (numpy check) accuracy {onnx_acc:.4f}, max |logit diff| {diff:.2e}",
              flush=True)
        print(f"  ops: {' '.join(ops)}", flush=True)
        if diff > 1e-3 or onnx_acc != acc:
            raise SystemExit(f"{name}: exported ONNX does not match the torch module")
        result["models"][name] = {
            "file": f"digits_{name}.onnx",
            "input_shape": ["N"] + list(MODELS[name][1]),
            "fp32_accuracy": round(acc, 6),
            "correct": int(round(acc * len(yte))),
            "test_rows": int(len(yte)),
            "parameters": int(nparams),
            "ops": ops,
            "bytes": size,
            "sha256": sha,
            "epochs": MODELS[name][2],
            "batch_size": MODELS[name][3],
            "notes": notes,
        }

    with open(os.path.join(args.out, "fp32_accuracy.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.join(args.out, 'fp32_accuracy.json')}")


if __name__ == "__main__":
    sys.exit(main())
