// Settings of the network layer of `tapedeck serve`: where it listens, what it serves, who may
// talk to it, and every interval and limit of the HTTP requests and playback channels. Defaults are
// the production values of ../shared/DESIGN.md; the command line sets each
// (src/cli/serve_args.h; tests use short intervals). What the REST side needs (the store, workers,
// queue limits) is api::Options.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tapedeck::server {

using Millis = std::chrono::milliseconds;

struct Settings {
  // Where to listen. Loopback unless told otherwise: the server is meant for one desk's machine.
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (printed on start)
  int threads = 0;       // I/O threads; 0: one per core

  // Static files for `/`; empty: `web/` in the working directory, else the source tree's `web/`.
  std::string web_root;
  // Origins (scheme://host[:port]) besides the server's own that may open WebSockets and read
  // REST/SSE responses cross-origin.
  std::vector<std::string> allow_origins;

  // Access control. Empty: off, anyone who can reach the port may do anything. Else
  // REST (but /healthz and the static files) needs `Authorization: Bearer <one of these>` and a
  // playback stream a ticket from POST /backtests/{id}/ticket (or the bearer header).
  std::vector<std::string> auth_tokens;  // --auth-token, then the lines of --tokens-file
  Millis ticket_ttl{60000};              // how long a playback ticket opens streams
  // The playback tickets' HMAC key (--ticket-key-file, shared by the nodes of a deployment so that
  // a ticket from one opens a stream on another). Empty: a random key of this process's own.
  std::string ticket_key;

  // Playback channels.
  Millis heartbeat_interval{5000};  // {"t":"hb"} after this long without a message sent
  Millis ping_interval{5000};       // a WebSocket ping this often, playing or not
  Millis idle_timeout{30000};       // close a WebSocket after this long with nothing received
  Millis write_timeout{10000};      // close a channel whose write is not done after this long
  Millis handshake_timeout{10000};  // WebSocket upgrade to open
  Millis sse_retry{2000};           // the `retry:` an EventSource waits before reconnecting
  size_t max_ws_message = 4096;     // larger control messages get VALIDATION
  double control_rate = 20;         // control messages per second per connection (burst: 2x)
  // The instants per frame interval at which a lane's streams come due (SessionSettings::
  // pacing_phases): 1 is one pass a tick for all of them, the least CPU per frame, each stream's
  // frames shifted by up to a whole interval (33 ms) against its own start; 2 (the default)
  // halves that shift for a little more CPU.
  int pacing_phases = 2;

  // HTTP.
  Millis header_timeout{15000};  // a request's header, and an idle keep-alive connection
  Millis body_timeout{120000};   // a request's body once its header is in
  size_t header_limit = 16 * 1024;
  uint64_t body_limit = 64ull << 20;      // CSV uploads (POST /datasets)
  uint64_t json_body_limit = 1ull << 20;  // every other request body
  size_t max_connections = 10000;         // in total; over it a new connection gets 503
  size_t max_connections_per_address = 2000;
  Millis shutdown_timeout{5000};  // grace for in-flight requests and closing streams
};

}  // namespace tapedeck::server
