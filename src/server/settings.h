// Settings of `tapedeck serve`: where it listens, what it serves, and every interval and limit of
// the playback channels. Defaults are the production values of ../shared/DESIGN.md; each is a flag
// (tests use short intervals).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tapedeck::server {

using Millis = std::chrono::milliseconds;

// A run played by the built-in in-memory RunSource: synthetic bars traded by sma_cross. For tests
// and demos that need runs without a store
// (`--synthetic-run ID:BARS[:SEED[:INTERVAL[:READY_AFTER]]]`).
struct SyntheticRun {
  std::string id;
  size_t bars = 0;
  uint64_t seed = 1;
  std::string interval = "1m";
  // The run counts as still running until this long after it was first asked for.
  std::chrono::milliseconds ready_after{0};
};

struct Settings {
  // Where to listen. Loopback unless told otherwise: the server is meant for one desk's machine.
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (printed on start)
  int threads = 0;       // I/O threads; 0: one per core
  int workers = 0;       // backtest worker threads (used by the REST side); 0: one per core

  std::string db_path = "tapedeck.db";
  // Static files for `/`; empty: `web/` in the working directory, else the source tree's `web/`.
  std::string web_root;
  // Origins (scheme://host[:port]) besides the server's own that may open WebSockets and read
  // REST/SSE responses cross-origin.
  std::vector<std::string> allow_origins;

  // Access control (issue 5). Empty: off, anyone who can reach the port may do anything. Else
  // REST (but /healthz and the static files) needs `Authorization: Bearer <one of these>` and a
  // playback stream a ticket from POST /backtests/{id}/ticket (or the bearer header).
  std::vector<std::string> auth_tokens;  // --auth-token, then the lines of --tokens-file
  std::string tokens_file;
  Millis ticket_ttl{60000};  // how long a playback ticket opens streams

  // Backtests waiting for a worker (the REST side enforces these): per client (the remote
  // address, or the token when access control is on) over the limit get RATE_LIMITED (429), all
  // together UNAVAILABLE (503).
  size_t max_queued_per_client = 16;
  size_t max_queued = 256;

  // Playback channels.
  Millis heartbeat_interval{5000};  // {"t":"hb"} after this long without a message sent
  Millis ping_interval{5000};       // a WebSocket ping this often, playing or not
  Millis idle_timeout{30000};       // close a WebSocket after this long with nothing received
  Millis write_timeout{10000};      // close a channel whose write is not done after this long
  Millis handshake_timeout{10000};  // WebSocket upgrade to open
  Millis sse_retry{2000};           // the `retry:` an EventSource waits before reconnecting
  size_t max_ws_message = 4096;     // larger control messages get VALIDATION
  double control_rate = 20;         // control messages per second per connection (burst: 2x)

  // HTTP.
  Millis header_timeout{15000};  // a request's header, and an idle keep-alive connection
  Millis body_timeout{120000};   // a request's body once its header is in
  size_t header_limit = 16 * 1024;
  uint64_t body_limit = 64ull << 20;      // CSV uploads (POST /datasets)
  uint64_t json_body_limit = 1ull << 20;  // every other request body
  size_t max_connections = 10000;         // in total; over it a new connection gets 503
  size_t max_connections_per_address = 2000;
  Millis shutdown_timeout{5000};  // grace for in-flight requests and closing streams

  std::vector<SyntheticRun> synthetic_runs;
};

// Parses `tapedeck serve` options from argv[first..argc): `--key value` or `--key=value`.
//   --host H  --port P  --threads N  --workers N  --db PATH  --web-root DIR
//   --allow-origin ORIGIN (repeatable)
//   --auth-token TOKEN (repeatable)  --tokens-file PATH  --ticket-ttl D
//   --max-queued N  --max-queued-per-client N
//   --heartbeat D  --ping-interval D  --idle-timeout D  --write-timeout D  --handshake-timeout D
//   --header-timeout D  --body-timeout D  --shutdown-timeout D  --sse-retry D
//     (D: "250ms", "5s", "2m", or a bare number of seconds)
//   --max-ws-message BYTES  --body-limit BYTES  --json-body-limit BYTES  --header-limit BYTES
//     (BYTES: a number with an optional K, M or G suffix, powers of 1024)
//   --control-rate PER_SECOND  --max-connections N  --max-connections-per-address N
//   --synthetic-run ID:BARS[:SEED[:INTERVAL[:READY_AFTER]]] (repeatable)
// Errors: VALIDATION naming the option in details["field"] for an unknown option, a missing or
// malformed value, or a value out of range; for --tokens-file, whatever LoadTokensFile reports.
// Reads the tokens file, if one is named, into auth_tokens.
Result<Settings> ParseServeArgs(int argc, char** argv, int first = 2);

// The tokens of a tokens file: one per line, surrounding blanks trimmed; empty lines and lines
// starting with '#' are skipped. Errors (VALIDATION naming `tokens-file`, never quoting a
// token): the file cannot be read; it is readable or writable by others than its owner and group
// (as ssh does with keys: a token anyone on the machine can read is no secret); it holds no token;
// a token fails CheckToken (details: line).
Result<std::vector<std::string>> LoadTokensFile(const std::string& path);

// A usable bearer token: at least 16 characters of RFC 6750's token68 alphabet (letters, digits,
// "-._~+/", then optional "=" padding), so it fits the header as is. Errors: VALIDATION without
// the token in the message.
Status CheckToken(std::string_view token);

// The usage text of the options above.
std::string_view ServeUsage();

// "250ms", "5s", "2m", "1.5" (seconds) -> milliseconds; nullopt for anything else or a negative.
std::optional<Millis> ParseDuration(std::string_view text);
// "4096", "4K", "64M", "1G" -> bytes; nullopt for anything else.
std::optional<uint64_t> ParseByteSize(std::string_view text);

}  // namespace tapedeck::server
