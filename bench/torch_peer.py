#!/usr/bin/python3
"""PyTorch FP32 peer for q8's model benchmark: one JSON line per run.

Usage (from anywhere; needs torch, onnx, numpy, i.e. /usr/bin/python3 on Debian 12):

    /usr/bin/python3 bench/torch_peer.py MODEL [--batch 64] [--threads 1] [--reps 200]
                                               [--warmup 20] [--data PATH] [--onnx PATH]

MODEL is mlp or cnn. The torch module (the same nn.Sequential that scripts/train_digits.py trains)
is rebuilt with the weights read from the ONNX file's initializers
(tests/data/models/digits_MODEL.onnx unless --onnx is given): the parameterized nodes (Conv,
BatchNormalization, Gemm) are taken in graph order and matched, shape-checked, to the module's
layers in order. The held-out accuracy it prints (rows with index % 4 == 0 of --data, default
tests/data/digits.csv.gz under the repo root) proves the weights match fp32_accuracy.json.

Latency: torch.set_num_threads(threads) and OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=threads (set
before torch is imported: Debian's torch runs nn.Linear through the system OpenBLAS, whose thread
pool torch.set_num_threads does not limit), torch.inference_mode(), eager mode, one batch of `batch`
held-out rows (cycled if batch > 450) run `warmup` times, then `reps` times each timed on its own;
median_ms is the median per batch. Output keys: peer, model, batch, threads, reps, median_ms,
min_ms, mean_ms, p90_ms, us_per_sample, accuracy, correct, test_rows, torch,
torch_cpu_capability, process_threads, onnx_file.
"""
import argparse
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Filled in by _import_heavy() once the thread count is known: Debian's torch does its Linear
# (addmm) through the system OpenBLAS, whose own thread pool ignores torch.set_num_threads(), so
# OPENBLAS_NUM_THREADS/OMP_NUM_THREADS must be set before numpy or torch is first imported.
np = onnx = torch = nn = numpy_helper = td = None


def _import_heavy(threads):
    global np, onnx, torch, nn, numpy_helper, td
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy as np
    import onnx
    import torch
    import torch.nn as nn
    from onnx import numpy_helper
    sys.dont_write_bytecode = True  # no scripts/__pycache__ in the tree
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import train_digits as td  # model definitions and the data split, one copy


def build_from_onnx(name, path):
    m = onnx.load(path)
    onnx.checker.check_model(m)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    ops = [n.op_type for n in m.graph.node]
    if name == "mlp":
        model = td.make_mlp()
    else:
        # If a future export folds BatchNorm into the convolutions, build the BN-less variant.
        model = td.make_cnn(batchnorm="BatchNormalization" in ops)
    model.eval()

    # ONNX side: per parameterized node, the tensors in the order the module expects them.
    onnx_params = []
    for node in m.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        ins = [inits[i] if i in inits else None for i in node.input]
        if node.op_type == "Conv":
            w, b = ins[1], ins[2] if len(ins) > 2 else None
            onnx_params.append(("Conv", [w, b]))
        elif node.op_type == "Gemm":
            w, b = ins[1], ins[2] if len(ins) > 2 else None
            if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 \
                    or attrs.get("beta", 1.0) != 1.0:
                raise SystemExit(f"{path}: unsupported Gemm attributes {attrs}")
            if not attrs.get("transB", 0):
                w = w.T  # nn.Linear keeps [out, in]
            onnx_params.append(("Gemm", [w, b]))
        elif node.op_type == "BatchNormalization":
            onnx_params.append(("BatchNormalization", ins[1:5] + [attrs.get("epsilon", 1e-5)]))

    # Module side: its parameterized layers in order.
    layers = [mod for mod in model if isinstance(mod, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
    kinds = {nn.Conv2d: "Conv", nn.Linear: "Gemm", nn.BatchNorm2d: "BatchNormalization"}
    if [kinds[type(mod)] for mod in layers] != [k for k, _ in onnx_params]:
        raise SystemExit(f"{path}: graph {ops} does not match the {name} module")

    def put(dst, src):
        if src is None or tuple(dst.shape) != tuple(src.shape):
            raise SystemExit(f"{path}: shape mismatch {tuple(dst.shape)} vs "
                             f"{None if src is None else src.shape}")
        dst.copy_(torch.from_numpy(np.array(src, dtype=np.float32, copy=True)))

    with torch.no_grad():
        for mod, (kind, t) in zip(layers, onnx_params):
            if kind == "BatchNormalization":
                put(mod.weight, t[0])
                put(mod.bias, t[1])
                put(mod.running_mean, t[2])
                put(mod.running_var, t[3])
                mod.eps = float(t[4])
            else:
                put(mod.weight, t[0])
                put(mod.bias, t[1])
    return model


def cpu_capability():
    """The ATen kernel level in use (AVX2 / AVX512 / DEFAULT), from torch's build summary."""
    import re
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=["mlp", "cnn"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--data", default=os.path.join(REPO, "tests", "data", "digits.csv.gz"))
    ap.add_argument("--onnx", default=None)
    args = ap.parse_args()
    if args.batch < 1 or args.threads < 1 or args.reps < 1 or args.warmup < 0:
        raise SystemExit("batch, threads and reps must be >= 1, warmup >= 0")
    _import_heavy(args.threads)

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    path = args.onnx or os.path.join(REPO, "tests", "data", "models",
                                     f"digits_{args.model}.onnx")
    model = build_from_onnx(args.model, path)

    _, _, xte, yte = td.load_digits(args.data)
    xte = td.shaped(xte, args.model)
    with torch.inference_mode():
        pred = model(torch.from_numpy(xte)).argmax(1).numpy()
    correct = int((pred == yte).sum())

    idx = np.arange(args.batch) % len(xte)
    xb = torch.from_numpy(np.ascontiguousarray(xte[idx]))
    times = []
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(xb)
        for _ in range(args.reps):
            t0 = time.perf_counter_ns()
            model(xb)
            times.append((time.perf_counter_ns() - t0) / 1e6)
    times.sort()
    med = statistics.median(times)
    out = {
        "peer": "pytorch",
        "model": args.model,
        "batch": args.batch,
        "threads": args.threads,
        "reps": args.reps,
        "median_ms": round(med, 4),
        "min_ms": round(times[0], 4),
        "mean_ms": round(statistics.fmean(times), 4),
        "p90_ms": round(times[min(len(times) - 1, int(0.9 * len(times)))], 4),
        "us_per_sample": round(med * 1000.0 / args.batch, 3),
        "accuracy": round(correct / len(yte), 6),
        "correct": correct,
        "test_rows": int(len(yte)),
        "torch": torch.__version__,
        "torch_cpu_capability": cpu_capability(),
        # OS threads of this process after the timed runs (torch intra-op + OpenBLAS pools).
        "process_threads": len(os.listdir("/proc/self/task"))
        if os.path.isdir("/proc/self/task") else None,
        "onnx_file": os.path.relpath(path, REPO),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
