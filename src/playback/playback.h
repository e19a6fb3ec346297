// playback: the playback protocol of ../shared/spec/playback-protocol.md as pure logic, read the
// way ../shared/DESIGN.md spells out. No sockets, timers or threads: the server feeds in control
// messages and write completions, reads the time through a Clock, and gets back the bytes to write
// and the time at which to ask again.
//
// This is the module's public header; other modules include it. One header per concept:
//  - speed.h:    Speed, a playback speed that can only hold a valid value, checked at the edge.
//  - tape.h:     Tape, a finished run with its bars, indexed for playback and shared by viewers
//                (it caches encoded frame heads); BarRange.
//  - frame.h:    Frame, one window's aggregate, and every wire encoding (frame JSON, hb/end/err,
//                the SSE framing, Last-Event-ID, the /frames history); Channel.
//  - timeline.h: Timeline, a tape cut into windows at a speed; SeekTarget, a window or a time to
//                go to.
//  - control.h:  Command, a parsed control message (ParseControl).
//  - clock.h:    Clock, the injected wall time; SteadyClock.
//  - session.h:  Session, one connection's state machine, and the Outgoing messages it returns.
//
// Errors are values (common/error.h): VALIDATION for malformed input, naming the field in
// details["field"]; RANGE for seek targets outside the run (or before it is ready).
//
// Thread-safety: Tape (its frame cache included) may be used from any number of threads; Speed,
// Timeline and Frame are values; Session is not thread-safe (one per connection, on its strand).
// Free functions are re-entrant.
#pragma once

#include "playback/clock.h"     // IWYU pragma: export
#include "playback/control.h"   // IWYU pragma: export
#include "playback/frame.h"     // IWYU pragma: export
#include "playback/session.h"   // IWYU pragma: export
#include "playback/speed.h"     // IWYU pragma: export
#include "playback/tape.h"      // IWYU pragma: export
#include "playback/timeline.h"  // IWYU pragma: export
