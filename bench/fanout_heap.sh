#!/usr/bin/env bash
# The server's heap at N WebSocket streams: glibc's malloc_stats (per arena: system bytes, bytes
# in use) and VmRSS, once the tape is loaded and its first streams closed ("idle"), then 14 s into
# N steady streams at speed 60, with the flags of bench/fanout.sh (--threads 1 --workers 1, one
# run of sma_cross on a year of 1-minute bars). malloc_stats is called with gdb attached to the
# server, which stops it for about a second: the generator's lateness figures of such a run are
# not comparable with fanout.sh's.
#
#   bench/fanout_heap.sh TAPEDECK LOADGEN_DRIVER N OUT_DIR
#
# OUT_DIR/heap.txt: VmRSS and VmHWM at each point, then the generator's summary lines;
# OUT_DIR/serve.err: the server's stderr, where malloc_stats prints (idle first, then steady). Needs gdb and
# root (ptrace, the scheduler autogroup at -10 as fanout.sh's NICE=-10). Only 127.0.0.1.
set -euo pipefail
BIN=$1 LOADGEN=$2 N=$3 OUT=$4
mkdir -p "$OUT"; W=$(mktemp -d /tmp/fanout_heap.XXXXXX)
ulimit -n "$(ulimit -Hn)"
echo -10 > /proc/self/autogroup 2>/dev/null || true
: > "$OUT/heap.txt"
"$BIN" gen --bars 525600 --seed 1 --interval 1m --out "$W/y1m.csv" > /dev/null
nice -n -10 "$BIN" serve --port 0 --db "$W/t.db" --threads 1 --workers 1 --max-connections-per-address 100000 --max-connections 100000 > "$W/serve.out" 2> "$OUT/serve.err" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 300); do PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/serve.out" | head -1); [[ -n "$PORT" ]] && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT
curl -sS --fail -X POST -H 'Content-Type: text/csv' --data-binary @"$W/y1m.csv" "$BASE/datasets?name=y1m&symbol=SYN" > /dev/null
"$LOADGEN" --url "$BASE" --backtest '{"dataset":"y1m","strategy":"sma_cross"}' --runs 1 --label setup > "$W/setup.txt"
RUN=$(grep '^{"mode":"backtest"' "$W/setup.txt" | jq -r .last_id)
snap() {  # LABEL
  echo "== $1: $(grep -E 'VmRSS|VmHWM' /proc/$PID/status | tr -s ' \t' ' ' | tr '\n' ' ')" >> "$OUT/heap.txt"
  gdb -p $PID -batch -ex 'call (void)malloc_stats()' > /dev/null 2>&1 || true
  sleep 0.5
}
# the tape loaded (10 streams, 3 s), then closed
nice -n -10 "$LOADGEN" --url "$BASE" --run "$RUN" --ws --n 10 --speed 60 --duration 3 --ramp 500 --threads 1 --label warm > "$OUT/warm.txt"
sleep 12  # the heap trimmer's period passes
snap idle
nice -n -10 "$LOADGEN" --url "$BASE" --run "$RUN" --ws --n "$N" --speed 60 --duration 25 --ramp 500 --threads 1 --server-pid $PID --label heap > "$OUT/streams.txt" &
LG=$!
sleep $(( N / 500 + 14 ))
snap "steady $N"
wait $LG
grep -E "lateness|server RSS|CPU per frame|skipped" "$OUT/streams.txt" >> "$OUT/heap.txt"
