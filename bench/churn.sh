#!/usr/bin/env bash
# Connection churn of issue 5 ("Hostile clients and load"), end to end on loopback: CYCLES
# connect/play/disconnect cycles (WS and SSE, half left cleanly, half abruptly) against one
# `tapedeck serve` while background streams play, then whether the server gave back what the
# cycles took:
#   - server RSS after the churn within 10% of its baseline (taken after a warm-up of cycles);
#   - open descriptors back to the baseline (+ a small slack);
#   - no error in the background streams; every cycle that waited for a first frame got one.
# Exits non-zero when a criterion fails, when the server died, or when it did not stop cleanly.
#
# Builds nothing: pass the binaries.
#   bench/churn.sh TAPEDECK_BINARY LOADGEN_DRIVER_BINARY OUT_DIR [CYCLES]
# e.g. bench/churn.sh build-churn/tapedeck build-churn/bench/loadgen_driver /tmp/churn 100000
#
# The run is synthetic (--synthetic-run: one year of 5-minute bars traded by sma_cross, ~1 KB
# frames at speed 60), so no store or upload is involved; the background streams loop at its end.
#
# Knobs (environment): CONCURRENCY (64 cycles at once), BACKGROUND (50 streams, WS and SSE
# alternating), WARMUP (10000 cycles before the baseline), SETTLE (2 s before each measurement),
# SEED (1), SPEED (60), THREADS (server I/O threads, 2), RUN_SPEC (churn:105120:1:5m),
# INTERVAL (10 s rows), RSS_TOLERANCE (0.10), FD_SLACK (4). Only 127.0.0.1 is contacted.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  sed -n '2,22p' "$0" >&2
  exit 2
fi
TAPEDECK=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
OUT=$3
CYCLES=${4:-100000}
mkdir -p "$OUT"
CONCURRENCY=${CONCURRENCY:-64}
BACKGROUND=${BACKGROUND:-50}
WARMUP=${WARMUP:-10000}
SETTLE=${SETTLE:-2}
SEED=${SEED:-1}
SPEED=${SPEED:-60}
THREADS=${THREADS:-2}
RUN_SPEC=${RUN_SPEC:-churn:105120:1:5m}
INTERVAL=${INTERVAL:-10}
RSS_TOLERANCE=${RSS_TOLERANCE:-0.10}
FD_SLACK=${FD_SLACK:-4}
RUN=${RUN_SPEC%%:*}
(( WARMUP <= CYCLES )) || WARMUP=$(( CYCLES / 5 ))

source "$(dirname "$0")/lib.sh"
bench_begin

start_server --threads "$THREADS" --workers 1 --synthetic-run "$RUN_SPEC"
log "server: pid $SERVER_PID, $BASE, --threads $THREADS, --synthetic-run $RUN_SPEC"

rc=0
"$LOADGEN" --url "$BASE" --run "$RUN" --speed "$SPEED" --churn "$CYCLES" \
  --churn-concurrency "$CONCURRENCY" --churn-warmup "$WARMUP" --n "$BACKGROUND" \
  --seed "$SEED" --settle "$SETTLE" --interval "$INTERVAL" --rss-tolerance "$RSS_TOLERANCE" \
  --fd-slack "$FD_SLACK" --server-pid "$SERVER_PID" --label "churn_$CYCLES" \
  | tee "$OUT/churn.txt" || rc=$?
grep '^{"mode":"churn"' "$OUT/churn.txt" > "$OUT/churn.json" || true

# The server must have survived, and must still stop cleanly.
stop_server || rc=1

if [[ -s "$OUT/churn.json" ]]; then
  log "$(jq -r '"churn: \(.cycles_done) cycles in \(.churn_s) s (\(.cycles_per_s)/s, \(.cycles_per_s_after_warmup)/s after the warm-up), \(.concurrency) at once, failed \(.failed), first frames \(.got_frame)/\(.expect_frame)"' "$OUT/churn.json")"
  log "$(jq -r '"server RSS \(.server.rss_baseline_mb) -> \(.server.rss_end_mb) MB (peak \(.server.rss_peak_mb)), fds \(.server.fds_baseline) -> \(.server.fds_end)"' "$OUT/churn.json")"
  log "$(jq -r '"background: \(.background.n) streams, errors \(.background.errors), gap p50 \(.background.gap.p50_ms) p99 \(.background.gap.p99_ms) max \(.background.gap.max_ms) ms"' "$OUT/churn.json")"
  log "$(jq -r '"criteria: rss \(.criteria.rss_ok), fds \(.criteria.fds_ok), background \(.criteria.background_ok), cycles \(.criteria.cycles_ok) -> pass \(.criteria.pass); load average \(.loadavg_start) -> \(.loadavg_end)"' "$OUT/churn.json")"
else
  log "FAIL: no result line from the load generator"
  rc=1
fi
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
log "outputs in $OUT; exit $rc"
exit "$rc"
