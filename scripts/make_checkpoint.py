#!/usr/bin/python3
"""Writes a synthetic LLM-style safetensors checkpoint for q8's checkpoint tests and benchmarks.

Layout per layer i (PyTorch Linear weights are [out, in]):
  model.layers.{i}.input_layernorm.weight   [hidden]
  model.layers.{i}.self_attn.o_proj.weight  [hidden, hidden]
  model.layers.{i}.mlp.down_proj.weight     [hidden, ffn]
plus model.embed_tokens.weight [vocab, hidden] first and model.norm.weight [hidden] last.
The default is the issue's example: 24 layers of 4096x4096 + 4096x11008 in FP32 (about 6 GB).

The file is streamed: the header is computed from the shapes, then each tensor is generated and
written in blocks of rows, so memory stays small whatever the size. Values are N(0, 0.02) (norms
1 + N(0, 0.02)) from numpy's PCG64 seeded with (seed, tensor index): the same arguments always
give the same bytes. Runs on /usr/bin/python3 with numpy only.

usage: make_checkpoint.py OUT.safetensors [--layers 24] [--hidden 4096] [--ffn 11008]
                          [--vocab 1000] [--dtype f32|f16|bf16] [--seed 0]
"""
import argparse
import json
import os
import sys

import numpy as np

DTYPES = {"f32": ("F32", 4), "f16": ("F16", 2), "bf16": ("BF16", 2)}
BLOCK_BYTES = 16 << 20  # f32 bytes generated at a time


def tensors(args):
    """(name, shape, is_norm) in file order."""
    out = [("model.embed_tokens.weight", (args.vocab, args.hidden), False)]
    for i in range(args.layers):
        p = "model.layers.%d." % i
        out.append((p + "input_layernorm.weight", (args.hidden,), True))
        out.append((p + "self_attn.o_proj.weight", (args.hidden, args.hidden), False))
        out.append((p + "mlp.down_proj.weight", (args.hidden, args.ffn), False))
    out.append(("model.norm.weight", (args.hidden,), True))
    return out


def encode(values, dtype):
    """float32 array -> little-endian bytes of the checkpoint dtype (round to nearest even)."""
    if dtype == "f32":
        return values.astype("<f4").tobytes()
    if dtype == "f16":
        return values.astype("<f2").tobytes()
    bits = values.astype("<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # bfloat16: top half, rounded
    return rounded.astype("<u2").tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--ffn", type=int, default=11008)
    ap.add_argument("--vocab", type=int, default=1000)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if min(args.layers, args.hidden, args.ffn, args.vocab) < 0:
        sys.exit("make_checkpoint.py: sizes must be >= 0")

    name, esize = DTYPES[args.dtype]
    plan = tensors(args)
    header = {"__metadata__": {"format": "pt", "generator": "q8 scripts/make_checkpoint.py"}}
    at = 0
    for tname, shape, _ in plan:
        n = int(np.prod(shape)) * esize
        header[tname] = {"dtype": name, "shape": list(shape), "data_offsets": [at, at + n]}
        at += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # tensor data 8-byte aligned in the file

    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for index, (tname, shape, norm) in enumerate(plan):
            rng = np.random.default_rng([args.seed, index])
            cols = shape[-1] if len(shape) > 1 else 1
            rows = shape[0] if len(shape) > 1 else shape[0]
            step = max(1, BLOCK_BYTES // (4 * max(cols, 1)))
            for first in range(0, rows, step):
                count = min(step, rows - first)
                block = rng.standard_normal(count * cols, dtype=np.float32) * np.float32(0.02)
                if norm:
                    block += np.float32(1.0)
                f.write(encode(block, args.dtype))
    os.replace(tmp, args.out)
    print("%s: %d tensors, %.3f GB of %s data" % (args.out, len(plan), at / 1e9, name))


if __name__ == "__main__":
    main()
