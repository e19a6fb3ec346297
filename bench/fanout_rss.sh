#!/usr/bin/env bash
# Where the server's RSS goes, from start to N WebSocket streams: /proc/PID/status, smaps_rollup
# and smaps (per mapping) and glibc's malloc_stats (per arena, with gdb attached: it stops the
# server for about a second) at five points: started; a year of 1-minute bars imported; one
# sma_cross run of it done (12 s later: the heap trimmer's period); the tape loaded by 10 streams
# of 3 s and closed (12 s later, "idle"); 12 s into N steady streams at speed 60. Server and
# generator flags as bench/fanout.sh's (--threads 1 --workers 1). RSS is not a timing: a busy
# machine changes little of it (a lagging server merges windows, which does: compare the
# generator's `windows skipped`).
#
#   bench/fanout_rss.sh TAPEDECK LOADGEN_DRIVER N OUT_DIR
#
# OUT_DIR/POINT.{status,rollup,smaps} per point (start, dataset, run, idle, steady), malloc_stats
# in OUT_DIR/serve.err (one block per point, in that order), the generator's output in
# OUT_DIR/streams.txt. bench/smaps_categories.py OUT_DIR/POINT.smaps sums the resident pages by
# what they are. Needs gdb and ptrace rights for the arenas (without, the rest is still taken).
# Only 127.0.0.1.
set -euo pipefail
BIN=$1 LOADGEN=$2 N=$3 OUT=$4
mkdir -p "$OUT"; W=$(mktemp -d /tmp/fanout_rss.XXXXXX)
ulimit -n "$(ulimit -Hn)"
"$BIN" gen --bars 525600 --seed 1 --interval 1m --out "$W/y1m.csv" > /dev/null
"$BIN" serve --port 0 --db "$W/t.db" --threads 1 --workers 1 --max-connections-per-address 100000 \
  --max-connections 100000 > "$W/serve.out" 2> "$OUT/serve.err" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 300); do PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/serve.out" | head -1); [[ -n "$PORT" ]] && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT
snap() {  # POINT
  grep -E 'VmRSS|VmHWM|RssAnon|RssFile' /proc/$PID/status | tr -s ' \t' ' ' | tr '\n' ' ' > "$OUT/$1.status"
  cat /proc/$PID/smaps_rollup > "$OUT/$1.rollup"
  cat /proc/$PID/smaps > "$OUT/$1.smaps"
  gdb -p $PID -batch -ex 'call (void)malloc_stats()' > /dev/null 2>&1 || true
  sleep 0.5
}
snap start
curl -sS --fail -X POST -H 'Content-Type: text/csv' --data-binary @"$W/y1m.csv" "$BASE/datasets?name=y1m&symbol=SYN" > /dev/null
snap dataset
"$LOADGEN" --url "$BASE" --backtest '{"dataset":"y1m","strategy":"sma_cross"}' --runs 1 --label setup > "$W/setup.txt"
RUN=$(grep '^{"mode":"backtest"' "$W/setup.txt" | jq -r .last_id)
sleep 12
snap run
"$LOADGEN" --url "$BASE" --run "$RUN" --ws --n 10 --speed 60 --duration 3 --ramp 500 --threads 1 --label warm > "$OUT/warm.txt"
sleep 12
snap idle
"$LOADGEN" --url "$BASE" --run "$RUN" --ws --n "$N" --speed 60 --duration 22 --ramp 500 --threads 1 \
  --server-pid $PID --label rss > "$OUT/streams.txt" &
LG=$!
sleep $(( N / 500 + 12 ))
snap steady
wait $LG
for p in start dataset run idle steady; do echo "$p: $(cat "$OUT/$p.status")"; done
grep -E "server RSS|skipped" "$OUT/streams.txt" || true
