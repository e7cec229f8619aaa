#!/bin/bash
# Installs the build into a temporary DESTDIR, then builds tests/abi/consumer.c against it with
# nothing but `pkg-config --cflags --libs q8` (as C, and as C++ when a C++ compiler is given) and
# runs it with LD_LIBRARY_PATH pointing into the DESTDIR.
#
# usage: pkgconfig_consumer.sh BUILD_DIR CONSUMER_C SANITIZE
# environment: MESON, PKG_CONFIG, CC (a command, may have several words), CXX (optional)
set -euo pipefail

build_dir=$1 consumer=$2 sanitize=$3
: "${MESON:=meson}" "${PKG_CONFIG:=pkg-config}" "${CC:=cc}" "${CXX:=}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/q8-pkgconfig.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$MESON" install -C "$build_dir" --no-rebuild --quiet --destdir "$tmp/root" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log" >&2
  echo "pkgconfig: meson install failed" >&2
  exit 1
}

pc=$(find "$tmp/root" -name q8.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n $pc ]] || { echo "pkgconfig: no q8.pc was installed" >&2; exit 1; }
export PKG_CONFIG_PATH=${pc%/*}${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} PKG_CONFIG_SYSROOT_DIR=$tmp/root
flags=$("$PKG_CONFIG" --cflags --libs q8)
echo "pkg-config --cflags --libs q8: $flags"
[[ $flags == *"-I$tmp/root/"* && $flags == *"-L$tmp/root/"* && $flags == *-lq8* ]] || {
  echo "pkgconfig: the flags do not point into the installed tree" >&2
  exit 1
}
libdir=$("$PKG_CONFIG" --variable=libdir q8)
libdir=$tmp/root${libdir#"$tmp/root"}
[[ -e $libdir/libq8.so.0 ]] || { echo "pkgconfig: $libdir/libq8.so.0 is missing" >&2; exit 1; }

# Only the installed library: meson test points LD_LIBRARY_PATH at the build tree.
export LD_LIBRARY_PATH=$libdir

# A sanitized libq8 needs the sanitizer runtimes in the program too.
extra=()
[[ $sanitize != none && -n $sanitize ]] && extra+=("-fsanitize=$sanitize")

warn=(-Wall -Wextra -Wpedantic -Werror)
read -r -a cc <<<"$CC"
read -r -a cxx <<<"$CXX"
# A clang-sanitized libq8 needs the C++ sanitizer runtime, which clang links only into C++
# programs: in sanitized builds the C consumer is compiled as C but linked by the C++ driver.
cc_link=("${cc[@]}")
((${#extra[@]} && ${#cxx[@]})) && cc_link=("${cxx[@]}")
# shellcheck disable=SC2086  # pkg-config output is a list of words
"${cc_link[@]}" -x c -std=c11 "${warn[@]}" "${extra[@]}" "$consumer" -x none $flags -o "$tmp/consumer_c"
loaded=$(ldd "$tmp/consumer_c" | awk '$1 == "libq8.so.0" { print $3 }')
[[ $loaded == "$libdir/libq8.so.0" ]] || {
  echo "pkgconfig: the consumer loads libq8.so.0 from '$loaded', not from $libdir" >&2
  exit 1
}
"$tmp/consumer_c"

if ((${#cxx[@]})); then
  # shellcheck disable=SC2086
  "${cxx[@]}" -x c++ -std=c++17 "${warn[@]}" "${extra[@]}" "$consumer" -x none $flags -o "$tmp/consumer_cpp"
  "$tmp/consumer_cpp"
fi
echo "pkgconfig: OK"
