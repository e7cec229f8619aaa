#!/bin/bash
# Cross-builds tests/neon/test_gemm_neon.cpp for aarch64 (static) with the real src/gemm sources
# and runs it under qemu-aarch64, twice: with the dot-product extension (SDOT kernel) and for
# plain armv8-a (SMLAL kernel). Meson's 'neon' suite runs it when -Dneon_qemu=true.
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
exit "$status"
