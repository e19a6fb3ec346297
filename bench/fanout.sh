#!/usr/bin/env bash
# Fan-out against its floor: N WebSocket streams at speed 60 from bench/loadgen, served in turn by
# bench/ws_floor (one pre-encoded frame written to every socket 30 times a second, plain epoll)
# and by each `tapedeck serve` given (e.g. main's HEAD and a branch), all in one sitting, so that
# server CPU per frame delivered, lateness against the 30 FPS schedule, coalescing and RSS can be
# read as ratios to the floor.
#
#   bench/fanout.sh LOADGEN_DRIVER WS_FLOOR TAPEDECK [TAPEDECK...] [-- OUT_DIR]
# e.g. bench/fanout.sh build/bench/loadgen_driver build/bench/ws_floor /tmp/base/tapedeck \
#        build/tapedeck -- /tmp/fanout
#
# Every server runs on one thread (tapedeck: --threads 1 --workers 1), the generator on one
# io_context thread: on a 2-core machine each has a core. Each tapedeck gets a fresh store with a
# year of 1-minute bars (`tapedeck gen --seed 1`) and one sma_cross run of it, which every stream
# plays from its start; the floor's frame is padded to the mean size of the frames the streams
# get (SIZE overrides). For each level (LEVELS, ascending), the servers are run one after another
# in the order given, floor first; ROUNDS repeats the whole sequence.
#
# Knobs (environment): NICE (e.g. -10: the servers and the generator run at that niceness, and
# so does their session's scheduler autogroup for the run, so that other work on a shared machine
# skews the figures less; needs root), PROFILE (set: `perf record -g` of each server for 10 s of
# each level, into OUT_DIR/NAME_N_rR.perf), SIZE, LEVELS ("2000 3000"), DURATION (20 s), RAMP
# (500 connections/s), SPEED (60), ROUNDS (1). Prints one table row per (level, server) and keeps
# each generator output in OUT_DIR. Only 127.0.0.1 is contacted.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  sed -n '2,23p' "$0" >&2
  exit 2
fi
LOADGEN=$(readlink -f "$1")
FLOOR=$(readlink -f "$2")
shift 2
SERVERS=()
OUT=
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--" ]]; then OUT=${2:-}; break; fi
  SERVERS+=("$(readlink -f "$1")")
  shift
done
OUT=${OUT:-$(mktemp -d /tmp/fanout.XXXXXX)}
mkdir -p "$OUT"
LEVELS=${LEVELS:-"2000 3000"}
DURATION=${DURATION:-20}
RAMP=${RAMP:-500}
SPEED=${SPEED:-60}
ROUNDS=${ROUNDS:-1}
TAPEDECK=${SERVERS[0]}

RUN_AS=()
AUTOGROUP_WAS=
if [[ -n "${NICE:-}" ]]; then
  RUN_AS=(nice -n "$NICE")
  # With the scheduler's autogroups on (Debian's default), niceness only ranks processes within
  # their session's group; the group's own niceness ranks it against the others' (their builds).
  if [[ -w /proc/self/autogroup ]]; then
    AUTOGROUP_WAS=$(sed -n 's/.* nice \(-\?[0-9]*\)/\1/p' /proc/self/autogroup)
    echo "$NICE" > /proc/self/autogroup
  fi
fi

source "$(dirname "$0")/lib.sh"
bench_begin
PIDS=() BASES=() RUN_IDS=() PORTS=() FLOOR_PID=
stop_all() {
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null || true; done
  [[ -n "${FLOOR_PID:-}" ]] && { kill -TERM "$FLOOR_PID" 2>/dev/null || true; wait "$FLOOR_PID" 2>/dev/null || true; }
}
restore_autogroup() { [[ -z "$AUTOGROUP_WAS" ]] || echo "$AUTOGROUP_WAS" > /proc/self/autogroup; }
trap 'stop_all; bench_cleanup; restore_autogroup' EXIT
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$TAPEDECK" gen --bars 525600 --seed 1 --interval 1m --out "$WORK/y1m.csv" > /dev/null

# One tapedeck per binary, each with the dataset and a run: PIDS[k], BASES[k], RUNS_[k].
for k in "${!SERVERS[@]}"; do
  TAPEDECK=${SERVERS[$k]}
  mkdir -p "$WORK/s$k"
  ${RUN_AS[@]+"${RUN_AS[@]}"} "$TAPEDECK" serve --port 0 --db "$WORK/s$k/tapedeck.db" --threads 1 --workers 1 \
    --max-connections-per-address 100000 --max-connections 100000 \
    > "$WORK/s$k/serve.out" 2> "$OUT/serve$k.err" &
  pid=$!
  port=
  for _ in $(seq 600); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/s$k/serve.out" | head -1)
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || { echo "server $TAPEDECK did not start" >&2; cat "$OUT/serve$k.err" >&2; exit 1; }
  base="http://127.0.0.1:$port"
  curl -sS --fail-with-body -X POST -H 'Content-Type: text/csv' --data-binary @"$WORK/y1m.csv" \
    "$base/datasets?name=y1m&symbol=SYN" > /dev/null
  "$LOADGEN" --url "$base" --backtest '{"dataset":"y1m","strategy":"sma_cross"}' --runs 1 \
    --label setup > "$OUT/setup$k.txt"
  run=$(grep '^{"mode":"backtest"' "$OUT/setup$k.txt" | jq -r .last_id)
  PIDS+=("$pid") BASES+=("$base") RUN_IDS+=("$run") PORTS+=("$port")
  log "server $k: ${SERVERS[$k]} ($(cd "$(dirname "${SERVERS[$k]}")" && git rev-parse --short HEAD 2>/dev/null || echo '?')), pid $pid, run $run"
done

# The floor's frame is as long as the mean frame the streams get: the run's first windows at SPEED
# (a stream plays about 30 * (DURATION + ramp) of them).
FRAMES=$(( 30 * (DURATION + 8) ))
SIZE=${SIZE:-$(curl -sS --fail "${BASES[0]}/backtests/${RUN_IDS[0]}/frames?speed=$SPEED&from=0&to=$FRAMES" |
  jq '[.[] | tojson | length] | add / length | floor')}
${RUN_AS[@]+"${RUN_AS[@]}"} "$FLOOR" --size "$SIZE" > "$WORK/floor.out" 2> "$OUT/floor.err" &
FLOOR_PID=$!
for _ in $(seq 100); do
  FLOOR_PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/floor.out" | head -1)
  [[ -n "$FLOOR_PORT" ]] && break
  sleep 0.1
done
log "floor: $FLOOR, pid $FLOOR_PID, frame of $SIZE bytes of JSON"

settle() {  # let the previous connections go before the next
  for _ in $(seq 100); do
    [[ $(ss -Htn state established 2>/dev/null | grep -c "127.0.0.1:$1 ") -eq 0 ]] && break
    sleep 0.1
  done
}
: > "$OUT/streams.jsonl"
run_level() {  # NAME PORT PID RUN N
  settle "$2"
  if [[ -n "${PROFILE:-}" ]]; then  # 10 s of the server's steady state, once the ramp is over
    ( sleep "$(( $5 / RAMP + 3 ))"; perf record -q -g -p "$3" -o "$OUT/$1_$5_r$ROUND.perf" -- sleep 10 \
        > /dev/null 2>&1 ) &
  fi
  ${RUN_AS[@]+"${RUN_AS[@]}"} "$LOADGEN" --url "http://127.0.0.1:$2" --run "$4" --ws --n "$5" --speed "$SPEED" \
    --duration "$DURATION" --ramp "$RAMP" --threads 1 --server-pid "$3" --label "$1" \
    > "$OUT/$1_$5_r$ROUND.txt"
  grep '^{"mode":"streams"' "$OUT/$1_$5_r$ROUND.txt" >> "$OUT/streams.jsonl"
}
for ROUND in $(seq "$ROUNDS"); do
  for N in $LEVELS; do
    run_level floor "$FLOOR_PORT" "$FLOOR_PID" floor "$N"
    for k in "${!SERVERS[@]}"; do run_level "serve$k" "${PORTS[$k]}" "${PIDS[$k]}" "${RUN_IDS[$k]}" "$N"; done
  done
done

log ""
log "$(printf '%-7s %5s %9s %8s %8s %8s %9s %8s %7s %7s %8s %8s %7s %7s' \
  server N frames/s per-strm late-p50 late-p99 late-max skipped dropped errors rss-peak us/frame srvCPU genCPU)"
while read -r line; do
  log "$(jq -r '[.label, .n, .frames_per_s, .frames_per_s_per_stream, .lateness.p50_ms, .lateness.p99_ms,
                 .lateness.max_ms, .windows_skipped, .dropped, .errors, .server_rss_peak_mb,
                 .server_cpu_us_per_frame, .server_cpu, .generator_cpu] | @tsv' <<< "$line" |
        awk -F'\t' '{printf "%-7s %5s %9s %8s %8s %8s %9s %8s %7s %7s %8s %8s %7s %7s", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14}')"
done < "$OUT/streams.jsonl"
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); outputs in $OUT"
