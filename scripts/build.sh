#!/usr/bin/env bash
# Configures and builds tapedeck into build/ (Ninja, ccache when present). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keys on relative paths, so clones in other folders (CI's) reuse each other's objects.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DTAPEDECK_WERROR=ON "$@" >/dev/null
cmake --build build -j"${TAPEDECK_JOBS:-2}"
