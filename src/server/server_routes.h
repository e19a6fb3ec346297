// Internal: the routes the server answers itself, beside the application's REST routes — all
// registered with the one Router (router.h), each with its access rule:
//   GET  /healthz                  public: {"status":"ok"}, or 503 {"status":"stopping"}
//   GET  /metrics                  bearer: the Prometheus text (metrics.h)
//   POST /backtests/{id}/ticket    bearer: a playback ticket for run {id} (access.h)
//   GET  /playback                 bearer: the playback channels' constants (playback_info.h)
//   GET  /backtests/{id}/ws        ticket or bearer: playback over WebSocket (websocket_session.h)
//   GET  /backtests/{id}/stream    ticket or bearer: playback over SSE (sse_session.h)
// and, as the Router's fallback for GET and HEAD requests that match no route, the web UI's
// static files (public).
#pragma once

#include "server/connection.h"

namespace tapedeck::server {

// Adds the routes above to shared.router, with shared.settings.allow_origins as its CORS list.
// `shared` must outlive the router's use. REQUIRES: before the server starts.
void AddServerRoutes(Shared& shared);

}  // namespace tapedeck::server
