// server: the bytes-moving part of `tapedeck serve` — HTTP (REST via the Router, static files of
// the web UI, /healthz, /metrics), and the playback protocol over WebSocket
// (GET /backtests/{id}/ws) and SSE (GET /backtests/{id}/stream), driven by src/playback. Every
// route, the server's own included (server_routes.h), goes through the one Router.
//
// Access control (settings.auth_tokens non-empty): the application's routes and /metrics need
// `Authorization: Bearer <token>`; /healthz, static files and CORS preflights do not. The server
// adds a route of its own, POST /backtests/{id}/ticket, whose ticket (or the bearer header)
// opens that run's streams. Refusals are UNAUTHORIZED: a 401 with `WWW-Authenticate: Bearer` over
// HTTP and SSE; on a WebSocket the upgrade is accepted, then {"t":"err"} and a 1008 close, because
// a browser learns nothing from a refused upgrade.
//
// Model: boostorg/beast's advanced server. One io_context run by `threads` threads; each
// connection is a session object on its own strand, alive while a handler holds it; one write in
// flight per connection; read timeouts from the stream; bodies and messages capped. Playback logic
// (what to send, when, coalescing) is playback::Session's; the server owns the sockets and timers.
//
// Thread-safety: construct, Listen and Run from one thread; Stop may be called from any thread
// (and from a signal handler's context via Run's own signal handling).
#pragma once

#include <cstdint>
#include <memory>

#include "common/error.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/run_source.h"
#include "server/settings.h"

namespace tapedeck::server {

class Server {
 public:
  // `router`: the REST routes (may be empty). `runs`: where playback finds runs (nullptr: every
  // stream answers RUN_NOT_FOUND). `metrics`: shared with whoever adds collectors (nullptr: a new
  // registry, see metrics()).
  Server(Settings settings, Router router, std::shared_ptr<RunSource> runs,
         std::shared_ptr<Metrics> metrics = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on settings.host:settings.port, and draws the key of playback tickets.
  // Errors: VALIDATION naming `host` for an address that does not parse; UNAVAILABLE naming
  // `port` when it cannot be bound (in use, no permission); INTERNAL when no random key can be
  // had. After success, port() is the bound port (useful with port 0).
  Status Listen();
  uint16_t port() const;

  // Serves until Stop() (or, when `handle_signals`, SIGINT or SIGTERM). The calling thread is one
  // of the settings.threads I/O threads. On stop: no new connections; idle HTTP connections
  // close, requests in flight are answered, SSE streams get `event: end` and WebSockets a close
  // frame (1001); after settings.shutdown_timeout whatever is left is cut. Returns once every I/O
  // thread has joined. REQUIRES: Listen() succeeded; call once.
  void Run(bool handle_signals = true);

  // Begins the graceful stop described above. Idempotent; any thread.
  void Stop();

  Metrics& metrics();
  const Settings& settings() const;
  // Every route: the application's and the server's own (server_routes.h). Router::Routes()
  // lists them.
  const Router& router() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapedeck::server
