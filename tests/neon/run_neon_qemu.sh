#!/bin/bash
# Cross-builds tests/neon/test_gemm_neon.cpp for aarch64 (static) with the real src/gemm sources
# and runs it under qemu-aarch64, twice: with the dot-product extension (SDOT kernel) and for
# plain armv8-a (SMLAL kernel); and test_f32_neon.cpp (the ordered FP32 GEMM's NEON tiles) once.
# Meson's 'neon' suite runs it when -Dneon_qemu=true.
#
#   run_neon_qemu.sh CXX QEMU SOURCE_ROOT OUT_DIR
set -euo pipefail
cxx=$1 qemu=$2 src=$3 out=$4
mkdir -p "$out"
sources=("$src/tests/neon/test_gemm_neon.cpp" "$src/tests/neon/serial_shim.cpp"
         "$src/src/gemm/reference.cpp" "$src/src/gemm/pack.cpp" "$src/src/gemm/driver.cpp"
         "$src/src/gemm/kernels/neon.cpp")
flags=(-std=c++17 -O2 -static -ffp-contract=off -Wall -Wextra -Wpedantic -Werror
       -I"$src/include" -I"$src/src" -I"$src/tests/neon")
status=0
for march in armv8.2-a+dotprod armv8-a; do
  exe=$out/test_gemm_neon-${march//[+.]/_}
  "$cxx" "${flags[@]}" -march="$march" "${sources[@]}" -o "$exe"
  echo "qemu-aarch64, -march=$march:"
  "$qemu" "$exe" || status=1
done
f32_sources=("$src/tests/neon/test_f32_neon.cpp" "$src/tests/neon/serial_shim.cpp" "$src/src/gemm/f32/ordered.cpp"
             "$src/src/gemm/f32/neon.cpp")
"$cxx" "${flags[@]}" -march=armv8-a "${f32_sources[@]}" -o "$out/test_f32_neon"
echo "qemu-aarch64, ordered f32:"
"$qemu" "$out/test_f32_neon" || status=1
exit "$status"
