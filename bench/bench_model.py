#!/usr/bin/python3
"""Whole-model benchmark: the bundled digits models, FP32 vs q8 INT8 (static, per channel) vs
PyTorch FP32, measured in one run.

For each model it quantizes the FP32 ONNX with `q8 quantize`, then `q8 bench INT8 --against FP32`
measures both q8 paths in paired rounds in one process (latency per batch, bytes, peak RSS of a
child per model, accuracy on the held-out split), and bench/torch_peer.py times PyTorch on the
same ONNX weights with the same thread count right after. Ratios are printed against both peers,
and every row also goes out as a JSON line (prefix "json:") for comparing commits.

usage: bench/bench_model.py --q8 build/src/cli/q8 [--threads 1,2] [--batch 64] [--models mlp,cnn]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--q8", default=os.path.join(ROOT, "build", "src", "cli", "q8"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    data = os.path.join(ROOT, "tests", "data", "digits.csv.gz")
    env = dict(os.environ)
    # OpenBLAS 0.3.21 picks slow kernels on this CPU unless told (docs/BENCHMARKS.md): the FP32 peers
    # (q8's own FP32 path and PyTorch's Linear layers) get the best ones.
    if " avx512f" in open("/proc/cpuinfo").read():
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            fp32 = os.path.join(ROOT, "tests", "data", "models", "digits_%s.onnx" % name)
            int8 = os.path.join(tmp, "digits_%s.q8" % name)
            run([args.q8, "quantize", fp32, "-o", int8, "--calib", data, "--input-scale", "0.0625", "--quiet"], env)
            for threads in [int(t) for t in args.threads.split(",")]:
                q = json.loads(run([args.q8, "bench", int8, "--against", fp32, "--data", data, "--input-scale", "0.0625",
                                    "--batch", str(args.batch), "--threads", str(threads), "--rounds", str(args.rounds),
                                    "--reps", str(args.reps), "--json"], env))
                t = json.loads(run(["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_peer.py"), name,
                                    "--batch", str(args.batch), "--threads", str(threads)], env).strip().splitlines()[-1])
                i8, f32 = q["models"]
                torch_s = t["median_ms"] / 1e3
                rows.append({
                    "model": name, "threads": threads, "batch": args.batch, "isa": q["isa"],
                    "int8_ms": i8["latency_s"] * 1e3, "fp32_ms": f32["latency_s"] * 1e3, "torch_ms": torch_s * 1e3,
                    "int8_vs_fp32": i8["latency_s"] / f32["latency_s"],
                    "int8_vs_torch": i8["latency_s"] / torch_s if torch_s else None,
                    "acc_fp32": 100 * f32["accuracy"], "acc_int8": 100 * i8["accuracy"],
                    "bytes_ratio": i8["file_bytes"] / f32["file_bytes"],
                    "rss_int8": i8["peak_rss"], "rss_fp32": f32["peak_rss"],
                })
    print("%-4s %3s %9s %9s %9s %10s %11s %8s %8s %8s" % ("model", "thr", "int8 ms", "fp32 ms", "torch ms", "int8/fp32",
                                                         "int8/torch", "acc f32", "acc i8", "bytes"))
    for r in rows:
        print("%-5s %3d %9.3f %9.3f %9.3f %9.3fx %10.3fx %7.2f%% %7.2f%% %7.3fx" % (
            r["model"], r["threads"], r["int8_ms"], r["fp32_ms"], r["torch_ms"], r["int8_vs_fp32"],
            r["int8_vs_torch"] or 0, r["acc_fp32"], r["acc_int8"], r["bytes_ratio"]))
    for r in rows:
        print("json: " + json.dumps(r))


if __name__ == "__main__":
    sys.exit(main())
