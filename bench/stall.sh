#!/usr/bin/env bash
# What a server that falls behind holds (issue 5, "bounded per-connection send queue"): STREAMS
# WebSocket streams play a year of 1-minute bars traded by sma_cross at speed 60 (~24 orders a
# window); midway the server is stopped (SIGSTOP) for STALL seconds, as a starved machine would
# stop it, then continued. Every stream then owes STALL * 30 windows at once, which the session
# merges into catch-up frames (capped by SessionSettings::max_frame_orders). Prints the server's
# RSS before the stall, its peak (VmHWM) and its RSS at the end, and the streams' figures.
#
# Builds nothing: pass the binaries.
#   bench/stall.sh TAPEDECK_BINARY LOADGEN_DRIVER_BINARY OUT_DIR
# Knobs (environment): STREAMS (1000), STALL (3 s), DURATION (24 s of streaming), RAMP (500/s).
# About 40 s. Only 127.0.0.1 is contacted.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
TAPEDECK=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
OUT=$3
mkdir -p "$OUT"
STREAMS=${STREAMS:-1000}
STALL=${STALL:-3}
DURATION=${DURATION:-24}
RAMP=${RAMP:-500}

source "$(dirname "$0")/lib.sh"
bench_begin
start_server --threads 1 --workers 1 \
  --max-connections-per-address 100000 --max-connections 100000 --synthetic-run stall:525600:1:1m
log "server: pid $SERVER_PID, $BASE, --threads 1; $STREAMS streams, a ${STALL} s stall midway"

rss() { awk -v k="$1:" '$1 == k {print $2 / 1024}' "/proc/$SERVER_PID/status"; }

"$LOADGEN" --url "$BASE" --run stall --ws --n "$STREAMS" --speed 60 --duration "$DURATION" \
  --ramp "$RAMP" --threads 1 --server-pid "$SERVER_PID" --label "stall_$STREAMS" \
  > "$OUT/streams.txt" &
LOADGEN_PID=$!
# Ramp, then half the streaming time.
sleep "$(echo "$STREAMS / $RAMP + $DURATION / 2" | bc -l)"
before=$(rss VmRSS)
hwm_before=$(rss VmHWM)
kill -STOP "$SERVER_PID"
sleep "$STALL"
kill -CONT "$SERVER_PID"
rc=0
wait "$LOADGEN_PID" || rc=$?
log "server RSS before the stall $before MB (peak so far $hwm_before MB); peak after $(rss VmHWM) MB; at the end $(rss VmRSS) MB"
line=$(grep '^{"mode":"streams"' "$OUT/streams.txt" || true)
if [[ -n "$line" ]]; then
  log "$(jq -r '"streams: \(.n), errors \(.errors), frames/s \(.frames_per_s), gap p50 \(.gap.p50_ms) p99 \(.gap.p99_ms) max \(.gap.max_ms) ms, dropped \(.dropped)"' <<< "$line")"
else
  log "FAIL: no result line from the load generator"
  rc=1
fi
stop_server || rc=1
log "outputs in $OUT; exit $rc"
exit "$rc"
