#!/usr/bin/env bash
# Quick start on a fresh Debian 12 (as root): install the build dependencies, build q8, and run the
# main job, `q8 calibrate` on the bundled digits data. Safe to run again: installs only when a
# package is missing, configures `build` only when it is not configured yet.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config g++ libopenblas-dev libtbb-dev libcriterion-dev zlib1g-dev)

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
build/src/cli/q8 calibrate
