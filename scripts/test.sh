#!/bin/bash
# The test command. On a fresh Debian 12 machine (as root) it installs what the build and the
# tests need, builds `build` (release) and runs every test; with --sanitize it does the same in
# `build-asan` under AddressSanitizer and UndefinedBehaviorSanitizer. Ends with the line
# `N passed, N failed` (individual Criterion tests, other meson tests one each).
#
#   bash scripts/test.sh              # release build in ./build
#   bash scripts/test.sh --sanitize   # address,undefined build in ./build-asan
#   bash scripts/test.sh --fuzz       # clang libFuzzer targets, a seeded smoke run each, ./build-fuzz
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitize=0
fuzz=0
for arg in "$@"; do
  case $arg in
    --sanitize) sanitize=1 ;;
    --fuzz) fuzz=1 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# ---- packages ------------------------------------------------------------------------------
packages=(meson ninja-build pkg-config g++ libopenblas-dev libtbb-dev libcriterion-dev zlib1g-dev
          libonnx-dev libprotobuf-dev protobuf-compiler libflatbuffers-dev flatbuffers-compiler python3
          nlohmann-json3-dev libopenmpi-dev openmpi-bin
          qemu-user g++-aarch64-linux-gnu)  # the last two: the NEON kernels under qemu
# The bindings (bindings/q8.i) and their tests: SWIG, then each language's toolchain and test tools.
packages+=(swig python3-dev python3-pytest python3-numpy python3-torch python3-onnx
           default-jdk-headless junit5 mono-mcs mono-runtime golang-go)
((fuzz)) && packages+=(clang libclang-rt-14-dev)
# ONNX Runtime (the QDQ export check) comes from npm as onnxruntime-node; node and npm from Debian
# unless the machine already has them.
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: missing packages (${missing[*]}); run as root or install them first" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}" </dev/null
fi

# ---- build and test ------------------------------------------------------------------------
# Every binding is required here (the options' 'auto' would skip one whose toolchain is missing).
bindings=(-Dbinding_python=enabled -Dbinding_java=enabled -Dbinding_csharp=enabled -Dbinding_go=enabled)
if ((fuzz)); then
  dir=build-fuzz
  # No q8-mpi here: it reads no untrusted bytes (its messages come from its own ranks) and is
  # tested under ASan + UBSan in the sanitizer build below; libq8 itself never links MPI.
  options=(-Dbuildtype=debugoptimized -Dfuzz=true -Dtests=false "-Db_sanitize=address,undefined"
           -Db_lundef=false -Dmpi=disabled)  # clang puts the sanitizer runtimes only into executables
  export CC=clang CXX=clang++
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1
elif ((sanitize)); then
  dir=build-asan
  # q8-mpi too (suite 'mpi'): ASan and UBSan on, LeakSanitizer off in tests/mpi/*.sh only, since
  # OpenMPI 4.1 leaks at MPI_Finalize.
  options=(-Dbuildtype=debugoptimized "-Db_sanitize=address,undefined" -Dfuzz=false -Dtests=true
           -Dmpi=enabled "${bindings[@]}")
  # Any sanitizer report fails the test that caused it, with a stack trace in the log.
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:detect_leaks=1
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/ubsan.supp
else
  dir=build
  options=(-Dbuildtype=release -Db_sanitize=none -Dfuzz=false -Dtests=true -Dneon_qemu=true
           -Dmpi=enabled "${bindings[@]}")  # q8-mpi and its suite 'mpi' (mpirun on loopback)
fi

# A log left from an earlier run must never be read as this run's result.
rm -f "$dir/meson-logs/testlog.json"
if [[ -f $dir/meson-private/coredata.dat ]]; then
  meson setup --reconfigure "$dir" "${options[@]}"
else
  meson setup "$dir" "${options[@]}"
fi
meson compile -C "$dir"

# onnxruntime-node for the ONNX export check (tests/ort), pinned by its lock file, from npm's
# registry (the only download besides apt); the test fails if it is missing.
if ((!fuzz && !sanitize)); then
  mkdir -p "$dir/ort"
  cp tests/ort/package.json tests/ort/package-lock.json "$dir/ort/"
  (cd "$dir/ort" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

status=0
meson test -C "$dir" --print-errorlogs || status=$?
/usr/bin/python3 scripts/summarize_tests.py "$dir/meson-logs/testlog.json" || status=1
exit "$status"
