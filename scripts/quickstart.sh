#!/usr/bin/env bash
# Quick start on a fresh Debian 12 (as root): install the build dependencies, build q8, and run the
# main job: quantize the bundled digits CNN (static INT8, per-channel weights, calibrated on the
# training rows) and print the before/after table — accuracy on the held-out rows, bytes, latency
# per batch of 64 FP32 vs INT8, peak memory. Safe to run again: installs only when a
# package is missing, configures `build` only when it is not configured yet.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config g++ libopenblas-dev libtbb-dev libcriterion-dev zlib1g-dev
          libonnx-dev libprotobuf-dev protobuf-compiler libflatbuffers-dev flatbuffers-compiler)

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  if ((EUID != 0)); then
    echo "quickstart: missing packages: ${missing[*]}; run as root (or install them) first" >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
fi

# Configure once; a dir whose first setup failed has no build.ninja, and meson sets it up again.
[[ -f build/build.ninja ]] || meson setup build
ninja -C build
# OpenBLAS 0.3.21 picks slow kernels on this CPU unless told: give the FP32 side its best.
if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
data=tests/data/digits.csv.gz
build/src/cli/q8 quantize tests/data/models/digits_cnn.onnx -o build/digits_cnn.q8 \
  --calib "$data" --input-scale 0.0625
build/src/cli/q8 bench build/digits_cnn.q8 --against tests/data/models/digits_cnn.onnx \
  --data "$data" --input-scale 0.0625
