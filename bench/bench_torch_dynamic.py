#!/usr/bin/python3
"""q8.torch.quantize_dynamic against PyTorch's own dynamic quantization and FP32, in one process.

usage: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/bench_torch_dynamic.py BUILD_DIR
           [--threads 1] [--rounds 15] [--reps 20]

BUILD_DIR holds the built Python package (BUILD_DIR/bindings/python). For each layer shape (a
transformer-sized MLP block and the digits MLP) and batch size, three models run in paired rounds
(FP32, torch.ao.quantization.quantize_dynamic, q8.torch.quantize_dynamic: A, B, C, A, B, C, ...),
each round timing `reps` forward passes under torch.inference_mode(); the figure per model is the
median round. Printed as ratios against FP32 and against torch.ao, with the outputs' max abs
difference from FP32 and the weight bytes. Debian's torch runs FP32 Linear through OpenBLAS and
its dynamic quantization through FBGEMM (AVX2 kernels); q8 uses its AVX-512 VNNI GEMM.
"""
import argparse
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    # OpenBLAS and OpenMP read their thread counts when they load: set them before torch does.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.join(args.build_dir, "bindings", "python"))
    import torch
    from torch import nn
    import q8
    import q8.torch

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    q8.set_threads(args.threads)

    shapes = [("transformer MLP 768-3072-768", [768, 3072, 768]),
              ("digits MLP 64-256-256-10", [64, 256, 256, 10])]
    print(f"q8.torch vs torch.ao dynamic quantization, {args.threads} thread(s), "
          f"{args.rounds} paired rounds x {args.reps} forwards, median round")
    print(f"{'model':<30} {'batch':>5} {'fp32 ms':>8} {'ao ms':>8} {'q8 ms':>8} "
          f"{'q8/fp32':>8} {'q8/ao':>7} {'q8 err':>8} {'ao err':>8} {'q8 bytes':>9}")
    for name, dims in shapes:
        layers = []
        for i in range(len(dims) - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(nn.ReLU())
        fp32 = nn.Sequential(*layers).eval()
        ao = torch.ao.quantization.quantize_dynamic(fp32, {nn.Linear}, dtype=torch.qint8)
        q8m = q8.torch.quantize_dynamic(fp32)
        int8_bytes, fp32_bytes = q8.torch.weight_bytes(q8m)
        for batch in (1, 16, 128):
            x = torch.randn(batch, dims[0])
            models = [("fp32", fp32), ("ao", ao), ("q8", q8m)]
            times = {k: [] for k, _ in models}
            with torch.inference_mode():
                ref = fp32(x)
                err = {k: float((m(x) - ref).abs().max()) for k, m in models}
                for k, m in models:  # warm-up
                    for _ in range(3):
                        m(x)
                for _ in range(args.rounds):
                    for k, m in models:
                        t0 = time.perf_counter()
                        for _ in range(args.reps):
                            m(x)
                        times[k].append((time.perf_counter() - t0) / args.reps * 1e3)
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{name:<30} {batch:>5} {med['fp32']:>8.3f} {med['ao']:>8.3f} {med['q8']:>8.3f} "
                  f"{med['q8'] / med['fp32']:>7.3f}x {med['q8'] / med['ao']:>6.3f}x "
                  f"{err['q8']:>8.4f} {err['ao']:>8.4f} {int8_bytes / fp32_bytes:>8.3f}x")


if __name__ == "__main__":
    main()
