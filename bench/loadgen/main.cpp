// loadgen_driver: load generator for tapedeck's playback channels.
//
// Against a running `tapedeck serve` on loopback it measures, one mode per invocation (the modes
// may also be combined; they run in this order):
//   --backtest JSON --runs K   POST /backtests with JSON K times; for each, the time until
//                              GET /backtests/{id} says "done" (polled on one keep-alive
//                              connection), and the server's own created -> finished.
//   --first-frame M            M fresh WebSocket connections one after another: TCP connect,
//                              handshake start -> first frame (p50/p99).
//   --n N                      N concurrent playback streams (--ws or --sse) for --duration
//                              seconds, opened at --ramp connections per second: frames/s,
//                              inter-frame gaps, lateness against the 30 FPS schedule, windows
//                              skipped, `dropped`, errors, and the server's RSS (--server-pid).
//   --churn C                  Connection churn: C
//                              connect/play/disconnect cycles, --churn-concurrency K at once,
//                              while --n M background streams (WS and SSE alternating, or all
//                              --ws / --sse) play for the whole churn, looping at the end of the
//                              run (WS: seek 0 + play; SSE: a new request). Each cycle, planned
//                              from --seed and its index alone (reproducible), picks WS or SSE,
//                              sometimes a random ?from=, waits for the first frame, on WS
//                              sometimes sends seek (and waits for its frame), speed or pause,
//                              then leaves: cleanly (~50%: WS close handshake, SSE shutdown and
//                              wait for the server's close) or abruptly (SO_LINGER 0 -> RST after
//                              the first frame; a plain close while frames keep coming; RST
//                              right after the request, before any answer). With --server-pid:
//                              the server's RSS and open descriptors after --churn-warmup cycles
//                              and --settle seconds (baseline) and again after the last cycle and
//                              --settle seconds (end); pass/fail of: RSS end <= baseline * (1 +
//                              --rss-tolerance), descriptors end <= baseline + --fd-slack, no
//                              error in the background streams, no failed cycle (every cycle that
//                              waits for a first frame got one). Exit status 1 when one fails.
//                              --churn-rate R caps cycles per second, --churn-for SECONDS stops
//                              the churn after that long (soak), --interval SECONDS is the period
//                              of the per-interval table (cycles, background gaps, RSS, fds).
// Each mode prints a readable summary and one JSON line starting with {"mode":.
//
// Other options: --url http://127.0.0.1:PORT (or --host/--port), --run ID, --speed S (60),
// --duration SECONDS (20), --ramp PER_SECOND (500; 0: all at once), --threads T (1 io_context
// each), --server-pid PID (RSS and CPU from /proc), --timeline (per-second frames, slow gaps,
// CPU, RSS), --random-from (first-frame mode: a random ?from= window, i.e. a frame not cached),
// --ws-client raw|beast (raw: our own RFC 6455 reader, 64 KB reads; beast: Beast's client, which
// costs ~30% more generator CPU per frame), --label TEXT (copied into the JSON line).
//
// Only loopback is ever contacted: --host must be a loopback address (or "localhost").
//
// Layout (bench/loadgen/): options (the command line), wire (requests, WebSocket framing, SSE
// events, message fields), client (the streams and the threads they run on), stats (quantiles,
// per-stream counters and their totals, output), process (the server seen from /proc), and one
// file per mode under scenarios/.
#include <cstdlib>

#include "options.h"
#include "scenarios/scenarios.h"

int main(int argc, char** argv) {
  using namespace tapedeck::loadgen;
  const Options o = ParseArgs(argc, argv);
  const auto endpoint = LoopbackEndpoint(o);
  int rc = 0;
  bool did = false;
  if (!o.backtest_body.empty()) {
    rc |= RunBacktests(o, endpoint);
    did = true;
  }
  if (o.first_frame > 0) {
    if (o.run_id.empty()) Usage("--first-frame needs --run");
    rc |= RunFirstFrame(o, endpoint);
    did = true;
  }
  if (o.churn > 0) {
    if (o.run_id.empty()) Usage("--churn needs --run");
    rc |= RunChurn(o, endpoint);  // --n: its background streams
    did = true;
  } else if (o.n > 0) {
    if (o.run_id.empty()) Usage("--n needs --run");
    rc |= RunStreams(o, endpoint);
    did = true;
  }
  if (!did) Usage("nothing to do: give --backtest, --first-frame, --n or --churn");
  return rc;
}
