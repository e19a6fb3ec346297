#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests (GoogleTest) and integration
# tests (the real tapedeck binary driven by independent clients), all through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"${TAPEDECK_JOBS:-2}" --timeout 600
