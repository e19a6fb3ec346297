#!/usr/bin/env bash
# Builds tapedeck with sanitizers and runs the tests under them (each build only what it runs):
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer, the whole unit and integration suite
#         (build-asan/); any report fails the test that triggered it: a report aborts the
#         process, and a leak at exit makes the server's exit status non-zero, which the
#         integration tests check.
#   tsan  ThreadSanitizer, the concurrent parts: the store, server and API (Runner) unit tests and the
#         integration tests that drive the server over real sockets (build-tsan/).
# Usage: scripts/sanitize.sh [asan|tsan]...   (default: both). Expects scripts/bootstrap.sh done.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
jobs="${TAPEDECK_JOBS:-2}"

# -Wno-maybe-uninitialized: GCC 12 at -O1 with sanitizers warns falsely inside libstdc++'s
# <regex> and <functional>; the normal build keeps the warning (and -Werror).
configure() {  # dir flags
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DTAPEDECK_WERROR=ON \
    -DTAPEDECK_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1 -fno-omit-frame-pointer -Wno-maybe-uninitialized $2" \
    -DCMAKE_EXE_LINKER_FLAGS_SANITIZE="$2" >/dev/null
}

run_asan() {
  configure build-asan "-fsanitize=address,undefined -fno-sanitize-recover=all"
  # What CTest runs there: every test binary (tests/all) and the binary the integration tests start.
  cmake --build build-asan -j"$jobs" --target tapedeck tests/all
  # Fewer kills in the kill -9 loop: under ASan each restart costs more.
  (cd build-asan &&
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    TAPEDECK_CRASH_KILLS="${TAPEDECK_CRASH_KILLS:-25}" TAPEDECK_SANITIZER=asan \
    ctest --output-on-failure -j"$jobs" --timeout 900)
}

run_tsan() {
  # Asio orders handler hand-offs with std::atomic_thread_fence, which TSan does not model (GCC
  # refuses it under -Werror=tsan); its scheduler's mutexes, which TSan sees, do the real
  # synchronising, so the TSan build uses Asio's null fenced block.
  configure build-tsan "-fsanitize=thread -DBOOST_ASIO_DISABLE_FENCED_BLOCK"
  cmake --build build-tsan -j"$jobs" --target tapedeck store_test server_test api_test
  # 10 kills in the kill -9 loop: it is what races at start-up and shutdown TSan is there for, and
  # at TSan's pace 50 would take most of CI's time (the normal pass runs all 50).
  (cd build-tsan &&
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:exitcode=66" TAPEDECK_SANITIZER=tsan \
    TAPEDECK_CRASH_KILLS="${TAPEDECK_CRASH_KILLS:-10}" \
    ctest --output-on-failure -j"$jobs" --timeout 900 \
      -R '^(store|server|api)\.|^integration\.test_(server_http|server_ws|server_sse|server_auth|api|churn|crash_loop)$')
}

modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(asan tsan)
for m in "${modes[@]}"; do
  case "$m" in
    asan) run_asan ;;
    tsan) run_tsan ;;
    *) echo "unknown mode '$m' (asan, tsan)" >&2; exit 2 ;;
  esac
done
