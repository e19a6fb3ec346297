#!/usr/bin/env bash
# The soak of issue 5 ("Hostile clients and load"): the 1,000-stream WebSocket load of
# bench/playback_scale.sh (speed 60, one year of 1-minute bars, server with --threads 1) plus
# continuous connection churn (bench/churn.sh's cycles, rate-capped) for SECONDS (600), one row
# a minute: cycles, the background streams' inter-frame gap p50/p99/max, server RSS and open
# descriptors, server CPU, load average. Judged:
#   - RSS flat: every full minute after the first (the warm-up) within RSS_TOLERANCE (10%) of
#     the first minute after the warm-up, and the end of the soak within it of the baseline;
#   - gap p99 unchanged: the last full minute's p99 <= the first full minute after the warm-up's
#     p99 * GAP_FACTOR (1.25), or + GAP_SLACK_MS (5 ms), whichever is larger;
#   - no error in the 1,000 streams, no failed churn cycle, descriptors back to the baseline.
# Exits non-zero when one fails or the server died.
#
# Builds nothing: pass the binaries.
#   bench/soak.sh TAPEDECK_BINARY LOADGEN_DRIVER_BINARY OUT_DIR [SECONDS]
# e.g. bench/soak.sh build-churn/tapedeck build-churn/bench/loadgen_driver /tmp/soak 600
#
# The run is synthetic (--synthetic-run soak:525600:1:1m: the bars of `tapedeck gen --bars
# 525600 --seed 1 --interval 1m` traded by sma_cross, ~3 KB frames at speed 60, as in
# playback_scale.sh but without the store). It plays in 60 s, so the streams loop (seek 0, play)
# at its end. Both cores are busy for the whole soak: that is the load.
#
# Knobs (environment): STREAMS (1000), CHURN_RATE (100 cycles/s), CHURN_CONCURRENCY (16),
# WARMUP (3000 cycles, ~30 s at 100/s, before the baseline), RAMP (500 streams/s), SPEED (60),
# SEED (1), RSS_TOLERANCE (0.10), GAP_FACTOR (1.25), GAP_SLACK_MS (5). Only 127.0.0.1 is contacted.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  sed -n '2,27p' "$0" >&2
  exit 2
fi
TAPEDECK=$(readlink -f "$1")
LOADGEN=$(readlink -f "$2")
OUT=$3
DURATION=${4:-600}
mkdir -p "$OUT"
STREAMS=${STREAMS:-1000}
CHURN_RATE=${CHURN_RATE:-100}
CHURN_CONCURRENCY=${CHURN_CONCURRENCY:-16}
WARMUP=${WARMUP:-3000}
RAMP=${RAMP:-500}
SPEED=${SPEED:-60}
SEED=${SEED:-1}
RSS_TOLERANCE=${RSS_TOLERANCE:-0.10}
GAP_FACTOR=${GAP_FACTOR:-1.25}
GAP_SLACK_MS=${GAP_SLACK_MS:-5}
(( DURATION >= 180 )) || { echo "soak: SECONDS must be >= 180 (a warm-up minute and two more)" >&2; exit 2; }

source "$(dirname "$0")/lib.sh"
bench_begin

start_server --threads 1 --workers 1 \
  --max-connections-per-address 100000 --max-connections 100000 --synthetic-run soak:525600:1:1m
log "server: pid $SERVER_PID, $BASE, --threads 1, RSS before any stream $(awk '/VmRSS/ {print $2/1024 " MB"}' /proc/$SERVER_PID/status)"

rc=0
"$LOADGEN" --url "$BASE" --run soak --speed "$SPEED" --ws --n "$STREAMS" --ramp "$RAMP" --threads 1 \
  --churn 100000000 --churn-for "$DURATION" --churn-rate "$CHURN_RATE" \
  --churn-concurrency "$CHURN_CONCURRENCY" --churn-warmup "$WARMUP" --seed "$SEED" \
  --interval 60 --rss-tolerance "$RSS_TOLERANCE" --server-pid "$SERVER_PID" \
  --label "soak_${STREAMS}_${DURATION}s" | tee "$OUT/soak.txt" || rc=$?
grep '^{"mode":"churn"' "$OUT/soak.txt" > "$OUT/soak.json" || true

stop_server || rc=1

[[ -s "$OUT/soak.json" ]] || { log "FAIL: no result line from the load generator"; exit 1; }
J="$OUT/soak.json"
log "per minute (row 0: ramp and warm-up; the last row: the end's settle):"
log "$(printf '  %6s %8s %7s %8s %8s %8s %7s %5s %7s %5s' minute t-end-s cycles gap-p50 gap-p99 gap-max rss-MB fds srv-cpu load)"
while read -r row; do
  log "$(printf '  %6s %8s %7s %8s %8s %8s %7s %5s %7s %5s' $row)"
done < <(jq -r '.intervals | to_entries[] | [.key, .value.t_end_s, .value.cycles, .value.gap_p50_ms,
  .value.gap_p99_ms, .value.gap_max_ms, .value.rss_mb, .value.fds, .value.server_cpu,
  .value.loadavg] | @tsv' "$J")
log "$(jq -r '"churn: \(.cycles_done) cycles (\(.cycles_per_s)/s), failed \(.failed), first frames \(.got_frame)/\(.expect_frame); streams: \(.background.n), errors \(.background.errors), loops \(.background.loops), gap p99 over the soak \(.background.gap.p99_ms) ms"' "$J")"
log "$(jq -r '"server RSS baseline \(.server.rss_baseline_mb) -> end \(.server.rss_end_mb) MB (peak \(.server.rss_peak_mb)), fds \(.server.fds_baseline) -> \(.server.fds_end); churn criteria pass: \(.criteria.pass)"' "$J")"

# Full minutes only: the first (warm-up) is the reference's predecessor, the partial last is out.
verdict=$(jq -r --argjson tol "$RSS_TOLERANCE" --argjson f "$GAP_FACTOR" --argjson s "$GAP_SLACK_MS" '
  [.intervals | to_entries[] | select(.value.t_end_s == (.key + 1) * 60) | .value] as $full
  | $full[1] as $first | $full[-1] as $last
  | ([$full[1:][] | .rss_mb] | (max - $first.rss_mb) <= $tol * $first.rss_mb
       and ($first.rss_mb - min) <= $tol * $first.rss_mb) as $rss_flat
  | ([$first.gap_p99_ms * $f, $first.gap_p99_ms + $s] | max) as $p99_limit
  | ($last.gap_p99_ms <= $p99_limit) as $p99_same
  | "rss_flat=\($rss_flat) (minute 1 \($first.rss_mb) MB, minutes 1-\($full | length - 1): \([$full[1:][] | .rss_mb] | min)-\([$full[1:][] | .rss_mb] | max) MB, limit +-\($tol * 100)%)\n"
    + "gap_p99_unchanged=\($p99_same) (minute 1 \($first.gap_p99_ms) ms, last full minute \($last.gap_p99_ms) ms, limit \($p99_limit * 100 | round / 100) ms)\n"
    + "background_ok=\(.criteria.background_ok) cycles_ok=\(.criteria.cycles_ok) fds_ok=\(.criteria.fds_ok) rss_end_ok=\(.criteria.rss_ok)\n"
    + "pass=\($rss_flat and $p99_same and .criteria.pass)"' "$J")
log "$verdict"
grep -q '^pass=true$' <<< "$verdict" || rc=1
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
log "outputs in $OUT; exit $rc"
exit "$rc"
