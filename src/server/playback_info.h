// GET /playback: the constants of the playback channels, for clients that pace, validate or lay
// out windows themselves (the web player takes its speed bounds and window length from here
// instead of restating them).
//
//   {"fps":30,"sim_seconds_per_second":8760,"speed":{"min":0.01,"max":100000,"default":60},
//    "heartbeat_ms":5000,"ping_ms":5000,"idle_timeout_ms":30000,"max_control_bytes":4096}
//
// `fps` and `sim_seconds_per_second` give a window's sim length at speed S:
// S * sim_seconds_per_second / fps seconds. `speed` holds the bounds every speed is checked
// against and the speed a stream starts at; the rest are this server's settings (flags), so they
// may differ from one server to the next.
//
// Thread-safety: both functions are re-entrant; the handler holds its own copy of the body.
#pragma once

#include <string>

#include "server/router.h"
#include "server/settings.h"

namespace tapedeck::server {

// The JSON body above, from the playback constants and `settings`' playback intervals.
std::string PlaybackInfoJson(const Settings& settings);

// A GET handler answering PlaybackInfoJson(settings) (built once, here) with 200.
Handler PlaybackInfoHandler(const Settings& settings);

}  // namespace tapedeck::server
