# Shared by the end-to-end bench scripts (playback_scale.sh, churn.sh, soak.sh); sourced, not run.
# Each script sets OUT (its output directory) before `bench_begin`, then:
#   bench_begin                    summary.txt started: load average, machine, binary and commit;
#                                  the open-files limit raised; a scratch WORK dir; a cleanup trap
#   start_server ARGS...           `$TAPEDECK serve --port 0 --db $WORK/tapedeck.db ARGS...` in the
#                                  background: sets SERVER_PID, PORT and BASE, or exits saying why
#   stop_server                    SIGTERM; returns 1 (and logs why) when the server had died, did
#                                  not stop within 15 s, or exited non-zero
#   log TEXT...                    to stdout and summary.txt
# RUN_AS (an array, optional) prefixes the server's command line, e.g. (nice -n -10).

log() { echo "$@" | tee -a "$OUT/summary.txt"; }

bench_begin() {
  # Every stream holds a socket on both sides.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  WORK=$(mktemp -d "/tmp/$(basename "$0" .sh)_work.XXXXXX")
  SERVER_PID=
  trap bench_cleanup EXIT
  : > "$OUT/summary.txt"
  log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  log "machine: $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) cores"
  log "tapedeck: $TAPEDECK ($(cd "$(dirname "$0")" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
}

bench_cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}

start_server() {
  ${RUN_AS[@]+"${RUN_AS[@]}"} "$TAPEDECK" serve --port 0 --db "$WORK/tapedeck.db" "$@" \
    > "$WORK/serve.out" 2> "$OUT/serve.err" &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 600); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/serve.out" | head -1)
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$PORT" ]]; then
    echo "server did not start:" >&2
    cat "$WORK/serve.out" "$OUT/serve.err" >&2
    exit 1
  fi
  BASE="http://127.0.0.1:$PORT"
}

stop_server() {
  local status=0
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "FAIL: the server died during the run"
    SERVER_PID=
    return 1
  fi
  kill -TERM "$SERVER_PID"
  for _ in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "FAIL: the server did not stop within 15 s of SIGTERM"
    return 1
  fi
  wait "$SERVER_PID" || status=$?
  SERVER_PID=
  (( status == 0 )) || { log "FAIL: the server exited with status $status"; return 1; }
  # The server logs only what is not a normal end of a connection.
  log "server log lines other than start/stop: $(grep -cv -e 'stopped$' "$OUT/serve.err" || true)"
}
