#!/usr/bin/python3
"""Writes the seed corpus of fuzz_mpi_activations (fuzz/corpus/mpi_activations): messages in the
layout of src/mpi/activations.cpp's pack(), little-endian:
  u32 count, then per tensor: u32 name length, name, i32 dtype, u32 rank, i64 shape[rank],
  i32 axis, u64 parameter count, f32 scales[count], i32 zero points[count], u64 bytes, data.
Deterministic; run from the repository root: scripts/make_mpi_activation_seeds.py"""
import os
import struct

F32, S8, U8 = 0, 1, 2


def tensor(name, dtype, shape, data, axis=-1, scales=(), zps=()):
    b = struct.pack("<I", len(name)) + name.encode()
    b += struct.pack("<iI", dtype, len(shape)) + struct.pack(f"<{len(shape)}q", *shape)
    b += struct.pack("<iQ", axis, len(scales)) + struct.pack(f"<{len(scales)}f", *scales)
    b += struct.pack(f"<{len(zps)}i", *zps) + struct.pack("<Q", len(data)) + data
    return b


def message(*tensors):
    return struct.pack("<I", len(tensors)) + b"".join(tensors)


f32 = tensor("/0/Conv_output_0", F32, [2, 3], struct.pack("<6f", 0.5, -1.25, 3.0, 0.0, -0.0, 7.5))
u8 = tensor("/2/Relu_output_0_quantized", U8, [1, 4], bytes([0, 17, 128, 255]), scales=(0.02,), zps=(3,))
s8 = tensor("w", S8, [2, 2], bytes([1, 255, 127, 128]), axis=0, scales=(0.5, 0.25), zps=(0, 0))
seeds = {"f32": message(f32), "u8_per_tensor": message(u8), "s8_per_axis": message(s8),
         "two": message(f32, u8), "empty": message()}
out = os.path.join("fuzz", "corpus", "mpi_activations")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
