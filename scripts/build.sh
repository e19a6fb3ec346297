#!/usr/bin/env bash
# Configures and builds tapedeck into build/ (Ninja, ccache when present).
#
#   scripts/build.sh [--target NAME]... [CMAKE_ARG]...
#
# --target NAME builds only NAME and what it needs (repeatable): `tapedeck` (the binary), a test
# binary (`store_test`, ...), `tests/all` (every test binary: Ninja's target for a folder), a
# benchmark (`engine_bench`, `loadgen_driver`, ...). Without --target everything is built: the
# binary, the tests and the benchmarks. Every other argument (one word each, -DNAME=VALUE) goes to
# cmake's configure step (e.g. -DCMAKE_BUILD_TYPE=Debug).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
cmake_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target)
      [ $# -ge 2 ] || { echo "scripts/build.sh: --target needs a name" >&2; exit 2; }
      targets+=("$2")
      shift 2
      ;;
    --target=*) targets+=("${1#--target=}"); shift ;;
    -*) cmake_args+=("$1"); shift ;;
    *) echo "scripts/build.sh: '$1' is neither --target NAME nor a cmake option" >&2; exit 2 ;;
  esac
done
# ccache keys on relative paths, so clones in other folders (CI's) reuse each other's objects.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DTAPEDECK_WERROR=ON "${cmake_args[@]}" >/dev/null
if [ ${#targets[@]} -gt 0 ]; then
  cmake --build build -j"${TAPEDECK_JOBS:-2}" --target "${targets[@]}"
else
  cmake --build build -j"${TAPEDECK_JOBS:-2}"
fi
