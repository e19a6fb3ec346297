#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. unit tests (GoogleTest), fuzz-corpus replays and integration tests (the real tapedeck binary
#      driven by independent clients), all through CTest (build/; the benchmarks are not built);
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer, and the store and server
#      tests under ThreadSanitizer (scripts/sanitize.sh; build-asan/, build-tsan/);
#   3. each libFuzzer target for TAPEDECK_FUZZ_SECONDS (default 15) seconds (scripts/fuzz.sh).
# TAPEDECK_QUICK=1 runs step 1 only (for the edit-build-test loop; CI runs all three).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# What CTest runs: the test binaries (tests/all: unit tests and fuzz-corpus replays) and the binary
# the integration tests start. The benchmarks are built by whoever runs them (docs/perf.md).
scripts/build.sh --target tapedeck --target tests/all
(cd build && ctest --output-on-failure -j"${TAPEDECK_JOBS:-2}" --timeout 600)
if [ "${TAPEDECK_QUICK:-0}" != 1 ]; then
  scripts/sanitize.sh asan tsan
  scripts/fuzz.sh "${TAPEDECK_FUZZ_SECONDS:-15}"
fi
