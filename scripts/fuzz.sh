#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang under ASan and UBSan (build-fuzz/) and runs
# each for SECONDS (default 30) on a scratch copy of its committed corpus, so the committed corpus
# is never changed by a run. Fails when any target finds a crash, a sanitizer report, a leak, a
# timeout or a broken invariant, and prints the path of the input that did it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    TARGET: control, csv, http_target, ...
#
# TAPEDECK_JOBS: build parallelism (default 2). TAPEDECK_FUZZ_MERGE=1: after a clean run, add the
# inputs the run found that reach new edges (hit counts ignored, which keeps the corpus small) to
# tests/fuzz/corpus/<target>/, for a person to review and commit; CI leaves it unset.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/*_fuzz.cpp; do
    name=$(basename "$src" _fuzz.cpp)
    targets+=("$name")
  done
fi

scripts/bootstrap.sh

# ccache keys on relative paths, as in scripts/build.sh.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAPEDECK_FUZZ=ON -DTAPEDECK_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"${TAPEDECK_JOBS:-2}" --target "${targets[@]/%/_fuzz}"

run=build-fuzz/run
rm -rf "$run"
mkdir -p "$run"
# Stack-use-after-return is off by default in clang's ASan: a view into a returned local's string
# (market's UTF-16 import, d888690) went unnoticed by libFuzzer without it.
export ASAN_OPTIONS=detect_stack_use_after_return=1 UBSAN_OPTIONS=print_stacktrace=1
failed=()
for t in "${targets[@]}"; do
  dir="$run/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
  flags=()
  [ -f "tests/fuzz/$t.dict" ] && flags+=(-dict="tests/fuzz/$t.dict")
  # libFuzzer writes what it finds into the first directory only: the scratch copy. The
  # regressions after it are read, never written.
  dirs=("$dir/corpus")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  status=0
  "build-fuzz/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${flags[@]}" "${dirs[@]}" \
    >"$dir/log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  files=$(find "$dir/corpus" -type f | wc -l)
  bytes=$(du -sb "$dir/corpus" | cut -f1)
  artifacts=$(find "$dir/artifacts" -type f)
  if [ "$status" -ne 0 ] || [ -n "$artifacts" ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $status); log: $dir/log" >&2
    grep -E "ERROR|runtime error|fuzz invariant failed|SUMMARY" "$dir/log" | head -20 >&2 || true
    for a in $artifacts; do echo "fuzz: $t crashing input: $a" >&2; done
  else
    echo "fuzz: $t ok: ${execs:-?} runs in ${seconds}s (${rate:-?}/s), corpus $files files, $bytes bytes"
    if [ "${TAPEDECK_FUZZ_MERGE:-0}" = 1 ]; then
      "build-fuzz/tests/fuzz/${t}_fuzz" -merge=1 -use_counters=0 "tests/fuzz/corpus/$t" "$dir/corpus" \
        >"$dir/merge.log" 2>&1
      echo "fuzz: $t merged: tests/fuzz/corpus/$t has $(ls "tests/fuzz/corpus/$t" | wc -l) files"
    fi
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a finding"
